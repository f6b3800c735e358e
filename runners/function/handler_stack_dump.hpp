// In a worker process: a backtrace of the running handler on demand, for the
// host's slow-request log. The host sends SIGUSR1; whichever thread the
// signal lands on passes it to the thread running the handler (tgkill), and
// that thread writes its raw return addresses, async-signal-safe, in one
// write to the crash-report pipe:
//
//   stack\n  frame 0x...\n ...  end\n
//
// The host reads the worker's memory map itself and symbolises the frames as
// it does a crash dump's (see crash_report). With no handler running, the
// reply has no frames.
#pragma once

#include <optional>
#include <string>

namespace fcgihost::runners {

inline constexpr int handler_stack_signal = 10;  // SIGUSR1, named here without <csignal>

void install_handler_stack_dump(int fd);

// The calling thread runs a handler while this lives (only where a dump is
// installed: in a worker, handlers run one at a time).
class running_handler_scope {
 public:
  running_handler_scope();
  ~running_handler_scope();
  running_handler_scope(const running_handler_scope&) = delete;
  running_handler_scope& operator=(const running_handler_scope&) = delete;

 private:
  bool marked_ = false;
};

// The host's side: takes one complete reply out of `pending` (bytes read from
// the pipe), or nothing yet. A reply stays out of a later crash dump.
std::optional<std::string> take_stack_reply(std::string& pending);

}  // namespace fcgihost::runners
