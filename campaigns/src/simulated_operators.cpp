#include "simulated_operators.hpp"

#include <algorithm>
#include <cmath>

namespace tracemark::campaigns {
namespace {

double lognormal_unit_mean(RandomDraws& random, double sigma) {
  return std::exp(sigma * random.normal() - 0.5 * sigma * sigma);
}

// Integer budgets proportional to weights, summing to exactly `total` (largest remainders).
std::vector<std::uint32_t> apportion(const std::vector<double>& weights, std::uint64_t total) {
  double sum = 0;
  for (const double w : weights) sum += w;
  std::vector<std::uint32_t> out(weights.size());
  std::vector<std::pair<double, std::size_t>> remainders;
  std::uint64_t given = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const double exact = static_cast<double>(total) * weights[i] / sum;
    out[i] = static_cast<std::uint32_t>(std::floor(exact));
    given += out[i];
    remainders.emplace_back(exact - std::floor(exact), i);
  }
  std::sort(remainders.begin(), remainders.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  for (std::size_t i = 0; given < total; i = (i + 1) % remainders.size(), ++given) ++out[remainders[i].second];
  return out;
}

}  // namespace

std::vector<OperatorPlan> size_operators(const std::vector<SimulatedOperator>& operators, double scale) {
  std::vector<OperatorPlan> plans;
  for (const SimulatedOperator& op : operators) {
    const auto exchanges = static_cast<std::uint64_t>(std::llround(op.exchanges * scale));
    if (exchanges < 2) continue;
    OperatorPlan plan;
    plan.name = op.name;
    plan.target = op.target;
    plan.exchanges = exchanges;
    plan.accounts = static_cast<std::uint32_t>(std::clamp<double>(std::round(op.accounts * scale), 2.0, static_cast<double>(exchanges)));
    plan.pivot_s = op.pivots_to_new_model ? 0.0 : -1.0;
    plans.push_back(std::move(plan));
  }
  return plans;
}

CampaignPlan plan_campaigns(std::vector<OperatorPlan>& plans, const TrafficSimulationOptions& options,
                            const BenignPopulation& population, const SimulatedNetwork& network, const PromptFactory& prompts,
                            std::uint32_t first_account) {
  const std::uint64_t seed = options.seed;
  const double period_s = options.days * 86400.0;
  const double release_s = options.release_at * period_s;
  CampaignPlan campaign;
  std::uint32_t next_account = first_account;
  for (std::size_t o = 0; o < plans.size(); ++o) {
    OperatorPlan& plan = plans[o];
    RandomDraws random(seed, "operator", o);
    plan.first_account = next_account;
    next_account += plan.accounts;
    plan.templates = prompts.campaign_templates(plan.target, options.templates_per_operator, mix64(seed, o));
    // The proxy pool: a share are benign households' own addresses, the rest exits of the same
    // residential ISPs (and a fifth of those datacenter addresses).
    const auto pool_size = static_cast<std::size_t>(std::max(16.0, std::round(1.5 * plan.accounts * options.proxy_pool_factor)));
    for (std::size_t i = 0; i < pool_size; ++i) {
      if (random.chance(options.proxy_overlap) && population.households() > 0) {
        const auto household = static_cast<std::uint32_t>(random.below(population.households()));
        campaign.pool_households.insert(household);
        plan.proxy_pool.push_back(network.household_address(household, 0));
      } else if (random.chance(0.8)) {
        plan.proxy_pool.push_back(network.residential_exit(mix64(seed, o, i)));
      } else {
        plan.proxy_pool.push_back(network.cloud_address(mix64(seed ^ 0xC10D, o, i)));
      }
    }
    // User agents: two popular client libraries and the operator's own stack (a less common version).
    const auto& popular = network.popular_agents();
    std::vector<double> sdk_weights = network.popular_weights();
    for (std::size_t i = 0; i < popular.size(); ++i) {
      if (popular[i].rfind("Mozilla", 0) == 0) sdk_weights[i] = 0;  // scripts, not browsers
    }
    plan.agents.push_back(popular[random.weighted(sdk_weights)]);
    plan.agents.push_back(popular[random.weighted(sdk_weights)]);
    plan.agents.push_back(popular[popular.size() - 1 - random.below(3)]);
    if (options.operator_shifts) {
      for (double day = 0; day < options.days; day += 1) {
        const double from = (day + random.uniform()) * 86400.0;
        plan.off_windows.emplace_back(from, from + 3600.0 * (2 + 4 * random.uniform()));
      }
    }
    if (plan.pivot_s >= 0) plan.pivot_s = release_s + 3600.0 * (2 + 18 * random.uniform());
    plan.adopt_s = release_s + random.exponential(5 * 86400.0);

    // Accounts: created in bursts over the first half of the period; budgets log-normal.
    std::vector<double> weights(plan.accounts);
    for (double& w : weights) w = lognormal_unit_mean(random, 0.5);
    const std::vector<std::uint32_t> budgets = apportion(weights, plan.exchanges);
    std::uint32_t made = 0;
    while (made < plan.accounts) {
      const auto burst = static_cast<std::uint32_t>(std::clamp(random.lognormal(30, 0.7), 3.0, 400.0));
      const double burst_s = random.uniform() * 0.5 * period_s;
      for (std::uint32_t b = 0; b < burst && made < plan.accounts; ++b, ++made) {
        CampaignAccount account;
        account.op = static_cast<std::uint32_t>(o);
        account.created_s = burst_s + random.uniform() * options.burst_minutes * 60.0;
        const double roll = random.uniform();
        account.agent = roll < 0.45 ? 0 : roll < 0.9 ? 1 : 2;
        account.current_proxy = static_cast<std::uint32_t>(random.below(plan.proxy_pool.size()));
        // Each account works a few of the operator's templates (a worker per task family).
        const std::size_t wanted = std::min<std::size_t>(plan.templates.size(), 2 + random.below(5));
        while (account.templates.size() < wanted) {
          const auto t = static_cast<std::uint16_t>(std::min<std::size_t>(
              plan.templates.size() - 1, static_cast<std::size_t>(std::pow(static_cast<double>(plan.templates.size()) + 1, random.uniform())) - 1));
          if (std::find(account.templates.begin(), account.templates.end(), t) == account.templates.end()) account.templates.push_back(t);
        }
        PlannedStream stream;
        stream.account = plan.first_account + made;
        stream.remaining = budgets[made];
        stream.next_s = account.created_s + random.exponential(120.0);
        const double available = std::max(period_s - stream.next_s, 0.3 * period_s) * 0.9;
        const double needed = available / std::max<std::uint32_t>(1, stream.remaining);
        stream.gap_s = std::max(kRateLimitGapSeconds, 0.4 * needed);
        stream.gap_sigma = std::sqrt(std::log1p(options.pacing_jitter * options.pacing_jitter));
        stream.pause_mean_s = 1800.0;
        stream.pause_probability = std::clamp((needed - stream.gap_s) / stream.pause_mean_s, 0.0, 1.0);
        campaign.streams.push_back(stream);
        campaign.accounts.push_back(std::move(account));
      }
    }
  }
  return campaign;
}

PlannedStream batch_stream(std::uint64_t seed, const BatchPlan& batch, double period_s) {
  PlannedStream stream;
  stream.account = batch.account;
  stream.remaining = batch.exchanges;
  RandomDraws random(seed, "batch-schedule", batch.account);
  stream.gap_s = std::min(1.0 + 2.0 * random.uniform(), 0.8 * period_s / std::max<std::uint32_t>(1, batch.exchanges));
  stream.gap_sigma = 0.05;
  stream.run_length = static_cast<std::uint32_t>(300 + random.below(2700));
  const double runs = std::ceil(static_cast<double>(batch.exchanges) / stream.run_length);
  stream.run_idle_mean_s = std::max(0.0, (0.9 * period_s - batch.exchanges * stream.gap_s) / runs);
  stream.next_s = random.uniform() * stream.run_idle_mean_s;
  stream.run_left = stream.run_length;
  return stream;
}

void advance_stream(PlannedStream& stream, RandomDraws& random, const OperatorPlan* plan) {
  const double now = stream.next_s;
  double next = now + stream.gap_s * lognormal_unit_mean(random, stream.gap_sigma);
  if (stream.run_length > 0) {
    if (--stream.run_left == 0) {
      stream.run_left = stream.run_length;
      next += random.exponential(stream.run_idle_mean_s);
    }
  } else {
    next = std::max(next, now + kRateLimitGapSeconds);
    if (random.chance(stream.pause_probability)) next += random.exponential(stream.pause_mean_s);
    if (plan) {
      for (const auto& [from, to] : plan->off_windows) {
        if (next >= from && next < to) {
          next = to + random.exponential(60.0);  // the operator's shift resumes
          break;
        }
      }
    }
  }
  stream.next_s = next;
}

}  // namespace tracemark::campaigns
