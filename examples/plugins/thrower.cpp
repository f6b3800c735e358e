// thrower.fail throws: the host answers 500, logs the message and lives on.
#include <fcgihost/plugin.hpp>

#include <stdexcept>

namespace {

int fail(fcgihost::request&) { throw std::runtime_error("thrower.fail was asked to fail"); }

}  // namespace

FCGIHOST_HANDLER(fail)
