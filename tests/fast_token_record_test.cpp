#include "tracemark/verify/fast_token_record.hpp"

#include <gtest/gtest.h>

#include <string>

#include "tracemark/json_input.hpp"

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

}  // namespace
}  // namespace tracemark
