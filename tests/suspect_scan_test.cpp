// The whole scan as a library call (run_suspect_scan) and the sharded merge under it: results that
// do not depend on the thread count or batching, per-response tallies that add up, every record
// shape giving the same ids, prompt windows in text and chat form, and the refusals (a tokenizer
// other than the key's, keys of different tokenizers, a reference log with nothing usable).
#include "tracemark/verify/suspect_scan.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include <unistd.h>

#include "test_support.hpp"
#include "tokenizer_test_support.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace tracemark {
namespace {

using testing::gpt2_key;
using testing::params_with;

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("tracemark-suspect-scan-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::vector<nlohmann::json>& records) const {
    const std::filesystem::path file = path_ / name;
    std::ofstream out(file);
    for (const nlohmann::json& record : records) out << record.dump() << '\n';
    return file.string();
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

std::vector<std::vector<std::uint32_t>> random_responses(std::uint32_t seed, int count, int length, std::uint32_t vocab) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::uint32_t> token(0, vocab - 1);
  std::vector<std::vector<std::uint32_t>> responses(count);
  for (auto& response : responses) {
    for (int i = 0; i < length; ++i) response.push_back(token(rng));
  }
  return responses;
}

void expect_same_counts(const ScanCounts& a, const ScanCounts& b) {
  EXPECT_EQ(a.responses, b.responses);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.skipped_prefix, b.skipped_prefix);
  EXPECT_EQ(a.skipped_repeated_tuple, b.skipped_repeated_tuple);
  EXPECT_EQ(a.skipped_prompt_window, b.skipped_prompt_window);
  EXPECT_EQ(a.skipped_filter, b.skipped_filter);
  EXPECT_EQ(a.scored, b.scored);
  EXPECT_EQ(a.green, b.green);
}

TEST(DistillationScanShards, BatchMergeOnManyThreadsEqualsOneResponseAtATime) {
  // A small vocabulary and h = 0 / h = 1 make many repeated tuples, so first-occurrence order matters.
  const WatermarkKey wide = WatermarkKey::generate(params_with(0.25, 2.0, 1, 300));
  const WatermarkKey flat = WatermarkKey::generate(params_with(0.5, 2.0, 0, 300));
  auto entries = [&] {
    return std::vector<DistillationScan::KeyEntry>{{wide.key_id(), std::make_shared<const GreenListScheme>(wide), nullptr},
                                                   {flat.key_id(), std::make_shared<const GreenListScheme>(flat), nullptr}};
  };
  const auto responses = random_responses(7, 400, 60, 300);  // 24,000 tokens: above the one-worker cut-off
  DistillationScan serial(entries());
  std::vector<PreparedResponse> prepared;
  for (const auto& response : responses) {
    serial.add_response(response, {});
    prepared.push_back(serial.prepare(response, {}));  // prepare() does not depend on the scan's state
  }
  for (unsigned threads : {1u, 2u, 4u, 7u}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    DistillationScan batched(entries());
    std::vector<std::vector<ResponseTally>> all_tallies(2);
    for (std::size_t begin = 0; begin < prepared.size(); begin += 150) {  // batches of uneven size
      const std::size_t end = std::min(prepared.size(), begin + 150);
      std::vector<std::vector<ResponseTally>> tallies;
      batched.merge_batch(std::span(prepared).subspan(begin, end - begin), threads, &tallies);
      ASSERT_EQ(tallies.size(), 2u);
      for (std::size_t k = 0; k < 2; ++k) {
        ASSERT_EQ(tallies[k].size(), end - begin);
        all_tallies[k].insert(all_tallies[k].end(), tallies[k].begin(), tallies[k].end());
      }
    }
    for (std::size_t k = 0; k < 2; ++k) {
      expect_same_counts(batched.counts(k), serial.counts(k));
      std::uint64_t scored = 0, green = 0;
      for (const ResponseTally& tally : all_tallies[k]) {
        scored += tally.scored;
        green += tally.green;
      }
      EXPECT_EQ(scored, serial.counts(k).scored);
      EXPECT_EQ(green, serial.counts(k).green);
    }
    EXPECT_GT(serial.counts(0).skipped_repeated_tuple, 1000u);  // the order of first occurrences was exercised
  }
}

