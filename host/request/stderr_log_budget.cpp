#include "stderr_log_budget.hpp"

#include <fmt/format.h>

namespace fcgihost::host {

void stderr_log_budget::emit(std::string_view line, const line_sink& log) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (logged_ >= budget_) {
    left_out_ += line.size() + 1;
    return;
  }
  const std::size_t room = budget_ - logged_;
  if (line.size() > room) {
    left_out_ += line.size() - room + 1;
    line = line.substr(0, room);
  }
  logged_ += line.size() + 1;
  log(line);
}

void stderr_log_budget::feed(std::string_view bytes, const line_sink& log) {
  if (logged_ >= budget_) {  // over budget: just count, keep nothing
    left_out_ += bytes.size();
    return;
  }
  while (!bytes.empty()) {
    const auto newline = bytes.find('\n');
    if (newline == std::string_view::npos) {
      partial_.append(bytes);
      while (partial_.size() >= longest_line) {
        emit(std::string_view(partial_).substr(0, longest_line), log);
        partial_.erase(0, longest_line);
      }
      return;
    }
    if (partial_.empty()) {
      emit(bytes.substr(0, newline), log);
    } else {
      partial_.append(bytes.substr(0, newline));
      emit(partial_, log);
      partial_.clear();
    }
    bytes.remove_prefix(newline + 1);
  }
}

void stderr_log_budget::finish(const line_sink& log) {
  if (!partial_.empty()) {
    emit(partial_, log);
    partial_.clear();
  }
  if (left_out_ > 0)
    log(fmt::format("... {} more bytes of stderr not logged (the web server got them all as FCGI_STDERR)", left_out_));
}

}  // namespace fcgihost::host
