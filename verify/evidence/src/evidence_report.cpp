#include "evidence_report.hpp"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracemark/error.hpp"
#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/pinned_files.hpp"
#include "tracemark/verify/scan_report.hpp"
#include "tracemark/verify/utf8.hpp"

extern char** environ;

namespace tracemark {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kChartPackage = "chart.js";
constexpr std::string_view kChartFile = "package/dist/chart.umd.min.js";
constexpr std::size_t kExampleTokens = 160;

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// JSON inside <script>: "</" and "<!--" must not appear, so "<" is written as \u003c.
std::string script_json(const nlohmann::ordered_json& data) {
  const std::string text = data.dump();
  std::string out;
  for (const char c : text) {
    if (c == '<') {
      out += "\\u003c";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// The p-value curve for the chart: per response while per-response tallies exist (the scan's own
// trace has one point per batch of 512 records), then the scan's trace beyond them. Both are the
// same pooled test at the points where they meet. At most about 200 points, spread in log(tokens).
nlohmann::ordered_json trace_points(const FileScanResult& file, std::size_t k, double gamma) {
  struct Point {
    std::uint64_t tokens;
    double y;
  };
  std::vector<Point> curve;
  std::uint64_t tokens = 0, scored = 0, green = 0;
  for (const ResponseTally& tally : file.tallies[k]) {
    tokens += tally.tokens;
    scored += tally.scored;
    green += tally.green;
    if (tokens > 0) curve.push_back({tokens, -binomial_test(green, scored, gamma).log10_p});
  }
  for (const ScanTracePoint& point : file.traces[k]) {
    if (point.tokens > tokens) curve.push_back({point.tokens, -point.log10_p});
  }
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  double next = 0;
  for (std::size_t i = 0; i < curve.size(); ++i) {
    const double at = std::log(static_cast<double>(curve[i].tokens));
    if (i + 1 == curve.size() || at >= next) {
      out.push_back({{"x", curve[i].tokens}, {"y", curve[i].y}});
      next = at + std::log(static_cast<double>(std::max<std::uint64_t>(curve.back().tokens, 2))) / 200.0;
    }
  }
  return out;
}

nlohmann::ordered_json rate_of(const KeyScanResult& r, double gamma) {
  return {{"rate", r.green_rate}, {"lower", r.effect_interval.lower + gamma}, {"upper", r.effect_interval.upper + gamma},
          {"scored", r.counts.scored}};
}

nlohmann::ordered_json tallies_of(const FileScanResult& file, std::size_t k) {
  nlohmann::ordered_json scored = nlohmann::ordered_json::array(), green = nlohmann::ordered_json::array();
  for (std::size_t r = 0; r < file.tallies[k].size() && r < 5000; ++r) {
    scored.push_back(file.tallies[k][r].scored);
    green.push_back(file.tallies[k][r].green);
  }
  return {{"scored", scored}, {"green", green}};
}

std::string token_html(const ColouredResponse& response, std::size_t i) {
  std::string text;
  if (!response.pieces.empty()) {
    std::uint64_t replaced = 0;
    text = replace_invalid_utf8(response.pieces[i], replaced);
  } else {
    text = (i ? " " : "") + std::to_string(response.tokens[i]);
  }
  const TokenStatus status = response.statuses[i];
  const char* css = status == TokenStatus::green ? "g" : status == TokenStatus::red ? "r" : "n";
  return "<span class=\"" + std::string(css) + "\" title=\"" + token_status_name(status) + ", id " +
         std::to_string(response.tokens[i]) + "\">" + html_escape(text) + "</span>";
}

const char* kStyle = R"CSS(
body { font-family: "DejaVu Sans", Arial, sans-serif; max-width: 760px; margin: 24px auto; color: #1a1a1a; line-height: 1.45; font-size: 14px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; font-size: 12px; margin: 8px 0; }
td, th { border: 1px solid #ccc; padding: 3px 5px; text-align: left; vertical-align: top; }
code, pre, .mono { font-family: "DejaVu Sans Mono", monospace; font-size: 11px; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: 8px; border: 1px solid #ddd; }
.verdict { background: #eef4fb; border-left: 4px solid #2c6fb7; padding: 8px 12px; }
.warn { background: #fff3e0; border-left: 4px solid #e08a00; padding: 8px 12px; }
.example { white-space: pre-wrap; border: 1px solid #ddd; padding: 8px; font-size: 13px; }
.g { background: #b9efb4; } .r { background: #f6b9b9; } .n { color: #888; }
canvas { display: block; margin: 6px 0; }
.caption { font-size: 12px; color: #444; }
.digest { word-break: break-all; }
@media print { h2 { break-after: avoid; } canvas, .example, table { break-inside: avoid; } }
)CSS";

// Runs before anything else: records script errors, console errors and blocked requests into the
// page, so a headless browser's --dump-dom shows them (the browser test reads #tm-self-check).
const char* kErrorRecorder = R"JS(
window.tmErrors = [];
window.addEventListener('error', function (e) { window.tmErrors.push('error: ' + (e.message || e.type)); });
window.addEventListener('unhandledrejection', function (e) { window.tmErrors.push('unhandled rejection: ' + e.reason); });
document.addEventListener('securitypolicyviolation', function (e) { window.tmErrors.push('blocked request: ' + e.blockedURI); });
(function () { var original = console.error; console.error = function () { window.tmErrors.push('console.error: ' + Array.prototype.join.call(arguments, ' ')); return original.apply(console, arguments); }; })();
)JS";

const char* kCharts = R"JS(
(function () {
  var data = JSON.parse(document.getElementById('tm-data').textContent);
  var palette = ['#2c6fb7', '#c0392b', '#27864a', '#8e44ad', '#d68910', '#16a085'];
  Chart.defaults.animation = false;
  Chart.defaults.responsive = false;
  Chart.defaults.devicePixelRatio = 2;
  Chart.defaults.font.size = 11;
  var charts = [];

  // 1. The p-value as suspect tokens accumulate.
  var traceSets = [];
  data.keys.forEach(function (key, i) {
    traceSets.push({ label: 'suspect, key ' + key.key_id, data: key.suspect_trace, borderColor: palette[i % 6], backgroundColor: palette[i % 6], pointRadius: key.suspect_trace.length < 30 ? 3 : 0, borderWidth: 2 });
    if (key.control_trace) traceSets.push({ label: 'control, key ' + key.key_id, data: key.control_trace, borderColor: palette[i % 6], borderDash: [5, 4], pointRadius: 0, borderWidth: 1.5 });
  });
  var xmax = 10;
  traceSets.forEach(function (s) { s.data.forEach(function (p) { xmax = Math.max(xmax, p.x); }); });
  traceSets.push({ label: 'evidence threshold (p = ' + data.alpha_text + ')', data: [{ x: 1, y: data.threshold }, { x: xmax, y: data.threshold }], borderColor: '#555', borderDash: [2, 3], pointRadius: 0, borderWidth: 1 });
  charts.push(new Chart(document.getElementById('chart-trace'), {
    type: 'line', data: { datasets: traceSets },
    options: { parsing: false, scales: {
      x: { type: 'logarithmic', title: { display: true, text: 'suspect tokens read' } },
      y: { min: 0, title: { display: true, text: '-log10 p (unadjusted; higher = stronger evidence)' } } } }
  }));

  // 2. Green rate of suspect and control against gamma, with 95% intervals.
  var labels = [], intervals = [], rates = [], gammas = [], colours = [];
  data.keys.forEach(function (key, i) {
    labels.push('suspect ' + key.key_id); intervals.push([key.suspect_rate.lower * 100, key.suspect_rate.upper * 100]);
    rates.push(key.suspect_rate.rate * 100); gammas.push(key.gamma * 100); colours.push(palette[i % 6]);
    if (key.control_rate) {
      labels.push('control ' + key.key_id); intervals.push([key.control_rate.lower * 100, key.control_rate.upper * 100]);
      rates.push(key.control_rate.rate * 100); gammas.push(key.gamma * 100); colours.push('#999');
    }
  });
  charts.push(new Chart(document.getElementById('chart-rates'), {
    data: { labels: labels, datasets: [
      { type: 'bar', label: '95% interval of the green rate', data: intervals, backgroundColor: colours.map(function (c) { return c + '55'; }), borderColor: colours, borderWidth: 1, barPercentage: 0.35, order: 2 },
      { type: 'scatter', label: 'observed green rate', data: rates, backgroundColor: '#000', pointRadius: 4, pointStyle: 'rectRot', order: 0 },
      { type: 'line', label: 'gamma: the rate expected by chance', data: gammas, borderColor: '#555', borderDash: [4, 3], pointRadius: 0, borderWidth: 1.5, stepped: 'middle', order: 1 }
    ] },
    options: { scales: { y: { title: { display: true, text: 'green tuples, % of scored' } } } }
  }));

  // 3. Per-response scores against the null.
  var binWidth = 0.5, lo = -4, hi = 8, bins = [];
  for (var b = lo; b < hi; b += binWidth) bins.push(b);
  function histogram(t, gamma) {
    var counts = bins.map(function () { return 0; }), n = 0;
    for (var r = 0; r < t.scored.length; ++r) {
      var s = t.scored[r]; if (s < 5) continue;
      var z = (t.green[r] - gamma * s) / Math.sqrt(s * gamma * (1 - gamma));
      var at = Math.min(bins.length - 1, Math.max(0, Math.floor((z - lo) / binWidth)));
      counts[at] += 1; n += 1;
    }
    return { counts: counts, n: n };
  }
  var key = data.keys[data.primary];
  var suspect = histogram(key.suspect_tallies, key.gamma);
  var sets = [{ type: 'bar', label: 'suspect responses (' + suspect.n + ')', data: suspect.counts, backgroundColor: '#2c6fb799', barPercentage: 1, categoryPercentage: 1 }];
  if (key.control_tallies) {
    var control = histogram(key.control_tallies, key.gamma);
    sets.push({ type: 'bar', label: 'control responses (' + control.n + ')', data: control.counts, backgroundColor: '#99999999', barPercentage: 1, categoryPercentage: 1 });
  }
  sets.push({ type: 'line', label: 'expected without the watermark (standard normal)', borderColor: '#000', pointRadius: 0, borderWidth: 1.5,
    data: bins.map(function (b) { var m = b + binWidth / 2; return suspect.n * binWidth * Math.exp(-m * m / 2) / Math.sqrt(2 * Math.PI); }) });
  charts.push(new Chart(document.getElementById('chart-responses'), {
    data: { labels: bins.map(function (b) { return (b + binWidth / 2).toFixed(2); }), datasets: sets },
    options: { scales: { x: { title: { display: true, text: 'per-response score z = (green - gamma n) / sqrt(n gamma (1 - gamma)), key ' + key.key_id } },
                         y: { title: { display: true, text: 'responses' } } } }
  }));

  // Self-check for the browser test: each chart must have painted something.
  var drawn = 0;
  charts.forEach(function (chart) {
    var canvas = chart.canvas, pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data, painted = 0;
    for (var i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted += 1;
    if (painted > 1000) drawn += 1;
  });
  var check = document.getElementById('tm-self-check');
  check.setAttribute('data-charts-expected', String(charts.length));
  check.setAttribute('data-charts-drawn', String(drawn));
  check.textContent = 'charts drawn: ' + drawn + ' of ' + charts.length + '; errors: ' + window.tmErrors.length;
  window.setTimeout(function () { check.setAttribute('data-errors', JSON.stringify(window.tmErrors)); check.textContent = 'charts drawn: ' + drawn + ' of ' + charts.length + '; errors: ' + window.tmErrors.length; }, 0);
  check.setAttribute('data-errors', JSON.stringify(window.tmErrors));
})();
)JS";

}  // namespace

std::string pinned_chart_library() {
  std::string text = read_pinned_npm_file(kChartPackage, kChartFile, "report.html's charts (Chart.js) need it");
  // Inlined: the source-map comment would make developer tools fetch a file that is not there.
  if (const std::size_t at = text.rfind("\n//# sourceMappingURL="); at != std::string::npos) text.resize(at + 1);
  if (text.find("</script") != std::string::npos) throw Error(ErrorCode::internal, "Chart.js holds </script and cannot be inlined");
  return text;
}

std::string render_evidence_report_html(const EvidenceReportInput& input, const std::string& chart_library) {
  const SuspectScanReport& report = *input.report;
  const std::size_t keys = input.keys.size();
  std::size_t primary = 0;
  for (std::size_t k = 1; k < keys; ++k) {
    if (report.suspect.keys[k].holm_log10_p < report.suspect.keys[primary].holm_log10_p) primary = k;
  }
  nlohmann::ordered_json data = {{"alpha_text", format_p_value(std::log10(input.alpha))},
                                 {"threshold", -std::log10(input.alpha)},
                                 {"primary", primary}};
  data["keys"] = nlohmann::ordered_json::array();
  for (std::size_t k = 0; k < keys; ++k) {
    nlohmann::ordered_json key = {{"key_id", report.suspect.keys[k].key_id}, {"gamma", report.gammas[k]},
                                  {"suspect_trace", trace_points(report.suspect, k, report.gammas[k])},
                                  {"suspect_rate", rate_of(report.suspect.keys[k], report.gammas[k])},
                                  {"suspect_tallies", tallies_of(report.suspect, k)}};
    if (report.control) {
      key["control_trace"] = trace_points(*report.control, k, report.gammas[k]);
      key["control_rate"] = rate_of(report.control->keys[k], report.gammas[k]);
      key["control_tallies"] = tallies_of(*report.control, k);
    }
    data["keys"].push_back(std::move(key));
  }

  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; "
       "style-src 'unsafe-inline'; img-src data:\">\n"
    << "<title>Evidence report: distillation scan</title>\n<script>" << kErrorRecorder << "</script>\n<style>" << kStyle
    << "</style>\n</head><body>\n";
  h << "<h1>Evidence report: was the suspect model trained on our watermarked outputs?</h1>\n"
    << "<p class=\"caption\">Made " << html_escape(input.created_utc) << " by " << html_escape(input.tool_line)
    << ". Every file of this bundle is listed with its SHA-256 in manifest.json, which is signed "
       "(manifest.dsse.json); <code>tracemark evidence verify</code> checks them.</p>\n";

  h << "<h2>The question</h2>\n<p>Our serving system puts a faint, keyed statistical pattern (a watermark) into every "
       "response it serves. A model trained on many of those responses tends to pick up a trace of the pattern. The "
       "question this report answers: do the outputs of the suspect model show that trace, more than chance allows?</p>\n";

  h << "<h2>Verdict</h2>\n";
  for (std::size_t k = 0; k < keys; ++k) {
    const KeyScanResult& r = report.suspect.keys[k];
    h << "<p class=\"verdict\"><b>Key " << html_escape(r.key_id) << ":</b> "
      << html_escape(scan_verdict(r, report.gammas[k], keys, input.alpha)) << "</p>\n";
  }
  h << "<table><tr><th>key</th><th>scored tuples</th><th>green</th><th>green rate</th><th>by chance (gamma)</th>"
       "<th>effect (points), 95% interval</th><th>p-value</th><th>p after correction</th></tr>\n";
  for (std::size_t k = 0; k < keys; ++k) {
    const KeyScanResult& r = report.suspect.keys[k];
    h << "<tr><td class=\"mono\">" << html_escape(r.key_id) << "</td><td>" << r.counts.scored << "</td><td>"
      << r.counts.green << "</td><td>" << format_percent(r.green_rate) << "</td><td>" << format_percent(report.gammas[k]) << "</td><td>"
      << format_points(r.effect) << " (" << format_points(r.effect_interval.lower) << " to " << format_points(r.effect_interval.upper)
      << ")</td><td>" << format_p_value(r.test.log10_p) << "</td><td>" << format_p_value(r.holm_log10_p) << "</td></tr>\n";
  }
  h << "</table>\n";

  h << "<h2>Every test of the investigation</h2>\n<pre>" << html_escape(input.investigation_text) << "</pre>\n"
    << "<p>Every scan run into this investigation is recorded in investigation.jsonl (each run names the SHA-256 of the "
       "one before it, so a run cannot be dropped without it showing). The correction for multiple testing (Holm) is "
       "computed over all distinct suspect tests, not only the last scan, so trying many keys or settings and reporting "
       "the best cannot make a finding look stronger than it is.</p>\n"
    << "<table><tr><th>run</th><th>file</th><th>key</th><th>scored</th><th>green</th><th>p-value</th><th>p after "
       "investigation-wide correction</th></tr>\n";
  for (const auto& test : input.investigation["tests"]) {
    h << "<tr><td>" << test["run"].get<std::uint64_t>() << "</td><td>" << html_escape(test["role"].get<std::string>())
      << "</td><td class=\"mono\">" << html_escape(test["key_id"].get<std::string>()) << "</td><td>"
      << test["scored"].get<std::uint64_t>() << "</td><td>" << test["green"].get<std::uint64_t>() << "</td><td>"
      << html_escape(test["p_value"].get<std::string>()) << "</td><td>"
      << html_escape(test.contains("holm_p_value") ? test["holm_p_value"].get<std::string>() : std::string("(control: not a tested hypothesis)"))
      << "</td></tr>\n";
  }
  h << "</table>\n";

  h << "<h2>What the p-value means, and what it does not</h2>\n<ul>"
       "<li>The p-value is the probability of seeing at least this many green tuples if the suspect's text had nothing to "
       "do with our watermark key. It is computed exactly (binomial tail), never approximated, and never shown as 0.</li>"
       "<li>It is <b>not</b> the probability that the suspect is innocent, and not the probability that it was trained on "
       "our outputs. A small p-value says the pattern is very unlikely by chance; it does not say how the pattern got "
       "there.</li>"
       "<li>The effect size (how much the green rate exceeds chance) says how strong the trace is; a tiny effect can have "
       "a tiny p-value when very many tokens were read.</li>"
       "<li>The verdict uses an evidence threshold of p &lt; "
    << format_p_value(std::log10(input.alpha))
    << " after correction for every key tested. Results above it are described as suggestive or as no evidence, never "
       "as proof of innocence.</li></ul>\n";

  h << "<h2>The method in plain words</h2>\n<ul>"
       "<li>For every token the suspect wrote, the previous few tokens (the context) and our secret key split the "
       "vocabulary into a green part (a fixed fraction, gamma) and a red rest. Text written without the key is green "
       "at exactly that rate.</li>"
       "<li>Each distinct (context, token) pair is counted once, in file order, so repeated phrases and boilerplate "
       "cannot inflate the evidence. Tokens copied from the prompt, and contexts outside our served responses when a "
       "reference log is used, are not counted (this keeps the p-value valid).</li>"
       "<li>The key was committed to in advance: its public commitment (below) was fixed before the scan, so the key "
       "cannot have been chosen after seeing the suspect. The secret itself is not in this bundle.</li></ul>\n";

  h << "<h2>Controls</h2>\n";
  if (report.control) {
    h << "<p>A control, the outputs of a model known not to have seen our watermarked responses, was scanned the same "
         "way. It should show no evidence; if it does, the set-up is suspect.</p><ul>";
    for (std::size_t k = 0; k < keys; ++k) {
      const KeyScanResult& c = report.control->keys[k];
      h << "<li>Key " << html_escape(c.key_id) << ": " << c.counts.scored << " scored, green rate " << format_percent(c.green_rate)
        << ", p = " << format_p_value(c.holm_log10_p) << ".</li>";
      if (c.holm_log10_p < std::log10(input.alpha)) {
        h << "<li class=\"warn\">WARNING: the known-clean control is flagged too. The set-up is suspect (for example the "
             "prompts or the control are themselves watermarked); do not rely on the suspect's result.</li>";
      }
    }
    h << "</ul>\n";
  } else {
    h << "<p class=\"warn\">No control was scanned in this run. A control (the outputs of a model known to be clean, "
         "given with --control) shows that the procedure does not flag innocent models on this kind of text.</p>\n";
  }

  h << "<h2>Charts</h2>\n<canvas id=\"chart-trace\" width=\"700\" height=\"300\"></canvas>\n"
    << "<p class=\"caption\">Evidence as the suspect's tokens accumulate: -log10 of the p-value (before correction) "
       "after each batch of responses. A model that learned the watermark climbs steadily; a clean one stays low. The "
       "dotted line is the evidence threshold.</p>\n"
    << "<canvas id=\"chart-rates\" width=\"700\" height=\"300\"></canvas>\n"
    << "<p class=\"caption\">Green rate of the suspect (and the control) with its exact 95% interval, against gamma, the "
       "rate expected by chance.</p>\n"
    << "<canvas id=\"chart-responses\" width=\"700\" height=\"300\"></canvas>\n"
    << "<p class=\"caption\">Per-response scores (responses with at least 5 scored tuples, up to the first 5,000) "
       "against the curve expected without the watermark. The picture uses the normal approximation; the test above "
       "is exact and pools all responses.</p>\n"
    << "<p id=\"tm-self-check\" class=\"caption\">charts not drawn (scripts did not run)</p>\n";

  h << "<h2>Example responses</h2>\n<p>The first responses of each file (in file order, not chosen by their scores) with "
       "at least 10 scored tokens. <span class=\"g\">Green</span> and <span class=\"r\">red</span> mark scored tokens; "
       "<span class=\"n\">grey</span> tokens were not scored (the first tokens of a response, tokens already counted "
       "earlier, copied from the prompt, or outside the reference log). Hover a token for its status. These are "
       "illustrations: the finding rests on all responses together, not on any one.</p>\n";
  if (input.examples.empty()) h << "<p>No response had 10 scored tokens.</p>\n";
  for (const EvidenceReportExample& example : input.examples) {
    const ColouredResponse& response = example.response;
    std::size_t green = 0, red = 0;
    for (TokenStatus status : response.statuses) {
      green += status == TokenStatus::green;
      red += status == TokenStatus::red;
    }
    h << "<p class=\"caption\">" << html_escape(example.role) << " response " << response.index + 1 << " (line "
      << response.ref.line << (response.ref.choice ? ", choice " + std::to_string(response.ref.choice) : std::string())
      << ", id " << html_escape(response.ref.id) << "), key " << html_escape(example.key_id) << ": " << green
      << " green and " << red << " red of " << response.tokens.size() << " tokens"
      << (response.tokens.size() > kExampleTokens ? ", the first " + std::to_string(kExampleTokens) + " shown" : "") << "</p>\n"
      << "<div class=\"example\">";
    for (std::size_t i = 0; i < response.tokens.size() && i < kExampleTokens; ++i) h << token_html(response, i);
    h << "</div>\n";
  }

  h << "<h2>Limits</h2>\n<ul>"
       "<li>The test shows a statistical association with our key, not how it arose. Other explanations to weigh: the "
       "suspect was given our watermarked text in its prompts or context at inference time; it was trained on text "
       "that third parties copied from our outputs; the control set-up is flawed (see Controls).</li>"
       "<li>No evidence is not proof of innocence: a student trained on few of our responses, or whose training washed "
       "the trace out (paraphrasing, further training on clean text), can show nothing at this sample size.</li>"
       "<li>The green rate depends on the contexts the suspect writes; the effect size is comparable only between scans "
       "with the same filters.</li>"
       "<li>Figures depend on the inputs listed below exactly; anyone with the key (under protective order) can re-run the "
       "scan with <code>tracemark evidence verify DIR --public-key PUB --key KEY</code> and get the same figures.</li></ul>\n";

  h << "<h2>Inputs and keys</h2>\n<table><tr><th>role</th><th>file</th><th>bytes</th><th>SHA-256</th></tr>\n";
  for (const auto& row : input.inputs) {
    h << "<tr><td>" << html_escape(row["role"].get<std::string>()) << "</td><td>" << html_escape(row["name"].get<std::string>())
      << "</td><td>" << row["bytes"].get<std::uint64_t>() << "</td><td class=\"mono digest\">"
      << html_escape(row["sha256"].get<std::string>()) << "</td></tr>\n";
  }
  h << "</table>\n<table><tr><th>key</th><th>gamma</th><th>delta</th><th>context</th><th>vocabulary</th><th>public "
       "commitment</th></tr>\n";
  for (const WatermarkKey& key : input.keys) {
    h << "<tr><td class=\"mono\">" << html_escape(key.key_id()) << "</td><td>" << key.params().gamma << "</td><td>"
      << key.params().delta << "</td><td>" << key.params().context_width << "</td><td>" << key.params().vocab_size
      << (key.params().tokenizer ? " (" + html_escape(key.params().tokenizer->name) + ")" : std::string()) << "</td><td class=\"mono digest\">sha256:"
      << key.commitment_hex() << "</td></tr>\n";
  }
  h << "</table>\n";

  h << "<h2>As printed on the terminal</h2>\n<pre>" << html_escape(input.terminal_text) << "</pre>\n";

  h << "<script type=\"application/json\" id=\"tm-data\">" << script_json(data) << "</script>\n"
    << "<script>/* Chart.js, inlined from the npm package pinned in corpora/npm-manifest.tsv (MIT License) */\n"
    << chart_library << "</script>\n<script>" << kCharts << "</script>\n</body></html>\n";
  return h.str();
}

std::optional<std::string> print_pdf_with_chromium(const fs::path& html, const fs::path& pdf) {
  std::string browser;
  if (const char* chosen = std::getenv("TRACEMARK_CHROMIUM"); chosen && *chosen) {
    browser = chosen;
  } else {
    const char* path = std::getenv("PATH");
    std::stringstream folders(path ? path : "/usr/bin:/bin");
    std::string folder;
    while (browser.empty() && std::getline(folders, folder, ':')) {
      for (const char* name : {"chromium", "chromium-browser"}) {
        if (::access((fs::path(folder) / name).c_str(), X_OK) == 0) {
          browser = (fs::path(folder) / name).string();
          break;
        }
      }
    }
  }
  if (browser.empty()) return "Chromium is not installed (no chromium or chromium-browser on the PATH; tools/setup.sh installs Debian's chromium)";
  // A profile of its own, so concurrent runs never share browser state.
  std::string profile = (fs::temp_directory_path() / "tracemark-chromium-XXXXXX").string();
  if (::mkdtemp(profile.data()) == nullptr) return "cannot create a temporary Chromium profile: " + std::string(std::strerror(errno));
  const fs::path partial = pdf.string() + ".partial";
  std::vector<std::string> arguments = {browser, "--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
                                        "--user-data-dir=" + profile, "--no-pdf-header-footer",
                                        "--print-to-pdf=" + partial.string()};
  if (::geteuid() == 0) arguments.push_back("--no-sandbox");  // Chromium's sandbox refuses to run as root
  arguments.push_back("file://" + fs::absolute(html).string());
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t child = 0;
  const int spawned = posix_spawn(&child, browser.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  std::optional<std::string> problem;
  if (spawned != 0) {
    problem = "Chromium (" + browser + ") could not be started: " + std::strerror(spawned);
  } else {
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    for (;;) {
      const pid_t done = ::waitpid(child, &status, WNOHANG);
      if (done == child) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(child, SIGKILL);
        ::waitpid(child, &status, 0);
        problem = "Chromium did not finish printing within 180 s";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!problem && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      problem = "Chromium (" + browser + ") failed while printing (exit status " +
                std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) + ")";
    }
    std::error_code error;
    if (!problem && (!fs::is_regular_file(partial, error) || fs::file_size(partial, error) < 100)) {
      problem = "Chromium (" + browser + ") wrote no PDF";
    }
  }
  std::error_code ignored;
  fs::remove_all(profile, ignored);
  if (problem) {
    fs::remove(partial, ignored);
    return problem;
  }
  fs::rename(partial, pdf);
  ::chmod(pdf.c_str(), 0644);
  return std::nullopt;
}

}  // namespace tracemark
