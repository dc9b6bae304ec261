// The distillation scan: was a suspect model trained on text watermarked with our key?
//
// The suspect's responses are pooled into one stream and every distinct (context, token) tuple is
// scored once (Sander et al., "Watermarking Makes Language Models Radioactive", NeurIPS 2024).
// Two optional filters raise power without touching validity, because each decides from the
// suspect's text and our own logs, never from the colour of the suspect's tuple:
//   - prompt windows: a tuple that occurs in the prompt of its response is not scored (prompts may
//     themselves be watermarked text, and a suspect that copies them would look radioactive);
//   - reference contexts: with our served responses believed harvested (an audit log), only tuples
//     whose CONTEXT occurs in that log are scored, optionally only its N most frequent contexts.
//     Selecting on contexts is valid: the green list of a context depends only on the key and that
//     context, while whether a context occurs in our log depends on the green lists of the contexts
//     before it. Selecting on our logged (context, token) tuples would not be valid.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tracemark/embed/green_list_scheme.hpp"
#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/context_xor_filter.hpp"
#include "tracemark/embed/gumbel_max_scheme.hpp"
#include "tracemark/embed/scheme_catalog.hpp"
#include "tracemark/embed/tournament_scheme.hpp"
#include "tracemark/verify/gamma_tail.hpp"
#include "tracemark/verify/green_list_detector.hpp"
#include "tracemark/verify/interval.hpp"
#include "tracemark/verify/tuple_set.hpp"

namespace tracemark {

// Where the suspect's tokens went. tokens = skipped_prefix + skipped_repeated_tuple +
// skipped_prompt_window + skipped_filter + skipped_low_entropy + skipped_syntax + scored.
struct ScanCounts {
  std::uint64_t responses = 0;
  std::uint64_t tokens = 0;
  std::uint64_t skipped_prefix = 0;         // first h tokens of a response
  std::uint64_t skipped_repeated_tuple = 0;  // tuple already scored (anywhere in the scan)
  std::uint64_t skipped_prompt_window = 0;   // tuple occurs in the response's prompt
  std::uint64_t skipped_filter = 0;          // context not among the reference log's contexts
  std::uint64_t skipped_low_entropy = 0;     // the protected model's entropy there is below the key's threshold
  std::uint64_t skipped_syntax = 0;          // a syntax token (token_syntax.hpp)
  std::uint64_t scored = 0;
  // Green list: green tuples. Gumbel-max: tuples with r > 1/2; tournament: tuples with more than
  // half of their g-values 1 (both shown as "green" when highlighting; their tests use score and
  // g_ones, not this count).
  std::uint64_t green = 0;
  double score = 0;         // Gumbel-max only: sum of -ln(1 - r) over the scored tuples
  std::uint64_t g_ones = 0; // tournament only: g-values equal to 1 over the scored tuples (m each)
};

// Contexts of width h seen in our own served responses, with how often each occurs; or, loaded from
// a filter file (reference_filter_file.hpp), an approximate set of them (false positives only).
// Not thread-safe while being built; immutable (and shareable) once finished.
class ReferenceContexts {
 public:
  explicit ReferenceContexts(std::uint32_t context_width) : width_(context_width) {}
  // The contexts of a filter file: contains() answers from the filter; nothing can be added.
  ReferenceContexts(std::uint32_t context_width, std::shared_ptr<const ContextXorFilter> filter, std::uint64_t contexts,
                    std::uint64_t responses);
  void add_response(std::span<const std::uint32_t> tokens);
  // Only the contexts of steps whose recorded entropy (one value per token) is >= threshold: the
  // contexts where serving could bias. Throws Error(invalid_input) when the sizes differ.
  void add_response(std::span<const std::uint32_t> tokens, std::span<const float> entropy, double threshold);
  // Keeps only the n most frequent contexts (ties broken by fingerprint, so the choice is
  // deterministic). n = 0 keeps all.
  void keep_most_frequent(std::size_t n);
  bool contains(std::span<const std::uint32_t> context) const;
  // Drops every context that `others` holds (both exact); returns how many were dropped. A rule on
  // contexts alone, as every filter here.
  std::uint64_t remove_contexts_of(const ReferenceContexts& others);
  std::size_t size() const noexcept { return filter_ ? filter_contexts_ : counts_.size(); }
  std::uint64_t responses() const noexcept { return responses_; }
  std::uint32_t context_width() const noexcept { return width_; }
  // The contexts' fingerprints (context_fingerprint), ascending; empty for a filter.
  std::vector<std::uint64_t> fingerprints() const;
  // The approximate filter when loaded from a file, else null.
  const std::shared_ptr<const ContextXorFilter>& approximate_filter() const noexcept { return filter_; }

