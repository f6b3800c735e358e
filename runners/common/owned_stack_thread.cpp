#include "owned_stack_thread.hpp"

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include <runners/common/alternate_signal_stack.hpp>

namespace fcgihost::runners {

namespace {

std::size_t default_stack_size() {
  constexpr std::size_t fallback = 8 * 1024 * 1024;
  rlimit limit{};
  if (::getrlimit(RLIMIT_STACK, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur < 64 * 1024)
    return fallback;
  return static_cast<std::size_t>(limit.rlim_cur);
}

}  // namespace

owned_stack_thread::owned_stack_thread(std::function<void()> body) : body_(std::move(body)) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t stack_size = (default_stack_size() + page - 1) / page * page;
  mapping_size_ = stack_size + page;
  mapping_ = ::mmap(nullptr, mapping_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                    -1, 0);
  if (mapping_ == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "cannot map a thread stack");
  ::mprotect(mapping_, page, PROT_NONE);  // the guard: an overflow faults instead of writing below
  pthread_attr_t attributes;
  ::pthread_attr_init(&attributes);
  ::pthread_attr_setstack(&attributes, static_cast<char*>(mapping_) + page, stack_size);
  const int failed = ::pthread_create(&thread_, &attributes, &owned_stack_thread::start, this);
  ::pthread_attr_destroy(&attributes);
  if (failed != 0) {
    ::munmap(mapping_, mapping_size_);
    throw std::system_error(failed, std::generic_category(), "cannot start a thread");
  }
}

owned_stack_thread::~owned_stack_thread() { join(); }

void* owned_stack_thread::start(void* self) {
  use_alternate_signal_stack();  // a handler that overflows this stack still gets its crash reported
  static_cast<owned_stack_thread*>(self)->body_();
  return nullptr;
}

void owned_stack_thread::join() {
  if (joined_) return;
  joined_ = true;
  ::pthread_join(thread_, nullptr);
  ::munmap(mapping_, mapping_size_);
}

}  // namespace fcgihost::runners
