// Evidence bundles: a signed folder that lets someone outside engineering read a scan's finding and
// lets anyone check that nothing in it was altered or left out (docs/DESIGN.md, "Evidence bundles",
// gives the layout; docs/METHOD.md, "The investigation log", the multiple-testing rule).
//
//   inputs.json          role, name, size and SHA-256 of every input (suspect, control, prompts, log)
//   inputs/              the inputs themselves (only with include_inputs)
//   keys.json            each key's id, parameters and public commitment; never the secret
//   configuration.json   every setting of the scan, the tool's version and build id
//   investigation.jsonl  every test run in the investigation (hash-chained, one run a line)
//   results.json         every figure: the scan, per-response tallies, the investigation-wide Holm p
//   attribution.json     with a keyring (issue 15): the ring's root, the claimed labels' inclusion
//                        proofs and the attribution results (docs/METHOD.md, "Attribution in evidence")
//   report.html          the report for readers (self-contained), report.pdf printed from it
//   manifest.json        in-toto Statement v1 listing every file above with its SHA-256 (canonical JSON)
//   manifest.dsse.json   DSSE envelope: the manifest's bytes signed with Ed25519
//   manifest.tsq         RFC 3161 timestamp request for the manifest; manifest.tsr, when added, the reply
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tracemark/embed/key.hpp"
#include "tracemark/embed/keyring.hpp"
#include "tracemark/verify/suspect_scan.hpp"

namespace tracemark {

struct EvidenceToolInfo {
  std::string name = "tracemark";
  std::string version;
  std::string build_id;
};

enum class PdfMode {
  automatic,  // print report.pdf when Chromium is available; otherwise a note says why it was skipped
  required,   // fail (Error io) when the PDF cannot be printed
  off,        // never print
};

// A scan with a keyring's subkeys: what the bundle needs to carry its attribution. The ring's
// subkeys are the last labels.size() keys of the scan, in the order of `labels`. `proofs` are the
// inclusion proofs of the labels whose evidence is claimed (Keyring::prove; public, never a
// secret): each must check against `root` and name the commitment of its label's key in the scan.
struct EvidenceRing {
  std::string ring_id;
  std::string root;  // "sha256:" + 64 hex digits: the ring's published root
  std::vector<std::string> labels;
  std::vector<KeyringProof> proofs;
};

struct EvidenceOptions {
  std::filesystem::path folder;       // created, or an earlier bundle of the same investigation (replaced)
  std::filesystem::path signing_key;  // Ed25519 private key (PEM, mode 0600)
  // Optional: the investigation log to read and append to; default: folder/investigation.jsonl.
  std::filesystem::path investigation_log;
  bool include_inputs = false;
  PdfMode pdf = PdfMode::automatic;
  double alpha = 1e-6;
  std::string input_mode = "auto";  // as given to scan --input (recorded in the configuration)
  EvidenceToolInfo tool;
  std::optional<EvidenceRing> ring;  // with a keyring: attribution.json and the report's attribution section
};

struct EvidenceResult {
  std::filesystem::path folder;    // where the bundle is: the destination as a real, absolute path
  std::vector<std::string> files;  // bundle files, relative to the folder
  bool pdf_written = false;
  std::string pdf_note;            // why no PDF was written (empty when one was)
  std::string investigation_text;  // the investigation-wide summary (the report shows the same words)
  std::string signing_key_id;
};

// One test of the investigation log: one key on one file with one set of settings.
struct InvestigationTest {
  std::uint64_t run = 0;
  std::string test_id;  // SHA-256 of what defines the test (key commitment, input digests, settings)
  std::string role;     // "suspect" or "control"
  std::string key_id;
  std::string commitment;
  std::uint64_t scored = 0;
  std::uint64_t green = 0;
  double gamma = 0;
  double log10_p = 0;       // unadjusted
  double holm_log10_p = 0;  // Holm over every distinct suspect test of the investigation (suspect only)
  // The statistic of a sampling scheme's test (issue 18); the green list's is `green` of `scored`.
  // Empty scheme: a green-list test (logs written before issue 18 name no scheme).
  std::string scheme;
  double score = 0;          // gumbel-max: sum of -ln(1 - r) over the scored tuples (null Gamma(scored, 1))
  std::uint64_t g_ones = 0;  // synthid-tournament: g-values equal to 1 (null Binomial(scored m, 1/2))
  std::uint32_t tournament_layers = 0;
};

struct InvestigationSummary {
  std::uint64_t runs = 0;
  std::vector<InvestigationTest> tests;  // every test of every run, in order
  std::size_t distinct_suspect_tests = 0;
};

// Reads an investigation log and checks its hash chain; throws Error(invalid_input) naming the file
// and line of a broken link or a malformed entry. A missing file is an empty log.
std::vector<std::string> read_investigation_log(const std::filesystem::path& path);
// The tests of a log, with the investigation-wide Holm correction. Repeating exactly the same test
// (same test_id and the same counts) adds no new chance of a false alarm and is counted once.
InvestigationSummary summarize_investigation(std::span<const std::string> log_lines);
// The words the terminal prints and the report shows for the current run's keys.
std::string investigation_text(const InvestigationSummary& summary, const SuspectScanReport& report,
                               std::span<const WatermarkKey> keys, double alpha);

// Writes the bundle for a finished scan (the scan's own options and suspect path, so the figures can
// be reproduced). `scanner`, when given, is the one that made `report` (same keys and options): the
// report's examples are replayed with it instead of setting the scan up again. The folder is built
// beside the destination and swapped into place only when complete. An existing destination is
// replaced only when it is empty or exactly an earlier bundle as tracemark wrote it (every file
// listed in its manifest, unchanged; nothing else there). Throws Error(invalid_argument) for any
// other destination (nothing is changed), Error(io) when a file cannot be written (or a required
// PDF cannot be printed).
EvidenceResult write_evidence_bundle(const SuspectScanReport& report, std::span<const WatermarkKey> keys,
                                     const std::string& suspect_path, const SuspectScanOptions& scan_options,
                                     const EvidenceOptions& options, const SuspectScanner* scanner = nullptr);

struct BundleVerifyOptions {
  std::filesystem::path public_key;  // PEM of the Ed25519 key that signed the manifest
  std::filesystem::path tsa_ca;      // optional: CA certificates (PEM) of the timestamp authority
  unsigned threads = 1;              // for the re-run (results do not depend on it)
  // Optional: the keyring root published beforehand; attribution.json's root must be it.
  std::string ring_root;
};

struct BundleVerification {
  std::vector<std::string> checked;   // what held, in words
  std::vector<std::string> failures;  // each names the file (and field) that fails
  bool ok() const noexcept { return failures.empty(); }
};

// Recomputes every digest and checks the signature, the timestamp request (and reply when present)
// and the investigation log's chain; with attribution.json, every inclusion proof against the
// bundle's root (and options.ring_root) and against the commitment of its label's key in keys.json. With keys (the secrets), re-runs the scan on the bundled inputs
// and checks that results.json is reproduced byte for byte. Never throws for a damaged bundle: every
// problem is a failure entry; throws only for an unreadable public key.
BundleVerification verify_evidence_bundle(const std::filesystem::path& folder, const BundleVerifyOptions& options,
                                          std::span<const WatermarkKey> keys);

}  // namespace tracemark
