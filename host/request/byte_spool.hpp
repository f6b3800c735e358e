// Bytes that must wait without blocking whoever produced them: a request's
// FCGI_STDIN until the runner reads it, and its output until the web server
// has sent the whole body (nginx treats a request as sent once the response
// starts, so output before the end of FCGI_STDIN would stall it for ever).
// Up to a memory limit the bytes wait in memory, beyond it in an unlinked
// temporary file: memory stays bounded, order is kept, nothing deadlocks.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace fcgihost::host {

class byte_spool {
 public:
  explicit byte_spool(std::size_t memory_limit);
  ~byte_spool();
  byte_spool(const byte_spool&) = delete;
  byte_spool& operator=(const byte_spool&) = delete;
  byte_spool(byte_spool&& other) noexcept;
  byte_spool& operator=(byte_spool&&) = delete;

  // Throws std::system_error when the temporary file cannot be written.
  void append(std::string_view bytes);
  // Up to `max` bytes in arrival order; empty when nothing is waiting. Pieces
  // that waited in memory together come out together, up to 256 KiB.
  std::string take(std::size_t max);

  // Drops everything waiting.
  void clear();

  bool empty() const { return memory_bytes_ == 0 && file_read_ == file_written_; }
  std::size_t memory_bytes() const { return memory_bytes_; }
  std::uint64_t spooled_bytes() const { return file_written_ - file_read_; }

 private:
  const std::size_t memory_limit_;
  std::deque<std::string> memory_;
  std::size_t memory_bytes_ = 0;
  std::size_t front_taken_ = 0;  // bytes of memory_.front() already taken
  int file_ = -1;
  std::uint64_t file_read_ = 0;
  std::uint64_t file_written_ = 0;
};

}  // namespace fcgihost::host
