#include "tracemark/json_input.hpp"

#include <gtest/gtest.h>

#include <string>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

std::string nested(std::size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(JsonInput, AcceptsDocumentsUpToTheDepthLimit) {
  JsonProblem problem;
  const auto value = try_parse_json(nested(kMaxJsonDepth), problem);
  ASSERT_TRUE(value.has_value()) << problem.reason;
  EXPECT_TRUE(value->is_array());
  EXPECT_TRUE(try_parse_json(R"({"a": [1, {"b": "x[[[[\"]]"}], "c": null})", problem).has_value());
}

TEST(JsonInput, RefusesDeeperDocumentsWithoutRecursing) {
  JsonProblem problem;
  EXPECT_FALSE(try_parse_json(nested(kMaxJsonDepth + 1), problem).has_value());
  EXPECT_EQ(problem.offset, kMaxJsonDepth);
  EXPECT_NE(problem.reason.find("nested deeper than 128"), std::string::npos) << problem.reason;
  // 100,000 levels (the security review's request): refused at once, no stack overflow.
  std::string deep = "{\"prompt\": " + nested(100000) + "}";
  EXPECT_FALSE(try_parse_ordered_json(deep, problem).has_value());
  EXPECT_THROW(parse_json(deep, "request"), Error);
  // Brackets inside strings do not count; escaped quotes do not end a string.
  EXPECT_TRUE(try_parse_json("[\"" + std::string(1000, '[') + "\\\"\"]", problem).has_value()) << problem.reason;
}

TEST(JsonInput, NumbersBeyondADoubleAreInvalidInputWithTheirOffset) {
  for (const std::string& text : {std::string("{\"a\": 1e999}"), "{\"a\": " + std::string(400, '9') + "}",
                                 std::string("{\"a\": -1e400}")}) {
    JsonProblem problem;
    EXPECT_FALSE(try_parse_json(text, problem).has_value()) << text;
    EXPECT_EQ(problem.offset, 6u) << text;
    EXPECT_NE(problem.reason.find("too large for a double"), std::string::npos) << problem.reason;
    try {
      parse_json(text, "x.json");
      ADD_FAILURE() << "no error for " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input);
      EXPECT_NE(std::string(e.what()).find("x.json: not valid JSON at byte offset 6"), std::string::npos) << e.what();
      EXPECT_LT(std::string(e.what()).size(), 200u) << e.what();
    }
  }
  JsonProblem problem;
  EXPECT_TRUE(try_parse_json("[1e-400, 1e308, 18446744073709551615]", problem).has_value()) << problem.reason;
}

TEST(JsonInput, SyntaxErrorsGiveOffsetAndAShortEscapedExcerpt) {
  JsonProblem problem;
  ASSERT_FALSE(try_parse_json("{\"x\":tru}", problem).has_value());
  EXPECT_EQ(problem.offset, 8u);
  EXPECT_NE(problem.reason.find("invalid literal"), std::string::npos) << problem.reason;
  ASSERT_FALSE(try_parse_json("{\"x\":\"\\q\"}", problem).has_value());
  ASSERT_FALSE(try_parse_json("{} x", problem).has_value());
  // A huge bad token is never quoted whole, and bytes outside printable ASCII are escaped.
  const std::string huge = "{\"x\": \"" + std::string(1 << 20, 'a') + "\x01\"}";
  ASSERT_FALSE(try_parse_json(huge, problem).has_value());
  EXPECT_LT(problem.reason.size(), 300u);
  ASSERT_FALSE(try_parse_json("[\"\xff\xfe\"]", problem).has_value());
  EXPECT_EQ(problem.reason.find('\xff'), std::string::npos) << problem.reason;
  EXPECT_NE(problem.reason.find("\\xff"), std::string::npos) << problem.reason;
}

TEST(JsonInput, ExcerptsNeverDumpContainersOrLongStrings) {
  const nlohmann::json deep = nlohmann::json::parse(nested(100));
  EXPECT_EQ(json_excerpt(deep), "an array of 1 element");
  EXPECT_EQ(json_excerpt(nlohmann::json::object({{"a", 1}, {"b", 2}})), "an object of 2 members");
  EXPECT_EQ(json_excerpt(nlohmann::json(std::string(100, 'z')), 5), "\"zzzzz...\"");
  EXPECT_EQ(json_excerpt(nlohmann::json("a\"b\n")), "\"a\\\"b\\n\"");
  EXPECT_EQ(json_excerpt(nlohmann::json(-3)), "-3");
  EXPECT_EQ(json_excerpt(nlohmann::json(true)), "true");
  EXPECT_EQ(escaped_excerpt("ok\x7f\x80", 10), "ok\\x7f\\x80");
}

}  // namespace
}  // namespace tracemark
