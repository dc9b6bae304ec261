// Confidence intervals and planning figures for a binomial rate.
#pragma once

#include <cstdint>
#include <optional>

namespace tracemark {

struct RateInterval {
  double lower = 0;
  double upper = 1;
};

// Exact (Clopper-Pearson) two-sided interval for a binomial rate from `successes` of `trials`
// at the given confidence (e.g. 0.95): the rates p for which neither one-sided tail test rejects
// at (1 - confidence) / 2 (Clopper & Pearson, Biometrika 1934). Found by bisection on the exact
// tail, so it inherits its accuracy. trials = 0 gives [0, 1].
RateInterval clopper_pearson_interval(std::uint64_t successes, std::uint64_t trials, double confidence);

// The smallest number of scored tuples n for which a green rate `rate` (> gamma) would give a
// one-sided exact binomial p-value below `target_p`, i.e. P(X >= ceil(rate n)) < target_p with
// X ~ Binomial(n, gamma). nullopt when rate <= gamma (no number of tuples would do).
std::optional<std::uint64_t> tuples_needed_for(double rate, double gamma, double target_p);

}  // namespace tracemark
