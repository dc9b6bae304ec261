// The investigation log (investigation.jsonl): reading it, checking its hash chain, and the
// investigation-wide multiple-testing correction over its tests.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <numbers>
#include <sstream>
#include <tuple>

#include "bundle_manifest.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/text_lines.hpp"
#include "tracemark/verify/base64_sha256.hpp"
#include "tracemark/verify/evidence_bundle.hpp"
#include "tracemark/verify/holm.hpp"

namespace tracemark {
namespace {

using Json = nlohmann::json;

const std::string kNoPrevious(64, '0');

// Typed members of one log entry; a member of the wrong type names the line and the field.
class EntryReader {
 public:
  explicit EntryReader(std::string where) : where_(std::move(where)) {}
  const Json& member(const Json& object, const char* name, const std::string& path) const {
    if (!object.is_object() || !object.contains(name)) fail(path + name + " is missing");
    return object[name];
  }
  std::uint64_t unsigned_member(const Json& object, const char* name, const std::string& path = "") const {
    const Json& value = member(object, name, path);
    if (!value.is_number_unsigned()) fail(path + name + " must be an unsigned integer, not " + json_excerpt(value));
    return value.get<std::uint64_t>();
  }
  double number_member(const Json& object, const char* name, const std::string& path) const {
    const Json& value = member(object, name, path);
    if (!value.is_number()) fail(path + name + " must be a number, not " + json_excerpt(value));
    return value.get<double>();
  }
  std::string string_member(const Json& object, const char* name, const std::string& path) const {
    const Json& value = member(object, name, path);
    if (!value.is_string()) fail(path + name + " must be a string, not " + json_excerpt(value));
    return value.get<std::string>();
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorCode::invalid_input, where_ + ": field " + what + "; the log must not be edited by hand");
  }

 private:
  std::string where_;
};

// A sampling scheme's statistic (issue 18): "scheme" names it, then "score" (gumbel-max) or
// "g_ones" and "tournament_layers" (synthid-tournament). A test without "scheme" is a green-list one.
void read_scheme_statistic(const EntryReader& reader, const Json& test, const std::string& path, InvestigationTest& entry) {
  if (!test.is_object() || !test.contains("scheme")) return;
  entry.scheme = reader.string_member(test, "scheme", path);
  if (entry.scheme == kGumbelMaxSchemeName) {
    entry.score = reader.number_member(test, "score", path);
  } else if (entry.scheme == kTournamentSchemeName) {
    entry.g_ones = reader.unsigned_member(test, "g_ones", path);
    const std::uint64_t layers = reader.unsigned_member(test, "tournament_layers", path);
    if (layers == 0 || layers > kTournamentMaxLayers) {
      reader.fail(path + "tournament_layers must be 1 to " + std::to_string(kTournamentMaxLayers) + ", not " + std::to_string(layers));
    }
    entry.tournament_layers = static_cast<std::uint32_t>(layers);
  } else if (entry.scheme != kGreenListSchemeName) {
    reader.fail(path + "scheme names no scheme tracemark knows (" + json_excerpt(test["scheme"]) + ")");
  }
}

}  // namespace

std::vector<std::string> parse_investigation_log(std::string_view text, const std::string& name) {
  std::vector<std::string> lines;
  std::string previous = kNoPrevious;
  for_each_line(text, [&](std::string_view line, const LinePosition& position) {
    const std::uint64_t number = position.line;
    const std::string where = describe_position("investigation log " + name, position);
    JsonProblem problem;
    const std::optional<Json> entry = try_parse_json(line, problem);
    if (!entry || !entry->is_object()) {
      throw Error(ErrorCode::invalid_input, where + ": not a JSON object; the log must not be edited by hand");
    }
    const EntryReader reader(where);
    if (reader.unsigned_member(*entry, "run") != number) {
      throw Error(ErrorCode::invalid_input, where + ": \"run\" should be " + std::to_string(number) +
                                                "; a run was removed or reordered, so the log cannot be trusted");
    }
    if (reader.string_member(*entry, "previous_sha256", "") != previous) {
      throw Error(ErrorCode::invalid_input, where + ": \"previous_sha256\" does not match the line before it; an earlier "
                                                    "run was changed or removed, so the log cannot be trusted");
    }
    previous = sha256_hex(line);
    lines.emplace_back(line);
  });
  return lines;
}

std::vector<std::string> read_investigation_log(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return {};
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw Error(ErrorCode::io, "investigation log " + path.string() + " cannot be read: " + std::strerror(errno));
  std::stringstream content;
  content << stream.rdbuf();
  return parse_investigation_log(content.str(), path.string());
}

InvestigationSummary summarize_investigation(std::span<const std::string> log_lines) {
  InvestigationSummary summary;
  summary.runs = log_lines.size();
  for (std::size_t n = 0; n < log_lines.size(); ++n) {
    const EntryReader reader("investigation log line " + std::to_string(n + 1));
    JsonProblem problem;
    const std::optional<Json> entry = try_parse_json(log_lines[n], problem);
    if (!entry) reader.fail("(the whole line) is not valid JSON: " + problem.reason);
    const Json& tests = reader.member(*entry, "tests", "");
    if (!tests.is_array()) reader.fail("tests must be an array, not " + json_excerpt(tests));
    const std::uint64_t run = reader.unsigned_member(*entry, "run");
    for (std::size_t t = 0; t < tests.size(); ++t) {
      const Json& test = tests[t];
      const std::string path = "tests[" + std::to_string(t) + "].";
      InvestigationTest recorded;
      recorded.run = run;
      recorded.test_id = reader.string_member(test, "test_id", path);
      recorded.role = reader.string_member(test, "role", path);
      recorded.key_id = reader.string_member(test, "key_id", path);
      recorded.commitment = reader.string_member(test, "commitment", path);
      recorded.scored = reader.unsigned_member(test, "scored", path);
      recorded.green = reader.unsigned_member(test, "green", path);
      recorded.gamma = reader.number_member(test, "gamma", path);
      recorded.log10_p = reader.number_member(test, "log10_p", path);
      read_scheme_statistic(reader, test, path, recorded);
      summary.tests.push_back(std::move(recorded));
    }
  }
  // The family: distinct suspect tests (test_id with its counts, and a sampling scheme's statistic).
  using TestIdentity = std::tuple<std::string, std::uint64_t, std::uint64_t, std::uint64_t, double>;
  auto identity = [](const InvestigationTest& test) {
    return TestIdentity{test.test_id, test.scored, test.green, test.g_ones, test.score};
  };
  std::map<TestIdentity, std::size_t> family;
  std::vector<double> log_p;
  for (const InvestigationTest& test : summary.tests) {
    if (test.role != "suspect") continue;
    if (family.try_emplace(identity(test), log_p.size()).second) log_p.push_back(test.log10_p * std::numbers::ln10);
  }
  const std::vector<double> adjusted = holm_adjust_log_p(log_p);
  for (InvestigationTest& test : summary.tests) {
    if (test.role != "suspect") continue;
    test.holm_log10_p = adjusted[family.at(identity(test))] / std::numbers::ln10;
  }
  summary.distinct_suspect_tests = log_p.size();
  return summary;
}

}  // namespace tracemark
