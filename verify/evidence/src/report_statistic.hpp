// How the evidence report shows one key's statistic (issue 18): the green list's green count and
// rate against gamma, a Gumbel-max key's score sum and mean score against 1, a tournament key's
// g-values equal to 1 and mean g against 1/2. The tests themselves are the scan's (exact); this is
// only their presentation, and the normal-approximation z of a response for the chart.
#pragma once

#include <cstdint>
#include <string>

#include "tracemark/verify/distillation_scan.hpp"

namespace tracemark {

struct ReportStatistic {
  std::string statistic;  // "1234 green", "score 812.4", "3081 of 6000 g-values 1"
  std::string per_tuple;  // "24.68%", "mean score 1.0512", "mean g 0.5135"
  std::string chance;     // "25.00%", "1", "0.5"
  std::string effect;     // with its exact 95% interval where the scheme has one
  std::string marked_word, unmarked_word;  // what the example highlights mean: "green" / "red", ...
  // The chart of rates: the per-tuple statistic, its interval (equal to it where the scheme has
  // none), and chance, in the chart's units (percent for the green list).
  double rate = 0, lower = 0, upper = 0, null_mean = 0;
  bool percent = true;
  // A response's z = (value - mean * units) / sqrt(units * variance): the chart's normal picture.
  double unit_mean = 0, unit_variance = 0;
  std::string z_label;
};

ReportStatistic report_statistic(const KeyScanResult& result, double gamma);
// A response's statistic and how many null draws it sums (tuples, or g-values for a tournament).
double tally_value(const KeyScanResult& result, const ResponseTally& tally);
std::uint64_t tally_units(const KeyScanResult& result, const ResponseTally& tally);

}  // namespace tracemark
