#include "tracemark/verify/green_list_detector.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "tracemark/refmodel/synthetic_model.hpp"
#include "scheme_test_support.hpp"
#include "test_support.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

using testing::attainable_size;
using testing::golden_key;
using testing::params_with;

std::shared_ptr<const GreenListScheme> make_scheme(double gamma, double delta, std::uint32_t width, std::uint32_t vocab) {
  return std::make_shared<const GreenListScheme>(golden_key(params_with(gamma, delta, width, vocab)));
}

std::vector<std::uint32_t> random_tokens(SplitMix64& rng, std::size_t length, std::uint32_t vocab) {
  std::vector<std::uint32_t> tokens(length);
  for (auto& token : tokens) token = static_cast<std::uint32_t>(rng.next() % vocab);
  return tokens;
}

// Deliberately simple reference detector (as re2 tests its fast paths): explicit vectors for
// contexts and tuples in ordered sets, no hashing.
struct ReferenceCounts {
  std::uint64_t scored = 0, green = 0;
};
ReferenceCounts reference_score(const GreenListScheme& scheme, const std::vector<std::uint32_t>& tokens,
                                std::set<std::vector<std::uint32_t>>& pooled_tuples, ReferenceCounts& pooled) {
  const std::size_t h = scheme.context_width();
  ReferenceCounts document;
  std::set<std::vector<std::uint32_t>> contexts, tuples;
  for (std::size_t i = h; i < tokens.size(); ++i) {
    std::vector<std::uint32_t> context(tokens.begin() + static_cast<std::ptrdiff_t>(i - h),
                                       tokens.begin() + static_cast<std::ptrdiff_t>(i));
    if (h > 0 && !contexts.insert(context).second) continue;
    const bool green = scheme.is_green(scheme.context_seed(context), tokens[i]);
    std::vector<std::uint32_t> tuple = context;
    tuple.push_back(tokens[i]);
    if (tuples.insert(tuple).second) {
      ++document.scored;
      document.green += green;
    }
    if (pooled_tuples.insert(tuple).second) {
      ++pooled.scored;
      pooled.green += green;
    }
  }
  return document;
}

TEST(GreenListDetector, AgreesWithTheSimpleReferenceOnRepetitiveText) {
  SplitMix64 rng(testing::announce_seed(11));
  for (std::uint32_t width : {0u, 1u, 2u, 4u}) {
    auto scheme = make_scheme(0.25, 2.0, width, 12);  // tiny vocabulary: many repeats
    GreenListDetector detector(scheme);
    std::set<std::vector<std::uint32_t>> pooled_tuples;
    ReferenceCounts pooled;
    for (int document = 0; document < 50; ++document) {
      const auto tokens = random_tokens(rng, rng.next() % 60, 12);
      const ScoreCounts counts = detector.add_document(tokens);
      const ReferenceCounts expected = reference_score(*scheme, tokens, pooled_tuples, pooled);
      ASSERT_EQ(counts.scored, expected.scored) << "width " << width << " document " << document;
      ASSERT_EQ(counts.green, expected.green);
      ASSERT_EQ(counts.tokens, counts.skipped_prefix + counts.skipped_repeated_context +
                                   counts.skipped_repeated_tuple + counts.scored);
    }
    EXPECT_EQ(detector.pooled().scored, pooled.scored);
    EXPECT_EQ(detector.pooled().green, pooled.green);
    const ScoreCounts& total = detector.pooled();
    EXPECT_EQ(total.tokens, total.skipped_prefix + total.skipped_repeated_context + total.skipped_repeated_tuple + total.scored);
  }
}

TEST(GreenListDetector, EmptyAndShortDocumentsScoreNothing) {
  GreenListDetector detector(make_scheme(0.25, 2.0, 2, 100));
  const ScoreCounts empty = detector.add_document({});
  EXPECT_EQ(empty.scored, 0u);
  const BinomialTest test = detector.test(empty);
  EXPECT_EQ(test.p_value, 1.0);
  EXPECT_FALSE(std::isnan(test.z));
  const std::vector<std::uint32_t> two = {1, 2};
  const ScoreCounts short_counts = detector.add_document(two);
  EXPECT_EQ(short_counts.scored, 0u);
  EXPECT_EQ(short_counts.skipped_prefix, 2u);
}

TEST(GreenListDetector, RejectsIdsOutsideTheVocabulary) {
  GreenListDetector detector(make_scheme(0.25, 2.0, 2, 100));
  const std::vector<std::uint32_t> tokens = {1, 2, 3, 100};
  try {
    detector.add_document(tokens);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("position 3"), std::string::npos) << e.what();
  }
}

TEST(GreenListDetector, PooledScoringCountsEachTupleOnceAcrossDocuments) {
  GreenListDetector detector(make_scheme(0.25, 2.0, 1, 1000));
  const std::vector<std::uint32_t> tokens = {1, 2, 3, 4, 5, 6};
  const ScoreCounts first = detector.add_document(tokens);
  const ScoreCounts second = detector.add_document(tokens);
  EXPECT_EQ(first.scored, 5u);
  EXPECT_EQ(second.scored, 5u);  // per document: its own deduplication
  EXPECT_EQ(detector.pooled().scored, 5u);
  EXPECT_EQ(detector.pooled().skipped_repeated_tuple, 5u);
}

