#include "byte_spool.hpp"

#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace fcgihost::host {

namespace {
// The largest piece pieces are joined into.
constexpr std::size_t join_limit = 256 * 1024;
}  // namespace

byte_spool::byte_spool(std::size_t memory_limit) : memory_limit_(memory_limit) {}

byte_spool::byte_spool(byte_spool&& other) noexcept
    : memory_limit_(other.memory_limit_),
      memory_(std::move(other.memory_)),
      memory_bytes_(std::exchange(other.memory_bytes_, 0)),
      front_taken_(std::exchange(other.front_taken_, 0)),
      file_(std::exchange(other.file_, -1)),
      file_read_(std::exchange(other.file_read_, 0)),
      file_written_(std::exchange(other.file_written_, 0)) {}

byte_spool::~byte_spool() {
  if (file_ >= 0) ::close(file_);
}

void byte_spool::append(std::string_view bytes) {
  if (bytes.empty()) return;
  // Memory while there is room and nothing waits in the file (order!).
  if (file_read_ == file_written_ && memory_bytes_ + bytes.size() <= memory_limit_) {
    // Pieces that wait together are joined (up to a block), so a reader that
    // fell behind takes them in one go: a hand-off to a runner's thread costs
    // more than copying 64 KiB.
    if (!memory_.empty() && memory_.back().size() + bytes.size() <= join_limit) {
      // Room for the whole block at the first join: growing by doubling
      // would copy what is there again at each step.
      if (memory_.back().capacity() < join_limit) memory_.back().reserve(join_limit);
      memory_.back().append(bytes);
    } else {
      memory_.emplace_back(bytes);
    }
    memory_bytes_ += bytes.size();
    return;
  }
  if (file_ < 0) {
    file_ = ::open(std::filesystem::temp_directory_path().c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (file_ < 0) throw std::system_error(errno, std::generic_category(), "cannot create a spool file");
  }
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(file_, bytes.data(), bytes.size(), static_cast<off_t>(file_written_));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "cannot write a spool file");
    file_written_ += static_cast<std::uint64_t>(n);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void byte_spool::clear() {
  memory_.clear();
  memory_bytes_ = 0;
  front_taken_ = 0;
  if (file_ >= 0) [[maybe_unused]] int ignored = ::ftruncate(file_, 0);
  file_read_ = file_written_ = 0;
}

std::string byte_spool::take(std::size_t max) {
  std::string out;
  if (memory_bytes_ > 0) {
    std::string& front = memory_.front();
    const std::size_t n = std::min(max, front.size() - front_taken_);
    const bool whole = front_taken_ == 0 && n == front.size();
    const bool finishes_front = front_taken_ + n == front.size();
    if (whole)
      out = std::move(front);
    else
      out.assign(front, front_taken_, n);
    memory_bytes_ -= n;
    if (finishes_front) {
      memory_.pop_front();
      front_taken_ = 0;
    } else {
      front_taken_ += n;
    }
    return out;
  }
  if (file_read_ < file_written_) {
    out.resize(static_cast<std::size_t>(std::min<std::uint64_t>(max, file_written_ - file_read_)));
    ssize_t n;
    do n = ::pread(file_, out.data(), out.size(), static_cast<off_t>(file_read_));
    while (n < 0 && errno == EINTR);
    if (n < 0) throw std::system_error(errno, std::generic_category(), "cannot read a spool file");
    out.resize(static_cast<std::size_t>(n));
    file_read_ += static_cast<std::uint64_t>(n);
    if (file_read_ == file_written_) {
      // All read: give the disk space back and start over.
      [[maybe_unused]] int ignored = ::ftruncate(file_, 0);
      file_read_ = file_written_ = 0;
    }
  }
  return out;
}

}  // namespace fcgihost::host
