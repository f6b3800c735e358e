#include "bench_options.hpp"

#include <charconv>
#include <optional>
#include <stdexcept>

#include <fcgihost/protocol/byte_size.hpp>
#include <fcgihost/protocol/encoder.hpp>

namespace fcgihost::bench {

const char* const bench_usage = R"(usage: fcgi-bench --connect ADDRESS [options]

Load for a FastCGI server, spoken directly (no web server in front): like wrk,
but over FastCGI to a unix or TCP address.

  --connect ADDRESS     unix:/path/to.sock, tcp:HOST:PORT or tcp:[IPV6]:PORT
  --connections N       connections at once (1)
  --depth M             requests in flight per connection (1); above 1 the
                        connections multiplex when the server says it can
                        (FCGI_MPXS_CONNS), else fcgi-bench says so and uses 1
  --duration SECONDS    how long to run (10), or
  --requests N          how many requests to complete
  --param NAME=VALUE    a FastCGI param (repeatable), e.g. SCRIPT_FILENAME=hello.greet;
                        REQUEST_METHOD, SERVER_PROTOCOL... have defaults
  --body-size BYTES     FCGI_STDIN per request (0; K, M, G suffixes); POST when > 0
  --keep-conn           set FCGI_KEEP_CONN and reuse connections (else one
                        connection per request, as nginx does without keepalive)
  --timeout SECONDS     a request taking longer counts as a timeout (30; 0: none)
  --engine E            how the load is made (auto):
                          blocking: a thread per connection and blocking
                            calls, one request at a time, as a plain C client
                            makes it (depth 1, no body)
                          events: --threads event loops, any depth or body
                          auto: blocking for depth 1 without a body on no
                            more connections than cores, else events
  --threads N           event loops (1); connections are shared among them
  --idle-connections N  open N more connections first and hold them, silent,
                        for the whole run (the server's cost of idle clients)
  --json                the results as one JSON object on stdout
  --quiet               no progress line on stderr
  -h, --help            this text

Reports requests/s, latency percentiles, bytes in and out, and errors by kind:
connect, reset (the server closed with requests in flight), protocol (bad
records), timeout, protocol status (OVERLOADED...), and Status: codes that are
not 2xx. Exit code 0 when every request succeeded, 1 when some failed, 2 for
bad arguments.
)";

namespace {

std::uint64_t parse_number(const std::string& flag, const std::string& text, std::uint64_t low, std::uint64_t high,
                           bool with_suffix = false) {
  std::optional<std::uint64_t> value;
  if (with_suffix) {
    value = protocol::parse_byte_size(text);
  } else {
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec == std::errc{} && end == text.data() + text.size()) value = number;
  }
  if (!value || *value < low || *value > high)
    throw std::invalid_argument(flag + " takes a whole number from " + std::to_string(low) + " to " +
                                std::to_string(high) + ", not '" + text + "'");
  return *value;
}

std::chrono::milliseconds parse_seconds(const std::string& flag, const std::string& text) {
  double seconds = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc{} || end != text.data() + text.size() || seconds < 0 || seconds > 86400)
    throw std::invalid_argument(flag + " takes a number of seconds, not '" + text + "'");
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000 + 0.5));
}

void set_param(protocol::name_value_list& params, std::string name, std::string value) {
  for (auto& pair : params)
    if (pair.name == name) {
      pair.value = std::move(value);
      return;
    }
  params.push_back({std::move(name), std::move(value)});
}

}  // namespace

