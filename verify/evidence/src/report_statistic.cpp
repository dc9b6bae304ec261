#include "report_statistic.hpp"

#include <cstdio>

#include "tracemark/verify/scan_report.hpp"

namespace tracemark {
namespace {

std::string fixed(double value, int digits) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

std::string signed_fixed(double value, int digits) {
  char text[48];
  std::snprintf(text, sizeof text, "%+.*f", digits, value);
  return text;
}

}  // namespace

ReportStatistic report_statistic(const KeyScanResult& r, double gamma) {
  ReportStatistic s;
  switch (r.scheme) {
    case SchemeKind::green_list:
      s.statistic = std::to_string(r.counts.green) + " green";
      s.per_tuple = format_percent(r.green_rate);
      s.chance = format_percent(gamma);
      s.effect = format_points(r.effect) + " points (" + format_points(r.effect_interval.lower) + " to " +
                 format_points(r.effect_interval.upper) + ")";
      s.marked_word = "green";
      s.unmarked_word = "red";
      s.rate = 100 * r.green_rate;
      s.lower = 100 * (r.effect_interval.lower + gamma);
      s.upper = 100 * (r.effect_interval.upper + gamma);
      s.null_mean = 100 * gamma;
      s.unit_mean = gamma;
      s.unit_variance = gamma * (1 - gamma);
      s.z_label = "(green - gamma n) / sqrt(n gamma (1 - gamma))";
      return s;
    case SchemeKind::gumbel_max:
      // Under the null each scored tuple adds an Exp(1) score: mean 1, variance 1.
      s.statistic = "score " + fixed(r.counts.score, 1);
      s.per_tuple = "mean score " + fixed(r.green_rate, 4);
      s.chance = "1";
      s.effect = signed_fixed(r.effect, 4) + " (mean score - 1; no exact interval)";
      s.marked_word = "with r above 1/2";
      s.unmarked_word = "with r below 1/2";
      s.unit_mean = 1;
      s.unit_variance = 1;
      s.z_label = "(score - n) / sqrt(n)";
      break;
    case SchemeKind::tournament:
      // Under the null each of a tuple's m g-values is a fair coin.
      s.statistic = std::to_string(r.counts.g_ones) + " of " + std::to_string(r.counts.scored * r.tournament_layers) +
                    " g-values 1";
      s.per_tuple = "mean g " + fixed(r.green_rate, 4);
      s.chance = "0.5";
      s.effect = signed_fixed(r.effect, 4) + " (mean g - 1/2; no exact interval)";
      s.marked_word = "with most g-values 1";
      s.unmarked_word = "with most g-values 0";
      s.unit_mean = 0.5;
      s.unit_variance = 0.25;
      s.z_label = "(g-values 1 - m n / 2) / sqrt(m n / 4)";
      break;
  }
  s.rate = s.lower = s.upper = r.green_rate;
  s.null_mean = s.unit_mean;
  s.percent = false;
  return s;
}

double tally_value(const KeyScanResult& result, const ResponseTally& tally) {
  switch (result.scheme) {
    case SchemeKind::green_list: return static_cast<double>(tally.green);
    case SchemeKind::gumbel_max: return tally.score;
    case SchemeKind::tournament: return static_cast<double>(tally.g_ones);
  }
  return 0;
}

std::uint64_t tally_units(const KeyScanResult& result, const ResponseTally& tally) {
  return result.scheme == SchemeKind::tournament ? std::uint64_t{tally.scored} * result.tournament_layers : tally.scored;
}

}  // namespace tracemark
