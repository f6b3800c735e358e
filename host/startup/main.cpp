// fcgi-host: puts the host together, serves until its controller stops the
// I/O threads (see process_controller), then takes it apart in order.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>

#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <optional>
#include <thread>

#include <runners/function/function_runner.hpp>
#include <runners/function/plugin_unloader.hpp>
#include <runners/common/run_as.hpp>
#include <runners/common/stray_children.hpp>
#include <runners/worker/worker_protocol.hpp>
#include <runners/worker/worker_runner.hpp>

#include <host/startup/cgi_mode.hpp>
#include <host/startup/process_controller.hpp>
#include <host/startup/process_tuning.hpp>
#include <host/startup/worker_settings.hpp>
#include <host/config/config.hpp>
#include <host/ops/idle_memory_trim.hpp>
#include <host/ops/in_place_upgrade.hpp>
#include <host/transport/host_context.hpp>
#include <host/transport/listeners.hpp>
#include <host/common/logging.hpp>
#include <host/transport/server.hpp>
#include <host/ops/service_notifier.hpp>
#include <host/config/settings_table.hpp>
#include <host/worker/worker_main.hpp>

namespace asio = boost::asio;
using namespace fcgihost;
using namespace fcgihost::host;

namespace {

constexpr int usage_exit = 2;

// A plugin's [plugin.NAME] settings in the config in force when it is loaded.
runners::plugin_settings_source plugin_settings_of(const host_context& host) {
  return [&host](std::string_view plugin) {
    const auto settings = host.settings();
    const auto found = settings->plugin_settings.find(plugin);
    return found == settings->plugin_settings.end() ? runners::plugin_settings{} : found->second;
  };
}
constexpr int startup_exit = 1;

std::string describe(const std::vector<listener>& listeners) {
  std::string text;
  for (const auto& l : listeners) text += (text.empty() ? "" : ", ") + l.description;
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  keep_request_buffers_in_the_heap();
  if (argc > 1 && std::string_view(argv[1]) == runners::worker_protocol::flag) {
    ::signal(SIGPIPE, SIG_IGN);
    return serve_as_worker(std::vector<std::string>(argv + 1, argv + argc));
  }
  // Orphans of workers and scripts come to the host, not to init (see stray_children).
  runners::stray_children::become_subreaper();
  runners::stray_children::block_child_signal();  // before any thread: only the sweeper takes it
  // Run by a web server as a CGI program: one request, then exit.
  const bool cgi_mode = started_as_cgi();
  // Set when this process replaces another (SIGUSR2 there): told once this one serves.
  auto previous_process = previous_process_link::from_environment();
  command_line line;
  std::shared_ptr<const host_config> config;
  std::vector<std::string> arguments(argv + 1, argv + argc);
  std::size_t query_words_dropped = 0;
  if (cgi_mode) {
    const char* query = std::getenv("QUERY_STRING");
    const std::size_t given = arguments.size();
    arguments = arguments_without_query_words(std::move(arguments), query ? query : "");
    query_words_dropped = given - arguments.size();
  }
  try {
    line = parse_command_line(arguments);
    if (line.help) {
      std::cout << usage_text();
      return 0;
    }
    host_config built = build_config(line);
    if (cgi_mode) {
      built.listen.clear();  // its one connection is a socketpair
      // The web server's error log gets warnings and errors, not a line per start.
      if (built.log_level == "info") built.log_level = "warn";
    }
    config = std::make_shared<const host_config>(std::move(built));
  } catch (const std::exception& e) {
    std::cerr << "fcgi-host: " << e.what() << "\n(see fcgi-host --help)\n";
    return usage_exit;
  }
  ::signal(SIGPIPE, SIG_IGN);  // a web server that goes away is an error code, not a death
  const rlim_t scripts_open_files = raise_open_files_limit();

  host_context host;
  {
    auto attached = std::make_shared<host_config>(*config);
    host.metrics.attach_routes(*attached);
    config = std::move(attached);
  }
  host.log = make_logger(config->where_to_log());
  host.access_log = make_access_logger(config->where_to_log(), host.log);
  if (query_words_dropped > 0)
    host.log->warn("CGI mode: {} argument(s) were the query's words (RFC 3875 4.4), not options: ignored",
                   query_words_dropped);
  std::optional<runners::run_as> identity;
  try {
    identity = identity_of(*config);
  } catch (const std::exception& e) {
    host.log->critical("cannot start: {}", e.what());
    return startup_exit;
  }
  if (identity)
    host.log->info("workers and scripts run as {} (uid {}, gid {})", identity->name, identity->uid, identity->gid);
  else if (::geteuid() == 0)
    host.log->warn("running as root: plugin workers and scripts run as root too; set user (and group) to run them "
                   "as another user");
  // Never a concurrency hint of 1, which would let a thread keep work for
  // itself while a fast-path handler holds it (see io_threads).
  asio::io_context io(static_cast<int>(std::max<std::size_t>(config->io_threads, 2)));
  // Signals and an upgrade's outcome are handled on one strand, one at a time.
  const auto control = asio::make_strand(io);
  // Registered before any socket exists, not when the coroutine first runs:
  // a signal that comes once the host can be seen (a SIGHUP or SIGUSR2 as
  // soon as the socket is there, a stop during start-up, the CGI relay's
  // SIGTERM) waits for it instead of killing the host.
  asio::signal_set signals(control, SIGTERM, SIGINT, SIGHUP);
  signals.add(SIGUSR2);
  std::vector<listener> listeners;
  std::optional<runners::plugin_catalog> catalog;
  // Before the io_context: a script it still holds at exit is reaped through this.
  std::optional<runners::script_runner> scripts;
  try {
    host.peers = peer_filter::from_environment();
    if (!config->plugins_dir.empty()) {
      catalog.emplace(config->plugins_dir);
      if (const auto& problem = catalog->watch_problem(); !problem.empty())
        host.log->warn("{}: a plugin still being written is told only by not being a whole file yet, and each "
                       "request looks at its plugin's file", problem);
    }
    if (!config->scripts_dir.empty()) {
      scripts.emplace(config->scripts_dir, host.log, scripts_open_files, identity);
      host.scripts = &*scripts;
    }
    if (!cgi_mode) listeners = open_listeners(*config);
    if (const auto exposed = listener_open_to_the_network(listeners); !exposed.empty()) {
      if (!host.peers.active() && !config->allow_any_peer)
        throw std::runtime_error(
            exposed + " accepts FastCGI from any machine that reaches it, and a FastCGI peer runs any script or "
            "handler with the params it likes: set FCGI_WEB_SERVER_ADDRS to the web servers' addresses, listen on "
            "loopback or a unix socket, or set allow-any-peer = true if a firewall already admits only them");
      if (!host.peers.active())
        host.log->warn("{} accepts FastCGI from any machine that reaches it (allow-any-peer = true)", exposed);
    }
  } catch (const std::exception& e) {
    host.log->critical("cannot start: {}", e.what());
    return startup_exit;
  }
  host.config.store(config);

  // As many threads may replace I/O threads held by a fast-path run as the
  // pool may hold handlers: each such run is a handler that blocked.
  runners::io_threads threads(io, config->io_threads, config->handler_threads,
                              [&host](const std::string& handler, bool replaced) {
                                ++host.metrics.handlers_off_fast_path;
                                host.log->warn("{} held an I/O thread for {} ms on the fast path: {}; it runs on the "
                                          "handler pool from now on", handler,
                                          runners::io_threads::default_stall_limit.count(),
                                          replaced ? "another thread serves the sockets in its place"
                                                   : "no thread may replace it (handler-threads reached)");
                              });
  runners::handler_pool handlers(config->handler_threads);
  std::optional<runners::function_runner> functions;
  if (catalog) {
    functions.emplace(*catalog, threads, handlers, [&host](const std::string& plugin, double seconds) {
      ++host.metrics.handlers_returned_late;
      host.log->warn("a handler of {} returned {:.1f} s after its request was stopped: it ignores its stop token",
                plugin, seconds);
    });
    host.functions = &*functions;
    host.in_process_plugins = &catalog->counts();
    catalog->set_settings_source(plugin_settings_of(host));
  }

  std::optional<runners::worker_runner> workers;
  if (catalog) {
    try {
      workers.emplace(io, config->plugins_dir, worker_pool_settings_of(*config, identity), config->handler_threads,
                      host.log);
    } catch (const std::exception& e) {
      host.log->critical("cannot start: {}", e.what());
      return startup_exit;
    }
    host.workers = &*workers;
    workers->set_settings_source(plugin_settings_of(host));
  }

  server srv(io, host, listeners);
  srv.start();
  asio::co_spawn(io, trim_memory_when_idle(host), [&](std::exception_ptr failure) {
    if (failure) host.log->error("the idle memory trim stopped");
  });
  service_notifier service(host.log);
  // What handlers and scripts leave running when they end comes to the
  // host (a subreaper since the start), which reaps it as it dies and ends
  // it within a second.
  runners::stray_children::periodic_sweep strays(std::chrono::seconds(1), [log = host.log](std::size_t killed) {
    log->warn("killed {} process(es) left running by a handler or script whose parent had ended", killed);
  });
  auto plugin_settings_changed = [&](const std::string& plugin) {
    if (catalog) catalog->settings_changed(plugin);
    if (workers) workers->plugin_settings_changed(plugin);
  };
  in_place_upgrade upgrades(control, host.log, std::vector<std::string>(argv, argv + argc));
  process_controller controller(control, signals,
                                {.io = io, .threads = threads, .host = host, .srv = srv, .line = line,
                                 .service = service, .upgrade = upgrades, .listeners = listeners,
                                 .plugin_settings_changed = plugin_settings_changed});
  controller.start();
  host.log->info("fcgi-host listening on {}; plugins: {}; scripts: {}; timeout: {} s{}", describe(listeners),
                 catalog ? catalog->directory().string() : "(none)",
                 scripts ? scripts->directory().string() : "(none)",
                 std::chrono::duration<double>(config->timeout).count(),
                 host.peers.active() ? "; FCGI_WEB_SERVER_ADDRS applies" : "");
  // Listening and its signals handled: systemd may send it requests and signals.
  service.ready("serving on " + describe(listeners));
  if (previous_process.present()) {
    host.log->info("serving in place of process {}, which now drains", ::getppid());
    previous_process.serving();
  }
  service.start_watchdog(io);

  // CGI mode: the request from the environment and stdin, relayed to this
  // host over a socketpair; then the host stops as on SIGTERM.
  std::thread cgi_relay;
  int cgi_status = 0;
  if (cgi_mode) {
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
      host.log->critical("cannot start: socketpair: {}", std::strerror(errno));
      return startup_exit;
    }
    srv.serve_connected(ends[0], "cgi");
    cgi_relay = std::thread([&cgi_status, relay_end = ends[1], stall_limit = config->timeout] {
      cgi_status = relay_cgi_request(relay_end, stall_limit);
      ::kill(::getpid(), SIGTERM);
    });
  }
  threads.start();
  if (cgi_relay.joinable()) cgi_relay.join();
  // After a drain: handlers still running have had their stop tokens.
  const std::size_t stuck_io = threads.wait(std::chrono::seconds(1));
  if (workers) workers->shut_down(host.settings()->shutdown_timeout);
  handlers.stop();
  const std::size_t stuck = stuck_io + handlers.wait(stuck_io > 0 ? std::chrono::milliseconds(0) : std::chrono::seconds(1));

