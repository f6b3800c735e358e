#include "plugin_catalog.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <signal.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include <runners/function/elf_check.hpp>
#include <runners/function/plugin_library.hpp>

namespace fcgihost::runners {

namespace fs = std::filesystem;

namespace {

// How long a request for a plugin that is still being written waits for it
// when no older version can serve meanwhile.
constexpr auto incomplete_wait = std::chrono::seconds(1);
constexpr auto incomplete_poll = std::chrono::milliseconds(20);

std::string read_prefix(const fs::path& file, std::size_t limit) {
  std::string bytes(limit, '\0');
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::size_t got = 0;
  while (got < limit) {
    const auto n = ::read(fd, bytes.data() + got, limit - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  bytes.resize(got);
  return bytes;
}

}  // namespace

bool is_safe_plugin_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

namespace {
fs::path plugins_folder(const fs::path& given) {
  std::error_code ec;
  auto folder = fs::canonical(given, ec);
  if (ec || !fs::is_directory(folder))
    throw std::runtime_error("plugins folder " + given.string() + " is not a directory");
  return folder;
}
constexpr std::string_view copies_prefix = "fcgi-host-plugins-";

// The copy folders of hosts of this user that are gone (killed, or left
// with _Exit past a stuck handler): "fcgi-host-plugins-PID-XXXXXX" whose
// PID no longer runs. A folder whose PID was reused stays, harmlessly.
void remove_abandoned_copy_folders() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::temp_directory_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(copies_prefix)) continue;
    const std::string_view rest = std::string_view(name).substr(copies_prefix.size());
    int pid = 0;
    const auto [end, failed] = std::from_chars(rest.data(), rest.data() + rest.size(), pid);
    struct stat info {};
    if (failed != std::errc() || end == rest.data() + rest.size() || *end != '-' || pid <= 0 ||
        ::lstat(entry.path().c_str(), &info) != 0 || !S_ISDIR(info.st_mode) || info.st_uid != ::geteuid())
      continue;
    if (::kill(pid, 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ec);
  }
}

}  // namespace

plugin_catalog::plugin_catalog(fs::path plugins_dir, mode how)
    : directory_(plugins_folder(plugins_dir)), mode_(how), writes_(directory_.string()), changes_(directory_.string()) {
  remove_abandoned_copy_folders();
  std::string pattern =
      (fs::temp_directory_path() / (std::string(copies_prefix) + std::to_string(::getpid()) + "-XXXXXX")).string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("cannot create a private folder for plugin copies");
  private_dir_ = pattern;  // mkdtemp makes it 0700
}

fs::path plugin_catalog::copies_folder() const {
  std::error_code ec;
  const auto real = fs::canonical(private_dir_, ec);
  return ec ? private_dir_ : real;
}

plugin_catalog::~plugin_catalog() { remove_copies(); }

void plugin_catalog::remove_copies() {
  // Files mapped by a process stay mapped when removed.
  std::error_code ignored;
  fs::remove_all(private_dir_, ignored);
}

plugin_catalog::located plugin_catalog::locate(std::string_view plugin) {
  // The number first: a change made while the disk is looked at counts
  // after it, and the next lookup looks again.
  const bool watched = changes_.watching();
  const std::uint64_t generation = changes_.generation();
  if (watched) {
    std::lock_guard lock(mutex_);
    if (const auto seen = located_.find(plugin); seen != located_.end() && seen->second.second == generation)
      return seen->second.first;
  }
  located where = locate_on_disk(plugin);
  std::lock_guard lock(mutex_);
  if (where.file.empty()) {
    if (auto gone = cache_.find(plugin); gone != cache_.end()) cache_.erase(gone);
    if (auto gone = located_.find(plugin); gone != located_.end()) located_.erase(gone);
  } else if (watched) {
    // Only found plugins: as many as the folder holds, whatever names requests ask for.
    located_.insert_or_assign(std::string(plugin), std::pair{where, generation});
  }
  return where;
}

plugin_catalog::located plugin_catalog::locate_on_disk(std::string_view plugin) {
  located where;
  // libNAME.so first, as CMake names it; NAME.so for hand-built ones.
  struct stat info {};
  for (const auto& candidate : {"lib" + std::string(plugin) + ".so", std::string(plugin) + ".so"}) {
    const fs::path named = directory_ / candidate;
    // The folder is canonical and the name has no '/': a regular file found
    // by lstat is its own real path. Only a symlink needs resolving, once per
    // request instead of a readlink per path component for every request.
    if (::lstat(named.c_str(), &info) != 0) continue;
    if (S_ISREG(info.st_mode)) {
      where.file = named;
      break;
    }
    std::error_code ec;
    const fs::path real = fs::canonical(named, ec);
    if (ec) continue;
    // A symlink may point anywhere; only what resolves inside the folder counts.
    if (real.parent_path() != directory_ || ::stat(real.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    where.file = real;
    break;
  }
  if (where.file.empty()) return where;
  where.identity = {info.st_dev, info.st_ino, static_cast<std::uintmax_t>(info.st_size),
                    static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec};
  return where;
}

lookup_result plugin_catalog::bind(std::string_view plugin, std::string_view handler, const located& where,
                                   std::shared_ptr<const loaded_plugin> library) const {
  lookup_result found;
  if (mode_ == mode::copy_for_workers) {
    // The handler table is the worker's to read.
    found.result = lookup_result::outcome::found;
    found.handler = {std::move(library), nullptr, nullptr, where.file.string(), std::string(plugin),
                     std::string(handler)};
    return found;
  }
  const auto entry = library->handlers.find(handler);
  if (entry == library->handlers.end()) {
    found.reason = "plugin '" + std::string(plugin) + "' has no handler '" + std::string(handler) + "'";
    return found;
  }
  found.result = lookup_result::outcome::found;
  found.handler = {std::move(library),  entry->second.function, &entry->second.speed,
                   where.file.string(), std::string(plugin),    std::string(handler)};
  return found;
}

std::string plugin_catalog::no_plugin_reason(std::string_view plugin) const {
  return "no plugin '" + std::string(plugin) + "' in " + directory_.string();
}

lookup_result plugin_catalog::find_loaded(std::string_view plugin, std::string_view handler) {
  lookup_result found;
  if (!is_safe_plugin_name(plugin)) {
    found.reason = "plugin name '" + std::string(plugin) + "' is not allowed";
    return found;
  }
  const located where = locate(plugin);
  if (where.file.empty()) {
    found.reason = no_plugin_reason(plugin);
    return found;
  }
  std::shared_ptr<const loaded_plugin> library;
  {
    std::lock_guard lock(mutex_);
    const auto cached = cache_.find(plugin);
    if (cached != cache_.end() && cached->second.first == where.identity) library = cached->second.second;
    // Being written: the version before it serves until it is whole (or,
    // when its writer had it open, until the writer closes it).
    if (const auto partial = incomplete_.find(plugin); !library && cached != cache_.end() &&
                                                       partial != incomplete_.end() &&
                                                       partial->second.identity == where.identity)
      if (!partial->second.writer_open || writes_.being_written(where.file.filename().string()))
        library = cached->second.second;
  }
  if (!library) {
    found.result = lookup_result::outcome::needs_loading;
    std::lock_guard lock(mutex_);
    if (const auto failed = failed_inits_.find(plugin);
        failed != failed_inits_.end() && failed->second.identity == where.identity) {
      found.result = lookup_result::outcome::broken;
      found.reason = "plugin " + where.file.string() + " cannot be loaded: " + failed->second.why;
    }
    return found;
  }
  return bind(plugin, handler, where, std::move(library));
}

std::shared_ptr<const loaded_plugin> plugin_catalog::cached(std::string_view plugin) {
  std::lock_guard lock(mutex_);
  const auto entry = cache_.find(plugin);
  return entry == cache_.end() ? nullptr : entry->second.second;
}

void plugin_catalog::settings_changed(std::string_view plugin) {
  std::lock_guard lock(mutex_);
  // A cached version no file matches any more: the next lookup loads anew.
  if (const auto cached = cache_.find(plugin); cached != cache_.end()) cached->second.first = file_identity{};
  if (const auto failed = failed_inits_.find(plugin); failed != failed_inits_.end()) failed_inits_.erase(failed);
}

lookup_result plugin_catalog::load_and_find(std::string_view plugin, std::string_view handler) {
  std::lock_guard one_load_at_a_time(loading_);
  const auto give_up_at = std::chrono::steady_clock::now() + incomplete_wait;
  while (true) {
    // Another request may have loaded it meanwhile.
    lookup_result found = find_loaded(plugin, handler);
    if (found.result != lookup_result::outcome::needs_loading) return found;
    const located where = locate(plugin);
    if (where.file.empty()) {
      found.result = lookup_result::outcome::not_found;
      found.reason = no_plugin_reason(plugin);
      return found;
    }
    auto loaded = load(std::string(plugin), where);  // no lock the lookups take is held here
    if (loaded.plugin) {
      {
        // In-flight requests keep the old library through their bound_handler.
        std::lock_guard lock(mutex_);
        auto& entry = cache_[std::string(plugin)];
        (entry.second ? counts_.reloads : counts_.loads).fetch_add(1, std::memory_order_relaxed);
        entry = {where.identity, loaded.plugin};
        incomplete_.erase(std::string(plugin));
        failed_inits_.erase(std::string(plugin));
      }
      return bind(plugin, handler, where, std::move(loaded.plugin));
    }
    if (loaded.incomplete) {
      if (auto previous = cached(plugin)) {
        std::lock_guard lock(mutex_);
        incomplete_[std::string(plugin)] = {where.identity, loaded.writer_open};
        return bind(plugin, handler, where, std::move(previous));
      }
      if (std::chrono::steady_clock::now() < give_up_at) {
        std::this_thread::sleep_for(incomplete_poll);
        continue;
      }
    }
    counts_.load_failures.fetch_add(1, std::memory_order_relaxed);
    if (loaded.init_failed) {
      std::lock_guard lock(mutex_);
      failed_inits_[std::string(plugin)] = {where.identity, loaded.why};
    }
    found.result = lookup_result::outcome::broken;
    found.reason = "plugin " + where.file.string() + " cannot be loaded: " + loaded.why;
    return found;
  }
}

plugin_catalog::load_outcome plugin_catalog::load(const std::string& name, const located& where) {
  load_outcome outcome;
  if (writes_.being_written(where.file.filename().string())) {
    outcome.why = "it is still being written (its writer has not closed it)";
    outcome.incomplete = outcome.writer_open = true;
    return outcome;
  }
  // dlopen() of a path already open returns the old handle, so each version
  // gets a private copy of its own: removed once mapped in process, kept
  // for as long as workers may start on it.
  const std::uint64_t version = ++generation_;
  const fs::path copy = private_dir_ / (name + "." + std::to_string(version) + ".so");
  std::error_code ec;
  fs::copy_file(where.file, copy, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    outcome.why = "copy failed: " + ec.message();
    return outcome;
  }
  struct remove_copy {
    fs::path path;
    ~remove_copy() {
      std::error_code ignored;
      if (!path.empty()) fs::remove(path, ignored);
    }
  } cleanup{copy};

  // The copy is a snapshot of the file only if the file did not change while copied.
  if (locate(name).identity != where.identity) {
    outcome.why = "it changed while it was being copied (still being written?)";
    outcome.incomplete = true;
    return outcome;
  }
  const auto size = fs::file_size(copy, ec);
  if (const auto elf = check_elf_file(read_prefix(copy, elf_check_prefix_bytes), ec ? 0 : size);
      elf.result != elf_verdict::kind::whole) {
    outcome.incomplete = elf.result == elf_verdict::kind::truncated;
    outcome.why = elf.reason + (outcome.incomplete ? " (still being written?)" : "");
    return outcome;
  }
  if (mode_ == mode::copy_for_workers) {
    auto plugin = std::make_shared<loaded_plugin>();
    // Readable by a worker that runs as another user: it gets the file as an
    // open descriptor, the folder stays private.
    fs::permissions(copy, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read, ec);
    plugin->kept_copy = std::move(cleanup.path);
    cleanup.path.clear();
    plugin->version = version;
    outcome.plugin = std::move(plugin);
    return outcome;
  }
  plugin_load_failure failed;
  auto plugin = load_plugin_library(name, copy, settings_for_ ? settings_for_(name) : plugin_settings{}, failed);
  outcome.why = std::move(failed.why);
  outcome.init_failed = failed.in_init;
  if (plugin) plugin->version = version;
  outcome.plugin = std::move(plugin);
  return outcome;
}

}  // namespace fcgihost::runners
