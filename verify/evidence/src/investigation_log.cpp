// The investigation log (investigation.jsonl): reading it, checking its hash chain, and the
// investigation-wide multiple-testing correction over its tests.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <numbers>
#include <sstream>

#include "bundle_manifest.hpp"
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
      summary.tests.push_back({run, reader.string_member(test, "test_id", path), reader.string_member(test, "role", path),
                               reader.string_member(test, "key_id", path), reader.string_member(test, "commitment", path),
                               reader.unsigned_member(test, "scored", path), reader.unsigned_member(test, "green", path),
                               reader.number_member(test, "gamma", path), reader.number_member(test, "log10_p", path), 0.0});
    }
  }
  // The family: distinct suspect tests (test_id with its counts).
  std::map<std::pair<std::string, std::pair<std::uint64_t, std::uint64_t>>, std::size_t> family;
  std::vector<double> log_p;
  for (const InvestigationTest& test : summary.tests) {
    if (test.role != "suspect") continue;
    const auto key = std::make_pair(test.test_id, std::make_pair(test.scored, test.green));
    if (family.try_emplace(key, log_p.size()).second) log_p.push_back(test.log10_p * std::numbers::ln10);
  }
  const std::vector<double> adjusted = holm_adjust_log_p(log_p);
  for (InvestigationTest& test : summary.tests) {
    if (test.role != "suspect") continue;
    test.holm_log10_p = adjusted[family.at({test.test_id, {test.scored, test.green}})] / std::numbers::ln10;
  }
  summary.distinct_suspect_tests = log_p.size();
  return summary;
}

}  // namespace tracemark
