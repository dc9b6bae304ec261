#include "tracemark/verify/evidence_bundle.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <numbers>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "bundle_manifest.hpp"
#include "evidence_attribution.hpp"
#include "evidence_report.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/verify/base64_sha256.hpp"
#include "tracemark/atomic_file.hpp"
#include "tracemark/embed/scheme_catalog.hpp"
#include "tracemark/error.hpp"
#include "tracemark/sha256.hpp"
#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/canonical_json.hpp"
#include "tracemark/verify/evidence_signing.hpp"
#include "tracemark/verify/holm.hpp"
#include "tracemark/verify/rfc3161.hpp"
#include "tracemark/verify/scan_report.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace tracemark {
namespace fs = std::filesystem;
namespace {

constexpr const char* kManifest = kManifestFile;
constexpr const char* kEnvelope = kEnvelopeFile;
constexpr const char* kRequest = kTimestampRequestFile;
constexpr const char* kReply = kTimestampReplyFile;
constexpr const char* kLog = kInvestigationLogFile;
constexpr std::size_t kResponsesInResults = 5000;  // per file: enough for the per-response chart
constexpr std::size_t kExamples = 3;
const std::string kNoPrevious(64, '0');

// No file of a bundle tracemark writes comes near this; a larger one is not read into memory.
constexpr std::uintmax_t kMaxBundleFileBytes = std::uintmax_t{256} << 20;

std::string read_file(const fs::path& path) {
  std::error_code error;
  const std::uintmax_t size = fs::file_size(path, error);
  if (!error && size > kMaxBundleFileBytes) {
    throw Error(ErrorCode::invalid_input, path.string() + " is " + std::to_string(size) + " bytes, more than the " +
                                              std::to_string(kMaxBundleFileBytes) + " any bundle file tracemark writes may have");
  }
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw Error(ErrorCode::io, path.string() + " cannot be read: " + std::strerror(errno));
  std::stringstream content;
  content << stream.rdbuf();
  return content.str();
}

// The raw 32 bytes of SHA-256, as the timestamp request and its nonce take them.
std::string raw_sha256(std::string_view bytes) {
  const Sha256Digest digest = sha256(bytes);
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

std::string now_utc() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

// The timestamp request's nonce: from the signature, so it is unpredictable before signing and a
// verifier can rebuild the request byte for byte.
std::uint64_t request_nonce(std::string_view signature) {
  const std::string digest = raw_sha256("tracemark/v1/timestamp-nonce\n" + std::string(signature));
  std::uint64_t nonce = 0;
  for (int i = 0; i < 8; ++i) nonce = (nonce << 8) | static_cast<unsigned char>(digest[static_cast<std::size_t>(i)]);
  return nonce >> 1;  // a positive INTEGER of at most 63 bits
}

constexpr std::string_view kBundledTokenizerFolder = "inputs/tokenizer";

std::string bundled_name(const std::string& role, const std::string& path) {
  if (role == "cohort_accounts") return "inputs/cohort_accounts.tsv";  // a list of accounts, not JSON lines
  return "inputs/" + role + (path.size() > 3 && path.ends_with(".gz") ? ".jsonl.gz" : ".jsonl");
}

struct InputFile {
  std::string role;
  std::string path;
  std::string sha256;
  std::uint64_t bytes = 0;
};

std::vector<InputFile> input_files(const std::string& suspect_path, const SuspectScanOptions& options) {
  std::vector<InputFile> inputs;
  auto add = [&](const std::string& role, const std::string& path) {
    if (path.empty()) return;
    InputFile input{role, path, "", 0};
    input.sha256 = sha256_file(path, input.bytes);
    inputs.push_back(std::move(input));
  };
  add("suspect", suspect_path);
  add("control", options.control_path);
  add("prompts", options.prompts_path);
  add("reference_log", options.reference_log_path);
  add("reference_filter", options.reference_filter_path);
  add("cohort_accounts", options.reference_cohort_path);
  return inputs;
}

const InputFile* find_input(const std::vector<InputFile>& inputs, const std::string& role) {
  for (const InputFile& input : inputs) {
    if (input.role == role) return &input;
  }
  return nullptr;
}

std::string token_source_name(TokenSource source) {
  switch (source) {
    case TokenSource::automatic: return "auto";
    case TokenSource::tokens: return "tokens";
    case TokenSource::text: return "text";
  }
  return "auto";
}

// Settings that change a test's figures (not alpha, which only reads them).
// The step rules of issue 16 in use, and a cohort's reference-log rule of issue 15 (an empty object
// when none): they change figures too.
nlohmann::ordered_json step_rules(const SuspectScanOptions& options) {
  nlohmann::ordered_json rules = nlohmann::ordered_json::object();
  if (options.syntax_aware) rules["syntax_aware"] = true;
  // A cohort's reference log (issue 15): which accounts' exchanges made the filter.
  if (!options.reference_cohort_cluster.empty()) rules["cohort_cluster"] = options.reference_cohort_cluster;
  if (options.only_cohort_contexts) rules["only_cohort_contexts"] = true;
  if (options.entropy_source) rules["entropy_source"] = options.entropy_source->description();
  return rules;
}

nlohmann::ordered_json test_settings(const SuspectScanOptions& options) {
  nlohmann::ordered_json settings = {{"reference_top", options.reference_top},
                                     {"input", token_source_name(options.token_source)},
                                     {"tokenizer", options.tokenizer_spec}};
  // Only when used, so tests without step rules keep their identity.
  const nlohmann::ordered_json rules = step_rules(options);
  for (const auto& [name, value] : rules.items()) settings[name] = value;
  return settings;
}

std::string test_id(const WatermarkKey& key, const std::string& role, const std::vector<InputFile>& inputs,
                    const SuspectScanOptions& options) {
  nlohmann::json definition = {{"commitment", key.commitment_hex()}, {"role", role}};
  definition["settings"] = parse_json(test_settings(options).dump(), "test settings");
  for (const char* used : {"prompts", "reference_log"}) {
    const InputFile* input = find_input(inputs, used);
    definition["inputs"][used] = input ? input->sha256 : "";
  }
  if (const InputFile* cohort = find_input(inputs, "cohort_accounts")) {  // only when used: other tests keep their identity
    definition["inputs"]["cohort_accounts"] = cohort->sha256;
  }
  const InputFile* scanned = find_input(inputs, role);
  definition["inputs"][role] = scanned ? scanned->sha256 : "";
  return sha256_hex(canonical_json(definition));
}

// A sampling scheme's test is not the green count's (issue 18): its statistic goes beside it in
// the log and in results.json, and with the counts it defines the test's identity. A green-list
// test names no scheme (logs written before issue 18 keep their bytes): an empty scheme adds nothing.
void add_scheme_statistic(std::string_view scheme, double score, std::uint64_t g_ones, std::uint32_t layers,
                          nlohmann::ordered_json& test) {
  if (scheme.empty()) return;
  test["scheme"] = std::string(scheme);
  if (scheme == kGumbelMaxSchemeName) test["score"] = score;
  if (scheme == kTournamentSchemeName) {
    test["g_ones"] = g_ones;
    test["tournament_layers"] = layers;
  }
}

void add_scheme_statistic(const KeyScanResult& result, nlohmann::ordered_json& test) {
  const std::string_view scheme = result.scheme == SchemeKind::green_list ? std::string_view() : scheme_name(result.scheme);
  add_scheme_statistic(scheme, result.counts.score, result.counts.g_ones, result.tournament_layers, test);
}

nlohmann::ordered_json run_entry(std::uint64_t run, const std::string& previous, const std::string& created,
                                 const EvidenceToolInfo& tool, const SuspectScanReport& report,
                                 std::span<const WatermarkKey> keys, const std::vector<InputFile>& inputs,
                                 const SuspectScanOptions& options) {
  nlohmann::ordered_json entry = {{"run", run}, {"previous_sha256", previous}, {"created_utc", created},
                                  {"tool", {{"name", tool.name}, {"version", tool.version}, {"build_id", tool.build_id}}}};
  entry["inputs"] = nlohmann::ordered_json::array();
  for (const InputFile& input : inputs) {
    entry["inputs"].push_back({{"role", input.role}, {"name", fs::path(input.path).filename().string()},
                               {"sha256", input.sha256}, {"bytes", input.bytes}});
  }
  entry["settings"] = test_settings(options);
  entry["tests"] = nlohmann::ordered_json::array();
  auto add_tests = [&](const FileScanResult& file, const std::string& role) {
    for (std::size_t k = 0; k < file.keys.size(); ++k) {
      const KeyScanResult& result = file.keys[k];
      entry["tests"].push_back({{"test_id", test_id(keys[k], role, inputs, options)},
                                {"role", role},
                                {"key_id", result.key_id},
                                {"commitment", "sha256:" + keys[k].commitment_hex()},
                                {"context_width", keys[k].params().context_width},
                                {"gamma", report.gammas[k]},
                                {"scored", result.counts.scored},
                                {"green", result.counts.green},
                                {"log10_p", result.test.log10_p}});
      add_scheme_statistic(result, entry["tests"].back());
    }
  };
  add_tests(report.suspect, "suspect");
  if (report.control) add_tests(*report.control, "control");
  return entry;
}

nlohmann::ordered_json investigation_json(const InvestigationSummary& summary) {
  nlohmann::ordered_json out = {{"runs", summary.runs}, {"distinct_suspect_tests", summary.distinct_suspect_tests},
                                {"correction", "holm over every distinct suspect test of the investigation"}};
  out["tests"] = nlohmann::ordered_json::array();
  for (const InvestigationTest& test : summary.tests) {
    nlohmann::ordered_json row = {{"run", test.run}, {"test_id", test.test_id}, {"role", test.role},
                                  {"key_id", test.key_id}, {"commitment", test.commitment}, {"scored", test.scored},
                                  {"green", test.green}, {"gamma", test.gamma}, {"log10_p", test.log10_p},
                                  {"p_value", format_p_value(test.log10_p)}};
    add_scheme_statistic(test.scheme, test.score, test.g_ones, test.tournament_layers, row);
    if (test.role == "suspect") {
      row["holm_log10_p"] = test.holm_log10_p;
      row["holm_p_value"] = format_p_value(test.holm_log10_p);
    }
    out["tests"].push_back(std::move(row));
  }
  return out;
}

nlohmann::ordered_json per_response_json(const FileScanResult& file) {
  const std::size_t kept = std::min(file.responses.size(), kResponsesInResults);
  nlohmann::ordered_json out = {{"responses_total", file.keys.empty() ? 0 : file.keys.front().counts.responses},
                                {"responses_listed", kept}};
  out["keys"] = nlohmann::ordered_json::array();
  for (std::size_t k = 0; k < file.keys.size(); ++k) {
    nlohmann::ordered_json scored = nlohmann::ordered_json::array(), green = nlohmann::ordered_json::array();
    nlohmann::ordered_json statistic = nlohmann::ordered_json::array();  // a sampling scheme's, per response
    const SchemeKind scheme = file.keys[k].scheme;
    for (std::size_t r = 0; r < kept; ++r) {
      scored.push_back(file.tallies[k][r].scored);
      green.push_back(file.tallies[k][r].green);
      if (scheme == SchemeKind::gumbel_max) statistic.push_back(file.tallies[k][r].score);
      if (scheme == SchemeKind::tournament) statistic.push_back(file.tallies[k][r].g_ones);
    }
    out["keys"].push_back({{"key_id", file.keys[k].key_id}, {"scored", std::move(scored)}, {"green", std::move(green)}});
    if (scheme == SchemeKind::gumbel_max) out["keys"].back()["score"] = std::move(statistic);
    if (scheme == SchemeKind::tournament) out["keys"].back()["g_ones"] = std::move(statistic);
  }
  return out;
}

// results.json: everything a re-run must reproduce. File paths are replaced by the inputs' names, so
// the figures do not depend on where the inputs lay.
std::string results_text(SuspectScanReport report, std::span<const WatermarkKey> keys, double alpha,
                         const InvestigationSummary& summary, const std::vector<InputFile>& inputs) {
  for (const InputFile& input : inputs) {
    const std::string name = fs::path(input.path).filename().string();
    if (input.role == "suspect") report.suspect.path = name;
    if (input.role == "control" && report.control) report.control->path = name;
  }
  nlohmann::ordered_json results = {{"scan", scan_report_json(report, keys, alpha)}};
  results["per_response"] = {{"suspect", per_response_json(report.suspect)}};
  if (report.control) results["per_response"]["control"] = per_response_json(*report.control);
  results["investigation"] = investigation_json(summary);
  return dump_with_raw_p_values(results, 2) + "\n";
}

nlohmann::ordered_json configuration_json(const SuspectScanOptions& scan, const EvidenceOptions& options,
                                          const std::string& created, const std::vector<InputFile>& inputs) {
  nlohmann::ordered_json inputs_used = nlohmann::ordered_json::object();
  for (const InputFile& input : inputs) inputs_used[input.role] = fs::path(input.path).filename().string();
  nlohmann::ordered_json configuration = {
          {"tool", {{"name", options.tool.name}, {"version", options.tool.version}, {"build_id", options.tool.build_id}}},
          {"created_utc", created},
          {"command", "scan"},
          {"inputs", inputs_used},
          {"alpha", options.alpha},
          {"scan",
           {{"input", token_source_name(scan.token_source)},
            {"tokenizer", scan.tokenizer_spec},
            {"reference_top", scan.reference_top},
            {"confidence", scan.settings.confidence},
            {"target_p", scan.settings.target_p},
            {"trace_points", scan.trace_points},
            {"max_response_scores", scan.max_response_scores},
            {"max_record_bytes", scan.max_record_bytes},
            {"threads", scan.threads},
            {"threads_note", "results do not depend on the thread count"}}},
          {"evidence", {{"include_inputs", options.include_inputs}, {"responses_in_results", kResponsesInResults}}}};
  if (const nlohmann::ordered_json rules = step_rules(scan); !rules.empty()) configuration["scan"]["step_rules"] = rules;
  return configuration;
}

// Every regular file under `root`, relative, sorted; throws for anything else (links, devices).
std::vector<std::string> list_files(const fs::path& root) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_directory() && !entry.is_symlink()) continue;
    const std::string name = fs::relative(entry.path(), root).generic_string();
    if (!entry.is_regular_file() || entry.is_symlink()) {
      throw Error(ErrorCode::invalid_input, root.string() + "/" + name + " is not a regular file");
    }
    files.push_back(name);
  }
  std::sort(files.begin(), files.end());
  return files;
}

