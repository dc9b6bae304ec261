// Many keys at the price of one (issue 20): keys that share a context width, an entropy threshold and
// a reference filter share one deduplication set, and each key only colours the tuples new to the
// scan. These tests hold the shared path to a deliberately simple per-key reference scan (written
// here, from the rules in distillation_scan.hpp, with real tuples instead of fingerprints) on a
// multi-key scan with mixed widths, entropy thresholds, a syntax rule, prompts and reference filters,
// for several thread counts and batchings; and run_suspect_scan with every key at once against each
// key scanned on its own.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "test_support.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/distillation_scan.hpp"
#include "tracemark/verify/suspect_scan.hpp"

namespace tracemark {
namespace {

using testing::params_with;

struct Response {
  std::vector<std::uint32_t> tokens;
  std::vector<std::uint32_t> prompt;
  std::vector<float> entropy;       // one per token
  std::vector<std::uint8_t> free;   // one per token
};

// Short responses over a small vocabulary, so tuples repeat often (first occurrences matter), with
// prompts that sometimes copy a stretch of the response (prompt windows matter).
std::vector<Response> make_responses(std::uint32_t seed, int count, std::uint32_t vocab) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::uint32_t> token(0, vocab - 1);
  std::uniform_int_distribution<int> length(0, 50);
  std::uniform_real_distribution<float> entropy(0.0f, 3.0f);
  std::vector<Response> responses(count);
  for (Response& r : responses) {
    const int n = length(rng);
    for (int i = 0; i < n; ++i) {
      r.tokens.push_back(token(rng));
      r.entropy.push_back(entropy(rng));
      r.free.push_back(token(rng) % 5 != 0);
    }
    if (n > 10 && token(rng) % 3 == 0) r.prompt.assign(r.tokens.begin() + 2, r.tokens.begin() + 9);
    for (int i = 0; i < 6; ++i) r.prompt.push_back(token(rng));
  }
  return responses;
}

// The rules of distillation_scan.hpp for one key on its own, with std::set of real tuples.
struct ReferenceScan {
  ScanCounts counts;
  std::vector<ResponseTally> tallies;
};

ReferenceScan reference_scan(const GreenListScheme& scheme, const ReferenceContexts* filter, double threshold,
                             const std::vector<Response>& responses, bool use_steps) {
  ReferenceScan out;
  const std::size_t h = scheme.context_width();
  std::set<std::vector<std::uint32_t>> scored;
  for (const Response& r : responses) {
    ResponseTally tally;
    tally.tokens = r.tokens.size();
    ++out.counts.responses;
    out.counts.tokens += r.tokens.size();
    std::set<std::vector<std::uint32_t>> prompt_windows;
    for (std::size_t i = h; i < r.prompt.size(); ++i) {
      prompt_windows.insert(std::vector<std::uint32_t>(r.prompt.begin() + static_cast<std::ptrdiff_t>(i - h),
                                                       r.prompt.begin() + static_cast<std::ptrdiff_t>(i + 1)));
    }
    for (std::size_t i = 0; i < r.tokens.size(); ++i) {
      if (i < h) {
        ++out.counts.skipped_prefix;
        continue;
      }
      const std::vector<std::uint32_t> tuple(r.tokens.begin() + static_cast<std::ptrdiff_t>(i - h),
                                             r.tokens.begin() + static_cast<std::ptrdiff_t>(i + 1));
      const std::span<const std::uint32_t> context(tuple.data(), h);
      if (prompt_windows.contains(tuple)) {
        ++out.counts.skipped_prompt_window;
      } else if (filter && !filter->contains(context)) {
        ++out.counts.skipped_filter;
      } else if (use_steps && threshold > 0.0 && static_cast<double>(r.entropy[i]) < threshold) {
        ++out.counts.skipped_low_entropy;
      } else if (use_steps && r.free[i] == 0) {
        ++out.counts.skipped_syntax;
      } else if (!scored.insert(tuple).second) {
        ++out.counts.skipped_repeated_tuple;
      } else {
        const bool green = scheme.is_green(scheme.context_seed(context), r.tokens[i]);
        ++out.counts.scored;
        out.counts.green += green;
        ++tally.scored;
        tally.green += green;
      }
    }
    out.tallies.push_back(tally);
  }
  return out;
}

void expect_same_counts(const ScanCounts& a, const ScanCounts& b) {
  EXPECT_EQ(a.responses, b.responses);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.skipped_prefix, b.skipped_prefix);
  EXPECT_EQ(a.skipped_repeated_tuple, b.skipped_repeated_tuple);
  EXPECT_EQ(a.skipped_prompt_window, b.skipped_prompt_window);
  EXPECT_EQ(a.skipped_filter, b.skipped_filter);
  EXPECT_EQ(a.skipped_low_entropy, b.skipped_low_entropy);
  EXPECT_EQ(a.skipped_syntax, b.skipped_syntax);
  EXPECT_EQ(a.scored, b.scored);
  EXPECT_EQ(a.green, b.green);
}

