#include "tracemark/verify/tournament_detector.hpp"

#include <string>

#include "tracemark/error.hpp"
#include "first_context_walk.hpp"

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
  TournamentScoreCounts document, pooled_delta;
  walk_first_contexts(*scheme_, tokens, pooled_tuples_, document, pooled_delta,
                      [&](TournamentScoreCounts& counts, std::uint64_t seed, std::size_t i) {
                        counts.g_ones += scheme_->score(seed, tokens[i]);
                      });
  pooled_ += pooled_delta;
  return document;
}

}  // namespace tracemark
