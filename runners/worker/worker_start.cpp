// Starting a pool's workers: spawned on the spawner thread, asked with
// GET_VALUES whether their plugin loaded, and handed over; a crash loop backs
// off (crash_backoff), a plugin that cannot load is refused until its file
// changes.
#include <runners/worker/worker_pool_internals.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>

#include <fcgihost/protocol/encoder.hpp>
#include <fcgihost/protocol/message_decoder.hpp>

#include <runners/common/exception_text.hpp>
#include <runners/worker/crash_report.hpp>
#include <runners/worker/worker_protocol.hpp>

namespace fcgihost::runners {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;

namespace {

// A worker gets this long to load its plugin (static initialisers included).
constexpr auto start_limit = std::chrono::seconds(60);

std::vector<std::string> split_names(std::string_view text) {
  std::vector<std::string> names;
  while (!text.empty()) {
    const auto comma = text.find(',');
    if (comma != 0) names.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return names;
}

}  // namespace

void worker_pool::start_workers_locked(std::size_t target, bool for_lined_up) {
  if (broken_ || retired_) return;
  for (std::size_t begun = policy_.begin_starts(target); begun > 0; --begun) {
    // Posted, never dispatched: called under the mutex, which they take.
    asio::post(executor_, [self = shared_from_this(), for_lined_up] {
      asio::co_spawn(self->executor_, self->start_worker(for_lined_up),
                     [log = self->supervision_->log](std::exception_ptr failure) {
                       if (failure) log->error("starting a worker failed inside the host: {}", exception_text(failure));
                     });
    });
  }
  if (!sweeping_ && !settings_.limits.fixed_size) {
    sweeping_ = true;
    asio::post(executor_, [self = shared_from_this()] {
      asio::co_spawn(self->executor_, self->sweep_idle(), asio::detached);
    });
  }
}

bool worker_pool::start_still_needed_locked(bool for_lined_up) const {
  const auto ready_by = pool_policy::ready_by(clock::now());
  const bool waited_for = std::any_of(waiters_.begin(), waiters_.end(),
                                      [&](const auto& who) { return !who->left && who->deadline > ready_by; });
  return policy_.start_still_needed(waited_for, for_lined_up, idle_.size(), retired_);
}

asio::awaitable<worker_pool::handshake_result> worker_pool::handshake(worker_process& process) {
  namespace wire = worker_protocol;
  handshake_result result;
  try {
    std::string query;
    const std::vector<std::string> names{std::string(wire::handlers_value), std::string(wire::load_error_value)};
    protocol::append_get_values(query, names);
    co_await asio::async_write(process.socket(), asio::buffer(query), asio::use_awaitable);
    protocol::message_decoder decoder;
    std::string buffer(4096, '\0');
    while (true) {
      const std::size_t n = co_await process.socket().async_read_some(asio::buffer(buffer), asio::use_awaitable);
      const auto bad = decoder.put_all(std::string_view(buffer.data(), n), [&](protocol::decoded_message& decoded) {
        auto* answer = std::get_if<protocol::message::get_values_result>(&decoded);
        if (!answer || result.answered) return;
        if (const auto* error = protocol::find_value(answer->pairs, wire::load_error_value)) result.load_error = *error;
        if (const auto* handlers = protocol::find_value(answer->pairs, wire::handlers_value)) result.handlers = *handlers;
        result.answered = true;
      });
      if (bad) throw std::runtime_error("the worker answered with a broken record: " + bad.message());
      if (result.answered) co_return result;
    }
  } catch (const std::exception& e) {
    // Errors as values: operator|| (with the start limit) would wait on after a throw.
    result.failure = e.what();
  }
  co_return result;
}

asio::awaitable<void> worker_pool::start_worker(bool for_lined_up) {
  auto self = shared_from_this();
  {
    std::unique_lock lock(mutex_);
    if (const auto delay = backoff_.delay(clock::now()); delay.count() > 0) {
      const auto crashes = backoff_.recent(clock::now());
      lock.unlock();
      supervision_->log->warn("plugin {}: {} workers crashed in the last minute; the next starts in {} ms", plugin_,
                             crashes, delay.count());
      asio::steady_timer wait(executor_, delay);
      co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  std::unique_ptr<worker_process> process;
  std::string failure;  // why it did not start, with the plugin to blame or not
  bool plugin_to_blame = false;
  bool killed_from_outside = false;
  bool still_needed = true;
  // The spawn runs on the spawner thread itself, not merely after a turn
  // there: a worker inherits its spawning thread's nice value, and its
  // PR_SET_PDEATHSIG fires when that thread exits, so it must be the
  // long-lived spawner thread rather than whichever I/O thread resumed us.
  auto spawn_on_spawner_thread = [&]() -> asio::awaitable<void> {
    {
      // Started for requests that may have given up meanwhile (at a deadline,
      // a burst of them does): a worker nobody needs any more is not started.
      std::lock_guard lock(mutex_);
      if (!start_still_needed_locked(for_lined_up)) {
        policy_.start_ended(false);
        still_needed = false;
        co_return;
      }
    }
    try {
      process = std::make_unique<worker_process>(executor_, plugin_, plugin_copy_, settings_.worker_arguments,
                                                 settings_.plugin_own_settings);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  };
  // No cancellation slot: cancelling a coroutine running on another executor
  // is not safe, and the spawn is quick.
  co_await asio::co_spawn(spawner_, spawn_on_spawner_thread(),
                          asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
  if (!still_needed) co_return;
  handshake_result answer;
  if (process) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer limit(executor_, start_limit);
    auto outcome = co_await (handshake(*process) || limit.async_wait(asio::as_tuple(asio::use_awaitable)));
    plugin_to_blame = true;
    if (outcome.index() == 1) {
      failure = "its worker did not finish loading it within " + std::to_string(start_limit.count()) + " s";
    } else if (answer = std::get<0>(outcome); answer.answered) {
      failure = answer.load_error;
    } else {
      // The worker died while loading the plugin: in its static initialisers
      // or in the loader (a truncated file dies of SIGBUS in dlopen).
      co_await process->wait_for_exit(std::chrono::milliseconds(1000));
      failure = "its worker was " + process->exit_description() + " while loading it";
      // Killed from outside (the OOM killer, `kill -9`): not the plugin's
      // fault, so not a reason to refuse it until its file changes.
      killed_from_outside = process->killed_from_outside();
      plugin_to_blame = !killed_from_outside;
      const auto frames = symbolised_frames(parse_crash_dump(process->take_crash_dump()), 12);
      for (const auto& frame : frames) failure += "\n  " + frame;
    }
  }
  std::lock_guard lock(mutex_);
  policy_.start_ended(failure.empty());
  if (failure.empty()) {
    handlers_.emplace();
    for (auto& name : split_names(answer.handlers)) handlers_->insert(std::move(name));
    const auto pid = process->pid();
    supervision_->log->info("worker {} started for plugin {} (version {})", pid, plugin_, version_);
    supervision_->counts.spawned.fetch_add(1, std::memory_order_relaxed);
    auto slot = std::make_shared<worker_slot>();
    slot->link = std::make_shared<worker_link>(asio::make_strand(io_), supervision_->symboliser, std::move(process),
                                               supervision_->log,
                                               "worker " + std::to_string(pid) + " of plugin " + plugin_);
    slot->link->count_kills_in(supervision_->counts.killed_after_stop);
    slot->link->start();
    wake_growth_locked();  // one fewer starting: the pool may grow further
    hand_over_locked(std::move(slot));
    co_return;
  }
  if (plugin_to_blame) {
    // Until its file changes (a new version, a new pool), no worker is started for it again.
    broken_ = failure;
    supervision_->counts.plugin_load_failures.fetch_add(1, std::memory_order_relaxed);
    supervision_->log->error("plugin {} cannot be loaded (no worker starts for it until its file changes): {}",
                             plugin_, failure);
    refuse_waiters_locked(500, "plugin " + plugin_ + " cannot be loaded: " + failure);
  } else if (killed_from_outside) {
    // Another starts for whoever waits, after the crash backoff if this repeats.
    backoff_.crashed(clock::now());
    supervision_->log->warn("plugin {}: {} (a signal the host did not send): another worker starts", plugin_, failure);
    if (!waiters_.empty()) start_workers_locked(1);
  } else {
    supervision_->log->error("plugin {}: cannot start a worker: {}", plugin_, failure);
    if (policy_.starting() == 0 && policy_.live() == 0) refuse_waiters_locked(503, "no worker can be started: " + failure);
  }
  if (process) {
    std::shared_ptr<worker_process> dying(std::move(process));
    asio::co_spawn(executor_, [dying]() -> asio::awaitable<void> {
      co_await dying->wait_for_exit(std::chrono::milliseconds(0));
    }, asio::detached);
  }
}

}  // namespace fcgihost::runners
