// SIGUSR2: the host hands its listening sockets to the binary now at its path
// and drains once that one serves; a new binary that fails leaves it serving.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <algorithm>
#include <iterator>
#include <regex>
#include <set>
#include <thread>

#include "../support/host_process.hpp"
#include "../support/run_async.hpp"

namespace fcgihost::test {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using client::connection;
namespace fs = std::filesystem;

// The new process is the old one's child, left to whoever reaps orphans when
// the old one exits: this test, so that it can wait for it.
class Upgrade : public ::testing::Test {
 protected:
  void SetUp() override { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
  void TearDown() override {
    if (successor_ > 0) {
      ::kill(successor_, SIGKILL);
      ::waitpid(successor_, nullptr, 0);
    }
  }

  // Moves `contents` (or a fresh copy of the build) over the host's binary,
  // as an install does: a new file at the path, the running one untouched.
  static void replace_binary(const host_process& host, const std::string& script = {}) {
    const fs::path next = host.binary_path().string() + ".next";
    if (script.empty()) {
      fs::copy_file(FCGIHOST_HOST_BIN, next);
    } else {
      std::ofstream(next) << script;
      fs::permissions(next, fs::perms::owner_all);
    }
    fs::rename(next, host.binary_path());
  }

  // The pid the old process names as serving in its place.
  pid_t successor_from_log(const host_process& host) {
    EXPECT_TRUE(host.wait_for_log("serves on these sockets now")) << host.log();
    std::smatch found;
    const std::string log = host.log();
    if (std::regex_search(log, found, std::regex("SIGUSR2: process (\\d+) serves on these sockets now")))
      successor_ = std::stoi(found[1]);
    return successor_;
  }

  // Stops the new process as its service manager would; its exit status.
  int stop_successor() {
    if (successor_ <= 0) return -1;  // never kill(0): the whole process group
    int status = 0;
    ::kill(successor_, SIGTERM);
    ::waitpid(successor_, &status, 0);
    successor_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  pid_t successor_ = 0;
};

// A host running from a copy of the build in its own folder, which the test replaces.
host_options own_binary(std::vector<std::string> arguments = {}) {
  host_options options = with_arguments(std::move(arguments));
  options.own_binary = true;
  return options;
}

// The inodes of the sockets a process holds open.
std::set<std::string> socket_inodes(pid_t pid) {
  std::set<std::string> inodes;
  for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code ec;
    const auto target = fs::read_symlink(fd.path(), ec).string();
    if (!ec && target.starts_with("socket:")) inodes.insert(target);
  }
  return inodes;
}

std::string binary_of(pid_t pid) { return fs::read_symlink("/proc/" + std::to_string(pid) + "/exe").string(); }

awaitable<std::string> greet(std::string address, std::string name) {
  auto conn = co_await connection::connect(address);
  client::request_options options;
  options.params = request_params("hello.greet", name);
  co_return (co_await conn.send(std::move(options))).out;
}

TEST_F(Upgrade, TheNewBinaryServesOnTheSameSocketsAndTheOldOneFinishesItsRequests) {
  host_process host(own_binary({"--timeout", "30"}));
  const pid_t old_pid = host.process().pid();
  run_async([&]() -> awaitable<void> {
    // A request in flight through the upgrade, on a connection of the old process.
    auto conn = co_await connection::connect(host.address());
    client::request_options slow;
    slow.params = request_params("slow.stream", "20");  // 20 lines, 0.1 s apart
    auto running = co_await conn.begin(std::move(slow));
    co_await running.end_stdin();
    co_await running.next();

    replace_binary(host);
    EXPECT_TRUE(binary_of(old_pid).ends_with(" (deleted)")) << binary_of(old_pid);
    // The listening socket, this connection, the worker's...
    const auto old_sockets = socket_inodes(old_pid);
    host.process().signal(SIGUSR2);
    const pid_t successor = successor_from_log(host);
    EXPECT_GT(successor, 0);
    if (successor <= 0) co_return;
    // ...of which only the listening socket goes across.
    std::vector<std::string> shared;
    std::ranges::set_intersection(old_sockets, socket_inodes(successor), std::back_inserter(shared));
    EXPECT_EQ(shared.size(), 1u) << "the new process holds sockets of the old one's connections";
    EXPECT_EQ(binary_of(successor), host.binary_path().string()) << "the new process runs the old binary";
    EXPECT_TRUE(host.wait_for_log("serving in place of process " + std::to_string(old_pid)));
    EXPECT_TRUE((co_await greet(host.address(), "new")).ends_with("Hello, new!\n"));

    std::uint32_t status = 999;
    const std::string rest = co_await read_to_end(running, status);
    EXPECT_EQ(status, 0u);
    EXPECT_TRUE(rest.ends_with("line 19\n")) << rest;
  });
  EXPECT_EQ(host.process().wait(std::chrono::seconds(10)), 0) << host.log();
  // The old one is gone; its socket file stays, the new process's now.
  ASSERT_TRUE(fs::exists(host.socket_path()));
  EXPECT_EQ(run_async([&] { return greet(host.address(), "after"); }), "Content-Type: text/plain\r\n\r\nHello, after!\n");
  EXPECT_EQ(stop_successor(), 0);
  EXPECT_FALSE(fs::exists(host.socket_path())) << "the new process left its socket file";
}

TEST_F(Upgrade, ANewBinaryThatFailsLeavesTheOldOneServingAndALaterOneCanTakeOver) {
  host_process host(own_binary());
  replace_binary(host, "#!/bin/sh\necho 'this build is broken' >&2\nexit 3\n");
  host.process().signal(SIGUSR2);
  EXPECT_TRUE(host.wait_for_log("exited with status 3 before it served; this process goes on serving")) << host.log();
  EXPECT_NE(host.log().find("this build is broken"), std::string::npos);
  EXPECT_EQ(zombie_children(host.process().pid()), 0u);
  EXPECT_TRUE(run_async([&] { return greet(host.address(), "still"); }).ends_with("Hello, still!\n"));

  // A later SIGUSR2, with a good build in place, upgrades.
  replace_binary(host);
  host.process().signal(SIGUSR2);
  EXPECT_GT(successor_from_log(host), 0);
  EXPECT_EQ(host.process().wait(std::chrono::seconds(10)), 0);
  EXPECT_TRUE(run_async([&] { return greet(host.address(), "new"); }).ends_with("Hello, new!\n"));
}

// No file at the path (removed, or a package upgrade half done), or one
// that cannot be run: the exec fails, and the log says why.
TEST_F(Upgrade, ABinaryThatCannotBeRunLeavesTheOldOneServingAndTheLogSaysWhy) {
  host_process host(own_binary());
  fs::remove(host.binary_path());
  host.process().signal(SIGUSR2);
  EXPECT_TRUE(host.wait_for_log("could not run " + host.binary_path().string() + ": No such file or directory"))
      << host.log();
  std::ofstream(host.binary_path()) << "not a program\n";
  fs::permissions(host.binary_path(), fs::perms::owner_read | fs::perms::owner_write);
  host.process().signal(SIGUSR2);
  EXPECT_TRUE(host.wait_for_log("could not run " + host.binary_path().string() + ": Permission denied")) << host.log();
  EXPECT_EQ(zombie_children(host.process().pid()), 0u);
  EXPECT_TRUE(live_children(host.process().pid()).empty());
  EXPECT_TRUE(run_async([&] { return greet(host.address(), "still"); }).ends_with("Hello, still!\n"));
}

TEST_F(Upgrade, ASigtermDuringAnUpgradeStopsTheNewProcessToo) {
  host_process host(own_binary());
  // A build that never comes up: it sleeps.
  replace_binary(host, "#!/bin/sh\nexec sleep 600\n");
  host.process().signal(SIGUSR2);
  EXPECT_TRUE(host.wait_for_log("waiting up to 30 s for it to serve"));
  const auto starting = live_children(host.process().pid());
  EXPECT_FALSE(starting.empty());
  host.process().signal(SIGTERM);
  EXPECT_EQ(host.process().wait(std::chrono::seconds(10)), 0);
  EXPECT_TRUE(host.wait_for_log("killed by SIGKILL (Killed) (this one is stopping)")) << host.log();
  for (const pid_t child : starting) EXPECT_NE(::kill(child, 0), 0) << "process " << child << " outlived the host";
  EXPECT_FALSE(fs::exists(host.socket_path()));
}

}  // namespace
}  // namespace fcgihost::test