 private:
  std::uint32_t width_;
  std::uint64_t responses_ = 0;
  std::unordered_map<std::uint64_t, std::uint64_t> counts_;  // context fingerprint -> occurrences
  std::shared_ptr<const ContextXorFilter> filter_;
  std::uint64_t filter_contexts_ = 0;
};

// Fingerprint of a context alone (unkeyed), as used by ReferenceContexts.
std::uint64_t context_fingerprint(std::span<const std::uint32_t> context) noexcept;

struct ScanSettings {
  double confidence = 0.95;   // for the effect-size interval
  double target_p = 1e-6;     // for "tokens needed to reach p < target"
};

// The result for one key, with every figure a report needs.
struct KeyScanResult {
  std::string key_id;
  ScanCounts counts;
  // Green list: the raw (unadjusted) one-sided exact binomial test. Gumbel-max: scored, log_p,
  // log10_p and p_value of the Gamma(scored, 1) tail test (gamma_test), z and gamma 0. Tournament:
  // the exact binomial test of g_ones among scored * m fair coins (tournament_test; its scored and
  // green count g-values).
  BinomialTest test;
  SchemeKind scheme = SchemeKind::green_list;  // which statistic (green_rate and effect: see below)
  std::uint32_t tournament_layers = 0;         // tournament: m
  double holm_log10_p = 0;      // after Holm's correction over every key scanned
  double green_rate = 0;        // green / scored (0 when nothing scored); gumbel-max: mean score; tournament: mean g
  double effect = 0;            // green_rate - gamma; gumbel-max: mean score - 1; tournament: mean g - 1/2
  RateInterval effect_interval; // Clopper-Pearson interval of the rate, minus gamma (green list only)
  // Further suspect tokens that would be needed to reach p < target_p at the observed rate, if the
  // rate stayed as observed and tokens kept being scored at the observed ratio. nullopt when the
  // observed rate is not above gamma.
  std::optional<std::uint64_t> further_tokens_needed;
};

// A response's candidate tuples for every deduplication group of a scan (the keys that share a
// context width, an entropy threshold and a reference filter: every rule but the colour is the same
// for them, so they deduplicate exactly the same tuples), computed without touching the scan's
// shared state, so that many responses can be prepared in parallel and merged in input order
// (results then do not depend on the thread count). The colour is not computed here: the merge
// colours only the tuples that are new to the scan, once per key.
struct PreparedResponse {
  struct GroupPart {
    std::uint64_t skipped_prefix = 0;
    std::uint64_t skipped_prompt_window = 0;
    std::uint64_t skipped_filter = 0;
    std::uint64_t skipped_low_entropy = 0;
    std::uint64_t skipped_syntax = 0;
    std::vector<std::uint64_t> fingerprints;  // candidate tuples, in response order
    std::vector<std::uint32_t> positions;     // the position in `tokens` of each candidate's token
  };
  std::vector<std::uint32_t> tokens;  // the response (the merge reads the contexts of new tuples)
  std::vector<GroupPart> parts;       // one per group, in the scan's group order
};

// Adds what one prepared response contributes to group `group`'s counts before deduplication (one
// response, its tokens and the tuples skipped by the step rules); the single-process scan and the
// distributed one count through this, so their figures cannot drift apart.
void add_undeduplicated_counts(ScanCounts& counts, const PreparedResponse& prepared, std::size_t group);

// The figures of each key from its counts: the exact binomial test, the effect and its interval,
// the tokens still needed, and Holm's correction over all of them. gammas[k] is key k's exact null
// probability of green; the spans are parallel. statistics[k] names key k's scheme where it is not
// the green list: a gumbel-max key is tested by its score sum's Gamma tail, a tournament key by the
// binomial tail of its g-values (its gamma is unused); empty: every key is a green-list key.
struct KeyStatistic {
  SchemeKind scheme = SchemeKind::green_list;
  std::uint32_t tournament_layers = 0;  // tournament: m
};
// The unadjusted log10 p of a key's pooled test on `counts`: the green list's binomial (gamma), the
// Gumbel-max Gamma(scored, 1) tail of the score, or the tournament's Binomial(scored m, 1/2).
double pooled_log10_p(const KeyStatistic& statistic, const ScanCounts& counts, double gamma);
std::vector<KeyScanResult> key_scan_results(std::span<const std::string> key_ids, std::span<const double> gammas,
                                            std::span<const ScanCounts> counts, const ScanSettings& settings,
                                            std::span<const KeyStatistic> statistics = {});

// What the scan did with one token of a response, for one key (for highlighting scored tokens).
enum class TokenStatus : std::uint8_t {
  prefix,         // one of the first h tokens: no full context
  prompt_window,  // the tuple occurs in the response's prompt
  filtered,       // the context is not among the reference log's contexts
  low_entropy,    // the protected model's entropy at the step is below the key's threshold
  syntax,         // a syntax token (token_syntax.hpp)
  repeated,       // the tuple was scored earlier in the scan (first occurrence counts)
  green,          // scored, green
  red,            // scored, not green
};
const char* token_status_name(TokenStatus status) noexcept;

// The tuples of one response that were new to the scan (scored there), for one key.
struct ResponseTally {
  std::uint32_t scored = 0;
  std::uint32_t green = 0;
  double score = 0;  // gumbel-max only
  std::uint64_t g_ones = 0;  // tournament only
  std::uint64_t tokens = 0;  // the response's length (tokens read), whatever was scored
};

// One scan over one suspect, for one or more keys. prepare() is const and thread-safe; merge(),
// merge_batch() and add_response() are not (merge_batch uses worker threads of its own). Keys and
// filters are shared and immutable.
//
// Many keys at the price of one: keys with the same context width, entropy threshold and reference
// filter form one group with one deduplication set; each key then only colours the group's tuples
// that are new to the scan (GreenListScheme::green_flags). Memory grows with the distinct tuples
// (16 bytes each, per group), not with the keys, and every figure is the one a scan of each key on
// its own gives (the deduplication decides from the tuples alone, never from a colour).
//
// The deduplication set is split into shards by the fingerprint's low bits, so that a batch can be
// merged by several threads at once (the batch's tuples are first split into one list per shard, in
// input order; each shard's list then goes into its table on one thread).
// Every figure is then the same for any thread count: a tuple is scored by its first occurrence in
// input order, and whether it is green depends only on the tuple.
class DistillationScan {
 public:
  struct KeyEntry {
    std::string key_id;
    std::shared_ptr<const GreenListScheme> scheme;    // a green-list key, or null for another scheme's key
    std::shared_ptr<const ReferenceContexts> filter;  // may be null: no filter
    // Steps whose given entropy (ResponseSteps) is below this are not scored; 0: no entropy rule.
    double entropy_threshold = 0;
    std::shared_ptr<const GumbelMaxScheme> gumbel = nullptr;  // a gumbel-max key (then the others are null)
    std::shared_ptr<const TournamentScheme> tournament = nullptr;  // a tournament key (then the others are null)

