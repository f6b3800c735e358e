// A worker's last words: on a crash signal (SIGSEGV, SIGBUS, SIGABRT, SIGILL,
// SIGFPE, SIGTRAP, SIGSYS) it writes, with async-signal-safe calls only, the
// signal, the raw return addresses of the crashing thread (Boost.Stacktrace's
// safe dump) and its memory map to a pipe the host reads, then dies of the
// same signal. The host turns that into a symbolised backtrace (see
// crash_report), so the worker does no symbol lookup in a broken process.
#pragma once

namespace fcgihost::runners {

void install_crash_dump_writer(int fd);

}  // namespace fcgihost::runners
