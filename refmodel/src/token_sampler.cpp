#include "tracemark/refmodel/token_sampler.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <iterator>
#include <limits>
#include <string>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

constexpr std::size_t kBlock = 256;

// e^x for x in [-87, 0] in single precision without a libm call, so that a loop over the
// vocabulary vectorises: range reduction x = n ln2 + r, |r| <= ln2/2 (about), then the Cephes expf
// polynomial (relative error about 2e-7) scaled by 2^n through the exponent bits. The caller
// clamps x to -87 first (e^-87 is about 1.6e-38: negligible mass, never a denormal), in a loop of
// its own: GCC 12 does not if-convert the clamp inside this function's loop.
inline float exp_clamped(float x) {
  const auto n = static_cast<std::int32_t>(x * 1.44269504088896341f - 0.5f);  // truncation: round to nearest for x <= 0
  const auto fn = static_cast<float>(n);
  float r = x - fn * 0.693359375f;
  r = r + fn * 2.12194440e-4f;
  const float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  const auto scale = std::bit_cast<float>(static_cast<std::uint32_t>(n + 127) << 23);
  return p * scale;
}

// The largest logit, with 8 independent running maxima (a single chain of dependent max
// instructions is several times slower over a whole vocabulary). Exact: max does not round.
float largest(std::span<const float> values) {
  float lanes[8];
  std::fill(std::begin(lanes), std::end(lanes), values.front());
  std::size_t i = 0;
  for (; i + 8 <= values.size(); i += 8) {
    for (std::size_t lane = 0; lane < 8; ++lane) lanes[lane] = values[i + lane] > lanes[lane] ? values[i + lane] : lanes[lane];
  }
  for (; i < values.size(); ++i) lanes[0] = values[i] > lanes[0] ? values[i] : lanes[0];
  return *std::max_element(std::begin(lanes), std::end(lanes));
}

bool before(const Candidate& a, const Candidate& b) { return a.logit != b.logit ? a.logit > b.logit : a.id < b.id; }

// The unnormalised softmax weights of sorted candidates at the temperature (> 0), into weights;
// returns their total.
double softmax_weights(std::span<const Candidate> sorted, double temperature, std::vector<double>& weights) {
  const double top = sorted.front().logit;
  weights.resize(sorted.size());
  double total = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    weights[i] = std::exp((static_cast<double>(sorted[i].logit) - top) / temperature);
    total += weights[i];
  }
  return total;
}

// The nucleus of sorted candidates: the smallest prefix whose weight reaches top_p of the total
// (all of them when top_p is 1). Returns its length and sets total to its weight.
std::size_t nucleus_prefix(const std::vector<double>& weights, double top_p, double& total) {
  if (top_p >= 1.0) return weights.size();
  double mass = 0;
  std::size_t keep = 0;
  while (keep < weights.size()) {
    mass += weights[keep++];
    if (mass >= top_p * total) break;
  }
  total = mass;
  return keep;
}

// Samples from candidates sorted by before(): greedy, or softmax at the temperature truncated to
// the nucleus.
std::uint32_t sample_sorted(std::span<const Candidate> sorted, const SamplingOptions& options, double uniform,
                            std::vector<double>& weights) {
  if (options.temperature == 0.0) return sorted.front().id;
  double total = softmax_weights(sorted, options.temperature, weights);
  const std::size_t keep = nucleus_prefix(weights, options.top_p, total);
  const double target = uniform * total;
  double cumulative = 0;
  for (std::size_t i = 0; i < keep; ++i) {
    cumulative += static_cast<double>(weights[i]);
    if (target < cumulative) return sorted[i].id;
  }
  return sorted[keep - 1].id;  // rounding: target within the last ulp of total
}

// How many of the sorted candidates the nucleus keeps (sample_sorted's rule); temperature > 0.
std::size_t nucleus_size(std::span<const Candidate> sorted, const SamplingOptions& options, std::vector<double>& weights) {
  if (options.top_p >= 1.0) return sorted.size();
  double total = softmax_weights(sorted, options.temperature, weights);
  return nucleus_prefix(weights, options.top_p, total);
}

void require_positive_temperature(const SamplingOptions& options) {
  if (!(options.temperature > 0.0)) {
    throw Error(ErrorCode::invalid_argument, "a sampling scheme draws at a positive temperature; greedy decoding "
                                             "(temperature 0) has no randomness for the key to replace");
  }
}

}  // namespace

void shape_logits_for_choice(std::span<float> logits, const SamplingOptions& options, SamplerScratch& scratch) {
  if (logits.empty()) throw Error(ErrorCode::invalid_argument, "cannot sample from an empty vocabulary");
  require_positive_temperature(options);
  if (options.top_p < 1.0) {
    scratch.sorted.resize(logits.size());
    for (std::size_t i = 0; i < logits.size(); ++i) scratch.sorted[i] = {static_cast<std::uint32_t>(i), logits[i]};
    std::sort(scratch.sorted.begin(), scratch.sorted.end(), before);
    const std::size_t keep = nucleus_size(scratch.sorted, options, scratch.weights);
    for (std::size_t i = keep; i < scratch.sorted.size(); ++i) {
      logits[scratch.sorted[i].id] = -std::numeric_limits<float>::infinity();
    }
  }
  if (options.temperature != 1.0) {
    const auto inverse_temperature = static_cast<float>(1.0 / options.temperature);
    for (float& logit : logits) logit *= inverse_temperature;
  }
}

