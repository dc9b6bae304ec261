// Writing a lines file that readers never see half-written (embed's AtomicOutputFile underneath:
// a temporary file renamed into place on commit), gzip-compressed when the name ends in .gz, so a
// simulated month of traffic need not fill the disk.
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>
#include <sys/types.h>

#include "tracemark/atomic_file.hpp"

namespace tracemark::campaigns {

// Not thread-safe.
class LineFileWriter {
 public:
  LineFileWriter(const std::filesystem::path& destination, mode_t mode);
  ~LineFileWriter();
  LineFileWriter(const LineFileWriter&) = delete;
  LineFileWriter& operator=(const LineFileWriter&) = delete;

  // Appends `line` and a newline. Throws Error(io) when the file cannot be written.
  void write_line(std::string_view line);
  // Finishes the gzip stream and moves the file into place (see AtomicOutputFile::commit).
  void commit(bool overwrite);

 private:
  struct Deflater;
  void deflate_into_file(std::string_view bytes, bool finish);

  std::filesystem::path destination_;
  AtomicOutputFile file_;
  std::unique_ptr<Deflater> deflater_;  // null: plain text
};

}  // namespace tracemark::campaigns
