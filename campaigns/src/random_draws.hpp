// Distributions over refmodel's SplitMix64, for the traffic simulator. Every random choice of the
// simulator comes from a stream derived from (seed, purpose, index), so one account's behaviour does
// not depend on how many others were drawn before it. Private to campaigns/.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "tracemark/refmodel/synthetic_model.hpp"  // SplitMix64

namespace tracemark::campaigns {

// A 64-bit mix of several values (the SplitMix64 finaliser chained), for deriving stream seeds and
// deterministic per-entity choices.
inline std::uint64_t mix64(std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0) noexcept {
  SplitMix64 first(a ^ 0x5851f42d4c957f2dULL);
  SplitMix64 second(first.next() ^ b);
  SplitMix64 third(second.next() ^ c);
  return third.next();
}

// Stable numeric tags for stream purposes (so adding a purpose never shifts another's stream).
inline std::uint64_t purpose_tag(std::string_view name) noexcept {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (const char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

class RandomDraws {
 public:
  RandomDraws(std::uint64_t seed, std::string_view purpose, std::uint64_t index = 0)
      : rng_(mix64(seed, purpose_tag(purpose), index)) {}
  std::uint64_t bits() noexcept { return rng_.next(); }
  double uniform() noexcept { return rng_.uniform(); }
  // Uniform in [0, n); n > 0.
  std::uint64_t below(std::uint64_t n) noexcept { return static_cast<std::uint64_t>(uniform() * static_cast<double>(n)); }
  bool chance(double p) noexcept { return uniform() < p; }
  double exponential(double mean) noexcept { return -mean * std::log1p(-uniform()); }
  double normal() noexcept {  // Box-Muller; one value per call keeps streams simple
    const double u = 1.0 - uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
  }
  double lognormal(double median, double sigma) noexcept { return median * std::exp(sigma * normal()); }
  // Pareto with minimum x_min and tail index alpha (heavy for alpha near 1).
  double pareto(double x_min, double alpha) noexcept { return x_min / std::pow(1.0 - uniform(), 1.0 / alpha); }
  // 1 + Geometric with the given mean (>= 1).
  std::uint64_t geometric_at_least_one(double mean) noexcept {
    const double p = 1.0 / std::max(1.0, mean);
    if (p >= 1.0) return 1;
    return 1 + static_cast<std::uint64_t>(std::floor(std::log1p(-uniform()) / std::log1p(-p)));
  }
  // Index drawn with probability proportional to weights (linear scan; for small lists).
  std::size_t weighted(std::span<const double> weights) noexcept {
    double total = 0;
    for (const double w : weights) total += w;
    double at = uniform() * total;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      at -= weights[i];
      if (at < 0) return i;
    }
    return weights.empty() ? 0 : weights.size() - 1;
  }
  template <typename T>
  const T& pick(const std::vector<T>& items) noexcept {
    return items[below(items.size())];
  }

 private:
  SplitMix64 rng_;
};

// Walker's alias table: O(1) draws from a fixed discrete distribution.
class AliasTable {
 public:
  AliasTable() = default;
  explicit AliasTable(std::span<const double> weights);
  std::size_t draw(RandomDraws& random) const noexcept;
  std::size_t size() const noexcept { return probability_.size(); }

 private:
  std::vector<double> probability_;
  std::vector<std::uint32_t> alias_;
};

// Zipf-like weights 1 / (rank + 1)^exponent for n items.
std::vector<double> zipf_weights(std::size_t n, double exponent);

}  // namespace tracemark::campaigns