void write_into(const fs::path& folder, const std::string& name, std::string_view content) {
  fs::create_directories((folder / name).parent_path());
  write_file_atomically(folder / name, content, 0644, false);
}

// Copies the keys' tokenizer into inputs/tokenizer/ (rows "tokenizer", the file to load, and
// "tokenizer_file" for a second file such as GPT-2's vocab.bpe), so that `evidence verify --key`
// re-runs a scan of text on a machine without the tokenizer cache. The copy is loaded back and must
// have the keys' vocabulary digest.
void bundle_tokenizer(const fs::path& out, const TokenizerBinding& binding, const SuspectScanOptions& scan,
                      nlohmann::ordered_json& inputs_json) {
  const std::vector<TokenizerFile> files = tokenizer_files(scan.tokenizer_spec.empty() ? binding.name : scan.tokenizer_spec);
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string name = std::string(kBundledTokenizerFolder) + "/" + files[i].name;
    write_into(out, name, files[i].bytes);
    inputs_json.push_back({{"role", i == 0 ? "tokenizer" : "tokenizer_file"}, {"name", files[i].name},
                           {"bytes", files[i].bytes.size()}, {"sha256", sha256_hex(files[i].bytes)}, {"bundled_as", name}});
  }
  const std::string digest = Tokenizer::load((out / kBundledTokenizerFolder / files.front().name).string())->vocab_sha256();
  if (digest != binding.vocab_sha256) {
    throw Error(ErrorCode::invalid_input, "the tokenizer file " + files.front().name + " has vocabulary sha256:" + digest +
                                              ", not the keys' " + binding.name + " (sha256:" + binding.vocab_sha256 +
                                              "); give the keys' tokenizer with --tokenizer");
  }
}

