#include "process_fsm.hpp"

namespace fcgihost::host {

using verb = process_step::verb;

std::string_view to_string(process_state state) {
  switch (state) {
    case process_state::starting: return "starting";
    case process_state::serving: return "serving";
    case process_state::reloading: return "reloading";
    case process_state::upgrading: return "upgrading";
    case process_state::draining: return "draining";
    case process_state::stopped: return "stopped";
  }
  return "unknown";
}

void process_fsm::started() {
  if (state_ == process_state::starting) state_ = process_state::serving;
}

process_step process_fsm::on_signal(process_signal signal) {
  const bool stopping = state_ == process_state::draining || state_ == process_state::stopped;
  switch (signal) {
    case process_signal::hang_up:
      if (stopping) return {.what = verb::refuse, .why = "SIGHUP ignored: the host is stopping"};
      // A reload keeps an upgrade under way: its successor reads the file itself.
      before_reload_ = state_ == process_state::upgrading ? process_state::upgrading : process_state::serving;
      state_ = process_state::reloading;
      return {.what = verb::reload};
    case process_signal::upgrade:
      if (stopping) return {.what = verb::refuse, .why = "SIGUSR2 ignored: the host is stopping"};
      if (state_ == process_state::upgrading)
        return {.what = verb::refuse, .why = "SIGUSR2 ignored: an upgrade is already under way"};
      state_ = process_state::upgrading;
      return {.what = verb::start_upgrade};
    case process_signal::terminate:
    case process_signal::interrupt:
      if (stopping) {
        if (signal == process_signal::interrupt) return {.what = verb::exit_now};
        return {};
      }
      {
        const bool upgrading = state_ == process_state::upgrading;
        state_ = process_state::draining;
        return {.what = verb::drain, .why = signal == process_signal::terminate ? "SIGTERM" : "SIGINT",
                .cancel_upgrade = upgrading};
      }
  }
  return {};
}

void process_fsm::reload_done() {
  if (state_ == process_state::reloading) state_ = before_reload_;
}

process_step process_fsm::upgrade_ended(bool serving) {
  if (state_ != process_state::upgrading) return {};  // a stop came first
  if (!serving) {
    state_ = process_state::serving;
    return {};
  }
  state_ = process_state::draining;
  return {.what = verb::drain, .handed_over = true};
}

void process_fsm::drained() { state_ = process_state::stopped; }

}  // namespace fcgihost::host
