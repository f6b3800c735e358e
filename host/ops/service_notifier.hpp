// Tells systemd how the host is doing (Type=notify services): READY=1 once
// it listens, RELOADING=1 and READY=1 around a SIGHUP reload, STOPPING=1 when
// it drains, and WATCHDOG=1 from its event loop while WatchdogSec= asks for
// it. Through libsystemd's sd_notify: it knows the socket address forms
// (abstract, path) and how to pass credentials, which the documented
// datagram protocol leaves to each implementation. Without NOTIFY_SOCKET,
// every call does nothing.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace fcgihost::host {

class service_notifier {
 public:
  explicit service_notifier(std::shared_ptr<spdlog::logger> log);

  bool active() const { return active_; }
  void ready(std::string_view status);
  void reloading();
  void stopping(std::string_view status);
  // The process that takes over the service (SIGUSR2), and is ready.
  void main_pid(int pid);
  // Pings the watchdog from `io` (so a wedged event loop stops the pings)
  // at half the interval systemd asked for; nothing when it asked for none.
  void start_watchdog(boost::asio::io_context& io);

 private:
  void send(const std::string& state);

  std::shared_ptr<spdlog::logger> log_;
  bool active_ = false;
  bool failure_logged_ = false;
};

}  // namespace fcgihost::host
