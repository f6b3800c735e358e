#include "plugin_unloader.hpp"

namespace fcgihost::runners {

plugin_unloader& plugin_unloader::instance() {
  static plugin_unloader unloader;
  return unloader;
}

plugin_unloader::~plugin_unloader() {
  {
    std::lock_guard lock(mutex_);
    // A shutdown still running here was given up on by drain(): the process
    // is leaving, and joining would wait for it.
    if (busy_ || !queue_.empty()) {
      if (thread_.joinable()) thread_.detach();
      return;
    }
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void plugin_unloader::unload(fcgihost_shutdown_fn shutdown, boost::dll::shared_library library) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({shutdown, std::move(library)});
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  }
  changed_.notify_all();
}

bool plugin_unloader::drain(std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, limit, [this] { return queue_.empty() && !busy_; });
}

void plugin_unloader::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    pending next = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    if (next.shutdown) next.shutdown();  // the C++ SDK's wrapper catches what the plugin throws
    next.library.unload();
    lock.lock();
    busy_ = false;
    changed_.notify_all();
  }
}

}  // namespace fcgihost::runners
