// Reads every event waiting on a non-blocking inotify descriptor and hands
// each to `on_event(event, name)` (name empty for an event about the watched
// folder itself). Shared by the plugin folder's two watches.
#pragma once

#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string_view>

namespace fcgihost::runners {

template <typename OnEvent>
void read_inotify_events(int fd, OnEvent&& on_event) {
  alignas(inotify_event) std::array<char, 16 * 1024> buffer;
  while (true) {
    const auto got = ::read(fd, buffer.data(), buffer.size());
    if (got <= 0) return;  // EAGAIN: nothing more (EINTR: asked again next time)
    for (std::size_t at = 0; at + sizeof(inotify_event) <= static_cast<std::size_t>(got);) {
      inotify_event event;
      std::memcpy(&event, buffer.data() + at, sizeof event);
      const char* name = buffer.data() + at + sizeof(inotify_event);
      at += sizeof(inotify_event) + event.len;
      on_event(event, std::string_view(name, event.len == 0 ? 0 : ::strnlen(name, event.len)));
    }
  }
}

}  // namespace fcgihost::runners
