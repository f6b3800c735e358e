// The C++ SDK's pure parts, as a plugin author's code calls them: query and
// form decoding, cookies, and the CGI header block.
#include <fcgihost/plugin.hpp>

#include <gtest/gtest.h>

#include <type_traits>

namespace fcgihost {
namespace {

TEST(PluginSdk, QueryStringsDecodeAsBrowsersEncodeThem) {
  const auto form = parse_form("name=Ada%20L&tag=a&tag=b+c&flag&&empty=&%E2%82%AC=euro");
  EXPECT_EQ(form.value_or("name", "-"), "Ada L");
  EXPECT_EQ(form.all("tag"), (std::vector<std::string_view>{"a", "b c"}));
  EXPECT_TRUE(form.has("flag"));
  EXPECT_EQ(form.get("flag"), "");
  EXPECT_EQ(form.get("empty"), "");
  EXPECT_EQ(form.get("\xE2\x82\xAC"), "euro");
  EXPECT_FALSE(form.get("missing"));
  EXPECT_EQ(form.size(), 6u);  // the empty piece is skipped
}

// A value taken from a temporary is a copy, not a view into freed memory
// (the line `auto name = r.query().value_or(...)` in a handler); the
// request keeps its query decoded, so views into it live with the request.
TEST(PluginSdk, ValuesOfATemporaryOutliveIt) {
  const auto name = parse_form("name=" + std::string(64, 'x')).value_or("name", "world");
  static_assert(std::is_same_v<decltype(name), const std::string>);
  EXPECT_EQ(name, std::string(64, 'x'));
  const auto tags = parse_form("tag=" + std::string(40, 'a') + "&tag=b").all("tag");
  EXPECT_EQ(tags, (std::vector<std::string>{std::string(40, 'a'), "b"}));
  const auto missing = parse_form("a=1").get("b");
  EXPECT_FALSE(missing);
  static_assert(std::is_same_v<decltype(std::declval<request&>().query()), const form_fields&>);
  static_assert(std::is_same_v<decltype(std::declval<request&>().cookies()), const form_fields&>);
}

TEST(PluginSdk, BadEscapesStayAsTheyAre) {
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");
  EXPECT_EQ(percent_decode("%41%4a%4A"), "AJJ");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("%00", true), std::string(1, '\0'));
}

TEST(PluginSdk, CookiesAreSplitTrimmedAndUnquoted) {
  const auto cookies = parse_cookies(" session=abc123 ; theme=\"dark\";bad; =novalue;  last=1%202 ");
  EXPECT_EQ(cookies.get("session"), "abc123");
  EXPECT_EQ(cookies.get("theme"), "dark");
  EXPECT_EQ(cookies.get("last"), "1%202");  // not decoded: its writer chose the escaping
  EXPECT_FALSE(cookies.has("bad"));
  EXPECT_EQ(cookies.size(), 3u);
}

TEST(PluginSdk, TheCgiHeadIsWholeAndRefusesSplitHeaders) {
  EXPECT_EQ(cgi_head(404, "text/plain", {{"Cache-Control", "no-store"}}),
            "Status: 404 Not Found\r\nContent-Type: text/plain\r\nCache-Control: no-store\r\n\r\n");
  EXPECT_EQ(cgi_head(299, ""), "Status: 299 Unknown\r\n\r\n");
  EXPECT_THROW(cgi_head(200, "text/plain", {{"X-Name", "a\r\nSet-Cookie: evil=1"}}), std::invalid_argument);
  EXPECT_THROW(cgi_head(200, "text/plain\n"), std::invalid_argument);
  EXPECT_THROW(cgi_head(200, "text/plain", {{"Bad Name", "x"}}), std::invalid_argument);
  EXPECT_THROW(cgi_head(200, "text/plain", {{"", "x"}}), std::invalid_argument);
  EXPECT_THROW(cgi_head(42, "text/plain"), std::invalid_argument);
}

}  // namespace
}  // namespace fcgihost
