#include "serving_threads.hpp"

#include <boost/asio/defer.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>

namespace fcgihost::runners {

namespace asio = boost::asio;

namespace {
// How long every thread may be inside a handler before another one starts:
// quick handlers end within microseconds, so a few milliseconds mean they
// block; and nothing reads the sockets meanwhile, so it must be short (20
// blocking requests at once: their 408s came up to 360 ms late with 20 ms).
constexpr auto saturation_limit = std::chrono::milliseconds(2);
// How long a handler may wait to start before another thread starts.
constexpr auto grow_after = std::chrono::milliseconds(20);
}  // namespace

// Thrown by a posted operation through one thread's io_context::run(): that
// thread leaves (Asio lets the exception through that run() alone).
struct serving_threads::retire_signal {
  bool still_counted = false;  // in retiring_, to take out when the thread has left
};

struct serving_threads::work_guard {
  asio::executor_work_guard<asio::io_context::executor_type> guard;
};

serving_threads::serving_threads(asio::io_context& io, std::size_t io_threads, std::size_t max_handlers,
                                 std::chrono::milliseconds retire_after)
    : io_(io),
      io_threads_(std::max<std::size_t>(io_threads, 1)),
      max_handlers_(std::max<std::size_t>(max_handlers, 1)),
      retire_after_(retire_after),
      work_(std::make_unique<work_guard>(work_guard{asio::make_work_guard(io)})) {}

serving_threads::~serving_threads() {
  stop();
  wait(std::chrono::milliseconds::zero());
  std::unique_lock lock(mutex_);
  auto threads = std::move(threads_);
  lock.unlock();
  for (auto& thread : threads) thread.join();
}

void serving_threads::start() {
  std::lock_guard lock(mutex_);
  if (stopping_ || !threads_.empty()) return;
  for (std::size_t i = 0; i < io_threads_; ++i) spawn_locked();
  grower_ = std::thread([this] { grow_when_stuck(); });
}

// Enough for every handler allowed at once and the threads that serve beside them.
bool serving_threads::may_grow_locked() const { return threads_.size() < io_threads_ + max_handlers_; }

void serving_threads::spawn_locked() {
  last_spawn_ = std::chrono::steady_clock::now();
  ++serving_;
  threads_.emplace_back([this] { serve(); });
}

void serving_threads::serve() {
  bool retired = false;
  bool counted = false;
  try {
    io_.run();
  } catch (const retire_signal& signal) {
    retired = true;
    counted = signal.still_counted;
  }
  std::lock_guard lock(mutex_);
  --serving_;
  if (counted) --retiring_;
  if (retired) retired_.push_back(std::this_thread::get_id());  // the grower joins it
  changed_.notify_all();
}

// Threads beyond `io_threads` that nothing has needed for a while go: each
// idle one is woken by the work it could take, and a few dozen of them (after
// a burst of blocking handlers) cost quick requests two thirds of their
// throughput (hello: 36k -> 12k req/s with 42 threads).
void serving_threads::retire_surplus_locked(std::unique_lock<std::mutex>& lock) {
  // Join the threads that have left; they hold the lock no more.
  std::vector<std::thread> gone;
  for (const auto id : retired_) {
    const auto found = std::find_if(threads_.begin(), threads_.end(), [id](auto& t) { return t.get_id() == id; });
    if (found == threads_.end()) continue;
    gone.push_back(std::move(*found));
    threads_.erase(found);
  }
  retired_.clear();
  const auto now = std::chrono::steady_clock::now();
  const auto pressure = std::max(last_spawn_, saturated_since_);
  // All the surplus at once, but a thread stays free beside the handlers
  // running, so that retiring does not saturate the rest.
  const std::size_t keep = std::max(io_threads_, busy_ + 1);
  const std::size_t staying = threads_.size() - retiring_;
  if (staying > keep && now - pressure >= retire_after_) {
    for (std::size_t i = keep; i < staying; ++i) {
      ++retiring_;
      asio::post(io_, [this] {
        {
          std::lock_guard guard(mutex_);
          --retiring_;
        }
        throw retire_signal{};
      });
    }
  }
  lock.unlock();
  for (auto& thread : gone) thread.join();
  lock.lock();
}

void serving_threads::leave_if_surplus() {
  {
    std::lock_guard lock(mutex_);
    const std::size_t keep = std::max(io_threads_, busy_ + 1);
    if (stopping_ || threads_.size() - retiring_ <= keep) return;
    ++retiring_;
  }
  throw retire_signal{.still_counted = true};
}

void serving_threads::submit(std::function<void()> handler) {
  // Deferred, not posted: from a thread of the io_context (a connection's
  // strand) it then runs on that same thread once the current work is done,
  // without waking another one.
  asio::defer(io_, [this, handler = std::move(handler), submitted = std::chrono::steady_clock::now()]() mutable {
    run_handler(std::move(handler), submitted);
  });
}

void serving_threads::run_handler(std::function<void()> handler, std::chrono::steady_clock::time_point submitted) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    if (busy_ >= max_handlers_) {
      waiting_.push_back(std::move(handler));
      return;
    }
    // Handlers that keep their thread a few ms each, one after another, never
    // saturate every thread for long, but make the next ones wait: a handler
    // that waited a grow period for a thread adds one (at most one a period).
    const auto now = std::chrono::steady_clock::now();
    if (now - submitted >= grow_after && now - last_spawn_ >= grow_after && may_grow_locked()) spawn_locked();
    ++busy_;
    if (busy_ >= able_locked()) {
      saturated_since_ = now;
      // Only a sleeping grower is woken: with one thread every handler
      // saturates it, and a wake-up per request would cost what inlining saves.
      if (grower_asleep_) {
        grower_asleep_ = false;
        saturated_.notify_one();
      }
    }
  }
  run_admitted(std::move(handler));
}

