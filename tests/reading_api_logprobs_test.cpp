// Reading mode over an API's log-probabilities (verify/scan/src/first_step_logprobs.hpp): the same
// answers written as tracemark's id lists, as OpenAI chat completions and as OpenAI completions
// (tokens named by text or bytes, as `probe --top-logprobs K` collects them) give the same report;
// tokens that begin with the same id of the key's tokenizer add their probabilities; malformed
// lists and keys without a tokenizer are refused with the file and line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "tokenizer_test_support.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/reading_mode.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace tracemark {
namespace {

using nlohmann::json;
using testing::TemporaryFolder;

const char* const kHarvestText =
    "The committee met on Tuesday to consider the budget, and after a long debate it voted to postpone the "
    "decision until the auditors had reported on the accounts of the previous year. The chairman said that "
    "the delay would cost the city nothing, but the opposition argued that every week of waiting raised the "
    "price of the new bridge, and that the auditors could report within a month if they were asked to.";

void write_records(const std::filesystem::path& path, const std::vector<json>& records) {
  std::ofstream file(path);
  for (const json& record : records) file << record.dump() << "\n";
}

std::vector<int> bytes_of(const std::string& text) {
  std::vector<int> bytes;
  for (const char c : text) bytes.push_back(static_cast<unsigned char>(c));
  return bytes;
}

// One listed token: its text as the API names it, and its logprob.
struct Listed {
  std::string text;
  double logprob;
};

json ids_answer(const std::string& id, const std::vector<std::uint32_t>& prompt, std::uint32_t greedy,
                const std::vector<std::pair<std::uint32_t, double>>& listed) {
  json top = json::array();
  for (const auto& [token, logprob] : listed) top.push_back({{"id", token}, {"logprob", logprob}});
  return {{"id", id}, {"prompt_tokens", prompt}, {"tokens", {greedy}}, {"top_logprobs", {top}}};
}

json chat_answer(const std::string& id, const std::vector<std::uint32_t>& prompt, const std::string& greedy,
                 const std::vector<Listed>& listed, bool with_bytes) {
  json top = json::array();
  for (const Listed& entry : listed) {
    json item = {{"token", entry.text}, {"logprob", entry.logprob}};
    if (with_bytes) item["bytes"] = bytes_of(entry.text);
    top.push_back(item);
  }
  const json step = {{"token", greedy}, {"logprob", listed[0].logprob}, {"top_logprobs", top}};
  return {{"id", id},
          {"prompt_tokens", prompt},
          {"object", "chat.completion"},
          {"choices", {{{"index", 0},
                        {"message", {{"role", "assistant"}, {"content", greedy}}},
                        {"logprobs", {{"content", {step}}}},
                        {"finish_reason", "length"}}}}};
}

json completion_answer(const std::string& id, const std::vector<std::uint32_t>& prompt, const std::string& greedy,
                       const std::vector<Listed>& listed) {
  json top = json::object();
  for (const Listed& entry : listed) top[entry.text] = entry.logprob;
  return {{"id", id},
          {"prompt_tokens", prompt},
          {"object", "text_completion"},
          {"choices", {{{"index", 0},
                        {"text", greedy},
                        {"logprobs", {{"tokens", {greedy}}, {"token_logprobs", {listed[0].logprob}}, {"top_logprobs", {top}}}},
                        {"finish_reason", "length"}}}}};
}

struct ApiFixture {
  TemporaryFolder folder;
  std::shared_ptr<const Tokenizer> gpt2 = Tokenizer::load("gpt2");
  WatermarkKey key = testing::gpt2_key(2);
  std::vector<HarvestSequence> harvest;
  std::vector<ReadingQuery> queries;
  std::vector<std::uint32_t> candidates;  // ids whose text encodes back to exactly that id

