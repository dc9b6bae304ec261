#include "tracemark/verify/reading_mode.hpp"

#include <charconv>
#include <cmath>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "tracemark/embed/green_list_scheme.hpp"
#include "tracemark/embed/scheme_catalog.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/jsonl_reader.hpp"

namespace tracemark {
namespace {

constexpr std::size_t kMaxReadingWidth = 16;

// A window of up to kMaxReadingWidth ids as a hashable string of their bytes.
std::string window_key(const std::vector<std::uint32_t>& tokens, std::size_t end, std::size_t width) {
  return std::string(reinterpret_cast<const char*>(tokens.data() + end - width), 4 * width);
}

std::vector<std::uint32_t> field_ids(const JsonlReader& reader, const JsonlRecord& record, const char* field) {
  JsonlRecord as_tokens = record;
  as_tokens.value = {{"tokens", record.value[field]}};
  try {
    return record_tokens(reader, as_tokens);
  } catch (const Error&) {
    throw Error(ErrorCode::invalid_input, reader.where(record) + ": \"" + field + "\" must be an array of token ids");
  }
}

// The first step of "top_logprobs" as (id, probability) pairs, checked.
void first_step_probabilities(const JsonlReader& reader, const JsonlRecord& record, std::uint32_t vocab,
                              std::vector<std::uint32_t>& ids, std::vector<double>& weights) {
  const auto fail = [&](const std::string& what) {
    throw Error(ErrorCode::invalid_input, reader.where(record) + ": \"top_logprobs\" " + what +
                                              "; expected one array per generated token of {\"id\", \"logprob\"} "
                                              "(`tracemark generate --top-logprobs K`)");
  };
  const nlohmann::json& steps = record.value["top_logprobs"];
  if (!steps.is_array() || steps.empty() || !steps[0].is_array() || steps[0].empty()) fail("holds no first step");
  ids.clear();
  weights.clear();
  std::unordered_set<std::uint32_t> seen;
  for (const nlohmann::json& entry : steps[0]) {
    if (!entry.is_object() || !entry.contains("id") || !entry.contains("logprob")) fail("has an entry without id or logprob");
    const nlohmann::json& id = entry["id"];
    const nlohmann::json& logprob = entry["logprob"];
    if (!id.is_number_unsigned() || id.get<std::uint64_t>() >= vocab) {
      fail("has an id outside the key's vocabulary (size " + std::to_string(vocab) + ")");
    }
    if (!logprob.is_number()) fail("has a logprob that is not a number");
    const double value = logprob.get<double>();
    // Positive values within float rounding of 0 are a probability of 1.
    if (!(value <= 1e-4) || std::isnan(value)) fail("has a logprob above 0");
    if (!seen.insert(id.get<std::uint32_t>()).second) fail("lists id " + std::to_string(id.get<std::uint32_t>()) + " twice");
    ids.push_back(id.get<std::uint32_t>());
    weights.push_back(std::min(1.0, std::exp(value)));
  }
  double sum = 0;
  for (double w : weights) sum += w;
  if (sum > 1.0 + 1e-3) fail("has probabilities summing to " + std::to_string(sum) + ", more than 1");
}

}  // namespace

std::string ReadingQuery::id() const { return "r" + std::to_string(record) + "-" + std::to_string(position); }

std::optional<ReadingQuery> parse_reading_query_id(const std::string& id) {
  if (id.size() < 4 || id[0] != 'r') return std::nullopt;
  const std::size_t dash = id.find('-', 1);
  if (dash == std::string::npos) return std::nullopt;
  ReadingQuery query;
  const char* begin = id.data() + 1;
  const char* middle = id.data() + dash;
  const char* end = id.data() + id.size();
  if (begin == middle || middle + 1 == end) return std::nullopt;
  auto [record_end, record_error] = std::from_chars(begin, middle, query.record);
  auto [position_end, position_error] = std::from_chars(middle + 1, end, query.position);
  if (record_error != std::errc() || record_end != middle || position_error != std::errc() || position_end != end) {
    return std::nullopt;
  }
  return query;
}

std::vector<HarvestSequence> read_harvest_sequences(const std::filesystem::path& path) {
  JsonlReader reader(path);
  JsonlRecord record;
  std::vector<HarvestSequence> harvest;
  while (reader.next(record)) {
    if (!record.value.is_object() || !record.value.contains("tokens")) {
      throw Error(ErrorCode::invalid_input, reader.where(record) + ": expected a record with \"tokens\" (the answer's ids) "
                                                                   "and \"prompt_tokens\" (the prompt's ids)");
    }
    HarvestSequence sequence;
    if (record.value.contains("prompt_tokens") && !record.value["prompt_tokens"].is_null()) {
      sequence.tokens = field_ids(reader, record, "prompt_tokens");
    }
    sequence.prompt_length = sequence.tokens.size();
    const std::vector<std::uint32_t> answer = record_tokens(reader, record);
    sequence.tokens.insert(sequence.tokens.end(), answer.begin(), answer.end());
    harvest.push_back(std::move(sequence));
  }
  return harvest;
}

std::vector<ReadingQuery> reading_queries(const std::vector<HarvestSequence>& harvest, std::size_t width) {
  if (width < 1 || width > kMaxReadingWidth) {
    throw Error(ErrorCode::invalid_argument, "reading mode: context width " + std::to_string(width) +
                                                 " is out of range; use 1 to " + std::to_string(kMaxReadingWidth) +
                                                 " (the key's context width)");
  }
  std::unordered_set<std::string> followed;  // windows a token has followed so far, in harvest order
  std::vector<ReadingQuery> queries;
  for (std::size_t r = 0; r < harvest.size(); ++r) {
    const HarvestSequence& sequence = harvest[r];
    for (std::size_t end = width; end < sequence.tokens.size(); ++end) {
      const bool first = followed.insert(window_key(sequence.tokens, end, width)).second;
      if (first && end >= sequence.prompt_length) queries.push_back({r, end - sequence.prompt_length});
    }
  }
  return queries;
}

ReadingScanReport scan_reading_answers(const WatermarkKey& key, const std::vector<HarvestSequence>& harvest,
                                       const std::filesystem::path& answers) {
  require_scheme(key, SchemeKind::green_list, "reading mode");
  const GreenListScheme scheme(key);
  const std::size_t width = scheme.context_width();
  if (width == 0) {
    throw Error(ErrorCode::invalid_argument, "reading mode needs a key with context width 1 or more; this key's green "
                                             "list is the same after every prefix");
  }
  std::unordered_set<std::uint64_t> allowed;  // record << 32 | position, of every query the rule allows
  for (const ReadingQuery& query : reading_queries(harvest, width)) allowed.insert(query.record << 32 | query.position);

  ReadingScanReport report;
  const double gamma = scheme.null_green_probability();
  GreenMassAccumulator mass(gamma);
  bool every_answer_has_logprobs = true;
  std::unordered_set<std::uint64_t> answered;
  std::vector<std::uint32_t> ids, contexts;
  std::vector<double> weights;
  std::vector<std::uint8_t> green;
  std::uint64_t green_count = 0;
  JsonlReader reader(answers);
  JsonlRecord record;
  while (reader.next(record)) {
    ++report.answers;
    const auto where = [&] { return reader.where(record); };
    if (!record.value.is_object() || !record.value.contains("id") || !record.value["id"].is_string()) {
      throw Error(ErrorCode::invalid_input, where() + ": expected an answer with the query's \"id\" (\"r<record>-<position>\", "
                                                      "as `tracemark reading queries` writes it)");
    }
    const std::string id = record.value["id"].get<std::string>();
    const std::optional<ReadingQuery> query = parse_reading_query_id(id);
    if (!query || query->record >= harvest.size() ||
        query->position >= harvest[query->record].tokens.size() - harvest[query->record].prompt_length) {
      throw Error(ErrorCode::invalid_input, where() + ": id \"" + id + "\" is not a query of this harvest (" +
                                                std::to_string(harvest.size()) + " records); give the harvest "
                                                "the queries were made from");
    }
    const HarvestSequence& sequence = harvest[query->record];
    const std::size_t end = sequence.prompt_length + query->position;
    if (!record.value.contains("prompt_tokens")) {
      throw Error(ErrorCode::invalid_input, where() + ": no \"prompt_tokens\"; the answer must repeat its query's prompt");
    }
    const std::vector<std::uint32_t> prompt = field_ids(reader, record, "prompt_tokens");
    if (prompt.size() != end || !std::equal(prompt.begin(), prompt.end(), sequence.tokens.begin())) {
      throw Error(ErrorCode::invalid_input, where() + ": the prompt of \"" + id + "\" is not that query's prefix of the "
                                                "harvest; give the harvest the queries were made from");
    }
    const std::uint64_t slot = query->record << 32 | query->position;
    if (!answered.insert(slot).second) {
      throw Error(ErrorCode::invalid_input, where() + ": a second answer to query \"" + id + "\"; keep one answer per query");
    }
    const std::vector<std::uint32_t> tokens = record_tokens(reader, record);
    if (tokens.empty()) throw Error(ErrorCode::invalid_input, where() + ": \"tokens\" is empty; the answer has no next token");
    if (tokens[0] >= scheme.vocab_size()) {
      throw Error(ErrorCode::invalid_input, where() + ": token id " + std::to_string(tokens[0]) +
                                                " is outside the key's vocabulary (size " +
                                                std::to_string(scheme.vocab_size()) + ")");
    }
    if (!allowed.count(slot)) {
      ++report.not_first;  // its window was followed by a token earlier in the harvest
      continue;
    }
    ++report.scored;
    const std::uint64_t seed = scheme.context_seed(std::span<const std::uint32_t>(sequence.tokens).subspan(end - width, width));
    if (scheme.is_green(seed, tokens[0])) ++green_count;
    if (!record.value.contains("top_logprobs") || record.value["top_logprobs"].is_null()) {
      every_answer_has_logprobs = false;
      continue;
    }
    first_step_probabilities(reader, record, scheme.vocab_size(), ids, weights);
    green.resize(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) green[i] = scheme.is_green(seed, ids[i]) ? 1 : 0;
    mass.add_window(weights, green);
    report.top_logprobs_min = report.scored == 1 || ids.size() < report.top_logprobs_min ? ids.size() : report.top_logprobs_min;
  }
  report.greedy = binomial_test(green_count, report.scored, gamma);
  if (report.scored > 0 && every_answer_has_logprobs) report.mass = mass.result();
  return report;
}

}  // namespace tracemark
