// Secret files (keys, signing keys, API keys) are opened first and checked on the open descriptor:
// links, FIFOs, devices and folders are refused without blocking, and so are group or other bits.
#include "tracemark/secret_file.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "test_support.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

namespace fs = std::filesystem;

void expect_refused(const fs::path& path, ErrorCode code, const std::string& words) {
  try {
    read_secret_file(path, "key file", "make one");
    ADD_FAILURE() << path << " was read";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

TEST(SecretFile, ReadsAPrivateRegularFile) {
  testing::TemporaryFolder folder;
  const fs::path path = folder.path() / "secret";
  std::ofstream(path) << "s3cret bytes";
  ::chmod(path.c_str(), 0600);
  EXPECT_EQ(read_secret_file(path, "key file", "make one").view(), "s3cret bytes");
}

TEST(SecretFile, RefusesWhatIsNotAPrivateRegularFile) {
  testing::TemporaryFolder folder;
  const fs::path file = folder.path() / "secret";
  std::ofstream(file) << "s3cret";
  ::chmod(file.c_str(), 0640);
  expect_refused(file, ErrorCode::permission, "is readable or writable by group or others (mode 0640)");
  ::chmod(file.c_str(), 0600);
  const fs::path link = folder.path() / "link";
  fs::create_symlink(file, link);
  expect_refused(link, ErrorCode::io, "is a symbolic link");
  // A FIFO (mode 0600, so a stat-then-open check would pass) must not block the reader.
  const fs::path fifo = folder.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_refused(fifo, ErrorCode::io, "is not a regular file");
  const fs::path folder_path = folder.path() / "folder";
  fs::create_directory(folder_path);
  ::chmod(folder_path.c_str(), 0700);
  expect_refused(folder_path, ErrorCode::io, "is not a regular file");
  expect_refused(folder.path() / "absent", ErrorCode::io, "cannot be read: No such file or directory; make one");
}

// Key files go through it: a FIFO named as a key is refused at once.
TEST(SecretFile, KeyFilesAreReadThroughIt) {
  testing::TemporaryFolder folder;
  const fs::path fifo = folder.path() / "key.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THROW(WatermarkKey::load(fifo), Error);
}

}  // namespace
}  // namespace tracemark
