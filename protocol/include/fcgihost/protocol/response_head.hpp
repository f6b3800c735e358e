// Checks that an app's output starts as a CGI response must (RFC 3875 6.2):
// header lines "Name: value", then a blank line, before any body; no value
// holds a CR or a NUL (a header a web server passes on as it is would split
// the browser's response). A web
// server given anything else answers a bare 502 and says only "upstream sent
// invalid header"; the host checks first, so it can say which script or
// handler printed what. Fed the stdout bytes as they come, in any split.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fcgihost::protocol {

class response_head_check {
 public:
  enum class verdict { incomplete, valid, invalid };

  // The header block must end within this many bytes.
  static constexpr std::size_t max_head_bytes = 64 * 1024;

  // Feeds more of stdout; once the verdict is valid or invalid it stays so.
  verdict feed(std::string_view bytes);
  // Stdout has ended: a head that is still incomplete is invalid.
  verdict finish();

  verdict current() const { return verdict_; }
  // Why the head is invalid, with the start of what was printed (escaped).
  const std::string& reason() const { return reason_; }

 private:
  verdict check_line(std::string_view line);
  verdict fail(std::string why);

  verdict verdict_ = verdict::incomplete;
  std::string line_;  // the header line not yet ended
  std::string seen_;  // the first bytes, for the reason
  std::size_t head_bytes_ = 0;
  std::size_t header_lines_ = 0;
  std::string reason_;
};

}  // namespace fcgihost::protocol
