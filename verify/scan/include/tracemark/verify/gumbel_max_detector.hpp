// Scoring token sequences against a Gumbel-max key. Each distinct (context, token) tuple scores
// -ln(1 - r(c, t)) (gumbel_max_scheme.hpp), which is Exp(1) for text written without the key, so the
// sum over n distinct tuples is Gamma(n, 1) under the null and its exact tail is the p-value
// (gamma_tail.hpp). The selection rules mirror GumbelMaxSampler and never look at the key:
//   - the first h tokens of a document have no full context;
//   - a context that already occurred earlier in the document is skipped (the sampler drew that
//     step from the request's own randomness);
//   - a (context, token) tuple already scored (in the document, and for the pooled test in any
//     earlier document) is skipped: repeated tuples carry no new evidence under the null.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "tracemark/embed/gumbel_max_scheme.hpp"
#include "tracemark/verify/gamma_tail.hpp"
#include "tracemark/verify/weighted_exponential_tail.hpp"
#include "tracemark/verify/tuple_set.hpp"

namespace tracemark {

// Where every token went. tokens = skipped_prefix + skipped_repeated_context + skipped_repeated_tuple + scored.
struct GumbelScoreCounts {
  std::uint64_t tokens = 0;
  std::uint64_t skipped_prefix = 0;
  std::uint64_t skipped_repeated_context = 0;
  std::uint64_t skipped_repeated_tuple = 0;
  std::uint64_t scored = 0;
  double score = 0;  // sum of -ln(1 - r) over the scored tuples
  // Entropy weighting (add_document with weights): sum of w * -ln(1 - r), and the weight of each
  // scored tuple (the Chernoff bound needs them all). Empty when no weights were given.
  double weighted_score = 0;
  std::vector<float> weights;

  GumbelScoreCounts& operator+=(const GumbelScoreCounts& other);
};

// Not thread-safe (one per thread); the scheme is shared and immutable.
class GumbelMaxDetector {
 public:
  explicit GumbelMaxDetector(std::shared_ptr<const GumbelMaxScheme> scheme);

  // Scores one document; returns its own counts and adds its tuples to the pooled counts.
  // Error(invalid_input) for a token id outside the key's vocabulary (id and position named; the
  // caller adds the file and line).
  // weights: empty, or one per token (for entropy weighting, the entropy in nats of the protected
  // model's distribution at that step, which does not depend on the key): each scored tuple then
  // also adds weight * score to weighted_score. A tuple keeps the weight of the step that scored it.
  // Error(invalid_input) when the lengths differ or a weight is negative or not finite.
  GumbelScoreCounts add_document(std::span<const std::uint32_t> tokens, std::span<const float> weights = {});

  const GumbelScoreCounts& pooled() const noexcept { return pooled_; }
  static GammaTest test(const GumbelScoreCounts& counts) { return gamma_test(counts.score, counts.scored); }
  // The entropy-weighted test (weighted_exponential_tail.hpp): valid, conservative.
  static WeightedExponentialTest weighted_test(const GumbelScoreCounts& counts) {
    return weighted_exponential_test(counts.weights, counts.weighted_score);
  }
  const GumbelMaxScheme& scheme() const noexcept { return *scheme_; }

 private:
  std::shared_ptr<const GumbelMaxScheme> scheme_;
  TupleSet pooled_tuples_;
  GumbelScoreCounts pooled_;
};

}  // namespace tracemark
