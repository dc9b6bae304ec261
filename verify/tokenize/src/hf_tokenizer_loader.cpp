// Hugging Face tokenizer.json files of byte-level BPE models (GPT-2, RoBERTa, Llama 3, Qwen 2 style).
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "tokenizer_loaders.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

using Json = nlohmann::json;

[[noreturn]] void unsupported(const std::string& source, const std::string& what) {
  throw Error(ErrorCode::unsupported, source + ": " + what +
                                          " is not supported (tracemark reads byte-level BPE tokenizer.json files; docs/DESIGN.md lists what)");
}

bool is_null_or_empty(const Json& object, const char* name) {
  return !object.contains(name) || object[name].is_null() || (object[name].is_string() && object[name].get<std::string>().empty());
}

Normalization read_normalizer(const Json& normalizer, const std::string& source) {
  if (normalizer.is_null()) return Normalization::none;
  const std::string type = normalizer.value("type", "");
  if (type == "NFC") return Normalization::nfc;
  if (type == "NFKC") return Normalization::nfkc;
  if (type == "NFD") return Normalization::nfd;
  if (type == "NFKD") return Normalization::nfkd;
  if (type == "Sequence" && normalizer.contains("normalizers") && normalizer["normalizers"].is_array()) {
    if (normalizer["normalizers"].empty()) return Normalization::none;
    if (normalizer["normalizers"].size() == 1) return read_normalizer(normalizer["normalizers"][0], source);
  }
  unsupported(source, "normalizer \"" + type + "\"");
}

// A regex matching `text` literally (a Split with a String pattern).
std::string literal_pattern(const std::string& text) {
  std::string pattern;
  for (const char c : text) {
    if (std::string_view("\\^$.|?*+()[]{}/-").find(c) != std::string_view::npos) pattern += '\\';
    pattern += c;
  }
  return pattern;
}

void read_byte_level(const Json& step, bool in_sequence, TokenizerDefinition& definition, const std::string& source) {
  const bool prefix = step.value("add_prefix_space", false);
  const bool use_regex = step.value("use_regex", true);
  if (in_sequence) {
    if (use_regex || prefix) unsupported(source, "a ByteLevel pre-tokenizer with use_regex or add_prefix_space inside a Sequence");
    return;
  }
  definition.add_prefix_space = prefix;
  // Without its regex, ByteLevel leaves the text whole: one piece covering everything.
  definition.pattern = use_regex ? std::string(kGpt2Pattern) : std::string("[\\x{0}-\\x{10ffff}]+");
}

void read_split(const Json& step, TokenizerDefinition& definition, const std::string& source) {
  if (step.value("behavior", "") != "Isolated" || step.value("invert", false)) {
    unsupported(source, "a Split pre-tokenizer with behavior other than Isolated or with invert");
  }
  const Json& pattern = step.contains("pattern") ? step["pattern"] : Json();
  if (pattern.contains("Regex") && pattern["Regex"].is_string()) {
    definition.pattern = pattern["Regex"].get<std::string>();
  } else if (pattern.contains("String") && pattern["String"].is_string()) {
    definition.pattern = literal_pattern(pattern["String"].get<std::string>());
  } else {
    throw Error(ErrorCode::invalid_input, source + ": pre_tokenizer Split has no pattern {\"Regex\": ...} or {\"String\": ...}");
  }
}

void read_pre_tokenizer(const Json& pre, TokenizerDefinition& definition, const std::string& source) {
  const std::string type = pre.is_object() ? pre.value("type", "") : "";
  if (type == "ByteLevel") return read_byte_level(pre, false, definition, source);
  if (type == "Sequence" && pre.contains("pretokenizers") && pre["pretokenizers"].is_array()) {
    const Json& steps = pre["pretokenizers"];
    if (steps.size() == 2 && steps[0].value("type", "") == "Split" && steps[1].value("type", "") == "ByteLevel") {
      read_split(steps[0], definition, source);
      read_byte_level(steps[1], true, definition, source);
      return;
    }
    unsupported(source, "a pre_tokenizer Sequence other than [Split, ByteLevel]");
  }
  unsupported(source, "pre_tokenizer \"" + type + "\"");
}

