// Gives the heap's free memory back to the system once the host has been
// idle for a while. The host keeps up to 16 MiB free per arena while it
// serves (see keep_request_buffers_in_the_heap in main.cpp): fresh pages for
// every streaming request cost more than the memory. Once a second has passed
// with no request running or begun, that memory is only RSS: it is trimmed
// then and once more later (see the .cpp), so an idle host returns to its
// baseline after a burst, a flood or a fuzzer.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <host/transport/host_context.hpp>

namespace fcgihost::host {

// Runs until the io_context stops; checks once a second.
boost::asio::awaitable<void> trim_memory_when_idle(host_context& host);

}  // namespace fcgihost::host
