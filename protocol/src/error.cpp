#include <fcgihost/protocol/error.hpp>

#include <string>

namespace fcgihost::protocol {

namespace {
class protocol_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "fastcgi"; }

  std::string message(int value) const override {
    switch (static_cast<error>(value)) {
      case error::unsupported_version: return "unsupported FastCGI version";
      case error::bad_request_id: return "record has the wrong kind of request id for its type";
      case error::bad_record_length: return "record body has the wrong length for its type";
      case error::truncated_name_value: return "name-value pair runs past the end of its stream";
      case error::params_too_large: return "PARAMS stream exceeds the size limit";
      case error::declared_params_too_large:
        return "a PARAMS name-value pair declares a length over the size limit (max-params-bytes)";
      case error::params_in_progress_too_large:
        return "unfinished PARAMS streams on one connection exceed four times the size limit";
      case error::truncated_record: return "connection ended in the middle of a record";
      case error::name_value_too_long: return "name or value too long to encode";
    }
    return "unknown FastCGI protocol error";
  }
};
}  // namespace

const std::error_category& error_category() noexcept {
  static const protocol_category category;
  return category;
}

}  // namespace fcgihost::protocol
