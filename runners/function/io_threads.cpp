#include "io_threads.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <runners/common/alternate_signal_stack.hpp>
#include <runners/function/handler_speed.hpp>

namespace fcgihost::runners {

namespace asio = boost::asio;

namespace {
// The watchdog looks this often while runs happen, and sleeps until woken
// after this long without any.
constexpr auto quiet_before_sleep = std::chrono::seconds(1);
}  // namespace

struct io_threads::work_guard {
  asio::executor_work_guard<asio::io_context::executor_type> guard;
};

// One thread serving the io_context, and the run holding it, if any.
// Everything but `thread` is guarded by the mutex.
struct io_threads::thread_slot {
  std::thread thread;
  std::chrono::steady_clock::time_point run_since{};  // a run is in progress since
  handler_speed* speed = nullptr;                     // whose run
  bool reported = false;                              // this run's stall was seen
  bool replaced = false;                              // another thread serves in its place
};

namespace {
thread_local io_threads* current_owner = nullptr;
thread_local void* current_slot = nullptr;
}  // namespace

io_threads::io_threads(asio::io_context& io, std::size_t count, std::size_t max_replacements,
                       stall_callback on_stall, std::chrono::milliseconds stall_limit)
    : io_(io),
      count_(std::max<std::size_t>(count, 1)),
      max_replacements_(max_replacements),
      stall_limit_(stall_limit),
      on_stall_(std::move(on_stall)),
      work_(std::make_unique<work_guard>(work_guard{asio::make_work_guard(io)})) {}

io_threads::~io_threads() {
  stop();
  wait(std::chrono::milliseconds::zero());
  std::unique_lock lock(mutex_);
  std::vector<std::thread> threads;
  for (auto& slot : slots_) threads.push_back(std::move(slot.thread));
  lock.unlock();
  for (auto& thread : threads)
    if (thread.joinable()) thread.join();
}

void io_threads::start() {
  std::lock_guard lock(mutex_);
  if (stopping_ || !slots_.empty()) return;
  for (std::size_t i = 0; i < count_; ++i) spawn_locked();
  watchdog_ = std::thread([this] { watch(); });
}

void io_threads::spawn_locked() {
  auto& slot = slots_.emplace_back();
  slot.thread = std::thread([this, &slot] { serve(slot); });
}

void io_threads::serve(thread_slot& slot) {
  current_owner = this;
  current_slot = &slot;
  use_alternate_signal_stack();  // handlers run here too (the fast path)
  try {
    io_.run();
  } catch (const leave_signal&) {
    // Replaced while a run held this thread. What the run deferred (its
    // result, from function_runner) was queued for this thread; leaving
    // run() by an exception moves it to the shared queue but wakes no
    // thread, and the replacement may sleep in epoll_wait until some
    // unrelated event. A post from outside run() wakes it.
    asio::post(io_, [] {});
  }
  std::lock_guard lock(mutex_);
  finished_.push_back(&slot);
  changed_.notify_all();
}

void io_threads::run_inline(const std::function<void()>& work, handler_speed& speed) {
  if (current_owner != this) {  // not one of ours: nothing to watch
    work();
    return;
  }
  auto& slot = *static_cast<thread_slot*>(current_slot);
  runs_.fetch_add(1, std::memory_order_seq_cst);
  {
    std::lock_guard lock(mutex_);
    if (watchdog_asleep_.load(std::memory_order_seq_cst)) {
      watchdog_asleep_ = false;
      watch_.notify_one();
    }
    slot.speed = &speed;
    slot.run_since = std::chrono::steady_clock::now();
  }
  work();
  bool leave = false;
  {
    std::lock_guard lock(mutex_);
    slot.run_since = {};
    slot.speed = nullptr;
    slot.reported = false;
    leave = slot.replaced;
    if (leave) --replacing_;
  }
  // Out of io_context::run(): this thread's replacement serves on.
  if (leave) throw leave_signal{};
}

void io_threads::replace_stalled_locked(std::chrono::steady_clock::time_point now) {
  std::size_t replacements = 0;
  for (auto& slot : slots_) {
    if (slot.run_since == std::chrono::steady_clock::time_point{} || slot.reported) continue;
    if (now - slot.run_since < stall_limit_) continue;
    slot.reported = true;
    stalls_.fetch_add(1, std::memory_order_relaxed);
    slot.speed->stalled();
    if (replacing_ < max_replacements_ && !stopped_) {
      slot.replaced = true;
      ++replacing_;
      ++replacements;
    }
    if (on_stall_) on_stall_(slot.speed->label(), slot.replaced);
  }
  // Started after the loop: the list grows, and its new slots hold no run.
  for (std::size_t i = 0; i < replacements; ++i) spawn_locked();
}

void io_threads::join_finished_locked(std::unique_lock<std::mutex>& lock) {
  if (finished_.empty()) return;
  std::vector<std::thread> gone;
  for (auto* finished : finished_) {
    for (auto slot = slots_.begin(); slot != slots_.end(); ++slot) {
      if (&*slot != finished) continue;
      gone.push_back(std::move(slot->thread));
      slots_.erase(slot);
      break;
    }
  }
  finished_.clear();
  lock.unlock();
  for (auto& thread : gone) thread.join();
  lock.lock();
}

void io_threads::watch() {
  std::unique_lock lock(mutex_);
  std::uint64_t seen = runs_.load();
  auto last_activity = std::chrono::steady_clock::now();
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    replace_stalled_locked(now);
    join_finished_locked(lock);
    if (stopping_) break;
    bool running = false;
    for (const auto& slot : slots_) running = running || slot.run_since != std::chrono::steady_clock::time_point{};
    if (const auto runs = runs_.load(); runs != seen || running) {
      seen = runs;
      last_activity = now;
    }
    if (now - last_activity < quiet_before_sleep) {
      watch_.wait_for(lock, stall_limit_ / 2);
      continue;
    }
    // Asleep until a run begins: it sees the flag (or this sees its count).
    watchdog_asleep_.store(true, std::memory_order_seq_cst);
    if (runs_.load(std::memory_order_seq_cst) == seen)
      watch_.wait(lock, [this] { return stopping_ || !watchdog_asleep_.load(); });
    watchdog_asleep_ = false;
    last_activity = std::chrono::steady_clock::now();
  }
}

void io_threads::stop() {
  std::lock_guard lock(mutex_);
  if (stopped_) return;
  stopped_ = true;
  work_.reset();
  io_.stop();
  changed_.notify_all();
}

std::size_t io_threads::wait(std::chrono::milliseconds grace) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return stopped_; });
  changed_.wait_for(lock, grace, [this] { return finished_.size() == slots_.size(); });
  const std::size_t stuck = slots_.size() - finished_.size();
  stopping_ = true;
  watch_.notify_all();
  auto watchdog = std::move(watchdog_);
  lock.unlock();
  if (watchdog.joinable()) watchdog.join();
  lock.lock();
  if (stuck == 0) join_finished_locked(lock);
  return stuck;
}

std::size_t io_threads::thread_count() const {
  std::lock_guard lock(mutex_);
  return slots_.size() - finished_.size();
}

}  // namespace fcgihost::runners