struct TestKey {
  WatermarkKey key;
  std::shared_ptr<const GreenListScheme> scheme;
  std::shared_ptr<const ReferenceContexts> filter;
  double threshold;
};

std::vector<TestKey> mixed_keys(std::uint32_t vocab, const std::vector<Response>& log) {
  // Filters per width from a "served log" (the first responses), one of them also used by a key with
  // another threshold (a filter is per (width, threshold) in run_suspect_scan, but the library must
  // not assume it).
  std::map<std::uint32_t, std::shared_ptr<ReferenceContexts>> filters;
  for (std::uint32_t h : {1u, 2u}) {
    filters[h] = std::make_shared<ReferenceContexts>(h);
    for (const Response& r : log) {
      // Only the lower half of the vocabulary, so that the filter drops many contexts.
      std::vector<std::uint32_t> served = r.tokens;
      for (std::uint32_t& id : served) id %= vocab / 2;
      filters[h]->add_response(served);
    }
  }
  struct Spec {
    std::uint32_t width;
    std::uint32_t version;
    double threshold;
    bool filtered;
  };
  // 12 keys in 6 groups: (0, 0, none) x2, (1, 0, none) x3, (1, 0, filter) x2, (1, 1.5, none) x2,
  // (2, 0, filter) x2, (2, 0.8, filter) x1; versions 1 and 2 mixed within groups; groups interleaved.
  const std::vector<Spec> specs = {{1, 1, 0.0, false}, {2, 2, 0.0, true},  {0, 2, 0.0, false}, {1, 2, 0.0, false},
                                   {1, 1, 1.5, false}, {1, 2, 0.0, true},  {2, 1, 0.8, true},  {1, 2, 1.5, false},
                                   {0, 1, 0.0, false}, {2, 1, 0.0, true},  {1, 1, 0.0, true},  {1, 1, 0.0, false}};
  std::vector<TestKey> keys;
  for (const Spec& spec : specs) {
    WatermarkKey key = WatermarkKey::generate(params_with(spec.width == 0 ? 0.5 : 0.25, 2.0, spec.width, vocab, spec.version));
    auto scheme = std::make_shared<const GreenListScheme>(key);
    keys.push_back({std::move(key), scheme, spec.filtered ? filters[spec.width] : nullptr, spec.threshold});
  }
  return keys;
}

std::vector<DistillationScan::KeyEntry> entries_of(const std::vector<TestKey>& keys) {
  std::vector<DistillationScan::KeyEntry> entries;
  for (const TestKey& k : keys) entries.push_back({k.key.key_id(), k.scheme, k.filter, k.threshold});
  return entries;
}

