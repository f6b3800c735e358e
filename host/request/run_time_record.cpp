#include "run_time_record.hpp"

#include <span>

#include <fcgihost/protocol/encoder.hpp>

#include <runners/worker/worker_protocol.hpp>

namespace fcgihost::host {

std::string run_time_record(std::uint16_t request_id, std::optional<std::chrono::microseconds> handler_ran,
                            request_outcome outcome) {
  std::string record;
  const protocol::name_value told{
      std::string(runners::worker_protocol::run_time_value),
      std::to_string(request_id) + " " + std::to_string(handler_ran ? handler_ran->count() : -1) + " " +
          std::string(to_string(outcome))};
  protocol::append_get_values_result(record, std::span(&told, 1));
  return record;
}

}  // namespace fcgihost::host
