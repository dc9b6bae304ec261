// One response's view of a language model, whatever its kind (n-gram or transformer): the
// next-token distribution after the prompt and the tokens accepted so far. The decoding loop
// (response_generator.hpp) drives embed/'s processor over it exactly as a serving engine would, so
// both kinds of reference model are watermarked, sampled and measured by one code path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "tracemark/embed/green_list_scheme.hpp"  // Candidate

namespace tracemark {

// Not thread-safe: one session per response in flight.
class DecodingSession {
 public:
  virtual ~DecodingSession() = default;

  virtual std::uint32_t vocab_size() const = 0;

  // Natural-log probabilities of every token of the vocabulary as the next token;
  // out.size() == vocab_size(). Tokens the model cannot produce get -infinity.
  virtual void log_probabilities(std::span<float> out) = 0;

  // The k most probable next tokens (ties: lower id first), logit = natural-log probability,
  // sorted by descending probability; out holds at most k entries, none of probability 0.
  virtual void top_candidates(std::size_t k, std::vector<Candidate>& out) = 0;

  // Appends `token` (< vocab_size()) to the history the next distribution conditions on.
  virtual void accept(std::uint32_t token) = 0;
};

}  // namespace tracemark
