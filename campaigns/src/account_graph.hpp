// The account graph: candidate pairs from accounts that share a rare address in a window, a MinHash
// band of their frames, or a first appearance within the creation window; each candidate's evidence
// per family from everything the pair shares. Private to campaigns/.
#pragma once

#include <cstdint>
#include <vector>

#include "account_features.hpp"

namespace tracemark::campaigns {

struct AccountEdge {
  std::uint32_t a = 0, b = 0;  // account indices, a < b
  float family[kSignalFamilies] = {0, 0, 0};
  float weight() const noexcept { return family[0] + family[1] + family[2]; }
};

// Evidence (nats) per family that accounts x and y share, as for a cluster of two.
void pair_evidence(const AccountFeatures& x, const AccountFeatures& y, const PopulationCounts& counts,
                   const DetectorOptions& options, float (&family)[kSignalFamilies]);

// Edges with weight >= options.edge_min_weight, sorted by (a, b). Deterministic for any thread count.
std::vector<AccountEdge> link_accounts(const std::vector<AccountFeatures>& features, const PopulationCounts& counts,
                                       const DetectorOptions& options);

}  // namespace tracemark::campaigns
