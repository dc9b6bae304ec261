// Gumbel-max version 2's full-vocabulary choice without a logarithm per id (gumbel_max_scheme.hpp
// gives the definition: argmax_t logit_t - ln(-ln r_t), r_t = (k_t + 1/2) 2^-32).
//
// An upper bound of -ln(-ln r) from k alone: with q = 1 - r = (~k + 1/2) 2^-32, -ln r >= q, so
// -ln(-ln r) <= -ln q < (32 - log2(~k)) ln 2; and log2(~k) >= 1 + log2 v with v = (~k) >> 1, which
// is at least e + (m - 1) for float(v) = 2^e m, m in [1, 2) (log2 m >= m - 1 on [1, 2]). So
//   bound(k) = (32 - e - m) ln 2  >=  -ln(-ln r)   (up to float rounding, which the margin covers).
// Screen: flag every id with logit + bound(k) >= floor, floor = (the exact key of one id) - margin.
// Every id whose exact key reaches that id's key is flagged, the winner included; the bound is within
// a factor of about 1.06 of the exact threshold, so on a model's row only a few ids are flagged
// (about 1 / p_max of them), and only they get the two logarithms of the exact key. On a near-flat
// row many pass; the choice then raises the floor to the best exact key of a sample of them and
// screens again.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tracemark::gumbel_detail {

// The bound above for a version-2 value k (exposed for its test).
float bound_v2(std::uint32_t k) noexcept;

// flags[t] = 1 when logits[t] + bound_v2(value_v2(seed, values[t])) >= floor, else 0, for t < count;
// returns how many are flagged. NaN and -infinity logits are never flagged.
std::size_t screen_v2(const float* logits, const std::uint32_t* values, std::size_t count, std::uint64_t seed, float floor,
                      std::uint8_t* flags) noexcept;

// The first index of the largest logit, NaN never counting; count when none is above -infinity.
std::size_t first_largest(const float* logits, std::size_t count) noexcept;

}  // namespace tracemark::gumbel_detail
