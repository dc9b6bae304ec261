// Reading serve's audit log (docs/AUDIT_LOG.md) for campaign discovery: one exchange's metadata and
// prompt at a time, from plain or gzip JSON lines, with the file, line and byte offset of every
// malformed line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tracemark/rfc3339_time.hpp"
#include "tracemark/verify/jsonl_reader.hpp"

namespace tracemark::campaigns {

// The fields campaign discovery reads from one audit line. Strings are empty when the line has no
// such field (version 1 lines have no client_address or user_agent).
struct AuditRecord {
  std::int64_t time_ms = 0;        // "time", milliseconds since 1970-01-01T00:00:00Z
  std::string account;             // "account" (required, non-empty)
  std::string client_address;      // "client_address"
  std::string user_agent;          // "user_agent"
  std::string model;               // "model"
  std::string prompt_text;         // "prompt" as text; chat messages' contents joined by "\n"; empty for token ids
  bool has_response = false;       // the line carries "tokens" or "text" (scan --reference-log can use it)
  bool event = false;              // an event line (a refused request, issue 12), not an exchange
};

// The audit log's times (tracemark/rfc3339_time.hpp, shared with key policies).
using tracemark::format_rfc3339_ms;
using tracemark::parse_rfc3339_ms;

// Streams one audit log. Not thread-safe.
class AuditLogReader {
 public:
  // skip_bad_lines: a malformed line is counted and skipped instead of throwing. "-" reads stdin.
  // Throws Error(io) when the file cannot be opened.
  AuditLogReader(const std::filesystem::path& path, bool skip_bad_lines);
  ~AuditLogReader();
  AuditLogReader(const AuditLogReader&) = delete;
  AuditLogReader& operator=(const AuditLogReader&) = delete;

  // The next exchange (event lines, such as serve's refused requests, are passed over); false at the
  // end. Throws Error(invalid_input) naming the file, line and byte
  // offset of a line that is not a JSON object, or lacks a valid "time" or "account" (unless
  // skipping). `record` is reused, so its strings keep their capacity.
  bool next(AuditRecord& record);
  // The line `next` returned last, as written (without its newline), and where it was.
  const JsonlLine& line() const noexcept { return line_; }

  // For reading in batches: the next non-blank line, unparsed; parse() it (on any thread), and
  // report a line it refused, in input order, with skip().
  bool next_line(JsonlLine& line);
  // Thread-safe. nullopt when `line` is a valid audit line (then `record` holds it; record.event
  // marks an event line, which is no exchange and is skipped), else what is wrong and where (file,
  // line, byte offset).
  std::optional<std::string> parse(const JsonlLine& line, AuditRecord& record) const;
  // Counts a refused line, or throws Error(invalid_input) with `problem` and what to do when not
  // skipping bad lines.
  void skip(const std::string& problem);

  std::uint64_t skipped_lines() const noexcept { return skipped_; }
  // Non-blank lines read so far, skipped ones included.
  std::uint64_t lines_read() const noexcept { return lines_read_; }
  // The message of the first skipped line (empty when none was skipped).
  const std::string& first_skip_reason() const noexcept { return first_skip_reason_; }
  const std::string& name() const noexcept { return reader_.name(); }

 private:
  JsonlReader reader_;
  bool skip_bad_lines_ = false;
  JsonlLine line_;
  std::uint64_t skipped_ = 0;
  std::uint64_t lines_read_ = 0;
  std::string first_skip_reason_;
};

}  // namespace tracemark::campaigns
