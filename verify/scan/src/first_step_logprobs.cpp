#include "first_step_logprobs.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "tracemark/error.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace tracemark {
namespace {

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

// The first choice's "logprobs" object of an API response, or null.
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

}  // namespace

bool has_first_step_logprobs(const nlohmann::json& record) { return locate_list(record).has_value(); }

void read_first_step_logprobs(const JsonlReader& reader, const JsonlRecord& record, std::uint32_t vocab,
                              const KeyTokenizer& tokenizer, FirstStepLogprobs& out) {
  const std::optional<FirstStepList> located = locate_list(record.value);
  const ListShape shape = located ? located->shape : ListShape::tracemark_ids;
  const auto fail = [&](const std::string& what) {
    const char* expected =
        shape == ListShape::tracemark_ids
            ? "expected one array per generated token of {\"id\", \"logprob\"} (`tracemark generate --top-logprobs K`)"
        : shape == ListShape::chat_tokens
            ? "expected choices[0].logprobs.content[0].top_logprobs as an array of {\"token\", \"logprob\"} (an OpenAI "
              "chat completion with logprobs)"
            : "expected choices[0].logprobs.top_logprobs[0] as an object of token: logprob (an OpenAI completion with "
              "logprobs)";
    const char* subject = shape == ListShape::tracemark_ids ? "\"top_logprobs\" " : "choices[0].logprobs ";
    throw Error(ErrorCode::invalid_input, reader.where(record) + ": " + subject + what + "; " + expected);
  };
  if (!located) fail("is missing");
  out.ids.clear();
  out.logprobs.clear();
  out.probabilities.clear();

  // A logprob as read: a number <= 0 (positive values within float rounding of 0 are a probability of 1).
  const auto checked_logprob = [&](const nlohmann::json& logprob) {
    if (!logprob.is_number()) fail("has a logprob that is not a number");
    const double value = logprob.get<double>();
    if (!(value <= 1e-4) || std::isnan(value)) fail("has a logprob above 0");
    return std::min(0.0, value);
  };

  if (shape == ListShape::tracemark_ids) {
    const nlohmann::json& steps = *located->list;
    if (!steps.is_array() || steps.empty() || !steps[0].is_array() || steps[0].empty()) fail("has no first step");
    std::unordered_set<std::uint32_t> seen;
    for (const nlohmann::json& entry : steps[0]) {
      if (!entry.is_object() || !entry.contains("id") || !entry.contains("logprob")) fail("has an entry without id or logprob");
      const nlohmann::json& id = entry["id"];
      if (!id.is_number_unsigned() || id.get<std::uint64_t>() >= vocab) {
        fail("has an id outside the key's vocabulary (size " + std::to_string(vocab) + ")");
      }
      const double logprob = checked_logprob(entry["logprob"]);
      if (!seen.insert(id.get<std::uint32_t>()).second) fail("lists id " + std::to_string(id.get<std::uint32_t>()) + " twice");
      out.ids.push_back(id.get<std::uint32_t>());
      out.logprobs.push_back(logprob);
    }
  } else {
    // (token bytes, logprob) of the first step, in the API's order.
    std::vector<std::pair<std::string, double>> listed;
    if (shape == ListShape::chat_tokens) {
      const nlohmann::json& content = *located->list;
      if (!content.is_array() || content.empty()) fail("has no first step");
      const nlohmann::json* top = member(content[0], "top_logprobs");
      if (top == nullptr || !top->is_array() || top->empty()) fail("has no top_logprobs at the first step");
      for (const nlohmann::json& entry : *top) {
        if (!entry.is_object() || !entry.contains("token") || !entry["token"].is_string() || !entry.contains("logprob")) {
          fail("has an entry without a token string or a logprob");
        }
        const std::optional<std::string> bytes = token_bytes(entry["token"].get<std::string>(), member(entry, "bytes"));
        if (!bytes) fail("has a \"bytes\" entry that is not an array of bytes");
        listed.emplace_back(*bytes, checked_logprob(entry["logprob"]));
      }
    } else {
      const nlohmann::json& steps = *located->list;
      if (!steps.is_array() || steps.empty() || !steps[0].is_object() || steps[0].empty()) fail("has no first step");
      for (const auto& [token, logprob] : steps[0].items()) listed.emplace_back(*token_bytes(token, nullptr), checked_logprob(logprob));
    }
    // The API's own probabilities must sum to at most 1 before any two are added together.
    double listed_sum = 0;
    for (const auto& entry : listed) listed_sum += std::exp(entry.second);
    if (listed_sum > 1.0 + 1e-3) fail("has probabilities summing to " + std::to_string(listed_sum) + ", more than 1");
    const Tokenizer* loaded = nullptr;
    try {
      loaded = &tokenizer.get("each token an API's logprobs list");
    } catch (const Error& e) {
      throw Error(e.code(), reader.where(record) + ": " + e.what());
    }
    const Tokenizer& ids_of = *loaded;
    std::unordered_map<std::uint32_t, std::size_t> index;  // id -> position in out
    for (const auto& [bytes, logprob] : listed) {
      const std::vector<std::uint32_t> ids = ids_of.encode_lossy(bytes).ids;
      if (ids.empty()) continue;  // an empty token names no next token
      if (ids[0] >= vocab) fail("maps a token to id " + std::to_string(ids[0]) + ", outside the key's vocabulary");
      const auto [slot, inserted] = index.emplace(ids[0], out.ids.size());
      if (inserted) {
        out.ids.push_back(ids[0]);
        out.logprobs.push_back(logprob);
      } else {
        // Two of the suspect's tokens begin with the same one of ours: their probabilities add.
        double& merged = out.logprobs[slot->second];
        const double high = std::max(merged, logprob);
        if (std::isinf(high)) continue;  // both of probability 0 (never NaN from -inf minus -inf)
        merged = std::min(0.0, high + std::log1p(std::exp(std::min(merged, logprob) - high)));
      }
    }
    if (out.ids.empty()) fail("names no token");
  }
  double sum = 0;
  for (const double logprob : out.logprobs) sum += out.probabilities.emplace_back(std::exp(logprob));
  if (sum > 1.0 + 1e-3) fail("has probabilities summing to " + std::to_string(sum) + ", more than 1");
}

}  // namespace tracemark
