#include "first_step_logprobs.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "tracemark/error.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace tracemark {
namespace {

// The id a token text maps to when its bytes encode to nothing.
constexpr std::uint32_t kNoId = std::numeric_limits<std::uint32_t>::max();

// Where the first step's list sits in a record, and in which shape.
enum class ListShape { tracemark_ids, chat_tokens, completion_tokens };

struct FirstStepList {
  ListShape shape;
  const nlohmann::json* list;
};

const nlohmann::json* member(const nlohmann::json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  const auto found = object.find(name);
  return found == object.end() || found->is_null() ? nullptr : &*found;
}

// The first choice's "logprobs" of an API response (null when absent or null).
const nlohmann::json* api_logprobs(const nlohmann::json& record) {
  const nlohmann::json* choices = member(record, "choices");
  if (choices == nullptr || !choices->is_array() || choices->empty()) return nullptr;
  return member((*choices)[0], "logprobs");
}

std::optional<FirstStepList> locate_list(const nlohmann::json& record) {
  if (const nlohmann::json* steps = member(record, "top_logprobs")) return FirstStepList{ListShape::tracemark_ids, steps};
  const nlohmann::json* logprobs = api_logprobs(record);
  if (logprobs == nullptr) return std::nullopt;
  if (const nlohmann::json* content = member(*logprobs, "content")) return FirstStepList{ListShape::chat_tokens, content};
  if (const nlohmann::json* top = member(*logprobs, "top_logprobs")) return FirstStepList{ListShape::completion_tokens, top};
  return std::nullopt;
}

// Throws the error of a malformed list: the file and line, what is wrong, and the shape expected.
[[noreturn]] void fail(const JsonlReader& reader, const JsonlRecord& record, ListShape shape, const std::string& what) {
  const char* subject = shape == ListShape::tracemark_ids ? "\"top_logprobs\" " : "choices[0].logprobs ";
  const char* expected =
      shape == ListShape::tracemark_ids
          ? "expected one array per generated token of {\"id\", \"logprob\"} (`tracemark generate --top-logprobs K`)"
      : shape == ListShape::chat_tokens
          ? "expected choices[0].logprobs.content[0].top_logprobs as an array of {\"token\", \"logprob\"} (an OpenAI "
            "chat completion with logprobs)"
          : "expected choices[0].logprobs.top_logprobs[0] as an object of token: logprob (an OpenAI completion with "
            "logprobs)";
  throw Error(ErrorCode::invalid_input, reader.where(record) + ": " + subject + what + "; " + expected);
}

// The bytes of an API token: its "bytes" array when given (exact, also for a token that ends
// inside a UTF-8 sequence), else its text; OpenAI's completions write such partial tokens as
// "bytes:\xNN\xNN...", which is decoded here. Nothing for a malformed "bytes" array.
std::optional<std::string> token_bytes(const std::string& text, const nlohmann::json* bytes) {
  if (bytes != nullptr) {
    if (!bytes->is_array()) return std::nullopt;
    std::string out;
    for (const nlohmann::json& byte : *bytes) {
      if (!byte.is_number_unsigned() || byte.get<std::uint64_t>() > 255) return std::nullopt;
      out.push_back(static_cast<char>(byte.get<std::uint64_t>()));
    }
    return out;
  }
  constexpr std::string_view kBytesPrefix = "bytes:";
  if (text.rfind(kBytesPrefix, 0) != 0 || text.size() == kBytesPrefix.size()) return text;
  std::string out;
  for (std::size_t i = kBytesPrefix.size(); i < text.size(); i += 4) {
    unsigned value = 0;
    if (i + 4 > text.size() || text[i] != '\\' || text[i + 1] != 'x' ||
        std::from_chars(text.data() + i + 2, text.data() + i + 4, value, 16).ptr != text.data() + i + 4) {
      return text;  // not the escape form: a token that merely starts with "bytes:"
    }
    out.push_back(static_cast<char>(value));
  }
  return out;
}

// Probabilities of listed entries must sum to at most 1 (with float rounding).
void require_total_at_most_one(const JsonlReader& reader, const JsonlRecord& record, ListShape shape,
                               const std::vector<double>& logprobs) {
  double sum = 0;
  for (const double logprob : logprobs) sum += std::exp(logprob);
  if (sum > 1.0 + 1e-3) fail(reader, record, shape, "has probabilities summing to " + std::to_string(sum) + ", more than 1");
}

// The API's named tokens of the first step: (bytes, logprob) in the API's order.
using NamedTokens = std::vector<std::pair<std::string, double>>;

}  // namespace

FirstStepLogprobsReader::FirstStepLogprobsReader(std::uint32_t vocab, const KeyTokenizer& tokenizer)
    : vocab_(vocab), tokenizer_(tokenizer) {}

