// `tracemark campaigns`: the account clusters that harvest us, found in our own audit logs.
//
// 1. Stream the logs (plain or gzip) into per-account behaviour: times, addresses, user agents,
//    models, capability of each prompt, and the account's *frame*: the prompt shingles it repeats
//    across its own prompts (a template's fixed text; never a single prompt, so a popular prompt a
//    stranger sent once, or one batch customer's template, is in no other account's frame).
// 2. Link accounts by what coordination leaves, each kind weighted by how rare it is among all
//    accounts: addresses shared in the same UTC day (rarity overall and in that day), frame shingles
//    (MinHash/LSH over frames proposes pairs), user agents, first appearance within minutes of each
//    other (creation bursts), and the same pacing signature.
// 3. Communities of the weighted account graph: Leiden (igraph), modularity, seeded.
// 4. Score every member against the rest of its community, per family of signals (infrastructure:
//    addresses and user agent; content: frame shingles; timing: creation burst and pacing). A shared
//    feature counts -ln min(1, (m - 1) p), capped, where p is the share of all accounts that have it
//    and m the community's size: the chance that one of m - 1 unrelated accounts would have it too.
//    Features that more than `common_share` of all accounts have never count (a popular template,
//    a mobile carrier's pool, a big company's gateway). An account is flagged only when two
//    families pass their thresholds: never on one signal alone.
// 5. A community is flagged when the number of its two-family accounts is improbable for benign
//    accounts: the binomial tail P(X >= k), X ~ Binomial(m, r), r the benign rate (calibrated on
//    benign-only simulated traffic; docs/BENCHMARKS.md), p <= 10^cluster_log10_p.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tracemark/campaigns/capability.hpp"

namespace tracemark::campaigns {

// Defaults, and where each comes from, are in docs/DESIGN.md ("Campaign discovery").
struct DetectorOptions {
  bool skip_bad_lines = false;
  std::int64_t address_window_seconds = 86'400;   // addresses link when shared within the same window
  std::int64_t creation_window_seconds = 600;     // first appearances within this of each other
  double common_share = 0.01;          // a feature held by more than this share of accounts never links
  double feature_cap = 6.907755;       // ln 1000: at most this many nats from one shared feature
  double edge_min_weight = 4.605170;   // ln 100: weaker pairs are left out of the graph
  std::size_t all_pairs_up_to = 24;    // accounts sharing a feature: every pair up to this many, else a seeded ring
  unsigned ring_neighbours = 3;
  // Family thresholds, in units of feature_cap (calibrated on benign-only traffic: docs/BENCHMARKS.md).
  double infrastructure_threshold = 7.5;
  double content_threshold = 2.5;
  double timing_threshold = 1.5;
  double benign_account_rate = 2e-4;   // r: benign accounts tied by two families (calibration day: 1 of 45,298; 95% bound 1.05e-4)
  double cluster_log10_p = -6;         // flag a community when the binomial tail is at most 10^this
  std::uint64_t seed = 1;              // Leiden's random order
  std::size_t report_unflagged = 0;    // also describe this many unflagged communities (largest first), for analysis
  bool keep_member_evidence = false;   // keep every community member's evidence (for calibration)
  unsigned threads = 1;
};

enum class SignalFamily : unsigned char { infrastructure = 0, content = 1, timing = 2 };
inline constexpr std::size_t kSignalFamilies = 3;
const char* signal_family_name(SignalFamily family) noexcept;

// Why one account is in its cluster: evidence per family (nats) and the features behind it.
struct AccountTies {
  std::string account;
  std::uint64_t exchanges = 0;
  double evidence[kSignalFamilies] = {0, 0, 0};
  bool passed[kSignalFamilies] = {false, false, false};
  std::uint32_t shared_addresses = 0;   // distinct addresses shared with other members in a window
  bool shared_user_agent = false;
  std::uint32_t shared_frame_shingles = 0;
  bool creation_burst = false;          // first seen within the creation window of another member
  bool shared_pacing = false;
  bool flagged = false;                 // two families passed and the cluster is flagged
};

struct SharedFeature {
  std::string value;           // an address, a user agent, a template fingerprint (hex)
  std::uint32_t members = 0;   // cluster members that have it
  std::uint32_t population = 0;  // accounts that have it in the whole log
};

struct ClusterLink {
  std::string a, b;
  double weight = 0;
  double infrastructure = 0, content = 0, timing = 0;
};

struct ClusterReport {
  std::string id;                      // "cluster-1", ... by descending score
  std::vector<AccountTies> members;    // flagged first, then by account
  std::uint64_t exchanges = 0;         // of the flagged accounts
  std::uint32_t flagged_accounts = 0;
  double log10_p = 0;                  // binomial tail of the flagged count (the cluster's score is -log10_p)
  bool flagged = false;
  std::vector<SharedFeature> addresses, user_agents, templates;
  std::vector<std::pair<std::int64_t, std::uint32_t>> creation_bursts;  // (start ms, accounts first seen then)
  double capability_share[kCapabilities] = {0, 0, 0, 0};
  std::map<std::string, double> model_share;  // over the flagged accounts' exchanges
  // Hourly activity of the flagged accounts: hour start (ms) and exchanges per model.
  std::vector<std::pair<std::int64_t, std::map<std::string, std::uint64_t>>> timeline;
  std::vector<ClusterLink> strongest_links;
};

// One member of any community of two or more (kept with DetectorOptions::keep_member_evidence).
struct MemberEvidenceRow {
  std::string account;
  std::uint32_t community = 0;
  std::uint32_t community_size = 0;
  double evidence[kSignalFamilies] = {0, 0, 0};
  bool passed[kSignalFamilies] = {false, false, false};
};

struct CampaignReport {
  std::vector<std::string> inputs;
  std::uint64_t lines = 0, skipped_lines = 0;
  std::string first_skip_reason;
  std::uint64_t exchanges = 0, accounts = 0;
  std::uint64_t graph_edges = 0, communities = 0;
  std::int64_t first_ms = 0, last_ms = 0;
  std::vector<ClusterReport> clusters;  // the flagged ones
  std::vector<ClusterReport> unflagged;  // options.report_unflagged of the others, largest first
  std::vector<std::string> flagged_accounts;  // sorted
  std::vector<MemberEvidenceRow> member_evidence;  // with keep_member_evidence, by community
  DetectorOptions options;
};

// Reads the logs and finds the clusters. Throws Error(invalid_input) naming the file, line and byte
// offset of a malformed line (unless options.skip_bad_lines), Error(io) for unreadable files. An
// empty log gives an empty report. Results do not depend on options.threads.
CampaignReport detect_campaigns(const std::vector<std::filesystem::path>& audit_logs, const DetectorOptions& options);

}  // namespace tracemark::campaigns
