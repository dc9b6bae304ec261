// Reading a file that holds a secret: a watermark key, a signing key, the API keys of a server.
// The one rule for all of them: open first, then check what was opened (fstat on the descriptor),
// so nothing can be swapped in between a check and the read.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace tracemark {

// The bytes of a secret file; wiped (OPENSSL_cleanse) when destroyed. Move-only.
class SecretText {
 public:
  SecretText() = default;
  explicit SecretText(std::string text) : text_(std::move(text)) {}
  ~SecretText();
  SecretText(SecretText&& other) noexcept;
  SecretText& operator=(SecretText&& other) noexcept;
  SecretText(const SecretText&) = delete;
  SecretText& operator=(const SecretText&) = delete;

  std::string_view view() const noexcept { return text_; }

 private:
  void wipe() noexcept;
  std::string text_;
};

// Opens `path` with O_NOFOLLOW and O_NONBLOCK (a symbolic link is refused, and a FIFO or device
// cannot block the call), then checks the open descriptor: a regular file, of at most `max_bytes`,
// with no permission bits for group or others (mode 0600 or stricter). `what` names the file in
// messages ("key file"); `when_missing` says what to do when it does not exist ("make one with
// `tracemark keygen --out key.json`"). Throws Error(io) when it cannot be opened or is not a regular
// file, Error(permission) for group or other bits (the message gives the mode and the chmod to run),
// Error(invalid_input) for a file larger than max_bytes (it is not read). Messages never hold the
// file's content.
SecretText read_secret_file(const std::filesystem::path& path, std::string_view what, std::string_view when_missing,
                            std::size_t max_bytes = std::size_t{16} << 20);

}  // namespace tracemark
