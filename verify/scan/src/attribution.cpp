#include "tracemark/verify/attribution.hpp"

#include <cmath>

#include "tracemark/error.hpp"
#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/holm.hpp"
#include "tracemark/verify/scan_report.hpp"
#include "tracemark/verify/two_sample.hpp"

namespace tracemark {
namespace {

constexpr double kLn10 = 2.302585092994046;

std::string tokens_needed_text(const KeyScanResult& r) {
  if (!r.further_tokens_needed) return "no number of further tokens would reach it at this rate";
  return "about " + std::to_string(*r.further_tokens_needed) + " further suspect tokens would reach it at this rate";
}

}  // namespace

Attribution attribute(std::span<const std::string> labels, std::span<const KeyScanResult> results, double gamma,
                      double alpha) {
  if (labels.size() != results.size()) throw Error(ErrorCode::invalid_argument, "attribution needs one scan result per label");
  if (!(alpha > 0.0 && alpha < 1.0)) throw Error(ErrorCode::invalid_argument, "attribution: alpha must be strictly between 0 and 1");
  Attribution out;
  out.gamma = gamma;
  out.alpha = alpha;
  const double log10_alpha = std::log10(alpha);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i].empty()) throw Error(ErrorCode::invalid_argument, "attribution: label " + std::to_string(i) + " is empty");
    LabelFinding finding;
    finding.label = labels[i];
    finding.result = results[i];
    finding.detected = results[i].counts.scored > 0 && results[i].holm_log10_p < log10_alpha;
    finding.minimum_detectable_effect = minimum_detectable_rate(results[i].counts.scored, gamma, alpha) - gamma;
    out.labels.push_back(std::move(finding));
  }
  std::vector<double> log_p;
  for (std::size_t a = 0; a < labels.size(); ++a) {
    for (std::size_t b = 0; b < labels.size(); ++b) {
      if (a == b) continue;
      const ScanCounts& ca = results[a].counts;
      const ScanCounts& cb = results[b].counts;
      LabelComparison comparison;
      comparison.above = a;
      comparison.below = b;
      const double ln_p = log_fisher_exact_greater(ca.green, ca.scored, cb.green, cb.scored);
      comparison.log10_p = ln_p / kLn10;
      log_p.push_back(ln_p);
      out.comparisons.push_back(comparison);
    }
  }
  const std::vector<double> adjusted = holm_adjust_log_p(log_p);
  for (std::size_t i = 0; i < adjusted.size(); ++i) out.comparisons[i].holm_log10_p = adjusted[i] / kLn10;

  bool any_detected = false;
  for (std::size_t a = 0; a < out.labels.size(); ++a) {
    if (!out.labels[a].detected) continue;
    any_detected = true;
    bool above_all = true;
    for (const LabelComparison& c : out.comparisons) {
      if (c.above == a && !(c.holm_log10_p < log10_alpha)) above_all = false;
    }
    if (above_all) out.attributed = a;  // at most one label can be above every other
  }
  out.verdict = out.attributed ? AttributionVerdict::single : any_detected ? AttributionVerdict::ambiguous : AttributionVerdict::none;
  return out;
}

std::string attribution_label_line(const LabelFinding& f) {
  const KeyScanResult& r = f.result;
  return f.label + " (" + r.key_id + "): " + std::to_string(r.counts.scored) + " tuples, green " + format_percent(r.green_rate) +
         ", effect " + format_points(r.effect) + " points [" + format_points(r.effect_interval.lower) + ", " +
         format_points(r.effect_interval.upper) + "], p = " + format_p_value(r.holm_log10_p) + (f.detected ? "  DETECTED" : "");
}

