// The Gumbel-max (exponential) sampling scheme (Aaronson 2022; Fernandez et al., "Three Bricks to
// Consolidate Watermarks for LLMs", 2023). Distortion-free: for every context the chosen token is
// distributed exactly as the model's softmax, because the key only replaces the sampler's
// randomness. The single definition used by serving (GumbelMaxSampler) and detection
// (GumbelMaxDetector, the scan).
//
// Definition (docs/METHOD.md states it in full):
//   seed(c)   = ContextPrf under HKDF(secret, "tracemark/v1/gumbel-max/context-prf", 16) (context_prf.hpp)
//   R[t]      = the little-endian u64 at byte 8t of the AES-256-CTR keystream (zero counter block)
//               under HKDF(secret, "tracemark/v1/gumbel-max/token-values", 32): one keyed value per id
//   u(c, t)   = mix64(seed(c) XOR R[t]), mix64 the splitmix64 finalizer (a bijection on 64 bits)
//   r(c, t)   = ((u >> 11) + 1/2) / 2^53, in (0, 1)
//   choose    = argmax_t r(c, t)^(1 / p_t) = argmax_t (logit_t - ln(-ln r(c, t)))  (the Gumbel-max trick)
//   score     = -ln(1 - r(c, t)), exactly Exp(1) up to the 2^-53 grid when r is uniform
// For a fixed (c, t) and a random key, seed(c) XOR R[t] is uniform and mix64 is a bijection, so r(c, t)
// is uniform: a text written without the key scores Exp(1) per distinct tuple, and distinct contexts
// have independent seeds (a PRF). Two tokens of one context share the seed; their values differ
// through independent keyed R[t], mixed (docs/METHOD.md discusses what this assumes).
//
// Version 2 (issue 18: a per-id function in the green list's class, 32-bit and vectorisable):
//   seed(c)   = ContextPrf under HKDF(secret, "tracemark/v2/gumbel-max/context-prf", 16)
//   R[t]      = the little-endian u32 at byte 4t of the AES-256-CTR keystream under
//               HKDF(secret, "tracemark/v2/gumbel-max/token-values", 32)
//   k(c, t)   = lowbias32(low32(seed(c)) XOR R[t]) XOR high32(seed(c))  (lowbias32: a bijection on 32 bits)
//   r(c, t)   = (k + 1/2) / 2^32;  choose as above
//   score     = -ln(1 - k / 2^32): the lower end of r's cell, so it is never above the -ln(1 - U) of a
//               continuous uniform U in that cell, and a sum of n scores is stochastically below
//               Gamma(n, 1): the Gamma tail stays a valid (very slightly conservative) p-value.
// The full-vocabulary choice screens ids with a bound computed from k's exponent, without logarithms
// (gumbel_screen.hpp), and takes the exact key of the few that could win.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "tracemark/embed/green_list_scheme.hpp"  // Candidate
#include "tracemark/embed/key.hpp"

namespace tracemark {

class ContextPrf;

// Immutable after construction; share one instance across threads.
class GumbelMaxScheme {
 public:
  // Error(invalid_argument) for a key of another scheme (scheme_catalog.hpp).
  explicit GumbelMaxScheme(const WatermarkKey& key);

  // Seed for a context of exactly context_width() ids.
  std::uint64_t context_seed(std::span<const std::uint32_t> context) const noexcept;
  // Seeds of many contexts (back to back, context_width() ids each), batched through the PRF.
  void context_seeds(std::span<const std::uint32_t> contexts, std::span<std::uint64_t> seeds) const;

  static std::uint64_t mix64(std::uint64_t x) noexcept {
    // splitmix64's output function (Steele, Lea, Flood 2014): a bijection with full avalanche.
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
  }
  // The top 53 bits k as a double strictly inside (0, 1): (k + 1/2) 2^-53 as double arithmetic
  // rounds it (above 1/2 the half is rounded to even, so r lies on the 2^-53 grid), with the top k,
  // which would round to exactly 1 (an infinite score), held at 1 - 2^-53.
  static double unit_interval(std::uint64_t bits) noexcept {
    const double r = (static_cast<double>(bits >> 11) + 0.5) * 0x1p-53;
    return r < 1.0 ? r : 1.0 - 0x1p-53;
  }
  // Version 2's 32-bit value k(c, t) from the token's keyed R[t].
  static std::uint32_t value_v2(std::uint64_t seed, std::uint32_t token_value) noexcept {
    std::uint32_t x = static_cast<std::uint32_t>(seed) ^ token_value;
    x ^= x >> 16;  // lowbias32 (C. Wellons, hash-prospector), as the green list's mix32
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x ^ static_cast<std::uint32_t>(seed >> 32);
  }
  static double unit_interval_v2(std::uint32_t k) noexcept { return (static_cast<double>(k) + 0.5) * 0x1p-32; }

  // r(c, t) for a context seed and a token id < vocab_size() (callers check ids).
  double uniform(std::uint64_t seed, std::uint32_t token) const noexcept {
    if (version_ >= 2) return unit_interval_v2(value_v2(seed, token_values32_[token]));
    return unit_interval(mix64(seed ^ token_values_[token]));
  }
  // The detector's per-tuple score -ln(1 - r): Exp(1) under the null.
  double score(std::uint64_t seed, std::uint32_t token) const noexcept;

  // The keyed choice over full-vocabulary logits indexed by id. Needs logits.size() >= vocab_size()
  // (Error(invalid_argument) otherwise); columns past the vocabulary (padding) are never chosen,
  // nor are entries of -infinity (masked) unless every entry is, which is Error(invalid_argument).
  std::uint32_t choose_token(std::uint64_t seed, std::span<const float> logits) const;
  // The keyed choice among candidates (any order, any subset); returns the chosen id. Error for an
  // id >= vocab_size() or an empty array.
  std::uint32_t choose_candidate(std::uint64_t seed, std::span<const Candidate> candidates) const;
  // The same two choices with the uniforms drawn from `random` instead of the key: exact sampling
  // from the softmax, for steps that are not scored (a repeated context).
  std::uint32_t choose_token_unkeyed(std::mt19937_64& random, std::span<const float> logits) const;
  std::uint32_t choose_candidate_unkeyed(std::mt19937_64& random, std::span<const Candidate> candidates) const;

  std::uint32_t context_width() const noexcept { return context_width_; }
  std::uint32_t vocab_size() const noexcept { return vocab_size_; }
  std::uint32_t version() const noexcept { return version_; }

 private:
  std::uint32_t choose_token_v2(std::uint64_t seed, std::span<const float> logits) const;

  std::shared_ptr<const ContextPrf> prf_;
  std::uint32_t context_width_;
  std::uint32_t vocab_size_;
  std::uint32_t version_;
  std::vector<std::uint64_t> token_values_;    // version 1: R[0 .. vocab_size)
  std::vector<std::uint32_t> token_values32_;  // version 2: R[0 .. vocab_size)
};

}  // namespace tracemark
