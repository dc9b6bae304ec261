#include "gumbel_screen.hpp"

#include <bit>
#include <cstring>
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
std::size_t screen_v2(const float* logits, const std::uint32_t* values, std::size_t count, std::uint64_t seed, float floor,
                      std::uint8_t* flags) noexcept {
  std::uint32_t flagged = 0;  // a row has fewer than 2^32 ids (vocab_size is 32-bit)
  for (std::size_t t = 0; t < count; ++t) {
    const bool pass = logits[t] + bound_of(GumbelMaxScheme::value_v2(seed, values[t])) >= floor;
    flags[t] = pass ? 1 : 0;
    flagged += pass ? 1 : 0;
  }
  return flagged;
}

// Eight lanes of (largest logit, block where it was first seen), in GCC's vector extensions so that
// the compare-and-select compiles to vector instructions (plain loops of this shape do not vectorise).
using Floats8 = float __attribute__((vector_size(32)));
using Ints8 = std::int32_t __attribute__((vector_size(32)));

__attribute__((target_clones("avx512f", "avx2", "default")))
std::size_t first_largest(const float* logits, std::size_t count) noexcept {
  const float minus_infinity = -std::numeric_limits<float>::infinity();
  Floats8 lanes = {minus_infinity, minus_infinity, minus_infinity, minus_infinity,
                   minus_infinity, minus_infinity, minus_infinity, minus_infinity};
  Ints8 where = {0, 0, 0, 0, 0, 0, 0, 0};
  const std::size_t blocks = count / 8;
  for (std::size_t block = 0; block < blocks; ++block) {
    Floats8 row;
    std::memcpy(&row, logits + 8 * block, sizeof row);
    const Ints8 above = row > lanes;  // strict: a lane keeps the first block of its maximum; NaN never wins
    lanes = above ? row : lanes;
    const auto here = static_cast<std::int32_t>(block);
    where = above ? Ints8{here, here, here, here, here, here, here, here} : where;
  }
  float largest = minus_infinity;
  std::size_t best = count;
  for (int lane = 0; lane < 8; ++lane) {
    const auto index = 8 * static_cast<std::size_t>(where[lane]) + static_cast<std::size_t>(lane);
    if (!(lanes[lane] > minus_infinity)) continue;
    if (best == count || lanes[lane] > largest || (lanes[lane] == largest && index < best)) {
      largest = lanes[lane];
      best = index;
    }
  }
  for (std::size_t t = 8 * blocks; t < count; ++t) {  // the last few ids come after every block
    if (logits[t] > largest) {  // largest is -infinity while nothing is found, so the first finite id wins
      largest = logits[t];
      best = t;
    }
  }
  return best;
}

}  // namespace tracemark::gumbel_detail
