// fcgi-bench: load for a FastCGI server, spoken directly. See bench_usage.
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <thread>

#include <client/connection.hpp>

#include "bench_options.hpp"
#include "blocking_clients.hpp"
#include "blocking_connector.hpp"
#include "load_generator.hpp"

namespace {

using namespace fcgihost;
using namespace fcgihost::bench;
using clock_type = std::chrono::steady_clock;

constexpr int bad_arguments_exit = 2;

// The depth the server allows: FCGI_MPXS_CONNS and FCGI_MAX_REQS, asked once.
std::size_t usable_depth(const bench_options& options, run_summary& run) {
  if (options.depth <= 1) return 1;
  if (!options.keep_conn) {
    run.notes.push_back("--depth needs --keep-conn (a connection per request carries one request): using depth 1");
    return 1;
  }
  boost::asio::io_context io;
  auto asked = boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<protocol::name_value_list> {
        auto conn = co_await client::connection::connect(options.address_text);
        std::vector<std::string> names{std::string(protocol::max_reqs_name), std::string(protocol::mpxs_conns_name)};
        co_return co_await conn.get_values(std::move(names));
      },
      boost::asio::use_future);
  io.run_for(std::chrono::seconds(5));
  protocol::name_value_list values;
  try {
    if (asked.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
      throw std::runtime_error("no answer in 5 s");
    values = asked.get();
  } catch (const std::exception& e) {
    run.notes.push_back(std::string("FCGI_GET_VALUES failed (") + e.what() + "): using depth 1");
    return 1;
  }
  const auto* mpxs = protocol::find_value(values, protocol::mpxs_conns_name);
  if (!mpxs || *mpxs != "1") {
    run.notes.push_back("the server does not multiplex connections (FCGI_MPXS_CONNS=" + (mpxs ? *mpxs : "unset") +
                        "): using depth 1");
    return 1;
  }
  std::size_t depth = options.depth;
  if (const auto* max_reqs = protocol::find_value(values, protocol::max_reqs_name)) {
    std::size_t limit = 0;
    std::from_chars(max_reqs->data(), max_reqs->data() + max_reqs->size(), limit);
    if (limit > 0 && limit < depth) {
      run.notes.push_back("the server takes FCGI_MAX_REQS=" + *max_reqs + " requests at once: depth " + *max_reqs);
      depth = limit;
    }
  }
  return depth;
}

// Opens `count` connections that send nothing and stay open until the
// returned descriptors are closed. Stops at the first refusal, with a note.
std::vector<int> hold_idle_connections(const protocol::socket_address& address, std::size_t count, run_summary& run) {
  std::vector<int> held;
  if (count == 0) return held;
  // Each needs a descriptor: take the hard limit.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  const blocking_connector connector(address);
  for (std::size_t i = 0; i < count; ++i) {
    std::string why;
    const int fd = connector.connect(why);
    if (fd < 0) {
      run.notes.push_back("only " + std::to_string(held.size()) + " of " + std::to_string(count) +
                          " idle connections opened: " + why);
      break;
    }
    held.push_back(fd);
  }
  return held;
}

// Once a second on stderr, until `done`.
void show_progress(const shared_budget& budget, const bool& done, std::mutex& mutex, std::condition_variable& wake) {
  const bool terminal = ::isatty(STDERR_FILENO);
  const auto start = clock_type::now();
  std::unique_lock lock(mutex);
  while (!wake.wait_for(lock, std::chrono::seconds(1), [&] { return done; })) {
    const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    std::fprintf(stderr, "%s[%5.1fs] %llu requests (%.0f/s), %llu failed%s", terminal ? "\r" : "", seconds,
                 static_cast<unsigned long long>(budget.completed.load()), budget.completed.load() / seconds,
                 static_cast<unsigned long long>(budget.failed.load()), terminal ? "   " : "\n");
  }
  if (terminal) std::fprintf(stderr, "\r%60s\r", "");
}

bench_results run_blocking_clients(const bench_options& options, shared_budget& budget) {
  blocking_clients clients(options, budget);
  clients.run();
  return clients.results();
}

bench_results run_event_loops(const bench_options& options, shared_budget& budget, std::size_t depth) {
  std::vector<std::unique_ptr<load_generator>> loops;
  for (std::size_t i = 0; i < options.threads; ++i) {
    // Connections shared out as evenly as they go.
    const std::size_t share = options.connections / options.threads + (i < options.connections % options.threads);
    loops.push_back(std::make_unique<load_generator>(options, budget, share, depth));
  }
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < loops.size(); ++i) threads.emplace_back([&loop = *loops[i]] { loop.run(); });
  loops[0]->run();
  for (auto& thread : threads) thread.join();
  bench_results results;
  for (const auto& loop : loops) results.merge(loop->results());
  return results;
}

}  // namespace

int main(int argc, char** argv) {
  bench_options options;
  try {
    options = parse_bench_options(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::cerr << "fcgi-bench: " << e.what() << "\n(see fcgi-bench --help)\n";
    return bad_arguments_exit;
  }
  if (options.help) {
    std::cout << bench_usage;
    return 0;
  }
  ::signal(SIGPIPE, SIG_IGN);

  run_summary run;
  run.address = options.address_text;
  run.connections = options.connections;
  run.depth_asked = options.depth;
  run.keep_conn = options.keep_conn;
  run.body_size = options.body_size;
  run.depth_used = usable_depth(options, run);

  const auto idle = hold_idle_connections(options.address, options.idle_connections, run);
  run.idle_connections = idle.size();

  shared_budget budget(options.requests, options.duration);
  bool done = false;
  std::mutex mutex;
  std::condition_variable wake;
  std::thread progress;
  if (options.progress) progress = std::thread([&] { show_progress(budget, done, mutex, wake); });

  const auto start = clock_type::now();
  const bool blocking = use_blocking_clients(options, run.depth_used);
  run.engine = blocking ? "blocking" : "events";
  run.event_loops = blocking ? 0 : options.threads;
  const bench_results results =
      blocking ? run_blocking_clients(options, budget) : run_event_loops(options, budget, run.depth_used);
  run.elapsed = clock_type::now() - start;
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  wake.notify_all();
  if (progress.joinable()) progress.join();

  for (const int fd : idle) ::close(fd);
  if (results.connect_errors > 0) run.notes.push_back(budget.connect_failure());
  if (options.json)
    print_json(std::cout, run, results);
  else
    print_text(std::cout, run, results);
  return results.failed() == 0 && results.completed > 0 ? 0 : 1;
}
