// The prompts of simulated traffic: benign kinds (general questions drawn from the corpora, popular
// prompts many strangers send, coding-assistant plugin requests, agent developers' tool schemas,
// batch customers' templates) and the campaigns' templates (slot filling and paraphrase, aimed at
// reasoning, tool use or coding). Private to campaigns/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "random_draws.hpp"
#include "tracemark/campaigns/capability.hpp"
#include "simulated_text.hpp"

namespace tracemark::campaigns {

struct SimulatedPrompt {
  std::string system;  // empty: no system message
  std::string user;
  bool chat = true;    // false: /v1/completions with a text prompt
};


// One template of a campaign: fixed segments (each rendered through the operator's paraphrase table)
// and slots filled per request.
struct CampaignTemplate {
  Capability target = Capability::reasoning;
  std::vector<std::string> system_segments;
  std::vector<std::string> user_segments;  // may hold slot markers {payload}, {subject}, {code}, {tools}, ...
};

// Immutable; thread-safe.
class PromptFactory {
 public:
  PromptFactory(const SimulatedText& text, std::uint64_t seed);

  // A general benign prompt; with probability popular_share one of the popular prompts (Zipf ranks).
  SimulatedPrompt general(RandomDraws& random, double popular_share) const;
  // A coding-assistant plugin's request (the plugin's fixed wrapper around the user's code).
  SimulatedPrompt coding_assistant(RandomDraws& random, unsigned plugin_version) const;
  // An agent developer's request: the developer's own tool schema, a task.
  SimulatedPrompt agent_developer(RandomDraws& random, std::uint64_t developer) const;
  // A batch customer's templated request (the customer's own template over the corpora's text).
  SimulatedPrompt batch(RandomDraws& random, std::uint64_t customer) const;

  // `count` templates for one operator (deterministic in seed and operator).
  std::vector<CampaignTemplate> campaign_templates(Capability target, std::size_t count, std::uint64_t operator_seed) const;
  // One request from a template, paraphrased (each paraphrasable phrase swapped with probability
  // paraphrase_rate) and slot-filled.
  SimulatedPrompt campaign(const CampaignTemplate& chosen, RandomDraws& random, double paraphrase_rate) const;

 private:
  std::string code_snippet(RandomDraws& random) const;
  std::string fill_slots(const std::string& segment, RandomDraws& random) const;

  const SimulatedText& text_;
  std::uint64_t seed_;
  std::vector<std::string> popular_;
};

}  // namespace tracemark::campaigns
