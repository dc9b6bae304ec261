// The Shannon entropy of one decoding step's next-token distribution, as entropy-aware embedding
// (SWEET: Lee et al., "Who Wrote this Code? Watermarking for Code Generation", 2023) decides where
// to bias: a step whose distribution is nearly certain gains nothing from a bias and only adds noise
// to the score, so it is neither biased nor scored.
//
// Contract: the distribution is the softmax (temperature 1) of the logits handed to the processor,
// before any watermark bias: over the whole vocabulary for a logits array, over the given
// candidates (renormalized) for a candidate array. Entries of -infinity have probability 0. The
// result is in nats, >= 0; 0 for a single finite entry, and 0 when no entry is finite.
#pragma once

#include <span>

#include "tracemark/embed/green_list_scheme.hpp"

namespace tracemark {

double logits_entropy(std::span<const float> logits) noexcept;
double candidates_entropy(std::span<const Candidate> candidates) noexcept;

}  // namespace tracemark
