#include "tracemark/verify/reading_mode.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "tracemark/embed/green_list_scheme.hpp"
#include "tracemark/embed/scheme_catalog.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/jsonl_reader.hpp"
#include "tracemark/verify/key_tokenizer.hpp"
#include "tracemark/verify/prompt_records.hpp"
#include "tracemark/verify/suspect_records.hpp"
#include "first_step_logprobs.hpp"

namespace tracemark {
namespace {

constexpr std::size_t kMaxReadingWidth = 16;

// A window of up to kMaxReadingWidth ids as a hashable string of their bytes.
std::string window_key(const std::vector<std::uint32_t>& tokens, std::size_t end, std::size_t width) {
  return std::string(reinterpret_cast<const char*>(tokens.data() + end - width), 4 * width);
}

// The query an answer answers: its id must name one of the harvest's prefixes and its
// "prompt_tokens" must be exactly that prefix. Error(invalid_input) with the position otherwise.
ReadingQuery locate_answer(const JsonlReader& reader, const JsonlRecord& record, const std::vector<HarvestSequence>& harvest) {
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
  const std::vector<std::uint32_t> prompt = record_prompt_tokens(reader, record);
  if (prompt.size() != end || !std::equal(prompt.begin(), prompt.end(), sequence.tokens.begin())) {
    throw Error(ErrorCode::invalid_input, where() + ": the prompt of \"" + id + "\" is not that query's prefix of the "
                                              "harvest; give the harvest the queries were made from");
  }
  return *query;
}

// A clean reference model's answers to the same queries: query slot -> (id -> probability) of its
// first step's listed tokens. The reference must never have seen our watermarked text; each
// answer is checked against the harvest like the suspect's.
using ReferenceProbabilities = std::unordered_map<std::uint64_t, std::unordered_map<std::uint32_t, double>>;

ReferenceProbabilities read_reference_answers(const std::filesystem::path& path, const std::vector<HarvestSequence>& harvest,
                                              std::uint32_t vocab, const KeyTokenizer& tokenizer) {
  ReferenceProbabilities reference;
  JsonlReader reader(path);
  JsonlRecord record;
  FirstStepLogprobsReader logprobs_reader(vocab, tokenizer);
  FirstStepLogprobs listed;
  while (reader.next(record)) {
    const ReadingQuery query = locate_answer(reader, record, harvest);
    if (!logprobs_reader.read(reader, record, listed)) {
      throw Error(ErrorCode::invalid_input, reader.where(record) + ": a reference answer needs its listed tokens "
                                                                   "(`generate --top-logprobs K` or `probe --top-logprobs K` "
                                                                   "with the reference model)");
    }
    auto [slot, inserted] = reference.try_emplace(query.record << 32 | query.position);
    if (!inserted) {
      throw Error(ErrorCode::invalid_input, reader.where(record) + ": a second reference answer to query \"" + query.id() + "\"");
    }
    for (std::size_t i = 0; i < listed.ids.size(); ++i) slot->second[listed.ids[i]] = listed.probabilities[i];
  }
  return reference;
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
      sequence.tokens = record_prompt_tokens(reader, record);
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
                                       const std::filesystem::path& answers,
                                       const std::filesystem::path& reference_answers) {
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
  ColourScoreAccumulator mass(gamma), tilt(gamma), excess(gamma);
  // The answer's ids as the suspect scan reads them: "tokens" when they are the key tokenizer's, else
  // the text (a probe's "choices"), tokenized with the key's tokenizer; an API's listed tokens are
  // mapped to ids with it too.
  const KeyTokenizer tokenizer(std::span<const WatermarkKey>(&key, 1), "");
  const ReferenceProbabilities reference =
      reference_answers.empty() ? ReferenceProbabilities{}
                                : read_reference_answers(reference_answers, harvest, scheme.vocab_size(), tokenizer);
  std::vector<double> excesses;
  bool every_answer_has_logprobs = true;
  std::unordered_set<std::uint64_t> answered;
  FirstStepLogprobsReader logprobs_reader(scheme.vocab_size(), tokenizer);
  FirstStepLogprobs listed;
  std::vector<double> tilts;
  std::vector<std::uint8_t> green;
  std::uint64_t green_count = 0;
  const SuspectRecordDecoder decoder(tokenizer, TokenSource::automatic);
  JsonlReader reader(answers);
  JsonlLine line;
  while (reader.next_line(line)) {
    const JsonlRecord record = reader.parse_line(line);
    ++report.answers;
    const auto where = [&] { return reader.where(record); };
    const ReadingQuery query = locate_answer(reader, record, harvest);
    const HarvestSequence& sequence = harvest[query.record];
    const std::size_t end = sequence.prompt_length + query.position;
    const std::string id = query.id();
    const std::uint64_t slot = query.record << 32 | query.position;
    if (!answered.insert(slot).second) {
      throw Error(ErrorCode::invalid_input, where() + ": a second answer to query \"" + id + "\"; keep one answer per query");
    }
    const SuspectRecord decoded = decoder.decode(reader, line);
    if (decoded.responses.size() != 1 || decoded.responses[0].empty()) {
      throw Error(ErrorCode::invalid_input, where() + ": the answer has no next token (or several choices); ask for "
                                                      "one answer of one token a query");
    }
    const std::vector<std::uint32_t>& tokens = decoded.responses[0];
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
    if (!logprobs_reader.read(reader, record, listed)) {
      every_answer_has_logprobs = false;
      continue;
    }
    const std::vector<std::uint32_t>& ids = listed.ids;
    const std::vector<double>& logprobs = listed.logprobs;
    const std::vector<double>& weights = listed.probabilities;
    green.resize(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) green[i] = scheme.is_green(seed, ids[i]) ? 1 : 0;
    mass.add_window(weights, green);
    // log p - mean log p: a logit bias of d nats on the green tokens moves each green token's weight
    // up by d (1 - green share) and each other's down by d times the green share.
    // (Log-probabilities below -1000 nats count as -1000, so a sum of extreme values stays finite.)
    tilts.resize(logprobs.size());
    double mean = 0;
    for (std::size_t i = 0; i < logprobs.size(); ++i) mean += (tilts[i] = std::max(logprobs[i], -1e3));
    mean /= static_cast<double>(logprobs.size());
    for (double& a : tilts) a = std::clamp(a - mean, -kMaxTilt, kMaxTilt);
    tilt.add_window(tilts, green);
    if (!reference_answers.empty()) {
      // p - p_reference on the suspect's listed tokens (0 for a token the reference did not list).
      const auto found = reference.find(slot);
      if (found == reference.end()) {
        throw Error(ErrorCode::invalid_input, where() + ": the reference answers have no answer to query \"" + id +
                                                  "\"; answer the same queries with the reference model");
      }
      excesses.resize(ids.size());
      for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto in_reference = found->second.find(ids[i]);
        excesses[i] = weights[i] - (in_reference == found->second.end() ? 0.0 : in_reference->second);
      }
      excess.add_window(excesses, green);
    }
    report.top_logprobs_min = report.scored == 1 || ids.size() < report.top_logprobs_min ? ids.size() : report.top_logprobs_min;
  }
  report.greedy = binomial_test(green_count, report.scored, gamma);
  if (report.scored > 0 && every_answer_has_logprobs) {
    report.mass = mass.result();
    report.tilt = tilt.result();
    if (!reference_answers.empty()) report.excess = excess.result();
  }
  return report;
}

int ReadingScanReport::test_count() const { return 1 + (mass ? 1 : 0) + (tilt ? 1 : 0) + (excess ? 1 : 0); }

double ReadingScanReport::combined_log10_p() const {
  double best = greedy.log10_p;
  for (const std::optional<ColourScoreTest>* test : {&mass, &tilt, &excess}) {
    if (*test) best = std::min(best, (*test)->log10_p);
  }
  return std::min(0.0, best + std::log10(static_cast<double>(test_count())));
}

}  // namespace tracemark
