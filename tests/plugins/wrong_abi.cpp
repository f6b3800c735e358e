// A plugin that claims another plugin ABI version: the host must refuse to
// call into it (500 with the reason), not crash in it, and refuse it before
// loading it: its static constructor, which would say so on stderr, never runs.
#include <fcgihost/plugin.hpp>

#include <cstdio>

namespace {
int handler(const fcgihost_request_api*, fcgihost_request*) { return 0; }

struct says_it_ran {
  says_it_ran() { std::fputs("wrong_abi: its static constructor ran\n", stderr); }
} constructor_marker;
}  // namespace

extern "C" __attribute__((visibility("default"), used, section("fcgihost"), aligned(FCGIHOST_EXPORT_ALIGN)))
const fcgihost_export fcgihost_export_future{FCGIHOST_ABI_VERSION + 998, FCGIHOST_EXPORT_HANDLER, "handler", {&handler},
                                            nullptr};
