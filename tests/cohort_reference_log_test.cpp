// A cohort's reference log (issue 15): the cohort file (accounts, clusters, duplicates refused with
// their line), the scan restricted to one cohort's exchanges and to the contexts only that cohort was
// served, its validity on null text with fresh keys (the log watermarked with the very key tested),
// and attribution to the right cohort in a small synthetic case where all traffic used one key.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "test_support.hpp"
#include "tracemark/error.hpp"
#include "tracemark/refmodel/synthetic_model.hpp"
#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/cohort_accounts.hpp"
#include "tracemark/verify/distillation_scan.hpp"
#include "tracemark/verify/suspect_scan.hpp"

namespace tracemark {
namespace {

using testing::params_with;
using Responses = std::vector<std::vector<std::uint32_t>>;

std::string write_text(const testing::TemporaryFolder& dir, const std::string& name, const std::string& text) {
  const std::string path = (dir.path() / name).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(CohortAccounts, ReadsAccountsOfOneClusterOrAllAndRefusesDuplicates) {
  testing::TemporaryFolder dir;
  const std::string file = write_text(dir, "flagged.tsv", "# account\tcluster\nb1\tc2\na1\tc1\n\na2\tc1\n");
  EXPECT_EQ(read_cohort_accounts(file, "c1").accounts, (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(read_cohort_accounts(file).accounts, (std::vector<std::string>{"a1", "a2", "b1"}));
  EXPECT_EQ(read_cohort_accounts(write_text(dir, "plain.txt", "x\ny\n")).accounts, (std::vector<std::string>{"x", "y"}));

  const std::string twice = write_text(dir, "twice.tsv", "a1\tc1\nb1\tc2\na1\tc2\n");
  EXPECT_NE(message_of([&] { read_cohort_accounts(twice); }).find("twice.tsv line 3 (byte offset 12): account 'a1' is named twice (first at line 1)"),
            std::string::npos)
      << message_of([&] { read_cohort_accounts(twice); });
  EXPECT_NE(message_of([&] { read_cohort_accounts(file, "c9"); }).find("names no account of cluster 'c9'"), std::string::npos);
  EXPECT_NE(message_of([&] { read_cohort_accounts(write_text(dir, "three.tsv", "a\tb\tc\n")); }).find("more than two columns"),
            std::string::npos);
  EXPECT_NE(message_of([&] { read_cohort_accounts(write_text(dir, "empty.tsv", "\tc1\n")); }).find("line 1 (byte offset 0): an empty account"),
            std::string::npos);
  EXPECT_THROW(read_cohort_accounts(dir.path() / "missing.tsv"), Error);
}

// An audit-like log: each response with its account.
std::string write_log(const testing::TemporaryFolder& dir, const std::vector<std::pair<std::string, Responses>>& served) {
  std::string text;
  for (const auto& [account, responses] : served) {
    for (const auto& ids : responses) text += nlohmann::json({{"account", account}, {"tokens", ids}}).dump() + "\n";
  }
  return write_text(dir, "log.jsonl", text);
}

std::string write_responses(const testing::TemporaryFolder& dir, const std::string& name, const Responses& responses) {
  std::string text;
  for (const auto& ids : responses) text += nlohmann::json({{"tokens", ids}}).dump() + "\n";
  return write_text(dir, name, text);
}

Responses generate(const SyntheticModel& model, SplitMix64& rng, int count, std::size_t length, const WatermarkKey* key) {
  Responses out;
  std::shared_ptr<const GreenListScheme> scheme = key ? std::make_shared<const GreenListScheme>(*key) : nullptr;
  for (int i = 0; i < count; ++i) {
    if (scheme) {
      WatermarkProcessor processor(scheme);
      out.push_back(model.generate(length, rng, &processor));
    } else {
      out.push_back(model.generate(length, rng, nullptr));
    }
  }
  return out;
}

// The exact probability that the one-sided binomial test of n tuples at null rate gamma gives
// p < alpha: the test's exact size at this n (below alpha, as the test is discrete).
double exact_size(std::uint64_t n, double gamma, double alpha) {
  for (std::uint64_t k = 0; k <= n; ++k) {
    const BinomialTest test = binomial_test(k, n, gamma);
    if (test.p_value < alpha) return test.p_value;
  }
  return 0.0;
}

TEST(CohortReferenceLog, StaysValidOnNullTextWithFreshKeys) {
  // The hardest null, as for the whole-log filter: the suspect is the teacher's own base model
  // WITHOUT the watermark (it often makes the teacher's choices), and the log, of two cohorts, is
  // watermarked with the very key tested. 100 fresh keys, alternating the cohort's contexts and its
  // own-only contexts. The number of trials with p < 0.05 must lie within 3.3 standard deviations
  // of its exact expectation (the sum over trials of the test's exact size at that trial's number
  // of scored tuples), and the pooled green rate at gamma. A small vocabulary makes the suspect
  // meet many of the cohort's contexts.
  const SyntheticModel model({60, 1.5, 17});
  SplitMix64 rng(testing::announce_seed(15015));
  testing::TemporaryFolder dir;
  const std::string cohorts = write_text(dir, "cohorts.tsv", "a1\tcampaign-a\na2\tcampaign-a\nb1\tcampaign-b\nb2\tcampaign-b\n");
  constexpr int kTrials = 100;
  int flagged = 0;
  double expected = 0, variance = 0;
  std::uint64_t green = 0, scored = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    const WatermarkKey key = WatermarkKey::generate(params_with(0.25, 2.0, 2, 60));
    std::vector<std::pair<std::string, Responses>> served;
    for (const char* account : {"a1", "b1", "a2", "b2"}) served.emplace_back(account, generate(model, rng, 6, 60, &key));
    const std::string log = write_log(dir, served);
    const std::string suspect = write_responses(dir, "suspect.jsonl", generate(model, rng, 20, 60, nullptr));
    SuspectScanOptions options;
    options.reference_log_path = log;
    options.reference_cohort_path = cohorts;
    options.reference_cohort_cluster = "campaign-a";
    options.only_cohort_contexts = trial % 2 == 1;
    const SuspectScanReport report = run_suspect_scan(std::vector<WatermarkKey>{key}, suspect, options);
    const KeyScanResult& result = report.suspect.keys.front();
    flagged += result.test.p_value < 0.05;
    const double size = exact_size(result.counts.scored, report.gammas.front(), 0.05);
    expected += size;
    variance += size * (1 - size);
    green += result.counts.green;
    scored += result.counts.scored;
  }
  const double rate = static_cast<double>(green) / static_cast<double>(scored);
  std::cout << "p < 0.05 in " << flagged << " of " << kTrials << " (exact expectation " << expected << ", 3.3 sd = "
            << 3.3 * std::sqrt(variance) << "); pooled green rate " << rate << " over " << scored << " tuples\n";
  EXPECT_GT(scored, 100u * kTrials);  // enough tuples a trial for the test to have a size near 0.05
  EXPECT_LE(flagged, expected + 3.3 * std::sqrt(variance));
  EXPECT_GE(flagged, expected - 3.3 * std::sqrt(variance));
  EXPECT_NEAR(rate, 0.25, 4 * std::sqrt(0.25 * 0.75 / static_cast<double>(scored)));
}

TEST(CohortReferenceLog, AttributesToTheCohortWhoseResponsesTheSuspectRepeatsWhenAllTrafficUsedOneKey) {
  // One key for all traffic. Cohort A and cohort B were each served watermarked responses; the
  // suspect repeats A's responses (a crude student of A's harvest) among clean text. On the contexts
  // only A was served it is detected; on those only B was served it is not, and the summary says
  // how many contexts each cohort kept.
  const SyntheticModel model({2000, 1.2, 23});
  SplitMix64 rng(testing::announce_seed(15016));
  testing::TemporaryFolder dir;
  const WatermarkKey key = WatermarkKey::generate(params_with(0.25, 2.0, 2, 2000));
  const Responses served_a = generate(model, rng, 40, 80, &key);
  const Responses served_b = generate(model, rng, 40, 80, &key);
  const std::string log = write_log(dir, {{"a1", served_a}, {"b1", served_b}});
  Responses suspect_responses = generate(model, rng, 40, 80, nullptr);
  suspect_responses.insert(suspect_responses.end(), served_a.begin(), served_a.begin() + 20);
  const std::string suspect = write_responses(dir, "suspect.jsonl", suspect_responses);
  const std::string cohorts = write_text(dir, "cohorts.tsv", "a1\tcampaign-a\nb1\tcampaign-b\n");
  auto scan = [&](const std::string& cluster) {
    SuspectScanOptions options;
    options.reference_log_path = log;
    options.reference_cohort_path = cohorts;
    options.reference_cohort_cluster = cluster;
    options.only_cohort_contexts = true;
    return run_suspect_scan(std::vector<WatermarkKey>{key}, suspect, options);
  };
  const SuspectScanReport a = scan("campaign-a");
  const SuspectScanReport b = scan("campaign-b");
  ASSERT_EQ(a.reference.size(), 1u);
  EXPECT_EQ(a.reference.front().cohort_accounts, 1u);
  EXPECT_EQ(a.reference.front().responses, 40u);
  EXPECT_GT(a.reference.front().shared_contexts_dropped, 0u);
  std::cout << "cohort A: " << a.suspect.keys.front().counts.scored << " scored, log10 p " << a.suspect.keys.front().test.log10_p
            << "; cohort B: " << b.suspect.keys.front().counts.scored << " scored, log10 p " << b.suspect.keys.front().test.log10_p << "\n";
  EXPECT_LT(a.suspect.keys.front().test.log10_p, -6.0);
  EXPECT_GT(b.suspect.keys.front().test.log10_p, std::log10(0.01));
  EXPECT_GT(b.suspect.keys.front().counts.scored, 0u);
}

TEST(CohortReferenceLog, RefusesWhatItCannotPlace) {
  testing::TemporaryFolder dir;
  const WatermarkKey key = WatermarkKey::generate(params_with(0.25, 2.0, 1, 100));
  const std::string suspect = write_responses(dir, "suspect.jsonl", {{1, 2, 3, 4}});
  const std::string cohorts = write_text(dir, "cohorts.tsv", "a1\n");
  SuspectScanOptions options;
  options.reference_log_path = write_text(dir, "log.jsonl", "{\"account\": \"a1\", \"tokens\": [1, 2, 3]}\n{\"tokens\": [4, 5, 6]}\n");
  options.reference_cohort_path = cohorts;
  const std::vector<WatermarkKey> keys{key};
  EXPECT_NE(message_of([&] { run_suspect_scan(keys, suspect, options); }).find("log.jsonl line 2 (byte offset 39): no \"account\""),
            std::string::npos)
      << message_of([&] { run_suspect_scan(keys, suspect, options); });
  // Every context of the cohort is also another account's: nothing is the cohort's alone.
  options.reference_log_path = write_text(dir, "shared.jsonl", "{\"account\": \"a1\", \"tokens\": [1, 2, 3]}\n{\"account\": \"b1\", \"tokens\": [1, 2, 3, 4]}\n");
  options.only_cohort_contexts = true;
  EXPECT_NE(message_of([&] { run_suspect_scan(keys, suspect, options); }).find("no context is the cohort's alone"), std::string::npos);
  SuspectScanOptions without_log;
  without_log.reference_cohort_path = cohorts;
  EXPECT_NE(message_of([&] { run_suspect_scan(keys, suspect, without_log); }).find("give --reference-log LOG"), std::string::npos);
}

}  // namespace
}  // namespace tracemark