TEST(SharedDeduplication, EveryKeyGetsExactlyTheFiguresOfItsOwnScan) {
  constexpr std::uint32_t kVocab = 40;
  const std::vector<Response> responses = make_responses(20, 900, kVocab);
  const std::vector<Response> log(responses.begin(), responses.begin() + 60);
  const std::vector<TestKey> keys = mixed_keys(kVocab, log);
  std::vector<PreparedResponse> prepared;
  {
    const DistillationScan scan(entries_of(keys));
    EXPECT_EQ(scan.group_count(), 6u);
    for (const Response& r : responses) prepared.push_back(scan.prepare(r.tokens, r.prompt, {r.entropy, r.free}));
  }
  std::vector<ReferenceScan> expected;
  for (const TestKey& k : keys) expected.push_back(reference_scan(*k.scheme, k.filter.get(), k.threshold, responses, true));
  // Every rule was exercised, and some key's colour differs from another's on the same tuples.
  EXPECT_GT(expected[0].counts.skipped_repeated_tuple, 500u);
  EXPECT_GT(expected[0].counts.skipped_prompt_window, 20u);
  EXPECT_GT(expected[0].counts.skipped_syntax, 100u);
  EXPECT_GT(expected[4].counts.skipped_low_entropy, 100u);
  EXPECT_GT(expected[5].counts.skipped_filter, 100u);
  EXPECT_EQ(expected[3].counts.scored, expected[11].counts.scored);
  // (per response: equal totals happen by chance, equal colours of every response do not)
  bool colours_differ = false;
  for (std::size_t r = 0; r < responses.size(); ++r) colours_differ |= expected[3].tallies[r].green != expected[11].tallies[r].green;
  EXPECT_TRUE(colours_differ);

  for (unsigned threads : {1u, 2u, 5u}) {
    for (std::size_t batch : {1u, 97u, 900u}) {
      SCOPED_TRACE("threads " + std::to_string(threads) + ", batches of " + std::to_string(batch));
      DistillationScan scan(entries_of(keys));
      std::vector<std::vector<ResponseTally>> tallies(keys.size());
      for (std::size_t begin = 0; begin < prepared.size(); begin += batch) {
        const std::size_t end = std::min(prepared.size(), begin + batch);
        std::vector<std::vector<ResponseTally>> part;
        scan.merge_batch(std::span(prepared).subspan(begin, end - begin), threads, &part);
        ASSERT_EQ(part.size(), keys.size());
        for (std::size_t k = 0; k < keys.size(); ++k) tallies[k].insert(tallies[k].end(), part[k].begin(), part[k].end());
      }
      for (std::size_t k = 0; k < keys.size(); ++k) {
        SCOPED_TRACE("key " + std::to_string(k));
        expect_same_counts(scan.counts(k), expected[k].counts);
        ASSERT_EQ(tallies[k].size(), expected[k].tallies.size());
        for (std::size_t r = 0; r < tallies[k].size(); ++r) {
          ASSERT_EQ(tallies[k][r].scored, expected[k].tallies[r].scored) << "response " << r;
          ASSERT_EQ(tallies[k][r].green, expected[k].tallies[r].green) << "response " << r;
          ASSERT_EQ(tallies[k][r].tokens, expected[k].tallies[r].tokens) << "response " << r;
        }
      }
    }
  }
}

TEST(SharedDeduplication, TokenStatusesReplayEachKeyOfAMultiKeyScan) {
  constexpr std::uint32_t kVocab = 40;
  const std::vector<Response> responses = make_responses(21, 300, kVocab);
  const std::vector<TestKey> keys = mixed_keys(kVocab, {responses.begin(), responses.begin() + 30});
  DistillationScan scan(entries_of(keys));
  for (const Response& r : responses) scan.add_response(r.tokens, r.prompt, {r.entropy, r.free});
  for (std::size_t k = 0; k < keys.size(); ++k) {
    TupleSet scored;
    std::uint64_t green = 0, red = 0, repeated = 0;
    for (const Response& r : responses) {
      for (TokenStatus status : scan.token_statuses(k, r.tokens, r.prompt, scored, {r.entropy, r.free})) {
        green += status == TokenStatus::green;
        red += status == TokenStatus::red;
        repeated += status == TokenStatus::repeated;
      }
    }
    EXPECT_EQ(green, scan.counts(k).green) << "key " << k;
    EXPECT_EQ(green + red, scan.counts(k).scored) << "key " << k;
    EXPECT_EQ(repeated, scan.counts(k).skipped_repeated_tuple) << "key " << k;
  }
}

TEST(SharedDeduplication, MemoryGrowsWithDistinctTuplesNotWithKeys) {
  constexpr std::uint32_t kVocab = 5000;
  const std::vector<Response> responses = make_responses(22, 2000, kVocab);
  std::vector<DistillationScan::KeyEntry> many;
  for (int i = 0; i < 16; ++i) {
    many.push_back({"k" + std::to_string(i),
                    std::make_shared<const GreenListScheme>(WatermarkKey::generate(params_with(0.25, 2.0, 2, kVocab))), nullptr});
  }
  DistillationScan one({many.front()});
  DistillationScan sixteen(many);
  EXPECT_EQ(sixteen.group_count(), 1u);
  for (const Response& r : responses) {
    one.add_response(r.tokens, r.prompt);
    sixteen.add_response(r.tokens, r.prompt);
  }
  EXPECT_GT(one.counts(0).scored, 30000u);
  EXPECT_EQ(sixteen.dedup_memory_bytes(), one.dedup_memory_bytes());
  EXPECT_LE(one.dedup_memory_bytes(), 16 * one.counts(0).scored + 64 * 64 * 8);  // 16 bytes a tuple, plus empty shards
  EXPECT_EQ(sixteen.counts(0).green, one.counts(0).green);
}

