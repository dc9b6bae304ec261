#include "tracemark/campaigns/capability.hpp"

#include <string>

namespace tracemark::campaigns {
namespace {

bool contains_any(std::string_view text, std::initializer_list<std::string_view> needles) {
  for (const std::string_view needle : needles) {
    if (text.find(needle) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

const char* capability_name(Capability capability) noexcept {
  switch (capability) {
    case Capability::reasoning: return "reasoning";
    case Capability::tool_use: return "tool_use";
    case Capability::coding: return "coding";
    case Capability::other: return "other";
  }
  return "other";
}

Capability classify_prompt(std::string_view prompt) {
  // Only the first 2 kB: enough for any instruction, and bounded work per exchange.
  std::string lower(prompt.substr(0, 2048));
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (contains_any(lower, {"```", "def ", "function", "repository", "codebase", "code", "implement", "engineer", "unit test", "refactor", "compile", " bug"})) {
    return Capability::coding;
  }
  if (contains_any(lower, {"tool", "function call", "json", " api", "sql", "dataset", ".csv", "dataframe"})) {
    return Capability::tool_use;
  }
  if (contains_any(lower, {"step by step", "reasoning", "chain of thought", "prove", "solve", "score the", "rate how",
                           "which is better", "final answer"})) {
    return Capability::reasoning;
  }
  return Capability::other;
}

}  // namespace tracemark::campaigns
