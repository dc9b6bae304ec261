// Reading mode: ask a suspect for its next token after prefixes of the harvest (our answers it may
// have trained on) instead of letting it write text of its own, and score only that token. A
// neural student reproduces what it learned where it learned it: in generation mode it leaves the
// harvest's contexts within a few tokens; here every scored token follows a harvest context.
//
// The prompts are now our watermarked text, so the null needs a rule, and the rule must never look
// at the key. Order the harvest's positions as (record in file order, position in prompt + answer).
// A query is the prefix ending just before an answer position whose window (the h tokens before it)
// is followed by a token there for the first time in that order. Then:
//   - no token of any earlier query's prefix, nor of this prefix, was chosen under this window's
//     green list (a window's green list shows only in the token after it);
//   - so given every earlier query, its answer and its colours, this window's green list is still
//     fresh (the PRF makes distinct windows' lists independent), and an innocent suspect's answer
//     to this prefix is green with probability exactly gamma: each window is scored once, and the
//     colours form a martingale in harvest order (colour_score_test.hpp's mixture p-value is valid
//     for exactly this; the greedy count's binomial tail treats them as independent draws).
//   - The harvest must be chosen without looking at its answers' text (campaigns flags accounts by
//     their requests), and every token of a prompt counts as possibly ours (a chat may quote an
//     earlier answer), so a window first seen inside a prompt is never scored.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tracemark/embed/key.hpp"
#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/colour_score_test.hpp"

namespace tracemark {

// One harvest record: "prompt_tokens" (absent: empty) followed by "tokens" (the answer).
struct HarvestSequence {
  std::vector<std::uint32_t> tokens;  // prompt then answer
  std::size_t prompt_length = 0;
};

// Reads a harvest file (JSON lines with "tokens" and optionally "prompt_tokens": generate's output,
// a campaigns reference log). Error(invalid_input) naming file, line and byte offset for a record
// without token ids.
std::vector<HarvestSequence> read_harvest_sequences(const std::filesystem::path& path);

struct ReadingQuery {
  std::uint64_t record = 0;    // index of the harvest record (0-based, file order)
  std::uint64_t position = 0;  // answer tokens before the scored token
  std::string id() const;      // "r<record>-<position>"
};

// Every query the rule allows, in harvest order, for context width `width` (1..16):
// Error(invalid_argument) otherwise.
std::vector<ReadingQuery> reading_queries(const std::vector<HarvestSequence>& harvest, std::size_t width);

// Parses "r<record>-<position>"; nothing for any other text.
std::optional<ReadingQuery> parse_reading_query_id(const std::string& id);

struct ReadingScanReport {
  std::uint64_t answers = 0;        // answer records read
  std::uint64_t not_first = 0;      // answers to prefixes the rule does not allow (not scored)
  std::uint64_t scored = 0;         // windows scored (one per allowed query answered)
  BinomialTest greedy;              // the answered tokens: green count against Binomial(scored, gamma)
  // When every scored answer carries "top_logprobs" (colour_score_test.hpp), two weightings of them:
  std::optional<ColourScoreTest> mass;  // a = p: the green share of the listed probability mass
  std::optional<ColourScoreTest> tilt;  // a = log p minus the window's mean over its listed tokens,
                                        // clipped to +-kMaxTilt nats: a learned logit bias on green tokens
  std::optional<ColourScoreTest> excess;  // with reference answers: a = p - p_reference, what the suspect
                                          // puts on a token beyond what a clean model does
  std::uint64_t top_logprobs_min = 0;  // fewest listed tokens in a scored answer
  // How many tests ran: the greedy count, and each weighted score present.
  int test_count() const;
  // The verdict's p-value: the smallest of the tests' p-values times test_count() (Bonferroni).
  double combined_log10_p() const;
};

// The clip on the tilt's weights (a function of the suspect's answer alone, so the null holds).
inline constexpr double kMaxTilt = 8.0;

// Scores a suspect's answers ("id" from the queries, "prompt_tokens" the query's prefix, and the
// answer as the suspect scan reads it: "tokens" when they are the key tokenizer's ids, else its text
// or a probe's "choices", tokenized with the key's tokenizer; the first id is scored; optionally the
// listed tokens of the first step: "top_logprobs" per generated token [{"id", "logprob"}], or an
// OpenAI chat or completion's logprobs, whose tokens are mapped to the key tokenizer's ids
// (first_step_logprobs.hpp)) under a green-list key, rebuilding the
// rule's queries from the harvest. Error(invalid_input) naming file, line and byte offset for an
// answer whose id is not a query of this harvest, whose prompt differs from that query's prefix,
// that answers a query twice, or whose ids or log-probabilities are malformed; Error(invalid_argument)
// for a key of another scheme or of context width 0.
// reference_answers (optional): a clean reference model's answers to the same queries with
// "top_logprobs" (never trained on our watermarked text; the provider's own model before any
// watermark, or a public one), checked the same way, for the excess test.
ReadingScanReport scan_reading_answers(const WatermarkKey& key, const std::vector<HarvestSequence>& harvest,
                                       const std::filesystem::path& answers,
                                       const std::filesystem::path& reference_answers = {});

}  // namespace tracemark
