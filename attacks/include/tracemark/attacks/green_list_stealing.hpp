// Watermark stealing and scrubbing without the key (after Jovanovic et al., "Watermark Stealing in
// Large Language Models", ICML 2024, in a simplified form of our own): a green-list watermark makes
// the green tokens after each context more frequent in the teacher's responses than in ordinary
// text. From the harvest alone and a clean reference text, the attacker flags (context, token)
// pairs that are over-represented after their context, by a margin (min_ratio) and beyond chance
// (a one-sided conditional binomial test at level max_p), then rewrites the harvest so that
// flagged tokens are replaced by unflagged reference continuations of the same context.
//
// The context width h the attacker assumes is a parameter (the key's width is secret; an attacker
// tries several). Positions with fewer than h earlier tokens in their document are neither counted
// nor rewritten.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tracemark/refmodel/synthetic_model.hpp"  // SplitMix64
#include "tracemark/refmodel/training_corpus.hpp"  // TokenDocuments

namespace tracemark {

struct StealingOptions {
  std::uint32_t context_width = 1;  // h the attacker assumes, 0 to 3
  std::uint32_t min_count = 2;      // a pair is judged only when the harvest holds it this often, >= 1
  // Flag when (n_H(c t) + 1/2) / n_H(c) >= min_ratio (n_R(c t) + 1/2) / (n_R(c) + 1/2), > 1
  // (n_H: harvest counts, n_R: reference counts after the same context c) ...
  double min_ratio = 2.0;
  // ... and the harvest's share of the pair's occurrences is significant: given m = n_H(c t) +
  // n_R(c t), P(X >= n_H(c t)) <= max_p for X ~ Binomial(m, n_H(c) / (n_H(c) + n_R(c))), the
  // conditional test of equal rates (Przyborowski & Wilenski 1940). In (0, 1]. Contexts the
  // reference never holds are never flagged (no evidence either way).
  double max_p = 0.05;

  // Throws Error(invalid_argument) naming the parameter and its range.
  void validate() const;
};

struct ScrubCounts {
  std::uint64_t tokens = 0;    // read
  std::uint64_t flagged = 0;   // occurrences of flagged pairs met while rewriting
  std::uint64_t replaced = 0;  // by an unflagged reference continuation
  std::uint64_t deleted = 0;   // flagged, and the reference has no unflagged continuation
  void add(const ScrubCounts& other);
};

class GreenListEstimate;
// Rewrites one document left to right (contexts are read from the rewritten text): each token that
// is flagged after its context is, with probability strength (in [0, 1], Error invalid_argument
// outside), replaced by a token drawn from the reference's unflagged continuations of that context
// in proportion to their counts, or deleted when there is none.
std::vector<std::uint32_t> scrub_document(std::span<const std::uint32_t> document, const GreenListEstimate& estimate,
                                          double strength, SplitMix64& rng, ScrubCounts& counts);

// The pairs judged green. Immutable after estimate(); thread-safe to read.
class GreenListEstimate {
 public:
  // harvest: the teacher's responses; reference: clean text in the same token ids; vocab_size: the
  // ids' range (ids must be below it: Error invalid_argument otherwise).
  static GreenListEstimate estimate(const TokenDocuments& harvest, const TokenDocuments& reference,
                                    std::uint32_t vocab_size, const StealingOptions& options);

  std::uint32_t context_width() const noexcept { return context_width_; }
  // Distinct (context, token) pairs flagged, and harvest pairs that were judged (count >= min_count).
  std::uint64_t flagged_pairs() const noexcept { return flagged_pairs_; }
  std::uint64_t judged_pairs() const noexcept { return judged_pairs_; }
  // context: exactly context_width() ids (the tokens before `token`).
  bool is_flagged(std::span<const std::uint32_t> context, std::uint32_t token) const;
  // The tokens flagged after `context` (exactly context_width() ids), sorted; empty when none.
  std::span<const std::uint32_t> flagged_after(std::span<const std::uint32_t> context) const;
  // Every flagged pair, for evaluation (context ids, then the token), in no particular order.
  std::vector<std::pair<std::vector<std::uint32_t>, std::uint32_t>> flagged() const;

 private:
  using Context = std::array<std::uint32_t, 3>;
  struct ContextHash {
    std::size_t operator()(const Context& context) const noexcept;
  };
  struct Entry {
    std::vector<std::uint32_t> flagged;                             // sorted
    std::vector<std::pair<std::uint32_t, std::uint32_t>> replacements;  // unflagged reference followers, counts
    std::uint64_t replacement_total = 0;
  };
  Context key(std::span<const std::uint32_t> context) const;

  std::uint32_t context_width_ = 1;
  std::uint64_t flagged_pairs_ = 0, judged_pairs_ = 0;
  std::unordered_map<Context, Entry, ContextHash> entries_;  // only contexts with a flagged token

  friend std::vector<std::uint32_t> scrub_document(std::span<const std::uint32_t>, const GreenListEstimate&, double,
                                                   SplitMix64&, ScrubCounts&);
};

}  // namespace tracemark
