// The audit log of a `tracemark serve`: one JSON object a line for every exchange, the record of
// what was served that `tracemark scan --reference-log` reads later.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "tracemark/serving/line_appender.hpp"

namespace tracemark::serving {

// The audit line's schema version (docs/AUDIT_LOG.md), written as "audit_version". Versions only
// add fields; a line without "audit_version" is version 1 (issue 7) and readers accept it.
// Version 3 added "key_label" (the keyring label of the key, when serving from a keyring).
inline constexpr int kAuditLogVersion = 3;
// The User-Agent header is recorded up to this many bytes (a client can send any length).
inline constexpr std::size_t kAuditUserAgentBytes = 512;

// The log's lines are written by LineAppender (its promises: whole lines, never interleaved,
// nothing buffered in the process, a failed write cut back off). Thread-safe.
class AuditLog {
 public:
  // Opens for appending (created with mode 0600: the log holds prompts and responses). Throws
  // Error(invalid_input) when the existing file ends inside a line (a torn write from a crash):
  // the message gives the byte offset where that line starts and how to cut it off.
  AuditLog(const std::filesystem::path& path, bool sync_each_line);

  // line: one JSON text without newlines (a newline is added). Throws Error(io) when the line
  // could not be written whole; the file is then as it was before the call.
  void append(std::string_view line) { file_.append(line); }

  std::uint64_t lines_written() const { return file_.lines_written(); }
  const std::string& name() const noexcept { return file_.name(); }

 private:
  LineAppender file_;
};

// The current time as RFC 3339 UTC with milliseconds, for example 2026-11-25T06:35:07.123Z.
std::string rfc3339_utc_now();
// The current time in milliseconds since 1970-01-01T00:00:00Z (format_rfc3339_ms writes it as above).
std::int64_t utc_now_ms();

}  // namespace tracemark::serving
