#include "worker_pool.hpp"

namespace fcgihost::runners {

namespace {
// How long a task may wait for a thread before the pool grows.
constexpr auto grow_after = std::chrono::milliseconds(20);
}  // namespace

worker_pool::worker_pool(std::size_t min_threads, std::size_t max_threads)
    : max_threads_(std::max(max_threads, std::max<std::size_t>(min_threads, 1))) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < std::max<std::size_t>(min_threads, 1); ++i) spawn_locked();
  grower_ = std::thread([this] { grow_when_stuck(); });
}

worker_pool::~worker_pool() { stop(std::chrono::seconds(5)); }

void worker_pool::spawn_locked() { threads_.emplace_back([this] { work(); }); }

void worker_pool::submit(std::function<void()> task) {
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  tasks_.push_back({std::move(task), std::chrono::steady_clock::now()});
  wake_.notify_one();
  // More queued than idle threads: the grower watches how long they wait.
  if (tasks_.size() > threads_.size() - busy_) queue_waits_.notify_one();
}

void worker_pool::grow_when_stuck() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (tasks_.empty()) {
      queue_waits_.wait(lock);
      continue;
    }
    if (busy_ < threads_.size()) {  // an idle thread is about to take it: look again soon
      queue_waits_.wait_for(lock, grow_after);
      continue;
    }
    const auto waited = std::chrono::steady_clock::now() - tasks_.front().since;
    if (waited >= grow_after && threads_.size() < max_threads_) {
      spawn_locked();
      wake_.notify_one();
      continue;
    }
    queue_waits_.wait_for(lock, grow_after - std::min<std::chrono::steady_clock::duration>(waited, grow_after));
  }
}

void worker_pool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping and nothing left
    auto task = std::move(tasks_.front().run);
    tasks_.pop_front();
    ++busy_;
    lock.unlock();
    task();
    task = nullptr;  // destroy what the task captured before counting it done
    lock.lock();
    --busy_;
    idle_.notify_all();
  }
}

std::size_t worker_pool::stop(std::chrono::milliseconds grace) {
  std::unique_lock lock(mutex_);
  if (!stopping_) {
    stopping_ = true;
    tasks_.clear();
    wake_.notify_all();
    queue_waits_.notify_all();
  }
  idle_.wait_for(lock, grace, [this] { return busy_ == 0; });
  const std::size_t stuck = busy_;
  auto threads = std::move(threads_);
  threads_.clear();
  auto grower = std::move(grower_);
  lock.unlock();
  if (grower.joinable()) grower.join();
  for (auto& thread : threads) {
    if (stuck == 0)
      thread.join();
    else
      thread.detach();  // cannot tell which ones are stuck; the process exits next
  }
  return stuck;
}

std::size_t worker_pool::thread_count() const {
  std::lock_guard lock(mutex_);
  return threads_.size();
}

std::size_t worker_pool::busy_count() const {
  std::lock_guard lock(mutex_);
  return busy_;
}

}  // namespace fcgihost::runners