    // Exactly one of the three schemes is set (the scan's constructor checks).
    SchemeKind kind() const noexcept {
      return scheme ? SchemeKind::green_list : gumbel ? SchemeKind::gumbel_max : SchemeKind::tournament;
    }
    std::uint32_t context_width() const noexcept {
      return scheme ? scheme->context_width() : gumbel ? gumbel->context_width() : tournament->context_width();
    }
    std::uint32_t vocab_size() const noexcept {
      return scheme ? scheme->vocab_size() : gumbel ? gumbel->vocab_size() : tournament->vocab_size();
    }
  };

  // What the scan knows of a response's steps without the key: the protected model's entropy at
  // each step (empty: unknown) and which tokens are free under the syntax rule (empty: no rule).
  struct ResponseSteps {
    std::span<const float> entropy;
    std::span<const std::uint8_t> free;  // 1 = free; empty = every token free
  };

  explicit DistillationScan(std::vector<KeyEntry> keys);

  // Adds one response (and the prompt that produced it, possibly empty). Throws
  // Error(invalid_input) for a token id outside a key's vocabulary (message gives the position).
  void add_response(std::span<const std::uint32_t> response, std::span<const std::uint32_t> prompt,
                    const ResponseSteps& steps = {}) {
    merge(prepare(response, prompt, steps));
  }
  // Same contract as add_response, split in two: prepare() in any thread, merge() in input order.
  PreparedResponse prepare(std::span<const std::uint32_t> response, std::span<const std::uint32_t> prompt,
                           const ResponseSteps& steps = {}) const;
  void merge(const PreparedResponse& prepared) { merge_batch({&prepared, 1}, 1, nullptr); }
  // Merges responses in the order given, on up to `threads` threads. When `tallies` is not null it
  // receives, for each key, one ResponseTally per response of the batch (resized to fit).
  void merge_batch(std::span<const PreparedResponse> batch, unsigned threads,
                   std::vector<std::vector<ResponseTally>>* tallies);

