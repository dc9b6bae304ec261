// The benign accounts of simulated traffic: individuals, company employees behind their company's
// egress addresses, coding-assistant plugin users, agent developers and batch customers; their
// time zones, daily rhythms, households, mobile carriers, user agents and model adoption. Private to
// campaigns/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "random_draws.hpp"
#include "simulated_network.hpp"
#include "simulated_prompts.hpp"
#include "tracemark/campaigns/traffic_simulator.hpp"

namespace tracemark::campaigns {

struct BatchPlan {
  std::uint32_t account = 0;
  std::uint32_t exchanges = 0;
};

struct BenignSession {
  double start_s = 0;
  std::uint32_t account = 0;
  std::uint32_t address = 0;  // 0: chosen per exchange (a company's NAT pool)
  std::uint64_t exchanges = 1;
  double gap_mean_s = 60;
};

struct BenignExchange {
  SimulatedPrompt prompt;
  std::uint32_t address = 0;  // used when the session did not fix one
  std::string_view user_agent;
};

class BenignPopulation {
 public:
  BenignPopulation(std::uint64_t seed, std::uint64_t benign_exchanges, double period_s, double release_s,
                   const SimulatedNetwork& network);

  // About how many accounts the population will have (for sizing the mobile carriers' pools).
  static std::size_t expected_accounts(std::uint64_t benign_exchanges, double days);

  std::uint32_t size() const noexcept { return static_cast<std::uint32_t>(style_.size()); }
  std::uint32_t households() const noexcept { return households_; }
  std::uint32_t household_of(std::uint32_t account) const { return household_[account]; }
  double adoption_s(std::uint32_t account) const { return adopt_s_[account]; }
  const std::vector<BatchPlan>& batch_plans() const noexcept { return batch_plans_; }
  // Benign exchanges that are not batch customers' planned ones.
  std::uint64_t stochastic_exchanges() const noexcept { return stochastic_exchanges_; }

  // Relative activity of the whole population at `seconds` into the period (rhythms by time zone).
  double activity(double seconds) const;
  // A session starting at `start_s`: an account drawn by its activity then, its network and length.
  BenignSession session(double start_s, RandomDraws& random) const;
  // One exchange of `account` at `seconds`: its prompt, default address and user agent.
  BenignExchange exchange(std::uint32_t account, double seconds, RandomDraws& random, const PromptFactory& prompts,
                          double popular_share) const;
  TruthRow truth(std::uint32_t account) const;

 private:
  enum class Style : std::uint8_t { general, coding_assistant, agent_developer, batch };
  static constexpr std::uint32_t kNoCompany = 0xFFFFFFFFu;
  struct Company {
    int tz_hours = 0;
    unsigned egress = 1;
    std::uint32_t agent = 0;  // index into agents_ (a gateway's own agent, or 0: none)
    bool dev_shop = false;
  };
  struct Group {
    std::vector<std::uint32_t> members;
    AliasTable by_rate;
    double rate_sum = 0;
    int tz_hours = 0;
    bool office = false;      // company employees: office hours on weekdays
    bool developer = false;   // later hours
  };
  double rhythm(const Group& group, double seconds) const;

  std::uint64_t seed_;
  double period_s_;
  const SimulatedNetwork& network_;
  std::vector<std::string> agents_;  // popular agents, then plugins, then company gateways
  std::vector<Style> style_;
  std::vector<std::uint32_t> company_;
  std::vector<std::uint32_t> household_;
  std::vector<std::int8_t> tz_hours_;
  std::vector<float> created_s_;
  std::vector<float> adopt_s_;
  std::vector<std::uint8_t> carrier_;
  std::vector<std::uint8_t> mobile_percent_;
  std::vector<std::uint16_t> agent_;
  std::vector<bool> shares_household_;
  std::vector<Company> companies_;
  std::vector<Group> groups_;
  std::vector<BatchPlan> batch_plans_;
  std::uint32_t households_ = 0;
  std::uint32_t first_plugin_ = 0;  // agents_ index of the coding plugin's first version
  std::uint64_t stochastic_exchanges_ = 0;
};

}  // namespace tracemark::campaigns
