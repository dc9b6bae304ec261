// The null of an entropy-weighted Gumbel-max score: S = sum_i w_i X_i with X_i independent Exp(1)
// (the per-tuple scores of text written without the key) and weights w_i >= 0 fixed by rules that
// never look at the key (the protected model's entropy at each step). Its exact law (a
// hypoexponential mixture) has no numerically stable closed form for thousands of distinct
// weights, so the p-value is the Chernoff bound
//
//   P(S >= s) <= exp( min_{0 <= theta < 1 / max w} [ -theta s - sum_i ln(1 - theta w_i) ] ),
//
// E[e^{theta S}] = prod_i 1 / (1 - theta w_i) and Markov's inequality: valid for every s and every
// set of weights (never smaller than the true tail). With equal weights, where the exact Gamma tail
// is known and the test compares the two, it is larger by a factor of about sqrt(2 pi / n)(s - n + 1),
// about sqrt(2 pi) z for a score z standard deviations above its mean: 12 (1.1 in log10) at z = 5,
// 50 (1.7) at z = 20. So it is conservative: weighting pays only where the weights vary a lot
// (low-entropy stretches such as code, where unweighted tuples are mostly noise).
#pragma once

#include <cstdint>
#include <span>

namespace tracemark {

struct WeightedExponentialTest {
  std::uint64_t scored = 0;  // tuples with a weight (zero weights included)
  double weight_sum = 0;     // the null mean of S
  double score = 0;          // S
  double log_p = 0;          // natural log of the Chernoff bound on P(S >= score); 0 when score <= weight_sum
  double log10_p = 0;
  double p_value = 1;
};

// Error(invalid_argument) for a negative or non-finite weight or score.
WeightedExponentialTest weighted_exponential_test(std::span<const float> weights, double score);

}  // namespace tracemark
