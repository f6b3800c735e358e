// SIGUSR2: the host replaces itself with the binary now at its own path (a
// new build) without closing its listening sockets, as nginx does. The new
// process inherits them (FCGIHOST_INHERITED_LISTENERS) and says through a
// pipe (FCGIHOST_UPGRADE_READY_FD) once it serves; only then does the old
// one stop accepting and drain. A new process that exits, or is not serving
// within the start limit, is reaped and the old one goes on serving.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <spdlog/logger.h>

#include <host/transport/listeners.hpp>

namespace fcgihost::host {

class in_place_upgrade {
 public:
  // `command_line` is this process's argv, which the new one gets too.
  in_place_upgrade(boost::asio::any_io_executor executor, std::shared_ptr<spdlog::logger> log,
                   std::vector<std::string> command_line);
  ~in_place_upgrade();

  bool under_way() const { return child_ != 0; }

  // Starts the new process. Exactly one of the callbacks runs, on the executor:
  // `serving(pid)` once it serves, or `failed(why)` once it has been reaped.
  void start(const std::vector<listener>& listeners, std::function<void(pid_t)> serving,
             std::function<void(const std::string&)> failed);
  // Kills and reaps a new process that is not serving yet (the host stops).
  void cancel();

  // How long a new process may take to serve.
  static constexpr std::chrono::seconds start_limit{30};

 private:
  struct waiting;
  boost::asio::any_io_executor executor_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<std::string> command_line_;
  std::filesystem::path executable_;
  pid_t child_ = 0;
  std::shared_ptr<waiting> waiting_;
};

// In the new process: takes the pipe to the old one out of the environment
// (so no script or worker sees it), then says "serving" through it.
class previous_process_link {
 public:
  static previous_process_link from_environment();
  bool present() const { return fd_ >= 0; }
  void serving();  // once; closes the pipe

 private:
  int fd_ = -1;
};

}  // namespace fcgihost::host
