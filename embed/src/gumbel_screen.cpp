#include "gumbel_screen.hpp"

#include <bit>
#include <limits>

#include "tracemark/embed/gumbel_max_scheme.hpp"

namespace tracemark::gumbel_detail {
namespace {

constexpr float kLn2RoundedUp = 0.693147182464599609375f;  // the float nearest ln 2, above it

inline float bound_of(std::uint32_t k) {
  // v < 2^31 converts as a non-negative int32 (AVX2 has that conversion, not the unsigned one).
  const auto v = static_cast<std::int32_t>(~k >> 1);
  const auto bits = std::bit_cast<std::uint32_t>(static_cast<float>(v));
  const auto exponent = static_cast<std::int32_t>(bits >> 23) - 127;  // v = 0: bits 0, exponent -127 (a loose, safe bound)
  const float mantissa = std::bit_cast<float>((bits & 0x007fffffu) | 0x3f800000u);  // [1, 2)
  return (static_cast<float>(32 - exponent) - mantissa) * kLn2RoundedUp;
}

}  // namespace

float bound_v2(std::uint32_t k) noexcept { return bound_of(k); }

__attribute__((target_clones("avx512f", "avx2", "default")))
void screen_v2(const float* logits, const std::uint32_t* values, std::size_t count, std::uint64_t seed, float floor,
               std::uint8_t* flags) noexcept {
  for (std::size_t t = 0; t < count; ++t) {
    flags[t] = logits[t] + bound_of(GumbelMaxScheme::value_v2(seed, values[t])) >= floor ? 1 : 0;
  }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
std::size_t first_largest(const float* logits, std::size_t count) noexcept {
  // Eight running maxima with the index where each was first seen (strict compares keep the first;
  // NaN never wins one), then the largest of the lanes, the lowest index among equal ones.
  float lanes[8];
  std::uint32_t where[8] = {};
  for (float& lane : lanes) lane = -std::numeric_limits<float>::infinity();
  std::size_t t = 0;
  for (; t + 8 <= count; t += 8) {
    for (std::size_t lane = 0; lane < 8; ++lane) {
      const bool above = logits[t + lane] > lanes[lane];
      lanes[lane] = above ? logits[t + lane] : lanes[lane];
      where[lane] = above ? static_cast<std::uint32_t>(t + lane) : where[lane];
    }
  }
  for (; t < count; ++t) {
    if (logits[t] > lanes[t % 8]) {
      lanes[t % 8] = logits[t];
      where[t % 8] = static_cast<std::uint32_t>(t);
    }
  }
  std::size_t best = count;
  float largest = -std::numeric_limits<float>::infinity();
  for (std::size_t lane = 0; lane < 8; ++lane) {
    if (!(lanes[lane] > -std::numeric_limits<float>::infinity())) continue;
    if (best == count || lanes[lane] > largest || (lanes[lane] == largest && where[lane] < best)) {
      largest = lanes[lane];
      best = where[lane];
    }
  }
  return best;
}

}  // namespace tracemark::gumbel_detail
