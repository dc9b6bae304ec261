// The scan's deduplication at sizes where its tables grow across many batches and leave the cache
// (issue 20): per-response tallies and every count equal to a plain reference (std::unordered_set of
// tuple_fingerprint, colours from is_green) for 1, 2, 3 and 8 threads and uneven batches, with two
// groups of keys (widths 1 and 2); TupleSet's growth under reserve_more() stays geometric (a batch
// must not rehash the table again: that made the scan quadratic), including for tables large enough
// to live in mapped huge pages; and window_fingerprint equals tuple_fingerprint.
#include <gtest/gtest.h>

#include <set>
#include <unordered_set>
#include <vector>

#include "test_support.hpp"
#include "tracemark/refmodel/synthetic_model.hpp"
#include "tracemark/verify/distillation_scan.hpp"
#include "tracemark/verify/tuple_set.hpp"

namespace tracemark {
namespace {

using testing::params_with;

TEST(TupleSetGrowth, ReservingBatchAfterBatchRehashesLogarithmicallyOften) {
  SplitMix64 rng(testing::announce_seed(2020));
  TupleSet set;
  std::unordered_set<std::uint64_t> reference;
  std::set<std::size_t> capacities;
  std::vector<std::uint64_t> drawn;
  constexpr std::size_t kBatch = 1600, kBatches = 400;  // 640,000 fingerprints: tables past 2 MB
  for (std::size_t b = 0; b < kBatches; ++b) {
    set.reserve_more(kBatch);
    const std::size_t reserved_at = set.memory_bytes();
    for (std::size_t i = 0; i < kBatch; ++i) {
      // One in eight repeats an earlier fingerprint, as a scan's batches do.
      const std::uint64_t value = (i % 8 == 0 && !drawn.empty()) ? drawn[rng.next() % drawn.size()] : rng.next();
      drawn.push_back(value);
      ASSERT_EQ(set.insert(value), reference.insert(value == 0 ? 1 : value).second) << "batch " << b << " draw " << i;
    }
    ASSERT_EQ(set.memory_bytes(), reserved_at) << "the table grew inside a reserved batch " << b;
    capacities.insert(set.memory_bytes());
    // At most 16 bytes per tuple held plus the batch's reservation (11 bytes a fingerprint).
    ASSERT_LE(set.memory_bytes(), 16 * set.size() + 11 * kBatch + 1024) << "after batch " << b;
  }
  EXPECT_EQ(set.size(), reference.size());
  EXPECT_GT(set.memory_bytes(), std::size_t{2} << 20);  // the mapped (huge-page) path was used
  // Geometric growth: about log_1.5(640,000 / 1,600) + a few table sizes. Growing only to each
  // batch's need gave one size per batch (400).
  EXPECT_LE(capacities.size(), 25u);
}

TEST(TupleSetGrowth, CopiesOfAMappedTableAreIndependent) {
  TupleSet set;
  for (std::uint64_t i = 1; i <= 300000; ++i) set.insert(i * 0x9E3779B97F4A7C15ull);
  ASSERT_GT(set.memory_bytes(), std::size_t{2} << 20);
  TupleSet copy = set;
  EXPECT_TRUE(copy.insert(12345));
  EXPECT_FALSE(copy.insert(7 * 0x9E3779B97F4A7C15ull));
  EXPECT_TRUE(set.insert(12345));  // the copy's insert did not reach the original
  EXPECT_EQ(copy.size(), set.size());
  TupleSet moved = std::move(copy);
  EXPECT_FALSE(moved.insert(12345));
  EXPECT_EQ(moved.size(), 300001u);
}

TEST(WindowFingerprint, EqualsTupleFingerprintForEveryWidth) {
  SplitMix64 rng(testing::announce_seed(21));
  for (std::size_t size = 1; size <= 24; ++size) {
    std::vector<std::uint32_t> window(size);
    for (auto& id : window) id = static_cast<std::uint32_t>(rng.next());
    const std::span<const std::uint32_t> all(window);
    EXPECT_EQ(window_fingerprint(all), tuple_fingerprint(all.first(size - 1), window.back())) << "window of " << size;
  }
}

struct Tally {
  std::uint64_t scored = 0, green = 0;
};

TEST(ScanDedupGrowth, LargeMultiBatchScanEqualsPlainReferenceForAnyThreadCount) {
  // 8,000 responses of 300 ids (2.4M tokens), half the ids from 60 frequent ones, so width-1 tuples
  // repeat often and width-2 tuples mostly do not: the width-2 group's shards grow past 2 MB.
  SplitMix64 rng(testing::announce_seed(20));
  constexpr std::uint32_t kVocab = 4000;
  std::vector<std::vector<std::uint32_t>> responses(8000);
  for (auto& response : responses) {
    for (int i = 0; i < 300; ++i) {
      response.push_back(static_cast<std::uint32_t>(rng.next() % 2 ? rng.next() % kVocab : rng.next() % 60));
    }
  }
  const WatermarkKey one = WatermarkKey::generate(params_with(0.25, 2.0, 1, kVocab, 2));
  const WatermarkKey two = WatermarkKey::generate(params_with(0.5, 2.0, 2, kVocab, 2));
  const std::vector<const WatermarkKey*> keys{&one, &two};
  // The reference: first occurrences in input order over real fingerprints, per key.
  std::vector<std::vector<Tally>> expected(2, std::vector<Tally>(responses.size()));
  std::vector<ScanCounts> expected_counts(2);
  for (std::size_t k = 0; k < 2; ++k) {
    const GreenListScheme scheme(*keys[k]);
    const std::size_t h = scheme.context_width();
    std::unordered_set<std::uint64_t> seen;
    for (std::size_t r = 0; r < responses.size(); ++r) {
      const std::span<const std::uint32_t> tokens(responses[r]);
      for (std::size_t i = h; i < tokens.size(); ++i) {
        if (!seen.insert(tuple_fingerprint(tokens.subspan(i - h, h), tokens[i])).second) {
          ++expected_counts[k].skipped_repeated_tuple;
          continue;
        }
        ++expected[k][r].scored;
        expected[k][r].green += scheme.is_green(scheme.context_seed(tokens.subspan(i - h, h)), tokens[i]);
      }
      expected_counts[k].skipped_prefix += h;
    }
  }
  for (std::size_t k = 0; k < 2; ++k) {
    for (const Tally& tally : expected[k]) {
      expected_counts[k].scored += tally.scored;
      expected_counts[k].green += tally.green;
    }
  }
  ASSERT_GT(expected_counts[0].skipped_repeated_tuple, 100000u);  // first occurrences matter
  ASSERT_GT(expected_counts[1].scored, 2000000u);                 // the large group's tables grow far
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    DistillationScan scan({{one.key_id(), std::make_shared<const GreenListScheme>(one), nullptr},
                           {two.key_id(), std::make_shared<const GreenListScheme>(two), nullptr}});
    ASSERT_EQ(scan.group_count(), 2u);
    std::vector<std::vector<ResponseTally>> all(2);
    // Uneven batches (the last is short), sized by thread count so batchings differ too.
    const std::size_t batch_size = 377 + 200 * threads;
    for (std::size_t begin = 0; begin < responses.size(); begin += batch_size) {
      const std::size_t end = std::min(responses.size(), begin + batch_size);
      std::vector<PreparedResponse> prepared;
      for (std::size_t r = begin; r < end; ++r) prepared.push_back(scan.prepare(responses[r], {}));
      std::vector<std::vector<ResponseTally>> tallies;
      scan.merge_batch(prepared, threads, &tallies);
      for (std::size_t k = 0; k < 2; ++k) all[k].insert(all[k].end(), tallies[k].begin(), tallies[k].end());
    }
    for (std::size_t k = 0; k < 2; ++k) {
      SCOPED_TRACE("key " + std::to_string(k));
      const ScanCounts& counts = scan.counts(k);
      EXPECT_EQ(counts.responses, responses.size());
      EXPECT_EQ(counts.tokens, responses.size() * 300);
      EXPECT_EQ(counts.skipped_prefix, expected_counts[k].skipped_prefix);
      EXPECT_EQ(counts.skipped_repeated_tuple, expected_counts[k].skipped_repeated_tuple);
      EXPECT_EQ(counts.scored, expected_counts[k].scored);
      EXPECT_EQ(counts.green, expected_counts[k].green);
      ASSERT_EQ(all[k].size(), responses.size());
      for (std::size_t r = 0; r < responses.size(); ++r) {
        ASSERT_EQ(all[k][r].scored, expected[k][r].scored) << "response " << r;
        ASSERT_EQ(all[k][r].green, expected[k][r].green) << "response " << r;
      }
    }
  }
}

}  // namespace
}  // namespace tracemark
