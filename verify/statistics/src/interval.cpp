#include "tracemark/verify/interval.hpp"

#include <cmath>

#include "tracemark/error.hpp"
#include "tracemark/verify/binomial.hpp"

namespace tracemark {
namespace {

// P(X >= k) for X ~ Binomial(n, p) is increasing in p; bisection to double resolution.
double solve_upper_tail(std::uint64_t k, std::uint64_t n, double target_log) {
  double low = 0.0, high = 1.0;
  for (int i = 0; i < 200 && high - low > 1e-15; ++i) {
    const double middle = 0.5 * (low + high);
    if (log_binomial_upper_tail(k, n, middle) < target_log) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return 0.5 * (low + high);
}

}  // namespace

RateInterval clopper_pearson_interval(std::uint64_t successes, std::uint64_t trials, double confidence) {
  if (!(confidence > 0.0 && confidence < 1.0)) {
    throw Error(ErrorCode::invalid_argument, "confidence must be strictly between 0 and 1");
  }
  if (successes > trials) throw Error(ErrorCode::invalid_argument, "successes exceed trials");
  RateInterval interval;
  if (trials == 0) return interval;
  const double tail = std::log((1.0 - confidence) / 2.0);
  // Lower bound: P(X >= s | p) = tail. Upper bound: P(X <= s | p) = tail, i.e.
  // P(X >= s + 1 | p) = 1 - tail.
  if (successes > 0) interval.lower = solve_upper_tail(successes, trials, tail);
  if (successes < trials) interval.upper = solve_upper_tail(successes + 1, trials, std::log1p(-std::exp(tail)));
  return interval;
}

std::optional<std::uint64_t> tuples_needed_for(double rate, double gamma, double target_p) {
  if (!(rate > gamma) || rate > 1.0) return std::nullopt;
  const double target_log = std::log(target_p);
  auto reaches = [&](std::uint64_t n) {
    const auto green = static_cast<std::uint64_t>(std::ceil(rate * static_cast<double>(n)));
    return log_binomial_upper_tail(std::min(green, n), n, gamma) < target_log;
  };
  // Exponential search for an upper bound, then bisection (the p-value at a fixed rate falls
  // with n, up to the ceil() rounding, which bisection tolerates to within a tuple or two).
  std::uint64_t high = 1;
  while (!reaches(high)) {
    if (high > (1ull << 50)) return std::nullopt;
    high *= 2;
  }
  std::uint64_t low = high / 2;
  while (high - low > 1) {
    const std::uint64_t middle = low + (high - low) / 2;
    if (reaches(middle)) {
      high = middle;
    } else {
      low = middle;
    }
  }
  return high;
}

}  // namespace tracemark
