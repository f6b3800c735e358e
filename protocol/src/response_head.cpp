#include <fcgihost/protocol/response_head.hpp>

#include <cctype>
#include <cstdio>

namespace fcgihost::protocol {

namespace {

// How much of the output a reason quotes.
constexpr std::size_t quoted_bytes = 60;

// RFC 9110 token characters, what a header name is made of.
bool is_token_char(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~': return true;
    default: return false;
  }
}

std::string escaped(std::string_view bytes) {
  std::string out;
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '"' || c == '\\') (out += '\\') += ch;
    else if (c < 0x20 || c >= 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else out += ch;
  }
  return out;
}

}  // namespace

response_head_check::verdict response_head_check::fail(std::string why) {
  verdict_ = verdict::invalid;
  reason_ = std::move(why);
  if (seen_.empty())
    reason_ += " (it printed nothing)";
  else
    reason_ += "; it printed first: \"" + escaped(seen_) + (seen_.size() == quoted_bytes ? "\"..." : "\"");
  line_.clear();
  return verdict_;
}

response_head_check::verdict response_head_check::check_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) {
    if (header_lines_ == 0) return fail("the output starts with a blank line, not with CGI headers");
    verdict_ = verdict::valid;
    line_.clear();
    return verdict_;
  }
  std::size_t name_end = 0;
  while (name_end < line.size() && is_token_char(static_cast<unsigned char>(line[name_end]))) ++name_end;
  if (name_end == 0 || name_end == line.size() || line[name_end] != ':')
    return fail("the output does not start with a CGI header block (\"Name: value\" lines, then a blank line)");
  // A web server may pass a value on as it is: a CR in it ends the header
  // line for some browser or proxy (response splitting), a NUL cuts it.
  const std::string_view value = line.substr(name_end + 1);
  if (value.find('\r') != std::string_view::npos)
    return fail("the value of header '" + escaped(line.substr(0, name_end)) + "' holds a bare CR");
  if (value.find('\0') != std::string_view::npos)
    return fail("the value of header '" + escaped(line.substr(0, name_end)) + "' holds a NUL byte");
  ++header_lines_;
  return verdict_;
}

response_head_check::verdict response_head_check::feed(std::string_view bytes) {
  if (verdict_ != verdict::incomplete) return verdict_;
  if (seen_.size() < quoted_bytes) seen_.append(bytes.substr(0, quoted_bytes - seen_.size()));
  while (!bytes.empty()) {
    const auto newline = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, newline == std::string_view::npos ? bytes.size() : newline + 1);
    head_bytes_ += piece.size();
    if (head_bytes_ > max_head_bytes)
      return fail("the CGI header block does not end within " + std::to_string(max_head_bytes / 1024) + " KiB");
    bytes.remove_prefix(piece.size());
    if (newline == std::string_view::npos) {
      line_.append(piece);
      break;
    }
    if (line_.empty()) {
      check_line(piece.substr(0, piece.size() - 1));
    } else {
      line_.append(piece.substr(0, piece.size() - 1));
      const std::string line = std::move(line_);
      line_.clear();
      check_line(line);
    }
    if (verdict_ != verdict::incomplete) return verdict_;
  }
  return verdict_;
}

response_head_check::verdict response_head_check::finish() {
  if (verdict_ != verdict::incomplete) return verdict_;
  if (head_bytes_ == 0) return fail("it wrote no response");
  return fail("the output ended before the blank line that ends the CGI headers");
}

}  // namespace fcgihost::protocol
