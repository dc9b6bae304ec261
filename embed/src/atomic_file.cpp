#include "tracemark/atomic_file.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

std::string errno_text() { return std::strerror(errno); }

}  // namespace

AtomicOutputFile::AtomicOutputFile(std::filesystem::path destination, mode_t mode)
    : destination_(std::move(destination)) {
  std::filesystem::path folder = destination_.parent_path();
  if (folder.empty()) folder = ".";
  std::string pattern = (folder / ("." + destination_.filename().string() + ".tmp-XXXXXX")).string();
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  // mkstemp creates the file with mode 0600, so a secret is never readable by others even briefly.
  int fd = ::mkstemp(buffer.data());
  if (fd < 0) {
    throw Error(ErrorCode::io, "cannot create a file in " + folder.string() + ": " + errno_text() +
                                   "; check that the folder exists and is writable");
  }
  temporary_ = buffer.data();
  if (::fchmod(fd, mode) != 0) {
    int saved = errno;
    ::close(fd);
    std::filesystem::remove(temporary_);
    throw Error(ErrorCode::io, "cannot set permissions on " + temporary_.string() + ": " + std::strerror(saved));
  }
  ::close(fd);
  stream_.open(temporary_, std::ios::binary | std::ios::trunc);
  if (!stream_) {
    std::filesystem::remove(temporary_);
    throw Error(ErrorCode::io, "cannot open " + temporary_.string() + " for writing");
  }
}

AtomicOutputFile::~AtomicOutputFile() {
  if (!committed_) {
    stream_.close();
    std::error_code ignored;
    std::filesystem::remove(temporary_, ignored);
  }
}

void AtomicOutputFile::commit(bool overwrite) {
  stream_.flush();
  if (!stream_) {
    throw Error(ErrorCode::io, "writing " + destination_.string() + " failed (disk full?); nothing was written");
  }
  stream_.close();
  int fd = ::open(temporary_.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  if (overwrite) {
    if (::rename(temporary_.c_str(), destination_.c_str()) != 0) {
      throw Error(ErrorCode::io, "cannot move the new file into place at " + destination_.string() + ": " + errno_text());
    }
  } else {
    // link() fails with EEXIST instead of replacing: the no-overwrite check cannot race.
    if (::link(temporary_.c_str(), destination_.c_str()) != 0) {
      int saved = errno;
      if (saved == EEXIST) {
        throw Error(ErrorCode::io, destination_.string() + " already exists; it was left untouched "
                                   "(pass --force to replace it)");
      }
      throw Error(ErrorCode::io, "cannot create " + destination_.string() + ": " + std::strerror(saved));
    }
    ::unlink(temporary_.c_str());
  }
  committed_ = true;
}

bool same_file(const std::filesystem::path& a, const std::filesystem::path& b) {
  struct stat first{}, second{};
  return ::stat(a.c_str(), &first) == 0 && ::stat(b.c_str(), &second) == 0 && first.st_dev == second.st_dev &&
         first.st_ino == second.st_ino;
}

void write_file_atomically(const std::filesystem::path& destination, std::string_view content,
                           mode_t mode, bool overwrite) {
  AtomicOutputFile file(destination, mode);
  file.stream().write(content.data(), static_cast<std::streamsize>(content.size()));
  file.commit(overwrite);
}

}  // namespace tracemark
