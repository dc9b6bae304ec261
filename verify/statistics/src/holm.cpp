#include "tracemark/verify/holm.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace tracemark {

std::vector<double> holm_adjust_log_p(const std::vector<double>& log_p) {
  const std::size_t m = log_p.size();
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return log_p[a] < log_p[b]; });
  std::vector<double> adjusted(m);
  double running_max = -std::numeric_limits<double>::infinity();
  for (std::size_t rank = 0; rank < m; ++rank) {
    const double scaled = std::min(0.0, std::log(static_cast<double>(m - rank)) + log_p[order[rank]]);
    running_max = std::max(running_max, scaled);
    adjusted[order[rank]] = running_max;
  }
  return adjusted;
}

}  // namespace tracemark
