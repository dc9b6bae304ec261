#include "tracemark/embed/tournament_scheme.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <string>

#include "choice_input_checks.hpp"
#include "context_prf.hpp"
#include "token_value_table.hpp"
#include "crypto.hpp"
#include "tracemark/embed/scheme_catalog.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

constexpr std::string_view kContextPrfPurpose = "tracemark/v1/synthid-tournament/context-prf";
constexpr std::string_view kTokenValuesPurpose = "tracemark/v1/synthid-tournament/token-values";

const WatermarkKey& tournament_key(const WatermarkKey& key) {
  require_scheme(key, SchemeKind::tournament, "the synthid-tournament scheme");
  return key;
}

bool choosable(float logit) noexcept { return logit > -std::numeric_limits<float>::infinity(); }  // false for NaN

// p_0 into workspace.weights (unnormalised: exp(logit - max), 0 for masked entries) for `count`
// entries whose logits logit_of(i) gives; returns the total. Error when nothing is choosable.
template <typename LogitOf>
double softmax_weights(std::size_t count, LogitOf logit_of, std::vector<double>& weights) {
  float max_logit = -std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < count; ++i) {
    const float logit = logit_of(i);
    if (choosable(logit) && logit > max_logit) max_logit = logit;
  }
  if (!choosable(max_logit)) {
    throw Error(ErrorCode::invalid_argument, "every logit is -infinity or NaN: there is no token to choose");
  }
  if (max_logit == std::numeric_limits<float>::infinity()) {
    throw Error(ErrorCode::invalid_argument, "a logit is +infinity: the softmax is undefined; pass finite logits");
  }
  weights.resize(count);
  double total = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const float logit = logit_of(i);
    const double w = choosable(logit) ? std::exp(static_cast<double>(logit) - static_cast<double>(max_logit)) : 0.0;
    weights[i] = w;
    total += w;
  }
  return total;
}

// The m layers in place on unnormalised weights w with g-values g (bit l = layer l); returns the
// new total. Exact, and a few passes over the row rather than one per layer: the layers go in blocks
// of b bits. For a block starting at layer L, one pass histograms the mass of p_L over the 2^b
// patterns of bits L .. L+b-1; G_L, G_{L+1}, ... then follow from the histogram alone (within the
// block a token's weight depends only on its pattern), which gives each pattern's product of the
// factors (1 + g - G) over the block; the next pass multiplies every weight by its pattern's product
// and histograms the next block's patterns on the way. A block costs about 2 b 2^b operations on the
// histogram besides its pass, so b grows with the row: 8 bits (256 bins) for long rows, 4 for
// candidate arrays of a few hundred, 1 (the per-layer recursion itself) for a handful.
constexpr unsigned kMaxBlockBits = 8;
constexpr std::size_t kMaxPatterns = std::size_t{1} << kMaxBlockBits;
using PatternTable = std::array<double, kMaxPatterns>;

unsigned block_bits_for(std::size_t entries) noexcept { return entries >= 4096 ? 8 : entries >= 64 ? 4 : 1; }

// The pattern of bits [first, first + bits) of g (bits at or above 64 read as 0).
inline std::size_t pattern_of(std::uint64_t g, unsigned first, std::uint64_t mask) noexcept {
  return first < 64 ? static_cast<std::size_t>((g >> first) & mask) : 0;
}

// From the block's histogram of mass by pattern (2^bits bins), the product of the block's `count`
// layer factors for each pattern (layers L .. L+count-1 in the pattern's bits 0 .. count-1).
// Only the first `patterns` entries of each table are used (and touched: a small row plays many
// small blocks).
void block_factors(const PatternTable& mass, std::size_t patterns, unsigned count, PatternTable& product) {
  PatternTable weight;  // mass of p_{L+j} by pattern, as j advances
  std::copy_n(mass.begin(), patterns, weight.begin());
  std::fill_n(product.begin(), patterns, 1.0);
  for (unsigned j = 0; j < count; ++j) {
    double ones = 0, zeros = 0;
    for (std::size_t q = 0; q < patterns; ++q) (q >> j & 1 ? ones : zeros) += weight[q];
    // The factors 1 + g - G_{L+j} as zeros / total and 1 + zeros / total: computing 1 - G as
    // 1 - ones / total would cancel when G is near 1 and lose the relative precision of the small
    // probabilities that layer leaves.
    const double without = zeros / (ones + zeros);  // 1 - G_{L+j}
    const double factor[2] = {without, 1.0 + without};
    for (std::size_t q = 0; q < patterns; ++q) {
      weight[q] *= factor[q >> j & 1];
      product[q] *= factor[q >> j & 1];
    }
  }
}

