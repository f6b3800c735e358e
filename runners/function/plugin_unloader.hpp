// Runs in-process plugins' shutdowns (FCGIHOST_SHUTDOWN) and unloads them on
// a thread of its own. A shutdown may take its time (closing a database
// connection), and the last reference to a replaced version may be dropped
// on an I/O thread, which must not wait for it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <boost/dll/shared_library.hpp>

#include <fcgihost/plugin.h>

namespace fcgihost::runners {

class plugin_unloader {
 public:
  // The process's one unloader; its thread starts with the first unload.
  static plugin_unloader& instance();

  // Runs `shutdown` (may be null), then unloads `library`, in order of calls.
  void unload(fcgihost_shutdown_fn shutdown, boost::dll::shared_library library);
  // Waits at most `limit` for every unload asked so far: false if a shutdown
  // is still running then (the process should leave without unloading more).
  bool drain(std::chrono::milliseconds limit);

  plugin_unloader(const plugin_unloader&) = delete;
  plugin_unloader& operator=(const plugin_unloader&) = delete;

 private:
  plugin_unloader() = default;
  ~plugin_unloader();
  void run();

  struct pending {
    fcgihost_shutdown_fn shutdown;
    boost::dll::shared_library library;
  };
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<pending> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fcgihost::runners
