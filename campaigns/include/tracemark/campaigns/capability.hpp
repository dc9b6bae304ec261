// The capabilities a distillation campaign aims at, and a transparent keyword classifier of a
// prompt's capability (for the report's "targets" shares; it is a description, never a link
// signal, so its mistakes cannot flag anyone).
#pragma once

#include <array>
#include <string_view>

namespace tracemark::campaigns {

enum class Capability : unsigned char { reasoning = 0, tool_use = 1, coding = 2, other = 3 };
inline constexpr std::size_t kCapabilities = 4;

// "reasoning", "tool_use", "coding", "other".
const char* capability_name(Capability capability) noexcept;

// Rules, in order (the first that matches wins), over the lower-cased prompt:
//   coding:    a code fence, "def ", "function", "repository", "codebase", "code", "implement", "engineer",
//              "unit test", "refactor", "compile", " bug"
//   tool_use:  "tool", "function call", "json", "api", "sql", "dataset", ".csv", "dataframe"
//   reasoning: "step by step", "reasoning", "chain of thought", "prove", "solve", "score the", "rate how",
//              "which is better", "final answer"
//   other:     everything else
Capability classify_prompt(std::string_view prompt);

}  // namespace tracemark::campaigns
