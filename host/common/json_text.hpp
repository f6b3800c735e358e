// JSON string literals from outside bytes (a URI, a peer address): always
// valid JSON and valid UTF-8, whatever the bytes are, so that a log shipper
// never drops an access line.
#pragma once

#include <string>
#include <string_view>

namespace fcgihost::host {

// `text` quoted as a JSON string. Quotes, backslashes and control characters
// (C0, DEL and C1) are escaped, so the result is also safe log text; a byte that is not part of well-formed UTF-8 is written as
// the code point of the same value (\u00XX), so nothing is lost.
std::string json_quoted(std::string_view text);

}  // namespace fcgihost::host
