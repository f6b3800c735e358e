#include "worker_pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <thread>

#include <fcgihost/protocol/encoder.hpp>
#include <fcgihost/protocol/message_decoder.hpp>

#include <runners/worker/crash_report.hpp>
#include <runners/common/exception_text.hpp>
#include <runners/worker/worker_protocol.hpp>

namespace fcgihost::runners {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;

namespace {

// A worker gets this long to load its plugin (static initialisers included).
constexpr auto start_limit = std::chrono::seconds(60);
constexpr auto sweep_interval = std::chrono::seconds(1);
// A dynamic pool grows for requests that have waited handler_timings::
// grow_after: quick handlers are served by a few busy workers (as many as the
// cores keep busy) instead of one process per request in flight, each idle
// most of the time; slow ones get a worker each within a few milliseconds.
constexpr auto grow_check = std::chrono::milliseconds(1);

// Enough workers to keep every core busy with quick handlers.
// (Asked once: glibc reads /sys for it each time.)
std::size_t quick_pool_size() {
  static const std::size_t size = std::max(2u, std::thread::hardware_concurrency()) + 1;
  return size;
}

pool_limits limits_of(const worker_pool_settings& settings) {
  pool_limits limits;
  limits.fixed_size = settings.fixed_size;
  limits.max_workers = settings.max_workers;
  limits.min_idle = settings.min_idle;
  limits.idle_timeout = settings.idle_timeout;
  limits.max_queue = settings.max_queue;
  limits.pipeline = settings.pipeline;
  limits.max_requests_per_worker = settings.max_requests_per_worker;
  limits.max_memory_per_worker = settings.max_memory_per_worker;
  limits.quick_pool_size = quick_pool_size();
  return limits;
}

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

struct worker_slot {
  std::shared_ptr<worker_link> link;  // set once it has started
  const std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  std::size_t served = 0;
  // Under the pool's mutex:
  std::size_t in_flight = 0;       // requests sent to it and not ended
  std::size_t slow_in_flight = 0;  // of those, of handlers not proven quick
  clock::time_point idle_since = clock::now();
  clock::time_point front_since = clock::now();  // when the request it runs now began
  bool condemned = false;     // a request it ran was stopped: it leaves when it is free
  bool out_of_count = false;  // condemned, and out of the pool's count (see lease_condemned)
  std::string leaving;        // why it leaves when it is free (recycled)
  std::atomic<std::uint64_t>* leaving_counter = nullptr;  // the figure its leaving counts in
  bool gone = false;          // it left the pool
};

struct worker_pool::waiter {
  explicit waiter(asio::any_io_executor on) : executor(on), channel(on, 1) {}
  asio::any_io_executor executor;
  asio::experimental::channel<void(error_code, std::shared_ptr<worker_slot>)> channel;
  std::chrono::steady_clock::time_point deadline;
  std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
  std::string handler;
  bool pipelinable = false;
  bool quick = false;
  bool left = false;  // under the pool's mutex
  int refusal_status = 0;
  std::string refusal;  // set before the channel is closed without a worker
};

// --- worker_lease ------------------------------------------------------------

worker_lease::worker_lease(std::shared_ptr<worker_pool> pool, std::shared_ptr<worker_slot> slot, std::string handler,
                           bool counted_slow)
    : pool_(std::move(pool)), slot_(std::move(slot)), handler_(std::move(handler)), counted_slow_(counted_slow) {}

worker_lease& worker_lease::operator=(worker_lease&& other) noexcept {
  if (this != &other) {
    if (slot_) pool_->lease_ended(std::move(slot_), handler_, counted_slow_, worker_pool::lease_end::broken);
    pool_ = std::move(other.pool_);
    slot_ = std::move(other.slot_);
    handler_ = std::move(other.handler_);
    counted_slow_ = other.counted_slow_;
  }
  return *this;
}

worker_lease::~worker_lease() {
  if (slot_) pool_->lease_ended(std::move(slot_), handler_, counted_slow_, worker_pool::lease_end::broken);
}

worker_link& worker_lease::link() { return *slot_->link; }
const std::string& worker_lease::plugin() const { return pool_->plugin(); }

void worker_lease::finished(std::int64_t run_us) {
  if (slot_) pool_->lease_ended(std::move(slot_), handler_, counted_slow_, worker_pool::lease_end::finished, run_us);
  slot_.reset();
}

void worker_lease::unused() {
  if (slot_) pool_->lease_ended(std::move(slot_), handler_, counted_slow_, worker_pool::lease_end::unused);
  slot_.reset();
}

void worker_lease::condemn() {
  if (slot_) pool_->lease_condemned(slot_);
}

// --- worker_pool -------------------------------------------------------------

worker_pool::worker_pool(asio::any_io_executor io, asio::any_io_executor spawner, std::string plugin,
                         std::uint64_t version,
                         std::shared_ptr<const void> keep_copy, std::filesystem::path plugin_copy,
                         worker_pool_settings settings, std::shared_ptr<worker_supervision> supervision)
    : io_(std::move(io)),
      executor_(asio::make_strand(io_)),
      spawner_(std::move(spawner)),
      plugin_(std::move(plugin)),
      version_(version),
      keep_copy_(std::move(keep_copy)),
      plugin_copy_(std::move(plugin_copy)),
      settings_(std::move(settings)),
      supervision_(std::move(supervision)),
      policy_(limits_of(settings_)) {}

worker_pool::~worker_pool() = default;

void worker_pool::open() {
  std::lock_guard lock(mutex_);
  start_workers_locked(policy_.at_open());
}

void worker_pool::start_workers_locked(std::size_t target) {
  if (broken_ || retired_) return;
  for (std::size_t begun = policy_.begin_starts(target); begun > 0; --begun) {
    // Posted, never dispatched: called under the mutex, which they take.
    asio::post(executor_, [self = shared_from_this()] {
      asio::co_spawn(self->executor_, self->start_worker(), [log = self->supervision_->log](std::exception_ptr failure) {
        if (failure) log->error("starting a worker failed inside the host: {}", exception_text(failure));
      });
    });
  }
  if (!sweeping_ && !settings_.fixed_size) {
    sweeping_ = true;
    asio::post(executor_, [self = shared_from_this()] {
      asio::co_spawn(self->executor_, self->sweep_idle(), asio::detached);
    });
  }
}

bool worker_pool::start_still_needed_locked() const {
  const auto ready_by = pool_policy::ready_by(clock::now());
  const bool waited_for = std::any_of(waiters_.begin(), waiters_.end(),
                                      [&](const auto& who) { return !who->left && who->deadline > ready_by; });
  return policy_.start_still_needed(waited_for, idle_.size(), retired_);
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

asio::awaitable<void> worker_pool::start_worker() {
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
      if (!start_still_needed_locked()) {
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
    slot->link->start();
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

void worker_pool::hand_over_locked(std::shared_ptr<worker_slot> slot) {
  while (!waiters_.empty()) {
    auto next = std::move(waiters_.front());
    waiters_.pop_front();
    if (next->left) continue;
    next->left = true;
    lend_locked(slot, next->quick);
    deliver(std::move(next), slot);
    fill_locked(slot);
    return;
  }
  if (retired_) {  // nobody waits for this version any more
    slot->gone = true;
    policy_.left_count();
    stop_replaced_worker(slot);
    return;
  }
  slot->idle_since = clock::now();
  idle_.push_back(std::move(slot));
}

worker_load worker_pool::load_of(const worker_slot& slot) const {
  return {slot.served, slot.in_flight, slot.slow_in_flight, slot.front_since,
          !slot.gone && !slot.condemned && slot.leaving.empty() && !slot.link->dead()};
}

bool worker_pool::takes_more_locked(const worker_slot& slot) const {
  return policy_.takes_more(load_of(slot), clock::now());
}

void worker_pool::fill_locked(const std::shared_ptr<worker_slot>& slot) {
  while (!waiters_.empty() && takes_more_locked(*slot)) {
    auto& next = waiters_.front();
    if (next->left) {
      waiters_.pop_front();
      continue;
    }
    if (!next->pipelinable || !next->quick) return;  // in order: it waits for a free worker
    next->left = true;
    lend_locked(slot, true);
    deliver(std::move(next), slot);
    waiters_.pop_front();
  }
}

void worker_pool::lend_locked(const std::shared_ptr<worker_slot>& slot, bool quick) {
  if (slot->in_flight++ == 0) {
    slot->front_since = clock::now();
    busy_.push_back(slot);
  }
  if (!quick) ++slot->slow_in_flight;
}

void worker_pool::erase_busy_locked(const worker_slot* slot) {
  std::erase_if(busy_, [&](const auto& each) { return each.get() == slot; });
}

void worker_pool::deliver(std::shared_ptr<waiter> to, std::shared_ptr<worker_slot> slot) {
  // The waiter's channel belongs to its request's strand.
  asio::post(to->executor, [self = shared_from_this(), to, slot = std::move(slot)]() mutable {
    if (!to->channel.try_send(error_code{}, slot)) self->lease_ended(std::move(slot), to->handler, !to->quick, lease_end::unused);
  });
}

void worker_pool::refuse_waiters_locked(int status, const std::string& reason) {
  for (auto& who : waiters_) {
    if (who->left) continue;
    who->left = true;
    who->refusal_status = status;
    who->refusal = reason;
    asio::post(who->executor, [who] { who->channel.close(); });
  }
  waiters_.clear();
}

void worker_pool::leave_queue(const std::shared_ptr<waiter>& who) {
  std::lock_guard lock(mutex_);
  who->left = true;
  std::erase(waiters_, who);
}

asio::awaitable<lease_result> worker_pool::acquire(std::string handler, clock::time_point deadline, bool pipelinable) {
  auto self = shared_from_this();
  lease_result result;
  std::shared_ptr<waiter> waiting;
  const auto executor = co_await asio::this_coro::executor;
  {
    std::lock_guard lock(mutex_);
    if (broken_) {
      result.refusal_status = 500;
      result.reason = "plugin " + plugin_ + " cannot be loaded: " + *broken_;
      co_return result;
    }
    if (handlers_ && !handlers_->contains(handler)) {
      result.refusal_status = 404;
      result.reason = "plugin '" + plugin_ + "' has no handler '" + handler + "'";
      co_return result;
    }
    const bool quick = timings_.quick(handler);
    if (pipelinable && quick) {
      // The busy worker with the most requests sent to it that takes more,
      // before an idle one: each wakeup of a worker then serves as many as
      // it can (on 2 cores, most of a worker's time is its wakeups).
      std::shared_ptr<worker_slot> best;
      for (const auto& slot : busy_)
        if (takes_more_locked(*slot) && (!best || slot->in_flight > best->in_flight)) best = slot;
      if (best) {
        lend_locked(best, true);
        supervision_->log->debug("a request for {} goes to busy worker {} of plugin {} ({} in its line)", handler,
                                 best->link->pid(), plugin_, best->in_flight);
        // Quick requests are served by about as many workers as there are cores.
        if (const auto more = policy_.after_pipelined(); more > 0) start_workers_locked(more);
        result.lease.emplace(self, std::move(best), std::move(handler), false);
        co_return result;
      }
    }
    while (!idle_.empty()) {
      auto slot = std::move(idle_.back());
      idle_.pop_back();
      if (slot->link->dead()) {  // died while idle
        slot->gone = true;
        policy_.left_count();
        if (slot->link->process().crashed()) supervision_->counts.crashed.fetch_add(1, std::memory_order_relaxed);
        supervision_->log->warn("worker {} of plugin {} {} while idle; it is replaced", slot->link->pid(), plugin_,
                                slot->link->process().exit_description());
        continue;
      }
      // A spare replaces it; for quick handlers, only up to a worker per core
      // (more would take turns: busy ones take more requests instead).
      if (const auto spares = policy_.after_idle_lent(idle_.size(), pipelinable, quick); spares > 0)
        start_workers_locked(spares);
      lend_locked(slot, quick);
      result.lease.emplace(self, std::move(slot), std::move(handler), !quick);
      co_return result;
    }
    if (policy_.overloaded(waiters_.size(), supervision_->condemned >= supervision_->max_condemned)) {
      result.reason = "every worker of plugin " + plugin_ + " is busy and " + std::to_string(waiters_.size()) +
                      " requests wait";
      co_return result;  // OVERLOADED
    }
    waiting = std::make_shared<waiter>(executor);
    waiting->deadline = deadline;
    waiting->handler = handler;
    waiting->pipelinable = pipelinable;
    waiting->quick = quick;
    waiters_.push_back(waiting);
    if (const auto target = policy_.for_new_waiter(waiters_.size())) {
      start_workers_locked(*target);
    } else if (!growing_) {
      growing_ = true;
      asio::post(executor_, [self] { asio::co_spawn(self->executor_, self->grow_while_waiting(), asio::detached); });
    }
  }
  struct leave_on_exit {
    worker_pool& pool;
    std::shared_ptr<waiter>& who;
    const std::string& handler;
    ~leave_on_exit() {
      pool.leave_queue(who);
      who->channel.close();
      // A worker sent just before the request gave up goes back.
      who->channel.try_receive([&](error_code, std::shared_ptr<worker_slot> slot) {
        if (slot) pool.lease_ended(std::move(slot), handler, !who->quick, lease_end::unused);
      });
    }
  } leave{*this, waiting, handler};
  auto [ec, slot] = co_await waiting->channel.async_receive(asio::as_tuple(asio::use_awaitable));
  if (slot) {
    result.lease.emplace(self, std::move(slot), handler, !waiting->quick);
    co_return result;
  }
  if (waiting->refusal_status == 0) throw boost::system::system_error(ec ? ec : asio::error::operation_aborted);
  result.refusal_status = waiting->refusal_status;
  result.reason = waiting->refusal;
  co_return result;
}

void worker_pool::lease_ended(std::shared_ptr<worker_slot> slot, const std::string& handler, bool counted_slow,
                              lease_end how, std::int64_t run_us) {
  std::optional<recycling> recycle;
  if (how == lease_end::finished && !slot->condemned)
    recycle = policy_.recycle_after(slot->served + 1, [&] { return slot->link->process().rss_bytes(); });
  std::lock_guard lock(mutex_);
  const auto now = clock::now();
  --slot->in_flight;
  if (how == lease_end::finished) {
    ++slot->served;
    // How long its handler ran, as the worker measured it; else how long it
    // kept its worker busy, from when it reached the front of the worker's
    // line (which counts the worker's waits for a CPU too).
    const auto held = run_us >= 0 ? run_us
                                  : std::chrono::duration_cast<std::chrono::microseconds>(now - slot->front_since).count();
    timings_.ran(handler, held);
  }
  if (counted_slow) --slot->slow_in_flight;
  slot->front_since = now;  // the next in its line begins
  if (how == lease_end::broken && !slot->gone) {
    slot->gone = true;
    erase_busy_locked(slot.get());
    if (slot->link->dead() && slot->link->process().crashed()) {
      backoff_.crashed(now);
      supervision_->counts.crashed.fetch_add(1, std::memory_order_relaxed);
    }
    slot->link->kill("its request's exchange broke off");
    leave_count_locked(*slot);
  }
  if (slot->gone) return;
  if (slot->condemned) {
    if (slot->in_flight > 0) return;
    // Demoted while condemned, it would serve at idle priority from now on:
    // it leaves, and its replacement was started when it was condemned (or
    // starts now, if it kept its place).
    slot->gone = true;
    supervision_->counts.left_after_stopped_request.fetch_add(1, std::memory_order_relaxed);
    stop_worker(slot, "its handler returned after its request was stopped");
    leave_count_locked(*slot);
    return;
  }
  if (recycle) {
    slot->leaving = recycle->text;
    slot->leaving_counter = recycle->why == recycling::cause::max_requests ? &supervision_->counts.recycled_max_requests
                                                                          : &supervision_->counts.recycled_max_memory;
  }
  if (!slot->leaving.empty()) {
    if (slot->in_flight > 0) return;
    slot->gone = true;
    if (slot->leaving_counter) slot->leaving_counter->fetch_add(1, std::memory_order_relaxed);
    erase_busy_locked(slot.get());
    stop_worker(slot, "recycled: " + slot->leaving);
    policy_.left_count();
    // Its replacement starts now if anyone waits, or to keep the spares.
    start_workers_locked(policy_.after_recycled(waiters_.size()));
    return;
  }
  if (slot->in_flight == 0) {
    erase_busy_locked(slot.get());
    hand_over_locked(std::move(slot));
  } else {
    fill_locked(slot);
  }
}

void worker_pool::leave_count_locked(worker_slot& slot) {
  if (slot.out_of_count) {
    slot.out_of_count = false;
    supervision_->condemned--;
    return;
  }
  policy_.left_count();
  replace_worker_locked();
}

void worker_pool::replace_worker_locked() {
  if (const auto target = policy_.to_replace(waiters_.size(), handlers_quick_locked()); target > 0)
    start_workers_locked(target);
}

void worker_pool::lease_condemned(const std::shared_ptr<worker_slot>& slot) {
  // Its request is over: during its kill grace it takes no CPU from requests
  // that are still running, nor from its replacement starting.
  std::lock_guard lock(mutex_);
  if (slot->condemned || slot->gone) return;
  slot->condemned = true;
  erase_busy_locked(slot.get());
  condemned_.push_back(slot);
  // At most max-workers condemned workers at once, over all pools: past
  // that, one keeps its place in its pool until it is gone, so a flood of
  // stuck handlers fills the pool and its queue (then OVERLOADED) instead of
  // starting processes without end.
  if (supervision_->condemned.fetch_add(1) >= supervision_->max_condemned) {
    supervision_->condemned--;
    supervision_->log->warn("worker {} of plugin {}: {} workers are already past their requests' end; this one "
                            "keeps its place in the pool until it is gone", slot->link->pid(), plugin_,
                            supervision_->max_condemned);
    return;
  }
  slot->out_of_count = true;
  policy_.left_count();
  replace_worker_locked();  // a fresh worker takes its place
}

void worker_pool::stop_replaced_worker(const std::shared_ptr<worker_slot>& slot) {
  supervision_->counts.left_plugin_replaced.fetch_add(1, std::memory_order_relaxed);
  stop_worker(slot, "its plugin was replaced");
}

std::vector<worker_view> worker_pool::describe() {
  std::vector<worker_view> workers;
  std::vector<std::shared_ptr<worker_link>> links;
  {
    std::lock_guard lock(mutex_);
    auto add = [&](const std::shared_ptr<worker_slot>& slot, std::string_view state) {
      workers.push_back({slot->link->pid(), plugin_, version_, std::string(state), slot->served, 0, slot->started});
      links.push_back(slot->link);
    };
    for (const auto& slot : idle_) add(slot, "idle");
    for (const auto& slot : busy_) add(slot, slot->leaving.empty() ? "busy" : "busy, leaving");
    std::erase_if(condemned_, [](const auto& weak) {
      const auto slot = weak.lock();
      return !slot || slot->gone;
    });
    for (const auto& weak : condemned_)
      if (const auto slot = weak.lock()) add(slot, "condemned");
  }
  // /proc is read under no lock.
  for (std::size_t i = 0; i < workers.size(); ++i) workers[i].rss_bytes = links[i]->process().rss_bytes();
  return workers;
}

std::shared_ptr<worker_link> worker_pool::busy_link(int pid) {
  std::lock_guard lock(mutex_);
  for (const auto& slot : busy_)
    if (slot->link->pid() == pid) return slot->link;
  for (const auto& weak : condemned_)
    if (const auto slot = weak.lock(); slot && !slot->gone && slot->link->pid() == pid) return slot->link;
  return nullptr;
}

worker_census worker_pool::census() {
  std::lock_guard lock(mutex_);
  worker_census now;
  now.starting = policy_.starting();
  now.idle = idle_.size();
  now.busy = busy_.size();
  now.queued = waiters_.size();
  return now;
}

void worker_pool::stop_worker(const std::shared_ptr<worker_slot>& slot, std::string why) {
  if (!why.empty()) supervision_->log->info("worker {} of plugin {} leaves: {}", slot->link->pid(), plugin_, why);
  // Closing its connection ends it; it gets the kill grace to finish.
  slot->link->close(settings_.kill_grace);
}

asio::awaitable<void> worker_pool::sweep_idle() {
  auto self = shared_from_this();
  asio::steady_timer timer(executor_);
  while (true) {
    timer.expires_after(sweep_interval);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    std::lock_guard lock(mutex_);
    const auto now = clock::now();
    // Oldest first: idle_ is used from the back.
    for (auto it = idle_.begin(); it != idle_.end();) {
      auto& slot = *it;
      const bool dead = slot->link->dead();
      const bool surplus = retired_ || policy_.idle_surplus(idle_.size(), now - slot->idle_since);
      if (!dead && !surplus) {
        ++it;
        continue;
      }
      slot->gone = true;
      policy_.left_count();
      if (dead) {
        supervision_->log->warn("worker {} of plugin {} {} while idle", slot->link->pid(), plugin_,
                                slot->link->process().exit_description());
        if (slot->link->process().crashed()) supervision_->counts.crashed.fetch_add(1, std::memory_order_relaxed);
      } else if (retired_) {
        stop_replaced_worker(slot);
      } else {
        supervision_->counts.left_idle.fetch_add(1, std::memory_order_relaxed);
        stop_worker(slot, "idle for " + std::to_string(settings_.idle_timeout.count() / 1000) + " s");
      }
      it = idle_.erase(it);
    }
    const bool none = policy_.live() == 0 && policy_.starting() == 0;
    if (retired_ && none) break;
    if (idle_.empty() && none && waiters_.empty()) break;
  }
  std::lock_guard lock(mutex_);
  sweeping_ = false;
}

bool worker_pool::handlers_quick_locked() const {
  const auto now = clock::now();
  clock::duration longest_hold{0};
  for (const auto& slot : busy_) longest_hold = std::max(longest_hold, now - slot->front_since);
  return timings_.all_quick(longest_hold);
}

asio::awaitable<void> worker_pool::grow_while_waiting() {
  auto self = shared_from_this();
  asio::steady_timer timer(executor_);
  while (true) {
    timer.expires_after(grow_check);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    std::lock_guard lock(mutex_);
    const auto now = clock::now();
    const auto long_waiting = static_cast<std::size_t>(std::count_if(
        waiters_.begin(), waiters_.end(),
        [&](const auto& who) { return !who->left && now - who->since >= handler_timings::grow_after; }));
    // Requests that hold a worker only briefly wait because the CPUs are
    // busy, not the workers: for them the pool grows only to quick_pool_size.
    if (const auto target = policy_.grow_by(long_waiting, handlers_quick_locked()); target > 0)
      start_workers_locked(target);
    if (waiters_.empty() || retired_ || broken_) {
      growing_ = false;
      co_return;
    }
  }
}

void worker_pool::retire() {
  std::lock_guard lock(mutex_);
  retired_ = true;
  for (auto& slot : idle_) {
    slot->gone = true;
    policy_.left_count();
    stop_replaced_worker(slot);
  }
  idle_.clear();
  // Whoever still waits for this version gets the next of its workers that frees up.
}

std::vector<std::shared_ptr<worker_link>> worker_pool::shut_down() {
  std::lock_guard lock(mutex_);
  retired_ = true;
  std::vector<std::shared_ptr<worker_link>> leaving;
  for (auto& slot : idle_) {
    slot->gone = true;
    slot->link->process().ask_to_leave();
    leaving.push_back(slot->link);
  }
  idle_.clear();
  refuse_waiters_locked(503, "the host is stopping");
  return leaving;
}

}  // namespace fcgihost::runners
