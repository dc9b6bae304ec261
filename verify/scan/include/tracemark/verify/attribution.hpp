// Attribution: given one scan of a suspect under the subkeys of a keyring (one per model version,
// cohort or epoch), which label's responses did the suspect learn from?
//
// Two questions, two tests. "Was it trained on responses watermarked under label A?" is A's own
// pooled test (KeyScanResult, Holm-corrected across every key of the scan). "Is the effect under A
// larger than under B?" is a one-sided Fisher exact test of A's green rate against B's, for every
// ordered pair of labels, Holm-corrected across the pairs. docs/METHOD.md ("Attribution") says why
// the comparison is valid although both rates are measured on the same suspect tuples.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tracemark/verify/distillation_scan.hpp"

namespace tracemark {

struct LabelComparison {
  std::size_t above = 0;  // index of label A (the hypothesis: A's rate is larger)
  std::size_t below = 0;  // index of label B
  double log10_p = 0;     // one-sided Fisher exact, unadjusted
  double holm_log10_p = 0;  // Holm over every ordered pair
};

struct LabelFinding {
  std::string label;
  KeyScanResult result;          // the label's own test (Holm over all keys scanned)
  bool detected = false;         // holm p < alpha
  // What "no evidence" under this label means at this sample size: the largest effect the interval
  // allows (effect_interval.upper), and the smallest effect these tuples would have detected.
  double minimum_detectable_effect = 0;  // in rate units (rate - gamma); 1 - gamma when none would
};

enum class AttributionVerdict {
  none,       // no label's test reaches alpha
  single,     // one label detected and its rate is larger than every other label's (each at alpha)
  ambiguous,  // detected under one or more labels, but no one label's rate is shown larger than all others
};

struct Attribution {
  double gamma = 0;
  double alpha = 0;
  std::vector<LabelFinding> labels;
  std::vector<LabelComparison> comparisons;  // every ordered pair (A, B), A != B
  AttributionVerdict verdict = AttributionVerdict::none;
  std::optional<std::size_t> attributed;  // with verdict single: the label's index
};

// results[i] is the scan's result for labels[i] (the same order), already Holm-corrected with every
// other key of the scan. All labels share one gamma (a ring's subkeys do). Throws
// Error(invalid_argument) when the sizes differ, a label is empty, or alpha is outside (0, 1).
Attribution attribute(std::span<const std::string> labels, std::span<const KeyScanResult> results, double gamma,
                      double alpha);

// The verdict and the per-label findings in plain words, for a terminal or a report: the label lines,
// the verdict, then what "no evidence" means for each label not detected. The pieces are for the
// report, which lays them out itself; attribution_text() is exactly them joined.
std::string attribution_text(const Attribution& attribution);
std::string attribution_label_line(const LabelFinding& finding);   // one line, no newline
std::string attribution_verdict_text(const Attribution& attribution);  // "Verdict: ..." lines, each ending in a newline
std::string no_evidence_text(const LabelFinding& finding);          // one sentence, no newline (for a label not detected)
// Every figure, with format_p_value() strings in "p_value" and "holm_p_value" fields (write it with
// dump_with_raw_p_values()).
nlohmann::ordered_json attribution_json(const Attribution& attribution);

}  // namespace tracemark