// Example responses for the report: the first kExamples of the file (in file order, so nothing is
// chosen by its result) with at least 10 scored tuples for the key.
std::vector<EvidenceReportExample> pick_examples(const SuspectScanner& scanner, std::span<const WatermarkKey> keys,
                                                 const std::string& path, const std::string& role,
                                                 const FileScanResult& file, std::size_t key_index, std::size_t count) {
  std::vector<std::uint64_t> indices;
  for (std::size_t r = 0; r < file.responses.size() && indices.size() < count; ++r) {
    if (file.tallies[key_index][r].scored >= 10) indices.push_back(r);
  }
  std::vector<EvidenceReportExample> examples;
  for (ColouredResponse& response : scanner.colour(path, key_index, indices)) {
    examples.push_back({role, keys[key_index].key_id(), std::move(response)});
  }
  return examples;
}

std::size_t strongest_key(const FileScanResult& file) {
  std::size_t best = 0;
  for (std::size_t k = 1; k < file.keys.size(); ++k) {
    if (file.keys[k].holm_log10_p < file.keys[best].holm_log10_p) best = k;
  }
  return best;
}

// Puts `built` where `destination` is: a plain rename when nothing is there, else an atomic exchange
// followed by removal of the old folder.
void swap_into_place(const fs::path& built, const fs::path& destination) {
  if (!fs::exists(destination)) {
    if (::rename(built.c_str(), destination.c_str()) != 0) {
      throw Error(ErrorCode::io, "cannot move the bundle into " + destination.string() + ": " + std::strerror(errno));
    }
    return;
  }
  if (::renameat2(AT_FDCWD, built.c_str(), AT_FDCWD, destination.c_str(), RENAME_EXCHANGE) != 0) {
    throw Error(ErrorCode::io, "cannot replace the bundle in " + destination.string() + ": " + std::strerror(errno) +
                                   "; the new bundle is left in " + built.string());
  }
  fs::remove_all(built);  // now the previous bundle
}

