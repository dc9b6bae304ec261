// Entropy-aware and syntax-aware watermarking (issue 16): the key's threshold, the step entropy,
// the syntax rule, the processor's options, the detector's step selection and its validity on
// nulls, the reference model's fast entropy and the tool-call decoder's schema guarantee.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "refmodel_test_support.hpp"
#include "test_support.hpp"
#include "tracemark/embed/step_entropy.hpp"
#include "tracemark/embed/token_syntax.hpp"
#include "tracemark/embed/watermark_processor.hpp"
#include "tracemark/error.hpp"
#include "tracemark/refmodel/reference_model_entropy.hpp"
#include "tracemark/refmodel/tool_call_decoder.hpp"
#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/green_list_detector.hpp"
#include "tracemark/verify/text_records.hpp"
#include "tracemark/verify/token_byte_table.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace tracemark {
namespace {

using testing::golden_key;
using testing::params_with;

SchemeParams with_threshold(double threshold, std::uint32_t vocab = 1000) {
  SchemeParams params = params_with(0.25, 2.0, 2, vocab, 2);
  params.entropy_threshold = threshold;
  return params;
}

TEST(EntropyThreshold, IsPartOfTheCommitmentOnlyWhenSet) {
  const WatermarkKey plain = golden_key(with_threshold(0.0));
  const WatermarkKey gated = golden_key(with_threshold(1.5));
  EXPECT_NE(plain.commitment_hex(), gated.commitment_hex());
  EXPECT_EQ(plain.commitment_hex(), golden_key(params_with(0.25, 2.0, 2, 1000, 2)).commitment_hex());
  EXPECT_EQ(plain.public_json().find("entropy_threshold"), std::string::npos);
  EXPECT_NE(gated.public_json().find("\"entropy_threshold\": 1.5"), std::string::npos);
}

TEST(EntropyThreshold, SurvivesSaveAndLoadAndIsRangeChecked) {
  testing::TemporaryFolder folder;
  const WatermarkKey key = golden_key(with_threshold(2.25));
  key.save(folder.path() / "k.json", false);
  const WatermarkKey loaded = WatermarkKey::load(folder.path() / "k.json");
  EXPECT_EQ(loaded.params().entropy_threshold, 2.25);
  EXPECT_EQ(loaded.commitment_hex(), key.commitment_hex());
  EXPECT_THROW(golden_key(with_threshold(-1.0)), Error);
  EXPECT_THROW(golden_key(with_threshold(65.0)), Error);
}

TEST(StepEntropy, MatchesClosedForms) {
  std::vector<float> uniform(64, 3.0f);
  EXPECT_NEAR(logits_entropy(uniform), std::log(64.0), 1e-9);
  std::vector<float> point(64, -std::numeric_limits<float>::infinity());
  point[7] = 0.0f;
  EXPECT_EQ(logits_entropy(point), 0.0);
  // Two tokens with probabilities 0.25 and 0.75.
  const Candidate two[] = {{5, std::log(0.25f)}, {9, std::log(0.75f)}};
  EXPECT_NEAR(candidates_entropy(two), -(0.25 * std::log(0.25) + 0.75 * std::log(0.75)), 1e-6);
}

TEST(EntropyAwareProcessor, BiasesOnlyStepsAtOrAboveTheThreshold) {
  auto scheme = std::make_shared<const GreenListScheme>(golden_key(with_threshold(2.0)));
  WatermarkProcessor processor(scheme);
  const std::uint32_t prompt[] = {1, 2};
  processor.reset(prompt);
  std::vector<float> peaked(1000, -30.0f);
  peaked[3] = 0.0f;  // entropy about 0
  const std::vector<float> peaked_before = peaked;
  processor.apply(std::span<float>(peaked));
  EXPECT_EQ(peaked, peaked_before);
  EXPECT_FALSE(processor.last_step_biased());
  ASSERT_TRUE(processor.last_step_entropy().has_value());
  EXPECT_LT(*processor.last_step_entropy(), 0.01);
  std::vector<float> flat(1000, 0.0f);  // entropy ln 1000 = 6.9
  processor.apply(std::span<float>(flat));
  EXPECT_TRUE(processor.last_step_biased());
  EXPECT_NEAR(*processor.last_step_entropy(), std::log(1000.0), 1e-6);
  EXPECT_EQ(std::count(flat.begin(), flat.end(), 2.0f), std::count_if(flat.begin(), flat.end(), [](float x) { return x != 0.0f; }));
}

TEST(SyntaxRule, ClassifiesBytesAndObjectKeys) {
  for (const char* syntax : {"{", "\"}}", ");", "  ", ":", " func", "return", " true", "<", "\"name"}) {
    EXPECT_TRUE(is_syntax_bytes(syntax)) << syntax;
  }
  for (const char* free : {" Paris", "count", " 42", "_test", "é", " the"}) EXPECT_FALSE(is_syntax_bytes(free)) << free;
  // In {"city": "Paris"}, "city" is a key (syntax) and Paris a value (free).
  const TokenSyntax syntax({"{", "\"", "city", "\":", " \"", "Paris", "\"}", "x"});
  const std::vector<std::uint32_t> tokens = {0, 1, 2, 3, 4, 5, 6, 7};
  const std::vector<bool> free = syntax.free_positions(tokens);
  EXPECT_EQ(free, (std::vector<bool>{false, false, false, false, false, true, false, true}));
}

TEST(SyntaxAwareProcessor, LeavesTheSyntaxTokensProbabilityAsItWas) {
  auto scheme = std::make_shared<const GreenListScheme>(golden_key(with_threshold(0.0, 8)));
  auto syntax = std::make_shared<const TokenSyntax>(
      std::vector<std::string>{"{", "}", " a", " b", " c", " d", ",", " e"});
  WatermarkProcessor processor(scheme, {std::nullopt, syntax, std::nullopt});
  const std::uint32_t prompt[] = {2, 3};
  processor.reset(prompt);
  std::vector<float> logits = {0.5f, -0.2f, 0.1f, 0.3f, -1.0f, 0.0f, 0.7f, 0.2f};
  auto syntax_mass = [](const std::vector<float>& l) {
    double total = 0, syntax_total = 0;
    for (std::size_t i = 0; i < l.size(); ++i) {
      total += std::exp(static_cast<double>(l[i]));
      if (i == 0 || i == 1 || i == 6) syntax_total += std::exp(static_cast<double>(l[i]));
    }
    return syntax_total / total;
  };
  const double before = syntax_mass(logits);
  const std::vector<float> original = logits;
  processor.apply(std::span<float>(logits));
  EXPECT_TRUE(processor.last_step_biased());
  EXPECT_NEAR(syntax_mass(logits), before, 1e-6);
  for (std::size_t i : {0u, 1u, 6u}) EXPECT_EQ(logits[i], original[i]);
  // Green free tokens gained against red free tokens by exactly delta.
  const std::uint64_t seed = scheme->context_seed(std::vector<std::uint32_t>{2, 3});
  for (std::size_t i : {2u, 3u, 4u, 5u, 7u}) {
    for (std::size_t j : {2u, 3u, 4u, 5u, 7u}) {
      const float gain = (logits[i] - original[i]) - (logits[j] - original[j]);
      const float expected = (scheme->is_green(seed, static_cast<std::uint32_t>(i)) ? 2.0f : 0.0f) -
                             (scheme->is_green(seed, static_cast<std::uint32_t>(j)) ? 2.0f : 0.0f);
      EXPECT_NEAR(gain, expected, 1e-5);
    }
  }
}

TEST(StepSelection, DetectorSkipsLowEntropyAndSyntaxSteps) {
  auto scheme = std::make_shared<const GreenListScheme>(golden_key(with_threshold(1.0, 8)));
  const TokenSyntax syntax({"{", "}", " a", " b", " c", " d", ",", " e"});
  GreenListDetector detector(scheme);
  const std::vector<std::uint32_t> tokens = {2, 3, 4, 0, 5, 7, 6, 2, 4, 5};
  const std::vector<float> entropy = {0, 0, 2, 2, 0.5f, 2, 2, 2, 2, 2};
  const ScoreCounts counts = detector.add_document(tokens, {entropy, 1.0, &syntax});
  EXPECT_EQ(counts.skipped_prefix, 2u);
  EXPECT_EQ(counts.skipped_low_entropy, 1u);  // position 4
  EXPECT_EQ(counts.skipped_syntax, 2u);       // positions 3 and 6
  EXPECT_EQ(counts.scored + counts.skipped_repeated_tuple + counts.skipped_repeated_context, 5u);
  const std::vector<float> short_entropy(3, 1.0f);
  EXPECT_THROW(detector.add_document(tokens, {short_entropy, 1.0, nullptr}), Error);
}

// Validity: keys the text never saw, selection by entropy and syntax (never by the key): the share of
// p < 0.01 stays within its 99% binomial bound. Fixed seeds; deterministic.
TEST(StepSelection, KeepsTheTestValidOnNulls) {
  constexpr std::uint32_t kVocab = 512;
  std::vector<std::string> bytes(kVocab);
  for (std::uint32_t i = 0; i < kVocab; ++i) bytes[i] = i % 5 == 0 ? "," : " w" + std::to_string(i);
  const TokenSyntax syntax(bytes);
  SplitMix64 rng(16);
  std::vector<std::vector<std::uint32_t>> texts(20);
  std::vector<std::vector<float>> entropies(20);
  for (std::size_t d = 0; d < texts.size(); ++d) {
    for (int i = 0; i < 300; ++i) {
      texts[d].push_back(static_cast<std::uint32_t>(rng.uniform() * rng.uniform() * kVocab));
      entropies[d].push_back(static_cast<float>(3.0 * rng.uniform()));
    }
  }
  int below = 0;
  constexpr int kKeys = 300;
  for (int k = 0; k < kKeys; ++k) {
    SecretBytes secret{};
    for (std::size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<std::uint8_t>(rng.next());
    SchemeParams params = with_threshold(1.0, kVocab);
    auto scheme = std::make_shared<const GreenListScheme>(WatermarkKey::from_secret(secret, params, "2026-01-01T00:00:00Z"));
    GreenListDetector detector(scheme);
    for (std::size_t d = 0; d < texts.size(); ++d) detector.add_document(texts[d], {entropies[d], 1.0, &syntax});
    below += detector.test(detector.pooled()).log10_p < -2.0;
  }
  // Binomial(300, 0.01): P(X > 9) < 0.001.
  EXPECT_LE(below, 9) << below << " of " << kKeys << " fresh keys gave p < 0.01";
}

TEST(ReferenceModelEntropy, FastEntropyEqualsTheFullDistributions) {
  testing::TemporaryFolder folder;
  const NgramModel model = testing::train_model(testing::tiny_corpus(40, 30, 60, 3), 3, 50, folder.path() / "m.tmlm");
  NgramScratch scratch;
  std::vector<float> logits(model.vocab_size());
  for (const std::vector<std::uint32_t>& history :
       {std::vector<std::uint32_t>{}, {1, 2}, {7}, {3, 1}, {45, 46}}) {
    model.log_probabilities(history, logits, scratch);
    EXPECT_NEAR(model.entropy(history, scratch), logits_entropy(logits), 1e-4);
  }
  const ReferenceModelEntropy source(std::make_shared<const NgramModel>(NgramModel::load(folder.path() / "m.tmlm")), "m");
  const std::uint32_t prompt[] = {1};
  const std::uint32_t response[] = {2, 3, 4};
  const std::vector<float> values = source.entropies(prompt, response);
  ASSERT_EQ(values.size(), 3u);
  const std::uint32_t history[] = {1, 2};
  EXPECT_NEAR(values[1], model.entropy(history, scratch), 1e-5);
}

TEST(ToolCallDecoder, EveryAnswerParsesAndMatchesItsSchema) {
  const auto tokenizer = Tokenizer::load("cl100k_base");
  const nlohmann::json tools = nlohmann::json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
      "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}}, "required": ["city", "unit"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object",
      "properties": {"zone": {"type": "string"}, "hours": {"type": "integer"}, "dst": {"type": "boolean"}},
      "required": ["zone", "hours", "dst"]}}}])");
  const std::vector<ToolSchema> schemas = parse_tool_schemas(tools, "test");
  std::vector<std::vector<std::uint32_t>> corpus;
  for (const char* text : {"Weather?\n<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"unit\": \"c\"}}</tool_call>",
                           "Time?\nSure.\n<tool_call>{\"name\": \"get_time\", \"arguments\": {\"zone\": \"UTC\", \"hours\": 3, \"dst\": true}}</tool_call>"}) {
    corpus.push_back(tokenizer->encode(text));
  }
  testing::TemporaryFolder folder;
  const NgramModel model = testing::train_model(corpus, 3, tokenizer->vocab_size(), folder.path() / "t.tmlm");
  const ToolCallVocabulary vocabulary(token_byte_table(*tokenizer, tokenizer->vocab_size()),
                                      [&](std::string_view text) { return tokenizer->encode(text); });
  auto scheme = std::make_shared<const GreenListScheme>(golden_key(with_threshold(0.5, tokenizer->vocab_size())));
  GenerationScratch scratch;
  const std::vector<std::uint32_t> prompt = tokenizer->encode("What now?\n");
  const auto syntax = std::make_shared<const TokenSyntax>(token_byte_table(*tokenizer, tokenizer->vocab_size()));
  for (std::uint64_t seed = 0; seed < 8; ++seed) {
    SplitMix64 rng(seed);
    WatermarkProcessor processor(scheme, {std::nullopt, syntax, std::nullopt});
    const ToolCallResponse response = generate_tool_call(model, vocabulary, schemas, prompt, SamplingOptions{}, {}, rng,
                                                         &processor, scratch);
    const auto schema = std::find_if(schemas.begin(), schemas.end(), [&](const ToolSchema& s) { return s.name == response.function_name; });
    ASSERT_NE(schema, schemas.end());
    EXPECT_TRUE(arguments_match_schema(nlohmann::json::parse(response.arguments), *schema)) << response.arguments;
    EXPECT_EQ(tokenizer->decode(response.tokens), response.text);
    EXPECT_EQ(response.entropy.size(), response.tokens.size());
    // The text parses back into the same call (verify's reading of OpenAI tool calls).
    const nlohmann::json calls = {{{"function", {{"name", response.function_name}, {"arguments", response.arguments}}}}};
    EXPECT_EQ(tool_call_text(response.preamble, calls, "test"), response.text);
  }
}

}  // namespace
}  // namespace tracemark
