// What each account can share with others, and how many accounts of the whole log have each such
// feature (the rarity every link is weighted by). Private to campaigns/.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "account_table.hpp"
#include "tracemark/campaigns/campaign_detector.hpp"
#include "tracemark/campaigns/prompt_shingles.hpp"

namespace tracemark::campaigns {

struct AccountFeatures {
  std::vector<std::uint64_t> address_windows;  // sorted, distinct: address << 24 | window
  std::vector<std::uint64_t> frame;            // sorted frame shingle keys
  MinHashSignature frame_signature{};
  std::uint32_t main_agent = 0;                // index into AccountTable::agents (0: none)
  double main_agent_share = 0;                 // of the account's exchanges
  std::uint32_t first_seen_s = 0;
  std::int32_t pacing = -1;                    // mechanical pacing signature (-1: irregular, or too few exchanges)
};

inline std::uint32_t address_of(std::uint64_t address_window) noexcept { return static_cast<std::uint32_t>(address_window >> 24); }
inline std::uint32_t window_of(std::uint64_t address_window) noexcept { return static_cast<std::uint32_t>(address_window & 0xFFFFFF); }

// Population counts; p_* are the shares of all accounts that have a feature.
class PopulationCounts {
 public:
  PopulationCounts(const AccountTable& table, const std::vector<AccountFeatures>& features, const DetectorOptions& options);

  double accounts() const noexcept { return accounts_; }
  // The larger of the address's share overall and its share of the accounts active in the window.
  double p_address(std::uint64_t address_window) const;
  std::uint32_t address_accounts(std::uint32_t address) const { return address_accounts_[address]; }
  double p_agent(std::uint32_t agent) const { return agent_accounts_[agent] / accounts_; }
  std::uint32_t agent_accounts(std::uint32_t agent) const { return agent_accounts_[agent]; }
  double p_frame(std::uint64_t shingle) const;
  std::uint32_t frame_accounts(std::uint64_t shingle) const;
  // Share of accounts first seen within the creation window of `first_seen_s`.
  double p_first_seen(std::uint32_t first_seen_s) const;
  std::uint32_t first_seen_accounts(std::uint32_t from_s, std::uint32_t to_s) const;
  double p_pacing(std::int32_t signature) const;

 private:
  double accounts_ = 1;
  std::int64_t creation_window_s_ = 600;
  std::vector<std::uint32_t> address_accounts_;
  std::unordered_map<std::uint64_t, std::uint32_t> address_window_accounts_;
  std::unordered_map<std::uint32_t, std::uint32_t> window_accounts_;
  std::vector<std::uint32_t> agent_accounts_;
  std::unordered_map<std::uint64_t, std::uint32_t> frame_accounts_;
  std::vector<std::uint32_t> first_seen_sorted_;
  std::unordered_map<std::int32_t, std::uint32_t> pacing_accounts_;
};

// Builds every account's features (sorts each account's exchanges by time).
std::vector<AccountFeatures> account_features(AccountTable& table, const DetectorOptions& options);

// The evidence one shared feature gives, in nats: how unlikely it is that `sharing` or more of the
// `others` other members of a community have a feature that a share `p` of all accounts has, if
// they were accounts drawn at random: -ln P(X >= sharing), X ~ Binomial(others, p). At most
// options.feature_cap; 0 when p > options.common_share (a feature that common links nobody) or
// nobody else has it. For a pair (others = sharing = 1) it is -ln p.
double shared_feature_nats(double p, std::uint64_t others, std::uint64_t sharing, const DetectorOptions& options);
// The same for a creation window: not limited by common_share (a busy minute is no feature that
// links strangers; how busy it was is in p).
double shared_creation_nats(double p, std::uint64_t others, std::uint64_t sharing, const DetectorOptions& options);

}  // namespace tracemark::campaigns
