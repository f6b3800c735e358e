#include "crash_report.hpp"

#include <backtrace.h>
#include <cxxabi.h>
#include <link.h>

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <mutex>

namespace fcgihost::runners {

namespace {

std::string demangled(const char* name) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> readable(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                                         &std::free);
  return status == 0 && readable ? std::string(readable.get()) : std::string(name);
}

std::string short_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// libbacktrace states cannot be freed: one per file, a bounded number.
constexpr std::size_t most_symbol_files = 64;

// The objects this process has loaded, by real path: the same files a
// worker (this binary) maps, except its plugin and what the plugin links.
std::string real_path(const char* path) {
  char real[PATH_MAX];
  return ::realpath(path, real) ? std::string(real) : std::string();
}

std::set<std::string> own_objects() {
  std::set<std::string> paths;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        if (info->dlpi_name && info->dlpi_name[0] == '/')
          static_cast<std::set<std::string>*>(data)->insert(real_path(info->dlpi_name));
        return 0;
      },
      &paths);
  paths.insert(real_path("/proc/self/exe"));
  paths.erase(std::string());
  return paths;
}

struct symbol_files {
  std::mutex mutex;
  std::map<std::string, backtrace_state*> states;
  std::deque<std::string> names;  // stable addresses
  std::vector<std::string> trusted_folders;

  bool trusted(const std::string& real) {
    static const std::set<std::string> loaded = own_objects();
    if (loaded.contains(real)) return true;
    return std::any_of(trusted_folders.begin(), trusted_folders.end(), [&](const std::string& folder) {
      return real.size() > folder.size() + 1 && real.starts_with(folder) && real[folder.size()] == '/';
    });
  }

  // libbacktrace opens the file by name, blocking: it is given the name of
  // a descriptor already open on a regular file (kept open with its state),
  // so a FIFO or a device named in a dump is never waited on. It keeps the
  // name's pointer, not a copy: the names live here as long as the states.
  backtrace_state* for_file(const std::string& path) {
    if (const auto found = states.find(path); found != states.end()) return found->second;
    if (states.size() >= most_symbol_files) return nullptr;
    backtrace_state* state = nullptr;
    if (const std::string real = real_path(path.c_str()); !real.empty() && trusted(real)) {
      const int fd = ::open(real.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
      struct stat info {};
      if (fd >= 0 && ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode)) {
        const std::string& by_descriptor = names.emplace_back("/proc/self/fd/" + std::to_string(fd));
        state = backtrace_create_state(by_descriptor.c_str(), 0, [](void*, const char*, int) {}, nullptr);
      } else if (fd >= 0) {
        ::close(fd);
      }
    }
    states.emplace(path, state);  // a refused file too: it is not tried again
    return state;
  }
};

symbol_files& files() {
  static symbol_files instance;
  return instance;
}

// libbacktrace reads a file given by name as if it were this process's own
// executable, loaded where ours is: a file-relative pc is looked up at our
// executable's base plus that pc.
std::uintptr_t own_executable_base() {
  static const std::uintptr_t base = [] {
    std::uintptr_t found = 0;
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* data) {
          if (info->dlpi_name == nullptr || info->dlpi_name[0] == '\0') {
            *static_cast<std::uintptr_t*>(data) = info->dlpi_addr;
            return 1;
          }
          return 0;
        },
        &found);
    return found;
  }();
  return base;
}

struct frame_info {
  std::string function;
  std::string file;
  int line = 0;
};

}  // namespace

void trust_symbol_files_under(const std::string& folder) {
  auto& cache = files();
  std::lock_guard lock(cache.mutex);
  cache.trusted_folders.push_back(folder);
}

std::vector<std::string> symbolised_frames(const crash_dump& dump, std::size_t max_frames) {
  std::vector<std::string> lines;
  std::vector<frame_info> infos(dump.frames.size());
  std::vector<std::string> where_text(dump.frames.size());
  auto& cache = files();
  std::lock_guard lock(cache.mutex);
  // The dump starts in the worker's crash handler (frame 0); frame 1 is the
  // kernel's signal trampoline; frame 2 is where the crash happened.
  const std::size_t first = dump.frames.size() > 2 ? 2 : 0;
  for (std::size_t i = 0; i < dump.frames.size(); ++i) {
    const std::uintptr_t address = dump.frames[i];
    const crash_dump::mapping* where = nullptr;
    for (const auto& entry : dump.maps)
      if (address >= entry.start && address < entry.end) where = &entry;
    std::uintptr_t relative = address;
    std::string module = "?";
    if (where && !where->path.empty() && where->path.front() == '/') {
      module = short_name(where->path);
      // The file's load base: the start of its mapping at offset 0.
      std::uintptr_t base = where->start - where->offset;
      for (const auto& entry : dump.maps)
        if (entry.path == where->path && entry.offset == 0) base = entry.start;
      relative = address - base;
      if (auto* state = cache.for_file(where->path)) {
        // A return address points past its call: look up the call itself.
        // The crashing instruction's own address is exact.
        const bool exact = i == 0 || i == first;
        const std::uintptr_t pc = own_executable_base() + relative - (exact ? 0 : 1);
        auto& info = infos[i];
        backtrace_pcinfo(
            state, pc,
            [](void* data, std::uintptr_t, const char* file, int line, const char* function) -> int {
              auto& out = *static_cast<frame_info*>(data);
              if (function && out.function.empty()) out.function = demangled(function);
              if (file && out.file.empty()) {
                out.file = file;
                out.line = line;
              }
              return 1;
            },
            [](void*, const char*, int) {}, &info);
        if (info.function.empty())
          backtrace_syminfo(
              state, pc,
              [](void* data, std::uintptr_t, const char* symbol, std::uintptr_t, std::uintptr_t) {
                if (symbol) static_cast<frame_info*>(data)->function = demangled(symbol);
              },
              [](void*, const char*, int) {}, &info);
      }
    }
    char offset_text[32];
    std::snprintf(offset_text, sizeof offset_text, "+0x%zx", static_cast<std::size_t>(relative));
    where_text[i] = module + offset_text;
  }
  for (std::size_t i = first; i < dump.frames.size() && lines.size() < max_frames; ++i) {
    const auto& info = infos[i];
    std::string text = "#" + std::to_string(lines.size()) + " " + (info.function.empty() ? "??" : info.function);
    if (!info.file.empty()) text += " at " + info.file + ":" + std::to_string(info.line);
    lines.push_back(text + " in " + where_text[i]);
  }
  return lines;
}

}  // namespace fcgihost::runners
