#include "cluster_report.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>
#include <unordered_map>

#include "tracemark/campaigns/audit_record.hpp"
#include "tracemark/sha256.hpp"

namespace tracemark::campaigns {
namespace {

constexpr std::size_t kListed = 20;  // features and links listed per cluster

std::string hex64(std::uint64_t value) {
  char text[20];
  std::snprintf(text, sizeof text, "%llx", static_cast<unsigned long long>(value));
  return text;
}

std::size_t find_root(std::vector<std::size_t>& parent, std::size_t x) {
  while (parent[x] != x) x = parent[x] = parent[parent[x]];
  return x;
}

// Features shared by at least two of the flagged members, most members first.
template <typename Key, typename Describe>
std::vector<SharedFeature> shared_features(const std::map<Key, std::uint32_t>& members, Describe describe) {
  std::vector<std::pair<std::uint32_t, Key>> ranked;
  for (const auto& [key, count] : members) {
    if (count >= 2) ranked.emplace_back(count, key);
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) { return x.first != y.first ? x.first > y.first : x.second < y.second; });
  std::vector<SharedFeature> out;
  for (std::size_t i = 0; i < ranked.size() && i < kListed; ++i) out.push_back(describe(ranked[i].second, ranked[i].first));
  return out;
}

}  // namespace

std::string template_fingerprint(const std::vector<std::uint64_t>& shingle_keys) {
  std::vector<std::uint64_t> sorted = shingle_keys;
  std::sort(sorted.begin(), sorted.end());
  std::string text = "tracemark-template-v1\n";
  for (const std::uint64_t key : sorted) text += hex64(key) + "\n";
  return sha256_hex(text);
}

