// Hugging Face tokenizer.json files of byte-level BPE models (GPT-2, RoBERTa, Llama 3, Qwen 2 style).
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "tokenizer_loaders.hpp"
#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"

namespace tracemark {
namespace {

using Json = nlohmann::json;

[[noreturn]] void unsupported(const std::string& source, const std::string& what) {
  throw Error(ErrorCode::unsupported, source + ": " + what +
                                          " is not supported (tracemark reads byte-level BPE tokenizer.json files; docs/DESIGN.md lists what)");
}

[[noreturn]] void wrong_type(const std::string& source, const std::string& path, const char* wanted, const Json& value) {
  throw Error(ErrorCode::invalid_input, source + ": " + path + " must be " + wanted + ", not " + json_excerpt(value) +
                                            "; is this a Hugging Face tokenizer.json?");
}

// A member of `object` (an object, else the file is malformed) when present and not null.
const Json* member(const Json& object, const char* name, const std::string& path, const std::string& source) {
  if (!object.is_object()) wrong_type(source, path, "an object", object);
  const auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::string string_member(const Json& object, const char* name, const std::string& fallback, const std::string& path,
                          const std::string& source) {
  const Json* value = member(object, name, path, source);
  if (!value) return fallback;
  if (!value->is_string()) wrong_type(source, path + "." + name, "a string", *value);
  return value->get<std::string>();
}

bool bool_member(const Json& object, const char* name, bool fallback, const std::string& path, const std::string& source) {
  const Json* value = member(object, name, path, source);
  if (!value) return fallback;
  if (!value->is_boolean()) wrong_type(source, path + "." + name, "true or false", *value);
  return value->get<bool>();
}

const Json& array_member(const Json& object, const char* name, const std::string& path, const std::string& source) {
  const Json* value = member(object, name, path, source);
  if (!value || !value->is_array()) wrong_type(source, path + "." + name, "an array", value ? *value : Json());
  return *value;
}

// A Sequence of one normalizer is that normalizer; followed in a loop, not by recursion.
Normalization read_normalizer(const Json* normalizer, const std::string& source) {
  std::string path = "normalizer";
  while (normalizer) {
    const std::string type = string_member(*normalizer, "type", "", path, source);
    if (type == "NFC") return Normalization::nfc;
    if (type == "NFKC") return Normalization::nfkc;
    if (type == "NFD") return Normalization::nfd;
    if (type == "NFKD") return Normalization::nfkd;
    if (type != "Sequence") unsupported(source, "normalizer \"" + escaped_excerpt(type) + "\"");
    const Json& steps = array_member(*normalizer, "normalizers", path, source);
    if (steps.size() > 1) unsupported(source, "a normalizer Sequence of several steps");
    if (steps.empty()) break;
    normalizer = &steps[0];
    path += ".normalizers[0]";
  }
  return Normalization::none;
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

void read_byte_level(const Json& step, bool in_sequence, TokenizerDefinition& definition, const std::string& path,
                     const std::string& source) {
  const bool prefix = bool_member(step, "add_prefix_space", false, path, source);
  const bool use_regex = bool_member(step, "use_regex", true, path, source);
  if (in_sequence) {
    if (use_regex || prefix) unsupported(source, "a ByteLevel pre-tokenizer with use_regex or add_prefix_space inside a Sequence");
    return;
  }
  definition.add_prefix_space = prefix;
  // Without its regex, ByteLevel leaves the text whole: one piece covering everything.
  definition.pattern = use_regex ? std::string(kGpt2Pattern) : std::string("[\\x{0}-\\x{10ffff}]+");
}

void read_split(const Json& step, TokenizerDefinition& definition, const std::string& path, const std::string& source) {
  if (string_member(step, "behavior", "", path, source) != "Isolated" || bool_member(step, "invert", false, path, source)) {
    unsupported(source, "a Split pre-tokenizer with behavior other than Isolated or with invert");
  }
  const Json* pattern = member(step, "pattern", path, source);
  const std::string pattern_path = path + ".pattern";
  if (pattern && pattern->is_object() && pattern->contains("Regex")) {
    definition.pattern = string_member(*pattern, "Regex", "", pattern_path, source);
  } else if (pattern && pattern->is_object() && pattern->contains("String")) {
    definition.pattern = literal_pattern(string_member(*pattern, "String", "", pattern_path, source));
  } else {
    throw Error(ErrorCode::invalid_input, source + ": pre_tokenizer Split has no pattern {\"Regex\": ...} or {\"String\": ...}");
  }
}

void read_pre_tokenizer(const Json* pre, TokenizerDefinition& definition, const std::string& source) {
  const std::string path = "pre_tokenizer";
  const std::string type = pre ? string_member(*pre, "type", "", path, source) : "";
  if (type == "ByteLevel") return read_byte_level(*pre, false, definition, path, source);
  if (type == "Sequence") {
    const Json& steps = array_member(*pre, "pretokenizers", path, source);
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (!steps[i].is_object()) wrong_type(source, path + ".pretokenizers[" + std::to_string(i) + "]", "an object", steps[i]);
    }
    if (steps.size() == 2 && string_member(steps[0], "type", "", path + ".pretokenizers[0]", source) == "Split" &&
        string_member(steps[1], "type", "", path + ".pretokenizers[1]", source) == "ByteLevel") {
      read_split(steps[0], definition, path + ".pretokenizers[0]", source);
      read_byte_level(steps[1], true, definition, path + ".pretokenizers[1]", source);
      return;
    }
    unsupported(source, "a pre_tokenizer Sequence other than [Split, ByteLevel]");
  }
  unsupported(source, "pre_tokenizer \"" + escaped_excerpt(type) + "\"");
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
  const Json json = parse_json(contents, source);
  if (!json.is_object() || !json.contains("model") || !json["model"].is_object()) {
    throw Error(ErrorCode::invalid_input, source + ": no \"model\" object; is this a Hugging Face tokenizer.json?");
  }
  const Json& model = json["model"];
  const std::string model_type = string_member(model, "type", "BPE", "model", source);
  if (model_type != "BPE") unsupported(source, "model type \"" + escaped_excerpt(model_type) + "\"");
  if (!model.contains("vocab") || !model["vocab"].is_object() || !model.contains("merges") || !model["merges"].is_array()) {
    throw Error(ErrorCode::invalid_input, source + ": model.vocab (an object) or model.merges (an array) is missing");
  }
  if (member(model, "dropout", "model", source)) unsupported(source, "BPE dropout (it makes encoding random)");
  if (!string_member(model, "continuing_subword_prefix", "", "model", source).empty() ||
      !string_member(model, "end_of_word_suffix", "", "model", source).empty()) {
    unsupported(source, "a continuing_subword_prefix or end_of_word_suffix");
  }
  if (bool_member(model, "byte_fallback", false, "model", source)) unsupported(source, "byte_fallback");

  TokenizerDefinition definition;
  definition.normalization = read_normalizer(member(json, "normalizer", "", source), source);
  read_pre_tokenizer(member(json, "pre_tokenizer", "", source), definition, source);
  definition.dialect = PatternDialect::oniguruma;
  definition.unmatched = UnmatchedText::keep;
  definition.merge_rule = MergeRule::merge_list;
  definition.whole_piece_first = bool_member(model, "ignore_merges", false, "model", source);

  std::unordered_set<std::uint32_t> added_ids;
  if (json.contains("added_tokens") && json["added_tokens"].is_array()) {
    for (const Json& added : json["added_tokens"]) {
      if (!added.is_object() || !added.contains("id") || !added["id"].is_number_unsigned() ||
          added["id"].get<std::uint64_t>() >= 0xFFFFFFFFull || !added.contains("content") || !added["content"].is_string()) {
        throw Error(ErrorCode::invalid_input, source + ": an added_tokens entry lacks an id (an integer below 2^32-1) or content");
      }
      const auto id = added["id"].get<std::uint32_t>();
      added_ids.insert(id);
      definition.special_tokens.push_back(
          {added["content"].get<std::string>(), id, !bool_member(added, "special", false, "added_tokens[]", source)});
    }
  }
  std::unordered_map<std::string, std::uint32_t> ids;
  for (const auto& [symbols, id] : model["vocab"].items()) {
    if (!id.is_number_unsigned() || id.get<std::uint64_t>() >= 0xFFFFFFFFull) {
      throw Error(ErrorCode::invalid_input, source + ": model.vocab[\"" + escaped_excerpt(symbols) + "\"] is " + json_excerpt(id) + ", not an id");
    }
    ids.emplace(symbols, id.get<std::uint32_t>());
    if (added_ids.count(id.get<std::uint32_t>())) continue;
    std::optional<std::string> bytes = byte_level_bytes(symbols);
    if (!bytes) {
      throw Error(ErrorCode::invalid_input, source + ": model.vocab token \"" + escaped_excerpt(symbols) +
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
