// `tracemark simulate traffic`: a realistic period of serving traffic with planted distillation
// campaigns, written as serve's audit log (docs/AUDIT_LOG.md) with a separate ground truth.
//
// Benign population: accounts with heavy-tailed activity (log-normal per account), daily rhythms
// in their own time zones, sessions of several requests, prompts drawn from the corpora; and the
// hard cases a careless detector flags: companies whose employees share a few egress addresses
// (and a corporate gateway's user agent, and are on-boarded together), batch API customers sending
// thousands of templated prompts at a fixed pace from one account, popular prompts that strangers
// send, coding-assistant plugin users (one fixed wrapper around their code), agent developers with
// their own tool schemas, households and mobile carriers' address pools.
// Campaigns: each operator targets one capability, generates prompts from its own templates (slot
// filling and paraphrase), creates accounts in bursts, paces each account under the rate limit in
// operator-wide shifts, and rotates through a proxy pool of which a share is benign households' own
// addresses; one operator moves about half of its traffic to the new model version within 24 hours
// of its release. Defaults model the three reported operators, scaled by `scale`.
//
// Deterministic: the output depends only on the options (seed included). Streams: memory is
// bounded by the number of accounts, not of exchanges.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tracemark/campaigns/capability.hpp"

namespace tracemark::campaigns {

struct SimulatedOperator {
  std::string name;                   // the ground truth's label, for example "op1-reasoning"
  Capability target = Capability::reasoning;
  double exchanges = 0;               // at scale 1
  double accounts = 0;                // at scale 1
  bool pivots_to_new_model = false;   // moves about half its traffic within 24 h of the release
};

// The three operators of the reported case (about 24,000 accounts, 16 million exchanges: roughly
// 150 thousand, 3.4 million and 13 million; reasoning, tool use and data analysis, agentic coding).
std::vector<SimulatedOperator> reported_operators();

struct TrafficSimulationOptions {
  std::uint64_t seed = 1;
  std::uint64_t exchanges = 100'000;   // in all, benign and campaign (exact)
  double days = 1.0;                   // length of the period; 1/24 to 366
  // Campaign size as a multiple of the reported operators; nullopt: whatever makes the campaigns
  // campaign_share of `exchanges`. 0: benign traffic only.
  std::optional<double> scale;
  double campaign_share = 0.2;
  std::vector<SimulatedOperator> operators = reported_operators();
  // Harder settings for benchmarks (defaults in brackets):
  std::size_t templates_per_operator = 24;  // [24] templates each operator draws from
  double proxy_overlap = 0.3;       // [0.3] share of a proxy pool that is benign households' own addresses
  double proxy_pool_factor = 1.0;   // [1] pool addresses per campaign account, times 1.5
  double pacing_jitter = 0.3;       // [0.3] coefficient of variation of a campaign account's gaps (1: like Poisson)
  bool operator_shifts = true;      // [true] accounts of one operator pause and resume together
  double paraphrase_rate = 0.3;     // [0.3] probability each paraphrasable phrase of a template is reworded
  double burst_minutes = 15;        // [15] accounts of one creation burst are created within this many minutes
  // Benign population (shares of benign exchanges).
  double popular_prompt_share = 0.04;
  std::int64_t start_ms = 1'772'409'600'000;  // 2026-03-02T00:00:00Z
  double release_at = 0.5;                    // the new model version's release, as a fraction of the period
  std::string old_model = "tm-large-2026-01";
  std::string new_model = "tm-large-2026-03";
  std::vector<std::filesystem::path> corpus_files;  // {"text"} JSON lines; empty: the corpora cache's train splits
};

// A response for --responses model (the CLI builds it with serve's own completion code).
struct SimulatedResponse {
  std::vector<std::uint32_t> prompt_tokens;
  std::string text;
  std::vector<std::uint32_t> tokens;
  std::string key_id;     // the watermark key's public id
  std::string key_label;  // its keyring label; empty for a single key
};
// Called with the request body serve would have received (OpenAI JSON: model, messages or prompt,
// max_tokens, seed), the account that sent it and the time it arrived (ms since 1970), once per
// exchange, in output order.
using SimulatedResponder = std::function<SimulatedResponse(const nlohmann::ordered_json& request_body,
                                                           std::string_view account, std::int64_t time_ms)>;

struct TruthRow {
  std::string account;
  std::string label;   // "benign" or the operator's name
  std::string kind;    // individual, company-employee, coding-assistant, agent-developer, batch-customer, campaign
  std::string detail;  // company id, shared-household or proxy-pool notes, the campaign's target
};

struct TrafficSimulationSummary {
  double scale = 0;
  std::uint64_t exchanges = 0;
  std::uint64_t benign_accounts = 0;
  std::uint64_t benign_exchanges = 0;
  struct Operator {
    std::string name;
    std::uint64_t accounts = 0;
    std::uint64_t exchanges = 0;
  };
  std::vector<Operator> operators;
  std::vector<TruthRow> truth;  // every account, sorted by account
};

// Writes every audit line (without the newline) through `write_line`, in time order. With a
// responder, lines carry the response (key_id, key_label when there is one, prompt_tokens, text,
// tokens, finish_reason, as serve writes them); without, only metadata and prompts. Throws Error(invalid_argument)
// for options out of range (naming the option), Error(io) when the corpora are missing.
TrafficSimulationSummary simulate_traffic(const TrafficSimulationOptions& options,
                                          const std::function<void(std::string_view)>& write_line,
                                          const SimulatedResponder* responder = nullptr);

// The corpora cache's train splits (${TRACEMARK_CACHE:-$HOME/.cache/tracemark}/corpora/*/train.jsonl).
// Throws Error(io) naming ./tools/setup.sh when there are none.
std::vector<std::filesystem::path> default_corpus_files();

}  // namespace tracemark::campaigns
