// A sampling scheme (gumbel-max) behind the one processor interface serving uses (issue 18):
// chooses_token(), choose() on both paths, apply() leaving the logits alone, the refusals; the
// shaping that makes its draw the one sample_from_* would make (temperature, nucleus); and the
// reference model's decoding loop watermarking with it (found by the detector, deterministic per
// stream, not found with a fresh key).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "refmodel_test_support.hpp"
#include "test_support.hpp"
#include "tracemark/embed/gumbel_max_sampler.hpp"
#include "tracemark/embed/tournament_sampler.hpp"
#include "tracemark/embed/serving_scheme.hpp"
#include "tracemark/embed/token_syntax.hpp"
#include "tracemark/embed/watermark_processor.hpp"
#include "tracemark/error.hpp"
#include "tracemark/refmodel/response_generator.hpp"
#include "tracemark/refmodel/token_sampler.hpp"
#include "tracemark/verify/gumbel_max_detector.hpp"

namespace tracemark {
namespace {

using testing::gumbel_params;


SchemeParams green_params(std::uint32_t vocab) {
  SchemeParams params;
  params.vocab_size = vocab;
  return params;
}

TEST(SamplingProcessor, ServingSchemeFollowsTheKeysScheme) {
  const ServingScheme gumbel = ServingScheme::for_key(WatermarkKey::generate(gumbel_params(2, 50)));
  EXPECT_TRUE(gumbel.gumbel_max && !gumbel.green_list);
  EXPECT_EQ(gumbel.vocab_size(), 50u);
  EXPECT_EQ(gumbel.context_width(), 2u);
  const ServingScheme green = ServingScheme::for_key(WatermarkKey::generate(green_params(60)));
  EXPECT_TRUE(green.green_list && !green.gumbel_max);
  EXPECT_EQ(green.vocab_size(), 60u);
  EXPECT_TRUE(ServingScheme{}.empty());
  EXPECT_THROW(WatermarkProcessor(ServingScheme{}), Error);
}

TEST(SamplingProcessor, ChoosesWhatTheSamplerChoosesAndLeavesLogitsAlone) {
  const ServingScheme scheme = ServingScheme::for_key(WatermarkKey::generate(gumbel_params(1, 40)));
  WatermarkProcessor processor(scheme);
  GumbelMaxSampler sampler(scheme.gumbel_max);
  EXPECT_TRUE(processor.chooses_token());
  EXPECT_EQ(processor.vocab_size(), 40u);
  const std::vector<std::uint32_t> prompt = {5, 6};
  processor.reset(prompt, 99);
  sampler.reset(prompt, 99);
  std::vector<float> logits(44);  // 4 padding columns
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(std::sin(0.7 * static_cast<double>(i)));
  for (int step = 0; step < 300; ++step) {
    const std::vector<float> before = logits;
    processor.apply(std::span<float>(logits));
    ASSERT_EQ(logits, before) << "a sampling scheme does not bias";
    ASSERT_EQ(processor.will_bias(), sampler.will_key());
    const std::uint32_t token = processor.choose(std::span<const float>(logits));
    ASSERT_EQ(token, sampler.choose(std::span<const float>(logits))) << "step " << step;
    ASSERT_LT(token, 40u) << "padding columns are never chosen";
    processor.accept(token);
    sampler.accept(token);
    std::rotate(logits.begin(), logits.begin() + 3, logits.begin() + 40);  // the next step's distribution
  }
  // The candidate path: same choice as the sampler's candidate path.
  const std::vector<Candidate> candidates = {{7, 1.0f}, {3, 0.5f}, {30, -0.2f}, {12, 2.0f}};
  EXPECT_EQ(processor.choose(std::span<const Candidate>(candidates)), sampler.choose(std::span<const Candidate>(candidates)));
  std::vector<float> short_row(39, 0.0f);
  EXPECT_THROW(processor.choose(std::span<const float>(short_row)), Error) << "short row";
  EXPECT_THROW(processor.apply(std::span<float>(short_row)), Error) << "short row";
  EXPECT_THROW(processor.choose(std::span<const Candidate>(std::vector<Candidate>{{40, 0.0f}})), Error) << "id outside";
  EXPECT_THROW((void)processor.scheme(), Error) << "a gumbel-max processor has no green list";
}

TEST(SamplingProcessor, TournamentKeysChooseThroughTheSameInterface) {
  SchemeParams params = gumbel_params(1, 64);
  params.scheme = std::string(kTournamentSchemeName);
  params.tournament_layers = 12;
  const ServingScheme scheme = ServingScheme::for_key(WatermarkKey::generate(params));
  ASSERT_TRUE(scheme.tournament && !scheme.gumbel_max && !scheme.green_list);
  EXPECT_EQ(scheme.vocab_size(), 64u);
  WatermarkProcessor processor(scheme);
  TournamentSampler sampler(scheme.tournament);
  EXPECT_TRUE(processor.chooses_token());
  processor.reset(std::vector<std::uint32_t>{3}, 17);
  sampler.reset(std::vector<std::uint32_t>{3}, 17);
  std::vector<float> logits(64);
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(std::cos(0.3 * static_cast<double>(i)));
  for (int step = 0; step < 100; ++step) {
    const std::vector<float> before = logits;
    processor.apply(std::span<float>(logits));
    ASSERT_EQ(logits, before);
    ASSERT_EQ(processor.will_bias(), sampler.will_key());
    const std::uint32_t token = processor.choose(std::span<const float>(logits));
    ASSERT_EQ(token, sampler.choose(std::span<const float>(logits))) << "step " << step;
    processor.accept(token);
    sampler.accept(token);
  }
  EXPECT_THROW((void)processor.scheme(), Error);
  ProcessorOptions fraction;
  fraction.keyed_fraction = 0.5;
  EXPECT_THROW(WatermarkProcessor(scheme, fraction), Error) << "the tournament already draws with the request's stream";
}

TEST(SamplingProcessor, GreenListProcessorDoesNotChooseAndSamplingSchemesRefuseGreenListOptions) {
  WatermarkProcessor green(ServingScheme::for_key(WatermarkKey::generate(green_params(30))));
  EXPECT_FALSE(green.chooses_token());
  EXPECT_EQ(green.vocab_size(), 30u);
  EXPECT_THROW(green.choose(std::span<const float>(std::vector<float>(30, 0.0f))), Error);
  const ServingScheme gumbel = ServingScheme::for_key(WatermarkKey::generate(gumbel_params(1, 30)));
  ProcessorOptions threshold;
  threshold.entropy_threshold = 1.0;
  EXPECT_THROW(WatermarkProcessor(gumbel, threshold), Error);
  ProcessorOptions syntax;
  syntax.syntax = std::make_shared<const TokenSyntax>(std::vector<std::string>(30, "a"));
  EXPECT_THROW(WatermarkProcessor(gumbel, syntax), Error);
}

TEST(SamplingProcessor, ShapingKeepsExactlyTheNucleusAndDividesByTheTemperature) {
  SamplerScratch scratch;
  SamplingOptions options;
  options.temperature = 0.5;
  options.top_p = 0.8;
  const std::vector<float> original = {0.0f, 2.0f, 1.0f, -1.0f, 1.5f, -5.0f};
  std::vector<float> logits = original;
  shape_logits_for_choice(logits, options, scratch);
  // The ids sample_from_logits can return at this temperature and top-p, found by sweeping the
  // uniform draw: exactly the ids shaping leaves finite.
  std::set<std::uint32_t> reachable;
  for (int i = 0; i < 2000; ++i) reachable.insert(sample_from_logits(original, options, (i + 0.5) / 2000.0, scratch));
  for (std::uint32_t id = 0; id < original.size(); ++id) {
    if (reachable.contains(id)) {
      EXPECT_FLOAT_EQ(logits[id], original[id] / 0.5f) << id;
    } else {
      EXPECT_EQ(logits[id], -std::numeric_limits<float>::infinity()) << id;
    }
  }
  std::vector<Candidate> candidates;
  for (std::uint32_t id = 0; id < original.size(); ++id) candidates.push_back({id, original[id]});
  shape_candidates_for_choice(candidates, options, scratch);
  std::set<std::uint32_t> kept;
  for (const Candidate& candidate : candidates) kept.insert(candidate.id);
  EXPECT_EQ(kept, reachable);
  options.temperature = 0.0;
  EXPECT_THROW(shape_logits_for_choice(logits, options, scratch), Error) << "greedy has nothing to key";
  options.temperature = 1.0;
  std::vector<float> empty;
  EXPECT_THROW(shape_logits_for_choice(empty, options, scratch), Error);
}

class SamplingGeneration : public ::testing::Test {
 protected:
  static constexpr std::uint32_t kVocab = 1000;
  void SetUp() override {
    model_.emplace(testing::train_model(testing::tiny_corpus(kVocab, 40, 200, testing::announce_seed(11)), 2, kVocab,
                                        folder_.path() / "m.tmlm"));
  }
  std::vector<std::uint32_t> generate(std::uint64_t index, const GenerationOptions& options, const ServingScheme& scheme) {
    SplitMix64 rng(response_stream_seed(5, index));
    const std::vector<std::uint32_t> prompt = {static_cast<std::uint32_t>(index % kVocab), 1, 2};
    WatermarkProcessor processor(scheme);
    return generate_response(*model_, prompt, options, rng, &processor, scratch_);
  }
  testing::TemporaryFolder folder_;
  std::optional<NgramModel> model_;
  GenerationScratch scratch_;
};

TEST_F(SamplingGeneration, TheDecodingLoopWatermarksWithTheKeysChoiceOnBothPaths) {
  const ServingScheme ours = ServingScheme::for_key(WatermarkKey::generate(gumbel_params(2, kVocab)));
  const ServingScheme fresh = ServingScheme::for_key(WatermarkKey::generate(gumbel_params(2, kVocab)));
  for (std::uint32_t top_k : {0u, 40u}) {
    GenerationOptions options;
    options.max_tokens = 150;
    options.sampling.top_k = top_k;
    options.sampling.top_p = 0.95;
    options.sampling.temperature = 0.9;
    EXPECT_EQ(generate(0, options, ours), generate(0, options, ours)) << "deterministic for a stream";
    GumbelMaxDetector detector(ours.gumbel_max), other(fresh.gumbel_max);
    for (std::uint64_t i = 0; i < 10; ++i) {
      const std::vector<std::uint32_t> tokens = generate(i, options, ours);
      detector.add_document(tokens);
      other.add_document(tokens);
    }
    const GammaTest found = GumbelMaxDetector::test(detector.pooled());
    const GammaTest not_found = GumbelMaxDetector::test(other.pooled());
    EXPECT_LT(found.log10_p, -20) << "top_k " << top_k << ", " << found.scored << " tuples";
    EXPECT_GT(not_found.log10_p, -6) << "top_k " << top_k << " (a fresh key: a floor a valid p-value crosses once in a million runs)";
  }
}

}  // namespace
}  // namespace tracemark