  std::size_t key_count() const noexcept { return states_.size(); }
  // Deduplication groups (at most key_count()); keys that share every rule but the colour share one.
  std::size_t group_count() const noexcept { return groups_.size(); }
  // Counts so far for key k (in the constructor's order).
  const ScanCounts& counts(std::size_t k) const { return states_.at(k).counts; }
  // Bytes held by the deduplication sets (for memory figures).
  std::size_t dedup_memory_bytes() const noexcept;
  // Group g's rules (width and entropy threshold) and its keys (indices in the constructor's order),
  // for a distributed scan that deduplicates a group's tuples elsewhere (scan_partition.hpp).
  std::uint32_t group_context_width(std::size_t g) const { return groups_.at(g).context_width; }
  double group_entropy_threshold(std::size_t g) const { return groups_.at(g).entropy_threshold; }
  const std::vector<std::size_t>& group_keys(std::size_t g) const { return groups_.at(g).keys; }
  const KeyEntry& key_entry(std::size_t k) const { return states_.at(k).entry; }

  std::vector<KeyScanResult> results(const ScanSettings& settings) const;

  // The status of every token of `response` for key k, by the same rules as prepare() and merge():
  // `scored` holds the fingerprints scored earlier in the scan (in input order) and receives this
  // response's newly scored tuples, so calling this for every response in input order with one set
  // reproduces the scan's per-response tallies exactly. Throws like prepare().
  std::vector<TokenStatus> token_statuses(std::size_t k, std::span<const std::uint32_t> response,
                                          std::span<const std::uint32_t> prompt, TupleSet& scored,
                                          const ResponseSteps& steps = {}) const;

 private:
  // Walks one response by group g's rules: calls visit(position, status, fingerprint) for every token,
  // where status is prefix, prompt_window, filtered, low_entropy, syntax, or green for a tuple that is
  // a candidate for scoring (its colour is the caller's, as is deduplication). The one place the
  // per-token rules live.
  template <typename Visit>
  void walk_response(std::size_t g, std::span<const std::uint32_t> response, std::span<const std::uint32_t> prompt,
                     const ResponseSteps& steps, Visit&& visit) const;
  // Throws Error(invalid_input) for the first id outside key k's vocabulary.
  void check_vocabulary(std::size_t k, std::span<const std::uint32_t> response) const;

  // 16 shards: up to 16 merge threads at once, and shards large enough (7 MB each for 10M distinct
  // tuples) to be backed by huge pages (zeroed_slots.hpp); which shard holds a tuple never changes
  // a result.
  static constexpr std::size_t kShards = 16;
  // One of a batch's candidate tuples for one group, in input order (merge_batch).
  struct Candidate {
    std::uint64_t fingerprint;
    std::uint32_t response;  // index in the batch
    std::uint32_t position;  // of the tuple's token in the response
  };
  struct Group {
    std::uint32_t context_width = 0;
    double entropy_threshold = 0;
    const ReferenceContexts* filter = nullptr;  // owned by the keys' entries
    std::vector<std::size_t> keys;              // indices into states_, ascending
    std::vector<TupleSet> shards;  // kShards sets; a fingerprint lives in shard (fingerprint % kShards)
  };
  struct KeyState {
    KeyEntry entry;
    std::size_t group = 0;
    ScanCounts counts;
  };
  std::vector<Group> groups_;
  std::vector<KeyState> states_;
  std::uint32_t smallest_vocab_ = 0;  // ids below it are in every key's vocabulary
  std::array<std::vector<Candidate>, kShards> candidate_scratch_;  // merge_batch's per-shard lists, kept between batches
};

}  // namespace tracemark