// The destination as a real path. "." or "case/" name the folder itself, so the bundle is built
// beside it (never inside it) and reported by its real name; a symbolic link is refused, as
// replacing it would replace whatever it points to.
fs::path bundle_destination(const fs::path& given) {
  fs::path lexical = fs::absolute(given).lexically_normal();
  if (lexical.filename().empty() && lexical.has_parent_path()) lexical = lexical.parent_path();
  if (fs::is_symlink(lexical)) {
    throw Error(ErrorCode::invalid_argument, lexical.string() + " is a symbolic link; give --evidence the folder itself");
  }
  fs::path folder = fs::weakly_canonical(lexical);
  if (folder.filename().empty() && folder.has_parent_path()) folder = folder.parent_path();
  return folder;
}

// Why the existing folder may not be replaced by a new bundle, or nullopt when it may: it is empty,
// or it holds exactly an earlier bundle as tracemark wrote it (its manifest is a tracemark
// Statement; every other file is listed there with an unchanged digest; nothing else is there: no
// unlisted file, folder, link or timestamp reply). Replacing deletes only what tracemark wrote.
std::optional<std::string> why_not_replaceable(const fs::path& folder) {
  if (fs::is_empty(folder)) return std::nullopt;
  if (!fs::exists(folder / kManifest)) {
    return std::string("is not empty and holds no ") + kManifest + ", so it is not an evidence bundle";
  }
  std::vector<std::string> problems;
  std::optional<std::vector<ManifestSubject>> subjects;
  try {
    subjects = read_manifest_subjects(read_file(folder / kManifest), problems);
  } catch (const Error& e) {
    problems.push_back(e.what());
  }
  if (!subjects || !problems.empty()) {
    return "holds a " + std::string(kManifest) + " that is not the manifest of a tracemark bundle (" + problems.front() +
           "), so it is not an evidence bundle tracemark wrote";
  }
  std::vector<std::string> present;
  try {
    present = list_files(folder);
  } catch (const Error& e) {
    return "holds something tracemark does not write (" + std::string(e.what()) + ")";
  }
  std::map<std::string, std::string> listed;
  for (const ManifestSubject& subject : *subjects) listed.emplace(subject.name, subject.sha256);
  std::set<std::string> folders;  // every folder that holds one of the files
  for (const std::string& name : present) {
    for (fs::path parent = fs::path(name).parent_path(); !parent.empty(); parent = parent.parent_path()) {
      folders.insert(parent.generic_string());
    }
    if (name == kManifest || name == kEnvelope || name == kRequest) continue;
    if (name == kReply) {
      return std::string("holds ") + kReply + ", a timestamp reply that tracemark did not write (it dates the earlier "
             "manifest); move it, or the whole earlier bundle, elsewhere to keep it";
    }
    const auto entry = listed.find(name);
    if (entry == listed.end()) {
      return "holds " + escaped_excerpt(name, 200) + ", which its manifest does not list, so tracemark did not write it";
    }
    std::uint64_t bytes = 0;
    if (sha256_file(folder / name, bytes) != entry->second) {
      return "holds " + escaped_excerpt(name, 200) + ", changed since tracemark wrote it (its SHA-256 differs from the "
             "manifest's)";
    }
  }
  for (const auto& item : fs::recursive_directory_iterator(folder)) {
    if (!item.is_directory() || item.is_symlink()) continue;
    const std::string name = fs::relative(item.path(), folder).generic_string();
    if (!folders.contains(name)) return "holds the folder " + escaped_excerpt(name, 200) + ", which tracemark did not write";
  }
  return std::nullopt;
}

class TemporaryFolder {
 public:
  explicit TemporaryFolder(const fs::path& destination) {
    std::string pattern = (destination.parent_path() / ("." + destination.filename().string() + ".tmp-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw Error(ErrorCode::io, "cannot create a temporary folder beside " + destination.string() + ": " +
                                     std::strerror(errno) + "; check that its parent folder exists and is writable");
    }
    path_ = pattern;
    // mkdtemp makes the folder 0700; a bundle is meant to be handed on (its files are 0644).
    fs::permissions(path_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    if (!released_) fs::remove_all(path_, ignored);
  }
  const fs::path& path() const noexcept { return path_; }
  void release() noexcept { released_ = true; }

 private:
  fs::path path_;
  bool released_ = false;
};

}  // namespace

