// Scoring token sequences against a green-list key. The unit of evidence is a distinct
// (context, token) tuple: repeated tuples carry no new evidence under the null and, if counted,
// make repetitive innocent text look watermarked (Kirchenbauer et al.'s reference detector;
// Sander et al. 2024). Each tuple is therefore scored at most once within a document and, in
// pooled scoring, at most once across all documents.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_set>

#include "tracemark/embed/green_list_scheme.hpp"
#include "tracemark/embed/token_syntax.hpp"
#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/tuple_set.hpp"

namespace tracemark {

// Where every token read went. tokens = skipped_prefix + skipped_repeated_context +
// skipped_low_entropy + skipped_syntax + skipped_repeated_tuple + scored.
struct ScoreCounts {
  std::uint64_t tokens = 0;                    // tokens read
  std::uint64_t skipped_prefix = 0;            // first h tokens of a document: no full context
  std::uint64_t skipped_repeated_context = 0;  // context already used earlier in the document (not biased by embed/)
  std::uint64_t skipped_low_entropy = 0;       // the protected model's entropy there is below the key's threshold
  std::uint64_t skipped_syntax = 0;            // a syntax token (token_syntax.hpp)
  std::uint64_t skipped_repeated_tuple = 0;    // (context, token) already scored
  std::uint64_t scored = 0;
  std::uint64_t green = 0;

  ScoreCounts& operator+=(const ScoreCounts& other);
};

// Fingerprint of a context and token (an unkeyed XXH3 of their ids), independent of any key. A
// collision (about n^2 / 2^65 for n tuples) can only drop a tuple, which does not depend on the key
// and so cannot bias the test.
std::uint64_t tuple_fingerprint(std::span<const std::uint32_t> context, std::uint32_t token) noexcept;
// The same value for a tuple whose context and token lie next to each other in memory (a window of a
// response: tuple_fingerprint(window.first(size - 1), window.back())), hashed in place where the
// ids are already the little-endian bytes hashed (the scan's per-token path: no copy, XXH3 inlined).
std::uint64_t window_fingerprint(std::span<const std::uint32_t> window) noexcept;

// Which steps of a document may be scored, decided without the key (so the test stays exact):
// by the protected model's entropy at each step and by the syntax rule. Empty: every step.
struct StepSelection {
  std::span<const float> entropy;       // one value (nats) per token, or empty: no entropy rule
  double entropy_threshold = 0;          // a step is kept when entropy >= threshold
  const TokenSyntax* syntax = nullptr;   // null: no syntax rule

  // Whether step i falls below the entropy threshold (never without per-step entropy).
  bool low_entropy(std::size_t i) const noexcept {
    return !entropy.empty() && static_cast<double>(entropy[i]) < entropy_threshold;
  }
};

// Scores documents one at a time, keeping the pooled deduplication set across them.
// Not thread-safe (one per thread, or guard externally); the scheme is shared and immutable.
class GreenListDetector {
 public:
  explicit GreenListDetector(std::shared_ptr<const GreenListScheme> scheme);

  // Scores one document. Returns its own counts (deduplicated within the document) and adds the
  // document's tuples to the pooled counts (deduplicated across every document added so far).
  // Throws Error(invalid_input) for a token id outside the key's vocabulary; the message gives the
  // id and its position, the caller adds the file and line.
  // With a selection, only its steps are scored (entropy.size() must be tokens.size(), else
  // Error(invalid_input)); rules apply in the processor's order: prefix, repeated context, entropy,
  // syntax, then deduplication.
  ScoreCounts add_document(std::span<const std::uint32_t> tokens, const StepSelection& selection = {});

  const ScoreCounts& pooled() const noexcept { return pooled_; }
  BinomialTest test(const ScoreCounts& counts) const {
    return binomial_test(counts.green, counts.scored, scheme_->null_green_probability());
  }
  const GreenListScheme& scheme() const noexcept { return *scheme_; }

 private:
  std::shared_ptr<const GreenListScheme> scheme_;
  TupleSet pooled_tuples_;
  ScoreCounts pooled_;
};

}  // namespace tracemark
