// Runs scripts from the scripts folder CGI-style: confines the path, builds
// the CGI environment, launches the script and lets a script_process see it
// through to being reaped. Keeps the ids of the scripts still running, so
// the host can kill what is left when it stops.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <spdlog/logger.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <runners/script/cgi_environment.hpp>
#include <runners/common/request_io.hpp>
#include <runners/common/run_as.hpp>
#include <runners/script/script_limits.hpp>
#include <runners/script/script_location.hpp>
#include <runners/script/script_process.hpp>

namespace fcgihost::runners {

class script_runner {
 public:
  // Throws std::runtime_error when the folder is not a usable directory.
  // `default_open_files`: RLIMIT_NOFILE for scripts whose limits set none
  // (the host raised its own for its connections); 0 leaves the host's.
  // `identity`: who scripts run as (unset: as the host).
  script_runner(const std::filesystem::path& scripts_dir, std::shared_ptr<spdlog::logger> log,
                 std::uint64_t default_open_files = 0, std::optional<run_as> identity = std::nullopt);
  script_runner(const script_runner&) = delete;
  script_runner& operator=(const script_runner&) = delete;

  // What its scripts did, for the status page.
  const script_counters& counts() const { return counts_; }
  const std::filesystem::path& directory() const { return root_; }

  // A relative path (from a config route) is taken inside the folder.
  script_location locate(std::string_view requested) const;

  // Runs a located script. A launch that fails ends with a failure (500);
  // otherwise as script_process::run.
  // By value: the coroutine may start after the caller's locals are gone.
  boost::asio::awaitable<run_result> run(script_location script, std::shared_ptr<request_io> io,
                                         std::stop_token stop, script_limits limits,
                                         script_environment_names environment);

  // SIGKILL to the group of every script still running, each reaped; for
  // the host's exit. Returns how many there were.
  std::size_t kill_all();

 private:
  script_counters counts_;
  void forget(pid_t pid);

  std::filesystem::path root_;
  std::shared_ptr<spdlog::logger> log_;
  std::uint64_t default_open_files_;
  std::optional<run_as> identity_;
  mutable std::mutex mutex_;
  std::unordered_set<pid_t> running_;
};

}  // namespace fcgihost::runners
