#include "tracemark/embed/watermark_processor.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

using testing::golden_key;
using testing::params_with;

std::shared_ptr<const GreenListScheme> scheme_with_width(std::uint32_t width) {
  return std::make_shared<const GreenListScheme>(golden_key(params_with(0.25, 2.0, width, 1000)));
}

// Logits after apply() minus before: delta on the green ids of the current context, else 0.
std::vector<float> bias_of(const WatermarkProcessor& processor) {
  std::vector<float> logits(1000, 0.0f);
  processor.apply(std::span<float>(logits));
  return logits;
}

std::vector<float> expected_bias(const GreenListScheme& scheme, std::vector<std::uint32_t> context) {
  std::vector<float> logits(1000, 0.0f);
  scheme.bias_logits(scheme.context_seed(context), logits);
  return logits;
}

TEST(WatermarkProcessor, BiasesTheGreenListOfTheLastHTokens) {
  auto scheme = scheme_with_width(2);
  WatermarkProcessor processor(scheme);
  const std::uint32_t prompt[] = {5, 6, 7};
  processor.reset(prompt);
  ASSERT_TRUE(processor.will_bias());
  EXPECT_EQ(bias_of(processor), expected_bias(*scheme, {6, 7}));
  processor.accept(8);
  EXPECT_EQ(bias_of(processor), expected_bias(*scheme, {7, 8}));
  processor.accept(9);
  EXPECT_EQ(bias_of(processor), expected_bias(*scheme, {8, 9}));
}

// One rule for the row's length in both scheme versions: shorter than the vocabulary is refused,
// padding columns beyond it are left unchanged.
TEST(WatermarkProcessor, RowLengthRuleIsTheSameForBothSchemeVersions) {
  for (const std::uint32_t version : {1u, 2u}) {
    auto scheme = std::make_shared<const GreenListScheme>(golden_key(params_with(0.5, 2.0, 1, 1000, version)));
    WatermarkProcessor processor(scheme);
    const std::uint32_t prompt[] = {3};
    processor.reset(prompt);
    ASSERT_TRUE(processor.will_bias());
    std::vector<float> padded(1000 + 64, 0.0f);
    processor.apply(std::span<float>(padded));
    EXPECT_EQ(std::vector<float>(padded.begin(), padded.begin() + 1000), expected_bias(*scheme, {3})) << "version " << version;
    EXPECT_EQ(std::vector<float>(padded.begin() + 1000, padded.end()), std::vector<float>(64, 0.0f))
        << "version " << version << " biased padding columns";
    std::vector<float> short_row(999, 0.0f);
    EXPECT_THROW(processor.apply(std::span<float>(short_row)), Error) << "version " << version;
    EXPECT_EQ(short_row, std::vector<float>(999, 0.0f));
    processor.reset();  // no bias at this step: the length is still checked
    EXPECT_FALSE(processor.will_bias());
    EXPECT_THROW(processor.apply(std::span<float>(short_row)), Error) << "version " << version;
  }
}

TEST(WatermarkProcessor, NoBiasUntilTheContextIsFull) {
  auto scheme = scheme_with_width(2);
  WatermarkProcessor processor(scheme);
  processor.reset();
  EXPECT_FALSE(processor.will_bias());
  EXPECT_EQ(bias_of(processor), std::vector<float>(1000, 0.0f));
  processor.accept(1);
  EXPECT_FALSE(processor.will_bias());
  processor.accept(2);
  EXPECT_TRUE(processor.will_bias());
}

TEST(WatermarkProcessor, RepeatedContextsAreLeftUnbiased) {
  auto scheme = scheme_with_width(1);
  WatermarkProcessor processor(scheme);
  const std::uint32_t prompt[] = {3};
  processor.reset(prompt);
  EXPECT_TRUE(processor.will_bias());  // context {3}
  processor.accept(4);                 // context {4}
  EXPECT_TRUE(processor.will_bias());
  processor.accept(3);                 // context {3} again: already used at the first step
  EXPECT_FALSE(processor.will_bias());
  EXPECT_EQ(bias_of(processor), std::vector<float>(1000, 0.0f));
  processor.accept(5);                 // context {5}: new
  EXPECT_TRUE(processor.will_bias());
  // reset() forgets the contexts of the previous response.
  processor.reset(prompt);
  EXPECT_TRUE(processor.will_bias());
}

TEST(WatermarkProcessor, WidthZeroBiasesEveryStepWithOneList) {
  auto scheme = scheme_with_width(0);
  WatermarkProcessor processor(scheme);
  const std::vector<float> fixed = expected_bias(*scheme, {});
  for (std::uint32_t step = 0; step < 5; ++step) {
    EXPECT_TRUE(processor.will_bias());
    EXPECT_EQ(bias_of(processor), fixed);
    processor.accept(step % 2);
  }
}

TEST(WatermarkProcessor, CandidatesAndFullLogitsAgree) {
  auto scheme = scheme_with_width(2);
  WatermarkProcessor processor(scheme);
  const std::uint32_t prompt[] = {10, 20};
  processor.reset(prompt);
  const std::vector<float> full = bias_of(processor);
  std::vector<Candidate> candidates = {{999, 1.0f}, {0, 2.0f}, {500, 3.0f}, {17, 4.0f}};
  const std::vector<Candidate> original = candidates;
  processor.apply(std::span<Candidate>(candidates));
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    EXPECT_EQ(candidates[i].logit, original[i].logit + full[original[i].id]);
  }
}

TEST(WatermarkProcessor, CopiesAreIndependent) {
  auto scheme = scheme_with_width(1);
  WatermarkProcessor first(scheme);
  const std::uint32_t prompt[] = {1};
  first.reset(prompt);
  first.accept(2);
  WatermarkProcessor fork = first;
  first.accept(1);  // context {1}: seen in `first`
  fork.accept(7);   // context {7}: new in the fork
  EXPECT_FALSE(first.will_bias());
  EXPECT_TRUE(fork.will_bias());
  EXPECT_EQ(bias_of(fork), expected_bias(*scheme, {7}));
}

}  // namespace
}  // namespace tracemark