  if (!controller.handed_over()) remove_socket_files(listeners);
  if (scripts) {
    if (const std::size_t killed = scripts->kill_all(); killed > 0)
      host.log->warn("{} script(s) still running at exit: killed with their process groups, and reaped", killed);
  }
  if (const std::size_t killed = runners::stray_children::sweep(true); killed > 0)
    host.log->warn("{} process(es) left by handlers or scripts still running at exit: killed, and reaped", killed);
  if (stuck > 0) {
    // Unloading a plugin under a running handler would crash: leave without it.
    host.log->warn("{} handler(s) ignored the stop request; exiting without waiting for them", stuck);
    if (catalog) catalog->remove_copies();
    if (workers) workers->remove_plugin_copies();
    host.log->flush();
    std::_Exit(0);
  }
  // In-process plugins' shutdowns and unloads, on the unloader's thread: a
  // plugin whose shutdown does not return within a second is left loaded.
  functions.reset();
  catalog.reset();
  if (!runners::plugin_unloader::instance().drain(std::chrono::seconds(1))) {
    host.log->warn("a plugin's shutdown did not return within 1 s; exiting without waiting for it");
    if (workers) workers->remove_plugin_copies();
    host.log->flush();
    std::_Exit(0);
  }
  host.log->info("stopped");
  return cgi_status;
}
