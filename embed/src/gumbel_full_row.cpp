#include "gumbel_full_row.hpp"

#include <bit>
#include <limits>

#include "tracemark/embed/gumbel_max_scheme.hpp"

namespace tracemark::gumbel_detail {
namespace {

// ln(1 + x) for x in [sqrt(1/2) - 1, sqrt(2) - 1]: x - x^2/2 + x^3 P(x), P the degree-8 polynomial of
// Cephes' logf (relative error about 1e-7 over that range, and the form keeps it for small x).
inline float log1p_core(float x) {
  const float x2 = x * x;
  float p = 7.0376836292e-2f;
  p = p * x - 1.1514610310e-1f;
  p = p * x + 1.1676998740e-1f;
  p = p * x - 1.2420140846e-1f;
  p = p * x + 1.4249322787e-1f;
  p = p * x - 1.6668057665e-1f;
  p = p * x + 2.0000714765e-1f;
  p = p * x - 2.4999993993e-1f;
  p = p * x + 3.3333331174e-1f;
  return x + x2 * (x * p - 0.5f);
}

// ln x for a positive normal float, branch-free: x = 2^e m with m in [sqrt(1/2), sqrt(2)), then
// ln m = log1p_core(m - 1).
inline float fast_ln(float x) {
  const auto bits = std::bit_cast<std::uint32_t>(x);
  auto exponent = static_cast<std::int32_t>(bits >> 23) - 127;
  float mantissa = std::bit_cast<float>((bits & 0x007fffffu) | 0x3f800000u);  // [1, 2)
  // Selects on integer compares, both arms computed first (this file is also built without FP
  // traps, so that GCC if-converts and the loop vectorises).
  const bool high = (bits & 0x007fffffu) > 0x003504f3u;  // mantissa > sqrt(2)
  const float halved = mantissa * 0.5f;
  mantissa = high ? halved : mantissa;
  exponent += high ? 1 : 0;
  return static_cast<float>(exponent) * 0.693147180559945f + log1p_core(mantissa - 1.0f);
}

// approximate_gumbel's body, inlined into the vectorised loop.
inline float gumbel_of(std::uint64_t u) {
  // r as GumbelMaxScheme::unit_interval defines it, and its complement q = 1 - r, each from two
  // halves so that both keep single-precision relative accuracy however close r is to 0 or 1.
  // Below 1/2, r = (k + 1/2) 2^-53 (k = u >> 11, 53 bits). Above it, double arithmetic rounds
  // k + 1/2 to even: q = (c + 1 - (k & 1)) 2^-53 with c = 2^53 - 1 - k, held at 2^-53 or more
  // (unit_interval's clamp). Near r = 1 those half steps are most of q. The halves are 31 and 22
  // bits, so every conversion is from a non-negative int32 (AVX2 has that one, not the unsigned).
  const auto k_high = static_cast<std::int32_t>(u >> 33);
  const auto k_low = static_cast<std::int32_t>((u >> 11) & 0x3fffffu);
  const float r = static_cast<float>(k_high) * 0x1p-31f + (static_cast<float>(k_low) + 0.5f) * 0x1p-53f;
  const std::int32_t q_high = 0x7fffffff - k_high;
  const std::int32_t q_low_raw = 0x3fffff - k_low + 1 - (k_low & 1);
  const std::int32_t q_low = q_low_raw + static_cast<std::int32_t>((q_high | q_low_raw) == 0);  // q >= 2^-53
  const float q = static_cast<float>(q_high) * 0x1p-31f + static_cast<float>(q_low) * 0x1p-53f;
  // E = -ln r: from r up to r = sqrt(1/2), above it as -ln(1 - q) = -log1p_core(-q) (q < 0.293),
  // which keeps the relative accuracy of q as r nears 1. Then g = -ln E.
  const float from_r = -fast_ln(r);
  const float from_q = -log1p_core(-q);
  const float exponential = k_high < 1518500250 ? from_r : from_q;  // r < sqrt(1/2) = 1518500250 / 2^31
  return -fast_ln(exponential);
}

}  // namespace

float approximate_gumbel(std::uint64_t u) noexcept { return gumbel_of(u); }

__attribute__((target_clones("avx512f", "avx2", "default")))
float approximate_keys(const float* logits, const std::uint64_t* values, std::size_t count, std::uint64_t seed,
                       float* keys) noexcept {
  for (std::size_t t = 0; t < count; ++t) keys[t] = logits[t] + gumbel_of(GumbelMaxScheme::mix64(seed ^ values[t]));
  // Eight running maxima (one dependent chain is several times slower); NaN never wins a compare.
  float lanes[8];
  for (float& lane : lanes) lane = -std::numeric_limits<float>::infinity();
  std::size_t t = 0;
  for (; t + 8 <= count; t += 8) {
    for (std::size_t lane = 0; lane < 8; ++lane) lanes[lane] = keys[t + lane] > lanes[lane] ? keys[t + lane] : lanes[lane];
  }
  for (; t < count; ++t) lanes[0] = keys[t] > lanes[0] ? keys[t] : lanes[0];
  float largest = lanes[0];
  for (float lane : lanes) largest = lane > largest ? lane : largest;
  return largest;
}

}  // namespace tracemark::gumbel_detail
