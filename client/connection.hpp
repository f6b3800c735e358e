// FastCGI client over unix or TCP sockets (Boost.Asio, C++20 coroutines): the
// counterpart of FastCGI.jl's FCGIClient, used by fcgi-client, fcgi-bench and
// the tests. A connection may carry several requests at once when the server
// multiplexes; output arrives as it is produced.
//
// A connection and its exchanges belong to the executor they were made on:
// use them from coroutines of one thread (one io_context per thread).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fcgihost/protocol/name_value.hpp>
#include <fcgihost/protocol/record.hpp>

namespace fcgihost::client {

struct request_options {
  protocol::name_value_list params;
  std::uint16_t role = static_cast<std::uint16_t>(protocol::role::responder);
  bool keep_conn = true;  // false: the server closes the connection after this request
};

// One piece of a response, in the order the server sent it.
struct output_event {
  enum class kind { out, err, end };
  kind type = kind::out;
  std::string bytes;                // out, err
  std::uint32_t app_status = 0;     // end
  std::uint8_t protocol_status = 0; // end, see protocol::protocol_status
};

struct response {
  std::string out;
  std::string err;
  std::uint32_t app_status = 0;
  std::uint8_t protocol_status = 0;
};

// The answer to a management record: GET_VALUES_RESULT pairs, or the type the
// server reported as unknown.
struct management_reply {
  std::uint8_t type = 0;  // protocol::record_type::get_values_result or ::unknown_type
  protocol::name_value_list values;
  std::uint8_t unknown_type = 0;
};

namespace detail {
struct connection_state;
struct exchange_state;
}  // namespace detail

// One request in flight. Dropping it before the end discards the rest of the
// response (the request id stays taken until the server ends it).
class exchange {
 public:
  exchange(exchange&&) noexcept = default;
  exchange& operator=(exchange&&) noexcept;
  ~exchange();

  std::uint16_t request_id() const;
  // Sends FCGI_STDIN data (nothing for an empty view) and the end of the stream.
  boost::asio::awaitable<void> write_stdin(std::string_view bytes);
  boost::asio::awaitable<void> end_stdin();
  boost::asio::awaitable<void> abort();
  // The next output piece; after kind::end, there is none. Throws when the
  // connection fails first.
  boost::asio::awaitable<output_event> next();

 private:
  friend class connection;
  explicit exchange(std::shared_ptr<detail::exchange_state> state);
  std::shared_ptr<detail::exchange_state> state_;
};

class connection {
 public:
  // Connects to unix:PATH, tcp:HOST:PORT or tcp:[V6]:PORT on the calling coroutine's executor;
  // fd:N takes a socket that is connected already (and closes it in the end).
  static boost::asio::awaitable<connection> connect(std::string_view address);

  connection(connection&&) noexcept = default;
  connection& operator=(connection&&) noexcept;
  ~connection();  // closes the socket

  // Sends BEGIN_REQUEST and PARAMS; waits first while max_in_flight requests are open.
  boost::asio::awaitable<exchange> begin(request_options options);
  // A whole request: writes the body while reading the response, returns it all.
  boost::asio::awaitable<response> send(request_options options, std::string_view body = {});

  boost::asio::awaitable<protocol::name_value_list> get_values(std::vector<std::string> names);
  // Any management record, for probing a server (UNKNOWN_TYPE answers).
  boost::asio::awaitable<management_reply> management_request(std::uint8_t type, std::string content);
  // Bytes as they are, for tests of a server's handling of bad input.
  boost::asio::awaitable<void> write_raw(std::string bytes);

  // Asks GET_VALUES and allows FCGI_MAX_REQS requests at once when FCGI_MPXS_CONNS=1.
  boost::asio::awaitable<void> negotiate();
  void set_max_in_flight(std::size_t requests);
  std::size_t max_in_flight() const;

  bool is_open() const;
  void close();

 private:
  explicit connection(std::shared_ptr<detail::connection_state> state);
  std::shared_ptr<detail::connection_state> state_;
};

}  // namespace fcgihost::client
