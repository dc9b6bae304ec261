// Turning a flagged community into the report's ClusterReport: its members' ties, the features they
// share (addresses, user agents, prompt templates with their fingerprints), creation bursts,
// capability and model shares, an hourly timeline and the strongest links. Private to campaigns/.
#pragma once

#include <vector>

#include "account_features.hpp"
#include "account_graph.hpp"
#include "account_table.hpp"
#include "cluster_scoring.hpp"

namespace tracemark::campaigns {

// The fingerprint of a prompt template: SHA-256 (hex) of "tracemark-template-v1\n" followed by its
// shingle keys in ascending order, one lower-case hex number a line. Anyone with our shingle rule
// computes the same value from prompts of the same template.
std::string template_fingerprint(const std::vector<std::uint64_t>& shingle_keys);

// `links`: the graph's edges among this community's members.
ClusterReport build_cluster_report(const ScoredCommunity& scored, const AccountTable& table,
                                   const std::vector<AccountFeatures>& features, const PopulationCounts& counts,
                                   const std::vector<AccountEdge>& links, const DetectorOptions& options);

}  // namespace tracemark::campaigns
