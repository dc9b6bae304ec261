// Evidence bundles: per-token statuses that add up to the scan's tallies, a bundle that verifies,
// every changed byte of every file detected (each file in turn), the re-run with the keys, the
// investigation log's chain and investigation-wide Holm correction, no secret in any file, and the
// sampling schemes' statistics (issue 18) recorded, re-run and checked like the green list's.
#include "tracemark/verify/evidence_bundle.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numbers>
#include <random>
#include <sstream>

#include "tracemark/verify/base64_sha256.hpp"
#include "test_support.hpp"
#include "tracemark/embed/green_list_scheme.hpp"
#include "tracemark/embed/gumbel_max_scheme.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/canonical_json.hpp"
#include "tracemark/verify/evidence_signing.hpp"
#include "tracemark/verify/holm.hpp"
#include "tracemark/verify/rfc3161.hpp"

namespace tracemark {
namespace {

namespace fs = std::filesystem;
using testing::params_with;

std::string read_all(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  std::stringstream content;
  content << stream.rdbuf();
  return content.str();
}

void write_all(const fs::path& path, const std::string& text) {
  std::ofstream stream(path, std::ios::binary | std::ios::trunc);
  stream << text;
}

// Responses biased toward the key's green lists (so the suspect is flagged), with repeats, so that
// first-occurrence order and the prompt rule both matter.
void write_inputs(const fs::path& folder, const WatermarkKey& key, std::uint64_t seed) {
  const GreenListScheme scheme(key);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::uint32_t> token(0, key.params().vocab_size - 1);
  std::ofstream suspect(folder / "suspect.jsonl"), control(folder / "control.jsonl"), prompts(folder / "prompts.jsonl"),
      log(folder / "served.jsonl");
  const std::uint32_t width = key.params().context_width;
  for (int r = 0; r < 60; ++r) {
    std::vector<std::uint32_t> response, clean, prompt;
    for (int i = 0; i < 80; ++i) {
      std::uint32_t next = token(rng);
      if (response.size() >= width) {
        const auto seed_value = scheme.context_seed(std::span(response).last(width));
        for (int tries = 0; tries < 3 && !scheme.is_green(seed_value, next); ++tries) next = token(rng);
      }
      response.push_back(next);
      clean.push_back(token(rng));
    }
    if (r % 7 == 3) response.insert(response.end(), response.begin(), response.begin() + 20);  // a repeat
    prompt.assign(response.begin() + 10, response.begin() + 25);                                // copied from the prompt
    suspect << nlohmann::json{{"id", r}, {"tokens", response}}.dump() << "\n";
    control << nlohmann::json{{"id", r}, {"tokens", clean}}.dump() << "\n";
    prompts << nlohmann::json{{"id", r}, {"tokens", prompt}}.dump() << "\n";
    if (r % 2 == 0) log << nlohmann::json{{"tokens", response}}.dump() << "\n";
  }
}

struct Investigation {
  testing::TemporaryFolder folder;
  std::vector<WatermarkKey> keys;
  SuspectScanOptions scan;
  EvidenceOptions evidence;
  std::string suspect;

