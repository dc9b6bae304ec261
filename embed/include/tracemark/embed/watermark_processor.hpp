// Per-response watermarking state for a serving engine's decoding loop:
//
//   processor.reset(prompt_ids);
//   loop: processor.apply(logits);  sample token;  processor.accept(token);
//
// apply() adds delta to the green logits of the current context, unless the context (the last h
// tokens) was already the context of an earlier step of this response: repeated contexts are left
// unbiased (as SynthID-Text does), which keeps repeated phrases from compounding the bias, and the
// detector masks them the same way. With h = 0 there is no context and every step is biased.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_set>
#include <vector>

#include "tracemark/embed/green_list_scheme.hpp"

namespace tracemark {

// Not thread-safe: one processor per sequence. Copying is cheap (the scheme is shared, immutable)
// and gives an independent processor, as needed when a sequence forks (beam search, n > 1).
class WatermarkProcessor {
 public:
  explicit WatermarkProcessor(std::shared_ptr<const GreenListScheme> scheme);

  // Starts a response. The last h ids of the prompt seed the first contexts; they do not count as
  // seen contexts. An empty prompt means no bias until h tokens have been accepted.
  void reset(std::span<const std::uint32_t> prompt = {});

  // Whether apply() biases at the current step.
  bool will_bias() const noexcept { return context_full_ && !current_seen_; }

  // Full-vocabulary logits indexed by token id. The one rule for their length, whatever the key's
  // scheme version: at least the key's vocabulary size, else Error(invalid_argument) (a shorter row
  // would leave part of the vocabulary unwatermarked); entries at or beyond the vocabulary size
  // (padding columns of an output layer rounded up, for example to a multiple of 64) are left
  // unchanged. The length is checked at every step, whether or not this step biases.
  void apply(std::span<float> logits) const;
  // Candidate array in any order covering any subset; throws Error(invalid_argument) for an id
  // outside the vocabulary.
  void apply(std::span<Candidate> candidates) const;

  // Records the sampled token and moves to the next step.
  void accept(std::uint32_t token);

  const GreenListScheme& scheme() const noexcept { return *scheme_; }

 private:
  void refresh_current_context();

  std::shared_ptr<const GreenListScheme> scheme_;
  std::vector<std::uint32_t> context_;  // the last min(h, known) ids, oldest first
  bool context_full_ = false;
  bool current_seen_ = false;
  std::uint64_t current_seed_ = 0;
  std::unordered_set<std::uint64_t> seen_seeds_;  // seeds of contexts already used in this response
};

}  // namespace tracemark
