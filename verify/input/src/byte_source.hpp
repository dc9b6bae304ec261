// The bytes of an input file in blocks: a plain file or standard input as they are, a gzip file
// decompressed (zlib's inflate, so that everything after the last gzip member is checked).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace tracemark {

// Not thread-safe.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to `capacity` bytes into `data`; 0 only at the end. Throws Error(io) when reading fails and
  // Error(invalid_input) for damaged compressed data (naming the file and the compressed offset).
  virtual std::size_t read(char* data, std::size_t capacity) = 0;
};

// "-" (shown as name "<stdin>") reads standard input; a path ending in .gz is decompressed. One or
// more concatenated gzip members are read (as gzip -d does); anything else after the last member,
// or a file that ends inside one, is an error. Throws Error(io) when the file cannot be opened.
std::unique_ptr<ByteSource> open_byte_source(const std::string& path, const std::string& name);

}  // namespace tracemark