ClusterReport build_cluster_report(const ScoredCommunity& scored, const AccountTable& table,
                                   const std::vector<AccountFeatures>& features, const PopulationCounts& counts,
                                   const std::vector<AccountEdge>& links, const DetectorOptions& options) {
  ClusterReport report;
  report.log10_p = scored.log10_p;
  report.flagged = scored.flagged;
  std::vector<std::uint32_t> flagged;
  for (const MemberEvidence& m : scored.members) {
    AccountTies ties;
    ties.account = table.account_names.text(m.account + 1);
    ties.exchanges = table.accounts[m.account].exchanges.size();
    for (std::size_t k = 0; k < kSignalFamilies; ++k) {
      ties.evidence[k] = m.family[k];
      ties.passed[k] = m.passed[k];
    }
    ties.shared_addresses = m.shared_addresses;
    ties.shared_user_agent = m.shared_agent;
    ties.shared_frame_shingles = m.shared_frame;
    ties.creation_burst = m.creation_burst;
    ties.shared_pacing = m.shared_pacing;
    ties.flagged = scored.flagged && m.two_families();
    if (ties.flagged) {
      flagged.push_back(m.account);
      report.exchanges += ties.exchanges;
    }
    report.members.push_back(std::move(ties));
  }
  report.flagged_accounts = static_cast<std::uint32_t>(flagged.size());
  std::stable_sort(report.members.begin(), report.members.end(), [](const AccountTies& x, const AccountTies& y) {
    return x.flagged != y.flagged ? x.flagged : x.account < y.account;
  });

  // Shared addresses and user agents among the flagged members.
  std::map<std::uint32_t, std::uint32_t> addresses, agents;
  for (const std::uint32_t a : flagged) {
    std::uint32_t previous = 0xFFFFFFFFu;
    for (const std::uint64_t aw : features[a].address_windows) {
      if (address_of(aw) != previous) ++addresses[address_of(aw)];
      previous = address_of(aw);
    }
    if (features[a].main_agent != 0) ++agents[features[a].main_agent];
  }
  report.addresses = shared_features(addresses, [&](std::uint32_t address, std::uint32_t members) {
    return SharedFeature{table.addresses.text(address), members, counts.address_accounts(address)};
  });
  report.user_agents = shared_features(agents, [&](std::uint32_t agent, std::uint32_t members) {
    return SharedFeature{table.agents.text(agent), members, counts.agent_accounts(agent)};
  });

  // Templates: frame shingles two or more flagged members repeat, grouped by who uses them (the
  // shingles of one template are in the frames of nearly the same accounts).
  std::map<std::uint64_t, std::vector<std::uint32_t>> users;
  for (std::uint32_t i = 0; i < flagged.size(); ++i) {
    for (const std::uint64_t shingle : features[flagged[i]].frame) users[shingle].push_back(i);
  }
  std::erase_if(users, [&](const auto& entry) { return entry.second.size() < 2 || counts.p_frame(entry.first) > options.common_share; });
  std::vector<std::uint64_t> shingles;
  std::vector<MinHashSignature> user_signatures;
  for (const auto& [shingle, who] : users) {
    shingles.push_back(shingle);
    std::vector<std::uint64_t> ids(who.begin(), who.end());
    user_signatures.push_back(minhash_signature(ids));
  }
  std::vector<std::size_t> parent(shingles.size());
  std::iota(parent.begin(), parent.end(), 0);
  std::unordered_map<std::uint64_t, std::size_t> first_in_band;
  for (std::size_t s = 0; s < shingles.size(); ++s) {
    for (const std::uint64_t key : lsh_band_keys(user_signatures[s])) {
      auto [it, added] = first_in_band.try_emplace(key, s);
      if (!added) parent[find_root(parent, s)] = find_root(parent, it->second);
    }
  }
  std::map<std::size_t, std::vector<std::size_t>> groups;
  for (std::size_t s = 0; s < shingles.size(); ++s) groups[find_root(parent, s)].push_back(s);
  std::vector<std::pair<std::uint32_t, SharedFeature>> templates;
  for (const auto& [root, members] : groups) {
    std::vector<std::uint64_t> keys;
    std::vector<std::uint32_t> who;
    std::uint32_t population = 0;
    for (const std::size_t s : members) {
      keys.push_back(shingles[s]);
      who.insert(who.end(), users[shingles[s]].begin(), users[shingles[s]].end());
      population = std::max(population, counts.frame_accounts(shingles[s]));
    }
    std::sort(who.begin(), who.end());
    who.erase(std::unique(who.begin(), who.end()), who.end());
    templates.emplace_back(static_cast<std::uint32_t>(keys.size()),
                           SharedFeature{template_fingerprint(keys), static_cast<std::uint32_t>(who.size()), population});
  }
  std::sort(templates.begin(), templates.end(), [](const auto& x, const auto& y) {
    return x.second.members != y.second.members ? x.second.members > y.second.members : x.second.value < y.second.value;
  });
  for (std::size_t i = 0; i < templates.size() && i < kListed; ++i) report.templates.push_back(templates[i].second);

  // Creation bursts: flagged members first seen within the creation window of the previous one.
  std::vector<std::uint32_t> first_seen;
  for (const std::uint32_t a : flagged) first_seen.push_back(features[a].first_seen_s);
  std::sort(first_seen.begin(), first_seen.end());
  for (std::size_t i = 0; i < first_seen.size();) {
    std::size_t j = i + 1;
    while (j < first_seen.size() && first_seen[j] - first_seen[j - 1] <= options.creation_window_seconds) ++j;
    if (j - i >= 2) report.creation_bursts.emplace_back(kTableEpochMs + 1000LL * first_seen[i], static_cast<std::uint32_t>(j - i));
    i = j;
  }

  // Capabilities, models and the hourly timeline of the flagged members' exchanges.
  std::uint64_t capability_counts[kCapabilities] = {0, 0, 0, 0};
  std::map<std::string, std::uint64_t> model_counts;
  std::map<std::int64_t, std::map<std::string, std::uint64_t>> hourly;
  for (const std::uint32_t a : flagged) {
    for (const ExchangeMark& mark : table.accounts[a].exchanges) {
      ++capability_counts[static_cast<std::size_t>(mark.capability)];
      const std::string& model = mark.model == 0 ? std::string("(none)") : table.models.text(mark.model);
      ++model_counts[model];
      ++hourly[kTableEpochMs + 3'600'000LL * (mark.time_s / 3600)][model];
    }
  }
  for (std::size_t c = 0; c < kCapabilities; ++c) {
    report.capability_share[c] = report.exchanges ? static_cast<double>(capability_counts[c]) / static_cast<double>(report.exchanges) : 0.0;
  }
  for (const auto& [model, count] : model_counts) report.model_share[model] = static_cast<double>(count) / static_cast<double>(report.exchanges);
  report.timeline.assign(hourly.begin(), hourly.end());

  // The strongest links among flagged members.
  std::vector<AccountEdge> strongest;
  for (const AccountEdge& edge : links) {
    if (std::binary_search(flagged.begin(), flagged.end(), edge.a) && std::binary_search(flagged.begin(), flagged.end(), edge.b)) {
      strongest.push_back(edge);
    }
  }
  std::sort(strongest.begin(), strongest.end(), [](const AccountEdge& x, const AccountEdge& y) {
    return x.weight() != y.weight() ? x.weight() > y.weight() : std::make_pair(x.a, x.b) < std::make_pair(y.a, y.b);
  });
  for (std::size_t i = 0; i < strongest.size() && i < kListed; ++i) {
    const AccountEdge& e = strongest[i];
    report.strongest_links.push_back({table.account_names.text(e.a + 1), table.account_names.text(e.b + 1), e.weight(),
                                      e.family[0], e.family[1], e.family[2]});
  }
  return report;
}

}  // namespace tracemark::campaigns
