#include "evidence_report.hpp"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
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

#include <kainjow/mustache.hpp>

#include "evidence_attribution.hpp"
#include "report_statistic.hpp"
#include "report_assets.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/html_page.hpp"
#include "tracemark/verify/scan_report.hpp"
#include "tracemark/verify/utf8.hpp"

extern char** environ;

namespace tracemark {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kExampleTokens = 160;

// The p-value curve for the chart: per response while per-response tallies exist (the scan's own
// trace has one point per batch of 512 records), then the scan's trace beyond them. Both are the
// same pooled test (the key's scheme's) at the points where they meet. At most about 200 points,
// spread in log(tokens).
nlohmann::ordered_json trace_points(const FileScanResult& file, std::size_t k, double gamma) {
  struct Point {
    std::uint64_t tokens;
    double y;
  };
  const KeyStatistic statistic{file.keys[k].scheme, file.keys[k].tournament_layers};
  std::vector<Point> curve;
  std::uint64_t tokens = 0;
  ScanCounts pooled;
  for (const ResponseTally& tally : file.tallies[k]) {
    tokens += tally.tokens;
    pooled.scored += tally.scored;
    pooled.green += tally.green;
    pooled.score += tally.score;
    pooled.g_ones += tally.g_ones;
    if (tokens > 0) curve.push_back({tokens, -pooled_log10_p(statistic, pooled, gamma)});
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
  const ReportStatistic s = report_statistic(r, gamma);
  return {{"rate", s.rate}, {"lower", s.lower}, {"upper", s.upper}, {"scored", r.counts.scored}};
}

// Each response's statistic and the number of null draws it sums, for the chart of per-response z.
nlohmann::ordered_json tallies_of(const FileScanResult& file, std::size_t k) {
  nlohmann::ordered_json units = nlohmann::ordered_json::array(), values = nlohmann::ordered_json::array();
  for (std::size_t r = 0; r < file.tallies[k].size() && r < 5000; ++r) {
    units.push_back(tally_units(file.keys[k], file.tallies[k][r]));
    values.push_back(tally_value(file.keys[k], file.tallies[k][r]));
  }
  return {{"units", units}, {"values", values}};
}

using Data = kainjow::mustache::data;

// "a", "a or b", "a, b or c".
std::string joined_with_or(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += i + 1 == parts.size() ? " or " : ", ";
    out += parts[i];
  }
  return out;
}

// An investigation test's statistic as the log records it: a sampling scheme's beside the green count.
std::string investigation_statistic(const nlohmann::ordered_json& test) {
  const std::string scheme = test.value("scheme", std::string());
  if (scheme == kGumbelMaxSchemeName) {
    char text[48];
    std::snprintf(text, sizeof text, "score %.1f", test.at("score").get<double>());
    return text;
  }
  if (scheme == kTournamentSchemeName) return std::to_string(test.at("g_ones").get<std::uint64_t>()) + " g-values 1";
  return std::to_string(test.at("green").get<std::uint64_t>()) + " green";
}

Data list() { return Data(Data::type::list); }

// One token of a highlighted example: its status as a CSS class, its text (the tokenizer's bytes,
// repaired as UTF-8, or its id).
Data token_data(const ColouredResponse& response, std::size_t i) {
  const TokenStatus status = response.statuses[i];
  Data token;
  token.set("css", status == TokenStatus::green ? "g" : status == TokenStatus::red ? "r" : "n");
  token.set("title", std::string(token_status_name(status)) + ", id " + std::to_string(response.tokens[i]));
  token.set("text", response.pieces.empty() ? (i ? " " : "") + std::to_string(response.tokens[i])
                                            : replace_invalid_utf8(response.pieces[i]));
  return token;
}

Data example_data(const EvidenceReportExample& example, const ReportStatistic& statistic) {
  const ColouredResponse& response = example.response;
  std::size_t green = 0, red = 0;
  for (TokenStatus status : response.statuses) {
    green += status == TokenStatus::green;
    red += status == TokenStatus::red;
  }
  Data out;
  out.set("role", example.role);
  out.set("number", std::to_string(response.index + 1));
  out.set("line", std::to_string(response.ref.line));
  if (response.ref.choice) out.set("choice", std::to_string(response.ref.choice));
  out.set("id", response.ref.id);
  out.set("key_id", example.key_id);
  out.set("green", std::to_string(green));
  out.set("red", std::to_string(red));
  out.set("marked_word", statistic.marked_word);
  out.set("unmarked_word", statistic.unmarked_word);
  out.set("tokens", std::to_string(response.tokens.size()));
  if (response.tokens.size() > kExampleTokens) out.set("shown", std::to_string(kExampleTokens));
  Data pieces = list();
  for (std::size_t i = 0; i < response.tokens.size() && i < kExampleTokens; ++i) pieces.push_back(token_data(response, i));
  out.set("pieces", pieces);
  return out;
}

// A number as the report has always printed it (ostream's default: 0.25, 2, 1e-06).
template <typename Number>
std::string plain(Number value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// The attribution section (issue 15): the chart's data (effect per label with its interval, in
// points) and the page's rows and plain words.
nlohmann::ordered_json attribution_chart_data(const Attribution& attribution) {
  nlohmann::ordered_json labels = nlohmann::ordered_json::array();
  for (const LabelFinding& f : attribution.labels) {
    labels.push_back({{"label", f.label}, {"effect", 100 * f.result.effect}, {"lower", 100 * f.result.effect_interval.lower},
                      {"upper", 100 * f.result.effect_interval.upper}, {"detected", f.detected}});
  }
  return labels;
}

void add_attribution_section(const EvidenceRing& ring, const SuspectScanReport& report, double alpha, Data& page,
                             nlohmann::ordered_json& data) {
  const Attribution suspect = evidence_attribution(ring, report.suspect, report, alpha);
  data["attribution"] = {{"suspect", attribution_chart_data(suspect)}};
  Data section;
  section.set("ring_id", ring.ring_id);
  section.set("root", ring.root);
  section.set("verdict", attribution_verdict_text(suspect));
  Data rows = list(), no_evidence = list();
  for (const LabelFinding& f : suspect.labels) {
    const KeyScanResult& r = f.result;
    Data row;
    row.set("label", f.label);
    row.set("key_id", r.key_id);
    row.set("scored", std::to_string(r.counts.scored));
    row.set("green_rate", format_percent(r.green_rate));
    row.set("effect", format_points(r.effect));
    row.set("effect_lower", format_points(r.effect_interval.lower));
    row.set("effect_upper", format_points(r.effect_interval.upper));
    row.set("holm_p_value", format_p_value(r.holm_log10_p));
    row.set("detected", f.detected);
    std::string proof = "not revealed (no evidence claimed under this label)";
    for (const KeyringProof& p : ring.proofs) {
      if (p.label == f.label && f.detected) proof = "leaf " + std::to_string(p.leaf_index + 1) + " of " + std::to_string(p.leaf_count);
    }
    row.set("proof", proof);
    rows.push_back(row);
    if (!f.detected) {
      Data sentence;
      sentence.set("text", no_evidence_text(f));
      no_evidence.push_back(sentence);
    }
  }
  section.set("labels", rows);
  section.set("no_evidence", no_evidence);
  Data comparisons = list();
  for (const LabelComparison& c : suspect.comparisons) {
    Data row;
    row.set("above", suspect.labels[c.above].label);
    row.set("below", suspect.labels[c.below].label);
    row.set("p_value", format_p_value(c.log10_p));
    row.set("holm_p_value", format_p_value(c.holm_log10_p));
    row.set("shown", c.holm_log10_p < std::log10(alpha));
    comparisons.push_back(row);
  }
  section.set("comparisons", comparisons);
  section.set("pairs", std::to_string(suspect.comparisons.size()));
  if (report.control) {
    const Attribution control = evidence_attribution(ring, *report.control, report, alpha);
    data["attribution"]["control"] = attribution_chart_data(control);
    section.set("control_verdict", attribution_verdict_text(control));
  }
  Data sections = list();
  sections.push_back(section);
  page.set("attribution", sections);
}

}  // namespace

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
  // The chart of rates shares one axis: green-list keys in percent, or (with no green-list key) the
  // sampling schemes' per-tuple means.
  bool any_green_list = false;
  for (std::size_t k = 0; k < keys; ++k) any_green_list |= report.suspect.keys[k].scheme == SchemeKind::green_list;
  data["rates_axis"] = any_green_list ? "green tuples, % of scored" : "per-tuple mean (Gumbel-max score: 1 by chance; tournament g: 0.5)";
  for (std::size_t k = 0; k < keys; ++k) {
    const ReportStatistic statistic = report_statistic(report.suspect.keys[k], report.gammas[k]);
    nlohmann::ordered_json key = {{"key_id", report.suspect.keys[k].key_id}, {"gamma", report.gammas[k]},
                                  {"null_mean", statistic.null_mean},
                                  {"unit_mean", statistic.unit_mean},
                                  {"unit_variance", statistic.unit_variance},
                                  {"z_label", statistic.z_label},
                                  {"in_rates_chart", statistic.percent == any_green_list},
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

  // Everything the template shows; it escapes every value but the inlined styles, scripts and data.
  Data page;
  page.set("created_utc", input.created_utc);
  page.set("tool_line", input.tool_line);
  page.set("alpha_text", format_p_value(std::log10(input.alpha)));
  Data key_rows = list();
  for (std::size_t k = 0; k < keys; ++k) {
    const KeyScanResult& r = report.suspect.keys[k];
    Data row;
    row.set("key_id", r.key_id);
    const ReportStatistic statistic = report_statistic(r, report.gammas[k]);
    row.set("verdict", scan_verdict(r, report.gammas[k], keys, input.alpha));
    row.set("scored", std::to_string(r.counts.scored));
    row.set("statistic", statistic.statistic);
    row.set("per_tuple", statistic.per_tuple);
    row.set("chance", statistic.chance);
    row.set("effect", statistic.effect);
    row.set("p_value", format_p_value(r.test.log10_p));
    row.set("holm_p_value", format_p_value(r.holm_log10_p));
    key_rows.push_back(row);
  }
  page.set("keys", key_rows);
  bool has[3] = {false, false, false};
  for (std::size_t k = 0; k < keys; ++k) has[static_cast<int>(report.suspect.keys[k].scheme)] = true;
  page.set("has_green_list", has[static_cast<int>(SchemeKind::green_list)]);
  page.set("has_gumbel_max", has[static_cast<int>(SchemeKind::gumbel_max)]);
  page.set("has_tournament", has[static_cast<int>(SchemeKind::tournament)]);
  std::vector<std::string> patterns, tails;
  if (has[static_cast<int>(SchemeKind::green_list)]) {
    patterns.push_back("this many green tuples (a green-list key)");
    tails.push_back("binomial tail");
  }
  if (has[static_cast<int>(SchemeKind::gumbel_max)]) {
    patterns.push_back("this large a score (a Gumbel-max key)");
    tails.push_back("Gamma tail");
  }
  if (has[static_cast<int>(SchemeKind::tournament)]) {
    patterns.push_back("this many g-values equal to 1 (a tournament key)");
    tails.push_back("binomial tail of the g-values");
  }
  page.set("pattern_text", joined_with_or(patterns));
  page.set("tail_text", joined_with_or(tails));
  page.set("investigation_text", input.investigation_text);
  Data tests = list();
  for (const auto& test : input.investigation["tests"]) {
    Data row;
    row.set("run", std::to_string(test["run"].get<std::uint64_t>()));
    row.set("role", test["role"].get<std::string>());
    row.set("key_id", test["key_id"].get<std::string>());
    row.set("scored", std::to_string(test["scored"].get<std::uint64_t>()));
    row.set("statistic", investigation_statistic(test));
    row.set("p_value", test["p_value"].get<std::string>());
    row.set("holm_p_value", test.contains("holm_p_value") ? test["holm_p_value"].get<std::string>()
                                                          : std::string("(control: not a tested hypothesis)"));
    tests.push_back(row);
  }
  page.set("tests", tests);
  page.set("has_control", report.control.has_value());
  if (report.control) {
    Data controls = list();
    for (std::size_t k = 0; k < keys; ++k) {
      const KeyScanResult& c = report.control->keys[k];
      Data row;
      row.set("key_id", c.key_id);
      row.set("scored", std::to_string(c.counts.scored));
      row.set("per_tuple", report_statistic(c, report.gammas[k]).per_tuple);
      row.set("p_value", format_p_value(c.holm_log10_p));
      row.set("flagged", c.holm_log10_p < std::log10(input.alpha));
      controls.push_back(row);
    }
    page.set("controls", controls);
  }
  Data examples = list();
  for (const EvidenceReportExample& example : input.examples) {
    std::size_t k = 0;
    while (k + 1 < keys && report.suspect.keys[k].key_id != example.key_id) ++k;
    examples.push_back(example_data(example, report_statistic(report.suspect.keys[k], report.gammas[k])));
  }
  page.set("examples", examples);
  Data inputs = list();
  for (const auto& row : input.inputs) {
    Data file;
    file.set("role", row["role"].get<std::string>());
    file.set("name", row["name"].get<std::string>());
    file.set("bytes", std::to_string(row["bytes"].get<std::uint64_t>()));
    file.set("sha256", row["sha256"].get<std::string>());
    inputs.push_back(file);
  }
  page.set("inputs", inputs);
  Data key_files = list();
  for (const WatermarkKey& key : input.keys) {
    Data row;
    row.set("key_id", key.key_id());
    row.set("scheme", key.params().scheme);
    if (key.params().scheme == kGreenListSchemeName) {
      row.set("parameters", "gamma " + plain(key.params().gamma) + ", delta " + plain(key.params().delta));
    } else if (key.params().scheme == kTournamentSchemeName) {
      row.set("parameters", std::to_string(key.params().tournament_layers) + " layers");
    } else {
      row.set("parameters", "none");
    }
    row.set("context_width", std::to_string(key.params().context_width));
    row.set("vocab_size", std::to_string(key.params().vocab_size));
    if (key.params().tokenizer) row.set("tokenizer", key.params().tokenizer->name);
    row.set("commitment", key.commitment_hex());
    key_files.push_back(row);
  }
  page.set("key_files", key_files);
  if (input.ring) add_attribution_section(*input.ring, report, input.alpha, page, data);
  page.set("terminal_text", input.terminal_text);
  return render_html_page({"report.html", report_assets::kTemplate, report_assets::kStyle, report_assets::kCharts},
                          std::move(page), data, chart_library);
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
