#include "tracemark/serving/line_appender.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tracemark/error.hpp"

namespace tracemark::serving {
namespace {

// Offset where the last, unterminated line of the file starts, or nothing when the file is empty
// or ends with a newline.
std::optional<std::uint64_t> start_of_torn_tail(int fd, off_t size) {
  if (size == 0) return std::nullopt;
  char last = 0;
  if (::pread(fd, &last, 1, size - 1) != 1 || last == '\n') return std::nullopt;
  char buffer[4096];
  off_t end = size;
  while (end > 0) {
    const off_t begin = end > static_cast<off_t>(sizeof buffer) ? end - static_cast<off_t>(sizeof buffer) : 0;
    const ssize_t got = ::pread(fd, buffer, static_cast<std::size_t>(end - begin), begin);
    if (got <= 0) return 0;
    for (ssize_t i = got - 1; i >= 0; --i) {
      if (buffer[i] == '\n') return static_cast<std::uint64_t>(begin + i + 1);
    }
    end = begin;
  }
  return 0;
}

}  // namespace

LineAppender::LineAppender(const std::filesystem::path& path, mode_t mode, bool sync_each_line, std::string what,
                           std::string option, Target target)
    : name_(path.string()), what_(std::move(what)), sync_each_line_(sync_each_line) {
  fd_ = ::open(name_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode);
  if (fd_ < 0) {
    throw Error(ErrorCode::io, "cannot open " + what_ + " " + name_ + " for appending: " + std::strerror(errno) +
                                   "; check the folder exists and is writable (" + option + ")");
  }
  struct stat info {};
  if (::fstat(fd_, &info) != 0 || (target == Target::regular_file && !S_ISREG(info.st_mode))) {
    ::close(fd_);
    fd_ = -1;
    throw Error(ErrorCode::io, what_ + " " + name_ + " is not a regular file; give a file path (" + option + ")");
  }
  const int reader = S_ISREG(info.st_mode) ? ::open(name_.c_str(), O_RDONLY | O_CLOEXEC) : -1;
  if (reader >= 0) {
    torn_tail_ = start_of_torn_tail(reader, info.st_size);
    ::close(reader);
  }
}

LineAppender::~LineAppender() {
  if (fd_ >= 0) ::close(fd_);
}

void LineAppender::append(std::string_view line) {
  std::string whole;
  whole.reserve(line.size() + 1);
  whole.append(line);
  whole.push_back('\n');
  const std::lock_guard lock(mutex_);
  struct stat info {};
  const bool know_size = ::fstat(fd_, &info) == 0;
  std::size_t written = 0;
  while (written < whole.size()) {
    const ssize_t n = ::write(fd_, whole.data() + written, whole.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string reason = n < 0 ? std::strerror(errno) : "no progress";
      // Cut off whatever part of the line reached the file, so no torn line stays behind.
      if (written > 0 && know_size && ::ftruncate(fd_, info.st_size) != 0) {
        throw Error(ErrorCode::io, "writing " + what_ + " " + name_ + " failed (" + reason +
                                       ") and the partial line could not be removed; it starts at byte offset " +
                                       std::to_string(info.st_size));
      }
      throw Error(ErrorCode::io, "writing " + what_ + " " + name_ + " failed: " + reason + "; free disk space and retry");
    }
    written += static_cast<std::size_t>(n);
  }
  if (sync_each_line_ && ::fdatasync(fd_) != 0) {
    throw Error(ErrorCode::io, "syncing " + what_ + " " + name_ + " failed: " + std::strerror(errno));
  }
  ++lines_written_;
}

std::uint64_t LineAppender::lines_written() const {
  const std::lock_guard lock(mutex_);
  return lines_written_;
}

}  // namespace tracemark::serving
