#include "tracemark/serving/audit_log.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tracemark/error.hpp"

namespace tracemark::serving {
namespace {

// Offset where the last, unterminated line of the file starts, or -1 when the file is empty or
// ends with a newline.
off_t start_of_torn_tail(int fd, off_t size) {
  if (size == 0) return -1;
  char last = 0;
  if (::pread(fd, &last, 1, size - 1) != 1) return -1;
  if (last == '\n') return -1;
  char buffer[4096];
  off_t end = size;
  while (end > 0) {
    const off_t begin = end > static_cast<off_t>(sizeof buffer) ? end - static_cast<off_t>(sizeof buffer) : 0;
    const ssize_t got = ::pread(fd, buffer, static_cast<std::size_t>(end - begin), begin);
    if (got <= 0) return 0;
    for (ssize_t i = got - 1; i >= 0; --i) {
      if (buffer[i] == '\n') return begin + i + 1;
    }
    end = begin;
  }
  return 0;
}

}  // namespace

AuditLog::AuditLog(const std::filesystem::path& path, bool sync_each_line)
    : name_(path.string()), sync_each_line_(sync_each_line) {
  fd_ = ::open(name_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    throw Error(ErrorCode::io, "cannot open audit log " + name_ + " for appending: " + std::strerror(errno) +
                                   "; check the folder exists and is writable (--audit-log)");
  }
  struct stat info {};
  if (::fstat(fd_, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw Error(ErrorCode::io, "audit log " + name_ + " is not a regular file; give a file path (--audit-log)");
  }
  const int reader = ::open(name_.c_str(), O_RDONLY | O_CLOEXEC);
  const off_t torn = reader < 0 ? -1 : start_of_torn_tail(reader, info.st_size);
  if (reader >= 0) ::close(reader);
  if (torn >= 0) {
    ::close(fd_);
    fd_ = -1;
    throw Error(ErrorCode::invalid_input,
                "audit log " + name_ + " ends inside a line that starts at byte offset " + std::to_string(torn) +
                    " (a write cut off by a crash?); keep a copy, cut the partial line off with `truncate -s " +
                    std::to_string(torn) + " " + name_ + "`, and start again");
  }
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

void AuditLog::append(std::string_view line) {
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
        throw Error(ErrorCode::io, "writing audit log " + name_ + " failed (" + reason +
                                       ") and the partial line could not be removed; it starts at byte offset " +
                                       std::to_string(info.st_size));
      }
      throw Error(ErrorCode::io, "writing audit log " + name_ + " failed: " + reason + "; free disk space and retry");
    }
    written += static_cast<std::size_t>(n);
  }
  if (sync_each_line_ && ::fdatasync(fd_) != 0) {
    throw Error(ErrorCode::io, "syncing audit log " + name_ + " failed: " + std::strerror(errno));
  }
  ++lines_written_;
}

std::uint64_t AuditLog::lines_written() const {
  const std::lock_guard lock(mutex_);
  return lines_written_;
}

std::string rfc3339_utc_now() {
  const auto now = std::chrono::system_clock::now();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[40];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ", static_cast<int>(millis % 1000));
  return std::string(text, n) + fraction;
}

}  // namespace tracemark::serving
