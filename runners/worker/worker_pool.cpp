// The pool's queue and leases: a request gets an idle worker, a busy one
// that takes more (pipelining), or waits in order; a lease's end frees,
// recycles or condemns its worker. Starting workers is in worker_start.cpp,
// the upkeep in worker_pool_upkeep.cpp, the rules in pool_policy.
#include "worker_pool.hpp"

#include <runners/worker/worker_pool_internals.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <thread>


namespace fcgihost::runners {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;

namespace {

// Enough workers to keep every core busy with quick handlers.
// (Asked once: glibc reads /sys for it each time.)
std::size_t quick_pool_size() {
  static const std::size_t size = std::max(2u, std::thread::hardware_concurrency()) + 1;
  return size;
}

pool_limits limits_of(const worker_pool_settings& settings) {
  pool_limits limits = settings.limits;
  limits.quick_pool_size = quick_pool_size();
  return limits;
}

}  // namespace

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
      policy_(limits_of(settings_)),
      grow_timer_(executor_) {}

worker_pool::~worker_pool() = default;

void worker_pool::open() {
  std::lock_guard lock(mutex_);
  start_workers_locked(policy_.at_open());
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
  if (waiters_.empty()) wake_growth_locked();  // it ends
}

// Posted: the timer is the strand's, and the mutex is held here. A wake that
// comes before the coroutine waits again is not lost: it decides and waits in
// one step on the strand, after the change this wakes it for.
void worker_pool::wake_growth_locked() {
  if (growing_) asio::post(executor_, [self = shared_from_this()] { self->grow_timer_.cancel(); });
}

// A worker for it now (idle, or busy and taking more), or the refusal; nothing
// when it must wait. `handler` is moved into the lease it returns.
std::optional<lease_result> worker_pool::lease_now_locked(std::string& handler, bool pipelinable) {
  auto self = shared_from_this();
  lease_result result;
  if (broken_) {
    result.refusal_status = 500;
    result.reason = "plugin " + plugin_ + " cannot be loaded: " + *broken_;
    return result;
  }
  if (handlers_ && !handlers_->contains(handler)) {
    result.refusal_status = 404;
    result.reason = "plugin '" + plugin_ + "' has no handler '" + handler + "'";
    return result;
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
      if (const auto more = policy_.after_pipelined(); more > 0) start_workers_locked(more, true);
      result.lease.emplace(self, std::move(best), std::move(handler), false);
      return result;
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
    return result;
  }
  if (policy_.overloaded(waiters_.size(), supervision_->condemned >= supervision_->max_condemned)) {
    result.reason = "every worker of plugin " + plugin_ + " is busy and " + std::to_string(waiters_.size()) +
                    " requests wait";
    return result;  // OVERLOADED
  }
  return std::nullopt;  // it waits for a worker
}

std::optional<lease_result> worker_pool::try_acquire(std::string handler, bool pipelinable) {
  std::lock_guard lock(mutex_);
  return lease_now_locked(handler, pipelinable);
}

asio::awaitable<lease_result> worker_pool::acquire(std::string handler, clock::time_point deadline, bool pipelinable) {
  auto self = shared_from_this();
  lease_result result;
  std::shared_ptr<waiter> waiting;
  const auto executor = co_await asio::this_coro::executor;
  {
    std::lock_guard lock(mutex_);
    if (auto now = lease_now_locked(handler, pipelinable)) co_return std::move(*now);
    const bool quick = timings_.quick(handler);
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
    } else if (waiting->since + handler_timings::grow_after < grow_wake_at_) {
      wake_growth_locked();  // it must look when this one has waited grow_after
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
    const bool were_short = timings_.holds_short();
    timings_.ran(handler, held);
    // Handlers no longer quick: a pool kept small for quick ones may grow now.
    if (were_short && !timings_.holds_short()) wake_growth_locked();
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
  wake_growth_locked();
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

}  // namespace fcgihost::runners