std::vector<std::pair<std::string, std::string>> read_merges(const Json& merges, const std::string& source) {
  std::vector<std::pair<std::string, std::string>> pairs;
  pairs.reserve(merges.size());
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const Json& merge = merges[i];
    if (merge.is_string()) {  // "left right"
      const std::string text = merge.get<std::string>();
      const std::size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        throw Error(ErrorCode::invalid_input, source + ": model.merges[" + std::to_string(i) + "] is not \"left right\"");
      }
      pairs.emplace_back(text.substr(0, space), text.substr(space + 1));
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {  // ["left", "right"]
      pairs.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else {
      throw Error(ErrorCode::invalid_input, source + ": model.merges[" + std::to_string(i) + "] is neither \"left right\" nor [left, right]");
    }
  }
  return pairs;
}

}  // namespace

TokenizerDefinition load_hf_tokenizer_json(std::string_view contents, const std::string& source) {
  Json json;
  try {
    json = Json::parse(contents);
  } catch (const Json::parse_error& e) {
    throw Error(ErrorCode::invalid_input, source + ": not valid JSON at byte " + std::to_string(e.byte));
  }
  if (!json.is_object() || !json.contains("model") || !json["model"].is_object()) {
    throw Error(ErrorCode::invalid_input, source + ": no \"model\" object; is this a Hugging Face tokenizer.json?");
  }
  const Json& model = json["model"];
  if (model.value("type", "BPE") != "BPE") unsupported(source, "model type \"" + model.value("type", "") + "\"");
  if (!model.contains("vocab") || !model["vocab"].is_object() || !model.contains("merges") || !model["merges"].is_array()) {
    throw Error(ErrorCode::invalid_input, source + ": model.vocab (an object) or model.merges (an array) is missing");
  }
  if (!model.value("dropout", Json()).is_null()) unsupported(source, "BPE dropout (it makes encoding random)");
  if (!is_null_or_empty(model, "continuing_subword_prefix") || !is_null_or_empty(model, "end_of_word_suffix")) {
    unsupported(source, "a continuing_subword_prefix or end_of_word_suffix");
  }
  if (model.value("byte_fallback", false)) unsupported(source, "byte_fallback");

  TokenizerDefinition definition;
  definition.normalization = read_normalizer(json.value("normalizer", Json()), source);
  read_pre_tokenizer(json.value("pre_tokenizer", Json()), definition, source);
  definition.dialect = PatternDialect::oniguruma;
  definition.unmatched = UnmatchedText::keep;
  definition.merge_rule = MergeRule::merge_list;
  definition.whole_piece_first = model.value("ignore_merges", false);

  std::unordered_set<std::uint32_t> added_ids;
  if (json.contains("added_tokens") && json["added_tokens"].is_array()) {
    for (const Json& added : json["added_tokens"]) {
      if (!added.contains("id") || !added["id"].is_number_unsigned() || !added.contains("content") || !added["content"].is_string()) {
        throw Error(ErrorCode::invalid_input, source + ": an added_tokens entry lacks an id or content");
      }
      const auto id = added["id"].get<std::uint32_t>();
      added_ids.insert(id);
      definition.special_tokens.push_back({added["content"].get<std::string>(), id, !added.value("special", false)});
    }
  }
  std::unordered_map<std::string, std::uint32_t> ids;
  for (const auto& [symbols, id] : model["vocab"].items()) {
    if (!id.is_number_unsigned() || id.get<std::uint64_t>() >= 0xFFFFFFFFull) {
      throw Error(ErrorCode::invalid_input, source + ": model.vocab[\"" + symbols + "\"] is " + id.dump() + ", not an id");
    }
    ids.emplace(symbols, id.get<std::uint32_t>());
    if (added_ids.count(id.get<std::uint32_t>())) continue;
    std::optional<std::string> bytes = byte_level_bytes(symbols);
    if (!bytes) {
      throw Error(ErrorCode::invalid_input, source + ": model.vocab token \"" + symbols +
                                                "\" has a character outside the byte-level alphabet; is this a byte-level BPE model?");
    }
    definition.tokens.emplace_back(std::move(*bytes), id.get<std::uint32_t>());
  }
  const auto merges = read_merges(model["merges"], source);
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const auto left = ids.find(merges[i].first), right = ids.find(merges[i].second);
    if (left == ids.end() || right == ids.end()) {
      throw Error(ErrorCode::invalid_input, source + ": model.merges[" + std::to_string(i) + "] names a token not in model.vocab");
    }
    definition.merges.emplace_back(left->second, right->second);
  }
  return definition;
}

}  // namespace tracemark
