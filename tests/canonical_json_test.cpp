// Canonical JSON against the examples of RFC 8785 (sections 3.2.2 and 3.2.3), and the refusals of
// the subset (floats, integers beyond 2^53, invalid UTF-8).
#include "tracemark/verify/canonical_json.hpp"

#include <gtest/gtest.h>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

TEST(CanonicalJson, SortsMembersByUtf16CodeUnitsAsRfc8785Section323) {
  // RFC 8785 3.2.3: the input, and the order its example gives.
  const auto input = nlohmann::json::parse(R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })");
  const std::string expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
                               "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
                               "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\",\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}";
  EXPECT_EQ(canonical_json(input), expected);
  // UTF-8 byte order would put U+FB33 before U+1F600: the UTF-16 order is what RFC 8785 asks for.
}

TEST(CanonicalJson, EscapesStringsAndLiteralsAsRfc8785Section322) {
  // The "string" and "literals" members of the example of RFC 8785 3.2.2 (its numbers are floats,
  // which this subset refuses).
  const auto input = nlohmann::json::parse(R"({
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  })");
  EXPECT_EQ(canonical_json(input), "{\"literals\":[null,true,false],\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

TEST(CanonicalJson, WritesIntegersPlainAndNestedObjectsSorted) {
  const auto input = nlohmann::json::parse(R"({"b": [3, -7, 0, 9007199254740992], "a": {"z": 1, "y": {"x": []}}, "c": "\b\t\f\u0001\u001f"})");
  EXPECT_EQ(canonical_json(input),
            "{\"a\":{\"y\":{\"x\":[]},\"z\":1},\"b\":[3,-7,0,9007199254740992],\"c\":\"\\b\\t\\f\\u0001\\u001f\"}");
  // ordered_json gives the same text whatever its insertion order.
  nlohmann::ordered_json ordered = {{"z", 1}, {"a", 2}};
  EXPECT_EQ(canonical_json(ordered), "{\"a\":2,\"z\":1}");
}

TEST(CanonicalJson, RefusesWhatTheSubsetCannotWriteExactly) {
  try {
    canonical_json(nlohmann::json::parse(R"({"numbers": [333333333.33333329, 1E30]})"));
    FAIL() << "a float was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("$.numbers[0]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(canonical_json(nlohmann::json(std::uint64_t{9007199254740993})), Error);
  EXPECT_THROW(canonical_json(nlohmann::json(std::int64_t{-9007199254740993})), Error);
  EXPECT_THROW(canonical_json(nlohmann::json(std::string("\xff"))), Error);
  EXPECT_THROW(canonical_json(nlohmann::json{{std::string("\xc3"), 1}}), Error);
}

}  // namespace
}  // namespace tracemark
