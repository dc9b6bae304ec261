#include "simulated_population.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

namespace tracemark::campaigns {
namespace {

// UTC offsets of the population and their shares.
constexpr std::array<int, 9> kTimeZones = {-8, -5, -3, 0, 1, 3, 5, 8, 9};
constexpr std::array<double, 9> kTimeZoneShares = {0.14, 0.24, 0.06, 0.12, 0.2, 0.04, 0.1, 0.07, 0.03};

// Hourly activity by local hour.
constexpr std::array<double, 24> kPersonal = {0.2, 0.1, 0.06, 0.05, 0.05, 0.08, 0.2, 0.4, 0.6, 0.75, 0.85, 0.9,
                                              0.95, 0.95, 0.9, 0.9, 0.9, 0.95, 1.0, 1.0, 0.95, 0.85, 0.6, 0.35};
constexpr std::array<double, 24> kOffice = {0.02, 0.02, 0.02, 0.02, 0.02, 0.03, 0.05, 0.15, 0.5, 1.0, 1.0, 1.0,
                                            0.6, 1.0, 1.0, 1.0, 1.0, 0.8, 0.4, 0.15, 0.1, 0.08, 0.05, 0.03};
constexpr std::array<double, 24> kDeveloper = {0.35, 0.25, 0.15, 0.08, 0.05, 0.05, 0.1, 0.2, 0.45, 0.8, 1.0, 1.0,
                                               0.8, 0.95, 1.0, 1.0, 1.0, 0.9, 0.7, 0.6, 0.65, 0.7, 0.6, 0.45};

// Classes of stochastic benign accounts: share of benign exchanges and mean exchanges a day.
struct AccountClass {
  double share;
  double per_day;
};
constexpr AccountClass kIndividualGeneral{0.45, 15}, kIndividualCoding{0.08, 40}, kIndividualAgent{0.05, 50},
    kEmployee{0.27, 22};
constexpr double kBatchShare = 0.10, kBatchPerDay = 4000;

double unit_lognormal(RandomDraws& random, double sigma) { return std::exp(sigma * random.normal() - 0.5 * sigma * sigma); }

std::size_t class_count(const AccountClass& c, std::uint64_t benign, double days) {
  return static_cast<std::size_t>(std::max(1.0, std::round(c.share * static_cast<double>(benign) / (c.per_day * days))));
}

}  // namespace

std::size_t BenignPopulation::expected_accounts(std::uint64_t benign_exchanges, double days) {
  return class_count(kIndividualGeneral, benign_exchanges, days) + class_count(kIndividualCoding, benign_exchanges, days) +
         class_count(kIndividualAgent, benign_exchanges, days) + class_count(kEmployee, benign_exchanges, days);
}

BenignPopulation::BenignPopulation(std::uint64_t seed, std::uint64_t benign_exchanges, double period_s, double release_s,
                                   const SimulatedNetwork& network)
    : seed_(seed), period_s_(period_s), network_(network) {
  const double days = period_s / 86400.0;
  agents_ = network.popular_agents();
  const std::uint32_t first_plugin = first_plugin_ = static_cast<std::uint32_t>(agents_.size());
  for (unsigned v = 0; v < network.plugin_versions(); ++v) agents_.emplace_back(network.plugin_agent(v));
  RandomDraws random(seed, "population");
  AliasTable popular_agent(network.popular_weights());
  std::vector<double> sdk_weights = network.popular_weights();
  for (std::size_t i = 0; i < sdk_weights.size(); ++i) {
    if (agents_[i].rfind("Mozilla", 0) == 0) sdk_weights[i] = 0;
  }
  AliasTable sdk_agent(sdk_weights);
  const std::array<double, 3> plugin_shares = {0.6, 0.3, 0.1};
  std::map<int, std::size_t> group_of_key;  // (tz, class) -> group

  const auto add_account = [&](Style style, std::uint32_t company, int tz, double rate, double created_s, std::uint16_t agent) {
    const auto a = static_cast<std::uint32_t>(style_.size());
    style_.push_back(style);
    company_.push_back(company);
    const bool share = households_ > 0 && random.chance(0.2);
    household_.push_back(share ? households_ - 1 : households_++);
    shares_household_.push_back(share);
    if (share) shares_household_[a - 1] = true;
    tz_hours_.push_back(static_cast<std::int8_t>(tz));
    created_s_.push_back(static_cast<float>(created_s));
    adopt_s_.push_back(static_cast<float>(release_s + (random.chance(0.15) ? random.uniform() * 7200.0 : random.exponential(3 * 86400.0))));
    carrier_.push_back(static_cast<std::uint8_t>(random.below(network.carriers())));
    mobile_percent_.push_back(static_cast<std::uint8_t>(random.below(60)));
    agent_.push_back(agent);
    if (style == Style::batch) return;
    const int class_index = company != kNoCompany ? (style == Style::coding_assistant ? 4 : 3)
                                                  : static_cast<int>(style);
    const int key = (tz + 24) * 8 + class_index;
    auto [it, added] = group_of_key.try_emplace(key, groups_.size());
    if (added) {
      Group group;
      group.tz_hours = tz;
      group.office = company != kNoCompany;
      group.developer = style != Style::general;
      groups_.push_back(std::move(group));
    }
    groups_[it->second].members.push_back(a);
    (void)rate;
  };
  std::vector<double> rates;
  const auto pick_tz = [&] { return kTimeZones[random.weighted(kTimeZoneShares)]; };
  const auto individual = [&](Style style, const AccountClass& c) {
    const std::size_t n = class_count(c, benign_exchanges, days);
    for (std::size_t i = 0; i < n; ++i) {
      const double created = random.chance(0.05) ? random.uniform() * period_s : 0.0;
      std::uint16_t agent = 0;
      if (style == Style::coding_assistant) {
        agent = static_cast<std::uint16_t>(first_plugin + random.weighted(plugin_shares));
      } else if (style == Style::agent_developer) {
        agent = static_cast<std::uint16_t>(sdk_agent.draw(random));
      } else {
        agent = static_cast<std::uint16_t>(popular_agent.draw(random));
      }
      add_account(style, kNoCompany, pick_tz(), 0, created, agent);
      rates.push_back(c.per_day * unit_lognormal(random, 1.2));
    }
  };
  individual(Style::general, kIndividualGeneral);
  individual(Style::coding_assistant, kIndividualCoding);
  individual(Style::agent_developer, kIndividualAgent);

  // Companies: Pareto sizes; a quarter are developer shops (most employees use the coding plugin);
  // 40% route through a gateway with its own user agent; 8% on-board all their employees at once
  // during the period.
  const std::size_t employees = class_count(kEmployee, benign_exchanges, days);
  const double largest = std::max(3.0, static_cast<double>(employees) / 5.0);
  std::size_t placed = 0;
  while (placed < employees) {
    const auto size = static_cast<std::size_t>(std::min({random.pareto(3, 1.2), largest, static_cast<double>(employees - placed)}));
    Company company;
    company.tz_hours = pick_tz();
    const double egress_roll = random.uniform();
    company.egress = egress_roll < 0.5 ? 1 : egress_roll < 0.85 ? 2 + static_cast<unsigned>(random.below(3)) : 5 + static_cast<unsigned>(random.below(8));
    company.dev_shop = random.chance(0.25);
    if (random.chance(0.4)) {
      company.agent = static_cast<std::uint32_t>(agents_.size());
      agents_.push_back("Corp" + std::to_string(companies_.size()) + "-AIGateway/2." + std::to_string(random.below(5)) +
                        " (OpenAI/Python 1.4" + std::to_string(random.below(10)) + ".0)");
    }
    const bool onboards = random.chance(0.08);
    const double onboard_s = random.uniform() * 0.7 * period_s;
    const auto company_index = static_cast<std::uint32_t>(companies_.size());
    companies_.push_back(company);
    for (std::size_t e = 0; e < std::max<std::size_t>(size, 1); ++e, ++placed) {
      const bool coding = random.chance(company.dev_shop ? 0.6 : 0.1);
      std::uint16_t agent = static_cast<std::uint16_t>(company.agent != 0 ? company.agent : popular_agent.draw(random));
      if (coding) agent = static_cast<std::uint16_t>(first_plugin + random.weighted(plugin_shares));
      const double created = onboards ? onboard_s + random.uniform() * 1800.0 : 0.0;
      add_account(coding ? Style::coding_assistant : Style::general, company_index, company.tz_hours, 0, created, agent);
      rates.push_back((coding ? 40.0 : kEmployee.per_day) * unit_lognormal(random, 1.2));
    }
  }

  // Batch customers: planned streams with Pareto-distributed volumes.
  const auto batch_total = static_cast<std::uint64_t>(std::round(kBatchShare * static_cast<double>(benign_exchanges)));
  const std::size_t batch_customers = batch_total == 0 ? 0 : std::max<std::size_t>(1, static_cast<std::size_t>(std::round(
                                                                                         static_cast<double>(batch_total) / (kBatchPerDay * days))));
  std::vector<double> batch_weights(batch_customers);
  for (double& w : batch_weights) w = random.pareto(1, 1.3);
  double weight_sum = 0;
  for (const double w : batch_weights) weight_sum += w;
  std::uint64_t batch_given = 0;
  for (std::size_t b = 0; b < batch_customers; ++b) {
    auto exchanges = static_cast<std::uint64_t>(std::floor(static_cast<double>(batch_total) * batch_weights[b] / weight_sum));
    if (b + 1 == batch_customers) exchanges = batch_total - batch_given;
    batch_given += exchanges;
    const auto account = static_cast<std::uint32_t>(style_.size());
    add_account(Style::batch, kNoCompany, pick_tz(), 0, 0, static_cast<std::uint16_t>(sdk_agent.draw(random)));
    rates.push_back(0);
    if (exchanges > 0) batch_plans_.push_back({account, static_cast<std::uint32_t>(exchanges)});
  }
  stochastic_exchanges_ = benign_exchanges - batch_given;

  for (Group& group : groups_) {
    std::vector<double> weights;
    for (const std::uint32_t a : group.members) {
      weights.push_back(rates[a]);
      group.rate_sum += rates[a];
    }
    group.by_rate = AliasTable(weights);
  }
}

double BenignPopulation::rhythm(const Group& group, double seconds) const {
  const double local = seconds / 3600.0 + group.tz_hours + 24.0 * 7;  // 2026-03-02 is a Monday
  const auto hour = static_cast<std::size_t>(std::fmod(local, 24.0));
  const auto weekday = static_cast<std::size_t>(std::fmod(local / 24.0, 7.0));  // 0 = Monday
  const bool weekend = weekday >= 5;
  if (group.office) return kOffice[hour] * (weekend ? 0.05 : 1.0);
  return (group.developer ? kDeveloper : kPersonal)[hour] * (weekend ? 0.85 : 1.0);
}

double BenignPopulation::activity(double seconds) const {
  double total = 0;
  for (const Group& group : groups_) total += group.rate_sum * rhythm(group, seconds);
  return total;
}

BenignSession BenignPopulation::session(double start_s, RandomDraws& random) const {
  std::vector<double> weights(groups_.size());
  for (std::size_t g = 0; g < groups_.size(); ++g) weights[g] = groups_[g].rate_sum * rhythm(groups_[g], start_s);
  std::uint32_t account = 0;
  for (int attempt = 0; attempt < 20; ++attempt) {
    const Group& group = groups_[random.weighted(weights)];
    account = group.members[group.by_rate.draw(random)];
    if (static_cast<double>(created_s_[account]) <= start_s) break;
  }
  BenignSession session;
  session.start_s = std::max(start_s, static_cast<double>(created_s_[account]));
  session.account = account;
  const Style style = style_[account];
  const double mean_size = style == Style::coding_assistant ? 8 : style == Style::agent_developer ? 5 : 3;
  session.exchanges = random.geometric_at_least_one(mean_size);
  session.gap_mean_s = style == Style::coding_assistant ? 12 : style == Style::agent_developer ? 8 : 70;
  const double local_hour = std::fmod(start_s / 3600.0 + tz_hours_[account] + 24.0 * 7, 24.0);
  const bool weekday = static_cast<std::size_t>(std::fmod((start_s / 3600.0 + tz_hours_[account] + 24.0 * 7) / 24.0, 7.0)) < 5;
  const std::uint32_t company = company_[account];
  if (company != kNoCompany && weekday && local_hour >= 8 && local_hour < 19 && random.chance(0.85)) {
    session.address = 0;  // through the company's NAT pool, chosen per exchange
  } else if (random.uniform() * 100 < mobile_percent_[account]) {
    session.address = network_.mobile_address(carrier_[account], mix64(account, static_cast<std::uint64_t>(start_s / 1800.0)));
  } else {
    session.address = network_.household_address(household_[account], start_s);
  }
  return session;
}

BenignExchange BenignPopulation::exchange(std::uint32_t account, double seconds, RandomDraws& random, const PromptFactory& prompts,
                                          double popular_share) const {
  BenignExchange out;
  out.user_agent = agents_[agent_[account]];
  switch (style_[account]) {
    case Style::general: out.prompt = prompts.general(random, popular_share); break;
    case Style::coding_assistant: out.prompt = prompts.coding_assistant(random, (agent_[account] - first_plugin_) % 3); break;
    case Style::agent_developer: out.prompt = prompts.agent_developer(random, account); break;
    case Style::batch: out.prompt = prompts.batch(random, account); break;
  }
  const std::uint32_t company = company_[account];
  if (company != kNoCompany) {
    out.address = network_.company_egress(company, static_cast<unsigned>(random.below(companies_[company].egress)));
  } else if (style_[account] == Style::batch) {
    out.address = network_.cloud_address(mix64(seed_, account, random.below(1 + account % 3)));
  } else {
    out.address = network_.household_address(household_[account], seconds);
  }
  return out;
}

TruthRow BenignPopulation::truth(std::uint32_t account) const {
  TruthRow row;
  row.label = "benign";
  const std::uint32_t company = company_[account];
  switch (style_[account]) {
    case Style::general: row.kind = company != kNoCompany ? "company-employee" : "individual"; break;
    case Style::coding_assistant: row.kind = "coding-assistant"; break;
    case Style::agent_developer: row.kind = "agent-developer"; break;
    case Style::batch: row.kind = "batch-customer"; break;
  }
  if (company != kNoCompany) {
    const Company& c = companies_[company];
    row.detail = "company=" + std::to_string(company) + ";egress=" + std::to_string(c.egress) +
                 (c.agent != 0 ? ";gateway-agent" : "") + (created_s_[account] > 0.0f ? ";onboarded-in-period" : "");
  } else if (created_s_[account] > 0.0f) {
    row.detail = "created-in-period";
  }
  if (shares_household_[account]) row.detail += std::string(row.detail.empty() ? "" : ";") + "shares-household";
  return row;
}

}  // namespace tracemark::campaigns
