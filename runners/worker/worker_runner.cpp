#include "worker_runner.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <thread>

#include <runners/function/plugin_library.hpp>
#include <runners/worker/crash_report.hpp>
#include <runners/function/plugin_loading.hpp>
#include <runners/worker/worker_exchange.hpp>
#include <runners/worker/worker_process.hpp>

namespace fcgihost::runners {

namespace asio = boost::asio;

worker_runner::worker_runner(asio::io_context& io, const std::filesystem::path& plugins_dir,
                             worker_pool_settings settings, std::size_t max_condemned,
                             std::shared_ptr<spdlog::logger> log)
    : io_(io),
      catalog_(plugins_dir, plugin_catalog::mode::copy_for_workers),
      settings_(std::move(settings)),
      loader_(std::make_unique<asio::thread_pool>(1)),
      spawner_(std::make_unique<asio::thread_pool>(1)),
      symboliser_(std::make_unique<asio::thread_pool>(1)) {
  supervision_->log = std::move(log);
  supervision_->symboliser = symboliser_->get_executor();
  supervision_->max_condemned = max_condemned;
  // A worker's crash dump names the copy it mapped: the one file of a plugin
  // the host reads for symbols (crash_report.hpp).
  trust_symbol_files_under(catalog_.copies_folder().string());
  // A child of posix_spawn starts with its thread's nice value: workers run
  // below the host from their first instruction (their start-up included).
  asio::post(*spawner_, [nice = settings_.nice] { ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice); });
}

worker_runner::~worker_runner() {
  shut_down();
  loader_->stop();
  loader_->join();
  spawner_->stop();
  spawner_->join();
  symboliser_->stop();
  symboliser_->join();
}

asio::awaitable<lookup_result> worker_runner::load_and_find(std::string plugin, std::string handler) {
  co_return co_await load_on(*loader_, catalog_, std::move(plugin), std::move(handler));
}

std::shared_ptr<worker_pool> worker_runner::pool_for(const bound_handler& handler) {
  const auto version = handler.plugin->version;
  std::shared_ptr<worker_pool> retired;
  std::shared_ptr<worker_pool> pool;
  {
    std::lock_guard lock(mutex_);
    auto& current = pools_[handler.plugin_name];
    if (current && current->version() >= version) return current;
    auto pool_settings = settings_;
    if (settings_for_) pool_settings.plugin_own_settings = settings_for_(handler.plugin_name);
    retired = std::move(current);
    if (retired) {
      std::erase_if(retired_, [](const auto& weak) { return weak.expired(); });
      retired_.push_back(retired);
    }
    current = std::make_shared<worker_pool>(io_.get_executor(), spawner_->get_executor(), handler.plugin_name,
                                            version, handler.plugin,
                                            handler.plugin->kept_copy, pool_settings, supervision_);
    pool = current;
  }
  if (retired) {
    supervision_->log->info("plugin {} changed: version {} serves from now on; the workers of version {} finish "
                           "their requests and leave", handler.plugin_name, version, retired->version());
    retired->retire();
  }
  pool->open();
  return pool;
}

asio::awaitable<lease_result> worker_runner::acquire(const bound_handler& handler,
                                                     std::chrono::steady_clock::time_point deadline, bool pipelinable) {
  auto pool = pool_for(handler);
  co_return co_await pool->acquire(handler.handler_name, deadline, pipelinable);
}

std::optional<lease_result> worker_runner::try_acquire(const bound_handler& handler, bool pipelinable) {
  return pool_for(handler)->try_acquire(handler.handler_name, pipelinable);
}

