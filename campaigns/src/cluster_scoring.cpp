#include "cluster_scoring.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/parallel_for.hpp"

namespace tracemark::campaigns {

ScoredCommunity score_community(const std::vector<std::uint32_t>& members, const std::vector<AccountFeatures>& features,
                                const PopulationCounts& counts, const DetectorOptions& options) {
  ScoredCommunity scored;
  const std::uint64_t others = members.size() - 1;
  std::unordered_map<std::uint64_t, std::uint32_t> address_windows, frame;
  std::unordered_map<std::uint32_t, std::uint32_t> agents;
  std::unordered_map<std::int32_t, std::uint32_t> pacing;
  std::vector<std::uint32_t> first_seen;
  for (const std::uint32_t a : members) {
    const AccountFeatures& f = features[a];
    for (const std::uint64_t aw : f.address_windows) ++address_windows[aw];
    for (const std::uint64_t shingle : f.frame) ++frame[shingle];
    if (f.main_agent != 0) ++agents[f.main_agent];
    if (f.pacing >= 0) ++pacing[f.pacing];
    first_seen.push_back(f.first_seen_s);
  }
  std::sort(first_seen.begin(), first_seen.end());
  const double cap = options.feature_cap;
  const double thresholds[kSignalFamilies] = {options.infrastructure_threshold * cap, options.content_threshold * cap,
                                              options.timing_threshold * cap};
  for (const std::uint32_t a : members) {
    const AccountFeatures& f = features[a];
    MemberEvidence evidence;
    evidence.account = a;
    // Infrastructure: every address shared with another member in a window, once, at its most telling window.
    std::uint32_t current = 0xFFFFFFFFu;
    double best = 0;
    for (const std::uint64_t aw : f.address_windows) {
      if (address_windows[aw] < 2) continue;
      if (address_of(aw) != current) {
        evidence.family[0] += best;
        if (best > 0) ++evidence.shared_addresses;
        best = 0;
        current = address_of(aw);
      }
      best = std::max(best, shared_feature_nats(counts.p_address(aw), others, address_windows[aw] - 1, options));
    }
    evidence.family[0] += best;
    if (best > 0) ++evidence.shared_addresses;
    if (f.main_agent != 0 && agents[f.main_agent] >= 2) {
      const double nats = f.main_agent_share * shared_feature_nats(counts.p_agent(f.main_agent), others, agents[f.main_agent] - 1, options);
      evidence.family[0] += nats;
      evidence.shared_agent = nats > 0;
    }
    // Content: frame shingles other members repeat too.
    for (const std::uint64_t shingle : f.frame) {
      if (frame[shingle] < 2) continue;
      const double nats = shared_feature_nats(counts.p_frame(shingle), others, frame[shingle] - 1, options);
      evidence.family[1] += nats;
      evidence.shared_frame += nats > 0;
    }
    // Timing: first seen within the creation window of another member; the same pacing signature.
    const auto window = static_cast<std::uint32_t>(options.creation_window_seconds);
    const std::uint32_t from = f.first_seen_s > window ? f.first_seen_s - window : 0;
    const auto near = static_cast<std::size_t>(std::upper_bound(first_seen.begin(), first_seen.end(), f.first_seen_s + window) -
                                               std::lower_bound(first_seen.begin(), first_seen.end(), from));
    if (near >= 2) {
      const double nats = shared_creation_nats(counts.p_first_seen(f.first_seen_s), others, near - 1, options);
      evidence.family[2] += nats;
      evidence.creation_burst = nats > 0;
    }
    if (f.pacing >= 0 && pacing[f.pacing] >= 2) {
      const double nats = shared_feature_nats(counts.p_pacing(f.pacing), others, pacing[f.pacing] - 1, options);
      evidence.family[2] += nats;
      evidence.shared_pacing = nats > 0;
    }
    for (std::size_t k = 0; k < kSignalFamilies; ++k) evidence.passed[k] = evidence.family[k] >= thresholds[k];
    scored.two_family_members += evidence.two_families();
    scored.members.push_back(evidence);
  }
  scored.log10_p = log_binomial_upper_tail(scored.two_family_members, members.size(), options.benign_account_rate) / std::log(10.0);
  scored.flagged = scored.two_family_members >= 2 && scored.log10_p <= options.cluster_log10_p;
  return scored;
}

std::vector<ScoredCommunity> score_communities(const std::vector<std::uint32_t>& community,
                                               const std::vector<AccountFeatures>& features,
                                               const PopulationCounts& counts, const DetectorOptions& options) {
  std::vector<std::vector<std::uint32_t>> groups;
  {
    std::unordered_map<std::uint32_t, std::size_t> index;
    for (std::uint32_t a = 0; a < community.size(); ++a) {
      auto [it, added] = index.try_emplace(community[a], groups.size());
      if (added) groups.emplace_back();
      groups[it->second].push_back(a);
    }
  }
  std::erase_if(groups, [](const auto& g) { return g.size() < 2; });
  std::vector<ScoredCommunity> scored(groups.size());
  parallel_for(groups.size(), options.threads, [&](std::size_t g) { scored[g] = score_community(groups[g], features, counts, options); });
  return scored;
}

}  // namespace tracemark::campaigns
