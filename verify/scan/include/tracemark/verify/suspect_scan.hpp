// The whole distillation scan of `tracemark scan`, as a library call: read the suspect's
// responses (and the optional prompts, reference log and control), score them with every key,
// and return every figure a report or an evidence bundle needs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tracemark/embed/key.hpp"
#include "tracemark/verify/distillation_scan.hpp"
#include "tracemark/verify/step_entropy_source.hpp"
#include "tracemark/verify/suspect_records.hpp"

namespace tracemark {

struct SuspectScanOptions {
  std::string prompts_path;        // optional: prompts sent, matched to responses by "id"
  std::string reference_log_path;  // optional: our served responses believed harvested
  std::size_t reference_top = 0;   // with a reference log: keep its N most frequent contexts (0: all)
  // A cohort's reference log (issue 15): with a reference log, only the exchanges whose "account" is
  // in this cohort file (cohort_accounts.hpp; with reference_cohort_cluster, only that cluster's
  // accounts) build the filter. Empty: every exchange. A rule on accounts, never on the key or the
  // tokens (docs/METHOD.md, "A cohort's reference log").
  std::string reference_cohort_path;
  std::string reference_cohort_cluster;
  // With a cohort: keep only the cohort's contexts that occur in no other account's
  // exchange of the log (at any step): contexts only this cohort was served.
  bool only_cohort_contexts = false;
  // With a reference log: also write its filters to this file (reference_filter_file.hpp) and scan
  // with those approximate filters, exactly as a later scan that loads the file does.
  std::string reference_filter_out;
  // Instead of a reference log: the filters of a file written with reference_filter_out (its
  // tokenizer, vocabulary, widths and entropy thresholds must be the keys').
  std::string reference_filter_path;
  std::string control_path;        // optional: responses of a model known to be clean
  std::string tokenizer_spec;      // optional: where to load the keys' tokenizer from
  TokenSource token_source = TokenSource::automatic;
  ScanSettings settings;           // confidence of the effect interval, target p for "tokens needed"
  unsigned threads = 1;            // results do not depend on it
  std::size_t trace_points = 120;  // at most this many points of the p-value curve, per key
  // Per-response scores are kept for the first N responses of each file (memory: 8 bytes per
  // response and key, plus 16 per response); the pooled figures always cover every response.
  std::size_t max_response_scores = 200'000;
  // The longest record (line) of any input file; longer ones are refused (jsonl_reader.hpp).
  std::size_t max_record_bytes = kDefaultMaxRecordBytes;
  // For keys with an entropy threshold: the protected model's per-step entropy, recomputed for the
  // suspect's steps (and for reference-log records that did not record it). Shared, thread-safe.
  std::shared_ptr<const StepEntropySource> entropy_source;
  // Score only free tokens of the syntax rule (embed/token_syntax.hpp); needs keys that name their
  // tokenizer (the rule reads the tokens' bytes).
  bool syntax_aware = false;
};

// The refusal for a key with an entropy threshold and no way to know the entropy: Error
// (invalid_argument) naming the key and what to give. what_to_give lists the options of the caller.
[[noreturn]] void refuse_entropy_threshold_without_source(const WatermarkKey& key, const std::string& what_to_give);

// The pooled test after the first `tokens` suspect tokens (a point of the p-value curve).
struct ScanTracePoint {
  std::uint64_t responses = 0;
  std::uint64_t tokens = 0;
  std::uint64_t scored = 0;
  std::uint64_t green = 0;
  double log10_p = 0;  // unadjusted
};

// Where a response came from: its line, and the choice within a record holding several.
struct ResponseRef {
  std::uint64_t line = 0;
  std::uint32_t choice = 0;
  std::string id;
};

struct FileScanResult {
  std::string path;
  std::uint64_t records = 0;
  // Records whose ids named another tokenizer than the keys' and whose text was read instead
  // (automatic mode; SuspectRecordDecoder), and the first such tokenizer.
  std::uint64_t foreign_id_records = 0;
  std::optional<TokenizerBinding> foreign_tokenizer;
  std::vector<KeyScanResult> keys;                  // one per key, Holm-corrected across keys
  std::vector<std::vector<ScanTracePoint>> traces;  // per key, by increasing tokens
  std::vector<ResponseRef> responses;               // the first max_response_scores responses
  std::vector<std::vector<ResponseTally>> tallies;  // per key, parallel to responses
};

struct ReferenceLogSummary {
  std::uint64_t responses = 0;
  std::uint32_t context_width = 0;
  double entropy_threshold = 0;  // contexts of steps at or above it only (0: every step)
  std::uint64_t contexts = 0;  // kept after --reference-top
  // From an approximate filter (a filter file, written or read): contexts not in the log pass it
  // with probability false_positive_rate.
  bool approximate = false;
  double false_positive_rate = 0;
  // A cohort's reference log: the cohort's accounts, and (with only_cohort_contexts) how many of its
  // contexts were dropped because another account's exchanges have them too.
  std::uint64_t cohort_accounts = 0;
  std::uint64_t shared_contexts_dropped = 0;
};

struct SuspectScanReport {
  FileScanResult suspect;
  std::optional<FileScanResult> control;
  std::vector<double> gammas;  // per key: the exact null probability of green
  std::uint64_t prompts = 0;   // prompts read from the prompts file
  std::vector<ReferenceLogSummary> reference;  // one per distinct context width, when a log is given
  std::optional<TokenizerBinding> tokenizer;   // the keys' tokenizer, when they name one
};

// Runs the scan. Throws Error(invalid_argument) for bad options, Error(invalid_input) naming the
// file, line and byte offset for a bad record, and Error(invalid_input) for a reference log with
// no usable records (never a silent unfiltered run).
SuspectScanReport run_suspect_scan(std::span<const WatermarkKey> keys, const std::string& suspect_path,
                                   const SuspectScanOptions& options);

// One response with what the scan did with each of its tokens, for one key.
struct ColouredResponse {
  std::uint64_t index = 0;  // position among the file's responses, from 0
  ResponseRef ref;
  std::vector<std::uint32_t> tokens;
  std::vector<TokenStatus> statuses;  // parallel to tokens
  // The bytes of each token, when the keys name a tokenizer (empty otherwise). A token may hold part
  // of a UTF-8 sequence: callers that print them must repair or escape.
  std::vector<std::string> pieces;
};

// Replays the scan of `path` (the suspect or the control, with the options and keys the scan used)
// for key `key_index`, in input order on one thread, and returns the responses whose index is in
// `indices` (sorted ascending) with the status of each token: the statuses add up to the scan's
// per-response tallies exactly (first occurrence in input order counts). Reads the file only up to
// the last index wanted. Throws like run_suspect_scan().
std::vector<ColouredResponse> colour_scanned_responses(std::span<const WatermarkKey> keys, const std::string& path,
                                                       const SuspectScanOptions& options, std::size_t key_index,
                                                       std::span<const std::uint64_t> indices);

// A scan set up once: the keys' tokenizer, the record decoder, the keys' schemes with their
// reference-context filters (reading the whole reference log) and the prompts. run() scans files
// with it; colour() replays one. Callers that scan and then replay (evidence bundles) build one and
// keep it, so the log and the prompts are read once. The keys are copied from as needed, not kept.
// Construction throws like run_suspect_scan(); run() and colour() throw like it for bad records.
class SuspectScanner {
 public:
  SuspectScanner(std::span<const WatermarkKey> keys, const SuspectScanOptions& options);
  ~SuspectScanner();
  SuspectScanner(const SuspectScanner&) = delete;
  SuspectScanner& operator=(const SuspectScanner&) = delete;

  // The scan of `suspect_path` and of the options' control file: run_suspect_scan()'s result.
  SuspectScanReport run(const std::string& suspect_path) const;
  // colour_scanned_responses() with this set-up.
  std::vector<ColouredResponse> colour(const std::string& path, std::size_t key_index,
                                       std::span<const std::uint64_t> indices) const;
  // The map step of a distributed scan (scan_partition.hpp): reads the shard `shard_path` by the
  // scan's rules and writes its N partition files `prefix`.K-of-N.tmpart (K = 0 .. N-1); returns
  // their paths in partition order. Throws like run(); the options' control file is not read.
  std::vector<std::string> emit_partitions(const std::string& shard_path, std::uint32_t partitions,
                                           const std::string& prefix) const;

 private:
  struct Setup;
  std::unique_ptr<Setup> setup_;
};

}  // namespace tracemark