std::string investigation_text(const InvestigationSummary& summary, const SuspectScanReport& report,
                               std::span<const WatermarkKey> keys, double alpha) {
  std::ostringstream out;
  out << "Investigation: " << summary.runs << (summary.runs == 1 ? " scan" : " scans") << ", "
      << summary.distinct_suspect_tests << (summary.distinct_suspect_tests == 1 ? " distinct suspect test" : " distinct suspect tests")
      << " (keys and settings) on record.\n";
  if (summary.distinct_suspect_tests <= keys.size()) {
    out << "  The correction above already covers every test of the investigation.\n";
    return out.str();
  }
  // This run's tests are the last ones of the log.
  const std::size_t first = summary.tests.size() - report.suspect.keys.size() - (report.control ? report.control->keys.size() : 0);
  for (std::size_t k = 0; k < report.suspect.keys.size(); ++k) {
    KeyScanResult result = report.suspect.keys[k];
    result.holm_log10_p = summary.tests[first + k].holm_log10_p;
    out << "  Key " << result.key_id << " over the whole investigation: "
        << scan_verdict(result, report.gammas[k], summary.distinct_suspect_tests, alpha) << "\n";
  }
  return out.str();
}

EvidenceResult write_evidence_bundle(const SuspectScanReport& report, std::span<const WatermarkKey> keys,
                                     const std::string& suspect_path, const SuspectScanOptions& scan_options,
                                     const EvidenceOptions& options, const SuspectScanner* scanner) {
  if (options.folder.empty()) throw Error(ErrorCode::invalid_argument, "an evidence bundle needs a folder (--evidence DIR)");
  const fs::path folder = bundle_destination(options.folder);
  if (fs::exists(folder)) {
    if (!fs::is_directory(folder)) {
      throw Error(ErrorCode::invalid_argument, folder.string() + " exists and is not a folder; give --evidence a new "
                                                                 "folder or an earlier bundle of this investigation");
    }
    if (const auto reason = why_not_replaceable(folder)) {
      throw Error(ErrorCode::invalid_argument, folder.string() + " " + *reason +
                                                   "; nothing was changed. Give --evidence a new folder or an earlier "
                                                   "bundle of this investigation (with --investigation-log to continue its log)");
    }
  }
  const EvidenceSigner signer(options.signing_key);
  const std::string chart_library = pinned_chart_library();
  const std::string created = now_utc();
  const std::vector<InputFile> inputs = input_files(suspect_path, scan_options);

  // The investigation log: the earlier runs (checked), then this one.
  const fs::path log_source = options.investigation_log.empty() ? folder / kLog : options.investigation_log;
  std::vector<std::string> log = read_investigation_log(log_source);
  const std::string previous = log.empty() ? kNoPrevious : sha256_hex(log.back());
  log.push_back(run_entry(log.size() + 1, previous, created, options.tool, report, keys, inputs, scan_options).dump());
  const InvestigationSummary summary = summarize_investigation(log);
  std::string log_text;
  for (const std::string& line : log) log_text += line + "\n";

  TemporaryFolder building(folder);
  const fs::path& out = building.path();
  EvidenceResult result;
  result.signing_key_id = signer.key_id();
  result.investigation_text = investigation_text(summary, report, keys, options.alpha);

  nlohmann::ordered_json inputs_json = nlohmann::ordered_json::array();
  std::map<std::string, const InputFile*> bundled_inputs;  // by name in the bundle
  for (const InputFile& input : inputs) {
    nlohmann::ordered_json row = {{"role", input.role}, {"name", fs::path(input.path).filename().string()},
                                  {"bytes", input.bytes}, {"sha256", input.sha256}};
    if (options.include_inputs) {
      const std::string name = bundled_name(input.role, input.path);
      fs::create_directories(out / "inputs");
      fs::copy_file(input.path, out / name);
      bundled_inputs[name] = &input;  // the copy's digest is checked when the manifest hashes it
      row["bundled_as"] = name;
    }
    inputs_json.push_back(std::move(row));
  }
  if (options.include_inputs && report.tokenizer) bundle_tokenizer(out, *report.tokenizer, scan_options, inputs_json);
  write_into(out, "inputs.json", inputs_json.dump(2) + "\n");
  nlohmann::ordered_json keys_json = nlohmann::ordered_json::array();
  for (const WatermarkKey& key : keys) keys_json.push_back(parse_ordered_json(key.public_json(), "key description"));
  write_into(out, "keys.json", keys_json.dump(2) + "\n");
  write_into(out, "configuration.json", configuration_json(scan_options, options, created, inputs).dump(2) + "\n");
  write_into(out, kLog, log_text);
  write_into(out, "results.json", results_text(report, keys, options.alpha, summary, inputs));
  if (options.ring) write_into(out, kAttributionFile, attribution_file_text(*options.ring, report, keys, options.alpha));

  // The report, then its PDF.
  EvidenceReportInput report_input;
  report_input.report = &report;
  report_input.keys = keys;
  report_input.alpha = options.alpha;
  report_input.terminal_text = scan_report_text(report, keys, options.alpha);
  report_input.investigation_text = result.investigation_text;
  report_input.inputs = inputs_json;
  report_input.investigation = investigation_json(summary);
  report_input.tool_line = options.tool.name + " " + options.tool.version + " (build " + options.tool.build_id + ")";
  report_input.created_utc = created;
  if (options.ring) report_input.ring = &*options.ring;
  const std::size_t key_index = strongest_key(report.suspect);
  std::optional<SuspectScanner> own_scanner;
  if (!scanner) scanner = &own_scanner.emplace(keys, scan_options);
  report_input.examples = pick_examples(*scanner, keys, suspect_path, "suspect", report.suspect, key_index, kExamples);
  if (report.control) {
    for (auto& example : pick_examples(*scanner, keys, scan_options.control_path, "control", *report.control, key_index, 1)) {
      report_input.examples.push_back(std::move(example));
    }
  }
  write_into(out, "report.html", render_evidence_report_html(report_input, chart_library));
  if (options.pdf == PdfMode::off) {
    result.pdf_note = "report.pdf was not printed (--no-pdf)";
  } else if (auto problem = print_pdf_with_chromium(out / "report.html", out / "report.pdf")) {
    result.pdf_note = "report.pdf was skipped: " + *problem + "; report.html is complete without it";
    if (options.pdf == PdfMode::required) {
      throw Error(ErrorCode::io, "report.pdf could not be printed: " + *problem +
                                     "; install Chromium (tools/setup.sh installs Debian's chromium) or set "
                                     "TRACEMARK_CHROMIUM, or leave out --pdf to accept the HTML report alone");
    }
  } else {
    result.pdf_written = true;
  }

  // The manifest (an in-toto Statement) over every file written so far, then its signature and the
  // timestamp request.
  nlohmann::json statement = {{"_type", kStatementType}, {"predicateType", kPredicateType}};
  statement["subject"] = nlohmann::json::array();
  for (const std::string& name : list_files(out)) {
    std::uint64_t bytes = 0;
    const std::string digest = sha256_file(out / name, bytes);
    if (auto bundled = bundled_inputs.find(name); bundled != bundled_inputs.end() && digest != bundled->second->sha256) {
      throw Error(ErrorCode::io, bundled->second->path + " changed while the bundle was written; run the scan again");
    }
    statement["subject"].push_back({{"name", name}, {"digest", {{"sha256", digest}}}});
    result.files.push_back(name);
  }
  nlohmann::json predicate = {
      {"tool", {{"name", options.tool.name}, {"version", options.tool.version}, {"build_id", options.tool.build_id}}},
      {"created_utc", created},
      {"investigation", {{"runs", summary.runs}, {"distinct_suspect_tests", summary.distinct_suspect_tests}}}};
  predicate["keys"] = nlohmann::json::array();
  for (const WatermarkKey& key : keys) {
    predicate["keys"].push_back({{"key_id", key.key_id()}, {"commitment", "sha256:" + key.commitment_hex()}});
  }
  predicate["inputs"] = nlohmann::json::array();
  for (const InputFile& input : inputs) {
    predicate["inputs"].push_back({{"role", input.role}, {"sha256", input.sha256}, {"bytes", input.bytes}});
  }
  statement["predicate"] = predicate;
  const std::string manifest = canonical_json(statement);
  write_into(out, kManifest, manifest);
  const std::string envelope = dsse_envelope(signer, kInTotoPayloadType, manifest);
  write_into(out, kEnvelope, envelope);
  const std::string signature =
      *base64_decode(parse_json(envelope, kEnvelope).at("signatures").at(0).at("sig").get<std::string>());
  write_into(out, kRequest, timestamp_request_der(raw_sha256(manifest), request_nonce(signature)));
  for (const char* name : {kManifest, kEnvelope, kRequest}) result.files.push_back(name);

  try {
    swap_into_place(out, folder);
  } catch (const Error&) {
    building.release();  // the message tells where the new bundle is
    throw;
  }
  building.release();
  result.folder = folder;
  if (!options.investigation_log.empty()) write_file_atomically(options.investigation_log, log_text, 0644, true);
  return result;
}

