#include "alternate_signal_stack.hpp"

#include <signal.h>
#include <sys/mman.h>

#include <cstddef>

namespace fcgihost::runners {

namespace {

// Room for the crash dump writer's frames (it formats on its stack) with
// margin; mapped, so untouched pages cost nothing.
constexpr std::size_t stack_size = 64 * 1024;

class thread_signal_stack {
 public:
  thread_signal_stack() {
    void* mapping = ::mmap(nullptr, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mapping == MAP_FAILED) return;
    stack_t stack{};
    stack.ss_sp = mapping;
    stack.ss_size = stack_size;
    if (::sigaltstack(&stack, nullptr) != 0) {
      ::munmap(mapping, stack_size);
      return;
    }
    mapping_ = mapping;
  }
  ~thread_signal_stack() {
    if (!mapping_) return;
    stack_t disable{};
    disable.ss_flags = SS_DISABLE;
    ::sigaltstack(&disable, nullptr);
    ::munmap(mapping_, stack_size);
  }
  thread_signal_stack(const thread_signal_stack&) = delete;
  thread_signal_stack& operator=(const thread_signal_stack&) = delete;

 private:
  void* mapping_ = nullptr;
};

}  // namespace

void use_alternate_signal_stack() { thread_local thread_signal_stack stack; }

}  // namespace fcgihost::runners
