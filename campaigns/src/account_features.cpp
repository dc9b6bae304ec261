#include "account_features.hpp"

#include <algorithm>
#include <cmath>

#include "tracemark/verify/binomial.hpp"

namespace tracemark::campaigns {
namespace {

// Mechanical pacing: the median gap in half-octaves from 1 s, for accounts whose gaps are regular
// (interquartile range under half the median, two classes), as scripts under a rate limit send;
// people, and the tools they drive by hand, pause irregularly and have none. Accounts with fewer
// than 8 gaps have none either.
std::int32_t pacing_signature(const std::vector<ExchangeMark>& exchanges) {
  if (exchanges.size() < 9) return -1;
  std::vector<double> gaps;
  gaps.reserve(exchanges.size() - 1);
  for (std::size_t i = 1; i < exchanges.size(); ++i) gaps.push_back(static_cast<double>(exchanges[i].time_s - exchanges[i - 1].time_s) + 0.5);
  std::sort(gaps.begin(), gaps.end());
  const auto at = [&](double q) { return gaps[static_cast<std::size_t>(q * static_cast<double>(gaps.size() - 1))]; };
  const double median = at(0.5), spread = (at(0.75) - at(0.25)) / median;
  if (spread >= 0.5) return -1;
  const auto speed = static_cast<std::int32_t>(std::clamp(std::floor(2.0 * std::log2(median)), 0.0, 60.0));
  return speed * 2 + (spread < 0.25 ? 0 : 1);
}

}  // namespace

std::vector<AccountFeatures> account_features(AccountTable& table, const DetectorOptions& options) {
  std::vector<AccountFeatures> features(table.accounts.size());
  const auto window = static_cast<std::uint32_t>(std::max<std::int64_t>(1, options.address_window_seconds));
  for (std::size_t a = 0; a < table.accounts.size(); ++a) {
    AccountActivity& activity = table.accounts[a];
    AccountFeatures& f = features[a];
    std::stable_sort(activity.exchanges.begin(), activity.exchanges.end(),
                     [](const ExchangeMark& x, const ExchangeMark& y) { return x.time_s < y.time_s; });
    if (activity.exchanges.empty()) continue;
    f.first_seen_s = activity.exchanges.front().time_s;
    for (const ExchangeMark& mark : activity.exchanges) {
      if (mark.address != 0) f.address_windows.push_back((static_cast<std::uint64_t>(mark.address) << 24) | (mark.time_s / window));
    }
    std::sort(f.address_windows.begin(), f.address_windows.end());
    f.address_windows.erase(std::unique(f.address_windows.begin(), f.address_windows.end()), f.address_windows.end());
    std::uint32_t best = 0;
    for (const auto& [agent, count] : activity.agents) {
      if (count > best || (count == best && agent < f.main_agent)) best = count, f.main_agent = agent;
    }
    f.main_agent_share = static_cast<double>(best) / static_cast<double>(activity.exchanges.size());
    // The frame: shingles repeated in at least 2 of the account's prompts and 2% of them.
    const std::uint32_t prompts = activity.frame.prompts();
    f.frame = activity.frame.frequent(std::max<std::uint32_t>(2, (prompts + 49) / 50));
    if (!f.frame.empty()) f.frame_signature = minhash_signature(f.frame);
    f.pacing = pacing_signature(activity.exchanges);
  }
  return features;
}

PopulationCounts::PopulationCounts(const AccountTable& table, const std::vector<AccountFeatures>& features,
                                   const DetectorOptions& options)
    : creation_window_s_(options.creation_window_seconds) {
  accounts_ = std::max<double>(1.0, static_cast<double>(features.size()));
  address_accounts_.assign(table.addresses.size(), 0);
  agent_accounts_.assign(table.agents.size(), 0);
  for (const AccountFeatures& f : features) {
    std::uint32_t previous_address = 0xFFFFFFFFu, previous_window = 0xFFFFFFFFu;
    std::vector<std::uint32_t> windows;
    for (const std::uint64_t aw : f.address_windows) {
      if (address_of(aw) != previous_address) ++address_accounts_[address_of(aw)];
      previous_address = address_of(aw);
      ++address_window_accounts_[aw];
      windows.push_back(window_of(aw));
    }
    std::sort(windows.begin(), windows.end());
    for (const std::uint32_t w : windows) {
      if (w != previous_window) ++window_accounts_[w];
      previous_window = w;
    }
    if (f.main_agent != 0) ++agent_accounts_[f.main_agent];
    for (const std::uint64_t shingle : f.frame) ++frame_accounts_[shingle];
    first_seen_sorted_.push_back(f.first_seen_s);
    if (f.pacing >= 0) ++pacing_accounts_[f.pacing];
  }
  std::sort(first_seen_sorted_.begin(), first_seen_sorted_.end());
}

double PopulationCounts::p_address(std::uint64_t address_window) const {
  const double overall = address_accounts_[address_of(address_window)] / accounts_;
  const auto in_window = address_window_accounts_.find(address_window);
  const auto active = window_accounts_.find(window_of(address_window));
  const double windowed = in_window == address_window_accounts_.end() || active == window_accounts_.end()
                              ? 0.0
                              : static_cast<double>(in_window->second) / static_cast<double>(active->second);
  return std::max(overall, windowed);
}

double PopulationCounts::p_frame(std::uint64_t shingle) const { return frame_accounts(shingle) / accounts_; }

std::uint32_t PopulationCounts::frame_accounts(std::uint64_t shingle) const {
  const auto it = frame_accounts_.find(shingle);
  return it == frame_accounts_.end() ? 0 : it->second;
}

std::uint32_t PopulationCounts::first_seen_accounts(std::uint32_t from_s, std::uint32_t to_s) const {
  return static_cast<std::uint32_t>(std::upper_bound(first_seen_sorted_.begin(), first_seen_sorted_.end(), to_s) -
                                    std::lower_bound(first_seen_sorted_.begin(), first_seen_sorted_.end(), from_s));
}

double PopulationCounts::p_first_seen(std::uint32_t first_seen_s) const {
  const auto window = static_cast<std::uint32_t>(creation_window_s_);
  return first_seen_accounts(first_seen_s > window ? first_seen_s - window : 0, first_seen_s + window) / accounts_;
}

double PopulationCounts::p_pacing(std::int32_t signature) const {
  const auto it = pacing_accounts_.find(signature);
  return it == pacing_accounts_.end() ? 0.0 : it->second / accounts_;
}

double shared_feature_nats(double p, std::uint64_t others, std::uint64_t sharing, const DetectorOptions& options) {
  if (p > options.common_share) return 0.0;
  return shared_creation_nats(p, others, sharing, options);
}

double shared_creation_nats(double p, std::uint64_t others, std::uint64_t sharing, const DetectorOptions& options) {
  if (p <= 0 || sharing == 0 || others == 0) return 0.0;
  const double log_tail = others == 1 ? std::log(p) : log_binomial_upper_tail(sharing, others, std::min(p, 1.0 - 1e-12));
  return std::min(options.feature_cap, -log_tail);
}

}  // namespace tracemark::campaigns
