// Drawing one token from next-token logits with temperature and nucleus (top-p) truncation.
// Top-k is not done here: the model's top_candidates() produces the k candidates directly.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "tracemark/embed/green_list_scheme.hpp"

namespace tracemark {

struct SamplingOptions {
  double temperature = 1.0;  // logits are divided by it; 0 means greedy (argmax, ties to the lower id). [0, 100]
  std::uint32_t top_k = 0;   // 0: the whole vocabulary; else only the k most probable tokens are candidates
  double top_p = 1.0;        // keep the smallest most-probable set with mass >= top_p, in (0, 1]

  // Throws Error(invalid_argument) naming the parameter and its range.
  void validate() const;
};

// Working memory for TokenSampler; one per thread.
struct SamplerScratch {
  std::vector<double> weights;
  std::vector<float> fast_weights;
  std::vector<double> block_sums;
  std::vector<Candidate> sorted;
};

// uniform: a draw from [0, 1) (the caller's RNG stream, so results depend only on its seed).
// Results do not depend on the order of the candidates: ties are broken by token id.
std::uint32_t sample_from_logits(std::span<const float> logits, const SamplingOptions& options, double uniform,
                                 SamplerScratch& scratch);
// candidates: non-empty, any order (Error invalid_argument when empty).
std::uint32_t sample_from_candidates(std::span<const Candidate> candidates, const SamplingOptions& options,
                                     double uniform, SamplerScratch& scratch);

// What a sampling scheme (WatermarkProcessor::choose) draws from, so that its exact draw from the
// softmax is the draw sample_from_logits/_candidates would make: logits divided by the temperature
// and, with top_p < 1, the ids outside the nucleus (the same set sample_from_* keeps) removed:
// set to -infinity in a full row, erased from a candidate array. Needs temperature > 0 (greedy
// decoding has no randomness to key). Error(invalid_argument) for an empty row or array.
void shape_logits_for_choice(std::span<float> logits, const SamplingOptions& options, SamplerScratch& scratch);
void shape_candidates_for_choice(std::vector<Candidate>& candidates, const SamplingOptions& options,
                                 SamplerScratch& scratch);

}  // namespace tracemark
