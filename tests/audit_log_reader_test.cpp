// Reading audit lines for campaign discovery: RFC 3339 times, every prompt form, version 1 lines,
// and malformed lines named by file, line and byte offset (or skipped and counted).
#include <gtest/gtest.h>

#include <fstream>

#include <unistd.h>

#include "tracemark/campaigns/audit_record.hpp"
#include "tracemark/error.hpp"

namespace tracemark::campaigns {
namespace {

TEST(Rfc3339, ParsesAndFormats) {
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339_ms("2026-03-02T00:00:00.000Z"), 1'772'409'600'000);
  EXPECT_EQ(parse_rfc3339_ms("2026-03-02T01:00:00+01:00"), 1'772'409'600'000);
  EXPECT_EQ(parse_rfc3339_ms("2026-03-01T19:00:00.5-05:00"), 1'772'409'600'500);
  EXPECT_EQ(parse_rfc3339_ms("2024-02-29t12:00:00.123456z"), 1'709'208'000'123);
  for (const char* bad : {"2026-03-02", "2026-13-02T00:00:00Z", "2026-03-02T00:00:00", "2026-03-02T25:00:00Z", "yesterday",
                          "2026-03-02T00:00:00Zjunk", "2026-03-02T00:00:00.Z", "2026-02-30T00:00:00Z"}) {
    EXPECT_FALSE(parse_rfc3339_ms(bad)) << bad;
  }
  for (const std::int64_t t : {0LL, 1'772'409'600'000LL, 1'709'208'000'123LL, 4'102'444'799'999LL, 951'782'400'000LL}) {
    EXPECT_EQ(parse_rfc3339_ms(format_rfc3339_ms(t)), t) << format_rfc3339_ms(t);
  }
  EXPECT_EQ(format_rfc3339_ms(1'772'409'600'000), "2026-03-02T00:00:00.000Z");
}

// Each test writes one log into a file of its own, removed afterwards.
class AuditLogReading : public ::testing::Test {
 protected:
  std::filesystem::path path_ = std::filesystem::temp_directory_path() /
                                ("tracemark-audit-reader-" + std::to_string(::getpid()) + "-" +
                                 ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".jsonl");
  void TearDown() override { std::filesystem::remove(path_); }
  std::filesystem::path write(const std::string& content) {
    std::ofstream(path_, std::ios::binary) << content;
    return path_;
  }
};

// Version 3 (issue 15) added the optional "key_label" of a keyring-served line: read as before.
TEST_F(AuditLogReading, ReadsVersionThreeLinesWithAKeyLabel) {
  const auto path = write(
      R"({"audit_version":3,"time":"2026-03-02T00:00:01.000Z","account":"a","client_address":"192.0.2.1","user_agent":"ua/1","model":"m1","key_id":"tmk_0123456789abcdef","key_label":"cohort:canary-a","prompt":"p","tokens":[1,2]})" "\n");
  AuditLogReader reader(path, false);
  AuditRecord r;
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.account, "a");
  EXPECT_EQ(r.model, "m1");
  EXPECT_TRUE(r.has_response);
  EXPECT_FALSE(reader.next(r));
}

TEST_F(AuditLogReading, ReadsEveryPromptFormAndVersionOneLines) {
  const auto path = write(
      R"({"audit_version":2,"time":"2026-03-02T00:00:01.000Z","account":"a","client_address":"192.0.2.1","user_agent":"ua/1","model":"m1","prompt":"plain text","text":"x"})" "\n"
      "\n"
      R"({"time":"2026-03-02T00:00:02Z","account":"b","prompt":[{"role":"system","content":"be brief"},{"role":"user","content":"hello"}],"tokens":[]})" "\n"
      R"({"event":"rejected","time":"2026-03-02T00:00:02Z","status":401,"client":"192.0.2.9","account":null})" "\n"
      R"({"time":"2026-03-02T00:00:03Z","account":"c","prompt":[1,2,3],"client_address":null,"future_field":{"x":1}})" "\n");
  AuditLogReader reader(path, false);
  AuditRecord r;
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.account, "a");
  EXPECT_EQ(r.client_address, "192.0.2.1");
  EXPECT_EQ(r.user_agent, "ua/1");
  EXPECT_EQ(r.model, "m1");
  EXPECT_EQ(r.prompt_text, "plain text");
  EXPECT_TRUE(r.has_response);
  EXPECT_EQ(r.time_ms, 1'772'409'601'000);
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.account, "b");
  EXPECT_EQ(r.prompt_text, "be brief\nhello");
  EXPECT_TRUE(r.client_address.empty() && r.user_agent.empty() && r.model.empty());
  EXPECT_FALSE(r.has_response);  // an empty token list is no response
  EXPECT_EQ(reader.line().line, 3u);
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.account, "c");
  EXPECT_TRUE(r.prompt_text.empty());  // token ids: no text
  EXPECT_EQ(reader.line().line, 5u);   // the refused request's event line was passed over, not an error
  EXPECT_FALSE(reader.next(r));
  EXPECT_EQ(reader.lines_read(), 4u);
  EXPECT_EQ(reader.skipped_lines(), 0u);
}

TEST_F(AuditLogReading, NamesFileLineAndOffsetOfABadLine) {
  const std::string good = R"({"time":"2026-03-02T00:00:01Z","account":"a"})" "\n";
  const auto path = write(good + R"({"time":"2026-03-02T00:00:01Z","account":7})" "\n" + good);
  AuditLogReader reader(path, false);
  AuditRecord r;
  ASSERT_TRUE(reader.next(r));
  try {
    reader.next(r);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    const std::string message = e.what();
    EXPECT_NE(message.find(path.string() + " line 2 (byte offset " + std::to_string(good.size()) + "): \"account\" is not a non-empty string"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("--skip-bad-lines"), std::string::npos);
  }
}

TEST_F(AuditLogReading, SkipsAndCountsBadLinesWhenAsked) {
  const std::string good = R"({"time":"2026-03-02T00:00:01Z","account":"a"})" "\n";
  const auto path = write(good + "not json\n" + R"({"account":"a"})" "\n" + R"(["array"])" "\n" + R"({"time":"2026-03-02T00:00:01Z","account":"a","x":tru})" "\n" +
                          R"({"time":"2026-03-02","account":"a"})" "\n" + R"({"time":"2026-03-02T00:00:01Z","account":"a","user_agent":5})" "\n" + good);
  AuditLogReader reader(path, true);
  AuditRecord r;
  int read = 0;
  while (reader.next(r)) ++read;
  EXPECT_EQ(read, 2);
  EXPECT_EQ(reader.skipped_lines(), 6u);
  EXPECT_NE(reader.first_skip_reason().find(path.string() + " line 2 (byte offset "), std::string::npos)
      << reader.first_skip_reason();
}

}  // namespace
}  // namespace tracemark::campaigns