std::vector<nlohmann::json> token_records(const std::vector<std::vector<std::uint32_t>>& responses) {
  std::vector<nlohmann::json> records;
  for (std::size_t i = 0; i < responses.size(); ++i) records.push_back({{"id", "r" + std::to_string(i)}, {"tokens", responses[i]}});
  return records;
}

TEST(RunSuspectScan, EveryFigureIsTheSameForAnyThreadCount) {
  TempDir dir;
  const WatermarkKey key = WatermarkKey::generate(params_with(0.25, 2.0, 2, 500));
  const std::string suspect = dir.write("suspect.jsonl", token_records(random_responses(11, 1500, 40, 500)));
  const std::string control = dir.write("control.jsonl", token_records(random_responses(12, 300, 40, 500)));
  SuspectScanOptions options;
  options.control_path = control;
  options.threads = 1;
  const SuspectScanReport one = run_suspect_scan({&key, 1}, suspect, options);
  for (unsigned threads : {2u, 3u, 8u}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    options.threads = threads;
    const SuspectScanReport many = run_suspect_scan({&key, 1}, suspect, options);
    expect_same_counts(many.suspect.keys[0].counts, one.suspect.keys[0].counts);
    EXPECT_EQ(many.suspect.keys[0].test.log10_p, one.suspect.keys[0].test.log10_p);
    ASSERT_TRUE(many.control.has_value());
    expect_same_counts(many.control->keys[0].counts, one.control->keys[0].counts);
    ASSERT_EQ(many.suspect.traces[0].size(), one.suspect.traces[0].size());
    for (std::size_t i = 0; i < one.suspect.traces[0].size(); ++i) {
      EXPECT_EQ(many.suspect.traces[0][i].tokens, one.suspect.traces[0][i].tokens);
      EXPECT_EQ(many.suspect.traces[0][i].green, one.suspect.traces[0][i].green);
    }
    ASSERT_EQ(many.suspect.tallies[0].size(), one.suspect.tallies[0].size());
    for (std::size_t i = 0; i < one.suspect.tallies[0].size(); ++i) {
      EXPECT_EQ(many.suspect.tallies[0][i].scored, one.suspect.tallies[0][i].scored);
      EXPECT_EQ(many.suspect.tallies[0][i].green, one.suspect.tallies[0][i].green);
    }
  }
  // The curve ends where the pooled test ends, and the response list names each record's line.
  const ScanTracePoint& last = one.suspect.traces[0].back();
  EXPECT_EQ(last.tokens, one.suspect.keys[0].counts.tokens);
  EXPECT_EQ(last.scored, one.suspect.keys[0].counts.scored);
  EXPECT_EQ(last.responses, 1500u);
  EXPECT_LE(one.suspect.traces[0].size(), options.trace_points);
  ASSERT_EQ(one.suspect.responses.size(), 1500u);
  EXPECT_EQ(one.suspect.responses[9].line, 10u);
  EXPECT_EQ(one.suspect.responses[9].id, "r9");
}

TEST(RunSuspectScan, NothingToScoreGivesPOfOne) {
  TempDir dir;
  const WatermarkKey key = WatermarkKey::generate(params_with(0.25, 2.0, 2, 500));
  const std::string empty = dir.write("empty.jsonl", {});
  const SuspectScanReport report = run_suspect_scan({&key, 1}, empty, {});
  EXPECT_EQ(report.suspect.keys[0].counts.scored, 0u);
  EXPECT_EQ(report.suspect.keys[0].test.p_value, 1.0);
  EXPECT_FALSE(report.suspect.keys[0].further_tokens_needed.has_value());
}

TEST(RunSuspectScan, AReferenceLogWithNothingUsableIsAnError) {
  TempDir dir;
  const WatermarkKey key = WatermarkKey::generate(params_with(0.25, 2.0, 2, 500));
  const std::string suspect = dir.write("suspect.jsonl", token_records(random_responses(1, 5, 40, 500)));
  SuspectScanOptions options;
  options.reference_log_path = dir.write("log.jsonl", {{{"tokens", {1, 2}}}});  // shorter than h + 1
  try {
    run_suspect_scan({&key, 1}, suspect, options);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("has no usable records"), std::string::npos) << e.what();
  }
}

