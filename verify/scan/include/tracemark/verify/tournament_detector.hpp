// Scoring token sequences against a SynthID tournament key. Each distinct (context, token) tuple
// scores the number of its m g-values that are 1 (tournament_scheme.hpp). For text written without
// the key the g-values of distinct tuples are independent fair coins, so the total over n distinct
// tuples is Binomial(n m, 1/2) under the null, and its exact upper tail (binomial.hpp, in log space)
// is the p-value. SynthID's mean-g score is that total over n m. The selection rules mirror
// TournamentSampler and the other schemes' detectors, and never look at the key:
//   - the first h tokens of a document have no full context;
//   - a context that already occurred earlier in the document is skipped (the sampler drew that
//     step from the softmax with the request's own randomness);
//   - a (context, token) tuple already scored (in the document, and for the pooled test in any
//     earlier document) is skipped: repeated tuples carry no new evidence under the null.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "tracemark/embed/tournament_scheme.hpp"
#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/tuple_set.hpp"

namespace tracemark {

// Where every token went. tokens = skipped_prefix + skipped_repeated_context + skipped_repeated_tuple + scored.
struct TournamentScoreCounts {
  std::uint64_t tokens = 0;
  std::uint64_t skipped_prefix = 0;
  std::uint64_t skipped_repeated_context = 0;
  std::uint64_t skipped_repeated_tuple = 0;
  std::uint64_t scored = 0;    // distinct tuples
  std::uint64_t g_ones = 0;    // g-values equal to 1 over the scored tuples (m per tuple)

  TournamentScoreCounts& operator+=(const TournamentScoreCounts& other);
};

// The exact test of g_ones ones among scored * layers fair coins: binomial_test(g_ones, scored * m,
// 1/2). Its green and scored fields count g-values, not tuples.
BinomialTest tournament_test(std::uint64_t g_ones, std::uint64_t scored, std::uint32_t layers);
// SynthID's mean g: g_ones / (scored * m), 1/2 in expectation under the null; 0 when nothing scored.
double tournament_mean_g(std::uint64_t g_ones, std::uint64_t scored, std::uint32_t layers) noexcept;

// Not thread-safe (one per thread); the scheme is shared and immutable.
class TournamentDetector {
 public:
  explicit TournamentDetector(std::shared_ptr<const TournamentScheme> scheme);

  // Scores one document; returns its own counts and adds its tuples to the pooled counts.
  // Error(invalid_input) for a token id outside the key's vocabulary (id and position named; the
  // caller adds the file and line).
  TournamentScoreCounts add_document(std::span<const std::uint32_t> tokens);

  const TournamentScoreCounts& pooled() const noexcept { return pooled_; }
  BinomialTest test(const TournamentScoreCounts& counts) const {
    return tournament_test(counts.g_ones, counts.scored, scheme_->layers());
  }
  double mean_g(const TournamentScoreCounts& counts) const noexcept {
    return tournament_mean_g(counts.g_ones, counts.scored, scheme_->layers());
  }
  const TournamentScheme& scheme() const noexcept { return *scheme_; }

 private:
  std::shared_ptr<const TournamentScheme> scheme_;
  TupleSet pooled_tuples_;
  TournamentScoreCounts pooled_;
};

}  // namespace tracemark