asio::awaitable<run_result> worker_runner::run(worker_lease lease, const bound_handler& handler,
                                               std::shared_ptr<request_io> io, std::stop_token stop,
                                               std::chrono::milliseconds kill_grace,
                                               std::chrono::steady_clock::time_point deadline, bool small_body) {
  // Tried again only while nothing of it has run: at most this many times.
  constexpr int most_tries = 3;
  worker_job job;
  job.handler = handler.handler_name;
  job.kill_grace = kill_grace;
  job.small_body = small_body;
  for (int tries = 1;; ++tries) {
    const int pid = lease.link().pid();
    auto outcome = co_await run_in_worker(std::move(lease), std::move(job), io, stop, supervision_->log);
    if (!outcome.not_started) co_return std::move(outcome.result);
    run_result failed;
    failed.crashed = true;
    if (!outcome.job.body) {
      failed.failure = "worker " + std::to_string(pid) + " of plugin " + handler.plugin_name +
                       " died before it began the request, whose body was streamed to it (it cannot be sent again)";
      co_return failed;
    }
    if (tries == most_tries) {
      failed.failure = "the request was sent to " + std::to_string(tries) + " workers of plugin " +
                       handler.plugin_name + " and each died before it began";
      co_return failed;
    }
    supervision_->log->info("worker {} of plugin {} died before it began a request for {}; it goes to another worker",
                            pid, handler.plugin_name, handler.handler_name);
    job = std::move(outcome.job);
    auto leased = co_await acquire(handler, deadline, true);
    if (!leased.lease) {
      failed.failure = "worker " + std::to_string(pid) + " of plugin " + handler.plugin_name +
                       " died before it began the request, and no other worker took it: " + leased.reason;
      co_return failed;
    }
    lease = std::move(*leased.lease);
  }
}

std::vector<std::shared_ptr<worker_pool>> worker_runner::every_pool() {
  std::vector<std::shared_ptr<worker_pool>> pools;
  std::lock_guard lock(mutex_);
  for (const auto& [name, pool] : pools_) pools.push_back(pool);
  for (const auto& weak : retired_)  // their busy workers finish their requests
    if (auto pool = weak.lock()) pools.push_back(std::move(pool));
  return pools;
}

worker_census worker_runner::census() {
  worker_census total;
  for (const auto& pool : every_pool()) {  // each under its own lock, none under ours
    const auto now = pool->census();
    total.starting += now.starting;
    total.idle += now.idle;
    total.busy += now.busy;
    total.queued += now.queued;
  }
  return total;
}

std::vector<worker_view> worker_runner::describe() {
  std::vector<worker_view> workers;
  for (const auto& pool : every_pool()) {
    auto some = pool->describe();
    workers.insert(workers.end(), std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
  }
  return workers;
}

asio::awaitable<std::vector<std::string>> worker_runner::handler_stack(int pid, std::chrono::milliseconds limit) {
  std::shared_ptr<worker_link> link;
  for (const auto& pool : every_pool())
    if ((link = pool->busy_link(pid))) break;
  // Each is symbolised on one thread: a flood of slow requests gets a few.
  if (!link || stacks_being_taken_.fetch_add(1) >= most_stacks_at_once) {
    if (link) stacks_being_taken_--;
    co_return std::vector<std::string>{};
  }
  struct done_taking {
    std::atomic<int>& count;
    ~done_taking() { count--; }
  } taken{stacks_being_taken_};
  auto ask = [link, limit]() -> asio::awaitable<std::vector<std::string>> { co_return co_await link->handler_stack(limit); };
  // On the link's strand; this request's cancellation does not reach into it.
  auto asked = asio::co_spawn(link->strand(), std::move(ask),
                              asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
  co_return co_await std::move(asked);
}

void worker_runner::shut_down(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, pool] : pools_) pool->shut_down();
  }
  // Every worker, not only the idle ones: one still loading its plugin, one
  // whose request the drain tore down, one of a replaced version.
  const auto killed = worker_process::stop_all(grace);
  for (const pid_t pid : killed)
    supervision_->log->warn("worker {} did not leave within {} ms of the host stopping (shutdown-timeout): killed",
                            pid, grace.count());
}

}  // namespace fcgihost::runners
