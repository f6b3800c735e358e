#include "client_options.hpp"

#include <charconv>
#include <stdexcept>

namespace fcgihost::client {

const char* const client_usage = R"(usage:
  fcgi-client --connect ADDRESS [options] [METHOD URI]
  fcgi-client --connect ADDRESS --get-values [NAME...]

Sends one FastCGI request and writes the response's FCGI_STDOUT to stdout and
its FCGI_STDERR to stderr, as they arrive.

  --connect ADDRESS     unix:/path/to.sock, tcp:HOST:PORT or tcp:[IPV6]:PORT
  METHOD URI            fill the CGI params a web server would send
                        (REQUEST_METHOD, REQUEST_URI, QUERY_STRING, SCRIPT_NAME...)
  --root DIR            DOCUMENT_ROOT; SCRIPT_FILENAME becomes DIR + path
  -H, --header 'N: V'   an HTTP header, sent as HTTP_N (repeatable)
  --param NAME=VALUE    a FastCGI param, added last so it wins (repeatable)
  --stdin FILE|-        the request body, streamed (CONTENT_LENGTH is set
                        when FILE is a regular file)
  --role NAME|N         responder (default), authorizer, filter, or a number
  --keep-conn           set FCGI_KEEP_CONN (the server keeps the connection)
  --get-values [NAME..] ask FCGI_GET_VALUES (default: the three standard names)
  --timeout SECONDS     give up after this long (exit 255)
  --status              print app and protocol status to stderr at the end
  -h, --help            this text

Exit code: the app status from END_REQUEST (254 when it is larger), or 255 with
a message when the connection, the protocol or the server's refusal failed
the request.
)";

namespace {

std::string need_value(const std::vector<std::string>& arguments, std::size_t& i) {
  if (i + 1 >= arguments.size()) throw std::invalid_argument(arguments[i] + " needs a value");
  return arguments[++i];
}

std::uint16_t parse_role(const std::string& text) {
  if (text == "responder") return 1;
  if (text == "authorizer") return 2;
  if (text == "filter") return 3;
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || value > 65535)
    throw std::invalid_argument("--role takes responder, authorizer, filter or a number: " + text);
  return static_cast<std::uint16_t>(value);
}

double parse_seconds(const std::string& text) {
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || value < 0)
    throw std::invalid_argument("--timeout takes a number of seconds: " + text);
  return value;
}

}  // namespace

client_options parse_client_options(const std::vector<std::string>& arguments) {
  client_options options;
  std::vector<std::string> positional;
  std::string root;
  std::vector<std::string> headers;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string& arg = arguments[i];
    if (arg == "-h" || arg == "--help") {
      options.help = true;
    } else if (arg == "--connect") {
      options.connect = need_value(arguments, i);
    } else if (arg == "--param") {
      const std::string pair = need_value(arguments, i);
      const auto equals = pair.find('=');
      if (equals == std::string::npos || equals == 0)
        throw std::invalid_argument("--param takes NAME=VALUE: " + pair);
      options.extra_params.push_back({pair.substr(0, equals), pair.substr(equals + 1)});
    } else if (arg == "-H" || arg == "--header") {
      headers.push_back(need_value(arguments, i));
    } else if (arg == "--root") {
      root = need_value(arguments, i);
    } else if (arg == "--stdin") {
      options.stdin_path = need_value(arguments, i);
    } else if (arg == "--role") {
      options.role = parse_role(need_value(arguments, i));
    } else if (arg == "--keep-conn") {
      options.keep_conn = true;
    } else if (arg == "--get-values") {
      options.get_values = true;
    } else if (arg == "--timeout") {
      options.timeout_seconds = parse_seconds(need_value(arguments, i));
    } else if (arg == "--status") {
      options.show_status = true;
    } else if (arg.starts_with("-") && arg != "-") {
      throw std::invalid_argument("unknown option " + arg);
    } else {
      positional.push_back(arg);
    }
  }
  if (options.help) return options;
  if (options.connect.empty()) throw std::invalid_argument("--connect ADDRESS is required");
  if (options.get_values) {
    options.value_names = positional;
    if (options.value_names.empty()) options.value_names = {"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"};
    return options;
  }
  if (positional.size() == 2) {
    http_request_line line;
    line.method = positional[0];
    line.uri = positional[1];
    line.document_root = root;
    line.headers = std::move(headers);
    options.request_line = std::move(line);
  } else if (!positional.empty()) {
    throw std::invalid_argument("expected METHOD URI, got " + std::to_string(positional.size()) + " words");
  } else if (!headers.empty() || !root.empty()) {
    throw std::invalid_argument("--header and --root need METHOD URI");
  }
  return options;
}

}  // namespace fcgihost::client
