// The simulated campaigns' plans: each operator's size, templates, proxy pool, user agents, shifts
// and model pivot; its accounts (created in bursts, each working a few templates) and the planned
// schedule of every campaign account and batch customer. Private to campaigns/.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "random_draws.hpp"
#include "simulated_network.hpp"
#include "simulated_population.hpp"
#include "simulated_prompts.hpp"
#include "tracemark/campaigns/traffic_simulator.hpp"

namespace tracemark::campaigns {

inline constexpr double kRateLimitGapSeconds = 3.0;  // 20 requests a minute per account

// A campaign account or batch customer: exchanges follow a planned schedule, exactly `remaining` more.
struct PlannedStream {
  std::uint32_t account = 0;
  std::uint32_t remaining = 0;
  double next_s = 0;
  double gap_s = 0;          // mechanical gap
  double gap_sigma = 0;      // log-normal spread of the gap (pacing jitter)
  double pause_probability = 0;
  double pause_mean_s = 0;
  std::uint32_t run_left = 0;  // batch: requests left in the current run (0: not batch)
  double run_idle_mean_s = 0;
  std::uint32_t run_length = 0;
};

struct OperatorPlan {
  std::string name;
  Capability target = Capability::reasoning;
  std::uint32_t first_account = 0, accounts = 0;
  std::uint64_t exchanges = 0;
  std::vector<CampaignTemplate> templates;
  std::vector<std::uint32_t> proxy_pool;
  std::vector<std::string> agents;   // [0], [1]: popular libraries; [2]: the operator's own stack's
  std::vector<std::pair<double, double>> off_windows;  // seconds [from, to) when the operator pauses
  double pivot_s = -1;               // switches half its traffic to the new model from here (-1: never)
  double adopt_s = 0;                // otherwise moves to the new model from here
};

struct CampaignAccount {
  std::uint32_t op = 0;
  std::uint32_t agent = 0;
  std::uint32_t current_proxy = 0;
  std::vector<std::uint16_t> templates;
  double created_s = 0;
};

struct CampaignPlan {
  std::vector<CampaignAccount> accounts;           // campaign account a is global account first + a
  std::vector<PlannedStream> streams;              // one per campaign account, in the same order
  std::unordered_set<std::uint32_t> pool_households;  // households whose address is in a proxy pool
};

// The operators at `scale` (exchanges and accounts), dropping those with fewer than 2 exchanges.
std::vector<OperatorPlan> size_operators(const std::vector<SimulatedOperator>& operators, double scale);

// Fills in every operator's plan and makes its accounts, numbered from `first_account`.
CampaignPlan plan_campaigns(std::vector<OperatorPlan>& plans, const TrafficSimulationOptions& options,
                            const BenignPopulation& population, const SimulatedNetwork& network, const PromptFactory& prompts,
                            std::uint32_t first_account);

// A batch customer's schedule: runs of requests at a fixed pace, idle between runs.
PlannedStream batch_stream(std::uint64_t seed, const BatchPlan& batch, double period_s);

// Moves a stream to its next exchange: the gap (or a pause, or a batch's idle time), the rate limit,
// and the operator's off shifts (`plan`: null for batch customers).
void advance_stream(PlannedStream& stream, RandomDraws& random, const OperatorPlan* plan);

}  // namespace tracemark::campaigns
