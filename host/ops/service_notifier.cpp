#include "service_notifier.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace fcgihost::host {

namespace asio = boost::asio;

service_notifier::service_notifier(std::shared_ptr<spdlog::logger> log)
    : log_(std::move(log)), active_(std::getenv("NOTIFY_SOCKET") != nullptr) {}

void service_notifier::send(const std::string& state) {
  if (!active_) return;
  const int sent = ::sd_notify(0, state.c_str());
  if (sent < 0 && !failure_logged_) {
    failure_logged_ = true;  // once: the watchdog would repeat it every few seconds
    log_->warn("cannot notify the service manager (NOTIFY_SOCKET): {}", std::strerror(-sent));
  }
}

void service_notifier::ready(std::string_view status) { send("READY=1\nSTATUS=" + std::string(status)); }

// With the monotonic time of the reload, which Type=notify-reload requires.
void service_notifier::reloading() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec = static_cast<unsigned long long>(now.tv_sec) * 1'000'000ULL +
                    static_cast<unsigned long long>(now.tv_nsec) / 1'000ULL;
  send("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=" + std::to_string(usec));
}

void service_notifier::stopping(std::string_view status) { send("STOPPING=1\nSTATUS=" + std::string(status)); }

void service_notifier::main_pid(int pid) { send("MAINPID=" + std::to_string(pid) + "\nREADY=1"); }

void service_notifier::start_watchdog(asio::io_context& io) {
  if (!active_) return;
  std::uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set (and WATCHDOG_PID, if set, is ours).
  if (::sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
  const auto interval = std::chrono::microseconds(usec / 2);
  log_->info("systemd watchdog: pinging every {:g} s", std::chrono::duration<double>(interval).count());
  asio::co_spawn(
      io,
      [this, &io, interval]() -> asio::awaitable<void> {
        asio::steady_timer timer(io);
        while (true) {
          send("WATCHDOG=1");
          timer.expires_after(interval);
          co_await timer.async_wait(asio::use_awaitable);
        }
      },
      asio::detached);
}

}  // namespace fcgihost::host