  Investigation() {
    keys.push_back(WatermarkKey::generate(params_with(0.25, 2.0, 1, 5000)));
    keys.push_back(WatermarkKey::generate(params_with(0.5, 2.0, 0, 5000)));
    write_inputs(folder.path(), keys[0], 11);
    suspect = (folder.path() / "suspect.jsonl").string();
    scan.control_path = (folder.path() / "control.jsonl").string();
    scan.prompts_path = (folder.path() / "prompts.jsonl").string();
    generate_signing_key(folder.path() / "signing.pem", folder.path() / "signing.pub", false);
    evidence.folder = folder.path() / "bundle";
    evidence.signing_key = folder.path() / "signing.pem";
    evidence.include_inputs = true;
    evidence.pdf = PdfMode::off;
    evidence.tool = {"tracemark", "0.1.0", "test"};
  }
  EvidenceResult write() {
    const SuspectScanReport report = run_suspect_scan(keys, suspect, scan);
    return write_evidence_bundle(report, keys, suspect, scan, evidence);
  }
  BundleVerification verify(std::span<const WatermarkKey> with_keys = {}) const {
    BundleVerifyOptions options;
    options.public_key = folder.path() / "signing.pub";
    return verify_evidence_bundle(evidence.folder, options, with_keys);
  }
};

// Re-signs a bundle after its files were changed, with the documented layout (docs/DESIGN.md,
// "Evidence bundles"): new digests in the manifest, a new envelope and a new timestamp request.
void resign(const fs::path& bundle, const fs::path& signing_key) {
  auto manifest = nlohmann::json::parse(read_all(bundle / "manifest.json"));
  for (auto& subject : manifest["subject"]) {
    subject["digest"]["sha256"] = sha256_hex(read_all(bundle / subject["name"].get<std::string>()));
  }
  const std::string text = canonical_json(manifest);
  write_all(bundle / "manifest.json", text);
  const EvidenceSigner signer(signing_key);
  const std::string envelope = dsse_envelope(signer, kInTotoPayloadType, text);
  write_all(bundle / "manifest.dsse.json", envelope);
  const std::string signature = *base64_decode(nlohmann::json::parse(envelope)["signatures"][0]["sig"].get<std::string>());
  const std::string nonce_digest = sha256_hex("tracemark/v1/timestamp-nonce\n" + signature);
  const std::uint64_t nonce = std::stoull(nonce_digest.substr(0, 16), nullptr, 16) >> 1;
  std::string digest;
  const std::string manifest_hex = sha256_hex(text);
  for (std::size_t i = 0; i < 64; i += 2) digest.push_back(static_cast<char>(std::stoi(manifest_hex.substr(i, 2), nullptr, 16)));
  write_all(bundle / "manifest.tsq", timestamp_request_der(digest, nonce));
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

TEST(TokenStatuses, AddUpToTheScansPerResponseTalliesForEveryResponseAndKey) {
  Investigation setup;
  setup.scan.reference_log_path = (setup.folder.path() / "served.jsonl").string();
  const SuspectScanReport report = run_suspect_scan(setup.keys, setup.suspect, setup.scan);
  std::vector<std::uint64_t> all(report.suspect.responses.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  for (std::size_t k = 0; k < setup.keys.size(); ++k) {
    const auto coloured = colour_scanned_responses(setup.keys, setup.suspect, setup.scan, k, all);
    ASSERT_EQ(coloured.size(), all.size());
    ScanCounts totals;
    for (std::size_t r = 0; r < coloured.size(); ++r) {
      std::uint32_t scored = 0, green = 0;
      for (TokenStatus status : coloured[r].statuses) {
        scored += status == TokenStatus::green || status == TokenStatus::red;
        green += status == TokenStatus::green;
        totals.skipped_prefix += status == TokenStatus::prefix;
        totals.skipped_prompt_window += status == TokenStatus::prompt_window;
        totals.skipped_filter += status == TokenStatus::filtered;
        totals.skipped_repeated_tuple += status == TokenStatus::repeated;
      }
      EXPECT_EQ(scored, report.suspect.tallies[k][r].scored) << "key " << k << " response " << r;
      EXPECT_EQ(green, report.suspect.tallies[k][r].green) << "key " << k << " response " << r;
      EXPECT_EQ(coloured[r].ref.line, report.suspect.responses[r].line);
      EXPECT_EQ(coloured[r].tokens.size(), report.suspect.tallies[k][r].tokens);
    }
    const ScanCounts& counts = report.suspect.keys[k].counts;
    EXPECT_EQ(totals.skipped_prefix, counts.skipped_prefix);
    EXPECT_EQ(totals.skipped_prompt_window, counts.skipped_prompt_window);
    EXPECT_EQ(totals.skipped_filter, counts.skipped_filter);
    EXPECT_EQ(totals.skipped_repeated_tuple, counts.skipped_repeated_tuple);
    EXPECT_GT(counts.skipped_prompt_window, 0u);
    if (k == 0) {
      EXPECT_GT(counts.skipped_filter, 0u);  // h = 0 has one (empty) context, always in the log
    }
    EXPECT_GT(counts.skipped_repeated_tuple, 0u);
  }
  // A subset (the dedup of earlier responses is still replayed) gives the same statuses.
  const std::vector<std::uint64_t> some = {5, 17, 40};
  const auto subset = colour_scanned_responses(setup.keys, setup.suspect, setup.scan, 0, some);
  const auto everything = colour_scanned_responses(setup.keys, setup.suspect, setup.scan, 0, all);
  ASSERT_EQ(subset.size(), 3u);
  for (std::size_t i = 0; i < subset.size(); ++i) EXPECT_EQ(subset[i].statuses, everything[some[i]].statuses);
}

TEST(EvidenceBundle, VerifiesAndDetectsAChangedByteInEveryFile) {
  Investigation setup;
  const EvidenceResult written = setup.write();
  const BundleVerification clean = setup.verify();
  ASSERT_TRUE(clean.ok()) << joined(clean.failures);
  const fs::path bundle = setup.evidence.folder;
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(bundle)) {
    if (entry.is_regular_file()) files.push_back(fs::relative(entry.path(), bundle).generic_string());
  }
  EXPECT_GE(files.size(), 12u);  // 8 files, 4 inputs, the manifest, its envelope and the request
  for (const char* expected : {"manifest.json", "manifest.dsse.json", "manifest.tsq", "report.html", "results.json",
                               "investigation.jsonl", "keys.json", "inputs.json", "configuration.json", "inputs/suspect.jsonl"}) {
    EXPECT_NE(std::find(files.begin(), files.end(), expected), files.end()) << expected;
  }
  std::mt19937_64 rng(testing::announce_seed(20261125));
  for (const std::string& name : files) {
    const std::string original = read_all(bundle / name);
    ASSERT_FALSE(original.empty()) << name;
    std::vector<std::size_t> offsets = {0, original.size() / 2, original.size() - 1};
    for (int i = 0; i < 5; ++i) offsets.push_back(std::uniform_int_distribution<std::size_t>(0, original.size() - 1)(rng));
    for (const std::size_t at : offsets) {
      for (const unsigned char mask : {0x01, 0x20, 0x80}) {
        std::string changed = original;
        changed[at] = static_cast<char>(static_cast<unsigned char>(changed[at]) ^ mask);
        write_all(bundle / name, changed);
        const BundleVerification result = setup.verify();
        EXPECT_FALSE(result.ok()) << name << " byte " << at << " ^ " << int{mask} << " was not detected";
        // The failure names the file (the manifest's signature names the envelope or the manifest).
        const std::string failures = joined(result.failures);
        const bool named = failures.find(name) != std::string::npos ||
                           (name == "manifest.json" && failures.find("manifest.dsse.json") != std::string::npos);
        EXPECT_TRUE(named) << name << " byte " << at << ": " << failures;
      }
    }
    write_all(bundle / name, original);
  }
  EXPECT_TRUE(setup.verify().ok());
  // Added and removed files are named too.
  write_all(bundle / "extra.txt", "x");
  EXPECT_NE(joined(setup.verify().failures).find("extra.txt: not listed in the manifest"), std::string::npos);
  fs::remove(bundle / "extra.txt");
  const std::string results = read_all(bundle / "results.json");
  fs::remove(bundle / "results.json");
  EXPECT_NE(joined(setup.verify().failures).find("results.json: listed in the manifest but missing"), std::string::npos);
  write_all(bundle / "results.json", results);
  // Another signer's public key is refused, naming the field.
  generate_signing_key(setup.folder.path() / "other.pem", setup.folder.path() / "other.pub", false);
  BundleVerifyOptions other;
  other.public_key = setup.folder.path() / "other.pub";
  EXPECT_NE(joined(verify_evidence_bundle(bundle, other, {}).failures).find("signatures[0].keyid"), std::string::npos);
  EXPECT_EQ(written.signing_key_id, signing_key_id_of_public_pem(read_public_key_pem(setup.folder.path() / "signing.pub")));
}

TEST(EvidenceBundle, ReRunWithTheKeysReproducesTheFiguresAndAWrongKeyIsNamed) {
  Investigation setup;
  setup.write();
  const BundleVerification rerun = setup.verify(setup.keys);
  ASSERT_TRUE(rerun.ok()) << joined(rerun.failures);
  EXPECT_NE(joined(rerun.checked).find("reproduces results.json byte for byte"), std::string::npos);
  std::vector<WatermarkKey> wrong = {setup.keys[0], WatermarkKey::generate(params_with(0.5, 2.0, 0, 5000))};
  EXPECT_NE(joined(setup.verify(wrong).failures).find("keys.json: key 2"), std::string::npos);
  // A results.json whose figures were changed and then signed again by the signer (as a forger
  // holding the signing key could): digests and signature hold, and only the re-run catches it,
  // naming the field.
  const std::string text = read_all(setup.evidence.folder / "results.json");
  const std::string field = "\"green\": ";
  const std::size_t at = text.find(field, text.find("\"suspect\""));
  ASSERT_NE(at, std::string::npos);
  std::size_t end_of_number = at + field.size();
  while (std::isdigit(static_cast<unsigned char>(text[end_of_number]))) ++end_of_number;
  const std::uint64_t green = std::stoull(text.substr(at + field.size(), end_of_number - at - field.size()));
  write_all(setup.evidence.folder / "results.json",
            text.substr(0, at + field.size()) + std::to_string(green + 1) + text.substr(end_of_number));
  resign(setup.evidence.folder, setup.folder.path() / "signing.pem");
  ASSERT_TRUE(setup.verify().ok()) << joined(setup.verify().failures);
  const std::string failures = joined(setup.verify(setup.keys).failures);
  EXPECT_NE(failures.find("results.json: the re-run with the given keys does not reproduce the recorded figures (field "
                          "/scan/suspect/keys/0/green: recorded " + std::to_string(green + 1) + ", re-run gives " +
                          std::to_string(green) + ")"),
            std::string::npos)
      << failures;
}

TEST(EvidenceBundle, InvestigationLogCountsEveryDistinctTestAndIsHashChained) {
  Investigation setup;
  setup.write();                                      // run 1: two keys
  const EvidenceResult second = setup.write();        // run 2: the same tests again: nothing new
  setup.scan.reference_log_path = (setup.folder.path() / "served.jsonl").string();
  const EvidenceResult third = setup.write();         // run 3: another setting: two new tests
  EXPECT_TRUE(setup.verify().ok());
  const auto log = read_investigation_log(setup.evidence.folder / "investigation.jsonl");
  ASSERT_EQ(log.size(), 3u);
  const InvestigationSummary summary = summarize_investigation(log);
  EXPECT_EQ(summary.runs, 3u);
  EXPECT_EQ(summary.distinct_suspect_tests, 4u);
  EXPECT_NE(second.investigation_text.find("2 distinct suspect tests"), std::string::npos) << second.investigation_text;
  EXPECT_NE(third.investigation_text.find("4 distinct suspect tests"), std::string::npos) << third.investigation_text;
  EXPECT_NE(third.investigation_text.find("over the whole investigation"), std::string::npos);
  // Holm over the four distinct suspect tests, recomputed here from the log's raw p-values.
  std::vector<double> log_p;
  for (const auto& test : summary.tests) {
    if (test.role == "suspect" && test.run != 2) log_p.push_back(test.log10_p * std::numbers::ln10);
  }
  ASSERT_EQ(log_p.size(), 4u);
  const auto adjusted = holm_adjust_log_p(log_p);
  std::size_t i = 0;
  for (const auto& test : summary.tests) {
    if (test.role != "suspect" || test.run == 2) continue;
    EXPECT_NEAR(test.holm_log10_p, adjusted[i++] / std::numbers::ln10, 1e-12);
  }
  // The results file carries the investigation-wide figures.
  const auto results = nlohmann::json::parse(read_all(setup.evidence.folder / "results.json"));
  EXPECT_EQ(results["investigation"]["distinct_suspect_tests"], 4);
  // Dropping a run breaks the chain, and the next scan refuses to extend a broken log.
  std::ofstream(setup.folder.path() / "broken.jsonl") << log[0] << "\n" << log[2] << "\n";
  try {
    read_investigation_log(setup.folder.path() / "broken.jsonl");
    FAIL() << "a log with a run removed was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.jsonl line 2"), std::string::npos) << e.what();
  }
  setup.evidence.investigation_log = setup.folder.path() / "broken.jsonl";
  EXPECT_THROW(setup.write(), Error);
}

TEST(EvidenceBundle, RefusesAFolderThatIsNotABundleAndNeedsASecretSigningKey) {
  Investigation setup;
  fs::create_directories(setup.evidence.folder);
  std::ofstream(setup.evidence.folder / "notes.txt") << "someone else's file";
  EXPECT_THROW(setup.write(), Error);
  EXPECT_TRUE(fs::exists(setup.evidence.folder / "notes.txt"));
  setup.evidence.folder = setup.folder.path() / "fresh";
  fs::permissions(setup.evidence.signing_key, fs::perms::group_read, fs::perm_options::add);
  EXPECT_THROW(setup.write(), Error);
  EXPECT_FALSE(fs::exists(setup.evidence.folder));
}

TEST(EvidenceBundle, NoFileHoldsTheSecretInHexOrBase64) {
  Investigation setup;
  setup.write();
  for (const WatermarkKey& key : setup.keys) {
    const fs::path key_file = setup.folder.path() / (key.key_id() + ".json");
    key.save(key_file, true);
    const std::string hex = nlohmann::json::parse(read_all(key_file))["secret"].get<std::string>();
    std::string raw;
    for (std::size_t i = 0; i < hex.size(); i += 2) raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    std::string upper = hex;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string base64 = base64_encode(raw), url = base64;
    for (char& c : url) c = c == '+' ? '-' : c == '/' ? '_' : c;
    const std::string unpadded = base64.substr(0, base64.find('='));
    for (const auto& entry : fs::recursive_directory_iterator(setup.evidence.folder)) {
      if (!entry.is_regular_file()) continue;
      const std::string content = read_all(entry.path());
      for (const std::string& form : {hex, upper, unpadded, url.substr(0, url.find('=')), raw}) {
        EXPECT_EQ(content.find(form), std::string::npos) << entry.path() << " holds the secret";
      }
    }
  }
}

// Sampling schemes in the bundle (issue 18): a suspect that picks, of three random tokens, the one
// with the largest Gumbel-max score, scanned with that key, a tournament key and a green-list key.
struct SamplingInvestigation : Investigation {
  SamplingInvestigation() {
    keys = {WatermarkKey::generate(testing::gumbel_params(1, 5000)), WatermarkKey::generate(testing::tournament_params(1, 5000, 8)),
            WatermarkKey::generate(params_with(0.25, 2.0, 1, 5000))};
    const GumbelMaxScheme scheme(keys[0]);
    std::mt19937_64 rng(testing::announce_seed(20261203));
    std::uniform_int_distribution<std::uint32_t> token(0, 4999);
    std::ofstream out(suspect);
    for (int r = 0; r < 40; ++r) {
      std::vector<std::uint32_t> response = {token(rng)};
      while (response.size() < 60) {
        const std::uint64_t seed = scheme.context_seed(std::span(response).last(1));
        std::uint32_t best = token(rng);
        for (int tries = 0; tries < 2; ++tries) {
          const std::uint32_t other = token(rng);
          if (scheme.score(seed, other) > scheme.score(seed, best)) best = other;
        }
        response.push_back(best);
      }
      out << nlohmann::json{{"id", r}, {"tokens", response}}.dump() << "\n";
    }
  }
};

TEST(EvidenceBundle, SamplingSchemesRecordTheirOwnStatisticAndReRunByteForByte) {
  SamplingInvestigation setup;
  setup.write();
  const BundleVerification rerun = setup.verify(setup.keys);
  ASSERT_TRUE(rerun.ok()) << joined(rerun.failures);
  EXPECT_NE(joined(rerun.checked).find("reproduces results.json byte for byte"), std::string::npos);

  // The log's tests carry each scheme's statistic, equal to the scan's.
  const SuspectScanReport report = run_suspect_scan(setup.keys, setup.suspect, setup.scan);
  const auto log = read_investigation_log(setup.evidence.folder / "investigation.jsonl");
  InvestigationSummary summary = summarize_investigation(log);
  ASSERT_EQ(summary.tests.size(), 6u);  // three keys, suspect and control
  EXPECT_EQ(summary.tests[0].scheme, kGumbelMaxSchemeName);
  EXPECT_EQ(summary.tests[0].score, report.suspect.keys[0].counts.score);
  EXPECT_LT(summary.tests[0].log10_p, -10) << "the suspect was written with the Gumbel-max key";
  EXPECT_EQ(summary.tests[1].scheme, kTournamentSchemeName);
  EXPECT_EQ(summary.tests[1].g_ones, report.suspect.keys[1].counts.g_ones);
  EXPECT_EQ(summary.tests[1].tournament_layers, 8u);
  EXPECT_EQ(summary.tests[2].scheme, "") << "green-list tests keep the shape they had";
  EXPECT_GT(summary.tests[1].log10_p, -6) << "fresh keys: a valid p-value is below 1e-6 once in a million runs";
  EXPECT_GT(summary.tests[2].log10_p, -6);

  // The same scan again adds no new test; the report names each scheme's exact tail.
  setup.write();
  summary = summarize_investigation(read_investigation_log(setup.evidence.folder / "investigation.jsonl"));
  EXPECT_EQ(summary.distinct_suspect_tests, 3u);
  const std::string html = read_all(setup.evidence.folder / "report.html");
  for (const char* words : {"Gamma tail", "binomial tail of the g-values", "mean score", "mean g"}) {
    EXPECT_NE(html.find(words), std::string::npos) << words;
  }

  // A score changed in the log and the bundle signed again: digests and signature hold; the re-run
  // with the keys names what differs.
  std::string text = read_all(setup.evidence.folder / "investigation.jsonl");
  auto last = nlohmann::ordered_json::parse(read_investigation_log(setup.evidence.folder / "investigation.jsonl").back());
  const std::size_t line_start = text.rfind('\n', text.size() - 2) + 1;
  last["tests"][0]["score"] = last["tests"][0]["score"].get<double>() + 1.0;
  write_all(setup.evidence.folder / "investigation.jsonl", text.substr(0, line_start) + last.dump() + "\n");
  resign(setup.evidence.folder, setup.folder.path() / "signing.pem");
  ASSERT_TRUE(setup.verify().ok()) << joined(setup.verify().failures);
  const std::string failures = joined(setup.verify(setup.keys).failures);
  // (The changed score makes the run a fourth distinct test, the first figure that differs.)
  EXPECT_NE(failures.find("results.json: the re-run with the given keys does not reproduce the recorded figures (field "
                          "/investigation/distinct_suspect_tests: recorded 3, re-run gives 4)"),
            std::string::npos)
      << failures;
}

TEST(InvestigationLog, RefusesASchemeItDoesNotKnowAndAStatisticOfTheWrongType) {
  const std::string base =
      R"({"run":1,"previous_sha256":"0000000000000000000000000000000000000000000000000000000000000000","tests":[)"
      R"({"test_id":"t","role":"suspect","key_id":"k","commitment":"c","scored":10,"green":3,"gamma":0,"log10_p":-1,)";
  for (const auto& [tail, expected] : std::vector<std::pair<std::string, std::string>>{
           {R"("scheme":"bogus"}]})", "scheme names no scheme tracemark knows"},
           {R"("scheme":"gumbel-max","score":"12"}]})", "tests[0].score must be a number"},
           {R"("scheme":"synthid-tournament","g_ones":5}]})", "tests[0].tournament_layers is missing"},
           {R"("scheme":"synthid-tournament","g_ones":5,"tournament_layers":65}]})", "tournament_layers must be 1 to 64"},
           {R"("scheme":"synthid-tournament","g_ones":-5,"tournament_layers":8}]})", "tests[0].g_ones must be an unsigned integer"},
           {R"("scheme":"gumbel-max","score":{"a":[[[[1]]]]}}]})", "tests[0].score must be a number"},
           {R"("scheme":7}]})", "tests[0].scheme must be a string"}}) {
    const std::vector<std::string> lines = {base + tail};
    try {
      summarize_investigation(lines);
      ADD_FAILURE() << "accepted: " << tail;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("line 1"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace tracemark

namespace tracemark {
namespace {

// Attribution in the bundle (issue 15): a suspect biased to cohort:a's subkey, scanned with a ring's
// two subkeys. The bundle carries only cohort:a's proof; a proof tampered with and the bundle
// re-signed (so that every digest and the signature hold) still fails, on the proof itself; the
// writer refuses a ring whose claimed label has no proof or whose proof is of another ring.
struct RingInvestigation : Investigation {
  Keyring ring = Keyring::generate(params_with(0.25, 2.0, 1, 5000), {"cohort:a", "cohort:b"});
  RingInvestigation() {
    keys = {ring.derive("cohort:a"), ring.derive("cohort:b")};
    write_inputs(folder.path(), keys[0], 11);
    evidence.ring = EvidenceRing{ring.ring_id(), ring.root(), {"cohort:a", "cohort:b"}, {ring.prove("cohort:a"), ring.prove("cohort:b")}};
  }
};

TEST(AttributionEvidence, CarriesTheClaimedProofOnlyAndEvidenceVerifyChecksIt) {
  RingInvestigation setup;
  setup.write();
  const fs::path bundle = setup.evidence.folder;
  const nlohmann::json attribution = nlohmann::json::parse(read_all(bundle / "attribution.json"));
  ASSERT_EQ(attribution["proofs"].size(), 1u);
  EXPECT_EQ(attribution["proofs"][0]["label"], "cohort:a");
  EXPECT_EQ(attribution["suspect"]["attributed_to"], "cohort:a");
  EXPECT_EQ(attribution["root"], setup.ring.root());
  BundleVerifyOptions options;
  options.public_key = setup.folder.path() / "signing.pub";
  options.ring_root = setup.ring.root();
  const BundleVerification good = verify_evidence_bundle(bundle, options, setup.keys);
  EXPECT_TRUE(good.ok()) << joined(good.failures);
  EXPECT_NE(joined(good.checked).find("reproduces results.json and attribution.json byte for byte"), std::string::npos);

  nlohmann::json tampered = attribution;
  tampered["proofs"][0]["leaf_index"] = 1;  // claim cohort:a sat where cohort:b sits
  write_all(bundle / "attribution.json", tampered.dump(2));
  resign(bundle, setup.folder.path() / "signing.pem");
  const BundleVerification bad = verify_evidence_bundle(bundle, options, {});
  ASSERT_EQ(bad.failures.size(), 1u) << joined(bad.failures);
  EXPECT_NE(bad.failures[0].find("attribution.json: tampered or malformed inclusion proof: keyring proof for label "
                                 "'cohort:a': the path does not lead to the proof's root"),
            std::string::npos)
      << bad.failures[0];
}

TEST(AttributionEvidence, TheWriterRefusesAClaimWithoutItsProofOrWithAnotherRingsProof) {
  RingInvestigation setup;
  setup.evidence.ring->proofs = {setup.ring.prove("cohort:b")};
  try {
    setup.write();
    ADD_FAILURE() << "a bundle was written without the claimed label's proof";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("detected under cohort:a, but no inclusion proof of that label was given"), std::string::npos) << e.what();
  }
  const Keyring other = Keyring::generate(params_with(0.25, 2.0, 1, 5000), {"cohort:a", "cohort:b"});
  setup.evidence.ring->proofs = {other.prove("cohort:a")};
  EXPECT_THROW(setup.write(), Error);
  EXPECT_FALSE(fs::exists(setup.evidence.folder)) << "nothing half-written";
}

}  // namespace
}  // namespace tracemark
