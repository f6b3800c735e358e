// The host process's controller: takes the signals (SIGHUP reload, SIGUSR2
// upgrade, SIGTERM and SIGINT drain), keeps the process's state in a
// process_fsm and does what it says: reload the configuration, start a
// successor on the same sockets, drain and stop the I/O threads. The drain
// waits for the host to go quiet by being told of each request's and
// connection's end (host_state::quiet), not by looking now and then.
// Everything here runs on the control strand.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <runners/function/io_threads.hpp>

#include <host/config/settings_table.hpp>
#include <host/ops/in_place_upgrade.hpp>
#include <host/ops/service_notifier.hpp>
#include <host/startup/process_fsm.hpp>
#include <host/transport/host_context.hpp>
#include <host/transport/listeners.hpp>
#include <host/transport/server.hpp>

namespace fcgihost::host {

// What the controller acts on; all outlive it.
struct controlled_parts {
  boost::asio::io_context& io;
  runners::io_threads& threads;
  host_context& host;
  server& srv;
  const command_line& line;
  service_notifier& service;
  in_place_upgrade& upgrade;
  const std::vector<listener>& listeners;
  // A SIGHUP changed the [plugin.NAME] settings of this plugin: reload it.
  std::function<void(const std::string& plugin)> plugin_settings_changed;
};

class process_controller {
 public:
  using strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  // `signals`: registered on `control` before any socket existed, so that a
  // signal that comes early waits for the controller.
  process_controller(strand control, boost::asio::signal_set& signals, controlled_parts parts);
  ~process_controller();
  process_controller(const process_controller&) = delete;
  process_controller& operator=(const process_controller&) = delete;

  // The host listens: signals are handled from now on.
  void start();
  // The sockets (and their files) belong to a successor now. After the I/O threads stopped.
  bool handed_over() const { return handed_over_; }

 private:
  boost::asio::awaitable<void> handle_signals();
  void perform(const process_step& step);
  void reload();
  void start_upgrade();
  void start_drain(std::string_view why);
  boost::asio::awaitable<void> drain(std::chrono::milliseconds limit);
  // Until `quiet()` holds or the deadline passes; woken by each end.
  template <typename Quiet>
  boost::asio::awaitable<void> wait_until(std::chrono::steady_clock::time_point deadline, Quiet quiet);

  strand control_;
  boost::asio::signal_set& signals_;
  controlled_parts parts_;
  process_fsm fsm_;
  boost::asio::steady_timer quiet_;  // cancelled when a request or a connection ends
  bool handed_over_ = false;
};

}  // namespace fcgihost::host
