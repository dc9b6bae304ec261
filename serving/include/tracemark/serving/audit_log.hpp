// The audit log of a `tracemark serve`: one JSON object a line for every exchange, the record of
// what was served that `tracemark scan --reference-log` reads later.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>

namespace tracemark::serving {

// Appends whole lines. Thread-safe: append() holds a mutex around one write() of the whole line
// (a loop only if the kernel accepts part of it), so lines from different threads never
// interleave, and nothing is buffered in the process: a line is in the kernel's page cache when
// append() returns (with sync_each_line, also on the disk). A failed write is cut back off the
// file, so the log never holds a torn line written by this process.
class AuditLog {
 public:
  // Opens for appending (created with mode 0600: the log holds prompts and responses). Throws
  // Error(invalid_input) when the existing file ends inside a line (a torn write from a crash):
  // the message gives the byte offset where that line starts and how to cut it off.
  AuditLog(const std::filesystem::path& path, bool sync_each_line);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // line: one JSON text without newlines (a newline is added). Throws Error(io) when the line
  // could not be written whole; the file is then as it was before the call.
  void append(std::string_view line);

  std::uint64_t lines_written() const;
  const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
  int fd_ = -1;
  bool sync_each_line_ = false;
  mutable std::mutex mutex_;
  std::uint64_t lines_written_ = 0;
};

// The current time as RFC 3339 UTC with milliseconds, for example 2026-11-25T06:35:07.123Z.
std::string rfc3339_utc_now();

}  // namespace tracemark::serving