void shape_candidates_for_choice(std::vector<Candidate>& candidates, const SamplingOptions& options,
                                 SamplerScratch& scratch) {
  if (candidates.empty()) throw Error(ErrorCode::invalid_argument, "cannot sample from an empty candidate list");
  require_positive_temperature(options);
  if (options.top_p < 1.0) {
    std::sort(candidates.begin(), candidates.end(), before);
    candidates.resize(nucleus_size(candidates, options, scratch.weights));
  }
  if (options.temperature != 1.0) {
    const auto inverse_temperature = static_cast<float>(1.0 / options.temperature);
    for (Candidate& candidate : candidates) candidate.logit *= inverse_temperature;
  }
}

void SamplingOptions::validate() const {
  if (!(temperature >= 0.0 && temperature <= 100.0)) {
    throw Error(ErrorCode::invalid_argument, "temperature " + std::to_string(temperature) + " is out of range; use 0 (greedy) to 100");
  }
  if (!(top_p > 0.0 && top_p <= 1.0)) {
    throw Error(ErrorCode::invalid_argument, "top-p " + std::to_string(top_p) + " is out of range; use a value in (0, 1]");
  }
}

std::uint32_t sample_from_logits(std::span<const float> logits, const SamplingOptions& options, double uniform,
                                 SamplerScratch& scratch) {
  if (logits.empty()) throw Error(ErrorCode::invalid_argument, "cannot sample from an empty vocabulary");
  if (options.temperature == 0.0) {  // max_element returns the first maximum: ties go to the lower id
    return static_cast<std::uint32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  if (options.top_p < 1.0) {
    // The nucleus needs the order; the plain path below does not sort.
    scratch.sorted.resize(logits.size());
    for (std::size_t i = 0; i < logits.size(); ++i) scratch.sorted[i] = {static_cast<std::uint32_t>(i), logits[i]};
    return sample_from_candidates(scratch.sorted, options, uniform, scratch);
  }
  // The full-vocabulary path runs once per generated token over 100k+ entries, so it avoids libm:
  // vectorisable passes of exp_clamped, then block sums, then a walk inside one block.
  const float top = largest(logits);
  const auto inverse_temperature = static_cast<float>(1.0 / options.temperature);
  auto& weights = scratch.fast_weights;
  weights.resize(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) {
    const float x = (logits[i] - top) * inverse_temperature;
    weights[i] = x < -87.0f ? -87.0f : x;
  }
  for (float& weight : weights) weight = exp_clamped(weight);
  // A logit of -infinity (a token the model cannot produce) gets weight exactly 0, not e^-87.
  for (std::size_t i = 0; i < logits.size(); ++i) weights[i] = logits[i] < -3.0e38f ? 0.0f : weights[i];
  auto& blocks = scratch.block_sums;
  blocks.resize((logits.size() + kBlock - 1) / kBlock);
  double total = 0;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const std::size_t end = std::min(logits.size(), (b + 1) * kBlock);
    float lanes[8] = {};  // fixed summation order: identical results with or without vectorisation
    std::size_t i = b * kBlock;
    for (; i + 8 <= end; i += 8) {
      for (std::size_t lane = 0; lane < 8; ++lane) lanes[lane] += weights[i + lane];
    }
    double sum = 0;
    for (float lane : lanes) sum += static_cast<double>(lane);
    for (; i < end; ++i) sum += static_cast<double>(weights[i]);
    blocks[b] = sum;
    total += sum;
  }
  double target = uniform * total;
  std::size_t block = 0;
  for (; block + 1 < blocks.size() && target >= blocks[block]; ++block) target -= blocks[block];
  const std::size_t begin = block * kBlock, end = std::min(logits.size(), begin + kBlock);
  double cumulative = 0;
  std::size_t last_positive = begin;
  for (std::size_t i = begin; i < end; ++i) {
    if (weights[i] <= 0.0f) continue;
    cumulative += static_cast<double>(weights[i]);
    last_positive = i;
    if (target < cumulative) return static_cast<std::uint32_t>(i);
  }
  return static_cast<std::uint32_t>(last_positive);  // rounding: the target fell within the block's last ulp
}

std::uint32_t sample_from_candidates(std::span<const Candidate> candidates, const SamplingOptions& options,
                                     double uniform, SamplerScratch& scratch) {
  if (candidates.empty()) throw Error(ErrorCode::invalid_argument, "cannot sample from an empty candidate list");
  if (candidates.data() != scratch.sorted.data()) scratch.sorted.assign(candidates.begin(), candidates.end());
  std::sort(scratch.sorted.begin(), scratch.sorted.end(), before);
  return sample_sorted(scratch.sorted, options, uniform, scratch.weights);
}

}  // namespace tracemark
