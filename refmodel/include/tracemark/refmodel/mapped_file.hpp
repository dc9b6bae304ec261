// A read-only memory mapping of a whole file.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>

namespace tracemark {

// Owns the mapping; move-only. The bytes are immutable and may be read from any number of threads.
// Moving keeps the mapped address, so spans into bytes() stay valid across moves.
class MappedFile {
 public:
  // Throws Error(io) naming the file when it cannot be opened or mapped. An empty file maps to an
  // empty span.
  MappedFile() = default;  // maps nothing
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }

 private:
  void release() noexcept;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace tracemark
