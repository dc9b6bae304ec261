// SynthID-Text's tournament sampling (Dathathri et al., "Scalable watermarking for identifying large
// language model outputs", Nature 634, 2024), in its vectorised closed form. Distortion-free in
// expectation over keys: averaged over keys, the chosen token is distributed exactly as the model's
// softmax. The single definition used by serving (TournamentSampler) and detection
// (TournamentDetector, the scan).
//
// Definition (docs/METHOD.md states it in full):
//   seed(c)    = ContextPrf under HKDF(secret, "tracemark/v1/synthid-tournament/context-prf", 16)
//   R[t]       = the little-endian u64 at byte 8t of the AES-256-CTR keystream (zero counter block)
//                under HKDF(secret, "tracemark/v1/synthid-tournament/token-values", 32)
//   u(c, t)    = mix64(seed(c) XOR R[t])  (mix64: splitmix64's finaliser, a bijection on 64 bits)
//   g_l(c, t)  = bit l of u(c, t) (bit 0 the least significant), for layers l = 0 .. m-1, m <= 64
//   p_0        = softmax of the logits (masked entries and padding columns 0)
//   p_{l+1}(x) = p_l(x) * (1 + g_l(x) - G_l),  G_l = sum_x p_l(x) g_l(x)
//   choose     = one draw from p_m with the REQUEST's random stream (not the key)
//   score      = sum over the m layers of g_l(c, t) for each distinct scored tuple
// p_{l+1} is exactly the distribution of the winner of one match between two independent draws
// from p_l, the higher g_l winning and a tie broken by a fair coin (SynthID with two candidates per
// match); m layers are a tournament among 2^m independent draws from p_0.
//
// Independence of the g-values. For a fixed (c, t) and a random key, seed(c) XOR R[t] is uniform
// on 64 bits (R[t] is uniform and independent of seed(c)) and mix64 is a bijection, so u(c, t) is
// uniform on 64 bits: its m low bits are m independent fair coins, one per layer. Distinct contexts
// have independent seeds (a PRF, context_prf.hpp) and distinct tokens independent R[t] (AES-CTR
// under a secret sub-key), so distinct tuples get independent u under the idealisation that
// mix64 of XOR-related inputs behaves as independent (the same assumption as the Gumbel-max scheme,
// stated in docs/METHOD.md). Hence under the null (text written without the key) the total score
// over n distinct tuples is Binomial(n m, 1/2).
//
// Distortion-freeness: E_key[1 + g_l(x) - G_l | p_l] = 1 + 1/2 - sum_x p_l(x)/2 = 1, and g_l is
// independent of p_l (which depends only on layers below l), so E_key[p_{l+1}(x)] = E_key[p_l(x)]
// and, by induction, E_key[p_m] = p_0. The final draw uses the request's randomness, so a
// repeated prompt can still vary; with many layers p_m concentrates (docs/METHOD.md gives figures),
// so m trades evidence against that diversity.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "tracemark/embed/green_list_scheme.hpp"  // Candidate
#include "tracemark/embed/gumbel_max_scheme.hpp"  // mix64, unit_interval
#include "tracemark/embed/key.hpp"

namespace tracemark {

class ContextPrf;

// Immutable after construction; share one instance across threads. The choices take a caller's
// Workspace (one per thread or per sequence) so that a serving step allocates nothing.
class TournamentScheme {
 public:
  // Scratch memory for the choices; grows to the longest row seen and is reused. Not shared between
  // threads.
  struct Workspace {
    std::vector<double> weights;       // p_l, unnormalised
    std::vector<std::uint64_t> g;      // the m g-values of each entry, bit l = layer l
  };

  // Error(invalid_argument) for a key of another scheme (scheme_catalog.hpp).
  explicit TournamentScheme(const WatermarkKey& key);

  // Seed for a context of exactly context_width() ids.
  std::uint64_t context_seed(std::span<const std::uint32_t> context) const noexcept;
  // Seeds of many contexts (back to back, context_width() ids each), batched through the PRF.
  void context_seeds(std::span<const std::uint32_t> contexts, std::span<std::uint64_t> seeds) const;

  // The m g-values of (c, t) as bits: bit l is g_l(c, t); bits m and above are 0. token < vocab_size()
  // (callers check ids).
  std::uint64_t g_values(std::uint64_t seed, std::uint32_t token) const noexcept {
    return GumbelMaxScheme::mix64(seed ^ token_values_[token]) & layer_mask_;
  }
  // The detector's per-tuple score: how many of the m g-values are 1. Binomial(m, 1/2) under the null.
  std::uint32_t score(std::uint64_t seed, std::uint32_t token) const noexcept;

  // The keyed choice over full-vocabulary logits indexed by id: the tournament's closed form, then
  // one draw from p_m with `random` (the request's stream). Needs logits.size() >= vocab_size()
  // (Error(invalid_argument) otherwise); columns past the vocabulary (padding) are never chosen, nor
  // are entries of -infinity or NaN (masked) unless every entry is, which is Error(invalid_argument),
  // as is a logit of +infinity (the softmax is undefined). Consumes exactly one value of `random`.
  // Cost: a few passes over the row (tournament_scheme.cpp: the layers go in blocks through
  // histograms), dominated by the softmax's exp.
  std::uint32_t choose_token(std::uint64_t seed, std::span<const float> logits, std::mt19937_64& random,
                             Workspace& workspace) const;
  // The keyed choice among candidates (any order, any subset); returns the chosen id. Error for an
  // id >= vocab_size() or nothing choosable.
  std::uint32_t choose_candidate(std::uint64_t seed, std::span<const Candidate> candidates, std::mt19937_64& random,
                                 Workspace& workspace) const;
  // The same two draws from p_0 (the softmax itself, no key): for steps that are not scored (a
  // repeated context). Consume exactly one value of `random`.
  std::uint32_t choose_token_unkeyed(std::mt19937_64& random, std::span<const float> logits, Workspace& workspace) const;
  std::uint32_t choose_candidate_unkeyed(std::mt19937_64& random, std::span<const Candidate> candidates,
                                         Workspace& workspace) const;

  // p_m over the candidates, normalised, in the candidates' order (what choose_candidate draws
  // from; for tests and analysis).
  std::vector<double> final_distribution(std::uint64_t seed, std::span<const Candidate> candidates) const;

  std::uint32_t layers() const noexcept { return layers_; }
  std::uint32_t context_width() const noexcept { return context_width_; }
  std::uint32_t vocab_size() const noexcept { return vocab_size_; }
  std::uint32_t version() const noexcept { return version_; }

 private:
  std::shared_ptr<const ContextPrf> prf_;
  std::uint32_t layers_;
  std::uint64_t layer_mask_;
  std::uint32_t context_width_;
  std::uint32_t vocab_size_;
  std::uint32_t version_;
  std::vector<std::uint64_t> token_values_;  // R[0 .. vocab_size)
};

}  // namespace tracemark
