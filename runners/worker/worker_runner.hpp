// Runs plugin handlers in worker processes (isolation = "process"): finds the
// plugin in the plugins folder (a private copy per version, made off the I/O
// threads), keeps one worker_pool per plugin, retiring a pool when its file
// is replaced, and runs each request in a leased worker (worker_exchange).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <spdlog/logger.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include <runners/function/plugin_catalog.hpp>
#include <runners/common/request_io.hpp>
#include <runners/common/run_result.hpp>
#include <runners/worker/worker_pool.hpp>

namespace boost::asio {
class thread_pool;
}

namespace fcgihost::runners {

class worker_runner {
 public:
  worker_runner(boost::asio::io_context& io, const std::filesystem::path& plugins_dir, worker_pool_settings settings,
                std::size_t max_condemned, std::shared_ptr<spdlog::logger> log);
  ~worker_runner();

  // Quick: may say needs_loading (the plugin is new or its file changed).
  lookup_result find_loaded(std::string_view plugin, std::string_view handler) {
    return catalog_.find_loaded(plugin, handler);
  }
  // Copies the plugin on the loader thread, then looks up.
  boost::asio::awaitable<lookup_result> load_and_find(std::string plugin, std::string handler);
  // A worker of the handler's plugin version, or why not. `pipelinable`:
  // see worker_pool::acquire.
  boost::asio::awaitable<lease_result> acquire(const bound_handler& handler,
                                              std::chrono::steady_clock::time_point deadline, bool pipelinable);
  // acquire()'s answer when it has one without waiting (see worker_pool::try_acquire).
  std::optional<lease_result> try_acquire(const bound_handler& handler, bool pipelinable);
  // Runs the request in the leased worker. A request whose worker died
  // before it began there goes to another worker of the same version (its
  // deadline still running), so a crash costs only the request it ran.
  boost::asio::awaitable<run_result> run(worker_lease lease, const bound_handler& handler,
                                         std::shared_ptr<request_io> io, std::stop_token stop,
                                         std::chrono::milliseconds kill_grace,
                                         std::chrono::steady_clock::time_point deadline, bool small_body);
  // The host is stopping (its I/O threads have): waiting requests are
  // refused, and every worker is asked to leave and given `grace` to exit
  // (its plugin's shutdown runs); the rest are killed and reaped.
  void shut_down(std::chrono::milliseconds grace = std::chrono::seconds(1));

  // For the status page: the workers of every pool now, and what they did.
  worker_census census();
  std::vector<worker_view> describe();
  // The backtrace of the handler that worker `pid` runs now (see
  // worker_link::handler_stack); empty if it runs none or did not answer,
  // or if most_stacks_at_once are being taken already.
  boost::asio::awaitable<std::vector<std::string>> handler_stack(int pid, std::chrono::milliseconds limit);
  const plugin_counters& plugin_counts() const { return catalog_.counts(); }
  // Where a plugin's settings come from when a pool starts for a version of
  // it: each of its workers gets them (in a memfd), for its init.
  void set_settings_source(plugin_settings_source source) { settings_for_ = std::move(source); }
  // Its settings changed: the next request starts a new version's pool, the
  // old one's workers finish their requests and leave.
  void plugin_settings_changed(std::string_view plugin) { catalog_.settings_changed(plugin); }
  void remove_plugin_copies() { catalog_.remove_copies(); }
  std::size_t condemned() const { return supervision_->condemned.load(std::memory_order_relaxed); }
  const worker_counters& counts() const { return supervision_->counts; }

 private:
  std::shared_ptr<worker_pool> pool_for(const bound_handler& handler);
  std::vector<std::shared_ptr<worker_pool>> every_pool();

  boost::asio::io_context& io_;
  plugin_catalog catalog_;
  const worker_pool_settings settings_;
  plugin_settings_source settings_for_;
  const std::shared_ptr<worker_supervision> supervision_ = std::make_shared<worker_supervision>();
  std::unique_ptr<boost::asio::thread_pool> loader_;   // copies plugins
  std::unique_ptr<boost::asio::thread_pool> spawner_;  // starts workers
  std::unique_ptr<boost::asio::thread_pool> symboliser_;  // symbolises crash dumps
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<worker_pool>, std::less<>> pools_;
  static constexpr int most_stacks_at_once = 4;  // see handler_stack
  std::atomic<int> stacks_being_taken_{0};
  // Replaced versions, alive while their workers finish (for the status page).
  std::vector<std::weak_ptr<worker_pool>> retired_;
};

}  // namespace fcgihost::runners
