// What of a request's stderr goes to the host's log: whole lines, each its
// own log line, up to a budget per request; then one line saying how much was
// left out. The web server still gets all of it as FCGI_STDERR: the budget
// only keeps one chatty script from flooding the host's log.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace fcgihost::host {

class stderr_log_budget {
 public:
  using line_sink = std::function<void(std::string_view line)>;

  static constexpr std::size_t default_budget = 64 * 1024;
  // A line longer than this is logged in pieces of this size.
  static constexpr std::size_t longest_line = 4096;

  explicit stderr_log_budget(std::size_t budget = default_budget) : budget_(budget) {}

  // Logs the complete lines of `bytes` (with what came before them) while
  // the budget lasts; counts the rest.
  void feed(std::string_view bytes, const line_sink& log);
  // The stream has ended: logs an unfinished last line, then, if anything
  // was left out, one line that says how much.
  void finish(const line_sink& log);

  std::uint64_t bytes_left_out() const { return left_out_; }

 private:
  void emit(std::string_view line, const line_sink& log);

  std::size_t budget_;
  std::size_t logged_ = 0;
  std::uint64_t left_out_ = 0;
  std::string partial_;
};

}  // namespace fcgihost::host
