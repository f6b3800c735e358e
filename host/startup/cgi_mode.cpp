#include "cgi_mode.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <string>

#include <fmt/format.h>

#include <client/connection.hpp>
#include <fcgihost/protocol/response_status.hpp>

#include <host/transport/listeners.hpp>

extern char** environ;

namespace fcgihost::host {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

namespace {

// The CGI meta-variables, and whatever else the server put in the
// environment: a FastCGI server would have sent them as PARAMS.
protocol::name_value_list params_from_environment() {
  protocol::name_value_list params;
  for (char** entry = environ; *entry; ++entry) {
    const std::string_view pair = *entry;
    const auto equals = pair.find('=');
    if (equals == std::string_view::npos || equals == 0) continue;
    params.push_back({std::string(pair.substr(0, equals)), std::string(pair.substr(equals + 1))});
  }
  return params;
}

// RFC 3875 4.2: the body is CONTENT_LENGTH bytes; without it there is none.
std::size_t body_length() {
  const char* text = std::getenv("CONTENT_LENGTH");
  std::size_t length = 0;
  if (!text || std::from_chars(text, text + std::char_traits<char>::length(text), length).ec != std::errc()) return 0;
  return length;
}

enum class write_outcome { written, failed, stalled };

// Writes all of `bytes` to `fd` (stdout, stderr), whatever it is, unless the
// reader leaves or takes nothing for `stall_limit` (0: no limit). The fd is
// the web server's and stays blocking: poll says when there is room, and a
// write of PIPE_BUF bytes at most then never blocks, on a pipe or a socket.
write_outcome write_all(int fd, std::string_view bytes, std::chrono::milliseconds stall_limit) {
  while (!bytes.empty()) {
    pollfd room{fd, POLLOUT, 0};
    const int ready = ::poll(&room, 1, stall_limit.count() > 0 ? static_cast<int>(stall_limit.count()) : -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return write_outcome::stalled;
    if (ready < 0) return write_outcome::failed;
    const ssize_t n = ::write(fd, bytes.data(), std::min<std::size_t>(bytes.size(), PIPE_BUF));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return write_outcome::failed;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return write_outcome::written;
}

// Reads stdin, at most `length` bytes, into the request. A pipe or socket is
// read as it becomes readable; a regular file (a server that spooled the
// body) with plain reads, which never wait.
awaitable<void> send_body(client::exchange& request, std::size_t length) {
  std::array<char, 65536> buffer{};
  struct stat info {};
  const bool plain_file = ::fstat(STDIN_FILENO, &info) == 0 && S_ISREG(info.st_mode);
  std::optional<asio::posix::stream_descriptor> in;
  if (!plain_file && length > 0) in.emplace(co_await asio::this_coro::executor, ::dup(STDIN_FILENO));
  while (length > 0) {
    const std::size_t want = std::min(length, buffer.size());
    std::size_t got = 0;
    if (in) {
      auto [ec, n] = co_await in->async_read_some(asio::buffer(buffer.data(), want), asio::as_tuple(use_awaitable));
      if (ec) break;
      got = n;
    } else {
      const ssize_t n = ::read(STDIN_FILENO, buffer.data(), want);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got = static_cast<std::size_t>(n);
    }
    co_await request.write_stdin(std::string_view(buffer.data(), got));
    length -= got;
  }
  co_await request.end_stdin();
}

awaitable<int> relay(int host_end, std::chrono::milliseconds stall_limit) {
  bool stderr_stuck = false;  // a log that takes nothing loses lines, not the answer
  const auto say = [&](const std::string& line) {
    if (!stderr_stuck) write_all(STDERR_FILENO, "fcgi-host (CGI mode): " + line + "\n", stall_limit);
  };
  auto conn = co_await client::connection::connect("fd:" + std::to_string(host_end));
  client::request_options options;
  options.params = params_from_environment();
  options.keep_conn = false;
  auto request = co_await conn.begin(std::move(options));
  // The body goes in while the answer comes out: a handler may answer
  // before it has read it all (and the host then drops the rest).
  asio::co_spawn(co_await asio::this_coro::executor, send_body(request, body_length()), asio::detached);
  bool wrote_any = false;
  try {
    while (true) {
      auto event = co_await request.next();
      if (event.type == client::output_event::kind::end) co_return 0;
      if (event.type == client::output_event::kind::err) {
        if (!stderr_stuck) stderr_stuck = write_all(STDERR_FILENO, event.bytes, stall_limit) != write_outcome::written;
        continue;
      }
      wrote_any = true;
      const auto outcome = write_all(STDOUT_FILENO, event.bytes, stall_limit);
      if (outcome == write_outcome::written) continue;
      // The web server stopped reading (its client left), or holds stdout
      // open and reads nothing: stop the handler now, and end this process,
      // which would otherwise wait for ever.
      if (outcome == write_outcome::stalled)
        say(fmt::format("stdout took nothing for {:g} s (--timeout): the request is aborted",
                        std::chrono::duration<double>(stall_limit).count()));
      try {
        co_await request.abort();
      } catch (const std::exception&) {
        // The host had given up on it first (its deadline): nothing to stop.
      }
      co_return outcome == write_outcome::stalled ? 1 : 0;
    }
  } catch (const std::exception& e) {
    say(std::string("the request was not answered: ") + e.what());
  }
  if (!wrote_any)
    write_all(STDOUT_FILENO, protocol::cgi_response(502, "Bad Gateway", "The request was not answered.\n"), stall_limit);
  co_return 1;
}

}  // namespace

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decoded(std::string_view word) {
  std::string out;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (word[i] == '%' && i + 2 < word.size() && hex_value(word[i + 1]) >= 0 && hex_value(word[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(word[i + 1]) * 16 + hex_value(word[i + 2]));
      i += 2;
    } else {
      out += word[i];
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> arguments_without_query_words(std::vector<std::string> arguments, std::string_view query) {
  if (query.empty() || query.find('=') != std::string_view::npos) return arguments;
  std::vector<std::string> words;
  for (std::size_t start = 0;;) {
    const auto plus = query.find('+', start);
    words.push_back(percent_decoded(query.substr(start, plus == std::string_view::npos ? plus : plus - start)));
    if (plus == std::string_view::npos) break;
    start = plus + 1;
  }
  // The server appends them after its own arguments (a wrapper's, if any).
  if (words.size() <= arguments.size() &&
      std::equal(words.begin(), words.end(), arguments.end() - static_cast<std::ptrdiff_t>(words.size())))
    arguments.resize(arguments.size() - words.size());
  return arguments;
}

bool started_as_cgi() { return std::getenv("GATEWAY_INTERFACE") != nullptr && !is_listening_socket(STDIN_FILENO); }

int relay_cgi_request(int host_end, std::chrono::milliseconds stall_limit) {
  asio::io_context io;
  int status = 1;
  asio::co_spawn(io, relay(host_end, stall_limit), [&](std::exception_ptr failure, int result) {
    status = failure ? 1 : result;
    io.stop();  // the body may still be coming: the answer is out, so it is not wanted
  });
  io.run();
  return status;
}

}  // namespace fcgihost::host
