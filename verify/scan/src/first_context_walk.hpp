// The scoring walk both sampling schemes' detectors share (GumbelMaxDetector, TournamentDetector),
// mirroring their samplers' rules, none of which looks at the key:
//   - every id must be inside the key's vocabulary (Error(invalid_input) naming id and position);
//   - the first h tokens have no full context;
//   - a context already seen earlier in the document is skipped (the sampler drew that step from
//     the request's own randomness);
//   - every other step's (context, token) is scored into the document's counts and, unless an
//     earlier document scored the same tuple, into the pooled counts' delta.
// Counts has tokens, skipped_prefix, skipped_repeated_context, skipped_repeated_tuple and scored;
// add(counts, seed, i) adds the score of step i (context seed `seed`) to one side's counts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_set>

#include "tracemark/error.hpp"
#include "tracemark/verify/green_list_detector.hpp"  // tuple_fingerprint
#include "tracemark/verify/tuple_set.hpp"

namespace tracemark {

template <typename Counts, typename Scheme, typename Add>
void walk_first_contexts(const Scheme& scheme, std::span<const std::uint32_t> tokens, TupleSet& pooled_tuples,
                         Counts& document, Counts& pooled_delta, Add add) {
  const std::size_t width = scheme.context_width();
  const std::uint32_t vocab = scheme.vocab_size();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] >= vocab) {
      throw Error(ErrorCode::invalid_input, "token id " + std::to_string(tokens[i]) + " at position " +
                                                std::to_string(i) + " is outside the key's vocabulary (size " +
                                                std::to_string(vocab) + ")");
    }
  }
  document.tokens = pooled_delta.tokens = tokens.size();
  const std::size_t prefix = std::min(width, tokens.size());
  document.skipped_prefix = pooled_delta.skipped_prefix = prefix;
  std::unordered_set<std::uint64_t> seen_contexts;
  for (std::size_t i = prefix; i < tokens.size(); ++i) {
    const auto context = tokens.subspan(i - width, width);
    const std::uint64_t seed = scheme.context_seed(context);
    if (!seen_contexts.insert(seed).second) {
      ++document.skipped_repeated_context;
      ++pooled_delta.skipped_repeated_context;
      continue;
    }
    // Within a document a repeated tuple implies a repeated context (skipped above), so only the
    // pooled set, across documents, can find a repeated tuple.
    ++document.scored;
    add(document, seed, i);
    if (pooled_tuples.insert(tuple_fingerprint(context, tokens[i]))) {
      ++pooled_delta.scored;
      add(pooled_delta, seed, i);
    } else {
      ++pooled_delta.skipped_repeated_tuple;
    }
  }
}

}  // namespace tracemark
