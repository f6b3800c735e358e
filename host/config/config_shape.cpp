#include "config_shape.hpp"

#include <vector>

namespace fcgihost::host {

namespace {

// A small TOML lexer that knows only what the limits need: strings and
// comments (whose dots and brackets do not count), brackets, and where a key
// is being read (a line's start, a [table] header, after '{' or ',' in an
// inline table) until its '='.
class shape_scanner {
 public:
  shape_scanner(std::string_view text, const config_shape_limits& limits) : text_(text), limits_(limits) {}

  std::string run() {
    start_line();
    while (at_ < text_.size() && problem_.empty()) step();
    return problem_;
  }

 private:
  void step() {
    const char c = text_[at_];
    if (c == '\n') {
      ++line_;
      ++at_;
      if (brackets_.empty()) start_line();
      return;
    }
    if (c == '#') {
      while (at_ < text_.size() && text_[at_] != '\n') ++at_;
      return;
    }
    if (c == '"' || c == '\'') {
      skip_string(c);
      return;
    }
    ++at_;
    switch (c) {
      case '[':
      case '{':
        // A '[' where a line's key would start opens a [table] header.
        if (c == '[' && in_key_ && brackets_.empty()) {
          header_ = true;
          if (at_ < text_.size() && text_[at_] == '[') ++at_;  // [[array of tables]]
          return;
        }
        brackets_.push_back(c);
        if (brackets_.size() > limits_.max_nesting) fail("arrays and inline tables nest deeper than " +
                                                          std::to_string(limits_.max_nesting));
        if (c == '{') start_key();
        else in_key_ = false;
        return;
      case ']':
      case '}':
        if (header_ && brackets_.empty()) {
          header_ = false;
          in_key_ = false;
          return;
        }
        if (!brackets_.empty()) brackets_.pop_back();
        return;
      case ',':
        if (!brackets_.empty() && brackets_.back() == '{') start_key();
        return;
      case '=':
        if (!header_) in_key_ = false;
        return;
      case '.':
        if (in_key_ && ++key_parts_ > limits_.max_key_parts)
          fail("a key has more than " + std::to_string(limits_.max_key_parts) + " dotted parts");
        return;
      default:
        return;
    }
  }

  void skip_string(char quote) {
    const std::string_view triple = quote == '"' ? "\"\"\"" : "'''";
    const bool multi_line = text_.substr(at_, 3) == triple;
    at_ += multi_line ? 3 : 1;
    while (at_ < text_.size()) {
      const char c = text_[at_];
      if (quote == '"' && c == '\\') {
        at_ += 2;
        continue;
      }
      if (multi_line && text_.substr(at_, 3) == triple) {
        at_ += 3;
        while (at_ < text_.size() && text_[at_] == quote) ++at_;  // up to two quotes end its content
        return;
      }
      if (!multi_line && c == quote) {
        ++at_;
        return;
      }
      if (c == '\n') {
        ++line_;
        if (!multi_line) return;  // an unended string: the parser says so
      }
      ++at_;
    }
  }

  void start_line() {
    header_ = false;
    start_key();
  }
  void start_key() {
    in_key_ = true;
    key_parts_ = 1;
  }
  void fail(std::string why) { problem_ = "line " + std::to_string(line_) + ": " + why; }

  std::string_view text_;
  const config_shape_limits& limits_;
  std::size_t at_ = 0;
  std::size_t line_ = 1;
  std::vector<char> brackets_;
  bool in_key_ = true;
  bool header_ = false;
  std::size_t key_parts_ = 1;
  std::string problem_;
};

}  // namespace

std::string config_shape_problem(std::string_view text, const config_shape_limits& limits) {
  if (text.size() > limits.max_bytes)
    return "it is larger than " + std::to_string(limits.max_bytes / 1024) + " KiB, more than any config needs";
  return shape_scanner(text, limits).run();
}

}  // namespace fcgihost::host
