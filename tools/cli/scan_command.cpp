// tracemark scan: was a suspect model trained on our watermarked responses? One pooled,
// deduplicated test per key over all of the suspect's responses, Holm-corrected across keys,
// with an optional reference-log filter, prompt-window rule and a clean control. The work is
// SuspectScanner (verify/suspect_scan.hpp); this file only parses options and prints.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "commands.hpp"
#include "shared_options.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/embed/keyring.hpp"
#include "tracemark/verify/attribution.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/evidence_bundle.hpp"
#include "tracemark/verify/scan_partition.hpp"
#include "tracemark/verify/scan_report.hpp"
#include "tracemark/verify/suspect_scan.hpp"
#include "reference_entropy.hpp"
#include "version.hpp"

namespace tracemark::cli {
namespace {

struct ScanOptions {
  std::vector<std::string> keys;
  // Attribution (issue 15): the ring's subkeys are scanned after the --key keys.
  std::string keyring;
  std::vector<std::string> labels;  // empty: every label of the ring
  std::string suspect;
  SuspectScanOptions scan;
  std::string input = "auto";
  double alpha = 1e-6;
  bool json = false;
  // Evidence bundle (issue 6).
  EvidenceOptions evidence;
  std::string evidence_folder;
  std::string signing_key;
  std::string investigation_log;
  bool require_pdf = false;
  bool no_pdf = false;
  StepRuleOptions steps;  // entropy source and syntax rule
  // The distributed scan's steps (verify/scan_partition.hpp; bench/dask_scan.py drives them).
  std::uint32_t emit_partitions = 0;
  std::string partition_out;
  std::vector<std::string> reduce_partition;
  std::string partial_out;
  std::vector<std::string> merge;
};

// The steps of a distributed scan; returns false when none was asked for.
bool run_distributed_step(const ScanOptions& options, const std::vector<WatermarkKey>& keys) {
  const int steps = (options.emit_partitions > 0) + !options.reduce_partition.empty() + !options.merge.empty();
  if (steps == 0) return false;
  if (steps > 1) throw Error(ErrorCode::invalid_argument, "give one of --emit-partitions, --reduce-partition and --merge");
  if (!options.scan.control_path.empty() || !options.evidence_folder.empty()) {
    throw Error(ErrorCode::invalid_argument, "a distributed scan step takes no --control or --evidence: scan the control "
                                             "separately; the evidence of a distributed run is described in docs/METHOD.md");
  }
  if (options.emit_partitions > 0) {
    if (options.partition_out.empty()) throw Error(ErrorCode::invalid_argument, "--emit-partitions needs --partition-out PREFIX");
    if (options.suspect.empty()) throw Error(ErrorCode::invalid_argument, "--emit-partitions needs --suspect SHARD");
    const SuspectScanner scanner(keys, options.scan);
    for (const std::string& path : scanner.emit_partitions(options.suspect, options.emit_partitions, options.partition_out)) {
      std::cout << path << "\n";
    }
    return true;
  }
  if (!options.reduce_partition.empty()) {
    if (options.partial_out.empty()) throw Error(ErrorCode::invalid_argument, "--reduce-partition needs --partial-out FILE");
    const std::vector<std::filesystem::path> files(options.reduce_partition.begin(), options.reduce_partition.end());
    write_scan_partial_counts(options.partial_out, reduce_scan_partition(keys, files));
    return true;
  }
  std::vector<ScanPartialCounts> partials;
  for (const std::string& path : options.merge) partials.push_back(read_scan_partial_counts(path));
  const MergedScan merged = merge_scan_partials(keys, partials, options.scan.settings);
  if (options.json) {
    nlohmann::ordered_json document = scan_report_json(merged.report, keys, options.alpha);
    nlohmann::ordered_json shards = nlohmann::ordered_json::array();
    for (const ScanShardInfo& shard : merged.shards) {
      shards.push_back({{"name", shard.name}, {"bytes", shard.bytes}, {"sha256", shard.sha256}, {"records", shard.records}});
    }
    document["distributed"] = {{"partitions", merged.partitions}, {"shards", shards}};
    std::cout << dump_with_raw_p_values(document, 2) << "\n";
  } else {
    std::cout << scan_report_text(merged.report, keys, options.alpha);
    std::cout << "\nDistributed run: " << merged.partitions << " hash partitions over " << merged.shards.size()
              << " shards (the p-value curve has only its end point).\n";
  }
  return true;
}

// The ring part of the bundle: the root, and a proof for every label scanned (the bundle keeps only
// those of the labels whose evidence it claims).
EvidenceRing evidence_ring(const Keyring& ring, const std::vector<std::string>& labels) {
  EvidenceRing out{ring.ring_id(), ring.root(), labels, {}};
  for (const std::string& label : labels) out.proofs.push_back(ring.prove(label));
  return out;
}

void write_evidence(const ScanOptions& options, const SuspectScanner& scanner, const SuspectScanReport& report,
                    const std::vector<WatermarkKey>& keys, const std::optional<Keyring>& ring,
                    const std::vector<std::string>& labels) {
  EvidenceOptions evidence = options.evidence;
  if (ring) evidence.ring = evidence_ring(*ring, labels);
  evidence.folder = options.evidence_folder;
  evidence.signing_key = options.signing_key;
  evidence.investigation_log = options.investigation_log;
  evidence.alpha = options.alpha;
  evidence.input_mode = options.input;
  evidence.pdf = options.no_pdf ? PdfMode::off : options.require_pdf ? PdfMode::required : PdfMode::automatic;
  evidence.tool = {"tracemark", kVersion, kBuildId};
  const EvidenceResult result = write_evidence_bundle(report, keys, options.suspect, options.scan, evidence, &scanner);
  // With --json, stdout holds only the JSON document.
  std::ostream& out = options.json ? std::cerr : std::cout;
  out << "\n" << result.investigation_text;
  out << "Evidence bundle written to " << result.folder.string() << " (" << result.files.size()
      << " files, manifest signed by " << result.signing_key_id << ").\n";
  if (!result.pdf_note.empty()) out << "Note: " << result.pdf_note << ".\n";
}

// Appends the subkeys of --keyring (the --labels, or every label) to `keys`; returns their labels.
std::vector<std::string> add_ring_subkeys(const ScanOptions& options, const std::optional<Keyring>& ring,
                                          std::vector<WatermarkKey>& keys) {
  if (!ring) {
    if (!options.labels.empty()) throw Error(ErrorCode::invalid_argument, "--labels needs --keyring RING");
    return {};
  }
  std::vector<std::string> labels = options.labels.empty() ? ring->labels() : options.labels;
  for (const std::string& label : labels) {
    if (std::count(labels.begin(), labels.end(), label) > 1) {
      throw Error(ErrorCode::invalid_argument, "--labels names " + label + " twice");
    }
    keys.push_back(ring->derive(label));  // refuses labels not in the ring, naming the ring's labels
  }
  return labels;
}

// The ring's results are the last labels.size() keys of the scan.
Attribution attribution_of(const FileScanResult& file, const SuspectScanReport& report, const std::vector<std::string>& labels,
                           double alpha) {
  const std::size_t first = file.keys.size() - labels.size();
  return attribute(labels, std::span(file.keys).subspan(first), report.gammas.at(first), alpha);
}

void print_attribution(const SuspectScanReport& report, const std::vector<std::string>& labels, double alpha) {
  std::cout << "\n" << attribution_text(attribution_of(report.suspect, report, labels, alpha));
  if (report.control) {
    const Attribution control = attribution_of(*report.control, report, labels, alpha);
    std::cout << "Control (" << report.control->path << "): attributed to "
              << (control.attributed ? control.labels[*control.attributed].label
                                     : control.verdict == AttributionVerdict::none ? std::string("none") : std::string("several labels"))
              << ".\n";
  }
}

void add_attribution_json(nlohmann::ordered_json& document, const SuspectScanReport& report,
                          const std::vector<std::string>& labels, double alpha) {
  document["attribution"] = attribution_json(attribution_of(report.suspect, report, labels, alpha));
  if (report.control) document["control_attribution"] = attribution_json(attribution_of(*report.control, report, labels, alpha));
}

void run_scan(ScanOptions options) {
  if (!(options.alpha > 0.0 && options.alpha < 1.0)) {
    throw Error(ErrorCode::invalid_argument, "--alpha must be strictly between 0 and 1");
  }
  options.scan.settings.target_p = options.alpha;
  options.scan.token_source = parse_token_source(options.input);
  std::vector<WatermarkKey> keys;
  for (const std::string& path : options.keys) keys.push_back(WatermarkKey::load(path));
  std::optional<Keyring> ring;
  if (!options.keyring.empty()) ring = Keyring::load(options.keyring);
  const std::vector<std::string> labels = add_ring_subkeys(options, ring, keys);
  if (keys.empty()) throw Error(ErrorCode::invalid_argument, "give --key FILE or --keyring RING: nothing to scan with");
  options.scan.entropy_source = load_reference_entropy(options.steps.reference_model, options.steps.reference_top_k, keys);
  options.scan.syntax_aware = options.steps.syntax_aware;
  if (run_distributed_step(options, keys)) return;
  if (options.suspect.empty()) throw Error(ErrorCode::invalid_argument, "--suspect FILE is required");
  if (!options.evidence_folder.empty() && !options.scan.reference_filter_out.empty()) {
    // A bundle replays its scan from its inputs; a log it would re-read exactly is not the filter
    // this scan used. Build the filter first, then bundle the scan that loads it.
    throw Error(ErrorCode::invalid_argument, "--evidence with --reference-filter-out: build the filter file first "
                                             "(scan --reference-log LOG --reference-filter-out FILE), then run the "
                                             "evidence scan with --reference-filter FILE");
  }
  if (!options.evidence_folder.empty() && options.signing_key.empty()) {
    throw Error(ErrorCode::invalid_argument, "--evidence needs --signing-key FILE to sign the bundle; make one with "
                                             "`tracemark evidence keygen --out FILE`");
  }
  const SuspectScanner scanner(keys, options.scan);
  const SuspectScanReport report = scanner.run(options.suspect);
  if (options.json) {
    nlohmann::ordered_json document = scan_report_json(report, keys, options.alpha);
    if (!labels.empty()) add_attribution_json(document, report, labels, options.alpha);
    std::cout << dump_with_raw_p_values(document, 2) << "\n";
  } else {
    std::cout << scan_report_text(report, keys, options.alpha);
    if (!labels.empty()) print_attribution(report, labels, options.alpha);
  }
  if (!options.evidence_folder.empty()) write_evidence(options, scanner, report, keys, ring, labels);
}

}  // namespace

void add_scan_command(CLI::App& app) {
  auto options = std::make_shared<ScanOptions>();
  options->scan.threads = std::max(1u, std::thread::hardware_concurrency());
  CLI::App* command = app.add_subcommand("scan", "test whether a suspect model was trained on our watermarked responses");
  command->add_option("--key", options->keys, "key file (repeat for several keys; p-values are Holm-corrected)");
  command->add_option("--keyring", options->keyring,
                      "keyring file: scan with its subkeys too (Holm-corrected with every key) and attribute the suspect to a "
                      "label: which model version, cohort or epoch it learned from");
  command->add_option("--labels", options->labels, "with --keyring: the labels to test, comma-separated (default: all)")
      ->delimiter(',');
  command->add_option("--suspect", options->suspect,
                      "suspect responses, JSON lines (.jsonl or .jsonl.gz): {\"tokens\": [ids]}, {\"text\": ...}, or OpenAI "
                      "chat completion / completion objects (text needs a key that names its tokenizer); required except with --reduce-partition and --merge");
  command->add_option("--prompts", options->scan.prompts_path,
                      "prompts sent, {\"id\", \"prompt\" or \"prompt_tokens\"}: tuples copied from a prompt are not scored");
  command->add_option("--reference-log", options->scan.reference_log_path,
                      "our served responses believed harvested: score only tuples whose context occurs there");
  command->add_option("--reference-top", options->scan.reference_top,
                      "with --reference-log: keep only its N most frequent contexts")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
  command->add_option("--cohort-accounts", options->scan.reference_cohort_path,
                      "with --reference-log: a cohort's reference log, only the exchanges of these accounts (one a line, "
                      "or ACCOUNT<TAB>CLUSTER as `campaigns --accounts-out` writes): attribution to a cohort even when "
                      "all traffic used one key")
      ->needs("--reference-log");
  command->add_option("--cohort", options->scan.reference_cohort_cluster,
                      "with --cohort-accounts: only the accounts of this cluster (the file's second column)")
      ->needs("--cohort-accounts");
  command->add_flag("--only-cohort-contexts", options->scan.only_cohort_contexts,
                    "with --cohort-accounts: score only contexts that occur in the cohort's exchanges and in no other "
                    "account's (a rule on contexts alone, so the test stays exact)")
      ->needs("--cohort-accounts");
  command->add_option("--reference-filter-out", options->scan.reference_filter_out,
                      "with --reference-log: also write its context filter to FILE (an xor filter, about 1.23 bytes a "
                      "context), and scan with that filter exactly as later scans that load it")
      ->needs("--reference-log");
  command->add_option("--reference-filter", options->scan.reference_filter_path,
                      "instead of --reference-log: the context filter written by --reference-filter-out (checked "
                      "against the keys' tokenizer, widths and entropy thresholds)")
      ->excludes("--reference-log")
      ->excludes("--reference-top");
  command->add_option("--control", options->scan.control_path, "responses of a model known to be clean, scanned the same way");
  add_tokenizer_option(*command, options->scan.tokenizer_spec,
                       "where to load the keys' tokenizer from (default: the name in the key; refused unless its "
                       "vocabulary digest is the key's)");
  command->add_option("--input", options->input,
                      "ids to score: auto (\"tokens\" when a record has them, else its text), tokens, or text (re-tokenize "
                      "the text, e.g. for a student whose own tokenizer differs)")
      ->capture_default_str()->check(CLI::IsMember({"auto", "tokens", "text"}));
  command->add_option("--alpha", options->alpha, "evidence threshold for the verdict (after correction)")->capture_default_str();
  add_threads_option(*command, options->scan.threads, "worker threads (results do not depend on it)");
  command->add_flag("--json", options->json, "every figure as JSON, with the p-value curve of each key");
  add_max_record_bytes_option(*command, options->scan.max_record_bytes, "longest line of any input file");
  add_step_rule_options(*command, options->steps);
  command->add_option("--emit-partitions", options->emit_partitions,
                      "distributed scan, map step: write the suspect shard's candidate tuples as N hash partitions "
                      "(files PREFIX.K-of-N.tmpart); see bench/dask_scan.py")
      ->check(CLI::Range(1u, 65536u));
  command->add_option("--partition-out", options->partition_out, "with --emit-partitions: the partition files' prefix");
  command->add_option("--reduce-partition", options->reduce_partition,
                      "distributed scan, reduce step: partition K's files of every shard, in shard order; deduplicates "
                      "and colours them")
      ->delimiter(',');
  command->add_option("--partial-out", options->partial_out, "with --reduce-partition: where to write the partial counts");
  command->add_option("--merge", options->merge,
                      "distributed scan, merge step: the partial counts of partitions 0..N-1; prints the scan's report")
      ->delimiter(',');
  command->add_option("--evidence", options->evidence_folder,
                      "write a signed evidence bundle (report, digests, every test of the investigation) into this folder; "
                      "an earlier bundle there is replaced and its investigation log extended");
  command->add_option("--signing-key", options->signing_key, "Ed25519 key that signs the bundle (`tracemark evidence keygen`)");
  command->add_option("--investigation-log", options->investigation_log,
                      "with --evidence: the investigation log to read and extend (default: the bundle's own)");
  command->add_flag("--include-inputs", options->evidence.include_inputs,
                    "with --evidence: copy the inputs into the bundle, so the scan can be re-run from it");
  command->add_flag("--pdf", options->require_pdf, "with --evidence: fail unless report.pdf can be printed (Chromium)");
  command->add_flag("--no-pdf", options->no_pdf, "with --evidence: do not print report.pdf")->excludes("--pdf");
  command->callback([options] { run_scan(*options); });
}

}  // namespace tracemark::cli
