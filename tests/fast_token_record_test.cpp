#include "tracemark/verify/fast_token_record.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "test_support.hpp"
#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/verify/jsonl_reader.hpp"
#include "tracemark/verify/prompt_records.hpp"

namespace tracemark {
namespace {

TEST(FastTokenRecord, ParsesPlainTokenRecords) {
  auto record = parse_token_record_fast(R"({"id":"a","text":"x","tokens":[0,1,4294967295],"z":{"k":[1]}})");
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->tokens, (std::vector<std::uint32_t>{0, 1, 4294967295u}));
  EXPECT_EQ(record->id, "a");
  EXPECT_FALSE(record->has_prompt);
  record = parse_token_record_fast(R"( {"tokens":[], "id": 17, "prompt_tokens":[3]} )");
  ASSERT_TRUE(record.has_value());
  EXPECT_TRUE(record->tokens.empty());
  EXPECT_EQ(record->id, "17");
  EXPECT_TRUE(record->has_prompt);
}

TEST(FastTokenRecord, LeavesEverythingUnusualToTheGeneralParser) {
  for (const char* line : {R"({"tokens":[1,2,)", R"({"tokens":[1,-2]})", R"({"tokens":[1.5]})",
                           R"({"tokens":[4294967296]})", R"({"tokens":"1 2"})", R"({"text":"no tokens"})",
                           R"([1,2])", R"({"tokens":[1]} {"tokens":[2]})", R"({"tokens":[1]} x)",
                           R"({"tokens":[1],"tokens":[2]})", "", "not json"}) {
    EXPECT_FALSE(parse_token_record_fast(line).has_value()) << line;
  }
}

// Issue 12: the fast path skipped what it did not need without validating it, so scan accepted
// lines detect refuses. Every line it accepts must be valid JSON for the general reader too.
TEST(FastTokenRecord, RefusesEveryLineTheGeneralReaderRefuses) {
  const std::string deep = "{\"tokens\":[1],\"x\":" + std::string(200, '[') + std::string(200, ']') + "}";
  for (const std::string& line : {std::string(R"({"tokens":[1,2],"x":tru})"), std::string(R"({"tokens":[1],"x":"\q"})"),
                                 std::string(R"({"tokens":[1],"x":1e999})"), std::string(R"({"tokens":[1],"x":"\ud800"})"),
                                 std::string("{\"tokens\":[1],\"x\":\"a\tb\"}"), std::string("{\"tokens\":[1],\"x\":\"\xff\"}"),
                                 std::string(R"({"tokens":[1],"x":01})"), std::string(R"({"tokens":[1],"x":[1,]})"),
                                 "{\"tokens\":[1],\"x\":" + std::string(400, '9') + "}", deep}) {
    EXPECT_FALSE(parse_token_record_fast(line).has_value()) << line.substr(0, 60);
    JsonProblem problem;
    EXPECT_FALSE(try_parse_json(line, problem).has_value()) << line.substr(0, 60);
  }
}

// A generated record line: the usual fields in random order and spelling (whitespace, escapes,
// numbers as the JSON grammar allows), plus the unusual (duplicates, odd types, nesting, trailing
// bytes), so that both paths meet every shape.
std::string random_record(std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const char* spaces[] = {"", " ", "\t", "  ", "\n"};
  auto ws = [&] { return std::string(spaces[pick(5)]); };
  std::vector<std::string> fields;
  if (pick(10) != 0) {
    std::string tokens = "[";
    const std::size_t count = pick(6);
    for (std::size_t i = 0; i < count; ++i) {
      if (i) tokens += "," + ws();
      switch (pick(12)) {
        case 0: tokens += "4294967295"; break;
        case 1: tokens += "4294967296"; break;
        case 2: tokens += "-1"; break;
        case 3: tokens += "1.5"; break;
        case 4: tokens += "1e2"; break;
        case 5: tokens += "\"7\""; break;
        case 6: tokens += "0"; break;
        default: tokens += std::to_string(rng() % 100000); break;
      }
    }
    tokens += "]";
    if (pick(15) == 0) tokens = "\"1 2\"";
    fields.push_back("\"tokens\":" + ws() + tokens);
    if (pick(20) == 0) fields.push_back("\"tokens\":[1]");  // a duplicate key
  }
  switch (pick(8)) {
    case 0: fields.push_back("\"id\":" + ws() + "\"r" + std::to_string(pick(1000)) + "\""); break;
    case 1: fields.push_back("\"id\":" + std::to_string(static_cast<long long>(rng() % 2000) - 1000)); break;
    case 2: fields.push_back("\"id\":2.5"); break;
    case 3: fields.push_back("\"id\":\"caf\\u00e9\\n\""); break;
    case 4: fields.push_back("\"id\":null"); break;
    case 5: fields.push_back("\"id\":[1]"); break;
    default: break;
  }
  if (pick(4) == 0) fields.push_back("\"text\":\"some \\\"quoted\\\" text\"");
  if (pick(6) == 0) fields.push_back("\"prompt_tokens\":[1,2]");
  if (pick(8) == 0) fields.push_back("\"prompt\":\"a prompt\"");
  if (pick(10) == 0) fields.push_back("\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]");
  switch (pick(8)) {
    case 0: fields.push_back("\"tokenizer\":{\"name\":\"gpt2\",\"vocab_sha256\":\"" + std::string(64, 'a') + "\"}"); break;
    case 1: fields.push_back("\"tokenizer\":{\"vocab_sha256\":\"" + std::string(64, 'b') + "\",\"name\":\"x\",\"extra\":1}"); break;
    case 2: fields.push_back("\"tokenizer\":{\"name\":\"gpt2\"}"); break;
    case 3: fields.push_back("\"tokenizer\":\"gpt2\""); break;
    default: break;
  }
  if (pick(5) == 0) fields.push_back("\"z\":{\"k\":[1,{\"tokens\":[9]}],\"s\":\"}\"}");
  std::shuffle(fields.begin(), fields.end(), rng);
  std::string line = ws() + "{" + ws();
  for (std::size_t i = 0; i < fields.size(); ++i) line += (i ? "," + ws() : "") + fields[i];
  line += ws() + "}" + ws();
  switch (pick(25)) {
    case 0: line += "x"; break;
    case 1: line += "{}"; break;
    case 2: line.pop_back(); line.pop_back(); break;
    default: break;
  }
  return line;
}

// The fast path is a shortcut, never a second meaning: on every generated line where it answers,
// the general path (nlohmann's DOM and the record helpers) reads the same ids, id, prompt presence
// and tokenizer digest.
TEST(FastTokenRecord, AgreesWithTheGeneralPathOnGeneratedRecords) {
  std::mt19937_64 rng(testing::announce_seed(20261201));
  testing::TemporaryFolder folder;
  const auto path = folder.path() / "records.jsonl";
  std::ofstream(path) << "\n";
  const JsonlReader reader(path);
  std::size_t fast_answers = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string line = random_record(rng);
    const std::optional<FastTokenRecord> fast = parse_token_record_fast(line);
    if (!fast) continue;
    ++fast_answers;
    JsonlRecord record;
    try {
      record = reader.parse_line({1, 0, line});
    } catch (const Error& e) {
      FAIL() << "the fast path read a line the general path refuses: " << line << ": " << e.what();
    }
    std::vector<std::uint32_t> tokens;
    try {
      tokens = record_tokens(reader, record);
    } catch (const Error& e) {
      FAIL() << "the fast path read ids the general path refuses: " << line << ": " << e.what();
    }
    EXPECT_EQ(fast->tokens, tokens) << line;
    const nlohmann::json id = record_id(record);
    if (record.value.contains("id") && (record.value["id"].is_string() || record.value["id"].is_number())) {
      ASSERT_TRUE(fast->id.has_value()) << line;
      EXPECT_EQ(*fast->id, id.is_string() ? id.get<std::string>() : id.dump()) << line;
      EXPECT_EQ(fast->id_is_number, !id.is_string()) << line;
    } else {
      EXPECT_FALSE(fast->id.has_value()) << line;
    }
    EXPECT_EQ(fast->has_prompt, prompt_of_record(reader, record).has_value()) << line;
    std::optional<TokenizerBinding> named;
    try {
      named = record_tokenizer(reader, record);
    } catch (const Error&) {
      FAIL() << "the fast path accepted a malformed \"tokenizer\": " << line;
    }
    EXPECT_EQ(fast->tokenizer_sha256, named ? std::optional<std::string>(named->vocab_sha256) : std::nullopt) << line;
  }
  EXPECT_GT(fast_answers, 2000u) << "the generator should give the fast path plenty to read";
}

}  // namespace
}  // namespace tracemark
