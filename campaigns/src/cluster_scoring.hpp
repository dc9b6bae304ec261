// Scoring each community: what ties every member to the rest, per family of signals, and whether
// the number of members tied by two families is improbable for benign accounts. Private to
// campaigns/.
#pragma once

#include <cstdint>
#include <vector>

#include "account_features.hpp"
#include "account_graph.hpp"

namespace tracemark::campaigns {

struct MemberEvidence {
  std::uint32_t account = 0;  // index into the features
  double family[kSignalFamilies] = {0, 0, 0};
  bool passed[kSignalFamilies] = {false, false, false};
  std::uint32_t shared_addresses = 0;
  bool shared_agent = false;
  std::uint32_t shared_frame = 0;
  bool creation_burst = false;
  bool shared_pacing = false;
  bool two_families() const noexcept { return passed[0] + passed[1] + passed[2] >= 2; }
};

struct ScoredCommunity {
  std::vector<MemberEvidence> members;  // in account index order
  std::uint32_t two_family_members = 0;
  double log10_p = 0;  // log10 P(X >= two_family_members), X ~ Binomial(members, benign rate)
  bool flagged = false;
};

// Every community of at least two accounts, scored (see campaign_detector.hpp, steps 4 and 5).
std::vector<ScoredCommunity> score_communities(const std::vector<std::uint32_t>& community,
                                               const std::vector<AccountFeatures>& features,
                                               const PopulationCounts& counts, const DetectorOptions& options);

// One community's member evidence (exposed for tests).
ScoredCommunity score_community(const std::vector<std::uint32_t>& members, const std::vector<AccountFeatures>& features,
                                const PopulationCounts& counts, const DetectorOptions& options);

}  // namespace tracemark::campaigns
