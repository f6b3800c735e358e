// The HTTP status an app's output asks for ("Status: 404 ..." among its CGI
// headers, 200 when none), read from the first bytes of FCGI_STDOUT for the
// access log and for fcgi-bench. Looks at no more than the header block's first 8 KiB.
#pragma once

#include <string>
#include <string_view>

namespace fcgihost::protocol {

class response_status {
 public:
  void feed(std::string_view bytes);
  int status() const { return status_; }

 private:
  std::string head_;
  bool done_ = false;
  int status_ = 200;
};

// "Status: 408 Request Timeout\r\nContent-Type: text/plain\r\n\r\n<body>"
std::string cgi_response(int status, std::string_view reason, std::string_view body);

}  // namespace fcgihost::protocol
