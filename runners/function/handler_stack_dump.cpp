#include "handler_stack_dump.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/stacktrace/safe_dump_to.hpp>

#include <atomic>
#include <cerrno>
#include <cstdint>

#include <runners/common/signal_safe_text.hpp>

namespace fcgihost::runners {

static_assert(handler_stack_signal == SIGUSR1);

namespace {

int reply_fd = -1;
std::atomic<bool> installed{false};
std::atomic<pid_t> handler_thread{0};  // the thread running a handler now, 0: none
constexpr std::size_t max_frames = 48;

pid_t this_thread_id() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

struct reply_text {
  // "frame 0x" + 16 digits + "\n" per frame, and the two lines around: under
  // PIPE_BUF, so one write() lands whole.
  char bytes[max_frames * 26 + 32];
  std::size_t size = 0;
  void add(const char* text) {
    while (*text) bytes[size++] = *text++;
  }
  void add_frame(std::uintptr_t address) { size += format_hex_line(bytes + size, "frame", address); }
};

void on_stack_request(int) {
  const int saved_errno = errno;
  const pid_t running = handler_thread.load();
  const pid_t self = this_thread_id();
  if (running != 0 && running != self) {
    // Not the handler's thread: pass it on to that one.
    ::syscall(SYS_tgkill, ::getpid(), running, SIGUSR1);
    errno = saved_errno;
    return;
  }
  reply_text reply;
  reply.add("stack\n");
  if (running == self) {
    void* frames[max_frames];
    const std::size_t count = boost::stacktrace::safe_dump_to(0, frames, sizeof frames);
    for (std::size_t i = 0; i < count && frames[i] != nullptr; ++i)
      reply.add_frame(reinterpret_cast<std::uintptr_t>(frames[i]));
  }
  reply.add("end\n");
  [[maybe_unused]] const auto written = ::write(reply_fd, reply.bytes, reply.size);
  errno = saved_errno;
}

}  // namespace

void install_handler_stack_dump(int fd) {
  reply_fd = fd;
  // A pipe the host has not drained drops a reply (under PIPE_BUF, a write
  // is all or nothing) rather than stopping the handler in the signal handler.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  struct sigaction action {};
  action.sa_handler = on_stack_request;
  action.sa_flags = SA_RESTART;  // a handler's blocking calls go on
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGUSR1, &action, nullptr);
  installed = true;
}

running_handler_scope::running_handler_scope() {
  if (!installed.load(std::memory_order_relaxed)) return;
  thread_local const pid_t this_thread = this_thread_id();
  handler_thread.store(this_thread);
  marked_ = true;
}

running_handler_scope::~running_handler_scope() {
  if (marked_) handler_thread.store(0);
}

std::optional<std::string> take_stack_reply(std::string& pending) {
  const auto begin = pending.find("stack\n");
  if (begin == std::string::npos) return std::nullopt;
  const auto end = pending.find("end\n", begin);
  if (end == std::string::npos) return std::nullopt;
  std::string reply = pending.substr(begin, end + 4 - begin);
  pending.erase(begin, end + 4 - begin);
  return reply;
}

}  // namespace fcgihost::runners
