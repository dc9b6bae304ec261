#include "refmodel/token_sampler.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

bool before(const Candidate& a, const Candidate& b) { return a.logit != b.logit ? a.logit > b.logit : a.id < b.id; }

// Samples from candidates sorted by before(): greedy, or softmax at the temperature truncated to
// the nucleus.
std::uint32_t sample_sorted(std::span<const Candidate> sorted, const SamplingOptions& options, double uniform,
                            std::vector<double>& weights) {
  if (options.temperature == 0.0) return sorted.front().id;
  const double top = sorted.front().logit;
  weights.resize(sorted.size());
  double total = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    weights[i] = std::exp((static_cast<double>(sorted[i].logit) - top) / options.temperature);
    total += weights[i];
  }
  std::size_t keep = sorted.size();
  if (options.top_p < 1.0) {
    double mass = 0;
    for (keep = 0; keep < sorted.size();) {
      mass += weights[keep++];
      if (mass >= options.top_p * total) break;
    }
    total = mass;
  }
  const double target = uniform * total;
  double cumulative = 0;
  for (std::size_t i = 0; i < keep; ++i) {
    cumulative += weights[i];
    if (target < cumulative) return sorted[i].id;
  }
  return sorted[keep - 1].id;  // rounding: target within the last ulp of total
}

}  // namespace

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
  const double top = *std::max_element(logits.begin(), logits.end());
  auto& weights = scratch.weights;
  weights.resize(logits.size());
  double total = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    weights[i] = std::exp((static_cast<double>(logits[i]) - top) / options.temperature);
    total += weights[i];
  }
  const double target = uniform * total;
  double cumulative = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    cumulative += weights[i];
    if (target < cumulative) return static_cast<std::uint32_t>(i);
  }
  return static_cast<std::uint32_t>(logits.size() - 1);
}

std::uint32_t sample_from_candidates(std::span<const Candidate> candidates, const SamplingOptions& options,
                                     double uniform, SamplerScratch& scratch) {
  if (candidates.empty()) throw Error(ErrorCode::invalid_argument, "cannot sample from an empty candidate list");
  if (candidates.data() != scratch.sorted.data()) scratch.sorted.assign(candidates.begin(), candidates.end());
  std::sort(scratch.sorted.begin(), scratch.sorted.end(), before);
  return sample_sorted(scratch.sorted, options, uniform, scratch.weights);
}

}  // namespace tracemark
