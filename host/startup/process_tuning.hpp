// Process-wide settings the host makes once at start: the heap's behaviour
// with request-sized buffers, and the open files limit.
#pragma once

#include <sys/resource.h>

namespace fcgihost::host {

// Keeps request buffers of up to 2 MiB in the heap (see process_tuning.cpp).
void keep_request_buffers_in_the_heap();

// Raises the soft limit on open files to the hard one; returns the soft limit
// as it was (0: unlimited or unknown), which scripts keep.
rlim_t raise_open_files_limit();

}  // namespace fcgihost::host
