#include "tracemark/embed/step_entropy.hpp"

#include <cmath>
#include <limits>

namespace tracemark {
namespace {

// H = log Z - sum_i e^(x_i - m) (x_i - m) / Z with m the largest logit and Z = sum_i e^(x_i - m):
// one pass for m, one for the two sums, in double.
template <typename LogitOf, typename Range>
double softmax_entropy(const Range& range, LogitOf logit_of) noexcept {
  float top = -std::numeric_limits<float>::infinity();
  for (const auto& entry : range) top = std::max(top, logit_of(entry));
  if (!std::isfinite(top)) return 0.0;
  double z = 0, weighted = 0;
  for (const auto& entry : range) {
    const float x = logit_of(entry);
    if (!(x > -std::numeric_limits<float>::infinity())) continue;
    const double shifted = static_cast<double>(x) - static_cast<double>(top);
    const double w = std::exp(shifted);
    z += w;
    weighted += w * shifted;
  }
  const double entropy = std::log(z) - weighted / z;
  return entropy > 0 ? entropy : 0.0;  // rounding can give -1e-17 for a point mass
}

}  // namespace

double logits_entropy(std::span<const float> logits) noexcept {
  return softmax_entropy(logits, [](float x) { return x; });
}

double candidates_entropy(std::span<const Candidate> candidates) noexcept {
  return softmax_entropy(candidates, [](const Candidate& c) { return c.logit; });
}

}  // namespace tracemark
