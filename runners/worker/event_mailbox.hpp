// The events of one request from its worker's link (worker_link): a bounded
// queue with one receiver (the request's exchange) and one sender (the
// link's reader), as a channel would be, with one difference that matters
// per request: a receiver waiting for an event is resumed by dispatch, not
// post. On its I/O thread, with the request's strand free, the exchange then
// runs on at once inside the reader's turn (its end is written to the web
// server before the event loop turns again), where a channel's post costs a
// turn of the event loop, and a poll of the reactor, per event.
//
// A sender that finds the queue full waits for room (the link stops reading
// the worker: backpressure); it is resumed by post, which never nests the
// reader inside the exchange. Only awaitables of any_io_executor wait here:
// their handler type is named so it can be held without type erasure.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

namespace fcgihost::runners {

template <typename Event>
class event_mailbox {
 public:
  explicit event_mailbox(std::size_t capacity) : capacity_(capacity) {}
  event_mailbox(const event_mailbox&) = delete;
  event_mailbox& operator=(const event_mailbox&) = delete;

  // Hands `event` to the waiting receiver, or queues it; false (with `event`
  // untouched) when the queue is full: send() waits for room then. Once
  // closed, an event is dropped (and true returned).
  bool try_send(Event& event) {
    std::unique_lock lock(mutex_);
    if (closed_) return true;
    if (receiver_) {
      auto receiver = std::move(*receiver_);
      receiver_.reset();
      lock.unlock();
      resume(std::move(receiver), std::optional<Event>(std::move(event)));
      return true;
    }
    if (queued_.size() >= capacity_) return false;
    queued_.push_back(std::move(event));
    return true;
  }

  // Queues `event`, waiting for room if need be; false when the mailbox was
  // closed first (the event is dropped).
  boost::asio::awaitable<bool> send(Event event) {
    if (try_send(event)) co_return !closed();
    co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(bool)>(
        [this, &event](sender_handler handler) {
          std::unique_lock lock(mutex_);
          if (closed_) {
            lock.unlock();
            post_result(std::move(handler), false);
          } else if (queued_.size() < capacity_) {  // a receiver took one meanwhile
            queued_.push_back(std::move(event));
            lock.unlock();
            post_result(std::move(handler), true);
          } else {
            senders_.emplace_back(std::move(event), std::move(handler));
          }
        },
        boost::asio::use_awaitable);
  }

  // The next event; nothing once the mailbox is closed.
  boost::asio::awaitable<std::optional<Event>> receive() {
    {
      std::lock_guard lock(mutex_);
      if (auto next = take_locked()) co_return next;
      if (closed_) co_return std::nullopt;
    }
    co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(std::optional<Event>)>(
        [this](receiver_handler handler) {
          std::unique_lock lock(mutex_);
          auto next = take_locked();  // sent meanwhile
          if (next || closed_) {
            lock.unlock();
            resume(std::move(handler), std::move(next));
          } else {
            receiver_.emplace(std::move(handler));
          }
        },
        boost::asio::use_awaitable);
  }

  // Wakes the receiver (with nothing) and the waiting senders (false); what
  // is queued is dropped, and so is everything sent from now on.
  void close() {
    std::unique_lock lock(mutex_);
    if (closed_) return;
    closed_ = true;
    queued_.clear();
    auto receiver = std::move(receiver_);
    receiver_.reset();
    auto senders = std::move(senders_);
    senders_.clear();
    lock.unlock();
    if (receiver) post_result(std::move(*receiver), std::optional<Event>());
    for (auto& [event, handler] : senders) post_result(std::move(handler), false);
  }

  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  // What use_awaitable makes of these signatures in Boost 1.81 (a detail
  // type, named so that a waiting coroutine is held as it is).
  using receiver_handler = boost::asio::detail::awaitable_handler<boost::asio::any_io_executor, std::optional<Event>>;
  using sender_handler = boost::asio::detail::awaitable_handler<boost::asio::any_io_executor, bool>;

  // The next queued event, with room made for a waiting sender's.
  std::optional<Event> take_locked() {
    if (queued_.empty()) return std::nullopt;
    std::optional<Event> next(std::move(queued_.front()));
    queued_.pop_front();
    if (!senders_.empty()) {
      auto [event, handler] = std::move(senders_.front());
      senders_.pop_front();
      queued_.push_back(std::move(event));
      post_result(std::move(handler), true);  // never nests the sender in the receiver
    }
    return next;
  }

  template <typename Handler, typename Value>
  static void resume(Handler handler, Value value) {
    auto executor = handler.get_executor();
    boost::asio::dispatch(executor, [handler = std::move(handler), value = std::move(value)]() mutable {
      std::move(handler)(std::move(value));
    });
  }

  template <typename Handler, typename Value>
  static void post_result(Handler handler, Value value) {
    auto executor = handler.get_executor();
    boost::asio::post(executor, [handler = std::move(handler), value = std::move(value)]() mutable {
      std::move(handler)(std::move(value));
    });
  }

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<Event> queued_;
  bool closed_ = false;
  std::optional<receiver_handler> receiver_;
  std::deque<std::pair<Event, sender_handler>> senders_;
};

}  // namespace fcgihost::runners
