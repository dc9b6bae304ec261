// Base64 (RFC 4648, standard alphabet, padded), for vocabulary files and signatures; with it the
// project's SHA-256 helper (tracemark/sha256.hpp), which vocabulary digests use.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tracemark/sha256.hpp"

namespace tracemark {

std::string base64_encode(std::string_view bytes);
// The decoded bytes, or nothing when `text` is not padded standard base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace tracemark
