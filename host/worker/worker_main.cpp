#include "worker_main.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <iostream>
#include <optional>
#include <system_error>

#include <fcgihost/protocol/name_value.hpp>

#include <runners/worker/crash_dump_writer.hpp>
#include <runners/function/handler_stack_dump.hpp>
#include <runners/common/exception_text.hpp>
#include <runners/common/run_as.hpp>
#include <runners/function/plugin_unloader.hpp>
#include <runners/worker/run_order.hpp>
#include <runners/function/single_plugin.hpp>
#include <runners/worker/worker_protocol.hpp>

#include <host/transport/connection.hpp>
#include <host/common/logging.hpp>
#include <host/config/config.hpp>

namespace fcgihost::host {

namespace asio = boost::asio;

namespace {

// The host enforces every limit and deadline; a worker only runs handlers.
struct worker_start {
  runners::run_as identity;
  bool dropping = false;
  std::vector<std::pair<int, std::uint64_t>> limits;  // resource, value
  runners::plugin_settings settings;  // for the plugin's init
};

host_config worker_config(const std::vector<std::string>& arguments, std::string& plugin, worker_start& start) {
  auto& identity = start.identity;
  auto& dropping = start.dropping;
  auto& limits = start.limits;
  host_config config;
  config.timeout = config.idle_timeout = config.read_timeout = std::chrono::milliseconds(0);
  config.max_body_bytes = 0;
  config.full_duplex = true;  // the host decides what to hold
  config.log_level = "warn";
  for (std::size_t i = 0; i + 1 < arguments.size(); i += 2) {
    const auto& key = arguments[i];
    const auto& value = arguments[i + 1];
    if (key == runners::worker_protocol::flag)
      plugin = value;
    else if (key.starts_with("--") &&
             std::find(worker_setting_keys.begin(), worker_setting_keys.end(), key.substr(2)) != worker_setting_keys.end())
      apply_setting(config, key.substr(2), value);
    else if (key == "--uid") {
      identity.uid = static_cast<uid_t>(std::stoul(value));
      dropping = true;
    } else if (key == "--gid")
      identity.gid = static_cast<gid_t>(std::stoul(value));
    else
      throw std::invalid_argument("unknown worker argument " + key);
  }
  if (plugin.empty()) throw std::invalid_argument("--worker takes the plugin's name");
  for (const auto& [resource, value] : {std::pair{RLIMIT_AS, config.worker_memory},
                                       std::pair{RLIMIT_NOFILE, config.worker_open_files},
                                       std::pair{RLIMIT_NPROC, config.worker_processes}})
    if (value != 0) limits.emplace_back(resource, value);
  return config;
}

// The plugin's settings, from the memfd the host wrote them to (closed after).
runners::plugin_settings read_plugin_settings(int fd) {
  std::string bytes;
  char buffer[4096];
  for (;;) {
    const auto n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "reading the plugin's settings");
    if (n == 0) break;
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  protocol::name_value_list pairs;
  std::error_code ec;
  protocol::decode_name_values(bytes, pairs, ec);
  if (ec) throw std::system_error(ec, "decoding the plugin's settings");
  runners::plugin_settings settings;
  for (auto& pair : pairs) settings.emplace_back(std::move(pair.name), std::move(pair.value));
  return settings;
}

// A worker is named fcgi-host too: `pkill -HUP fcgi-host` (a logrotate
// hook) or a terminal's Ctrl-C reaches it with the host. The host stops its
// workers by closing their connection or with SIGKILL, never these: a worker
// that took them would die mid-request or while loading its plugin. A
// handler, not SIG_IGN, so that what a plugin execs starts with the defaults.
void ignore_signals_meant_for_the_host() {
  struct sigaction ignore {};
  ignore.sa_handler = [](int) {};
  ignore.sa_flags = SA_RESTART;
  sigemptyset(&ignore.sa_mask);
  for (const int signal : {SIGHUP, SIGINT, SIGTERM, SIGUSR2}) ::sigaction(signal, &ignore, nullptr);
}

}  // namespace

int serve_as_worker(const std::vector<std::string>& arguments) {
  namespace wire = runners::worker_protocol;
  // The host may die without closing us (SIGKILL): go with it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ignore_signals_meant_for_the_host();
  runners::install_crash_dump_writer(wire::crash_report_fd);
  runners::install_handler_stack_dump(wire::crash_report_fd);
  std::string plugin_name;
  host_config config;
  worker_start start;
  try {
    config = worker_config(arguments, plugin_name, start);
    start.settings = read_plugin_settings(wire::settings_fd);
  } catch (const std::exception& e) {
    std::cerr << "fcgi-host worker: " << e.what() << "\n";
    return 2;
  }
  host_context host;
  host.log = make_logger(config.where_to_log());
  host.log->set_pattern(fmt::format("%Y-%m-%d %H:%M:%S.%e %^%l%$ worker {} ({}): %v", ::getpid(), plugin_name));
  // The host may send several requests at once; they run one at a time, in
  // order (see run_order), so that the host knows which one a crash cost.
  runners::run_order order;
  const worker_place place{.plugin = plugin_name, .run_order = &order};
  host.in_worker = &place;
  // Before the plugin is loaded, and while this is the only thread (the log
  // file is open already): its limits, then who it runs as.
  for (const auto& [resource, value] : start.limits) {
    const rlimit limit{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
    if (::setrlimit(resource, &limit) != 0) {
      host.log->critical("cannot set a limit ({}): {}", resource, std::strerror(errno));
      return 1;
    }
  }
  if (start.dropping) {
    if (!runners::drop_privileges_of_this_thread(start.identity)) {
      host.log->critical("cannot run as uid {} gid {}: {}", start.identity.uid, start.identity.gid,
                         std::strerror(errno));
      return 1;
    }
    // A changed identity makes the process undumpable, and /proc/self owned
    // by root: the plugin's descriptor and the crash dump's memory map could
    // no longer be read.
    ::prctl(PR_SET_DUMPABLE, 1);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // cleared by the identity change
  }
  // setuid and setgid bits and file capabilities no longer raise what the
  // plugin (or anything it runs) may do.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    host.log->critical("cannot set no_new_privs: {}", std::strerror(errno));
    return 1;
  }

  // The plugin's static initialisers run here: a crash in them is reported
  // by the crash dump like any other.
  runners::plugin_load_failure failed;
  const std::string plugin_path = "/proc/self/fd/" + std::to_string(wire::plugin_fd);
  auto plugin = runners::load_plugin_library(plugin_name, plugin_path, start.settings, failed);
  ::close(wire::plugin_fd);
  std::optional<runners::single_plugin> lookup;
  if (plugin) {
    std::string names;
    for (const auto& name : runners::handler_names(*plugin)) names += (names.empty() ? "" : ",") + name;
    host.extra_values.push_back({std::string(wire::handlers_value), names});
    lookup.emplace(plugin_name, plugin_name, std::move(plugin));
  } else {
    host.extra_values.push_back({std::string(wire::load_error_value), failed.why});
  }
  host.config.store(std::make_shared<const host_config>(config));

  asio::io_context io(2);
  // A worker runs one request at a time and the host keeps its deadline:
  // a handler that blocks its I/O thread delays only the reading of its own
  // ABORT_REQUEST. A coarse watchdog (checking every 10 ms, not every 1 ms)
  // keeps dozens of workers from waking a thousand times a second each.
  static constexpr auto worker_stall_limit = std::chrono::milliseconds(20);
  runners::io_threads threads(
      io, 1, config.handler_threads,
      [log = host.log](const std::string& handler, bool) {
        log->debug("{} held the I/O thread for {} ms on the fast path; it runs on the handler pool from now on",
                   handler, worker_stall_limit.count());
      },
      worker_stall_limit);
  runners::handler_pool handlers(config.handler_threads);
  std::optional<runners::function_runner> functions;
  if (lookup) {
    functions.emplace(*lookup, threads, handlers);
    host.functions = &*functions;
  }

  connection::socket_type socket(asio::make_strand(io));
  boost::system::error_code ec;
  socket.assign(asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM), wire::socket_fd, ec);
  if (ec) {
    host.log->critical("no connection to the host on descriptor {}: {}", wire::socket_fd, ec.message());
    return 1;
  }
  auto conn = std::make_shared<connection>(std::move(socket), host, "host");
  asio::co_spawn(conn->executor(), conn->run(), [&](std::exception_ptr failure) {
    if (failure) host.log->error("the connection to the host failed: {}", runners::exception_text(failure));
    threads.stop();
  });
  threads.start();
  const std::size_t stuck_io = threads.wait(std::chrono::milliseconds(500));
  handlers.stop();
  const std::size_t stuck = stuck_io + handlers.wait(std::chrono::milliseconds(500));
  host.log->flush();
  // Unloading a plugin under a running handler would crash: leave without it.
  if (stuck > 0) std::_Exit(0);
  // The plugin's shutdown, then its unload. The host bounds the wait: it
  // kills a worker that does not leave within its grace.
  functions.reset();
  lookup.reset();
  runners::plugin_unloader::instance().drain(std::chrono::hours(24));
  return 0;
}

}  // namespace fcgihost::host
