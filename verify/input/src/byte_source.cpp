#include "byte_source.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <vector>
#include <zlib.h>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

class FileByteSource : public ByteSource {
 public:
  FileByteSource(const std::string& path, std::string name) : name_(std::move(name)) {
    if (path == "-") {
      fd_ = STDIN_FILENO;
      return;
    }
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      throw Error(ErrorCode::io, "cannot open input " + name_ + ": " + std::strerror(errno) + "; check the path and permissions");
    }
    owned_ = true;
  }
  ~FileByteSource() override {
    if (owned_) ::close(fd_);
  }
  FileByteSource(const FileByteSource&) = delete;
  FileByteSource& operator=(const FileByteSource&) = delete;

  std::size_t read(char* data, std::size_t capacity) override {
    for (;;) {
      const ssize_t got = ::read(fd_, data, capacity);
      if (got >= 0) return static_cast<std::size_t>(got);
      if (errno != EINTR) throw Error(ErrorCode::io, "reading " + name_ + " failed: " + std::strerror(errno));
    }
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool owned_ = false;
};

class GzipByteSource : public ByteSource {
 public:
  GzipByteSource(std::unique_ptr<ByteSource> file, std::string name)
      : file_(std::move(file)), name_(std::move(name)), input_(1 << 17) {
    if (inflateInit2(&stream_, 15 + 16) != Z_OK) throw Error(ErrorCode::internal, "zlib could not be initialised");
  }
  ~GzipByteSource() override { inflateEnd(&stream_); }
  GzipByteSource(const GzipByteSource&) = delete;
  GzipByteSource& operator=(const GzipByteSource&) = delete;

  std::size_t read(char* data, std::size_t capacity) override {
    const auto wanted = static_cast<uInt>(std::min<std::size_t>(capacity, 1u << 30));
    if (wanted == 0) return 0;
    stream_.next_out = reinterpret_cast<Bytef*>(data);
    stream_.avail_out = wanted;
    while (stream_.avail_out == wanted) {
      if (stream_.avail_in == 0 && !refill()) {
        if (in_member_) fail("ends inside a gzip stream (the file is truncated)");
        return 0;
      }
      if (!in_member_) {
        // Between members: only another gzip member may follow (gzip -d reads concatenated members).
        if (stream_.avail_in < 2 && !top_up()) fail("has bytes after its gzip stream that are not gzip data");
        if (stream_.next_in[0] != 0x1f || stream_.next_in[1] != 0x8b) {
          fail(members_ == 0 ? "is not gzip data (a name ending in .gz promises it)"
                             : "has bytes after its gzip stream that are not gzip data");
        }
        inflateReset(&stream_);
        in_member_ = true;
      }
      const uInt before = stream_.avail_in;
      const int status = inflate(&stream_, Z_NO_FLUSH);
      consumed_ += before - stream_.avail_in;
      if (status == Z_STREAM_END) {
        in_member_ = false;
        ++members_;
      } else if ((status != Z_OK && status != Z_BUF_ERROR) || (status == Z_BUF_ERROR && stream_.avail_in == before && before > 0)) {
        fail(std::string("holds corrupt gzip data (") + (stream_.msg ? stream_.msg : "zlib error") + ")");
      }
    }
    return wanted - stream_.avail_out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorCode::invalid_input, name_ + " " + what + " at compressed byte offset " + std::to_string(consumed_) +
                                              "; check the file (gzip -t " + name_ + ")");
  }
  // Reads more compressed bytes when none are left; false at the end of the file.
  bool refill() {
    const std::size_t got = file_->read(reinterpret_cast<char*>(input_.data()), input_.size());
    stream_.next_in = input_.data();
    stream_.avail_in = static_cast<uInt>(got);
    return got > 0;
  }
  // Makes at least two bytes available (a gzip magic number) when the file has them.
  bool top_up() {
    std::memmove(input_.data(), stream_.next_in, stream_.avail_in);
    std::size_t have = stream_.avail_in;
    while (have < 2) {
      const std::size_t got = file_->read(reinterpret_cast<char*>(input_.data() + have), input_.size() - have);
      if (got == 0) break;
      have += got;
    }
    stream_.next_in = input_.data();
    stream_.avail_in = static_cast<uInt>(have);
    return have >= 2;
  }

  std::unique_ptr<ByteSource> file_;
  std::string name_;
  std::vector<Bytef> input_;
  z_stream stream_{};
  bool in_member_ = false;
  std::uint64_t members_ = 0;
  std::uint64_t consumed_ = 0;  // compressed bytes handed to inflate
};

}  // namespace

std::unique_ptr<ByteSource> open_byte_source(const std::string& path, const std::string& name) {
  auto file = std::make_unique<FileByteSource>(path, name);
  if (path.size() > 3 && path.ends_with(".gz")) return std::make_unique<GzipByteSource>(std::move(file), name);
  return file;
}

}  // namespace tracemark
