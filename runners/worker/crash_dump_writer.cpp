#include "crash_dump_writer.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/stacktrace/safe_dump_to.hpp>

#include <cstdint>
#include <cstring>

#include <runners/common/alternate_signal_stack.hpp>
#include <runners/common/exit_status.hpp>
#include <runners/common/signal_safe_text.hpp>

namespace fcgihost::runners {

namespace {

int dump_fd = -1;
constexpr std::size_t max_frames = 64;

void write_all(const char* bytes, std::size_t size) {
  while (size > 0) {
    const auto n = ::write(dump_fd, bytes, size);
    if (n <= 0) return;
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
}

void write_text(const char* text) { write_all(text, std::strlen(text)); }

void write_hex_line(const char* label, std::uintptr_t value) {
  char line[64];
  write_all(line, format_hex_line(line, label, value));
}

void on_crash(int signal, siginfo_t* info, void*) {
  write_hex_line("signal", static_cast<std::uintptr_t>(signal));
  if (signal == SIGSEGV || signal == SIGBUS || signal == SIGILL || signal == SIGFPE)
    write_hex_line("address", reinterpret_cast<std::uintptr_t>(info->si_addr));
  void* frames[max_frames];
  const std::size_t count = boost::stacktrace::safe_dump_to(0, frames, sizeof frames);
  for (std::size_t i = 0; i < count && frames[i] != nullptr; ++i)
    write_hex_line("frame", reinterpret_cast<std::uintptr_t>(frames[i]));
  write_text("maps\n");
  const int maps = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (maps >= 0) {
    char buffer[4096];
    for (auto n = ::read(maps, buffer, sizeof buffer); n > 0; n = ::read(maps, buffer, sizeof buffer))
      write_all(buffer, static_cast<std::size_t>(n));
    ::close(maps);
  }
  ::close(dump_fd);
  // SA_RESETHAND restored the default action: die of the same signal, so
  // the host sees which one.
  ::raise(signal);
}

}  // namespace

void install_crash_dump_writer(int fd) {
  dump_fd = fd;
  struct sigaction action {};
  action.sa_sigaction = on_crash;
  // SA_ONSTACK: on the thread's alternate stack where it has one, so a
  // stack overflow is reported too.
  action.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  for (const int signal : fault_signals) ::sigaction(signal, &action, nullptr);
  use_alternate_signal_stack();
}

}  // namespace fcgihost::runners
