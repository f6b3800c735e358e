#include "handler_pool.hpp"

#include <algorithm>

namespace fcgihost::runners {

handler_pool::handler_pool(std::size_t max_handlers, std::chrono::milliseconds retire_after,
                           std::size_t keep_threads)
    : max_handlers_(std::max<std::size_t>(max_handlers, 1)),
      retire_after_(retire_after),
      keep_threads_(keep_threads) {}

handler_pool::~handler_pool() {
  stop();
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return busy_ == 0; });
  auto threads = std::move(threads_);
  lock.unlock();
  threads.clear();  // joins
}

void handler_pool::submit(std::function<void()> handler) {
  std::unique_lock lock(mutex_);
  if (stopping_) return;
  queue_.push_back(std::move(handler));
  // Each idle thread takes one queued handler; a thread starts for the rest,
  // so a handler never waits behind a blocked one while the pool may grow.
  if (queue_.size() > idle_ && threads_.size() < max_handlers_) {
    join_finished_locked(lock);
    spawn_locked();
  } else if (idle_ > 0) {
    work_or_stop_.notify_one();
  }
}

void handler_pool::spawn_locked() { threads_.emplace_back([this] { serve(); }); }

void handler_pool::serve() {
  std::unique_lock lock(mutex_);
  // Idle since its last handler, however often it is woken to join others.
  auto idle_since = std::chrono::steady_clock::now();
  while (!stopping_) {
    if (!finished_.empty()) {
      join_finished_locked(lock);
      continue;
    }
    if (queue_.empty()) {
      if (std::chrono::steady_clock::now() - idle_since >= retire_after_ &&
          threads_.size() - finished_.size() > keep_threads_)
        break;  // not needed for a while
      ++idle_;
      work_or_stop_.wait_until(lock, idle_since + retire_after_, [this] {
        return stopping_ || !queue_.empty() || !finished_.empty();
      });
      --idle_;
      continue;
    }
    auto handler = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    lock.unlock();
    handler();
    handler = nullptr;  // what it captured (its request, its plugin) goes outside the lock
    lock.lock();
    --busy_;
    idle_since = std::chrono::steady_clock::now();
    changed_.notify_all();
  }
  finished_.push_back(::pthread_self());
  work_or_stop_.notify_one();  // an idle thread joins this one
  changed_.notify_all();
}

// Threads that left serve() are joined by an idle thread, or by whoever next
// starts one: they hold the lock no more, so joining is immediate.
void handler_pool::join_finished_locked(std::unique_lock<std::mutex>& lock) {
  if (finished_.empty()) return;
  std::list<owned_stack_thread> gone;
  for (const auto thread : finished_) {
    const auto found = std::find_if(threads_.begin(), threads_.end(), [thread](auto& t) { return t.is(thread); });
    if (found != threads_.end()) gone.splice(gone.end(), threads_, found);
  }
  finished_.clear();
  lock.unlock();
  gone.clear();  // joins, and unmaps their stacks
  lock.lock();
}

void handler_pool::stop() {
  std::unique_lock lock(mutex_);
  if (stopping_) return;
  stopping_ = true;
  auto dropped = std::move(queue_);
  queue_.clear();
  work_or_stop_.notify_all();
  lock.unlock();
  dropped.clear();  // what the dropped handlers hold goes outside the lock
}

std::size_t handler_pool::wait(std::chrono::milliseconds grace) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, grace, [this] { return busy_ == 0; });
  const std::size_t stuck = busy_;
  if (stuck > 0) return stuck;  // their threads are left to the process's exit
  auto threads = std::move(threads_);
  threads_.clear();
  finished_.clear();
  lock.unlock();
  threads.clear();  // joins
  return 0;
}

std::size_t handler_pool::thread_count() const {
  std::lock_guard lock(mutex_);
  return threads_.size() - finished_.size();
}

std::size_t handler_pool::busy_count() const {
  std::lock_guard lock(mutex_);
  return busy_;
}

std::size_t handler_pool::queued_count() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace fcgihost::runners
