// The keyed Gumbel-max choice over a full-vocabulary row, fast and still exact. The definition
// (gumbel_max_scheme.hpp) is argmax_t logit_t - ln(-ln r(c, t)) in double precision, two library
// logarithms per id: 150-200x the green list's step. Here:
//   pass 1 (vectorised, single precision, no libm): v_t = logit_t + g~_t, where g~_t approximates
//     -ln(-ln r) to within kGumbelApproximationError (tested), and M = max_t v_t;
//   pass 2: the exact double key of every id with v_t >= M - margin, margin twice the worst error
//     of a v_t (approximation plus the rounding of the float sum). The winner is among them: its
//     v is within the error of its key, which is the largest key, and M is within the error of a
//     key no larger. So the choice is the definition's, tie-breaking (lowest id) included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tracemark::gumbel_detail {

// |g~ - (-ln(-ln r))| for every 64-bit value the scheme can draw is below this (the test measures
// the worst case over 10^7 draws and the extremes and requires it to be under a fifth of this).
inline constexpr double kGumbelApproximationError = 1e-4;

// -ln(-ln r) approximated in single precision from the mixed 64-bit value u (r = ((u >> 11) + 1/2)
// / 2^53). Exposed for the test of its error.
float approximate_gumbel(std::uint64_t u) noexcept;

// Pass 1 over ids 0 .. count-1: keys[t] = logits[t] + approximate_gumbel(mix64(seed ^ values[t]));
// returns the largest (-infinity when none is above it; NaN entries never count).
float approximate_keys(const float* logits, const std::uint64_t* values, std::size_t count, std::uint64_t seed,
                       float* keys) noexcept;

}  // namespace tracemark::gumbel_detail
