#include "tracemark/refmodel/tool_call_decoder.hpp"

#include <algorithm>
#include <limits>

#include "tracemark/embed/step_entropy.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

constexpr std::string_view kOpenMarker = "<tool_call>";
constexpr std::string_view kCloseMarker = "</tool_call>";

// Whether bytes are complete, valid UTF-8 (no sequence cut at either end).
bool is_complete_utf8(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size();) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    const std::size_t length = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (length == 0 || i + length > bytes.size()) return false;
    for (std::size_t j = 1; j < length; ++j) {
      if ((static_cast<unsigned char>(bytes[i + j]) >> 6) != 2) return false;
    }
    i += length;
  }
  return true;
}

// Text that may stand inside a JSON string as it is: no control byte, quote or backslash.
bool is_plain_string_text(std::string_view bytes) {
  if (bytes.empty() || !is_complete_utf8(bytes)) return false;
  return std::none_of(bytes.begin(), bytes.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == '"' || c == '\\';
  });
}

std::string json_string(std::string_view text) { return nlohmann::json(std::string(text)).dump(); }

[[noreturn]] void bad_schema(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::invalid_input, where + ": " + what +
                                            "; tool-call decoding supports required arguments of type string (optionally "
                                            "with enum), integer or boolean");
}

// The decoding state of one response.
class Decoding {
 public:
  Decoding(const NgramModel& model, const ToolCallVocabulary& vocabulary, std::span<const std::uint32_t> prompt,
           const SamplingOptions& sampling, SplitMix64& rng, WatermarkProcessor* processor, GenerationScratch& scratch)
      : model_(model), vocabulary_(vocabulary), sampling_(sampling), rng_(rng), processor_(processor), scratch_(scratch) {
    if (processor_ && processor_->chooses_token()) {
      // The constrained decoder samples inside its grammar itself; it has no keyed choice.
      throw Error(ErrorCode::invalid_argument, "tool-call answers are watermarked with a green-list key only; this key's "
                                               "scheme chooses the token (gumbel-max, synthid-tournament): answer tool-call prompts with a "
                                               "kgw-green-list key");
    }
    scratch_.history.assign(prompt.begin(), prompt.end());
    if (processor_) processor_->reset(prompt);
  }

  void force(std::string_view text) {
    for (std::uint32_t token : vocabulary_.encode(text)) emit(token, 0.0f);
  }

  // One free step: the model's distribution restricted to allowed ids (allowed(id) -> bool).
  template <typename Allowed>
  std::uint32_t sample(Allowed allowed) {
    auto& logits = scratch_.logits;
    logits.resize(model_.vocab_size());
    model_.log_probabilities(scratch_.history, logits, scratch_.model);
    bool any = false;
    for (std::uint32_t id = 0; id < logits.size(); ++id) {
      if (!allowed(id)) {
        logits[id] = -std::numeric_limits<float>::infinity();
      } else {
        any = any || logits[id] > -std::numeric_limits<float>::infinity();
      }
    }
    if (!any) {  // the model gives every allowed id probability 0: choose among them uniformly
      for (std::uint32_t id = 0; id < logits.size(); ++id) {
        if (allowed(id)) logits[id] = 0.0f;
      }
    }
    const auto entropy = static_cast<float>(logits_entropy(logits));
    if (processor_) processor_->apply(std::span<float>(logits));
    const std::uint32_t token = sample_from_logits(logits, sampling_, rng_.uniform(), scratch_.sampler);
    emit(token, entropy);
    return token;
  }

  // Chooses one of several token sequences (prefix-free), one token at a time; returns its index.
  std::size_t choose(const std::vector<std::vector<std::uint32_t>>& alternatives) {
    std::vector<std::size_t> live(alternatives.size());
    for (std::size_t i = 0; i < live.size(); ++i) live[i] = i;
    for (std::size_t k = 0;; ++k) {
      for (std::size_t i : live) {
        if (alternatives[i].size() == k) return i;
      }
      std::vector<std::uint32_t> next;
      for (std::size_t i : live) next.push_back(alternatives[i][k]);
      std::sort(next.begin(), next.end());
      next.erase(std::unique(next.begin(), next.end()), next.end());
      std::uint32_t token = next.front();
      if (next.size() == 1) {
        emit(token, 0.0f);
      } else {
        token = sample([&](std::uint32_t id) { return std::binary_search(next.begin(), next.end(), id); });
      }
      std::erase_if(live, [&](std::size_t i) { return alternatives[i][k] != token; });
    }
  }

  std::string& text() { return response_.text; }
  ToolCallResponse take() { return std::move(response_); }

 private:
  void emit(std::uint32_t token, float entropy) {
    if (processor_) processor_->accept(token);
    scratch_.history.push_back(token);
    response_.tokens.push_back(token);
    response_.entropy.push_back(entropy);
    response_.text += vocabulary_.bytes(token);
  }