double play_tournament(std::span<double> w, std::span<const std::uint64_t> g, std::uint32_t layers, double total) {
  const std::size_t n = w.size();
  const unsigned bits = block_bits_for(n);
  const std::size_t patterns = std::size_t{1} << bits;
  const std::uint64_t mask = patterns - 1;
  PatternTable mass, product;
  std::fill_n(mass.begin(), patterns, 0.0);
  for (std::size_t i = 0; i < n; ++i) mass[pattern_of(g[i], 0, mask)] += w[i];
  for (unsigned first = 0; first < layers; first += bits) {
    const unsigned count = std::min<unsigned>(bits, layers - first);
    block_factors(mass, patterns, count, product);
    const unsigned next = first + bits;
    const bool more = next < layers;
    std::fill_n(mass.begin(), patterns, 0.0);
    total = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double updated = w[i] * product[pattern_of(g[i], first, mask)];
      w[i] = updated;
      total += updated;
      if (more) mass[pattern_of(g[i], next, mask)] += updated;
    }
  }
  return total;
}

// One draw from the unnormalised weights with one uniform of `random`: the first entry whose
// cumulative weight exceeds u * total (the last entry of positive weight if rounding runs past).
std::size_t draw_index(std::span<const double> w, double total, std::mt19937_64& random) {
  const double target = GumbelMaxScheme::unit_interval(random()) * total;
  double cumulative = 0;
  std::size_t last_positive = w.size();
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (w[i] <= 0) continue;
    cumulative += w[i];
    last_positive = i;
    if (cumulative > target) return i;
  }
  if (last_positive == w.size()) {
    throw Error(ErrorCode::internal, "tournament left no token with positive probability");
  }
  return last_positive;
}

}  // namespace

TournamentScheme::TournamentScheme(const WatermarkKey& key)
    : prf_(std::make_shared<const ContextPrf>(tournament_key(key), kContextPrfPurpose, key.params().context_width)),
      layers_(key.params().tournament_layers),
      layer_mask_(key.params().tournament_layers >= 64 ? ~std::uint64_t{0}
                                                       : (std::uint64_t{1} << key.params().tournament_layers) - 1),
      context_width_(key.params().context_width),
      vocab_size_(key.params().vocab_size),
      version_(key.params().scheme_version),
      token_values_(keyed_token_values64(key, kTokenValuesPurpose)) {}

std::uint64_t TournamentScheme::context_seed(std::span<const std::uint32_t> context) const noexcept {
  return prf_->seed(context);
}

void TournamentScheme::context_seeds(std::span<const std::uint32_t> contexts, std::span<std::uint64_t> seeds) const {
  prf_->seeds(contexts, seeds);
}

std::uint32_t TournamentScheme::score(std::uint64_t seed, std::uint32_t token) const noexcept {
  return static_cast<std::uint32_t>(std::popcount(g_values(seed, token)));
}

std::uint32_t TournamentScheme::choose_token(std::uint64_t seed, std::span<const float> logits, std::mt19937_64& random,
                                             Workspace& workspace) const {
  check_logits_row(logits, vocab_size_);
  const std::span<const float> row = logits.first(vocab_size_);
  double total = softmax_weights(row.size(), [&](std::size_t i) { return row[i]; }, workspace.weights);
  workspace.g.resize(row.size());
  for (std::uint32_t t = 0; t < vocab_size_; ++t) workspace.g[t] = g_values(seed, t);
  total = play_tournament(workspace.weights, workspace.g, layers_, total);
  return static_cast<std::uint32_t>(draw_index(workspace.weights, total, random));
}

std::uint32_t TournamentScheme::choose_candidate(std::uint64_t seed, std::span<const Candidate> candidates,
                                                 std::mt19937_64& random, Workspace& workspace) const {
  check_candidates(candidates, vocab_size_);
  double total = softmax_weights(candidates.size(), [&](std::size_t i) { return candidates[i].logit; }, workspace.weights);
  workspace.g.resize(candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) workspace.g[i] = g_values(seed, candidates[i].id);
  total = play_tournament(workspace.weights, workspace.g, layers_, total);
  return candidates[draw_index(workspace.weights, total, random)].id;
}

std::uint32_t TournamentScheme::choose_token_unkeyed(std::mt19937_64& random, std::span<const float> logits,
                                                     Workspace& workspace) const {
  check_logits_row(logits, vocab_size_);
  const std::span<const float> row = logits.first(vocab_size_);
  const double total = softmax_weights(row.size(), [&](std::size_t i) { return row[i]; }, workspace.weights);
  return static_cast<std::uint32_t>(draw_index(workspace.weights, total, random));
}

std::uint32_t TournamentScheme::choose_candidate_unkeyed(std::mt19937_64& random, std::span<const Candidate> candidates,
                                                         Workspace& workspace) const {
  check_candidates(candidates, vocab_size_);
  const double total =
      softmax_weights(candidates.size(), [&](std::size_t i) { return candidates[i].logit; }, workspace.weights);
  return candidates[draw_index(workspace.weights, total, random)].id;
}

std::vector<double> TournamentScheme::final_distribution(std::uint64_t seed, std::span<const Candidate> candidates) const {
  check_candidates(candidates, vocab_size_);
  Workspace workspace;
  double total = softmax_weights(candidates.size(), [&](std::size_t i) { return candidates[i].logit; }, workspace.weights);
  workspace.g.resize(candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) workspace.g[i] = g_values(seed, candidates[i].id);
  total = play_tournament(workspace.weights, workspace.g, layers_, total);
  for (double& w : workspace.weights) w /= total;
  return workspace.weights;
}

}  // namespace tracemark
