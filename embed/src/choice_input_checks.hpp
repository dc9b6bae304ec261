// The input rules every sampling scheme's choice applies (gumbel_max_scheme.cpp,
// tournament_scheme.cpp): a full row covers the key's vocabulary; a candidate's id is inside it.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "tracemark/embed/green_list_scheme.hpp"  // Candidate
#include "tracemark/error.hpp"

namespace tracemark {

inline void check_logits_row(std::span<const float> logits, std::uint32_t vocab_size) {
  if (logits.size() < vocab_size) {
    throw Error(ErrorCode::invalid_argument, "logits row has " + std::to_string(logits.size()) +
                                                 " entries, fewer than the key's vocabulary of " + std::to_string(vocab_size));
  }
}

inline void check_candidates(std::span<const Candidate> candidates, std::uint32_t vocab_size) {
  for (const Candidate& candidate : candidates) {
    if (candidate.id >= vocab_size) {
      throw Error(ErrorCode::invalid_argument, "candidate token id " + std::to_string(candidate.id) +
                                                   " is outside the key's vocabulary (size " + std::to_string(vocab_size) + ")");
    }
  }
}

}  // namespace tracemark