  const NgramModel& model_;
  const ToolCallVocabulary& vocabulary_;
  const SamplingOptions& sampling_;
  SplitMix64& rng_;
  WatermarkProcessor* processor_;
  GenerationScratch& scratch_;
  ToolCallResponse response_;
};

std::vector<std::vector<std::uint32_t>> encode_all(const ToolCallVocabulary& vocabulary, const std::vector<std::string>& texts) {
  std::vector<std::vector<std::uint32_t>> out;
  for (const std::string& text : texts) out.push_back(vocabulary.encode(text));
  return out;
}

}  // namespace

std::vector<ToolSchema> parse_tool_schemas(const nlohmann::json& tools, const std::string& where) {
  if (!tools.is_array() || tools.empty()) bad_schema(where, "\"tools\" must be a non-empty array");
  std::vector<ToolSchema> schemas;
  for (std::size_t i = 0; i < tools.size(); ++i) {
    const std::string at = where + ": tools[" + std::to_string(i) + "]";
    const nlohmann::json& tool = tools[i];
    if (!tool.is_object() || !tool.contains("function") || !tool["function"].is_object()) bad_schema(at, "no \"function\" object");
    const nlohmann::json& function = tool["function"];
    if (!function.contains("name") || !function["name"].is_string() || !is_plain_string_text(function["name"].get<std::string>())) {
      bad_schema(at, "function.name must be a plain string");
    }
    ToolSchema schema{function["name"].get<std::string>(), {}};
    const nlohmann::json parameters = function.value("parameters", nlohmann::json::object());
    const nlohmann::json properties = parameters.value("properties", nlohmann::json::object());
    const nlohmann::json required = parameters.value("required", nlohmann::json::array());
    if (!properties.is_object() || !required.is_array()) bad_schema(at, "parameters.properties / required malformed");
    for (const nlohmann::json& name : required) {
      if (!name.is_string() || !properties.contains(name.get<std::string>()) || !is_plain_string_text(name.get<std::string>())) {
        bad_schema(at, "a required argument is not a plain string naming a property");
      }
      const nlohmann::json& property = properties[name.get<std::string>()];
      ToolArgument argument{name.get<std::string>(), ToolArgument::Type::string, {}};
      const std::string type = property.is_object() ? property.value("type", "") : "";
      if (type == "integer") {
        argument.type = ToolArgument::Type::integer;
      } else if (type == "boolean") {
        argument.type = ToolArgument::Type::boolean;
      } else if (type != "string") {
        bad_schema(at, "argument \"" + argument.name + "\" has type \"" + type + "\"");
      }
      if (property.contains("enum")) {
        if (argument.type != ToolArgument::Type::string || !property["enum"].is_array() || property["enum"].empty()) {
          bad_schema(at, "argument \"" + argument.name + "\": enum must be a non-empty array of strings");
        }
        for (const nlohmann::json& member : property["enum"]) {
          if (!member.is_string() || !is_plain_string_text(member.get<std::string>())) {
            bad_schema(at, "argument \"" + argument.name + "\": enum members must be plain strings");
          }
          argument.choices.push_back(member.get<std::string>());
        }
      }
      schema.arguments.push_back(std::move(argument));
    }
    schemas.push_back(std::move(schema));
  }
  return schemas;
}

bool arguments_match_schema(const nlohmann::json& arguments, const ToolSchema& schema) {
  if (!arguments.is_object() || arguments.size() != schema.arguments.size()) return false;
  for (const ToolArgument& argument : schema.arguments) {
    if (!arguments.contains(argument.name)) return false;
    const nlohmann::json& value = arguments[argument.name];
    switch (argument.type) {
      case ToolArgument::Type::string:
        if (!value.is_string() || value.get<std::string>().empty()) return false;
        if (!argument.choices.empty() &&
            std::find(argument.choices.begin(), argument.choices.end(), value.get<std::string>()) == argument.choices.end()) {
          return false;
        }
        break;
      case ToolArgument::Type::integer:
        if (!value.is_number_integer()) return false;
        break;
      case ToolArgument::Type::boolean:
        if (!value.is_boolean()) return false;
        break;
    }
  }
  return true;
}

