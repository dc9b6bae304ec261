// The keyed 64-bit value per token id that the sampling schemes mix with a context's seed
// (gumbel_max_scheme.hpp, tournament_scheme.hpp): R[t] is the little-endian u64 at byte 8t of the
// AES-256-CTR keystream (zero counter block) under HKDF(secret, purpose, 32), for t < vocab_size;
// the 32-bit table (Gumbel-max version 2) is the little-endian u32 at byte 4t of such a stream.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tracemark/embed/key.hpp"

namespace tracemark {

std::vector<std::uint64_t> keyed_token_values64(const WatermarkKey& key, std::string_view purpose);
std::vector<std::uint32_t> keyed_token_values32(const WatermarkKey& key, std::string_view purpose);

}  // namespace tracemark