TEST(GreenListDetector, RepeatedPhraseIsNotFlagged) {
  // A 10-token phrase that happens to be unusually green (4 of its 8 scored tuples, chance 25%):
  // counted 50 times it would look like p < 1e-30; deduplicated it is what it is, 8 tuples.
  auto scheme = make_scheme(0.25, 2.0, 2, 32000);
  SplitMix64 rng(testing::announce_seed(5));
  std::vector<std::uint32_t> phrase;
  for (;;) {
    phrase = random_tokens(rng, 10, 32000);
    GreenListDetector probe(scheme);
    if (probe.add_document(phrase).green == 4) break;
  }
  std::vector<std::uint32_t> text;
  for (int i = 0; i < 50; ++i) text.insert(text.end(), phrase.begin(), phrase.end());
  GreenListDetector detector(scheme);
  const ScoreCounts counts = detector.add_document(text);
  EXPECT_EQ(counts.scored, 10u);  // the 8 tuples of the phrase plus the 2 that straddle a repetition
  const BinomialTest test = detector.test(counts);
  EXPECT_GT(test.p_value, 0.01) << "green " << counts.green << " of " << counts.scored;
  // Without deduplication the same green rate over every token would be overwhelming.
  EXPECT_LT(binomial_test(counts.green * 50, counts.scored * 50, 0.25).p_value, 1e-6);
}

TEST(GreenListDetector, NullCalibrationOnRandomSequences) {
  // 2,000 random 200-token sequences. The check: the number with p < 0.01 lies in the 99%
  // binomial interval around 1% of 2,000, [10, 32] (P(X <= 9) = 0.0048, P(X >= 33) = 0.0045 for
  // X ~ Binomial(2000, 0.01)). The sharper check: at 0.01 and 0.05 the count is within 3.3
  // standard deviations of its exact expectation (the attainable sizes summed over sequences).
  auto scheme = make_scheme(0.25, 2.0, 2, 32000);
  SplitMix64 rng(testing::announce_seed(20261125));
  std::map<double, int> below;
  std::map<double, double> expected, variance;
  for (int i = 0; i < 2000; ++i) {
    GreenListDetector detector(scheme);
    const ScoreCounts counts = detector.add_document(random_tokens(rng, 200, 32000));
    const double p = detector.test(counts).p_value;
    for (double alpha : {0.01, 0.05}) {
      below[alpha] += p < alpha;
      const double size = attainable_size(counts.scored, scheme->null_green_probability(), alpha);
      expected[alpha] += size;
      variance[alpha] += size * (1 - size);
    }
  }
  for (double alpha : {0.01, 0.05}) {
    std::cout << "p < " << alpha << ": " << below[alpha] << " of 2000 (exact expectation " << expected[alpha] << ")\n";
    EXPECT_LE(std::fabs(below[alpha] - expected[alpha]), 3.3 * std::sqrt(variance[alpha])) << "alpha " << alpha;
    EXPECT_LE(expected[alpha], 2000 * alpha);  // valid: never more often than alpha
  }
  EXPECT_GE(below[0.01], 10);
  EXPECT_LE(below[0.01], 32);
}

TEST(GreenListDetector, UnwatermarkedModelOutputIsNotFlagged) {
  // Text from the synthetic model without a watermark, scored with a key: valid under the null.
  auto scheme = make_scheme(0.25, 2.0, 2, 8000);
  SyntheticModel model({8000, 1.6, 3});
  SplitMix64 rng(testing::announce_seed(99));
  GreenListDetector detector(scheme);
  int below_001 = 0;
  for (int i = 0; i < 100; ++i) {
    const auto tokens = model.generate(200, rng, nullptr);
    below_001 += detector.test(detector.add_document(tokens)).p_value < 0.01;
  }
  EXPECT_LE(below_001, 5);  // P(X >= 6) < 0.0006 for X ~ Binomial(100, 0.01)
  EXPECT_GT(detector.test(detector.pooled()).p_value, 1e-4);
}

TEST(GreenListDetector, EmbeddedWatermarkIsDetectedIn200Tokens) {
  // gamma 0.25, delta 2, h = 2, from a model of realistic entropy (about 2.5 nats per token).
  auto scheme = make_scheme(0.25, 2.0, 2, 32000);
  SyntheticModel model({32000, 2.0, 1});
  SplitMix64 rng(testing::announce_seed(42));
  double entropy = 0;
  double worst_log10_p = -1e300;
  for (int i = 0; i < 10; ++i) {
    WatermarkProcessor processor(scheme);
    const auto tokens = model.generate(200, rng, &processor);
    entropy += model.entropy(std::span<const std::uint32_t>(tokens).first(100));
    GreenListDetector detector(scheme);
    const BinomialTest test = detector.test(detector.add_document(tokens));
    worst_log10_p = std::max(worst_log10_p, test.log10_p);
    EXPECT_LT(test.log10_p, -10.0) << "sequence " << i << ": green " << test.green << " of " << test.scored;
  }
  entropy /= 10;
  std::cout << "mean entropy " << entropy << " nats; worst log10 p " << worst_log10_p << "\n";
  EXPECT_GT(entropy, 1.5);
  EXPECT_LT(entropy, 4.0);
}

}  // namespace
}  // namespace tracemark
