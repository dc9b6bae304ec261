#include "tracemark/secret_file.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <cstring>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

// Closes the descriptor on every path out.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

}  // namespace

SecretText::~SecretText() { wipe(); }

SecretText::SecretText(SecretText&& other) noexcept : text_(std::move(other.text_)) { other.wipe(); }

SecretText& SecretText::operator=(SecretText&& other) noexcept {
  if (this != &other) {
    wipe();
    text_ = std::move(other.text_);
    other.wipe();
  }
  return *this;
}

void SecretText::wipe() noexcept {
  OPENSSL_cleanse(text_.data(), text_.size());
  text_.clear();
}

SecretText read_secret_file(const std::filesystem::path& path, std::string_view what, std::string_view when_missing,
                            std::size_t max_bytes) {
  const std::string name = path.string();
  const std::string prefix = std::string(what) + " " + name;
  const Descriptor file(::open(name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (file.get() < 0) {
    const int error = errno;
    if (error == ELOOP) {
      throw Error(ErrorCode::io, prefix + " is a symbolic link; a secret is read only from the file itself: give its real path");
    }
    throw Error(ErrorCode::io, prefix + " cannot be read: " + std::strerror(error) +
                                   (error == ENOENT && !when_missing.empty() ? "; " + std::string(when_missing) : ""));
  }
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) {
    throw Error(ErrorCode::io, prefix + " cannot be examined: " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    const char* kind = S_ISFIFO(info.st_mode) ? "a FIFO" : S_ISDIR(info.st_mode) ? "a folder" : "a device or socket";
    throw Error(ErrorCode::io, prefix + " is not a regular file (" + kind + "); give the path of the file itself");
  }
  if ((info.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    throw Error(ErrorCode::permission, prefix + " is readable or writable by group or others (mode " + mode +
                                           "); it holds a secret: run `chmod 600 " + name + "`");
  }
  if (static_cast<std::uint64_t>(info.st_size) > max_bytes) {
    throw Error(ErrorCode::invalid_input, prefix + " is " + std::to_string(info.st_size) + " bytes, more than a " +
                                              std::string(what) + " ever is (" + std::to_string(max_bytes) +
                                              "); is this the right file?");
  }
  std::string text(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(file.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      OPENSSL_cleanse(text.data(), text.size());
      throw Error(ErrorCode::io, prefix + " could not be read: " + std::strerror(error));
    }
    if (n == 0) break;  // the file shrank since fstat
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return SecretText(std::move(text));
}

}  // namespace tracemark
