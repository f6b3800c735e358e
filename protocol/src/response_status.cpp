#include <fcgihost/protocol/response_status.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace fcgihost::protocol {

namespace {
constexpr std::size_t max_head = 8192;

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         });
}
}  // namespace

void response_status::feed(std::string_view bytes) {
  if (done_) return;
  head_.append(bytes.substr(0, max_head - std::min(max_head, head_.size())));
  std::string_view rest(head_);
  while (true) {
    const auto end = rest.find('\n');
    if (end == std::string_view::npos) break;
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {  // end of the headers
      done_ = true;
      break;
    }
    if (starts_with_nocase(line, "status:")) {
      line.remove_prefix(7);
      while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      int code = 0;
      const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), code);
      if (ec == std::errc{} && code >= 100 && code <= 999) status_ = code;
      (void)ptr;
    }
  }
  if (head_.size() >= max_head) done_ = true;
  if (done_) head_ = std::string();
}

std::string cgi_response(int status, std::string_view reason, std::string_view body) {
  std::string response = "Status: " + std::to_string(status) + " ";
  response.append(reason);
  response += "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
  response.append(body);
  return response;
}

}  // namespace fcgihost::protocol
