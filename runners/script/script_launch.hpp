// Starts one script with Boost.Process v2's vfork launcher: in a process
// group of its own (so it can be stopped whole), in its folder, with the CGI
// environment, its rlimits, default signal dispositions, and fds 0-2 only,
// which are pipes to the host.
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/writable_pipe.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <runners/common/run_as.hpp>
#include <runners/script/script_limits.hpp>

namespace fcgihost::runners {

struct launch_request {
  std::filesystem::path executable;         // the real path: run with no arguments
  std::filesystem::path working_directory;  // the script's folder
  std::vector<std::string> environment;     // "NAME=VALUE"
  script_limits limits;
  std::optional<run_as> identity;  // drop to this user (the host runs as root)
};

struct launched_script {
  pid_t pid = -1;     // also the process group's id
  int pidfd = -1;     // readable once the script has exited; owned by the caller
  boost::asio::writable_pipe stdin_pipe;
  boost::asio::readable_pipe stdout_pipe;
  boost::asio::readable_pipe stderr_pipe;
};

// The pipes are bound to `executor`. Throws std::system_error when the
// script cannot be started, exec's own error included (the child reports it
// through the memory vfork shares); a child that failed is already reaped.
launched_script launch_script(const boost::asio::any_io_executor& executor, const launch_request& request);

}  // namespace fcgihost::runners
