// Communities of the weighted account graph with igraph's Leiden algorithm (Traag, Waltman and van
// Eck 2019) on the modularity objective. Private to campaigns/.
#pragma once

#include <cstdint>
#include <vector>

#include "account_graph.hpp"

namespace tracemark::campaigns {

// The community of each of `nodes` accounts (accounts without an edge are alone in theirs).
// Deterministic: igraph's random order comes from a generator seeded with `seed`, installed for the
// call and removed after it (igraph's default generator is left as it was).
std::vector<std::uint32_t> leiden_communities(std::size_t nodes, const std::vector<AccountEdge>& edges, std::uint64_t seed);

}  // namespace tracemark::campaigns
