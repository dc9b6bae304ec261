#include "tracemark/campaigns/campaign_detector.hpp"

#include <algorithm>
#include <unordered_map>

#include "account_features.hpp"
#include "account_graph.hpp"
#include "account_table.hpp"
#include "cluster_report.hpp"
#include "cluster_scoring.hpp"
#include "leiden_communities.hpp"
#include "tracemark/error.hpp"

namespace tracemark::campaigns {

const char* signal_family_name(SignalFamily family) noexcept {
  switch (family) {
    case SignalFamily::infrastructure: return "infrastructure";
    case SignalFamily::content: return "content";
    case SignalFamily::timing: return "timing";
  }
  return "unknown";
}

CampaignReport detect_campaigns(const std::vector<std::filesystem::path>& audit_logs, const DetectorOptions& options) {
  if (!(options.common_share > 0 && options.common_share <= 1) || !(options.feature_cap > 0) ||
      !(options.benign_account_rate > 0 && options.benign_account_rate < 1) || options.address_window_seconds < 1 ||
      options.creation_window_seconds < 0) {
    throw Error(ErrorCode::invalid_argument, "detector options out of range (common share in (0, 1], feature cap > 0, "
                                             "benign rate in (0, 1), windows of at least 1 s)");
  }
  CampaignReport report;
  report.options = options;
  AccountTable table;
  for (const auto& path : audit_logs) {
    report.inputs.push_back(path.string());
    table.ingest(path, options.skip_bad_lines, options.threads);
  }
  report.lines = table.lines_read;
  report.skipped_lines = table.skipped_lines;
  report.first_skip_reason = table.first_skip_reason;
  report.exchanges = table.exchanges;
  report.accounts = table.accounts.size();
  report.first_ms = table.first_ms;
  report.last_ms = table.last_ms;
  if (table.accounts.empty()) return report;

  const std::vector<AccountFeatures> features = account_features(table, options);
  const PopulationCounts counts(table, features, options);
  const std::vector<AccountEdge> edges = link_accounts(features, counts, options);
  report.graph_edges = edges.size();
  const std::vector<std::uint32_t> community = leiden_communities(features.size(), edges, options.seed);
  std::vector<ScoredCommunity> scored = score_communities(community, features, counts, options);
  report.communities = scored.size();
  if (options.keep_member_evidence) {
    for (std::size_t c = 0; c < scored.size(); ++c) {
      for (const MemberEvidence& m : scored[c].members) {
        MemberEvidenceRow row;
        row.account = table.account_names.text(m.account + 1);
        row.community = static_cast<std::uint32_t>(c);
        row.community_size = static_cast<std::uint32_t>(scored[c].members.size());
        for (std::size_t k = 0; k < kSignalFamilies; ++k) row.evidence[k] = m.family[k], row.passed[k] = m.passed[k];
        report.member_evidence.push_back(std::move(row));
      }
    }
  }
  std::vector<ScoredCommunity> unflagged;
  for (ScoredCommunity& s : scored) {
    if (!s.flagged) unflagged.push_back(std::move(s));
  }
  std::erase_if(scored, [](const ScoredCommunity& s) { return s.members.empty() || !s.flagged; });
  std::stable_sort(unflagged.begin(), unflagged.end(), [](const ScoredCommunity& x, const ScoredCommunity& y) {
    return x.members.size() > y.members.size();
  });
  unflagged.resize(std::min(unflagged.size(), options.report_unflagged));

  // Each flagged community's links: the edges whose ends are both in it.
  std::unordered_map<std::uint32_t, std::size_t> cluster_of;
  for (std::size_t c = 0; c < scored.size(); ++c) {
    for (const MemberEvidence& m : scored[c].members) cluster_of[m.account] = c;
  }
  std::vector<std::vector<AccountEdge>> links(scored.size());
  for (const AccountEdge& edge : edges) {
    const auto a = cluster_of.find(edge.a), b = cluster_of.find(edge.b);
    if (a != cluster_of.end() && b != cluster_of.end() && a->second == b->second) links[a->second].push_back(edge);
  }
  for (std::size_t c = 0; c < scored.size(); ++c) {
    report.clusters.push_back(build_cluster_report(scored[c], table, features, counts, links[c], options));
  }
  for (std::size_t c = 0; c < unflagged.size(); ++c) {
    report.unflagged.push_back(build_cluster_report(unflagged[c], table, features, counts, {}, options));
    report.unflagged.back().id = "community-" + std::to_string(c + 1);
  }
  std::sort(report.clusters.begin(), report.clusters.end(), [](const ClusterReport& x, const ClusterReport& y) {
    if (x.log10_p != y.log10_p) return x.log10_p < y.log10_p;
    return x.members.front().account < y.members.front().account;
  });
  for (std::size_t c = 0; c < report.clusters.size(); ++c) {
    report.clusters[c].id = "cluster-" + std::to_string(c + 1);
    for (const AccountTies& ties : report.clusters[c].members) {
      if (ties.flagged) report.flagged_accounts.push_back(ties.account);
    }
  }
  std::sort(report.flagged_accounts.begin(), report.flagged_accounts.end());
  return report;
}

}  // namespace tracemark::campaigns
