// Multiple-testing correction across keys (or settings) tried in one investigation.
#pragma once

#include <vector>

namespace tracemark {

// Holm's step-down adjustment (S. Holm, Scand. J. Statist. 1979), in natural-log space so that
// p-values far below the smallest double keep their value: adjusted p_(i) =
// max over j <= i of min(1, (m - j + 1) p_(j)) for the p-values sorted ascending. Input and output
// are ln p, in the input's order. Controls the family-wise error rate under any dependence.
std::vector<double> holm_adjust_log_p(const std::vector<double>& log_p);

}  // namespace tracemark