ToolCallVocabulary::ToolCallVocabulary(std::vector<std::string> token_bytes, Encoder encode)
    : bytes_(std::move(token_bytes)), encode_(std::move(encode)) {
  const std::size_t n = bytes_.size();
  text_.assign(n, 0);
  string_.assign(n, 0);
  integer_.assign(n, 0);
  line_end_.assign(n, 0);
  for (std::size_t id = 0; id < n; ++id) {
    const std::string_view b = bytes_[id];
    string_[id] = is_plain_string_text(b);
    text_[id] = string_[id] && b.find('<') == std::string_view::npos;
    integer_[id] = !b.empty() && std::all_of(b.begin(), b.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                   (b.size() == 1 || b.front() != '0');
    line_end_[id] = !b.empty() && b.back() == '\n' &&
                    (b.size() == 1 || (is_plain_string_text(b.substr(0, b.size() - 1)) &&
                                       b.substr(0, b.size() - 1).find('<') == std::string_view::npos));
  }
  const std::vector<std::uint32_t> quote = encode_("\"");
  const std::vector<std::uint32_t> marker = encode_(kOpenMarker);
  if (quote.size() != 1 || marker.empty() || quote.front() >= n || marker.front() >= n) {
    throw Error(ErrorCode::invalid_argument, "this tokenizer cannot write tool calls (no single token for a quote)");
  }
  quote_ = quote.front();
  open_marker_ = marker.front();
}

ToolCallResponse generate_tool_call(const NgramModel& model, const ToolCallVocabulary& vocabulary,
                                    std::span<const ToolSchema> tools, std::span<const std::uint32_t> prompt,
                                    const SamplingOptions& sampling, const ToolCallLimits& limits, SplitMix64& rng,
                                    WatermarkProcessor* processor, GenerationScratch& scratch) {
  if (tools.empty()) throw Error(ErrorCode::invalid_argument, "a tool-call answer needs at least one tool");
  if (vocabulary.size() != model.vocab_size()) {
    throw Error(ErrorCode::invalid_argument, "the tool-call vocabulary does not match the model's");
  }
  sampling.validate();
  Decoding decoding(model, vocabulary, prompt, sampling, rng, processor, scratch);
  const auto& text_ok = vocabulary.text_tokens();
  const auto& string_ok = vocabulary.string_tokens();
  const auto& line_end = vocabulary.line_end_tokens();

  // Preamble: the model may start the call at once, or write up to a line of text first.
  std::string preamble;
  const std::uint32_t first = decoding.sample([&](std::uint32_t id) { return text_ok[id] || id == vocabulary.open_marker_token(); });
  if (first == vocabulary.open_marker_token()) {
    const std::string& marker_start = vocabulary.bytes(first);
    decoding.force(std::string(kOpenMarker.substr(marker_start.size())) + "{\"name\": ");
  } else {
    bool ended = false;
    for (std::size_t n = 1; n < limits.max_preamble_tokens && !ended; ++n) {
      const std::uint32_t token = decoding.sample([&](std::uint32_t id) { return text_ok[id] || line_end[id]; });
      ended = line_end[token] != 0;
    }
    if (!ended) decoding.force("\n");
    preamble = decoding.text().substr(0, decoding.text().size() - 1);
    decoding.force(std::string(kOpenMarker) + "{\"name\": ");
  }
  // The function.
  std::vector<std::string> names;
  for (const ToolSchema& tool : tools) names.push_back(json_string(tool.name));
  const ToolSchema& tool = tools[decoding.choose(encode_all(vocabulary, names))];
  decoding.force(", \"arguments\": ");
  const std::size_t arguments_begin = decoding.text().size();
  // The arguments, in schema order.
  for (std::size_t a = 0; a < tool.arguments.size(); ++a) {
    const ToolArgument& argument = tool.arguments[a];
    const std::string key = std::string(a == 0 ? "{" : ", ") + json_string(argument.name) + ": ";
    if (argument.type == ToolArgument::Type::boolean) {
      decoding.force(key);
      decoding.choose(encode_all(vocabulary, {"true", "false"}));
    } else if (argument.type == ToolArgument::Type::integer) {
      decoding.force(key);
      decoding.sample([&](std::uint32_t id) { return vocabulary.integer_tokens()[id] != 0; });
    } else if (!argument.choices.empty()) {
      decoding.force(key);
      std::vector<std::string> members;
      for (const std::string& member : argument.choices) members.push_back(json_string(member));
      decoding.choose(encode_all(vocabulary, members));
    } else {
      decoding.force(key + "\"");
      bool closed = false;
      decoding.sample([&](std::uint32_t id) { return string_ok[id] != 0; });
      for (std::size_t n = 1; n < limits.max_string_tokens && !closed; ++n) {
        closed = decoding.sample([&](std::uint32_t id) { return string_ok[id] || id == vocabulary.quote_token(); }) ==
                 vocabulary.quote_token();
      }
      if (!closed) decoding.force("\"");
    }
  }
  decoding.force(tool.arguments.empty() ? "{}" : "}");
  const std::size_t arguments_end = decoding.text().size();
  decoding.force("}" + std::string(kCloseMarker));

  ToolCallResponse response = decoding.take();
  response.preamble = preamble;
  response.function_name = tool.name;
  response.arguments = response.text.substr(arguments_begin, arguments_end - arguments_begin);
  const nlohmann::json parsed = nlohmann::json::parse(response.arguments, nullptr, false);
  if (parsed.is_discarded() || !arguments_match_schema(parsed, tool)) {
    throw Error(ErrorCode::internal, "the tool-call decoder wrote arguments that do not match the schema of " + tool.name +
                                         ": " + response.arguments);
  }
  return response;
}

}  // namespace tracemark
