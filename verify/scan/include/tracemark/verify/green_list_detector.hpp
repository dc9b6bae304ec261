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
#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/tuple_set.hpp"

namespace tracemark {

// Where every token read went. tokens = skipped_prefix + skipped_repeated_context +
// skipped_repeated_tuple + scored.
struct ScoreCounts {
  std::uint64_t tokens = 0;                    // tokens read
  std::uint64_t skipped_prefix = 0;            // first h tokens of a document: no full context
  std::uint64_t skipped_repeated_context = 0;  // context already used earlier in the document (not biased by embed/)
  std::uint64_t skipped_repeated_tuple = 0;    // (context, token) already scored
  std::uint64_t scored = 0;
  std::uint64_t green = 0;

  ScoreCounts& operator+=(const ScoreCounts& other);
};

// Fingerprint of a context and token (an unkeyed XXH3 of their ids), independent of any key. A
// collision (about n^2 / 2^65 for n tuples) can only drop a tuple, which does not depend on the key
// and so cannot bias the test.
std::uint64_t tuple_fingerprint(std::span<const std::uint32_t> context, std::uint32_t token) noexcept;

// Scores documents one at a time, keeping the pooled deduplication set across them.
// Not thread-safe (one per thread, or guard externally); the scheme is shared and immutable.
class GreenListDetector {
 public:
  explicit GreenListDetector(std::shared_ptr<const GreenListScheme> scheme);

  // Scores one document. Returns its own counts (deduplicated within the document) and adds the
  // document's tuples to the pooled counts (deduplicated across every document added so far).
  // Throws Error(invalid_input) for a token id outside the key's vocabulary; the message gives the
  // id and its position, the caller adds the file and line.
  ScoreCounts add_document(std::span<const std::uint32_t> tokens);

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
