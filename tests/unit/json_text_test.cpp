// json_quoted: whatever the bytes, a JSON string a real parser accepts, and
// well-formed UTF-8 comes back unchanged.
#include <boost/json/src.hpp>

#include <gtest/gtest.h>

#include <host/common/json_text.hpp>

namespace fcgihost::host {
namespace {

std::string parsed_back(std::string_view bytes) {
  const auto quoted = json_quoted(bytes);
  boost::system::error_code ec;
  const auto value = boost::json::parse(quoted, ec);
  EXPECT_FALSE(ec) << quoted << ": " << ec.message();
  if (ec || !value.is_string()) return "(not a string)";
  return std::string(value.as_string());
}

TEST(JsonText, WellFormedTextComesBackUnchanged) {
  for (std::string_view text : {"", "/index.php?a=1&b=2", "quote \" and backslash \\", "line\nbreak\r\ttab",
                                "\x01\x1f\x7f", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"})
    EXPECT_EQ(parsed_back(text), text) << json_quoted(text);
}

TEST(JsonText, EscapesWhatJsonRequires) {
  EXPECT_EQ(json_quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_quoted(std::string_view("\0\x1f", 2)), "\"\\u0000\\u001f\"");
  EXPECT_EQ(json_quoted("\n"), "\"\\n\"");
}

// Bytes that are not UTF-8 become the code point of the same value.
TEST(JsonText, BytesThatAreNotUtf8AreKeptAsTheirOwnCodePoints) {
  EXPECT_EQ(json_quoted("\xff"), "\"\\u00ff\"");
  EXPECT_EQ(parsed_back("a\xff" "b"), "a\xc3\xbf" "b");
  for (std::string_view broken : {"\x80", "\xc0\x80", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xe0\x80\x80",
                                  "\xf0\x80\x80\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xfe\xff"}) {
    const auto back = parsed_back(broken);
    EXPECT_EQ(back.size(), broken.size() * 2) << json_quoted(broken);  // each byte is U+0080..U+00FF: 2 bytes
  }
}

}  // namespace
}  // namespace fcgihost::host
