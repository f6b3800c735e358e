// A stack of its own for signal handlers on the calling thread. A handler
// that overflows its stack dies of SIGSEGV with no room left on that stack:
// without this the crash dump writer could not run, and the host would
// report the crash with no backtrace.
#pragma once

namespace fcgihost::runners {

// Idempotent per thread; the stack goes with the thread. Only handlers
// installed with SA_ONSTACK use it.
void use_alternate_signal_stack();

}  // namespace fcgihost::runners
