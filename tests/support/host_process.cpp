#include "host_process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fcgihost::test {

namespace {

// A listening loopback socket on a port the system picks, inheritable (no
// FD_CLOEXEC), and its address as fcgi-host writes it.
std::pair<int, std::string> listen_on_loopback(int family) {
  const int fd = ::socket(family, SOCK_STREAM, 0);
  sockaddr_storage address{};
  socklen_t size = 0;
  if (family == AF_INET) {
    auto& v4 = reinterpret_cast<sockaddr_in&>(address);
    v4.sin_family = AF_INET;
    v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    size = sizeof v4;
  } else {
    auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
    v6.sin6_family = AF_INET6;
    v6.sin6_addr = in6addr_loopback;
    size = sizeof v6;
  }
  if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&address), size) != 0 || ::listen(fd, 1024) != 0)
    throw std::runtime_error("cannot listen on a loopback port for the host");
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  const int port = family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in&>(address).sin_port)
                                     : ntohs(reinterpret_cast<sockaddr_in6&>(address).sin6_port);
  return {fd, (family == AF_INET ? "tcp:127.0.0.1:" : "tcp:[::1]:") + std::to_string(port)};
}

}  // namespace

namespace fs = std::filesystem;

host_process::host_process(host_options options) {
  fs::create_directory(plugins_dir());
  for (const auto& plugin : options.plugins) install_plugin(plugin);
  std::vector<std::string> argv;
  if (options.unprivileged && ::geteuid() == 0) {
    // nobody must be able to make its socket here and run the scripts.
    fs::permissions(dir_.path(), fs::perms::all);
    argv = {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"};
  }
  std::string binary = FCGIHOST_HOST_BIN;
  if (options.own_binary) {
    fs::create_directory(binary_path().parent_path());
    fs::copy_file(binary, binary_path());
    binary = binary_path().string();
  }
  argv.insert(argv.end(), {binary, "--plugins", plugins_dir().string(), "--log-level", "debug"});
  if (options.scripts) {
    fs::create_directory(scripts_dir());
    for (const char* folder : {FCGIHOST_EXAMPLE_SCRIPTS, FCGIHOST_TEST_SCRIPTS})
      fs::copy(folder, scripts_dir(), fs::copy_options::overwrite_existing | fs::copy_options::recursive);
    argv.insert(argv.end(), {"--scripts", scripts_dir().string()});
  }
  std::vector<int> handed_over;
  const auto listen_on = [&](int family) {
    const auto [fd, address] = listen_on_loopback(family);
    handed_over.push_back(fd);
    addresses_.push_back(address);
    argv.insert(argv.end(), {"--listen", "fd:" + std::to_string(fd)});
  };
  if (options.tcp) {
    listen_on(AF_INET);
    if (options.tcp_v6_too) listen_on(AF_INET6);
  } else {
    addresses_.push_back("unix:" + socket_path().string());
    argv.insert(argv.end(), {"--listen", addresses_.back()});
  }
  address_ = addresses_.front();
  // What tests read instead of the log's wording (status_probe.hpp), unless
  // the test chose otherwise.
  const auto given = [&](std::string_view flag) {
    return std::find(options.arguments.begin(), options.arguments.end(), flag) != options.arguments.end();
  };
  if (!given("--status-path")) argv.insert(argv.end(), {"--status-path", "/status"});
  if (!given("--access-log-format")) argv.insert(argv.end(), {"--access-log-format", "json"});
  argv.insert(argv.end(), options.arguments.begin(), options.arguments.end());
  process_ = std::make_unique<child_process>(argv, dir_ / "stdout", dir_ / "stderr", "/dev/null",
                                             options.environment);
  for (const int fd : handed_over) ::close(fd);  // the host has its own copies
  // A handed-over socket queues connections until the host accepts them; a
  // unix socket the host creates is ready once it accepts one.
  if (!options.tcp && !wait_for_unix_socket(socket_path(), *process_))
    throw std::runtime_error("fcgi-host did not start:\n" + log());
}

host_process::~host_process() {
  if (!process_) return;
  const int signal = process_->stop();
  if (signal == SIGSEGV || signal == SIGBUS || signal == SIGABRT || signal == SIGILL || signal == SIGFPE ||
      signal == SIGSYS || signal == SIGTRAP)
    ADD_FAILURE() << "fcgi-host crashed (" << ::strsignal(signal) << "); its log:\n" << log();
}

void host_process::install_plugin(const std::string& name, const std::string& as) const {
  const fs::path target = plugins_dir() / (as.empty() ? "lib" + name + ".so" : as);
  // Copy then rename, as a deploy script would: the host never sees half a file.
  const fs::path partial = target.string() + ".partial";
  fs::copy_file(fs::path(FCGIHOST_PLUGIN_BUILD_DIR) / ("lib" + name + ".so"), partial,
                fs::copy_options::overwrite_existing);
  fs::rename(partial, target);
}

bool host_process::wait_for_log(const std::string& text, std::chrono::seconds limit) const {
  return wait_for_log_count(text, 1, limit) >= 1;
}

std::size_t host_process::wait_for_log_count(const std::string& text, std::size_t count,
                                             std::chrono::seconds limit) const {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::size_t seen = count_occurrences(log(), text);
  while (seen < count && std::chrono::steady_clock::now() <= deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    seen = count_occurrences(log(), text);
  }
  return seen;
}

namespace {
std::size_t status_field_kib(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with(field + ":")) return std::stoul(line.substr(field.size() + 1));
  return 0;
}
}  // namespace

