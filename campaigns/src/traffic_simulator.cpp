#include "tracemark/campaigns/traffic_simulator.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <queue>
#include <unordered_set>

#include "random_draws.hpp"
#include "tracemark/campaigns/audit_record.hpp"
#include "simulated_network.hpp"
#include "simulated_operators.hpp"
#include "simulated_population.hpp"
#include "simulated_prompts.hpp"
#include "simulated_text.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/pinned_files.hpp"

namespace tracemark::campaigns {
namespace {

using OrderedJson = nlohmann::ordered_json;
constexpr double kSliceSeconds = 60.0;

// One exchange waiting to be written.
struct PendingExchange {
  std::int64_t time_ms = 0;
  std::uint64_t order = 0;     // tie-break: creation order
  std::uint32_t account = 0;   // global account index
  std::uint32_t address = 0;   // chosen for the session (benign); 0: chosen at emission
  std::uint32_t stream = 0;    // planned stream index + 1 (0: a benign session's exchange)
  bool operator>(const PendingExchange& other) const {
    return time_ms != other.time_ms ? time_ms > other.time_ms : order > other.order;
  }
};

std::string account_name(std::uint64_t seed, std::uint64_t index, std::unordered_set<std::string>& taken) {
  for (std::uint64_t attempt = 0;; ++attempt) {
    const std::uint64_t h = mix64(seed, purpose_tag("account-name") + attempt, index);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string name = "acct-";
    for (int i = 0; i < 12; ++i) name.push_back(kHex[(h >> (4 * i)) & 15]);
    if (taken.insert(name).second) return name;
  }
}

std::string hex_id(std::uint64_t a, std::uint64_t b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (const std::uint64_t word : {a, b}) {
    for (int i = 0; i < 12; ++i) id.push_back(kHex[(word >> (4 * i)) & 15]);
  }
  return id;
}

void check_options(const TrafficSimulationOptions& o) {
  const auto fail = [](const std::string& message) { throw Error(ErrorCode::invalid_argument, message); };
  if (o.exchanges < 1) fail("--exchanges must be at least 1");
  if (!(o.days >= 1.0 / 24 && o.days <= 366)) fail("--days must be from 1/24 (one hour) to 366");
  if (o.scale && !(*o.scale >= 0 && *o.scale <= 100)) fail("--scale must be from 0 to 100");
  if (!(o.campaign_share >= 0 && o.campaign_share < 0.95)) fail("--campaign-share must be from 0 to 0.95");
  if (o.templates_per_operator < 1 || o.templates_per_operator > 10'000) fail("--templates must be from 1 to 10000");
  if (!(o.proxy_overlap >= 0 && o.proxy_overlap <= 1)) fail("--proxy-overlap must be from 0 to 1");
  if (!(o.proxy_pool_factor > 0 && o.proxy_pool_factor <= 1000)) fail("--proxy-pool-factor must be above 0 (at most 1000)");
  if (!(o.pacing_jitter >= 0 && o.pacing_jitter <= 5)) fail("--pacing-jitter must be from 0 to 5");
  if (!(o.paraphrase_rate >= 0 && o.paraphrase_rate <= 1)) fail("--paraphrase-rate must be from 0 to 1");
  if (!(o.burst_minutes > 0 && o.burst_minutes <= 7 * 24 * 60)) fail("--burst-minutes must be above 0 (at most a week)");
  if (!(o.release_at >= 0 && o.release_at <= 1)) fail("the release time must be within the period (0 to 1)");
}

}  // namespace

std::vector<SimulatedOperator> reported_operators() {
  return {{"op1-reasoning", Capability::reasoning, 150'000, 1'500, false},
          {"op2-tool-use", Capability::tool_use, 3'400'000, 6'800, false},
          {"op3-coding", Capability::coding, 13'000'000, 15'700, true}};
}

std::vector<std::filesystem::path> default_corpus_files() {
  const std::filesystem::path folder = cache_folder() / "corpora";
  std::vector<std::filesystem::path> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    const auto train = entry.path() / "train.jsonl";
    if (std::filesystem::is_regular_file(train, error)) files.push_back(train);
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    throw Error(ErrorCode::io, "no corpora in " + folder.string() + " (corpora/*/train.jsonl); run ./tools/setup.sh "
                               "(it builds them), set TRACEMARK_CACHE, or give --corpus FILE.jsonl");
  }
  return files;
}

TrafficSimulationSummary simulate_traffic(const TrafficSimulationOptions& options,
                                          const std::function<void(std::string_view)>& write_line,
                                          const SimulatedResponder* responder) {
  check_options(options);
  const std::uint64_t seed = options.seed;
  const double period_s = options.days * 86400.0;
  const double release_s = options.release_at * period_s;

  // Campaign sizes.
  double reported_total = 0;
  for (const SimulatedOperator& op : options.operators) reported_total += op.exchanges;
  const double scale = options.scale ? *options.scale
                       : reported_total > 0 ? options.campaign_share * static_cast<double>(options.exchanges) / reported_total
                                            : 0.0;
  TrafficSimulationSummary summary;
  summary.scale = scale;
  std::vector<OperatorPlan> plans = size_operators(options.operators, scale);
  std::uint64_t campaign_exchanges = 0;
  for (const OperatorPlan& plan : plans) campaign_exchanges += plan.exchanges;
  if (campaign_exchanges > options.exchanges * 95 / 100) {
    throw Error(ErrorCode::invalid_argument, "the campaigns at --scale " + std::to_string(scale) + " would send " +
                                                 std::to_string(campaign_exchanges) + " of the " + std::to_string(options.exchanges) +
                                                 " exchanges; raise --exchanges or lower --scale");
  }
  const std::uint64_t benign_exchanges = options.exchanges - campaign_exchanges;
  const SimulatedText text(options.corpus_files.empty() ? default_corpus_files() : options.corpus_files);
  const PromptFactory prompts(text, seed);

  // The benign population, then the campaign accounts after it.
  SimulatedNetwork network(seed, BenignPopulation::expected_accounts(benign_exchanges, options.days));
  BenignPopulation population(seed, benign_exchanges, period_s, release_s, network);
  std::uint32_t next_account = static_cast<std::uint32_t>(population.size());
  CampaignPlan campaign = plan_campaigns(plans, options, population, network, prompts, next_account);
  next_account += static_cast<std::uint32_t>(campaign.accounts.size());
  std::vector<CampaignAccount>& campaign_accounts = campaign.accounts;
  std::vector<PlannedStream>& streams = campaign.streams;
  // Batch customers are planned streams too (a fixed number of requests at a fixed pace, in runs).
  for (const BatchPlan& batch : population.batch_plans()) streams.push_back(batch_stream(seed, batch, period_s));

  // Planned streams wait in a heap by their next exchange's time.
  using StreamEntry = std::pair<double, std::uint32_t>;
  std::priority_queue<StreamEntry, std::vector<StreamEntry>, std::greater<>> planned;
  for (std::uint32_t i = 0; i < streams.size(); ++i) {
    if (streams[i].remaining > 0) planned.emplace(streams[i].next_s, i);
  }
  std::priority_queue<PendingExchange, std::vector<PendingExchange>, std::greater<>> sessions;
  std::uint64_t order = 0;

  std::unordered_set<std::string> taken_names;
  std::vector<std::string> names(next_account);
  for (std::uint32_t a = 0; a < next_account; ++a) names[a] = account_name(seed, a, taken_names);


  const std::int64_t start_ms = options.start_ms;
  std::uint64_t written = 0;
  std::vector<PendingExchange> due;
  const auto emit = [&](const PendingExchange& exchange) {
    RandomDraws random(seed, "exchange", written);
    const std::uint32_t a = exchange.account;
    SimulatedPrompt prompt;
    std::uint32_t address = exchange.address;
    std::string_view agent;
    std::string model = options.old_model;
    const double at_s = static_cast<double>(exchange.time_ms) / 1000.0;
    std::string endpoint = "/v1/chat/completions";
    if (a < population.size()) {
      const BenignExchange benign = population.exchange(a, at_s, random, prompts, options.popular_prompt_share);
      prompt = benign.prompt;
      if (address == 0) address = benign.address;
      agent = benign.user_agent;
      if (at_s >= population.adoption_s(a) && at_s >= release_s) model = options.new_model;
    } else {
      CampaignAccount& account = campaign_accounts[a - population.size()];
      const OperatorPlan& plan = plans[account.op];
      const CampaignTemplate& chosen = plan.templates[account.templates[random.below(account.templates.size())]];
      prompt = prompts.campaign(chosen, random, options.paraphrase_rate);
      if (!random.chance(0.5)) account.current_proxy = static_cast<std::uint32_t>(random.below(plan.proxy_pool.size()));
      address = plan.proxy_pool[account.current_proxy];
      agent = plan.agents[account.agent];
      const bool pivoted = plan.pivot_s >= 0 && at_s >= plan.pivot_s && random.chance(0.5);
      if (pivoted || (at_s >= release_s && at_s >= plan.adopt_s)) model = options.new_model;
    }
    OrderedJson prompt_json;
    if (prompt.chat) {
      prompt_json = OrderedJson::array();
      if (!prompt.system.empty()) prompt_json.push_back({{"role", "system"}, {"content", prompt.system}});
      prompt_json.push_back({{"role", "user"}, {"content", prompt.user}});
    } else {
      endpoint = "/v1/completions";
      prompt_json = prompt.system.empty() ? prompt.user : prompt.system + "\n\n" + prompt.user;
    }
    const std::uint64_t request_seed = random.bits() >> 1;  // requests carry signed 64-bit seeds
    const std::size_t max_tokens = 64 + 64 * random.below(8);
    OrderedJson line;
    line["audit_version"] = 2;
    line["time"] = format_rfc3339_ms(start_ms + exchange.time_ms);
    line["account"] = names[a];
    line["client_address"] = ipv4_text(address);
    line["user_agent"] = agent;
    line["request_id"] = (prompt.chat ? "chatcmpl-" : "cmpl-") + hex_id(mix64(seed, written), mix64(seed ^ 0xA5A5, written));
    line["endpoint"] = endpoint;
    line["model"] = model;
    if (responder) {
      OrderedJson body = {{"model", model}};
      body[prompt.chat ? "messages" : "prompt"] = prompt_json;
      body["max_tokens"] = max_tokens;
      body["seed"] = request_seed;
      const SimulatedResponse response = (*responder)(body, names[a], start_ms + exchange.time_ms);
      line["key_id"] = response.key_id;
      // Audit version 3's field (serving/include/tracemark/serving/audit_log.hpp).
      if (!response.key_label.empty()) {
        line["audit_version"] = 3;
        line["key_label"] = response.key_label;
      }
      line["prompt"] = prompt_json;
      line["prompt_tokens"] = response.prompt_tokens;
      line["text"] = response.text;
      line["tokens"] = response.tokens;
      line["finish_reason"] = "length";
    } else {
      line["prompt"] = prompt_json;
    }
    line["stream"] = false;
    line["max_tokens"] = max_tokens;
    line["temperature"] = 1.0;
    line["top_p"] = 1.0;
    line["seed"] = request_seed;
    write_line(line.dump(-1, ' ', false, OrderedJson::error_handler_t::replace));
    ++written;
  };

  // Benign exchanges: each minute's count is its share of the benign total (by the population's
  // rhythm), spent as sessions of the accounts active then; planned streams run on their own.
  const auto slices = static_cast<std::size_t>(std::ceil(period_s / kSliceSeconds));
  std::vector<double> slice_weights(slices);
  double weight_left = 0;
  for (std::size_t s = 0; s < slices; ++s) weight_left += slice_weights[s] = population.activity((static_cast<double>(s) + 0.5) * kSliceSeconds);
  std::uint64_t benign_left = population.stochastic_exchanges();
  RandomDraws allocation(seed, "slice-allocation");
  for (std::size_t s = 0; s <= slices; ++s) {
    const double slice_start = static_cast<double>(s) * kSliceSeconds;
    if (s < slices) {
      std::uint64_t count = benign_left;
      if (s + 1 < slices && weight_left > 0) {
        count = std::min<std::uint64_t>(benign_left, static_cast<std::uint64_t>(std::floor(
                                                         static_cast<double>(benign_left) * slice_weights[s] / weight_left + allocation.uniform())));
      }
      weight_left -= slice_weights[s];
      benign_left -= count;
      RandomDraws random(seed, "slice", s);
      while (count > 0) {
        const BenignSession session = population.session(slice_start + random.uniform() * kSliceSeconds, random);
        const std::uint64_t size = std::min<std::uint64_t>(count, session.exchanges);
        double at = session.start_s;
        for (std::uint64_t i = 0; i < size; ++i) {
          sessions.push({static_cast<std::int64_t>(std::llround(at * 1000.0)), order++, session.account, session.address, 0});
          at += random.exponential(session.gap_mean_s) + 1.0;
        }
        count -= size;
      }
    }
    const double slice_end = s < slices ? slice_start + kSliceSeconds : 1e300;
    due.clear();
    while (!sessions.empty() && static_cast<double>(sessions.top().time_ms) < slice_end * 1000.0) {
      due.push_back(sessions.top());
      sessions.pop();
    }
    while (!planned.empty() && planned.top().first < slice_end) {
      const std::uint32_t i = planned.top().second;
      planned.pop();
      PlannedStream& stream = streams[i];
      due.push_back({static_cast<std::int64_t>(std::llround(stream.next_s * 1000.0)), order++, stream.account, 0, i + 1});
      RandomDraws random(seed, "stream-step", (static_cast<std::uint64_t>(i) << 32) ^ stream.remaining);
      if (--stream.remaining > 0) {
        const bool campaign_stream = stream.account >= population.size();
        advance_stream(stream, random, campaign_stream ? &plans[campaign_accounts[stream.account - population.size()].op] : nullptr);
        planned.emplace(stream.next_s, i);
      }
    }
    std::sort(due.begin(), due.end(), [](const PendingExchange& x, const PendingExchange& y) { return y > x; });
    for (const PendingExchange& exchange : due) emit(exchange);
  }

  // Ground truth and counts.
  summary.exchanges = written;
  summary.benign_exchanges = benign_exchanges;
  summary.benign_accounts = population.size();
  for (std::uint32_t a = 0; a < population.size(); ++a) {
    TruthRow row = population.truth(a);
    row.account = names[a];
    if (campaign.pool_households.contains(population.household_of(a))) {
      row.detail += std::string(row.detail.empty() ? "" : ";") + "home-address-in-a-proxy-pool";
    }
    summary.truth.push_back(std::move(row));
  }
  for (const OperatorPlan& plan : plans) {
    summary.operators.push_back({plan.name, plan.accounts, plan.exchanges});
    for (std::uint32_t a = plan.first_account; a < plan.first_account + plan.accounts; ++a) {
      summary.truth.push_back({names[a], plan.name, "campaign", std::string("target=") + capability_name(plan.target)});
    }
  }
  std::sort(summary.truth.begin(), summary.truth.end(), [](const TruthRow& x, const TruthRow& y) { return x.account < y.account; });
  return summary;
}

}  // namespace tracemark::campaigns
