// Log text from outside bytes. A URI, a method, a script's stderr or a
// plugin's message can hold a newline, a CR or an escape sequence; written
// raw, it would start a line of its own (a forged access line, a fake
// timestamp: php-fpm's CVE-2024-9026) or drive the terminal that shows the
// log. Every line the host logs goes through log_escaped (logging.cpp).
#pragma once

#include <string>
#include <string_view>

namespace fcgihost::host {

// `text` with every control byte (below 0x20, and 0x7F), the UTF-8 of every C1
// control (U+0080..U+009F) and every byte that is not part of well-formed
// UTF-8 written as \xNN (two lower-case hex digits).
// Printable ASCII and well-formed UTF-8 stay as they are. A backslash is
// not escaped: what was escaped is told by the \x, not made reversible.
std::string log_escaped(std::string_view text);
// True when log_escaped would change nothing.
bool log_safe(std::string_view text);

}  // namespace fcgihost::host
