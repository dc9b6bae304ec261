// Base64 (RFC 4648, standard alphabet, padded) and SHA-256, for vocabulary files and digests.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tracemark {

std::string base64_encode(std::string_view bytes);
// The decoded bytes, or nothing when `text` is not padded standard base64.
std::optional<std::string> base64_decode(std::string_view text);
// Lowercase hex SHA-256 (OpenSSL).
std::string sha256_hex(std::string_view bytes);

}  // namespace tracemark
