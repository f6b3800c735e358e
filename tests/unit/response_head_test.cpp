// The CGI head check, fed whole and split at every offset.
#include <fcgihost/protocol/response_head.hpp>

#include <gtest/gtest.h>

namespace fcgihost::protocol {
namespace {

using verdict = response_head_check::verdict;

verdict check_whole(std::string_view output) {
  response_head_check check;
  check.feed(output);
  return check.finish();
}

// The same verdict for every split into two pieces.
verdict check_split_everywhere(std::string_view output) {
  const verdict whole = check_whole(output);
  for (std::size_t at = 0; at <= output.size(); ++at) {
    response_head_check check;
    check.feed(output.substr(0, at));
    check.feed(output.substr(at));
    EXPECT_EQ(check.finish(), whole) << "split at " << at << " of '" << output << "'";
  }
  return whole;
}

TEST(ResponseHead, HeaderLinesThenABlankLineAreValid) {
  EXPECT_EQ(check_split_everywhere("Content-Type: text/plain\r\n\r\nbody"), verdict::valid);
  EXPECT_EQ(check_split_everywhere("Status: 404 Not Found\nContent-Type: text/html\n\n"), verdict::valid);
  EXPECT_EQ(check_split_everywhere("X-Odd:no-space\r\n\r\n"), verdict::valid);
}

TEST(ResponseHead, AnythingElseIsInvalid) {
  EXPECT_EQ(check_split_everywhere("Hello, world!\n"), verdict::invalid);
  EXPECT_EQ(check_split_everywhere("<html>\n\n"), verdict::invalid);
  EXPECT_EQ(check_split_everywhere("\r\n\r\nbody"), verdict::invalid);
  EXPECT_EQ(check_split_everywhere("Content-Type: text/plain\r\n"), verdict::invalid);
  EXPECT_EQ(check_split_everywhere(": no name\n\n"), verdict::invalid);
  EXPECT_EQ(check_split_everywhere("Bad Name: x\n\n"), verdict::invalid);
  EXPECT_EQ(check_split_everywhere(""), verdict::invalid);
}

// A value with a CR (not the line's own CRLF) or a NUL would be passed on by a
// web server as it is (lighttpd forwards a bare CR to the browser).
TEST(ResponseHead, AValueWithABareCrOrANulIsInvalid) {
  using namespace std::string_view_literals;
  EXPECT_EQ(check_split_everywhere("X-A: one\rSet-Cookie: evil=1\r\n\r\n"), verdict::invalid);
  EXPECT_EQ(check_split_everywhere("X-A: one\r\r\n\r\n"), verdict::invalid);
  EXPECT_EQ(check_split_everywhere("Variable-USER: ada\rX: y\n\n"), verdict::invalid);
  EXPECT_EQ(check_split_everywhere("X-A: a\0b\r\n\r\n"sv), verdict::invalid);
  EXPECT_EQ(check_split_everywhere("Status: 200 OK\r\nX-A: fine\tvalue\r\n\r\nbody\r\0"sv), verdict::valid);
  response_head_check check;
  check.feed("X-Name: a\rb\r\n");
  EXPECT_NE(check.reason().find("'X-Name'"), std::string::npos) << check.reason();
}

TEST(ResponseHead, TheVerdictComesAsSoonAsTheBytesDecideIt) {
  response_head_check check;
  EXPECT_EQ(check.feed("Content-Type: text/plain\r\n"), verdict::incomplete);
  EXPECT_EQ(check.feed("\r\n"), verdict::valid);
  EXPECT_EQ(check.feed("anything at all\n"), verdict::valid);
  response_head_check bad;
  EXPECT_EQ(bad.feed("oops\n"), verdict::invalid);
}

TEST(ResponseHead, TheReasonQuotesTheStartOfTheOutputEscaped) {
  response_head_check check;
  check.feed("Hello\tworld\x01\n");
  EXPECT_NE(check.reason().find("it printed first: \"Hello\\x09world\\x01\\n\""), std::string::npos) << check.reason();
  response_head_check silent;
  silent.finish();
  EXPECT_NE(silent.reason().find("wrote no response"), std::string::npos) << silent.reason();
}

TEST(ResponseHead, AHeadMustEndWithin64KiB) {
  std::string head;
  while (head.size() < response_head_check::max_head_bytes) head += "X-Filler: " + std::string(100, 'f') + "\r\n";
  response_head_check check;
  EXPECT_EQ(check.feed(head), verdict::invalid);
  EXPECT_NE(check.reason().find("64 KiB"), std::string::npos) << check.reason();
  constexpr auto limit = response_head_check::max_head_bytes;
  response_head_check one_over;  // "X:" + filler + "\n\n" is limit + 1 bytes
  EXPECT_EQ(one_over.feed("X:" + std::string(limit - 3, 'a') + "\n\n"), verdict::invalid);
  response_head_check at_limit;
  EXPECT_EQ(at_limit.feed("X:" + std::string(limit - 4, 'a') + "\n\n"), verdict::valid);
}

}  // namespace
}  // namespace fcgihost::protocol
