// --slow-threshold: a request still running that long gets a warning with
// where it runs (its worker, or its script's process group) and, in a
// worker, a second line: where its handler is now (a backtrace).
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <host/request/request_context.hpp>
#include <host/request/request_report.hpp>

namespace fcgihost::host {

void log_slow_request(request_context& host, const request_report& report, const boost::asio::any_io_executor& executor);

}  // namespace fcgihost::host
