// Shared output helpers for commands that print test results.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/gamma_tail.hpp"
#include "tracemark/verify/green_list_detector.hpp"
#include "tracemark/verify/gumbel_max_detector.hpp"
#include "tracemark/verify/tournament_detector.hpp"

namespace tracemark::cli {

// One JSON line with the counts and the test. p_value is written from log10_p so that it is never
// printed as 0, even below the smallest double (JSON numbers have no range limit).
std::string result_json_line(nlohmann::ordered_json head, const ScoreCounts& counts, const BinomialTest& test);
// The same for a Gumbel-max key: the score sum and its Gamma tail in place of green and z.
std::string result_json_line(nlohmann::ordered_json head, const GumbelScoreCounts& counts, const GammaTest& test);
// Entropy-weighted: "weighting": "entropy", the weighted score and its null mean, and the weighted
// test's p-value (a Chernoff bound) as the only p-value, so no reader picks the better of two.
std::string result_json_line(nlohmann::ordered_json head, const GumbelScoreCounts& counts,
                             const WeightedExponentialTest& test);
// The same for a SynthID tournament key: the g-values equal to 1 among scored * m, their mean and
// the exact binomial tail at 1/2.
std::string result_json_line(nlohmann::ordered_json head, const TournamentScoreCounts& counts, const BinomialTest& test,
                             double mean_g);

}  // namespace tracemark::cli