TEST(SharedDeduplication, AnIdOutsideAVocabularyNamesTheFirstKeyInTheScansOrder) {
  const WatermarkKey big = WatermarkKey::generate(params_with(0.25, 2.0, 1, 200));
  const WatermarkKey small = WatermarkKey::generate(params_with(0.25, 2.0, 1, 100));
  const DistillationScan scan({{"big", std::make_shared<const GreenListScheme>(big), nullptr},
                               {"small", std::make_shared<const GreenListScheme>(small), nullptr}});
  const std::vector<std::uint32_t> response = {1, 150, 2, 250};
  try {
    (void)scan.prepare(response, {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("token id 250 at position 3 is outside the vocabulary of key big"), std::string::npos)
        << e.what();
  }
}

// Entropy from the ids alone (thread-safe, deterministic), standing in for a reference model.
class FakeEntropy : public StepEntropySource {
 public:
  std::vector<float> entropies(std::span<const std::uint32_t> prompt, std::span<const std::uint32_t> response) const override {
    std::vector<float> out;
    for (std::size_t i = 0; i < response.size(); ++i) {
      out.push_back(static_cast<float>((response[i] * 7 + (i > 0 ? response[i - 1] : prompt.size())) % 30) / 10.0f);
    }
    return out;
  }
  std::string description() const override { return "fake"; }
};

TEST(SharedDeduplication, SuspectScanOfManyKeysEqualsEachKeyScannedAlone) {
  testing::TemporaryFolder dir;
  constexpr std::uint32_t kVocab = 60;
  const std::vector<Response> responses = make_responses(23, 700, kVocab);
  auto write = [&](const std::string& name, std::size_t begin, std::size_t end, bool with_entropy) {
    const std::filesystem::path path = dir.path() / name;
    std::ofstream out(path);
    for (std::size_t i = begin; i < end; ++i) {
      nlohmann::json record = {{"id", "r" + std::to_string(i)}, {"tokens", responses[i].tokens},
                               {"prompt_tokens", responses[i].prompt}};
      if (with_entropy) record["entropy"] = responses[i].entropy;
      out << record.dump() << '\n';
    }
    return path.string();
  };
  const std::string log = write("log.jsonl", 0, 80, true);
  const std::string suspect = write("suspect.jsonl", 80, 700, false);
  std::vector<WatermarkKey> keys;
  for (auto [width, version, threshold] : std::vector<std::tuple<std::uint32_t, std::uint32_t, double>>{
           {1, 2, 0.0}, {2, 1, 0.0}, {1, 1, 0.0}, {1, 2, 1.2}, {2, 2, 0.0}, {0, 1, 0.0}, {1, 1, 1.2}}) {
    SchemeParams params = params_with(width == 0 ? 0.5 : 0.25, 2.0, width, kVocab, version);
    params.entropy_threshold = threshold;
    keys.push_back(WatermarkKey::generate(params));
  }
  for (bool with_log : {false, true}) {
    SCOPED_TRACE(with_log ? "with a reference log" : "no reference log");
    SuspectScanOptions options;
    options.entropy_source = std::make_shared<FakeEntropy>();
    options.threads = 2;
    if (with_log) options.reference_log_path = log;
    const SuspectScanReport together = run_suspect_scan(keys, suspect, options);
    ASSERT_EQ(together.suspect.keys.size(), keys.size());
    for (std::size_t k = 0; k < keys.size(); ++k) {
      SCOPED_TRACE("key " + std::to_string(k));
      options.threads = 1;
      const SuspectScanReport alone = run_suspect_scan({&keys[k], 1}, suspect, options);
      expect_same_counts(together.suspect.keys[k].counts, alone.suspect.keys[0].counts);
      EXPECT_EQ(together.suspect.keys[k].test.log10_p, alone.suspect.keys[0].test.log10_p);
      ASSERT_EQ(together.suspect.tallies[k].size(), alone.suspect.tallies[0].size());
      for (std::size_t r = 0; r < alone.suspect.tallies[0].size(); ++r) {
        ASSERT_EQ(together.suspect.tallies[k][r].scored, alone.suspect.tallies[0][r].scored);
        ASSERT_EQ(together.suspect.tallies[k][r].green, alone.suspect.tallies[0][r].green);
      }
      ASSERT_EQ(together.suspect.traces[k].size(), alone.suspect.traces[0].size());
      for (std::size_t i = 0; i < alone.suspect.traces[0].size(); ++i) {
        EXPECT_EQ(together.suspect.traces[k][i].green, alone.suspect.traces[0][i].green);
      }
    }
    EXPECT_GT(together.suspect.keys[3].counts.skipped_low_entropy, 100u);
    if (with_log) {
      EXPECT_GT(together.suspect.keys[1].counts.skipped_filter, 100u);
    }
  }
}

}  // namespace
}  // namespace tracemark