namespace {

// Names the first differing JSON field of two documents, for "which field fails".
std::string first_difference(const std::string& recorded, const std::string& recomputed) {
  JsonProblem problem;
  const std::optional<nlohmann::json> parsed_a = try_parse_json(recorded, problem);
  const std::optional<nlohmann::json> parsed_b = try_parse_json(recomputed, problem);
  if (parsed_a && parsed_b) {
    const nlohmann::json& a = *parsed_a;
    const nlohmann::json patch = nlohmann::json::diff(a, *parsed_b);
    if (!patch.empty()) {
      const nlohmann::json& op = patch.front();
      std::string detail = "field " + escaped_excerpt(op.value("path", std::string("/")), 120);
      if (op.contains("value")) {
        const nlohmann::json::json_pointer pointer(op.value("path", std::string()));
        if (a.contains(pointer)) detail += ": recorded " + json_excerpt(a.at(pointer)) + ",";
        detail += " re-run gives " + json_excerpt(op["value"]);
      }
      return detail;
    }
  }
  std::size_t at = 0;
  while (at < recorded.size() && at < recomputed.size() && recorded[at] == recomputed[at]) ++at;
  return "first difference at byte offset " + std::to_string(at);
}

void check_rerun(const fs::path& folder, std::span<const WatermarkKey> keys, const BundleVerifyOptions& options,
                 BundleVerification& check) {
  // Every member is read with at() or value(): a missing or mistyped one throws nlohmann's
  // exception, which the caller reports as a malformed file (never operator[] on a const value).
  const nlohmann::json configuration = parse_json(read_file(folder / "configuration.json"), "configuration.json");
  const nlohmann::json inputs = parse_json(read_file(folder / "inputs.json"), "inputs.json");
  const nlohmann::json bundled_keys = parse_json(read_file(folder / "keys.json"), "keys.json");
  if (!inputs.is_array() || !bundled_keys.is_array()) {
    check.failures.push_back("inputs.json or keys.json: not a JSON array");
    return;
  }
  if (bundled_keys.size() != keys.size()) {
    check.failures.push_back("keys.json: the bundle's scan used " + std::to_string(bundled_keys.size()) +
                             " keys and " + std::to_string(keys.size()) +
                             " were given; give every key of the scan (--key for each, in keys.json's order)");
    return;
  }
  for (std::size_t k = 0; k < keys.size(); ++k) {
    const std::string commitment = "sha256:" + keys[k].commitment_hex();
    if (bundled_keys.at(k).value("commitment", std::string()) != commitment) {
      check.failures.push_back("keys.json: key " + std::to_string(k + 1) + " given (" + keys[k].key_id() + ", " +
                               commitment + ") is not the key recorded there (" +
                               escaped_excerpt(bundled_keys.at(k).value("key_id", std::string("?"))) + ", " +
                               escaped_excerpt(bundled_keys.at(k).value("commitment", std::string("?")), 80) + ")");
      return;
    }
  }
  SuspectScanOptions scan;
  std::string suspect;
  std::string bundled_tokenizer;
  for (const nlohmann::json& input : inputs) {
    if (!input.contains("bundled_as")) {
      check.failures.push_back("inputs.json: input " + escaped_excerpt(input.value("role", std::string("?"))) +
                               " is not in the bundle (it was made without --include-inputs), so the scan cannot be "
                               "re-run from the bundle");
      return;
    }
    const std::string bundled_as = input.at("bundled_as").get<std::string>();
    if (!bundled_as.starts_with("inputs/") || bundled_as.find("..") != std::string::npos) {
      check.failures.push_back("inputs.json: bundled_as \"" + escaped_excerpt(bundled_as) + "\" is not a file under inputs/");
      return;
    }
    const std::string path = (folder / bundled_as).string();
    const std::string role = input.at("role").get<std::string>();
    if (role == "suspect") suspect = path;
    if (role == "control") scan.control_path = path;
    if (role == "prompts") scan.prompts_path = path;
    if (role == "reference_log") scan.reference_log_path = path;
    if (role == "reference_filter") scan.reference_filter_path = path;
    if (role == "cohort_accounts") scan.reference_cohort_path = path;
    if (role == "tokenizer") bundled_tokenizer = path;
  }
  const nlohmann::json& settings = configuration.at("scan");
  scan.token_source = parse_token_source(settings.at("input").get<std::string>());
  // The bundled tokenizer, when there is one: its digest is checked against the keys' on loading.
  scan.tokenizer_spec = bundled_tokenizer.empty() ? settings.at("tokenizer").get<std::string>() : bundled_tokenizer;
  scan.reference_top = settings.at("reference_top").get<std::size_t>();
  scan.settings.confidence = settings.at("confidence").get<double>();
  scan.settings.target_p = settings.at("target_p").get<double>();
  scan.trace_points = settings.at("trace_points").get<std::size_t>();
  scan.max_response_scores = settings.at("max_response_scores").get<std::size_t>();
  scan.max_record_bytes = settings.value("max_record_bytes", kDefaultMaxRecordBytes);  // absent before issue 12
  scan.threads = options.threads;
  if (settings.contains("step_rules")) {
    const nlohmann::json& rules = settings["step_rules"];
    scan.syntax_aware = rules.value("syntax_aware", false);
    scan.reference_cohort_cluster = rules.value("cohort_cluster", std::string());
    scan.only_cohort_contexts = rules.value("only_cohort_contexts", false);
    if (rules.contains("entropy_source")) {
      check.failures.push_back("configuration.json: the scan recomputed the protected model's entropy with " +
                               rules["entropy_source"].get<std::string>() +
                               ", which a bundle does not hold, so the scan cannot be re-run from the bundle alone");
      return;
    }
  }
  const double alpha = configuration.at("alpha").get<double>();
  const SuspectScanReport report = run_suspect_scan(keys, suspect, scan);

  // The investigation part comes from the bundled log (its tests are checked against the re-run).
  const std::vector<std::string> log = read_investigation_log(folder / kLog);
  const InvestigationSummary summary = summarize_investigation(log);
  std::vector<InputFile> recorded_inputs;
  for (const nlohmann::json& input : inputs) {
    recorded_inputs.push_back({input.at("role").get<std::string>(), input.at("name").get<std::string>(),
                               input.at("sha256").get<std::string>(), input.at("bytes").get<std::uint64_t>()});
  }
  const std::string recomputed = results_text(report, keys, alpha, summary, recorded_inputs);
  const std::string recorded = read_file(folder / "results.json");
  if (recomputed != recorded) {
    check.failures.push_back("results.json: the re-run with the given keys does not reproduce the recorded figures (" +
                             first_difference(recorded, recomputed) + ")");
    return;
  }
  if (fs::exists(folder / kAttributionFile)) {
    const std::string recorded_attribution = read_file(folder / kAttributionFile);
    const std::string recomputed_attribution =
        attribution_file_text(read_evidence_ring(recorded_attribution), report, keys, alpha);
    if (recomputed_attribution != recorded_attribution) {
      check.failures.push_back(std::string(kAttributionFile) + ": the re-run with the given keys does not reproduce the "
                               "recorded attribution (" + first_difference(recorded_attribution, recomputed_attribution) + ")");
      return;
    }
  }
  // The log's last run must be this scan's tests with these exact counts.
  const nlohmann::json last = parse_json(log.back(), kLog);
  std::size_t t = 0;
  auto check_tests = [&](const FileScanResult& file) {
    for (const KeyScanResult& result : file.keys) {
      const nlohmann::json& test = last.at("tests").at(t++);
      bool same = test.at("scored").get<std::uint64_t>() == result.counts.scored &&
                  test.at("green").get<std::uint64_t>() == result.counts.green;
      if (result.scheme == SchemeKind::gumbel_max) same = same && test.value("score", -1.0) == result.counts.score;
      if (result.scheme == SchemeKind::tournament) same = same && test.value("g_ones", ~std::uint64_t{0}) == result.counts.g_ones;
      if (!same) {
        check.failures.push_back("investigation.jsonl: the last run's test " + std::to_string(t) + " (key " +
                                 result.key_id + ") does not match the re-run's counts");
      }
    }
  };
  check_tests(report.suspect);
  if (report.control) check_tests(*report.control);
  if (check.failures.empty()) {
    check.checked.push_back(std::string("re-run: the scan of the bundled inputs with the given keys reproduces results.json") +
                            (fs::exists(folder / kAttributionFile) ? " and attribution.json" : "") + " byte for byte");
  }
}

}  // namespace