bool FirstStepLogprobsReader::read(const JsonlReader& reader, const JsonlRecord& record, FirstStepLogprobs& out) {
  const std::optional<FirstStepList> located = locate_list(record.value);
  if (!located) {
    // Absent or null logprobs are a probe without --top-logprobs; anything else but an object is
    // malformed, not absent.
    const nlohmann::json* logprobs = api_logprobs(record.value);
    if (logprobs != nullptr && !logprobs->is_object()) fail(reader, record, ListShape::chat_tokens, "is not an object");
    return false;
  }
  const ListShape shape = located->shape;
  const nlohmann::json& list = *located->list;
  const auto malformed = [&](const std::string& what) { fail(reader, record, shape, what); };
  // A logprob as read: a number <= 0 (positive values within float rounding of 0 are a probability of 1).
  const auto checked_logprob = [&](const nlohmann::json& logprob) {
    if (!logprob.is_number()) malformed("has a logprob that is not a number");
    const double value = logprob.get<double>();
    if (!(value <= 1e-4) || std::isnan(value)) malformed("has a logprob above 0");
    return std::min(0.0, value);
  };
  out.ids.clear();
  out.logprobs.clear();
  out.probabilities.clear();

  if (shape == ListShape::tracemark_ids) {
    if (!list.is_array() || list.empty() || !list[0].is_array() || list[0].empty()) malformed("has no first step");
    std::unordered_set<std::uint32_t> seen;
    for (const nlohmann::json& entry : list[0]) {
      if (!entry.is_object() || !entry.contains("id") || !entry.contains("logprob")) malformed("has an entry without id or logprob");
      const nlohmann::json& id = entry["id"];
      if (!id.is_number_unsigned() || id.get<std::uint64_t>() >= vocab_) {
        malformed("has an id outside the key's vocabulary (size " + std::to_string(vocab_) + ")");
      }
      const double logprob = checked_logprob(entry["logprob"]);
      if (!seen.insert(id.get<std::uint32_t>()).second) malformed("lists id " + std::to_string(id.get<std::uint32_t>()) + " twice");
      out.ids.push_back(id.get<std::uint32_t>());
      out.logprobs.push_back(logprob);
    }
    require_total_at_most_one(reader, record, shape, out.logprobs);
  } else {
    NamedTokens named;
    if (shape == ListShape::chat_tokens) {
      if (!list.is_array() || list.empty()) malformed("has no first step");
      const nlohmann::json* top = member(list[0], "top_logprobs");
      if (top == nullptr || !top->is_array() || top->empty()) malformed("has no top_logprobs at the first step");
      for (const nlohmann::json& entry : *top) {
        if (!entry.is_object() || !entry.contains("token") || !entry["token"].is_string() || !entry.contains("logprob")) {
          malformed("has an entry without a token string or a logprob");
        }
        std::optional<std::string> bytes = token_bytes(entry["token"].get<std::string>(), member(entry, "bytes"));
        if (!bytes) malformed("has a \"bytes\" entry that is not an array of bytes");
        named.emplace_back(std::move(*bytes), checked_logprob(entry["logprob"]));
      }
    } else {
      if (!list.is_array() || list.empty() || !list[0].is_object() || list[0].empty()) malformed("has no first step");
      for (const auto& [token, logprob] : list[0].items()) named.emplace_back(*token_bytes(token, nullptr), checked_logprob(logprob));
    }
    // The API's own probabilities, before any two are added together.
    std::vector<double> listed(named.size());
    std::transform(named.begin(), named.end(), listed.begin(), [](const auto& entry) { return entry.second; });
    require_total_at_most_one(reader, record, shape, listed);

    std::unordered_map<std::uint32_t, std::size_t> index;  // id -> position in out
    for (const auto& [bytes, logprob] : named) {
      auto [cached, fresh] = named_ids_.try_emplace(bytes, kNoId);
      if (fresh) {
        const Tokenizer* tokenizer = nullptr;
        try {
          tokenizer = &tokenizer_.get("each token an API's logprobs list");
        } catch (const Error& e) {
          named_ids_.erase(cached);
          throw Error(e.code(), reader.where(record) + ": " + e.what());
        }
        const std::vector<std::uint32_t> ids = tokenizer->encode_lossy(bytes).ids;
        if (!ids.empty()) cached->second = ids[0];
      }
      const std::uint32_t id = cached->second;
      if (id == kNoId) continue;  // an empty token names no next token
      if (id >= vocab_) malformed("maps a token to id " + std::to_string(id) + ", outside the key's vocabulary");
      const auto [slot, inserted] = index.emplace(id, out.ids.size());
      if (inserted) {
        out.ids.push_back(id);
        out.logprobs.push_back(logprob);
        continue;
      }
      // Two of the suspect's tokens begin with the same one of ours: their probabilities add.
      double& merged = out.logprobs[slot->second];
      const double high = std::max(merged, logprob);
      if (std::isinf(high)) continue;  // both of probability 0 (never NaN from -inf minus -inf)
      merged = std::min(0.0, high + std::log1p(std::exp(std::min(merged, logprob) - high)));
    }
    if (out.ids.empty()) malformed("names no token");
  }
  out.probabilities.resize(out.logprobs.size());
  std::transform(out.logprobs.begin(), out.logprobs.end(), out.probabilities.begin(), [](double l) { return std::exp(l); });
  return true;
}

}  // namespace tracemark
