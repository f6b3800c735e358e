// The request session (the lifecycle's driver) against a fake connection:
// its own races, without a socket. The fake sink holds a write as long as a
// test wants, fails it on demand, and records what each request did; the
// logger is injected, and the access lines it gets are read as JSON.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include <fcgihost/protocol/message_decoder.hpp>

#include <host/request/request_session.hpp>

namespace fcgihost::host {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using error_code = boost::system::error_code;
using namespace std::chrono_literals;

class fake_sink final : public request_sink {
 public:
  explicit fake_sink(asio::any_io_executor executor) : lock_(executor, 1), gate_(executor, 1) {}

  awaitable<write_guard> acquire_writer() override {
    co_await lock_.async_send(error_code{}, use_awaitable);
    ++writers_taken;
    co_return write_guard(this);
  }
  awaitable<void> write_now(const std::vector<asio::const_buffer>& buffers) override {
    if (hold_writes) {
      ++writes_held;
      co_await gate_.async_receive(asio::as_tuple(use_awaitable));
    }
    if (broken) throw std::runtime_error("the connection is gone");
    for (const auto& buffer : buffers) written.append(static_cast<const char*>(buffer.data()), buffer.size());
  }
  bool alone(std::uint16_t) const override { return false; }  // a multiplexed connection: records, not a close
  void release_request(std::uint16_t id) override { released.push_back(id); }
  void request_done(bool) override { ++done; }
  void resume_reading() override {}
  void tear_down(close_reason why) override {
    torn_down.push_back(why);
    fail_writes();
  }

  // Lets the held write go on; breaks the connection.
  void let_write_go() {
    hold_writes = false;
    gate_.try_send(error_code{});
  }
  void fail_writes() {
    broken = true;
    let_write_go();
  }
  // The records written, decoded.
  std::vector<protocol::decoded_message> records() const {
    std::vector<protocol::decoded_message> messages;
    protocol::message_decoder decoder;
    EXPECT_FALSE(decoder.put_all(written, [&](auto& message) { messages.push_back(message); }));
    return messages;
  }

  bool hold_writes = false;
  bool broken = false;
  int writers_taken = 0;
  int writes_held = 0;
  int done = 0;
  std::string written;
  std::vector<std::uint16_t> released;
  std::vector<close_reason> torn_down;

 protected:
  void release_writer() override { lock_.try_receive([](error_code) {}); }

 private:
  asio::experimental::channel<void(error_code)> lock_;
  asio::experimental::channel<void(error_code)> gate_;
};

// A host for sessions: its settings, an injected logger for the log and
// another for the JSON access lines.
struct fake_host {
  explicit fake_host(std::chrono::milliseconds timeout = 5s) {
    host.log = std::make_shared<spdlog::logger>("log", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text));
    host.access_log =
        std::make_shared<spdlog::logger>("access", std::make_shared<spdlog::sinks::ostream_sink_mt>(access_text));
    host.access_log->set_pattern("%v");
    auto config = std::make_shared<host_config>();
    config->status_path = "/status";
    config->timeout = timeout;
    host.metrics.attach_routes(*config);
    settings = config;
    host.config.store(settings);
  }
  std::shared_ptr<request_session> session(const std::shared_ptr<fake_sink>& sink, std::uint16_t id) {
    auto made = std::make_shared<request_session>(sink, io.get_executor(), host, settings, "test", id, true);
    made->begin();
    return made;
  }
  std::vector<boost::json::object> access_lines() const {
    std::vector<boost::json::object> lines;
    std::istringstream in(access_text.str());
    for (std::string line; std::getline(in, line);) lines.push_back(boost::json::parse(line).as_object());
    return lines;
  }
  // Runs the loop until `done()` (bounded).
  template <typename Done>
  bool run_until(Done done) {
    const auto give_up = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < give_up) io.run_for(5ms);
    return done();
  }

  asio::io_context io;
  std::ostringstream log_text, access_text;
  request_context host;
  std::shared_ptr<const host_config> settings;
};

const protocol::name_value_list status_request{{"SCRIPT_NAME", "/status"}, {"REQUEST_METHOD", "GET"}};

std::vector<std::uint16_t> ended_requests(const fake_sink& sink) {
  std::vector<std::uint16_t> ids;
  for (const auto& record : sink.records())
    if (const auto* end = std::get_if<protocol::message::end_request>(&record)) ids.push_back(end->request_id);
  return ids;
}

