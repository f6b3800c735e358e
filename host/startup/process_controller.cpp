#include "process_controller.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>

#include <host/config/config.hpp>

namespace fcgihost::host {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using verb = process_step::verb;

namespace {
process_signal signal_of(int number) {
  switch (number) {
    case SIGHUP: return process_signal::hang_up;
    case SIGUSR2: return process_signal::upgrade;
    case SIGINT: return process_signal::interrupt;
    default: return process_signal::terminate;
  }
}
}  // namespace

process_controller::process_controller(strand control, asio::signal_set& signals, controlled_parts parts)
    : control_(std::move(control)), signals_(signals), parts_(std::move(parts)), quiet_(control_) {}

process_controller::~process_controller() { parts_.host.quiet.clear(); }

void process_controller::start() {
  fsm_.started();
  asio::co_spawn(control_, handle_signals(), [log = parts_.host.log](std::exception_ptr failure) {
    if (failure) log->critical("signal handling stopped");
  });
}

awaitable<void> process_controller::handle_signals() {
  while (true) {
    const int number = co_await signals_.async_wait(use_awaitable);
    perform(fsm_.on_signal(signal_of(number)));
  }
}

void process_controller::perform(const process_step& step) {
  auto& log = *parts_.host.log;
  switch (step.what) {
    case verb::none: break;
    case verb::refuse: log.warn("{}", step.why); break;
    case verb::reload:
      reload();
      fsm_.reload_done();
      break;
    case verb::start_upgrade: start_upgrade(); break;
    case verb::drain:
      if (step.cancel_upgrade) parts_.upgrade.cancel();
      start_drain(step.why);
      break;
    case verb::exit_now:
      log.warn("second SIGINT: exiting now");
      log.flush();
      std::_Exit(130);
  }
}

void process_controller::reload() {
  auto& host = parts_.host;
  parts_.service.reloading();
  try {
    host_config fresh = build_config(parts_.line);
    const auto running = host.settings();
    if (const auto ignored = restart_only_changes(*running, fresh); !ignored.empty())
      host.log->warn("SIGHUP: {} changed, which takes a restart; the rest applies now", ignored);
    keep_restart_only_settings(*running, fresh);  // so settings() says what is in effect
    host.metrics.attach_routes(fresh);
    host.log->set_level(spdlog::level::from_str(fresh.log_level));
    const auto changed = plugins_with_changed_settings(*running, fresh);
    host.config.store(std::make_shared<const host_config>(std::move(fresh)));
    for (const auto& plugin : changed) {
      host.log->info("SIGHUP: the settings of plugin {} changed; its next request loads it with them", plugin);
      parts_.plugin_settings_changed(plugin);
    }
    ++host.metrics.reloads;
    host.log->info("SIGHUP: configuration reloaded{}",
                   parts_.line.config_file ? " from " + parts_.line.config_file->string() : std::string());
  } catch (const std::exception& e) {
    ++host.metrics.reload_failures;
    host.log->error("SIGHUP: keeping the old configuration: {}", e.what());
  }
  parts_.service.ready("serving");
}

// SIGUSR2: a new process on the same sockets; this one drains once it serves.
void process_controller::start_upgrade() {
  parts_.upgrade.start(
      parts_.listeners,
      [this](pid_t successor) {
        const auto step = fsm_.upgrade_ended(true);
        if (step.what != verb::drain) return;  // a SIGTERM came first
        handed_over_ = true;
        parts_.service.main_pid(successor);
        start_drain("SIGUSR2: process " + std::to_string(successor) + " serves on these sockets now");
      },
      [this](const std::string& why) {
        perform(fsm_.upgrade_ended(false));
        parts_.host.log->error("SIGUSR2: the upgrade failed: {}; this process goes on serving", why);
      });
}

void process_controller::start_drain(std::string_view why) {
  auto& host = parts_.host;
  // Told of every end from now on; set before `draining`, which arms nothing
  // itself but makes new connections close once idle.
  host.quiet.set([this] { asio::post(control_, [this] { quiet_.cancel(); }); });
  host.draining = true;
  host.log->info("{}: no new connections; waiting up to {} s for {} request(s)", why,
                 std::chrono::duration<double>(host.settings()->drain_timeout).count(), host.active_requests.load());
  // After an upgrade the service goes on, in the new process.
  if (!handed_over_) parts_.service.stopping("draining " + std::to_string(host.active_requests.load()) + " request(s)");
  parts_.srv.stop_accepting_and_drain();
  asio::co_spawn(control_, drain(host.settings()->drain_timeout), [log = host.log](std::exception_ptr failure) {
    if (failure) log->critical("the drain failed; stopping");
  });
}

// The ends come through host.quiet, each a post to this strand that cancels
// quiet_: the check and the wait are one step on the strand, so an end that
// comes between them is not missed.
template <typename Quiet>
awaitable<void> process_controller::wait_until(std::chrono::steady_clock::time_point deadline, Quiet quiet) {
  while (!quiet() && std::chrono::steady_clock::now() < deadline) {
    quiet_.expires_at(deadline);
    co_await quiet_.async_wait(asio::as_tuple(use_awaitable));
  }
}

// Waits for the requests in flight to end and then for the connections to
// close (bounded): a connection still open may carry a request the web
// server has sent and this process has not read yet (each connection closes
// itself once idle, see connection_fsm). Aborts what is left at the limit, so
// handlers see their stop tokens; then stops everything.
awaitable<void> process_controller::drain(std::chrono::milliseconds limit) {
  auto& host = parts_.host;
  co_await wait_until(std::chrono::steady_clock::now() + limit,
                      [&] { return host.active_requests == 0 && host.open_connections == 0; });
  if (host.active_requests > 0) {
    host.log->warn("drain timeout: stopping with {} request(s) still running", host.active_requests.load());
    parts_.srv.shut_down_connections();
    co_await wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(1),
                        [&] { return host.active_requests == 0; });
  } else if (host.open_connections > 0) {
    host.log->info("all requests finished; {} idle connection(s) still open are closed", host.open_connections.load());
  } else {
    host.log->info("all requests finished");
  }
  fsm_.drained();
  parts_.threads.stop();
}

}  // namespace fcgihost::host
