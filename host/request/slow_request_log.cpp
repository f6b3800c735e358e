#include "slow_request_log.hpp"

#include <boost/asio/co_spawn.hpp>

#include <fmt/format.h>

#include <runners/common/exception_text.hpp>
#include <runners/common/process_group.hpp>

namespace fcgihost::host {

namespace {

// The second line for a request in a worker: where its handler is now.
boost::asio::awaitable<void> log_worker_handler_stack(runners::worker_runner& workers,
                                                      std::shared_ptr<spdlog::logger> log, int pid,
                                                      std::string request) {
  constexpr auto answer_limit = std::chrono::milliseconds(500);
  const auto frames = co_await workers.handler_stack(pid, answer_limit);
  if (frames.empty()) {
    log->info("slow request: {}: no backtrace of worker {}'s handler (it runs none now, did not answer within {} "
              "ms, or other backtraces are being taken)", request, pid, answer_limit.count());
    co_return;
  }
  // A line each: a message is one line (log_text.hpp).
  log->warn("slow request: {}: the handler in worker {} is at:", request, pid);
  for (const auto& frame : frames) log->warn("  {}", frame);
}

}  // namespace

void log_slow_request(request_context& host, const request_report& report,
                      const boost::asio::any_io_executor& executor) {
  host.metrics.slow_requests.fetch_add(1, std::memory_order_relaxed);
  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - report.began).count();
  std::string where;
  if (report.worker_pid != 0) where = fmt::format("; worker pid {}", report.worker_pid);
  if (report.script_pid != 0)
    where = fmt::format("; script pid {}, its process group: {}", report.script_pid,
                        runners::describe_process_group(report.script_pid));
  host.log->warn("slow request: {} request {} \"{} {}\" route={} runner={} script={} still running after {:.3f} s{}",
                 report.peer, report.request_id, param_or_dash(report.params, "REQUEST_METHOD"),
                 param_or_dash(report.params, "REQUEST_URI"),
                 report.route ? report.route->name() : std::string("(none)"), report.runner, report.script, elapsed,
                 where);
  if (report.worker_pid == 0 || !host.workers) return;
  auto log = host.log;
  boost::asio::co_spawn(executor,
                        log_worker_handler_stack(*host.workers, log, report.worker_pid,
                                                 fmt::format("{} request {}", report.peer, report.request_id)),
                        [log](std::exception_ptr e) {
                          if (e) log->error("the slow request log failed inside the host: {}", runners::exception_text(e));
                        });
}

}  // namespace fcgihost::host
