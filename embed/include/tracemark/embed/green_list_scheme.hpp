// The keyed green-list scheme (KGW family: Kirchenbauer et al., ICML 2023). This is the single
// definition of green-ness: embed/ uses it to bias logits and verify/ to score text, so the two
// can never disagree.
//
// Definition (docs/METHOD.md and docs/DESIGN.md state it in full):
//   seed(c)      = XXH3_64bits_withSecret(c as little-endian u32 ids, S), S = HKDF(secret,
//                  "tracemark/v1/kgw-green-list/context-hash", 192 bytes); c = previous h ids.
//   version 1:   value(c, t) = mix32(t XOR low32(seed(c))) XOR high32(seed(c)), mix32 a bijective 32-bit mixer.
//   version 2:   value(c, t) = (R[t] * (low32(seed(c)) OR 1) mod 2^32) XOR high32(seed(c)), where R[t] is
//                the little-endian u32 at byte 4t of the AES-256-CTR keystream (zero counter block) under
//                K = HKDF(secret, "tracemark/v2/kgw-green-list/token-values", 32 bytes): one keyed
//                pseudo-random value per token id, computed once per key.
//   version 3:   version 2's value, but seed(c) is the AES-128 PRF of the context (context_prf.hpp) under
//                HKDF(secret, "tracemark/v3/kgw-green-list/context-prf", 16 bytes), not keyed XXH3.
//   green(c, t)  = value(c, t) < T, with T = round(gamma * 2^32).
// In both versions high32(seed) is XORed last, so for a secret drawn at random value(c, t) is uniform
// on 32 bits for every fixed (c, t): a text written without the key is green with probability exactly
// T / 2^32 per distinct tuple. In version 2, distinct tokens of one context have independent values
// (R[t] are independent and multiplying by an odd number is a bijection), and the per-token work of
// the full-vocabulary path is one load, one multiply, one XOR and one compare.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "tracemark/embed/key.hpp"

namespace tracemark {

class ContextPrf;

// One entry of a candidate array (for example after top-k): the array is not indexed by id,
// need not be sorted and may cover any subset of the vocabulary.
struct Candidate {
  std::uint32_t id;
  float logit;
};

// Immutable after construction; share one instance across threads (all methods are const and
// touch no mutable state).
class GreenListScheme {
 public:
  // Error(invalid_argument) for a key of another scheme (scheme_catalog.hpp).
  explicit GreenListScheme(const WatermarkKey& key);

  // Seed for a context of exactly context_width() token ids (the ids just before the token).
  std::uint64_t context_seed(std::span<const std::uint32_t> context) const noexcept;

  static std::uint32_t mix32(std::uint32_t x) noexcept {
    // "lowbias32" (C. Wellons, hash-prospector): a bijection with low avalanche bias.
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
  }
  // Version 1's value (the scheme's own definition; independent of the key but for the seed).
  static std::uint32_t green_value(std::uint64_t seed, std::uint32_t token) noexcept {
    return mix32(token ^ static_cast<std::uint32_t>(seed)) ^ static_cast<std::uint32_t>(seed >> 32);
  }
  // Version 2's value from the token's keyed value R[t] (token_values()).
  static std::uint32_t green_value_v2(std::uint64_t seed, std::uint32_t token_value) noexcept {
    return (token_value * (static_cast<std::uint32_t>(seed) | 1u)) ^ static_cast<std::uint32_t>(seed >> 32);
  }
  // This key's value for (context seed, token). In version 2 a token id >= vocab_size() has no value
  // and gets 0xFFFFFFFF (never green; callers check ids first).
  std::uint32_t value(std::uint64_t seed, std::uint32_t token) const noexcept {
    if (version_ == 1) return green_value(seed, token);
    return token < token_values_.size() ? green_value_v2(seed, token_values_[token]) : 0xFFFFFFFFu;
  }
  bool is_green(std::uint64_t seed, std::uint32_t token) const noexcept { return value(seed, token) < threshold_; }
  // The colours of many (context, token) tuples at once, by the same definition: green[i] = 1 when
  // is_green(context_seed(contexts[i*h .. (i+1)*h)), tokens[i]), else 0 (h = context_width()). For a
  // scan that colours its distinct tuples key by key: one tight loop per key keeps the key's hash
  // secret and token values in cache. Needs contexts.size() == h * tokens.size() and
  // green.size() == tokens.size() (Error(internal) otherwise). Returns how many are green.
  std::size_t green_flags(std::span<const std::uint32_t> contexts, std::span<const std::uint32_t> tokens,
                          std::span<std::uint8_t> green) const;

  // Adds delta to every green entry of a logits array indexed by token id, for the ids below
  // vocab_size() that the array holds; entries at or beyond vocab_size() (an engine's padding
  // columns) are left unchanged, in every scheme version. Vectorised (AVX2 or AVX-512 when available).
  void bias_logits(std::uint64_t seed, std::span<float> logits) const noexcept;
  // Adds delta to green candidates. Throws Error(invalid_argument) for an id >= vocab_size().
  void bias_candidates(std::uint64_t seed, std::span<Candidate> candidates) const;

  std::uint32_t threshold() const noexcept { return threshold_; }
  // The exact null probability of green: threshold / 2^32 (within 2^-33 of the key's gamma).
  double null_green_probability() const noexcept { return static_cast<double>(threshold_) / 4294967296.0; }
  float delta() const noexcept { return delta_; }
  std::uint32_t context_width() const noexcept { return context_width_; }
  std::uint32_t vocab_size() const noexcept { return vocab_size_; }
  std::uint32_t version() const noexcept { return version_; }
  // The key's entropy threshold in nats (0: every step); see SchemeParams::entropy_threshold.
  double entropy_threshold() const noexcept { return entropy_threshold_; }
  // Version 2's keyed per-token values R[0 .. vocab_size) (empty in version 1).
  std::span<const std::uint32_t> token_values() const noexcept { return token_values_; }

 private:
  std::vector<std::uint8_t> hash_secret_;  // versions 1 and 2: 192 bytes, XXH3 custom secret
  std::shared_ptr<const ContextPrf> prf_;  // version 3: the context PRF
  std::uint32_t threshold_;
  float delta_;
  std::uint32_t context_width_;
  std::uint32_t vocab_size_;
  std::uint32_t version_;
  double entropy_threshold_;
  std::vector<std::uint32_t> token_values_;  // version 2 only: 4 bytes a token id
};

}  // namespace tracemark