// One request's last records wait for the writer another request holds: it
// ends (ABORT_REQUEST) meanwhile. It finalizes once, and its END_REQUEST
// follows the other's whole response, never inside it.
TEST(RequestSession, AFinalizeDuringAnotherRequestsWriteWaitsForTheWriter) {
  fake_host fake;
  auto sink = std::make_shared<fake_sink>(fake.io.get_executor());
  sink->hold_writes = true;
  auto answered = fake.session(sink, 1);
  answered->start(status_request);  // answered at once; its write is held
  ASSERT_TRUE(fake.run_until([&] { return sink->writes_held == 1; }));
  auto aborted = fake.session(sink, 2);
  aborted->abort(false);
  ASSERT_TRUE(fake.run_until([&] { return sink->released.size() == 2; })) << "both ended, neither written";
  fake.io.run_for(20ms);
  EXPECT_EQ(sink->done, 0) << "nothing written while the first write is held";
  EXPECT_EQ(sink->writers_taken, 1);
  sink->let_write_go();
  ASSERT_TRUE(fake.run_until([&] { return sink->done == 2; }));
  EXPECT_TRUE(sink->torn_down.empty());
  EXPECT_EQ(ended_requests(*sink), (std::vector<std::uint16_t>{1, 2})) << "one whole response, then the other";
  EXPECT_EQ(sink->released, (std::vector<std::uint16_t>{1, 2}));
  const auto lines = fake.access_lines();
  ASSERT_EQ(lines.size(), 2u) << fake.access_text.str();
  EXPECT_EQ(lines[0].at("request_id").as_int64(), 1);
  EXPECT_EQ(lines[0].at("outcome").as_string(), "done");
  EXPECT_EQ(lines[1].at("outcome").as_string(), "aborted");
  EXPECT_EQ(fake.host.host_answers.load(), 0u) << "the status page's slot is back once written";
  EXPECT_EQ(fake.host.active_requests.load(), 0u);
}

// A last write the web server does not take by the request's deadline (and a
// short grace) closes the connection, once: the response cannot end cleanly.
TEST(RequestSession, ALastWriteHeldPastTheDeadlineClosesTheConnection) {
  fake_host fake(200ms);
  auto sink = std::make_shared<fake_sink>(fake.io.get_executor());
  sink->hold_writes = true;
  auto answered = fake.session(sink, 1);
  answered->start(status_request);
  ASSERT_TRUE(fake.run_until([&] { return !sink->torn_down.empty(); }));
  EXPECT_EQ(sink->torn_down, std::vector{close_reason::replies_not_read});
  ASSERT_TRUE(fake.run_until([&] { return sink->done == 1; }));
  EXPECT_TRUE(sink->written.empty());
  fake.io.run_for(100ms);
  EXPECT_EQ(sink->torn_down.size(), 1u);
  EXPECT_EQ(fake.host.host_answers.load(), 0u);
}

// The connection breaks while one request's write is held and another waits
// for the writer: both end, each once, their slots come back, and nothing
// more is written.
TEST(RequestSession, TheConnectionBreakingDuringAWriteEndsEveryRequestOnce) {
  fake_host fake;
  auto sink = std::make_shared<fake_sink>(fake.io.get_executor());
  sink->hold_writes = true;
  auto answered = fake.session(sink, 1);
  answered->start(status_request);
  ASSERT_TRUE(fake.run_until([&] { return sink->writes_held == 1; }));
  auto waiting = fake.session(sink, 2);
  waiting->abort(false);
  ASSERT_TRUE(fake.run_until([&] { return sink->released.size() == 2; }));
  sink->fail_writes();
  answered->abort(true);  // what the connection's close does to each request
  waiting->abort(true);
  ASSERT_TRUE(fake.run_until([&] { return sink->done == 2; }));
  EXPECT_TRUE(sink->written.empty());
  EXPECT_EQ(fake.access_lines().size(), 2u) << fake.access_text.str();
  EXPECT_EQ(fake.host.host_answers.load(), 0u);
  EXPECT_EQ(fake.host.active_requests.load(), 0u);
  fake.io.run_for(50ms);
  EXPECT_EQ(sink->done, 2);
  EXPECT_EQ(fake.access_lines().size(), 2u);
}

// The connection goes away before the request's end: its session finds no
// sink, writes nothing, and still logs its end and gives back its slot.
TEST(RequestSession, ARequestWhoseConnectionIsGoneEndsWithoutWriting) {
  fake_host fake(50ms);
  auto sink = std::make_shared<fake_sink>(fake.io.get_executor());
  auto orphan = fake.session(sink, 7);
  sink.reset();
  ASSERT_TRUE(fake.run_until([&] { return fake.access_lines().size() == 1; }));
  EXPECT_EQ(fake.access_lines()[0].at("outcome").as_string(), "timeout");
  EXPECT_EQ(fake.host.active_requests.load(), 0u);
}

}  // namespace
}  // namespace fcgihost::host
