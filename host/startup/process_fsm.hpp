// The host process's own state, without any I/O: starting, serving,
// reloading (SIGHUP), upgrading (SIGUSR2: a successor starts on the same
// sockets), draining (SIGTERM, SIGINT, or a successor that serves) and
// stopped. The controller (process_controller) hands it each signal and each
// end of what it started, and does the verb it returns. A reload runs to its
// end in one step on the controller's strand, so nothing else happens while
// reloading. Tested without a process (tests/unit/process_fsm_test.cpp).
#pragma once

#include <string_view>

namespace fcgihost::host {

enum class process_state { starting, serving, reloading, upgrading, draining, stopped };
std::string_view to_string(process_state state);

enum class process_signal { hang_up, upgrade, terminate, interrupt };  // SIGHUP, SIGUSR2, SIGTERM, SIGINT

struct process_step {
  enum class verb {
    none,
    reload,         // read the configuration again, then reload_done()
    start_upgrade,  // start a successor, then upgrade_ended()
    drain,          // stop accepting, wait for the requests in flight, then drained()
    exit_now,       // a second SIGINT while draining: exit at once
    refuse,         // the signal does not apply now: log `why`
  };
  verb what = verb::none;
  std::string_view why = {};
  bool cancel_upgrade = false;     // for drain: a successor still starting is given up
  bool handed_over = false;        // for drain: the successor serves the sockets now
};

class process_fsm {
 public:
  process_state state() const { return state_; }
  // The host listens and its signals are handled.
  void started();
  [[nodiscard]] process_step on_signal(process_signal signal);
  void reload_done();
  [[nodiscard]] process_step upgrade_ended(bool serving);
  void drained();

 private:
  process_state state_ = process_state::starting;
  process_state before_reload_ = process_state::serving;
};

}  // namespace fcgihost::host