const char* const kText =
    "The committee met on Tuesday to consider the budget, and after a long debate it voted to postpone the "
    "decision until the auditors had reported on the accounts of the previous year.";

TEST(RunSuspectScan, TextChatCompletionAndTokenRecordsGiveTheSameFigures) {
  TempDir dir;
  const WatermarkKey key = gpt2_key(1);
  const std::vector<std::uint32_t> ids = Tokenizer::load("gpt2")->encode(kText);
  const std::vector<std::string> files = {
      dir.write("text.jsonl", {{{"text", kText}}}),
      dir.write("chat.jsonl", {{{"id", "chatcmpl-1"}, {"object", "chat.completion"},
                                {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", kText}}}}}}}}),
      dir.write("completion.jsonl", {{{"choices", {{{"index", 0}, {"text", kText}}}}}}),
      dir.write("tokens.jsonl", {{{"tokens", ids}}}),
  };
  const SuspectScanReport reference = run_suspect_scan({&key, 1}, files.back(), {});
  EXPECT_EQ(reference.suspect.keys[0].counts.tokens, ids.size());
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    const SuspectScanReport report = run_suspect_scan({&key, 1}, file, {});
    expect_same_counts(report.suspect.keys[0].counts, reference.suspect.keys[0].counts);
    ASSERT_TRUE(report.tokenizer.has_value());
    EXPECT_EQ(report.tokenizer->name, "gpt2");
  }
  // A record with its own ids and a text: --input text reads the text (a student with another
  // tokenizer), --input tokens the ids; each as asked.
  const std::string both = dir.write("both.jsonl", {{{"tokens", {1, 2, 3, 4}}, {"text", kText}}});
  SuspectScanOptions options;
  options.token_source = TokenSource::text;
  EXPECT_EQ(run_suspect_scan({&key, 1}, both, options).suspect.keys[0].counts.tokens, ids.size());
  options.token_source = TokenSource::tokens;
  EXPECT_EQ(run_suspect_scan({&key, 1}, both, options).suspect.keys[0].counts.tokens, 4u);
}

TEST(RunSuspectScan, APromptGivenAsTextOrChatMessagesMasksItsWindows) {
  TempDir dir;
  const WatermarkKey key = gpt2_key(1);
  // A response that repeats its prompt: every tuple lies in the prompt's windows.
  const std::string plain = dir.write("plain.jsonl", {{{"prompt", kText}, {"text", kText}}});
  const std::string chat = dir.write(
      "chat.jsonl", {{{"prompt", {{{"role", "user"}, {"content", kText}}}},
                      {"choices", {{{"message", {{"role", "assistant"}, {"content", kText}}}}}}}});
  for (const std::string& file : {plain, chat}) {
    SCOPED_TRACE(file);
    const ScanCounts counts = run_suspect_scan({&key, 1}, file, {}).suspect.keys[0].counts;
    EXPECT_EQ(counts.scored, 0u);
    EXPECT_GT(counts.skipped_prompt_window, 20u);
  }
}

TEST(RunSuspectScan, RefusesATokenizerOtherThanTheKeys) {
  TempDir dir;
  const std::string text = dir.write("text.jsonl", {{{"text", kText}}});
  const WatermarkKey forged = gpt2_key(1, std::string(64, '0'));
  try {
    run_suspect_scan({&forged, 1}, text, {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("use the tokenizer the key was made with"), std::string::npos) << e.what();
  }
  // Two keys bound to different vocabularies cannot share one reading of the text.
  const std::vector<WatermarkKey> keys = {gpt2_key(1), forged};
  try {
    run_suspect_scan(keys, text, {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("scan these keys separately"), std::string::npos) << e.what();
  }
  // A text record with a key that names no tokenizer says what to do.
  const WatermarkKey bare = WatermarkKey::generate(params_with(0.25, 2.0, 1, 50257));
  try {
    run_suspect_scan({&bare, 1}, text, {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("keygen --tokenizer"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tracemark
