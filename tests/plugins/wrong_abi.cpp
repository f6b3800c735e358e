// A plugin that claims another plugin ABI version: the host must refuse to
// call into it (500 with the reason), not crash in it.
#include <fcgihost/plugin.hpp>

namespace {
int handler(fcgihost::request&) { return 0; }
}  // namespace

extern "C" __attribute__((visibility("default"), used, section("fcgihost")))
const fcgihost::handler_export fcgihost_handler_future{fcgihost::plugin_abi_version + 998, "handler", &handler};
