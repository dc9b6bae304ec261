// The probe prompts written from the flagged accounts' audit lines: distinct prompts in log order,
// and nothing a suspect could copy from us (chats with our turns, which quote served answers).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tracemark/campaigns/campaign_outputs.hpp"
#include "tracemark/error.hpp"

namespace tracemark::campaigns {
namespace {

class ProbePrompts : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::temp_directory_path() /
              ("tm_probe_prompts_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(folder_);
    std::filesystem::create_directories(folder_);
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }

  std::filesystem::path write_log(const std::vector<std::string>& prompts_by_account) {
    const std::filesystem::path log = folder_ / "audit.jsonl";
    std::ofstream out(log);
    for (const std::string& line : prompts_by_account) out << line << "\n";
    return log;
  }
  static std::string line(const std::string& account, const std::string& prompt) {
    return R"({"audit_version":2,"time":"2026-03-02T00:00:00.000Z","account":")" + account + R"(","prompt":)" + prompt + "}";
  }
  static std::vector<std::string> read_lines(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string text; std::getline(in, text);) lines.push_back(text);
    return lines;
  }

  std::filesystem::path folder_;
};

TEST_F(ProbePrompts, AreTheFlaggedAccountsDistinctPromptsWithoutOurTurns) {
  CampaignReport report;
  report.inputs = {write_log({
      line("a", R"([{"role":"system","content":"s"},{"role":"user","content":"q1"}])"),
      line("b", R"("not flagged")"),
      line("a", R"("q0")"),
      line("a", R"([{"role":"system","content":"s"},{"role":"user","content":"q1"}])"),  // a repeat
      line("a", R"([{"role":"user","content":"q2"},{"role":"assistant","content":"our answer"},{"role":"user","content":"q3"}])"),
      line("a", R"([{"role":"tool","content":"x"}])"),  // not the user's: left out like our turns
      line("a", "[1,2,3]"),
      line("a", R"("q0 ")"),  // another prompt (whitespace is text)
      // Hostile shapes the audit reader lets through: none can be sent, each is counted.
      line("a", "42"),
      line("a", R"({"role":"user","content":"q4"})"),
      line("a", "[]"),
      line("a", R"([{"role":"user","content":"q5"},3])"),
      line("a", "[1,-2]"),
      line("a", R"([{"role":5,"content":"q6"}])"),  // a role that is not a string: not the user's
      line("a", R"("q\u0000\ud83d\ude00")"),      // escapes are kept as text
  }).string()};
  report.flagged_accounts = {"a"};
  const std::filesystem::path out = folder_ / "probe.jsonl";
  const ProbePromptCounts counts = write_probe_prompts(report, out, false);
  EXPECT_EQ(counts.written, 4u);
  EXPECT_EQ(counts.repeated, 1u);
  EXPECT_EQ(counts.quoting_ours, 3u);
  EXPECT_EQ(counts.token_ids, 1u);
  EXPECT_EQ(counts.other, 5u);
  EXPECT_EQ(read_lines(out), (std::vector<std::string>{
                                 R"({"id":"probe-0","messages":[{"role":"system","content":"s"},{"role":"user","content":"q1"}]})",
                                 R"({"id":"probe-1","prompt":"q0"})",
                                 R"({"id":"probe-2","prompt":"q0 "})",
                                 "{\"id\":\"probe-3\",\"prompt\":\"q\\u0000\xf0\x9f\x98\x80\"}",
                             }));
  EXPECT_EQ(std::filesystem::status(out).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // An existing file is kept unless overwriting is asked for.
  EXPECT_THROW(write_probe_prompts(report, out, false), Error);
  EXPECT_EQ(read_lines(out).size(), 4u);
  EXPECT_NO_THROW(write_probe_prompts(report, out, true));
}

TEST_F(ProbePrompts, NeedTheLogsAsFiles) {
  CampaignReport report;
  report.inputs = {"-"};
  report.flagged_accounts = {"a"};
  EXPECT_THROW(write_probe_prompts(report, folder_ / "probe.jsonl", false), Error);
  EXPECT_FALSE(std::filesystem::exists(folder_ / "probe.jsonl"));
}

}  // namespace
}  // namespace tracemark::campaigns
