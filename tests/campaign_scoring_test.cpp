// The evidence a shared feature gives (binomial tails, the cap, common features), the frame counter
// (a template's shingles survive the purges), and the scoring rule: a member passes a family only
// on enough rare shared features, is flagged only on two families, and a community only when its
// two-family members are improbable for benign accounts.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "account_features.hpp"
#include "account_graph.hpp"
#include "cluster_scoring.hpp"
#include "frame_counter.hpp"

namespace tracemark::campaigns {
namespace {

TEST(SharedFeatureNats, IsTheBinomialTailCappedAndZeroForCommonFeatures) {
  DetectorOptions options;
  // A pair: -ln p.
  EXPECT_NEAR(shared_feature_nats(0.01, 1, 1, options), -std::log(0.01), 1e-9);
  // P(X >= 2), X ~ Binomial(10, 0.01) = 1 - 0.99^10 - 10 * 0.01 * 0.99^9.
  const double tail = 1 - std::pow(0.99, 10) - 10 * 0.01 * std::pow(0.99, 9);
  EXPECT_NEAR(shared_feature_nats(0.01, 10, 2, options), -std::log(tail), 1e-9);
  // Capped at ln 1000.
  EXPECT_DOUBLE_EQ(shared_feature_nats(1e-6, 100, 50, options), options.feature_cap);
  // Held by more than 1% of all accounts: no evidence however concentrated.
  EXPECT_EQ(shared_feature_nats(0.02, 10, 9, options), 0.0);
  EXPECT_EQ(shared_feature_nats(0.001, 10, 0, options), 0.0);
  // Expected by chance in a large community: little evidence.
  EXPECT_LT(shared_feature_nats(0.005, 2000, 10, options), 1.0);  // P(X >= 10) with mean 10 is about 0.54
  // Creation windows are scored by concentration alone.
  EXPECT_GT(shared_creation_nats(0.02, 10, 9, options), 6.0);
}

TEST(FrameCounter, KeepsTheShinglesAnAccountRepeatsThroughPurges) {
  std::mt19937_64 random(11);
  std::vector<std::uint64_t> templated;
  for (int i = 0; i < 12; ++i) templated.push_back(random() >> 2);
  FrameCounter counter;
  for (int prompt = 0; prompt < 300; ++prompt) {
    std::vector<std::uint64_t> shingles;
    if (prompt % 3 == 0) shingles = templated;                   // one prompt in three uses the template
    for (int i = 0; i < 15; ++i) shingles.push_back(random() >> 2);  // and its own words
    std::sort(shingles.begin(), shingles.end());
    counter.add_prompt(shingles);
  }
  const std::vector<std::uint64_t> frequent = counter.frequent(2);
  for (const std::uint64_t shingle : templated) {
    EXPECT_TRUE(std::binary_search(frequent.begin(), frequent.end(), FrameCounter::key_of(shingle)));
  }
  EXPECT_LT(frequent.size(), 40u);  // the one-off words are gone
  EXPECT_EQ(counter.prompts(), 300u);
}

// A population of `accounts` accounts with features chosen per test; community scoring needs only
// the features and the counts.
struct Population {
  AccountTable table;
  std::vector<AccountFeatures> features;
  // Every account has an address of its own in window 1 (addresses from 100 up; 1 to 99 are for sharing).
  explicit Population(std::size_t accounts) : features(accounts) {
    for (std::size_t a = 0; a < accounts; ++a) {
      table.account_names.intern("account-" + std::to_string(a));
      features[a].first_seen_s = static_cast<std::uint32_t>(100000 * a);  // far apart: no creation burst
      give_address(a, static_cast<std::uint32_t>(100 + a));
    }
    table.accounts.resize(accounts);
  }
  void give_address(std::size_t account, std::uint32_t address) {
    while (table.addresses.size() <= address) table.addresses.intern("address-" + std::to_string(table.addresses.size()));
    features[account].address_windows.push_back((static_cast<std::uint64_t>(address) << 24) | 1);
    std::sort(features[account].address_windows.begin(), features[account].address_windows.end());
  }
  void give_shingle(std::size_t account, std::uint64_t shingle) {
    features[account].frame.push_back(shingle);
    std::sort(features[account].frame.begin(), features[account].frame.end());
  }
};

TEST(CommunityScoring, OneFamilyNeverFlags) {
  DetectorOptions options;
  Population p(5000);
  // Twenty accounts sharing twenty rare addresses: infrastructure passes, nothing else.
  std::vector<std::uint32_t> members;
  for (std::uint32_t a = 0; a < 20; ++a) {
    members.push_back(a);
    for (std::uint32_t address = 1; address <= 20; ++address) p.give_address(a, address);
  }
  PopulationCounts counts(p.table, p.features, options);
  const ScoredCommunity scored = score_community(members, p.features, counts, options);
  for (const MemberEvidence& m : scored.members) {
    EXPECT_TRUE(m.passed[0]);
    EXPECT_FALSE(m.passed[1]);
    EXPECT_FALSE(m.two_families());
  }
  EXPECT_FALSE(scored.flagged);
}

TEST(CommunityScoring, TwoFamiliesOnRareFeaturesFlag) {
  DetectorOptions options;
  Population p(5000);
  std::vector<std::uint32_t> members;
  for (std::uint32_t a = 0; a < 6; ++a) {
    members.push_back(a);
    for (std::uint32_t address = 1; address <= 12; ++address) p.give_address(a, address);
    for (std::uint64_t s = 1; s <= 6; ++s) p.give_shingle(a, 1000 + s);
  }
  PopulationCounts counts(p.table, p.features, options);
  ScoredCommunity scored = score_community(members, p.features, counts, options);
  EXPECT_EQ(scored.two_family_members, 6u);
  EXPECT_TRUE(scored.flagged);
  EXPECT_NEAR(scored.log10_p, 6 * std::log10(options.benign_account_rate), 1e-6);
  for (const MemberEvidence& m : scored.members) {
    EXPECT_EQ(m.shared_addresses, 12u);
    EXPECT_EQ(m.shared_frame, 6u);
  }

  // The same sharing, but every feature is also held by 2% of all accounts: nothing counts.
  for (std::uint32_t a = 100; a < 200; ++a) {
    for (std::uint32_t address = 1; address <= 12; ++address) p.give_address(a, address);
    for (std::uint64_t s = 1; s <= 6; ++s) p.give_shingle(a, 1000 + s);
  }
  PopulationCounts common(p.table, p.features, options);
  scored = score_community(members, p.features, common, options);
  EXPECT_EQ(scored.two_family_members, 0u);
  EXPECT_FALSE(scored.flagged);
}

TEST(CommunityScoring, TwoMembersOfALargeCommunityAreNotTiedToIt) {
  DetectorOptions options;
  Population p(20000);
  std::vector<std::uint32_t> members;
  for (std::uint32_t a = 0; a < 3000; ++a) members.push_back(a);
  // Two members share everything rare; the other 2998 nothing.
  for (std::uint32_t a = 0; a < 2; ++a) {
    for (std::uint32_t address = 1; address <= 12; ++address) p.give_address(a, address);
    for (std::uint64_t s = 1; s <= 6; ++s) p.give_shingle(a, 1000 + s);
  }
  PopulationCounts counts(p.table, p.features, options);
  const ScoredCommunity scored = score_community(members, p.features, counts, options);
  // Each shared address: one of 2,999 others having it is no surprise (P about 0.26), so the pair is
  // not tied to a community of 3,000 however rare the features.
  EXPECT_EQ(scored.two_family_members, 0u);
  EXPECT_LT(scored.members[0].family[0], options.infrastructure_threshold * options.feature_cap);
  EXPECT_FALSE(scored.flagged);
}

TEST(PairEvidence, CountsEachAddressOnceAndCapsAFamily) {
  DetectorOptions options;
  Population p(1000);
  for (std::uint32_t address = 1; address <= 40; ++address) {
    p.give_address(0, address);
    p.give_address(1, address);
  }
  // The same address in another window adds nothing.
  p.features[0].address_windows.push_back((static_cast<std::uint64_t>(1) << 24) | 2);
  p.features[1].address_windows.push_back((static_cast<std::uint64_t>(1) << 24) | 2);
  std::sort(p.features[0].address_windows.begin(), p.features[0].address_windows.end());
  std::sort(p.features[1].address_windows.begin(), p.features[1].address_windows.end());
  PopulationCounts counts(p.table, p.features, options);
  float family[kSignalFamilies];
  pair_evidence(p.features[0], p.features[1], counts, options, family);
  EXPECT_NEAR(family[0], 4 * options.feature_cap, 1e-4);  // 40 rare addresses, capped at four features' worth
  EXPECT_EQ(family[1], 0.0f);
  EXPECT_EQ(family[2], 0.0f);
}

}  // namespace
}  // namespace tracemark::campaigns
