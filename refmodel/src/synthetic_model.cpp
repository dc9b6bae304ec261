#include "tracemark/refmodel/synthetic_model.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

std::uint64_t mix64(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

SyntheticModel::SyntheticModel(SyntheticModelOptions options) : options_(options) {
  if (options_.vocab_size < 2 || options_.vocab_size > kSyntheticModelMaxVocabulary) {
    throw Error(ErrorCode::invalid_argument, "the synthetic model takes a vocabulary of 2 to " +
                                                 std::to_string(kSyntheticModelMaxVocabulary) + " ids (got " +
                                                 std::to_string(options_.vocab_size) + ")");
  }
  if (!(options_.zipf_exponent > 0.0)) throw Error(ErrorCode::invalid_argument, "zipf exponent must be positive");
}

void SyntheticModel::logits(std::span<const std::uint32_t> history, std::span<float> out) const {
  const std::uint64_t previous = history.empty() ? 0xFFFFFFFFULL : history.back();
  const std::uint64_t before = history.size() < 2 ? 0xFFFFFFFFULL : history[history.size() - 2];
  const std::uint64_t context = mix64(options_.model_seed ^ mix64(previous * 0x100000001b3ULL ^ before));
  const double v = options_.vocab_size;
  const double s = options_.zipf_exponent;
  for (std::uint32_t t = 0; t < options_.vocab_size && t < out.size(); ++t) {
    const double u = static_cast<double>(mix64(context + t) >> 11) * 0x1.0p-53;
    out[t] = static_cast<float>(-s * std::log1p(v * u));
  }
}

double SyntheticModel::entropy(std::span<const std::uint32_t> history) const {
  std::vector<float> values(options_.vocab_size);
  logits(history, values);
  const double top = *std::max_element(values.begin(), values.end());
  double total = 0, weighted = 0;
  for (float logit : values) {
    const double value = logit;
    const double w = std::exp(value - top);
    total += w;
    weighted += w * (value - top);
  }
  return std::log(total) - weighted / total;
}

std::vector<std::uint32_t> SyntheticModel::generate(std::size_t length, SplitMix64& rng,
                                                    WatermarkProcessor* processor) const {
  std::vector<std::uint32_t> tokens;
  tokens.reserve(length);
  std::vector<float> values(options_.vocab_size);
  std::vector<double> cumulative(options_.vocab_size);
  if (processor) processor->reset();
  for (std::size_t step = 0; step < length; ++step) {
    logits(tokens, values);
    if (processor) processor->apply(std::span<float>(values));
    const double top = *std::max_element(values.begin(), values.end());
    double total = 0;
    for (std::size_t t = 0; t < values.size(); ++t) {
      total += std::exp(static_cast<double>(values[t]) - top);
      cumulative[t] = total;
    }
    const double target = rng.uniform() * total;
    const auto chosen = std::upper_bound(cumulative.begin(), cumulative.end(), target) - cumulative.begin();
    const auto token = static_cast<std::uint32_t>(std::min<std::ptrdiff_t>(chosen, static_cast<std::ptrdiff_t>(values.size()) - 1));
    tokens.push_back(token);
    if (processor) processor->accept(token);
  }
  return tokens;
}

}  // namespace tracemark
