// Writing files so that readers never see a half-written one: content goes to a temporary file in
// the destination's folder and is renamed into place only on commit(). An uncommitted file (an
// exception, a crash of the writer's scope) is removed.
#pragma once

#include <filesystem>
#include <fstream>
#include <string_view>
#include <sys/types.h>

namespace tracemark {

// Not thread-safe; one writer per destination.
class AtomicOutputFile {
 public:
  // mode: permission bits of the final file (for example 0600 for secrets, 0644 otherwise).
  AtomicOutputFile(std::filesystem::path destination, mode_t mode);
  ~AtomicOutputFile();
  AtomicOutputFile(const AtomicOutputFile&) = delete;
  AtomicOutputFile& operator=(const AtomicOutputFile&) = delete;

  std::ostream& stream() { return stream_; }

  // Flushes, fsyncs and moves the file into place. With overwrite = false an existing destination
  // is an error (ErrorCode::io) and is left untouched; the check and the move are one atomic step.
  void commit(bool overwrite);

 private:
  std::filesystem::path destination_;
  std::filesystem::path temporary_;
  std::ofstream stream_;
  bool committed_ = false;
};

// True when both paths name one existing file (the same device and inode, whatever the spelling,
// links included): a command refuses to write its output over its own input.
bool same_file(const std::filesystem::path& a, const std::filesystem::path& b);

// Convenience for small files.
void write_file_atomically(const std::filesystem::path& destination, std::string_view content,
                           mode_t mode, bool overwrite);

}  // namespace tracemark