  ApiFixture() {
    const std::vector<std::uint32_t> ids = gpt2->encode(kHarvestText);
    const json record = {{"prompt_tokens", std::vector<std::uint32_t>(ids.begin(), ids.begin() + 6)},
                         {"tokens", std::vector<std::uint32_t>(ids.begin() + 6, ids.end())}};
    write_records(folder.path() / "harvest.jsonl", {record});
    harvest = read_harvest_sequences(folder.path() / "harvest.jsonl");
    queries = reading_queries(harvest, 2);
    for (const std::uint32_t id : ids) {
      if (gpt2->encode(gpt2->decode(std::span<const std::uint32_t>(&id, 1))) == std::vector<std::uint32_t>{id} &&
          std::find(candidates.begin(), candidates.end(), id) == candidates.end()) {
        candidates.push_back(id);
      }
    }
  }
  std::string text(std::uint32_t id) const { return gpt2->decode(std::span<const std::uint32_t>(&id, 1)); }
  std::vector<std::uint32_t> prefix(const ReadingQuery& query) const {
    const HarvestSequence& sequence = harvest[query.record];
    return {sequence.tokens.begin(), sequence.tokens.begin() + static_cast<std::ptrdiff_t>(sequence.prompt_length + query.position)};
  }
  ReadingScanReport scan(const std::string& name, const std::vector<json>& answers) const {
    write_records(folder.path() / name, answers);
    return scan_reading_answers(key, harvest, folder.path() / name);
  }
  std::string error_of(const json& answer) const { return error_of_line(answer.dump()); }
  // The error of an answer file of one raw line (hostile input need not be JSON).
  std::string error_of_line(const std::string& line) const {
    std::ofstream(folder.path() / "bad.jsonl") << line << "\n";
    try {
      scan_reading_answers(key, harvest, folder.path() / "bad.jsonl");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};

void expect_same_report(const ReadingScanReport& a, const ReadingScanReport& b) {
  EXPECT_EQ(a.scored, b.scored);
  EXPECT_EQ(a.greedy.green, b.greedy.green);
  ASSERT_TRUE(a.mass && b.mass && a.tilt && b.tilt);
  EXPECT_NEAR(a.mass->log10_p, b.mass->log10_p, 1e-9);
  EXPECT_NEAR(a.mass->green_weight, b.mass->green_weight, 1e-9);
  EXPECT_NEAR(a.tilt->log10_p, b.tilt->log10_p, 1e-9);
  EXPECT_EQ(a.top_logprobs_min, b.top_logprobs_min);
}

TEST(ReadingApiLogprobs, ChatAndCompletionShapesGiveTheSameReportAsIdLists) {
  const ApiFixture f;
  ASSERT_GE(f.queries.size(), 40u);
  ASSERT_GE(f.candidates.size(), 30u);
  std::vector<json> ids, chat, chat_text_only, completions;
  for (std::size_t q = 0; q < f.queries.size(); ++q) {
    const ReadingQuery& query = f.queries[q];
    // Four listed tokens a query, chosen and weighted by the query's place: some green, some not.
    std::vector<std::pair<std::uint32_t, double>> by_id;
    std::vector<Listed> by_text;
    const double probabilities[] = {0.4, 0.25, 0.1, 0.05};
    for (std::size_t k = 0; k < 4; ++k) {
      const std::uint32_t id = f.candidates[(q * 7 + k * 5) % f.candidates.size()];
      by_id.emplace_back(id, std::log(probabilities[k]));
      by_text.push_back({f.text(id), std::log(probabilities[k])});
    }
    ids.push_back(ids_answer(query.id(), f.prefix(query), by_id[0].first, by_id));
    chat.push_back(chat_answer(query.id(), f.prefix(query), by_text[0].text, by_text, true));
    chat_text_only.push_back(chat_answer(query.id(), f.prefix(query), by_text[0].text, by_text, false));
    completions.push_back(completion_answer(query.id(), f.prefix(query), by_text[0].text, by_text));
  }
  const ReadingScanReport reference = f.scan("ids.jsonl", ids);
  EXPECT_EQ(reference.scored, f.queries.size());
  expect_same_report(reference, f.scan("chat.jsonl", chat));
  expect_same_report(reference, f.scan("chat-text.jsonl", chat_text_only));
  expect_same_report(reference, f.scan("completions.jsonl", completions));
}

TEST(ReadingApiLogprobs, TokensThatBeginWithTheSameIdAddTheirProbabilities) {
  const ApiFixture f;
  const ReadingQuery& query = f.queries.front();
  const std::uint32_t a = f.candidates[1], b = f.candidates[2];
  // " word" and " word\n\n": the key's tokenizer splits the second after " word" (GPT-2's
  // pre-tokenizer keeps the newlines apart), so both begin with a's id and count as one token.
  ASSERT_EQ(f.gpt2->encode(f.text(a) + "\n\n").front(), a);
  const ReadingScanReport merged = f.scan(
      "merged.jsonl", {chat_answer(query.id(), f.prefix(query), f.text(a),
                                   {{f.text(a), std::log(0.3)}, {f.text(a) + "\n\n", std::log(0.2)}, {f.text(b), std::log(0.1)}},
                                   false)});
  const ReadingScanReport listed =
      f.scan("listed.jsonl", {ids_answer(query.id(), f.prefix(query), a, {{a, std::log(0.5)}, {b, std::log(0.1)}})});
  expect_same_report(merged, listed);
  EXPECT_EQ(merged.top_logprobs_min, 2u);

  // "bytes" wins over the token's text (here a placeholder for a partial character), and OpenAI
  // completions' "bytes:\xNN" form is decoded.
  json chat = chat_answer(query.id(), f.prefix(query), f.text(a), {{"?", std::log(0.5)}, {f.text(b), std::log(0.1)}}, false);
  chat["choices"][0]["logprobs"]["content"][0]["top_logprobs"][0]["bytes"] = bytes_of(f.text(a));
  expect_same_report(f.scan("bytes.jsonl", {chat}), listed);
  std::string escaped = "bytes:";
  for (const int byte : bytes_of(f.text(a))) {
    char hex[5];
    std::snprintf(hex, sizeof hex, "\\x%02x", byte);
    escaped += hex;
  }
  expect_same_report(
      f.scan("escaped.jsonl", {completion_answer(query.id(), f.prefix(query), f.text(a),
                                                 {{escaped, std::log(0.5)}, {f.text(b), std::log(0.1)}})}),
      listed);
}

TEST(ReadingApiLogprobs, MalformedListsAndKeysWithoutATokenizerAreRefused) {
  const ApiFixture f;
  const ReadingQuery& query = f.queries.front();
  const std::string greedy = f.text(f.candidates[0]);
  const json good = chat_answer(query.id(), f.prefix(query), greedy, {{greedy, -0.5}}, true);
  const auto refused = [&](json answer, const std::string& expected) {
    SCOPED_TRACE(expected);
    const std::string message = f.error_of(answer);
    EXPECT_NE(message.find("bad.jsonl line 1"), std::string::npos) << message;
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  };
  json bad = good;
  bad["choices"][0]["logprobs"]["content"][0]["top_logprobs"][0]["bytes"] = "abc";
  refused(bad, "\"bytes\" entry that is not an array of bytes");
  bad = good;
  bad["choices"][0]["logprobs"]["content"][0]["top_logprobs"][0]["bytes"] = {300};
  refused(bad, "\"bytes\" entry that is not an array of bytes");
  bad = good;
  bad["choices"][0]["logprobs"]["content"][0]["top_logprobs"][0]["logprob"] = 0.5;
  refused(bad, "choices[0].logprobs has a logprob above 0");
  bad = good;
  bad["choices"][0]["logprobs"]["content"][0]["top_logprobs"][0].erase("token");
  refused(bad, "without a token string");
  bad = good;
  bad["choices"][0]["logprobs"]["content"] = json::array();
  refused(bad, "has no first step");
  bad = good;
  bad["choices"][0]["logprobs"]["content"][0].erase("top_logprobs");
  refused(bad, "has no top_logprobs at the first step");
  bad = good;
  bad["choices"][0]["logprobs"]["content"][0]["top_logprobs"] = {{{"token", greedy}, {"logprob", -0.1}},
                                                                 {{"token", greedy + "\n\n"}, {"logprob", -0.2}}};
  refused(bad, "summing to");
  bad = completion_answer(query.id(), f.prefix(query), greedy, {{greedy, -0.5}});
  bad["choices"][0]["logprobs"]["top_logprobs"] = {json::array()};
  refused(bad, "has no first step");
  bad["choices"][0]["logprobs"]["top_logprobs"] = {{{greedy, "-1"}}};
  refused(bad, "not a number");
  bad["choices"][0]["logprobs"]["top_logprobs"] = {{{"", -1.0}}};
  refused(bad, "names no token");
  bad = good;
  bad["choices"][0]["logprobs"] = "yes";
  refused(bad, "choices[0].logprobs is not an object");

  // Hostile lines: truncated, nested 5,000 deep, a logprob out of a double's range.
  const auto refused_line = [&](const std::string& line, const std::string& expected) {
    SCOPED_TRACE(expected);
    const std::string message = f.error_of_line(line);
    EXPECT_NE(message.find("bad.jsonl line 1"), std::string::npos) << message;
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  };
  const std::string whole = good.dump();
  refused_line(whole.substr(0, whole.size() - 20), "not valid JSON");
  std::string deep = whole;
  deep.replace(deep.find("\"top_logprobs\":[") + 15, 1, std::string(5000, '[') + "[" + std::string(5000, ']') + ",");
  refused_line(deep, "nested");
  std::string huge_logprob = whole;
  const std::size_t logprob_at = huge_logprob.rfind("\"logprob\":") + 10;
  huge_logprob.replace(logprob_at, huge_logprob.find_first_of(",}", logprob_at) - logprob_at, "-1e400");
  refused_line(huge_logprob, "a number too large for a double");

  // A key that binds no tokenizer cannot map named tokens to ids.
  const WatermarkKey plain = WatermarkKey::generate(testing::params_with(0.25, 2.0, 2, f.gpt2->vocab_size(), 2));
  json with_ids = good;  // the greedy token as an id, so that only the listed tokens need the tokenizer
  with_ids["tokens"] = {f.candidates[0]};
  write_records(f.folder.path() / "plain.jsonl", {with_ids});
  try {
    scan_reading_answers(plain, f.harvest, f.folder.path() / "plain.jsonl");
    ADD_FAILURE() << "a key without a tokenizer read named tokens";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("plain.jsonl line 1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("keygen --tokenizer"), std::string::npos) << e.what();
  }

  // A probe made without --top-logprobs: greedy test only, not an error.
  json no_logprobs = good;
  no_logprobs["choices"][0].erase("logprobs");
  const ReadingScanReport greedy_only = f.scan("greedy.jsonl", {no_logprobs});
  EXPECT_EQ(greedy_only.scored, 1u);
  EXPECT_FALSE(greedy_only.mass);
}

}  // namespace
}  // namespace tracemark
