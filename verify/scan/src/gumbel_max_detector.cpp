#include "tracemark/verify/gumbel_max_detector.hpp"

#include <cmath>
#include <string>
#include <unordered_set>

#include "tracemark/error.hpp"
#include "tracemark/verify/green_list_detector.hpp"  // tuple_fingerprint

namespace tracemark {

GumbelScoreCounts& GumbelScoreCounts::operator+=(const GumbelScoreCounts& other) {
  tokens += other.tokens;
  skipped_prefix += other.skipped_prefix;
  skipped_repeated_context += other.skipped_repeated_context;
  skipped_repeated_tuple += other.skipped_repeated_tuple;
  scored += other.scored;
  score += other.score;
  weighted_score += other.weighted_score;
  weights.insert(weights.end(), other.weights.begin(), other.weights.end());
  return *this;
}

GumbelMaxDetector::GumbelMaxDetector(std::shared_ptr<const GumbelMaxScheme> scheme) : scheme_(std::move(scheme)) {
  if (!scheme_) throw Error(ErrorCode::invalid_argument, "GumbelMaxDetector needs a scheme");
}

GumbelScoreCounts GumbelMaxDetector::add_document(std::span<const std::uint32_t> tokens, std::span<const float> weights) {
  if (!weights.empty()) {
    if (weights.size() != tokens.size()) {
      throw Error(ErrorCode::invalid_input, std::to_string(weights.size()) + " step weights for " +
                                                std::to_string(tokens.size()) + " tokens; give one weight per token");
    }
    for (std::size_t i = 0; i < weights.size(); ++i) {
      if (!(weights[i] >= 0.0f) || !std::isfinite(weights[i])) {
        throw Error(ErrorCode::invalid_input, "step weight " + std::to_string(weights[i]) + " at position " +
                                                  std::to_string(i) + " is not a finite non-negative number");
      }
    }
  }
  const std::size_t width = scheme_->context_width();
  const std::uint32_t vocab = scheme_->vocab_size();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] >= vocab) {
      throw Error(ErrorCode::invalid_input, "token id " + std::to_string(tokens[i]) + " at position " +
                                                std::to_string(i) + " is outside the key's vocabulary (size " +
                                                std::to_string(vocab) + ")");
    }
  }
  GumbelScoreCounts document, pooled_delta;
  document.tokens = pooled_delta.tokens = tokens.size();
  const std::size_t prefix = std::min(width, tokens.size());
  document.skipped_prefix = pooled_delta.skipped_prefix = prefix;
  std::unordered_set<std::uint64_t> seen_contexts;  // mirrors GumbelMaxSampler's rule
  for (std::size_t i = prefix; i < tokens.size(); ++i) {
    const auto context = tokens.subspan(i - width, width);
    const std::uint64_t seed = scheme_->context_seed(context);
    if (!seen_contexts.insert(seed).second) {
      ++document.skipped_repeated_context;
      ++pooled_delta.skipped_repeated_context;
      continue;
    }
    const std::uint64_t fingerprint = tuple_fingerprint(context, tokens[i]);
    const double score = scheme_->score(seed, tokens[i]);
    // Within a document a repeated tuple implies a repeated context (skipped above), so only the
    // pooled set, across documents, can find a repeated tuple.
    ++document.scored;
    document.score += score;
    if (!weights.empty()) {
      document.weighted_score += static_cast<double>(weights[i]) * score;
      document.weights.push_back(weights[i]);
    }
    if (pooled_tuples_.insert(fingerprint)) {
      ++pooled_delta.scored;
      pooled_delta.score += score;
      if (!weights.empty()) {
        pooled_delta.weighted_score += static_cast<double>(weights[i]) * score;
        pooled_delta.weights.push_back(weights[i]);
      }
    } else {
      ++pooled_delta.skipped_repeated_tuple;
    }
  }
  pooled_ += pooled_delta;
  return document;
}

}  // namespace tracemark
