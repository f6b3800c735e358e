// A pool's upkeep: idle workers swept, the pool grown while requests wait,
// a replaced version retired, the host's shutdown, and what the status page
// sees of it.
#include <runners/worker/worker_pool_internals.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace fcgihost::runners {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;

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
        stop_worker(slot, "idle for " + std::to_string(settings_.limits.idle_timeout.count() / 1000) + " s");
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
  if (!timings_.holds_short()) return false;  // the busy workers need no look
  const auto now = clock::now();
  clock::duration longest_hold{0};
  for (const auto& slot : busy_) longest_hold = std::max(longest_hold, now - slot->front_since);
  return timings_.all_quick(longest_hold);
}

// Runs while requests wait. It looks when a waiter's wait passes grow_after,
// when a busy worker's hold passes long_hold (the handlers are no longer
// quick), and when what it decides on changes (wake_growth_locked: a worker
// leaves or starts, the handlers' holds stop being short, the last waiter
// goes); it sleeps in between, and a saturated pool's requests cost it
// nothing.
asio::awaitable<void> worker_pool::grow_while_waiting() {
  auto self = shared_from_this();
  while (true) {
    auto wake_at = clock::time_point::max();
    {
      std::lock_guard lock(mutex_);
      const auto now = clock::now();
      std::size_t long_waiting = 0;
      for (const auto& who : waiters_) {
        if (who->left) continue;
        if (now - who->since >= handler_timings::grow_after)
          ++long_waiting;
        else
          wake_at = std::min(wake_at, who->since + handler_timings::grow_after);
      }
      // Requests that hold a worker only briefly wait because the CPUs are
      // busy, not the workers: for them the pool grows only to quick_pool_size.
      const bool quick = handlers_quick_locked();
      if (const auto target = policy_.grow_by(long_waiting, quick); target > 0) start_workers_locked(target);
      if (waiters_.empty() || retired_ || broken_) {
        growing_ = false;
        co_return;
      }
      if (quick)
        for (const auto& slot : busy_) wake_at = std::min(wake_at, slot->front_since + handler_timings::long_hold);
      grow_wake_at_ = wake_at;
    }
    grow_timer_.expires_at(wake_at);
    co_await grow_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
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
