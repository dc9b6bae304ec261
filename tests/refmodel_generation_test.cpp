// Sampling and the decoding loop: determinism, parameter checks, and that a watermark applied
// through embed/'s processor is found by the detector (and absent without it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "tracemark/refmodel/response_generator.hpp"
#include "refmodel_test_support.hpp"
#include "test_support.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/green_list_detector.hpp"

namespace tracemark {
namespace {

TEST(TokenSampler, GreedyTakesTheLargestLogitAndTheLowerIdOnTies) {
  SamplerScratch scratch;
  SamplingOptions greedy;
  greedy.temperature = 0;
  const std::vector<float> logits = {0.5f, 2.0f, 2.0f, -1.0f};
  EXPECT_EQ(sample_from_logits(logits, greedy, 0.99, scratch), 1u);
  const std::vector<Candidate> candidates = {{7, 2.0f}, {3, 2.0f}, {9, 1.0f}};
  EXPECT_EQ(sample_from_candidates(candidates, greedy, 0.99, scratch), 3u);
}

TEST(TokenSampler, SamplesInProportionAndRespectsTheNucleus) {
  SamplerScratch scratch;
  SamplingOptions plain;
  // Probabilities 0.1, 0.2, 0.7: the uniform draw picks by cumulative mass in id order.
  const std::vector<float> logits = {std::log(0.1f), std::log(0.2f), std::log(0.7f)};
  EXPECT_EQ(sample_from_logits(logits, plain, 0.05, scratch), 0u);
  EXPECT_EQ(sample_from_logits(logits, plain, 0.25, scratch), 1u);
  EXPECT_EQ(sample_from_logits(logits, plain, 0.95, scratch), 2u);
  SamplingOptions nucleus;
  nucleus.top_p = 0.6;  // only the 0.7 token is kept
  for (double u : {0.0, 0.5, 0.999}) EXPECT_EQ(sample_from_logits(logits, nucleus, u, scratch), 2u);
  nucleus.top_p = 0.8;  // 0.7 and 0.2 kept, renormalised: 0.7/0.9 then 0.2/0.9 in descending order
  EXPECT_EQ(sample_from_logits(logits, nucleus, 0.7, scratch), 2u);
  EXPECT_EQ(sample_from_logits(logits, nucleus, 0.8, scratch), 1u);
  // Candidates give the same answer in any order.
  std::vector<Candidate> candidates = {{2, logits[2]}, {0, logits[0]}, {1, logits[1]}};
  EXPECT_EQ(sample_from_candidates(candidates, nucleus, 0.8, scratch), 1u);
  std::reverse(candidates.begin(), candidates.end());
  EXPECT_EQ(sample_from_candidates(candidates, nucleus, 0.8, scratch), 1u);
}

TEST(TokenSampler, RejectsParametersOutOfRange) {
  SamplingOptions options;
  options.temperature = -1;
  EXPECT_THROW(options.validate(), Error);
  options = {};
  options.top_p = 0;
  EXPECT_THROW(options.validate(), Error);
  options.top_p = 1.5;
  EXPECT_THROW(options.validate(), Error);
  GenerationOptions generation;
  generation.max_tokens = 0;
  EXPECT_THROW(generation.validate(), Error);
}

TEST(ResponseStreamSeed, DiffersAcrossSeedsAndIndices) {
  std::set<std::uint64_t> seen;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    for (std::uint64_t index = 0; index < 20; ++index) seen.insert(response_stream_seed(seed, index));
  }
  EXPECT_EQ(seen.size(), 400u);
}

class Generation : public ::testing::Test {
 protected:
  static constexpr std::uint32_t kVocab = 1000;
  void SetUp() override {
    model_.emplace(testing::train_model(testing::tiny_corpus(kVocab, 40, 200, testing::announce_seed(11)), 3, kVocab,
                                        folder_.path() / "m.tmlm"));
  }
  std::vector<std::uint32_t> generate(std::uint64_t index, const GenerationOptions& options,
                                      WatermarkProcessor* processor) {
    SplitMix64 rng(response_stream_seed(5, index));
    const std::vector<std::uint32_t> prompt = {3, 1, 2};
    return generate_response(*model_, prompt, options, rng, processor, scratch_);
  }
  testing::TemporaryFolder folder_;
  std::optional<NgramModel> model_;
  GenerationScratch scratch_;
};

TEST_F(Generation, IsDeterministicForAStream) {
  GenerationOptions options;
  options.max_tokens = 50;
  for (std::uint32_t top_k : {0u, 40u}) {
    options.sampling.top_k = top_k;
    const auto first = generate(0, options, nullptr);
    EXPECT_EQ(first.size(), 50u);
    EXPECT_EQ(generate(0, options, nullptr), first);
    EXPECT_NE(generate(1, options, nullptr), first);
  }
}

TEST_F(Generation, WatermarkIsDetectedOnlyWhenApplied) {
  const WatermarkKey key = testing::golden_key(testing::params_with(0.25, 3.0, 1, kVocab));
  auto scheme = std::make_shared<const GreenListScheme>(key);
  for (std::uint32_t top_k : {0u, 40u}) {
    SCOPED_TRACE(::testing::Message() << "top_k " << top_k);
    GenerationOptions options;
    options.max_tokens = 200;
    options.sampling.top_k = top_k;
    GreenListDetector marked(scheme), clean(scheme);
    for (std::uint64_t i = 0; i < 5; ++i) {
      WatermarkProcessor processor(scheme);
      marked.add_document(generate(i, options, &processor));
      clean.add_document(generate(i, options, nullptr));
    }
    EXPECT_LT(marked.test(marked.pooled()).log10_p, -10);
    EXPECT_GT(clean.test(clean.pooled()).log10_p, -3);
  }
}

}  // namespace
}  // namespace tracemark
