// Tool-call answers that always parse and always match their schema: constrained decoding of the
// reference model. The response is
//   [preamble "\n"] <tool_call>{"name": "NAME", "arguments": {"ARG": VALUE, ...}}</tool_call>
// (the text format of verify/text_records.hpp's tool_call_text()). Everything the schema fixes is
// forced (markers, braces, the keys "name" and "arguments", the required argument names in schema
// order); the model chooses, under a mask, only what is free: the preamble, the function among
// those offered, string contents, integers, enum members and booleans. A forced step has one
// possible token (entropy 0), so an entropy-aware key never biases it, and a syntax-aware processor
// never biases the structure either. The watermark processor sees every free step's masked logits
// and accepts every token, forced ones included, exactly as in generate_response().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tracemark/refmodel/response_generator.hpp"

namespace tracemark {

struct ToolArgument {
  enum class Type { string, integer, boolean };
  std::string name;
  Type type = Type::string;
  std::vector<std::string> choices;  // a string enum's members (empty: free text)
};

struct ToolSchema {
  std::string name;
  std::vector<ToolArgument> arguments;  // the required ones, in the schema's order
};

// OpenAI "tools" ([{"type": "function", "function": {"name", "parameters": {"properties",
// "required"}}}]): the required arguments of type string (optionally with "enum"), integer or
// boolean. Throws Error(invalid_input) naming `where` and the field for anything else.
std::vector<ToolSchema> parse_tool_schemas(const nlohmann::json& tools, const std::string& where);

// Whether arguments (a JSON object) match the schema exactly: every required argument present with
// its type (and enum), no other member. For the generator's own check and the tests.
bool arguments_match_schema(const nlohmann::json& arguments, const ToolSchema& schema);

// The vocabulary facts the decoder needs, computed once per tokenizer. Immutable; shareable.
class ToolCallVocabulary {
 public:
  using Encoder = std::function<std::vector<std::uint32_t>(std::string_view)>;
  // token_bytes: the bytes of each id (size = the model's vocabulary); encode: the tokenizer.
  ToolCallVocabulary(std::vector<std::string> token_bytes, Encoder encode);

  std::vector<std::uint32_t> encode(std::string_view text) const { return encode_(text); }
  const std::string& bytes(std::uint32_t id) const { return bytes_[id]; }
  std::uint32_t size() const noexcept { return static_cast<std::uint32_t>(bytes_.size()); }
  // Masks by id (1 = allowed).
  const std::vector<std::uint8_t>& text_tokens() const noexcept { return text_; }      // preamble text
  const std::vector<std::uint8_t>& string_tokens() const noexcept { return string_; }  // inside a JSON string
  const std::vector<std::uint8_t>& integer_tokens() const noexcept { return integer_; }  // digits, no leading 0
  const std::vector<std::uint8_t>& line_end_tokens() const noexcept { return line_end_; }  // text then one "\n"
  std::uint32_t quote_token() const noexcept { return quote_; }
  std::uint32_t open_marker_token() const noexcept { return open_marker_; }  // the first token of "<tool_call>"

 private:
  std::vector<std::string> bytes_;
  Encoder encode_;
  std::vector<std::uint8_t> text_, string_, integer_, line_end_;
  std::uint32_t quote_ = 0, open_marker_ = 0;
};

struct ToolCallLimits {
  std::size_t max_preamble_tokens = 24;
  std::size_t max_string_tokens = 12;
};

struct ToolCallResponse {
  std::vector<std::uint32_t> tokens;
  std::vector<float> entropy;  // per token: the masked distribution's entropy (0 for forced tokens)
  std::string text;            // the tokens' bytes
  std::string preamble;        // the message's content ("" when none)
  std::string function_name;
  std::string arguments;       // the arguments object as JSON text (the OpenAI "arguments" string)
};

// Samples one tool-call answer to prompt with the sampling options' temperature (top-k and top-p
// are not used: the masks need the whole distribution). processor may be null. The arguments
// always parse and match the chosen schema.
ToolCallResponse generate_tool_call(const NgramModel& model, const ToolCallVocabulary& vocabulary,
                                    std::span<const ToolSchema> tools, std::span<const std::uint32_t> prompt,
                                    const SamplingOptions& sampling, const ToolCallLimits& limits, SplitMix64& rng,
                                    WatermarkProcessor* processor, GenerationScratch& scratch);

}  // namespace tracemark
