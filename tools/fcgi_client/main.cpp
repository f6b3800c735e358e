// fcgi-client: one FastCGI request from the command line, a useful cgi-fcgi.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <stdexcept>

#include <client/connection.hpp>
#include <fcgihost/protocol/record.hpp>

#include "client_options.hpp"

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using namespace fcgihost;
using namespace fcgihost::client;

namespace {

constexpr int failure_exit = 255;
constexpr int largest_app_exit = 254;

void write_fully(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("cannot write output: ") + std::strerror(errno));
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// The body's file descriptor (owned), and its size when it is a regular file.
struct body_source {
  int fd = -1;
  std::optional<std::size_t> size;
};

body_source open_body(const std::optional<std::string>& path) {
  body_source source;
  if (!path) return source;
  source.fd = *path == "-" ? ::dup(STDIN_FILENO) : ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
  if (source.fd < 0) throw std::runtime_error("cannot open " + *path + ": " + std::strerror(errno));
  struct stat info {};
  if (::fstat(source.fd, &info) == 0 && S_ISREG(info.st_mode)) source.size = static_cast<std::size_t>(info.st_size);
  return source;
}

// CGI apps (PHP among them) read a body only up to CONTENT_LENGTH, so a pipe
// of unknown length is first copied to an unlinked temporary file: the length
// becomes known and memory stays bounded whatever the size.
void spool_to_temporary_file(body_source& body) {
  const int spool = ::open(std::filesystem::temp_directory_path().c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (spool < 0) throw std::runtime_error(std::string("cannot create a temporary file: ") + std::strerror(errno));
  char buffer[64 * 1024];
  std::size_t total = 0;
  for (;;) {
    const ssize_t n = ::read(body.fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("cannot read the request body: ") + std::strerror(errno));
    if (n == 0) break;
    write_fully(spool, std::string_view(buffer, static_cast<std::size_t>(n)));
    total += static_cast<std::size_t>(n);
  }
  ::close(body.fd);
  ::lseek(spool, 0, SEEK_SET);
  body.fd = spool;
  body.size = total;
}

awaitable<void> stream_body(exchange& request, int fd, const bool& ended) {
  try {
    if (fd >= 0) {
      // Regular files too: Asio treats a descriptor epoll refuses as always ready.
      asio::posix::stream_descriptor input(co_await asio::this_coro::executor, fd);
      std::string buffer(64 * 1024, '\0');
      for (;;) {
        auto [ec, n] = co_await input.async_read_some(asio::buffer(buffer), asio::as_tuple(use_awaitable));
        if (ec == asio::error::eof) break;
        if (ec) throw boost::system::system_error(ec, "reading the request body");
        co_await request.write_stdin(std::string_view(buffer.data(), n));
      }
    }
    co_await request.end_stdin();
  } catch (...) {
    // A server may answer and close before reading the whole body.
    if (!ended) throw;
  }
}

awaitable<output_event> print_output(exchange& request, bool& ended) {
  for (;;) {
    auto event = co_await request.next();
    if (event.type == output_event::kind::out) write_fully(STDOUT_FILENO, event.bytes);
    if (event.type == output_event::kind::err) write_fully(STDERR_FILENO, event.bytes);
    if (event.type == output_event::kind::end) {
      ended = true;
      co_return event;
    }
  }
}

int exit_code_for(const output_event& end, bool show_status) {
  if (show_status)
    std::cerr << "fcgi-client: app status " << end.app_status << ", protocol status "
              << protocol::status_name(end.protocol_status) << "\n";
  if (end.protocol_status != static_cast<std::uint8_t>(protocol::protocol_status::request_complete)) {
    std::cerr << "fcgi-client: the server refused the request: " << protocol::status_name(end.protocol_status)
              << "\n";
    return failure_exit;
  }
  return end.app_status > largest_app_exit ? largest_app_exit : static_cast<int>(end.app_status);
}

awaitable<int> run(const client_options& options) {
  auto conn = co_await connection::connect(options.connect);
  if (options.get_values) {
    for (const auto& pair : co_await conn.get_values(options.value_names))
      std::cout << pair.name << "=" << pair.value << "\n";
    co_return 0;
  }
  body_source body = open_body(options.stdin_path);
  request_options request;
  request.role = options.role;
  request.keep_conn = options.keep_conn;
  const bool length_given = protocol::find_value(options.extra_params, "CONTENT_LENGTH") != nullptr;
  if (options.request_line && body.fd >= 0 && !body.size && !length_given) spool_to_temporary_file(body);
  if (options.request_line) {
    http_request_line line = *options.request_line;
    // No body: length 0. A file (or a spooled pipe): its size.
    line.content_length = body.fd < 0 ? std::optional<std::size_t>(0) : body.size;
    request.params = cgi_params_for(line);
  }
  for (const auto& pair : options.extra_params) set_param(request.params, pair.name, pair.value);

  using namespace asio::experimental::awaitable_operators;
  auto exchange = co_await conn.begin(std::move(request));
  bool ended = false;
  const int body_fd = body.fd;  // the stream descriptor takes ownership
  auto end = co_await (stream_body(exchange, body_fd, ended) && print_output(exchange, ended));
  conn.close();
  co_return exit_code_for(end, options.show_status);
}

awaitable<int> run_with_deadline(const client_options& options) {
  if (options.timeout_seconds <= 0) co_return co_await run(options);
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer deadline(co_await asio::this_coro::executor,
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(options.timeout_seconds)));
  auto outcome = co_await (run(options) || deadline.async_wait(use_awaitable));
  if (outcome.index() == 1) {
    std::cerr << "fcgi-client: no complete response within " << options.timeout_seconds << " s\n";
    co_return failure_exit;
  }
  co_return std::get<0>(outcome);
}

}  // namespace

int main(int argc, char** argv) {
  client_options options;
  try {
    options = parse_client_options(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::invalid_argument& e) {
    std::cerr << "fcgi-client: " << e.what() << "\n(see fcgi-client --help)\n";
    return failure_exit;
  }
  if (options.help) {
    std::cout << client_usage;
    return 0;
  }
  asio::io_context io;
  int exit_code = failure_exit;
  asio::co_spawn(io, run_with_deadline(options), [&](std::exception_ptr failure, int code) {
    if (!failure) {
      exit_code = code;
      return;
    }
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      std::cerr << "fcgi-client: " << e.what() << "\n";
    }
  });
  io.run();
  return exit_code;
}
