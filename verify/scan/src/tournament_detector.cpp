#include "tracemark/verify/tournament_detector.hpp"

#include <string>
#include <unordered_set>

#include "tracemark/error.hpp"
#include "tracemark/verify/green_list_detector.hpp"  // tuple_fingerprint

namespace tracemark {

TournamentScoreCounts& TournamentScoreCounts::operator+=(const TournamentScoreCounts& other) {
  tokens += other.tokens;
  skipped_prefix += other.skipped_prefix;
  skipped_repeated_context += other.skipped_repeated_context;
  skipped_repeated_tuple += other.skipped_repeated_tuple;
  scored += other.scored;
  g_ones += other.g_ones;
  return *this;
}

BinomialTest tournament_test(std::uint64_t g_ones, std::uint64_t scored, std::uint32_t layers) {
  return binomial_test(g_ones, scored * layers, 0.5);
}

double tournament_mean_g(std::uint64_t g_ones, std::uint64_t scored, std::uint32_t layers) noexcept {
  const std::uint64_t coins = scored * layers;
  return coins ? static_cast<double>(g_ones) / static_cast<double>(coins) : 0.0;
}

TournamentDetector::TournamentDetector(std::shared_ptr<const TournamentScheme> scheme) : scheme_(std::move(scheme)) {
  if (!scheme_) throw Error(ErrorCode::invalid_argument, "TournamentDetector needs a scheme");
}

TournamentScoreCounts TournamentDetector::add_document(std::span<const std::uint32_t> tokens) {
  const std::size_t width = scheme_->context_width();
  const std::uint32_t vocab = scheme_->vocab_size();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] >= vocab) {
      throw Error(ErrorCode::invalid_input, "token id " + std::to_string(tokens[i]) + " at position " +
                                                std::to_string(i) + " is outside the key's vocabulary (size " +
                                                std::to_string(vocab) + ")");
    }
  }
  TournamentScoreCounts document, pooled_delta;
  document.tokens = pooled_delta.tokens = tokens.size();
  const std::size_t prefix = std::min(width, tokens.size());
  document.skipped_prefix = pooled_delta.skipped_prefix = prefix;
  std::unordered_set<std::uint64_t> seen_contexts;  // mirrors TournamentSampler's rule
  for (std::size_t i = prefix; i < tokens.size(); ++i) {
    const auto context = tokens.subspan(i - width, width);
    const std::uint64_t seed = scheme_->context_seed(context);
    if (!seen_contexts.insert(seed).second) {
      ++document.skipped_repeated_context;
      ++pooled_delta.skipped_repeated_context;
      continue;
    }
    const std::uint32_t ones = scheme_->score(seed, tokens[i]);
    // Within a document a repeated tuple implies a repeated context (skipped above), so only the
    // pooled set, across documents, can find a repeated tuple.
    ++document.scored;
    document.g_ones += ones;
    if (pooled_tuples_.insert(tuple_fingerprint(context, tokens[i]))) {
      ++pooled_delta.scored;
      pooled_delta.g_ones += ones;
    } else {
      ++pooled_delta.skipped_repeated_tuple;
    }
  }
  pooled_ += pooled_delta;
  return document;
}

}  // namespace tracemark