BundleVerification verify_evidence_bundle(const fs::path& folder, const BundleVerifyOptions& options,
                                          std::span<const WatermarkKey> keys) {
  BundleVerification check;
  const std::string public_pem = read_public_key_pem(options.public_key);
  const std::string public_id = signing_key_id_of_public_pem(public_pem);
  auto fail = [&](const std::string& what) { check.failures.push_back(what); };
  if (!fs::is_directory(folder)) {
    fail(folder.string() + ": not a folder");
    return check;
  }
  std::vector<std::string> present;
  try {
    present = list_files(folder);
  } catch (const Error& e) {
    fail(e.what());
    return check;
  }
  auto read = [&](const char* name) -> std::optional<std::string> {
    if (!fs::exists(folder / name)) {
      fail(std::string(name) + ": missing");
      return std::nullopt;
    }
    try {
      return read_file(folder / name);
    } catch (const Error& e) {
      fail(e.what());
      return std::nullopt;
    }
  };

  // 1. The envelope and its signature.
  const auto envelope_text = read(kEnvelope);
  const auto manifest_text = read(kManifest);
  if (!envelope_text || !manifest_text) return check;
  const std::optional<std::string> signed_by = check_manifest_envelope(*envelope_text, *manifest_text, public_pem, public_id, check.failures);
  if (!signed_by) return check;  // nothing below can be trusted without the signature
  const std::string signature = *signed_by;
  check.checked.push_back("signature: the manifest is signed by " + public_id + " (Ed25519, DSSE)");

  // 2. The manifest's subjects against the files present.
  const auto subjects = read_manifest_subjects(*manifest_text, check.failures);
  if (!subjects) return check;
  std::set<std::string> listed;
  std::size_t good = 0;
  for (const ManifestSubject& subject : *subjects) {
    listed.insert(subject.name);
    if (!fs::is_regular_file(folder / subject.name)) {
      fail(escaped_excerpt(subject.name, 200) + ": listed in the manifest but missing");
      continue;
    }
    std::uint64_t bytes = 0;
    const std::string actual = sha256_file(folder / subject.name, bytes);
    if (actual != subject.sha256) {
      fail(escaped_excerpt(subject.name, 200) + ": SHA-256 is " + actual + " but the manifest says " + subject.sha256 +
           " (the file was changed)");
    } else {
      ++good;
    }
  }
  for (const std::string& name : present) {
    if (!listed.contains(name) && name != kManifest && name != kEnvelope && name != kRequest && name != kReply) {
      fail(name + ": not listed in the manifest (added after signing)");
    }
  }
  check.checked.push_back("digests: " + std::to_string(good) + " of " + std::to_string(listed.size()) +
                          " files listed in the manifest match their SHA-256");

  // The keyring's proofs, when the scan attributed (checked even when a digest failed: a tampered
  // proof is named as such).
  if (listed.contains(kAttributionFile) && fs::is_regular_file(folder / kAttributionFile)) {
    try {
      nlohmann::json keys_json = nlohmann::json::array();
      if (listed.contains("keys.json") && fs::is_regular_file(folder / "keys.json")) {
        JsonProblem problem;
        if (auto parsed = try_parse_json(read_file(folder / "keys.json"), problem)) keys_json = std::move(*parsed);
      }
      check_attribution_file(read_file(folder / kAttributionFile), keys_json, options.ring_root, check);
    } catch (const Error& e) {
      fail(e.what());
    }
  } else if (!options.ring_root.empty()) {
    fail(std::string(kAttributionFile) + ": missing, so the bundle has no keyring root to compare with the published one "
                                         "(the scan did not use --keyring)");
  }

  // 3. The timestamp request (and reply).
  const std::string expected_request =
      timestamp_request_der(raw_sha256(*manifest_text), request_nonce(signature));
  if (const auto request = read(kRequest)) {
    if (*request != expected_request) {
      std::size_t at = 0;
      while (at < request->size() && at < expected_request.size() && (*request)[at] == expected_request[at]) ++at;
      fail(std::string(kRequest) + ": not the RFC 3161 request for this manifest (differs at byte offset " +
           std::to_string(at) + ")");
    } else {
      check.checked.push_back("timestamp request: manifest.tsq asks for a timestamp of this manifest's SHA-256");
    }
  }
  if (fs::exists(folder / kReply)) {
    const TimestampReplyCheck reply = check_timestamp_reply(read_file(folder / kReply), expected_request, options.tsa_ca);
    if (!reply.ok) {
      fail(std::string(kReply) + ": " + reply.problem);
    } else {
      check.checked.push_back("timestamp: the manifest existed at " + reply.time_utc + " per " + reply.authority +
                              (reply.chain_checked ? " (certificate chain checked against " + options.tsa_ca.string() + ")"
                                                   : " (signature checked against the reply's own certificate; give "
                                                     "--tsa-ca to check who the authority is)"));
    }
  } else {
    check.checked.push_back("timestamp: no reply (manifest.tsr) in the bundle yet");
  }

  // 4. The investigation log's chain.
  if (listed.contains(kLog) && check.failures.empty()) {
    try {
      const std::vector<std::string> log = read_investigation_log(folder / kLog);
      check.checked.push_back("investigation log: " + std::to_string(log.size()) + (log.size() == 1 ? " run" : " runs") + ", hash chain intact");
    } catch (const Error& e) {
      fail(e.what());
    }
  }

  // 5. The re-run, with the secret keys.
  if (!keys.empty() && check.failures.empty()) {
    try {
      check_rerun(folder, keys, options, check);
    } catch (const Error& e) {
      fail(std::string("re-run: ") + e.what());
    } catch (const nlohmann::json::exception& e) {
      fail(std::string("re-run: configuration.json, inputs.json or keys.json is malformed: ") + e.what());
    }
  }
  return check;
}

}  // namespace tracemark
