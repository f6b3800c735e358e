// Fuzzes the builders of log lines from outside bytes: log_escaped and both
// forms of the access line. Whatever a request carries, the text line is one
// line of printable, well-formed UTF-8 and the JSON line one object whose
// fields hold the bytes that came in.
#include <boost/json/src.hpp>

#include <host/request/access_line.hpp>
#include <host/common/log_text.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

// Splits the input into fields at 0xFF 0xFE (bytes that are never UTF-8).
std::string_view next_field(std::string_view& input) {
  const auto cut = input.find("\xFF\xFE");
  const auto field = input.substr(0, cut);
  input.remove_prefix(cut == std::string_view::npos ? input.size() : cut + 2);
  return field;
}

void check_one_safe_line(std::string_view line) {
  if (!fcgihost::host::log_safe(line)) std::abort();
  for (const char c : line)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string escaped = fcgihost::host::log_escaped(input);
  check_one_safe_line(escaped);
  if (fcgihost::host::log_safe(input) && escaped != input) std::abort();  // safe text stays as it is
  if (escaped.size() < size || escaped.size() > 4 * size) std::abort();

  const std::string method(next_field(input));
  const std::string uri(next_field(input));
  const std::string script(next_field(input));
  const std::string peer(next_field(input));
  fcgihost::host::access_record record;
  record.time = "2026-01-01T00:00:00.000Z";
  record.peer = peer;
  record.method = &method;
  record.uri = input.empty() ? nullptr : &uri;
  record.script = script;
  record.runner = "script";
  record.outcome = "done";
  record.worker_pid = static_cast<int>(size);
  const std::string text = fcgihost::host::access_line_text(record);
  check_one_safe_line(text);

  const std::string json = fcgihost::host::access_line_json(record);
  check_one_safe_line(json);
  boost::system::error_code ec;
  const auto value = boost::json::parse(json, ec);
  if (ec || !value.is_object()) std::abort();
  const auto& object = value.as_object();
  if (object.size() != 13 || !object.at("method").is_string() || !object.at("script").is_string()) std::abort();
  if (record.uri == nullptr && !object.at("uri").is_null()) std::abort();
  // Well-formed UTF-8 comes back as it was.
  if (fcgihost::host::log_safe(method) && object.at("method").as_string() != method) std::abort();
  return 0;
}