std::size_t host_process::peak_rss_kib() const { return status_field_kib(process_->pid(), "VmHWM"); }
std::size_t host_process::rss_kib() const { return status_field_kib(process_->pid(), "VmRSS"); }
std::size_t host_process::anonymous_rss_kib() const { return status_field_kib(process_->pid(), "RssAnon"); }

std::size_t open_fd_count(pid_t pid) {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) ++count;
  return count;
}

std::size_t fds_settle_at(pid_t pid, std::size_t baseline, std::chrono::milliseconds limit) {
  const auto give_up_at = std::chrono::steady_clock::now() + limit;
  std::size_t now = open_fd_count(pid);
  while (now > baseline && std::chrono::steady_clock::now() < give_up_at) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    now = open_fd_count(pid);
  }
  return now;
}

namespace {
// Field 3 (state) and field 4 (ppid) of /proc/PID/stat; the name before them may hold spaces.
bool read_stat(const std::string& pid, char& state, long& parent) {
  const std::string stat = read_file("/proc/" + pid + "/stat");
  const auto close = stat.rfind(')');
  if (stat.empty() || close == std::string::npos) return false;
  std::istringstream rest(stat.substr(close + 1));
  return static_cast<bool>(rest >> state >> parent);
}
}  // namespace

namespace {

// Each child of `parent` with its state letter (R, S, Z...), from /proc.
std::vector<std::pair<pid_t, char>> children_of(pid_t parent) {
  std::vector<std::pair<pid_t, char>> children;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    char state = 0;
    long ppid = 0;
    if (read_stat(name, state, ppid) && ppid == parent) children.emplace_back(std::stoi(name), state);
  }
  return children;
}

}  // namespace

std::size_t zombie_children(pid_t parent) {
  const auto children = children_of(parent);
  return static_cast<std::size_t>(
      std::count_if(children.begin(), children.end(), [](const auto& child) { return child.second == 'Z'; }));
}

std::vector<pid_t> live_children(pid_t parent) {
  std::vector<pid_t> live;
  for (const auto& [pid, state] : children_of(parent))
    if (state != 'Z') live.push_back(pid);
  return live;
}

bool process_gone(pid_t pid) {
  char state = 0;
  long parent = 0;
  return !read_stat(std::to_string(pid), state, parent) || state == 'Z' || state == 'X';
}

bool no_zombie_children_within(pid_t parent, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (zombie_children(parent) > 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

bool wait_until_gone(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!process_gone(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

protocol::name_value_list request_params(std::string script, std::string query, std::string method) {
  return {{"SCRIPT_FILENAME", std::move(script)},
          {"QUERY_STRING", std::move(query)},
          {"REQUEST_METHOD", std::move(method)},
          {"REQUEST_URI", "/test"}};
}

boost::asio::awaitable<client::response> fetch(std::string address, std::string script, std::string query,
                                               std::string body) {
  auto conn = co_await client::connection::connect(address);
  client::request_options options;
  options.params = request_params(std::move(script), std::move(query), body.empty() ? "GET" : "POST");
  co_return co_await conn.send(std::move(options), body);
}

boost::asio::awaitable<client::response> fetch_until(std::string address, std::string script, std::string query,
                                                     std::function<bool(const client::response&)> wanted,
                                                     std::chrono::milliseconds limit) {
  const auto give_up_at = std::chrono::steady_clock::now() + limit;
  while (true) {
    auto response = co_await fetch(address, script, query);
    if (wanted(response) || std::chrono::steady_clock::now() >= give_up_at) co_return response;
    boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor, std::chrono::milliseconds(2));
    co_await pause.async_wait(boost::asio::use_awaitable);
  }
}

boost::asio::awaitable<std::vector<std::string>> fetch_at_once(std::string address, std::string script,
                                                               std::string query, std::size_t count) {
  auto conn = co_await client::connection::connect(address);
  conn.set_max_in_flight(count);
  std::vector<client::exchange> requests;
  for (std::size_t i = 0; i < count; ++i) {
    client::request_options options;
    options.params = request_params(script, query);
    requests.push_back(co_await conn.begin(std::move(options)));
    co_await requests.back().end_stdin();
  }
  std::vector<std::string> outs;
  for (auto& request : requests) {
    std::uint32_t status = 0;
    outs.push_back(co_await read_to_end(request, status));
  }
  co_return outs;
}

boost::asio::awaitable<std::string> read_to_end(client::exchange& request, std::uint32_t& app_status) {
  std::string out;
  client::output_event event;
  do {
    event = co_await request.next();
    if (event.type == client::output_event::kind::out) out += event.bytes;
  } while (event.type != client::output_event::kind::end);
  app_status = event.app_status;
  co_return out;
}

std::size_t count_occurrences(const std::string& haystack, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++count;
  return count;
}

}  // namespace fcgihost::test
