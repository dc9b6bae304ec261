#include "tracemark/verify/gumbel_max_detector.hpp"

#include <cmath>
#include <string>

#include "tracemark/error.hpp"
#include "first_context_walk.hpp"

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
  GumbelScoreCounts document, pooled_delta;
  walk_first_contexts(*scheme_, tokens, pooled_tuples_, document, pooled_delta,
                      [&](GumbelScoreCounts& counts, std::uint64_t seed, std::size_t i) {
                        const double score = scheme_->score(seed, tokens[i]);
                        counts.score += score;
                        if (!weights.empty()) {
                          counts.weighted_score += static_cast<double>(weights[i]) * score;
                          counts.weights.push_back(weights[i]);
                        }
                      });
  pooled_ += pooled_delta;
  return document;
}

}  // namespace tracemark
