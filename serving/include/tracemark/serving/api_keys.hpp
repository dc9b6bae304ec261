// The API keys a `tracemark serve` accepts, each mapped to the account it belongs to.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "tracemark/sha256.hpp"

namespace tracemark::serving {

// File format (docs/DESIGN.md, "Serving"): UTF-8 text, one `KEY ACCOUNT` pair a line separated by
// spaces or tabs; blank lines and lines starting with `#` are ignored. KEY: 16 to 512 printable
// ASCII characters without spaces; ACCOUNT: 1 to 128 characters of [A-Za-z0-9._@:+-]. A key may
// appear once. The file holds secrets, so it must not be readable by group or others.
//
// Only SHA-256 digests of the keys are kept in memory, and lookups compare digests, so neither the
// keys nor their lengths leak through timing. Immutable after loading: safe to share across threads.
class ApiKeyTable {
 public:
  // Throws Error(invalid_input) naming the file, line and byte offset (never the key itself),
  // Error(permission) for a file readable by others, Error(io) when it cannot be read.
  static ApiKeyTable load(const std::filesystem::path& path);

  // The account of a presented key, or nothing when the key is unknown.
  std::optional<std::string> account_of(std::string_view key) const;

  std::size_t size() const noexcept { return accounts_.size(); }

 private:
  std::map<Sha256Digest, std::string> accounts_;
};

// The token of an `Authorization: Bearer TOKEN` header value (scheme case-insensitive), or
// nothing when the header is not a bearer credential.
std::optional<std::string_view> bearer_token(std::string_view authorization);

}  // namespace tracemark::serving
