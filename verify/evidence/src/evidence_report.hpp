// The human-readable parts of an evidence bundle: report.html (self-contained: data, styles, the
// pinned Chart.js and the page's own script are inlined, and a Content-Security-Policy forbids any
// request) and report.pdf printed from it by headless Chromium. Private to verify/.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tracemark/embed/key.hpp"
#include "tracemark/verify/evidence_bundle.hpp"
#include "tracemark/verify/html_page.hpp"  // pinned_chart_library
#include "tracemark/verify/suspect_scan.hpp"

namespace tracemark {

struct EvidenceReportExample {
  std::string role;  // "suspect" or "control"
  std::string key_id;
  ColouredResponse response;
};

struct EvidenceReportInput {
  const SuspectScanReport* report = nullptr;
  std::span<const WatermarkKey> keys;
  double alpha = 1e-6;
  std::string terminal_text;       // scan_report_text(): the same words as on the terminal
  std::string investigation_text;  // investigation_text()
  nlohmann::ordered_json inputs;         // inputs.json
  nlohmann::ordered_json investigation;  // results.json's "investigation"
  std::string tool_line;                 // "tracemark 0.1.0 (build ...)"
  std::string created_utc;
  std::vector<EvidenceReportExample> examples;
  const EvidenceRing* ring = nullptr;  // with a keyring: the attribution section
};

std::string render_evidence_report_html(const EvidenceReportInput& input, const std::string& chart_library);

// Prints `html` (a file) to `pdf` with headless Chromium ($TRACEMARK_CHROMIUM, else chromium or
// chromium-browser on the PATH). Returns nullopt on success, else why it could not (no Chromium, a
// crash, a time-out), in words.
std::optional<std::string> print_pdf_with_chromium(const std::filesystem::path& html, const std::filesystem::path& pdf);

}  // namespace tracemark