bench_options parse_bench_options(const std::vector<std::string>& arguments) {
  bench_options options;
  protocol::name_value_list extra;
  bool have_address = false;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string& flag = arguments[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= arguments.size()) throw std::invalid_argument(flag + " needs a value");
      return arguments[++i];
    };
    if (flag == "-h" || flag == "--help") {
      options.help = true;
    } else if (flag == "--connect") {
      options.address_text = value();
      std::string why;
      const auto parsed = protocol::parse_socket_address(options.address_text, why);
      if (!parsed || parsed->type == protocol::socket_address::kind::fd)
        throw std::invalid_argument("--connect takes unix:PATH or tcp:HOST:PORT, not '" + options.address_text +
                                    "'" + (why.empty() ? "" : ": " + why));
      options.address = *parsed;
      have_address = true;
    } else if (flag == "--connections") {
      options.connections = parse_number(flag, value(), 1, 100'000);
    } else if (flag == "--depth") {
      options.depth = parse_number(flag, value(), 1, 65'535);
    } else if (flag == "--threads") {
      options.threads = parse_number(flag, value(), 1, 64);
    } else if (flag == "--engine") {
      const std::string& name = value();
      if (name == "auto")
        options.engine = load_engine::automatic;
      else if (name == "blocking")
        options.engine = load_engine::blocking;
      else if (name == "events")
        options.engine = load_engine::events;
      else
        throw std::invalid_argument("--engine takes auto, blocking or events, not '" + name + "'");
    } else if (flag == "--duration") {
      options.duration = parse_seconds(flag, value());
      if (options.duration->count() == 0) throw std::invalid_argument("--duration must be above 0");
    } else if (flag == "--requests") {
      options.requests = parse_number(flag, value(), 1, std::uint64_t{1} << 40);
    } else if (flag == "--param") {
      const std::string& pair = value();
      const auto equals = pair.find('=');
      if (equals == std::string::npos || equals == 0)
        throw std::invalid_argument("--param takes NAME=VALUE, not '" + pair + "'");
      extra.push_back({pair.substr(0, equals), pair.substr(equals + 1)});
    } else if (flag == "--body-size") {
      options.body_size = parse_number(flag, value(), 0, std::uint64_t{1} << 40, true);
    } else if (flag == "--keep-conn") {
      options.keep_conn = true;
    } else if (flag == "--timeout") {
      options.timeout = parse_seconds(flag, value());
    } else if (flag == "--idle-connections") {
      options.idle_connections = parse_number(flag, value(), 0, 1'000'000);
    } else if (flag == "--json") {
      options.json = true;
    } else if (flag == "--quiet") {
      options.progress = false;
    } else {
      throw std::invalid_argument("unknown option '" + flag + "'");
    }
  }
  if (options.help) return options;
  if (!have_address) throw std::invalid_argument("--connect ADDRESS is required");
  if (options.duration && options.requests) throw std::invalid_argument("give --duration or --requests, not both");
  if (!options.duration && !options.requests) options.duration = std::chrono::seconds(10);
  if (options.threads > options.connections) options.threads = options.connections;
  if (options.engine == load_engine::blocking && (options.depth > 1 || options.body_size > 0))
    throw std::invalid_argument("--engine blocking makes one request at a time without a body: "
                                "use --engine events for --depth or --body-size");
  if (options.engine == load_engine::blocking && options.connections > max_blocking_connections)
    throw std::invalid_argument("--engine blocking runs a thread per connection: at most " +
                                std::to_string(max_blocking_connections) + " connections");

  set_param(options.params, "REQUEST_METHOD", options.body_size > 0 ? "POST" : "GET");
  set_param(options.params, "SERVER_PROTOCOL", "HTTP/1.1");
  set_param(options.params, "GATEWAY_INTERFACE", "CGI/1.1");
  set_param(options.params, "SERVER_SOFTWARE", "fcgi-bench");
  set_param(options.params, "REQUEST_URI", "/");
  set_param(options.params, "QUERY_STRING", "");
  set_param(options.params, "REMOTE_ADDR", "127.0.0.1");
  if (options.body_size > 0) set_param(options.params, "CONTENT_LENGTH", std::to_string(options.body_size));
  for (auto& [name, pair_value] : extra) set_param(options.params, std::move(name), std::move(pair_value));
  return options;
}

std::string encode_request_head(const bench_options& options, std::uint16_t request_id) {
  std::string head;
  protocol::append_begin_request(head, request_id, protocol::role::responder, options.keep_conn);
  protocol::append_params(head, request_id, options.params);
  if (options.body_size == 0) protocol::append_stream_end(head, protocol::record_type::std_in, request_id);
  return head;
}

}  // namespace fcgihost::bench
