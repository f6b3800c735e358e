#include "script_runner.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include <runners/script/cgi_environment.hpp>
#include <runners/script/script_launch.hpp>
#include <runners/script/script_process.hpp>
#include <runners/common/stray_children.hpp>

namespace fcgihost::runners {

script_runner::script_runner(const std::filesystem::path& scripts_dir, std::shared_ptr<spdlog::logger> log,
                               std::uint64_t default_open_files, std::optional<run_as> identity)
    : root_(canonical_scripts_root(scripts_dir)),
      log_(std::move(log)),
      default_open_files_(default_open_files),
      identity_(std::move(identity)) {}

script_location script_runner::locate(std::string_view requested) const {
  if (!requested.empty() && !requested.starts_with('/')) return locate_script(root_, (root_ / requested).native());
  return locate_script(root_, requested);
}

boost::asio::awaitable<run_result> script_runner::run(script_location script, std::shared_ptr<request_io> io,
                                                       std::stop_token stop, script_limits limits,
                                                       script_environment_names environment) {
  if (limits.open_files == 0) limits.open_files = default_open_files_;
  auto made = cgi_environment(io->params(), script, environment, ::environ);
  if (!made.dropped.empty() && log_->should_log(spdlog::level::debug)) {
    std::string names;
    for (const auto& name : made.dropped) names += (names.empty() ? "" : ", ") + name;
    log_->debug("script {}: params left out of its environment (not CGI variables, nor in script-env): {}",
                script.requested_file, names);
  }
  launch_request request{.executable = script.real_file,
                         .working_directory = script.real_file.parent_path(),
                         .environment = std::move(made.entries),
                         .limits = limits,
                         .identity = identity_};
  std::optional<launched_script> launched;
  try {
    launched.emplace(launch_script(io->executor(), request));
  } catch (const std::system_error& e) {
    run_result failed;
    failed.app_status = 500;
    failed.failure = e.what();
    co_return failed;
  }
  const pid_t pid = launched->pid;
  {
    std::lock_guard lock(mutex_);
    running_.insert(pid);
  }
  log_->debug("script {} started as pid {}", script.requested_file, pid);
  auto process = std::make_shared<script_process>(
      std::move(*launched), io,
      script_process::options{.name = script.requested_file,
                              .kill_grace = limits.kill_grace,
                              .log = log_,
                              .on_reaped = [this](pid_t reaped) { forget(reaped); },
                              .counts = &counts_});
  co_return co_await process->run(std::move(stop));
}

void script_runner::forget(pid_t pid) {
  stray_children::disown(pid);
  std::lock_guard lock(mutex_);
  running_.erase(pid);
}

std::size_t script_runner::kill_all() {
  std::unordered_set<pid_t> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(running_);
  }
  for (const pid_t pid : left) {
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    stray_children::disown(pid);
  }
  return left.size();
}

}  // namespace fcgihost::runners
