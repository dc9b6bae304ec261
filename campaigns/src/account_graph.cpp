#include "account_graph.hpp"

#include <algorithm>

#include "random_draws.hpp"
#include "tracemark/verify/parallel_for.hpp"

namespace tracemark::campaigns {
namespace {

std::uint64_t pair_key(std::uint32_t x, std::uint32_t y) {
  return x < y ? (static_cast<std::uint64_t>(x) << 32) | y : (static_cast<std::uint64_t>(y) << 32) | x;
}

// Accounts that share one feature become candidates: every pair of a small group; in a large group,
// each account and its next `neighbours` in a seeded order (a ring), which keeps the group
// connected with a bounded number of pairs.
void add_group(std::vector<std::uint32_t>& members, std::uint64_t feature, const DetectorOptions& options,
               std::vector<std::uint64_t>& candidates) {
  if (members.size() < 2) return;
  if (members.size() <= options.all_pairs_up_to) {
    for (std::size_t i = 0; i < members.size(); ++i) {
      for (std::size_t j = i + 1; j < members.size(); ++j) candidates.push_back(pair_key(members[i], members[j]));
    }
    return;
  }
  std::sort(members.begin(), members.end(), [&](std::uint32_t x, std::uint32_t y) {
    const std::uint64_t hx = mix64(feature, x), hy = mix64(feature, y);
    return hx != hy ? hx < hy : x < y;
  });
  for (std::size_t i = 0; i < members.size(); ++i) {
    for (unsigned k = 1; k <= options.ring_neighbours && k < members.size(); ++k) {
      candidates.push_back(pair_key(members[i], members[(i + k) % members.size()]));
    }
  }
}

// Groups (feature, account) entries by feature and adds each group's candidates.
void add_groups(std::vector<std::pair<std::uint64_t, std::uint32_t>>& entries, const DetectorOptions& options,
                std::vector<std::uint64_t>& candidates) {
  std::sort(entries.begin(), entries.end());
  std::vector<std::uint32_t> members;
  for (std::size_t i = 0; i < entries.size();) {
    std::size_t j = i;
    members.clear();
    while (j < entries.size() && entries[j].first == entries[i].first) members.push_back(entries[j++].second);
    add_group(members, entries[i].first, options, candidates);
    i = j;
  }
}

}  // namespace

void pair_evidence(const AccountFeatures& x, const AccountFeatures& y, const PopulationCounts& counts,
                   const DetectorOptions& options, float (&family)[kSignalFamilies]) {
  double infrastructure = 0, content = 0, timing = 0;
  // Addresses used by both in the same window: each address once, at its most telling window.
  std::uint32_t current = 0xFFFFFFFFu;
  double best = 0;
  for (std::size_t i = 0, j = 0; i < x.address_windows.size() && j < y.address_windows.size();) {
    const std::uint64_t u = x.address_windows[i], v = y.address_windows[j];
    if (u < v) {
      ++i;
    } else if (v < u) {
      ++j;
    } else {
      if (address_of(u) != current) {
        infrastructure += best;
        best = 0;
        current = address_of(u);
      }
      best = std::max(best, shared_feature_nats(counts.p_address(u), 1, 1, options));
      ++i, ++j;
    }
  }
  infrastructure += best;
  if (x.main_agent != 0 && x.main_agent == y.main_agent) {
    infrastructure += std::min(x.main_agent_share, y.main_agent_share) * shared_feature_nats(counts.p_agent(x.main_agent), 1, 1, options);
  }
  for (std::size_t i = 0, j = 0; i < x.frame.size() && j < y.frame.size();) {
    if (x.frame[i] < y.frame[j]) {
      ++i;
    } else if (y.frame[j] < x.frame[i]) {
      ++j;
    } else {
      content += shared_feature_nats(counts.p_frame(x.frame[i]), 1, 1, options);
      ++i, ++j;
    }
  }
  const std::uint32_t apart = x.first_seen_s > y.first_seen_s ? x.first_seen_s - y.first_seen_s : y.first_seen_s - x.first_seen_s;
  if (apart <= options.creation_window_seconds) {
    timing += shared_creation_nats(std::max(counts.p_first_seen(x.first_seen_s), counts.p_first_seen(y.first_seen_s)), 1, 1, options);
  }
  if (x.pacing >= 0 && x.pacing == y.pacing) timing += shared_feature_nats(counts.p_pacing(x.pacing), 1, 1, options);
  // One family cannot outweigh all others by more than a few rare features (the graph should
  // group accounts tied several ways).
  const double most = 4 * options.feature_cap;
  family[0] = static_cast<float>(std::min(infrastructure, most));
  family[1] = static_cast<float>(std::min(content, most));
  family[2] = static_cast<float>(std::min(timing, most));
}

std::vector<AccountEdge> link_accounts(const std::vector<AccountFeatures>& features, const PopulationCounts& counts,
                                       const DetectorOptions& options) {
  std::vector<std::uint64_t> candidates;
  {
    std::vector<std::pair<std::uint64_t, std::uint32_t>> entries;
    for (std::uint32_t a = 0; a < features.size(); ++a) {
      for (const std::uint64_t aw : features[a].address_windows) {
        if (counts.p_address(aw) <= options.common_share) entries.emplace_back(aw, a);
      }
    }
    add_groups(entries, options, candidates);
    entries.clear();
    for (std::uint32_t a = 0; a < features.size(); ++a) {
      if (features[a].frame.empty()) continue;
      for (const std::uint64_t key : lsh_band_keys(features[a].frame_signature)) entries.emplace_back(key, a);
    }
    add_groups(entries, options, candidates);
  }
  // Creation: each account and the next few to appear after it within the window.
  std::vector<std::uint32_t> by_first_seen(features.size());
  for (std::uint32_t a = 0; a < features.size(); ++a) by_first_seen[a] = a;
  std::sort(by_first_seen.begin(), by_first_seen.end(), [&](std::uint32_t x, std::uint32_t y) {
    return features[x].first_seen_s != features[y].first_seen_s ? features[x].first_seen_s < features[y].first_seen_s : x < y;
  });
  for (std::size_t i = 0; i < by_first_seen.size(); ++i) {
    const AccountFeatures& x = features[by_first_seen[i]];
    if (counts.p_first_seen(x.first_seen_s) > options.common_share) continue;
    for (std::size_t k = 1; k <= options.ring_neighbours && i + k < by_first_seen.size(); ++k) {
      const AccountFeatures& y = features[by_first_seen[i + k]];
      if (y.first_seen_s - x.first_seen_s > options.creation_window_seconds) break;
      candidates.push_back(pair_key(by_first_seen[i], by_first_seen[i + k]));
    }
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());

  std::vector<AccountEdge> edges(candidates.size());
  constexpr std::size_t kChunk = 4096;
  parallel_for((candidates.size() + kChunk - 1) / kChunk, options.threads, [&](std::size_t chunk) {
    for (std::size_t i = chunk * kChunk; i < std::min(candidates.size(), (chunk + 1) * kChunk); ++i) {
      AccountEdge& edge = edges[i];
      edge.a = static_cast<std::uint32_t>(candidates[i] >> 32);
      edge.b = static_cast<std::uint32_t>(candidates[i] & 0xFFFFFFFFu);
      pair_evidence(features[edge.a], features[edge.b], counts, options, edge.family);
    }
  });
  std::erase_if(edges, [&](const AccountEdge& edge) { return static_cast<double>(edge.weight()) < options.edge_min_weight; });
  return edges;
}

}  // namespace tracemark::campaigns