std::string attribution_verdict_text(const Attribution& attribution) {
  std::string text;
  switch (attribution.verdict) {
    case AttributionVerdict::single: {
      const LabelFinding& a = attribution.labels[*attribution.attributed];
      double weakest = -1e300;
      for (const LabelComparison& c : attribution.comparisons) {
        if (c.above == *attribution.attributed) weakest = std::max(weakest, c.holm_log10_p);
      }
      if (attribution.comparisons.empty()) {
        text += "Verdict: attributed to " + a.label + ", the only label scanned (nothing to compare it with).\n";
        break;
      }
      text += "Verdict: attributed to " + a.label + ". Its test reaches the threshold, and its green rate is larger than under "
              "every other label (one-sided Fisher exact test, the weakest comparison p = " + format_p_value(weakest) +
              " after Holm).\n";
      break;
    }
    case AttributionVerdict::ambiguous:
      text += "Verdict: detected, but not attributable to a single label: no detected label's green rate is shown larger than "
              "every other label's at the threshold. The suspect may have learned from several labels' responses, or the "
              "sample is too small to tell them apart.\n";
      for (const LabelComparison& c : attribution.comparisons) {
        if (c.holm_log10_p < std::log10(attribution.alpha)) {
          text += "  shown: " + attribution.labels[c.above].label + " above " + attribution.labels[c.below].label +
                  " (p = " + format_p_value(c.holm_log10_p) + ")\n";
        }
      }
      break;
    case AttributionVerdict::none:
      text += "Verdict: attributed to none: no label's test reaches the threshold.\n";
      break;
  }
  return text;
}

std::string no_evidence_text(const LabelFinding& f) {
  const KeyScanResult& r = f.result;
  return "No evidence under " + f.label + " means: with these " + std::to_string(r.counts.scored) +
         " tuples, effects up to " + format_points(std::max(0.0, r.effect_interval.upper)) +
         " points are still consistent with the data (95% interval), so learning from " + f.label +
         "'s responses is not ruled out; an effect of " + format_points(f.minimum_detectable_effect) +
         " points or more would have reached the threshold; " + tokens_needed_text(r) + ".";
}

std::string attribution_text(const Attribution& attribution) {
  const std::string alpha = format_p_value(std::log10(attribution.alpha));
  std::string text = "Attribution over " + std::to_string(attribution.labels.size()) + " labels (each label's own test Holm-corrected "
                     "over every key scanned; comparisons Holm-corrected over the " +
                     std::to_string(attribution.comparisons.size()) + " ordered pairs; threshold " + alpha + "):\n";
  for (const LabelFinding& f : attribution.labels) text += "  " + attribution_label_line(f) + "\n";
  text += attribution_verdict_text(attribution);
  for (const LabelFinding& f : attribution.labels) {
    if (!f.detected) text += no_evidence_text(f) + "\n";
  }
  return text;
}

nlohmann::ordered_json attribution_json(const Attribution& attribution) {
  nlohmann::ordered_json labels = nlohmann::ordered_json::array();
  for (const LabelFinding& f : attribution.labels) {
    const KeyScanResult& r = f.result;
    nlohmann::ordered_json entry = {
        {"label", f.label},
        {"key_id", r.key_id},
        {"scored", r.counts.scored},
        {"green", r.counts.green},
        {"green_rate", r.green_rate},
        {"effect", r.effect},
        {"effect_interval", {r.effect_interval.lower, r.effect_interval.upper}},
        {"p_value", format_p_value(r.test.log10_p)},
        {"holm_p_value", format_p_value(r.holm_log10_p)},
        {"detected", f.detected},
        {"minimum_detectable_effect", f.minimum_detectable_effect},
    };
    entry["further_tokens_needed"] = r.further_tokens_needed ? nlohmann::ordered_json(*r.further_tokens_needed) : nullptr;
    labels.push_back(std::move(entry));
  }
  nlohmann::ordered_json comparisons = nlohmann::ordered_json::array();
  for (const LabelComparison& c : attribution.comparisons) {
    comparisons.push_back({{"above", attribution.labels[c.above].label},
                           {"below", attribution.labels[c.below].label},
                           {"test", "one-sided Fisher exact"},
                           {"p_value", format_p_value(c.log10_p)},
                           {"holm_p_value", format_p_value(c.holm_log10_p)}});
  }
  const char* verdict = attribution.verdict == AttributionVerdict::single      ? "single"
                        : attribution.verdict == AttributionVerdict::ambiguous ? "ambiguous"
                                                                               : "none";
  nlohmann::ordered_json out = {{"alpha", attribution.alpha}, {"gamma", attribution.gamma}, {"verdict", verdict}};
  out["attributed_to"] = attribution.attributed ? nlohmann::ordered_json(attribution.labels[*attribution.attributed].label) : nullptr;
  out["labels"] = std::move(labels);
  out["comparisons"] = std::move(comparisons);
  return out;
}

}  // namespace tracemark