void serving_threads::run_admitted(std::function<void()> handler) {
  // Whatever the handler does, its slot is given back (or passed on).
  struct slot {
    serving_threads& owner;
    ~slot() {
      std::unique_lock lock(owner.mutex_);
      if (!owner.waiting_.empty() && !owner.stopping_) {
        // The slot passes to the handler that waited longest, so newer ones cannot overtake it.
        auto next = std::move(owner.waiting_.front());
        owner.waiting_.pop_front();
        lock.unlock();
        asio::post(owner.io_, [&owner = owner, next = std::move(next)]() mutable { owner.run_admitted(std::move(next)); });
        return;
      }
      --owner.busy_;
    }
  } release{*this};
  handler();
  handler = nullptr;  // what it captured goes before its slot does
}

void serving_threads::grow_when_stuck() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (busy_ < able_locked()) {
      // While saturation comes and goes, look every grow period instead of
      // being woken each time; after a quiet second, sleep until woken, or
      // until a surplus thread may retire.
      retire_surplus_locked(lock);
      if (stopping_) break;
      if (std::chrono::steady_clock::now() - saturated_since_ < std::chrono::seconds(1)) {
        saturated_.wait_for(lock, saturation_limit);
      } else if (threads_.size() > io_threads_ || !retired_.empty()) {
        saturated_.wait_for(lock, retire_after_ / 10);
      } else {
        grower_asleep_ = true;
        saturated_.wait(lock);
      }
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    const auto waited = now - saturated_since_;
    if (waited >= saturation_limit && may_grow_locked()) {
      // Saturated again right after growing: a burst of blocking handlers.
      // Double the step each time, so that 20 of them wait 10 ms, not 40.
      const bool again = now - last_growth_ < 4 * saturation_limit;
      growth_step_ = again ? std::min<std::size_t>(growth_step_ * 2, 16) : 1;
      last_growth_ = now;
      for (std::size_t i = 0; i < growth_step_ && may_grow_locked(); ++i) spawn_locked();
      continue;
    }
    saturated_.wait_for(lock, saturation_limit - waited);
  }
}

void serving_threads::stop() {
  std::unique_lock lock(mutex_);
  if (stopping_) return;
  stopping_ = true;
  grower_asleep_ = false;
  auto dropped = std::move(waiting_);
  waiting_.clear();
  work_.reset();
  io_.stop();
  saturated_.notify_all();
  changed_.notify_all();
  lock.unlock();
  // What the dropped handlers hold goes outside the lock.
  dropped.clear();
}

std::size_t serving_threads::wait(std::chrono::milliseconds grace) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return stopping_; });
  changed_.wait_for(lock, grace, [this] { return serving_ == 0; });
  const std::size_t stuck = serving_;
  auto grower = std::move(grower_);
  // Every thread has left run() when none is stuck: they can all be joined.
  auto threads = stuck == 0 ? std::move(threads_) : std::vector<std::thread>{};
  lock.unlock();
  if (grower.joinable()) grower.join();
  for (auto& thread : threads) thread.join();
  return stuck;
}

std::size_t serving_threads::thread_count() const {
  std::lock_guard lock(mutex_);
  return threads_.size();
}

std::size_t serving_threads::busy_count() const {
  std::lock_guard lock(mutex_);
  return busy_;
}

}  // namespace fcgihost::runners
