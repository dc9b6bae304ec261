// The one byte encoding of token ids that every keyed or unkeyed hash in tracemark uses: ids as
// little-endian u32, so hashes do not depend on the host's byte order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tracemark {

// Longest id sequence any scheme hashes: a context of up to 16 ids plus one token.
inline constexpr std::size_t kMaxHashedIds = 17;

// Writes min(ids.size(), kMaxHashedIds) ids to out (4 bytes each); returns the bytes written.
inline std::size_t encode_ids_little_endian(std::span<const std::uint32_t> ids,
                                            std::uint8_t (&out)[4 * kMaxHashedIds]) noexcept {
  std::size_t length = 0;
  for (std::uint32_t id : ids.first(ids.size() < kMaxHashedIds ? ids.size() : kMaxHashedIds)) {
    out[length++] = static_cast<std::uint8_t>(id);
    out[length++] = static_cast<std::uint8_t>(id >> 8);
    out[length++] = static_cast<std::uint8_t>(id >> 16);
    out[length++] = static_cast<std::uint8_t>(id >> 24);
  }
  return length;
}

}  // namespace tracemark
