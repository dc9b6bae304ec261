// Comparing two green rates: is the rate under key A larger than under key B?
#pragma once

#include <cstdint>

namespace tracemark {

// Natural log of the hypergeometric probability P(X = x) where X counts successes of sample A when
// `successes` successes are spread over samples of sizes n_a and n_b at random (the conditional law
// of Fisher's exact test). Computed as b(x; n_a, p) b(s - x; n_b, p) / b(s; n_a + n_b, p) with
// p = s / (n_a + n_b) and Loader's binomial terms, as R's dhyper does, so it keeps full relative
// precision for samples of millions. -infinity outside the support.
double log_hypergeometric_pmf(std::uint64_t x, std::uint64_t n_a, std::uint64_t n_b, std::uint64_t successes);

// One-sided Fisher's exact test (R. A. Fisher, Statistical Methods for Research Workers, 1934,
// section 21.02) of H0: rate_A <= rate_B against rate_A > rate_B, for green_a of scored_a and
// green_b of scored_b independent binomial draws: the natural log of P(X >= green_a) given the total
// green count. Exact (conditional) and valid for any common rate; conservative when rate_A < rate_B.
// Returns 0 (p = 1) when either sample is empty. Summed term by term in log space from the
// observed value away from the mode, so tails far below the smallest double stay exact.
double log_fisher_exact_greater(std::uint64_t green_a, std::uint64_t scored_a, std::uint64_t green_b,
                                std::uint64_t scored_b);

// The smallest green rate above gamma that n scored tuples would show at p < alpha (one-sided exact
// binomial test): the "minimum detectable rate" at this sample size. 1 when even a rate of 1 would
// not (n too small); gamma < 1, 0 < alpha < 1.
double minimum_detectable_rate(std::uint64_t n, double gamma, double alpha);

}  // namespace tracemark
