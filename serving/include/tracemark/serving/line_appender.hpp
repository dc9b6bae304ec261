// Appending whole lines to a file that other runs and readers share: the audit log of `serve` and
// the output journal of `probe`. One writer for both, so both keep the same promises.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace tracemark::serving {

// Thread-safe: append() holds a mutex around one write() of the whole line (looped only if the
// kernel accepts part of it), so lines from different threads never interleave, and nothing is
// buffered in the process: a line is in the kernel when append() returns (with sync_each_line, on
// the disk). A write that fails midway is cut back off the file (ftruncate to the size before it),
// so the file never holds a torn line written by this process.
class LineAppender {
 public:
  enum class Target { regular_file, any_file };
  // Opens `path` for appending, creating it with `mode`. `what` names the file in messages (for
  // example "audit log" or "probe output"), `option` the command-line option that gave it.
  // Throws Error(io) when it cannot be opened, or (Target::regular_file) is not a regular file.
  LineAppender(const std::filesystem::path& path, mode_t mode, bool sync_each_line, std::string what, std::string option,
               Target target = Target::regular_file);
  ~LineAppender();
  LineAppender(const LineAppender&) = delete;
  LineAppender& operator=(const LineAppender&) = delete;

  // line: one line without its newline (one is added). Throws Error(io) naming the file and the
  // reason (for example "No space left on device") when the line could not be written whole; the
  // file is then as it was before the call.
  void append(std::string_view line);

  // Where the last line starts when the file ends without a newline (a write cut off by a crash),
  // as the file was when opened; nothing when it is empty or ends with a newline.
  std::optional<std::uint64_t> torn_tail() const noexcept { return torn_tail_; }
  std::uint64_t lines_written() const;
  const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
  std::string what_;
  int fd_ = -1;
  bool sync_each_line_ = false;
  std::optional<std::uint64_t> torn_tail_;
  mutable std::mutex mutex_;
  std::uint64_t lines_written_ = 0;
};

}  // namespace tracemark::serving
