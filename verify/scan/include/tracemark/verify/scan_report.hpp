// Reading a distillation scan: the verdict in plain words, the text report and the JSON document.
// Shared by `tracemark scan` and the evidence bundle, so both always say the same thing.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "tracemark/embed/key.hpp"
#include "tracemark/verify/suspect_scan.hpp"

namespace tracemark {

// The verdict a non-statistician reads correctly; it never claims more than the test shows.
// `keys` is the number of keys tested (for the Holm note), alpha the evidence threshold.
std::string scan_verdict(const KeyScanResult& result, double gamma, std::size_t keys, double alpha);

// Every figure of the report (traces included, per-response scores not). "p_value" and
// "holm_p_value" fields hold format_p_value() strings: write the document with
// dump_with_raw_p_values() so they become exact JSON numbers.
nlohmann::ordered_json scan_report_json(const SuspectScanReport& report, std::span<const WatermarkKey> keys, double alpha);

// A fraction as a percentage with two decimals ("44.38%"), and a difference of fractions in
// signed percentage points ("+19.38"): the report's, the bundle's and the terminal's one wording.
std::string format_percent(double fraction);
std::string format_points(double fraction);

// The report as text for a terminal.
std::string scan_report_text(const SuspectScanReport& report, std::span<const WatermarkKey> keys, double alpha);

// Dumps a document whose "p_value" and "holm_p_value" fields hold format_p_value() strings, writing
// those fields as raw JSON numbers (so they stay exact below the smallest double).
std::string dump_with_raw_p_values(const nlohmann::ordered_json& document, int indent);

}  // namespace tracemark
