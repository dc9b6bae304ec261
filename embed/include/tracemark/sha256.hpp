// SHA-256 (OpenSSL) and lowercase hex: the one digest helper of every part (key commitments,
// tokenizer vocabularies, pinned files, evidence bundles, API-key lookups).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tracemark {

using Sha256Digest = std::array<std::uint8_t, 32>;

Sha256Digest sha256(std::string_view bytes);
Sha256Digest sha256(std::span<const std::uint8_t> bytes);
// Lowercase hex of sha256(bytes): 64 digits.
std::string sha256_hex(std::string_view bytes);

// Incremental SHA-256 for data that arrives in pieces (files read in blocks). Not thread-safe.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view bytes);
  // The digest of everything given to update(); the object must not be used afterwards.
  Sha256Digest finish();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// Lowercase hex SHA-256 of a file, read in blocks (inputs may be gigabytes); `bytes` receives its
// size. Throws Error(io) naming the file when it cannot be read to the end.
std::string sha256_file(const std::filesystem::path& path, std::uint64_t& bytes);

// Lowercase hex of any bytes.
std::string to_hex(std::span<const std::uint8_t> bytes);
std::string to_hex(std::string_view bytes);
// The bytes of an even-length hex text (either case); nothing on odd length or a non-hex digit.
std::optional<std::vector<std::uint8_t>> from_hex(std::string_view hex);

}  // namespace tracemark
