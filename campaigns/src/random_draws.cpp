#include "random_draws.hpp"

namespace tracemark::campaigns {

AliasTable::AliasTable(std::span<const double> weights) : probability_(weights.size()), alias_(weights.size()) {
  const std::size_t n = weights.size();
  if (n == 0) return;
  double total = 0;
  for (const double w : weights) total += w;
  std::vector<double> scaled(n);
  std::vector<std::uint32_t> small, large;
  for (std::size_t i = 0; i < n; ++i) {
    scaled[i] = total > 0 ? weights[i] * static_cast<double>(n) / total : 1.0;
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::uint32_t>(i));
  }
  while (!small.empty() && !large.empty()) {
    const std::uint32_t s = small.back(), l = large.back();
    small.pop_back();
    probability_[s] = scaled[s];
    alias_[s] = l;
    scaled[l] -= 1.0 - scaled[s];
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  for (const std::uint32_t i : large) probability_[i] = 1.0, alias_[i] = i;
  for (const std::uint32_t i : small) probability_[i] = 1.0, alias_[i] = i;
}

std::size_t AliasTable::draw(RandomDraws& random) const noexcept {
  const std::size_t column = random.below(probability_.size());
  return random.uniform() < probability_[column] ? column : alias_[column];
}

std::vector<double> zipf_weights(std::size_t n, double exponent) {
  std::vector<double> weights(n);
  for (std::size_t i = 0; i < n; ++i) weights[i] = 1.0 / std::pow(static_cast<double>(i + 1), exponent);
  return weights;
}

}  // namespace tracemark::campaigns
