// event_mailbox on a real io_context: a waiting receiver runs on inside the
// sender's call (dispatch, on its I/O thread), the capacity holds a sender
// back until the receiver takes one, and close() wakes everyone waiting.
#include <runners/worker/event_mailbox.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fcgihost::runners {
namespace {

namespace asio = boost::asio;
using mailbox = event_mailbox<std::string>;

TEST(EventMailbox, AWaitingReceiverRunsOnInsideTheSendersCall) {
  asio::io_context io;
  auto receiver_strand = asio::make_strand(io);
  mailbox box(2);
  std::vector<std::string> received;
  asio::co_spawn(receiver_strand, [&]() -> asio::awaitable<void> {
    while (auto got = co_await box.receive()) received.push_back(*got);
  }, asio::detached);
  bool sender_saw_it = false;
  asio::post(asio::make_strand(io), [&] {
    std::string event = "end";
    EXPECT_TRUE(box.try_send(event));
    // No turn of the event loop in between: the receiver has it already.
    sender_saw_it = received.size() == 1;
  });
  io.run_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(sender_saw_it);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0], "end");
  box.close();
  io.restart();
  io.run_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(io.stopped()) << "the receiver left its loop once closed";
}

TEST(EventMailbox, PastItsCapacityASenderWaitsForTheReceiverInOrder) {
  asio::io_context io;
  mailbox box(2);
  std::vector<std::string> events{"a", "b"};
  for (auto& event : events) EXPECT_TRUE(box.try_send(event));
  std::string third = "c";
  EXPECT_FALSE(box.try_send(third)) << "full";
  EXPECT_EQ(third, "c") << "a refused event is left as it was";
  bool sent = false;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { sent = co_await box.send("c"); }, asio::detached);
  io.run_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(sent) << "it waits while the mailbox is full";
  std::vector<std::string> received;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) received.push_back(*co_await box.receive());
  }, asio::detached);
  io.restart();
  io.run_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(sent);
  EXPECT_EQ(received, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(EventMailbox, CloseWakesTheReceiverAndTheWaitingSenderAndDropsTheRest) {
  asio::io_context io;
  mailbox receiving(1);
  std::optional<std::string> got = "untouched";
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { got = co_await receiving.receive(); }, asio::detached);
  mailbox full(1);
  std::string first = "kept";
  ASSERT_TRUE(full.try_send(first));
  std::optional<bool> sent;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { sent = co_await full.send("waits"); }, asio::detached);
  io.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(got, "untouched");
  EXPECT_FALSE(sent.has_value());
  receiving.close();
  full.close();
  io.restart();
  io.run_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(got.has_value()) << "a closed mailbox gives its receiver nothing";
  EXPECT_EQ(sent, false);
  std::string late = "late";
  EXPECT_TRUE(full.try_send(late)) << "dropped, not refused: nobody will read it";
  std::optional<std::string> after = "untouched";
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { after = co_await full.receive(); }, asio::detached);
  io.restart();
  io.run_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(after.has_value()) << "what was queued went with the close";
}

}  // namespace
}  // namespace fcgihost::runners
