// The PRF-seeded schemes: kgw-green-list version 3 and gumbel-max version 1. Golden vectors computed
// outside tracemark (tests/golden/make_prf_vectors.py), the batched PRF against the single one, the
// Gumbel-max choice against the softmax it must sample exactly (keyed, unkeyed, full row and
// candidates), the sampler's repeated-context rule, and detection: calibrated on null text with
// fresh keys, powerful on sampled text.
#include "tracemark/embed/gumbel_max_scheme.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <array>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "refmodel_test_support.hpp"
#include "test_support.hpp"
#include "tracemark/embed/gumbel_max_sampler.hpp"
#include "tracemark/embed/scheme_catalog.hpp"
#include "tracemark/error.hpp"
#include "tracemark/refmodel/synthetic_model.hpp"
#include "tracemark/verify/distillation_scan.hpp"
#include "tracemark/verify/gumbel_max_detector.hpp"

namespace tracemark {
namespace {

using testing::sample;

using testing::gumbel_params;

using testing::golden_key;
using testing::params_with;


std::uint64_t hex64(const nlohmann::json& value) { return std::stoull(value.get<std::string>(), nullptr, 16); }

TEST(PrfSchemes, GreenListVersion3MatchesGoldenVectors) {
  const nlohmann::json golden = testing::load_golden("prf_vectors.json");
  const GreenListScheme scheme(golden_key(params_with(0.25, 2.0, 2, 50257, 3)));
  std::vector<std::uint32_t> contexts, tokens;
  std::vector<bool> expected_green;
  for (const auto& row : golden["green_list_v3"]["contexts"]) {
    const std::vector<std::uint32_t> context = row["context"].get<std::vector<std::uint32_t>>();
    const std::uint64_t seed = scheme.context_seed(context);
    EXPECT_EQ(seed, hex64(row["seed"])) << "context " << context[0] << "," << context[1];
    for (const auto& token : row["tokens"]) {
      const std::uint32_t id = token[0].get<std::uint32_t>();
      EXPECT_EQ(scheme.value(seed, id), std::stoul(token[1].get<std::string>(), nullptr, 16)) << "token " << id;
      contexts.insert(contexts.end(), context.begin(), context.end());
      tokens.push_back(id);
      expected_green.push_back(token[2].get<bool>());
    }
  }
  // The scan's batched colouring uses the batched PRF: same colours.
  std::vector<std::uint8_t> green(tokens.size());
  scheme.green_flags(contexts, tokens, green);
  for (std::size_t i = 0; i < tokens.size(); ++i) EXPECT_EQ(green[i] != 0, expected_green[i]) << "tuple " << i;
  // Two CBC-MAC blocks (h = 6).
  const GreenListScheme wide(golden_key(params_with(0.25, 2.0, 6, 50257, 3)));
  const auto long_context = golden["green_list_v3_width6"]["context"].get<std::vector<std::uint32_t>>();
  EXPECT_EQ(wide.context_seed(long_context), hex64(golden["green_list_v3_width6"]["seed"]));
}

TEST(PrfSchemes, GumbelMaxMatchesGoldenVectors) {
  const nlohmann::json golden = testing::load_golden("prf_vectors.json");
  const GumbelMaxScheme scheme(golden_key(gumbel_params(2, 50257)));
  for (const auto& row : golden["gumbel_max_v1"]["contexts"]) {
    const std::vector<std::uint32_t> context = row["context"].get<std::vector<std::uint32_t>>();
    const std::uint64_t seed = scheme.context_seed(context);
    EXPECT_EQ(seed, hex64(row["seed"]));
    for (const auto& token : row["tokens"]) {
      const std::uint32_t id = token[0].get<std::uint32_t>();
      EXPECT_EQ(scheme.uniform(seed, id), std::strtod(token[1].get<std::string>().c_str(), nullptr)) << "token " << id;
      const double score = std::strtod(token[2].get<std::string>().c_str(), nullptr);
      EXPECT_NEAR(scheme.score(seed, id), score, 4e-16 * std::max(1.0, score)) << "token " << id;
    }
  }
}

TEST(PrfSchemes, GumbelMaxVersion2MatchesGoldenVectors) {
  const nlohmann::json golden = testing::load_golden("prf_vectors.json");
  const GumbelMaxScheme scheme(golden_key(gumbel_params(2, 50257, 2)));
  for (const auto& row : golden["gumbel_max_v2"]["contexts"]) {
    const std::vector<std::uint32_t> context = row["context"].get<std::vector<std::uint32_t>>();
    const std::uint64_t seed = scheme.context_seed(context);
    EXPECT_EQ(seed, hex64(row["seed"]));
    for (const auto& token : row["tokens"]) {
      const std::uint32_t id = token[0].get<std::uint32_t>();
      EXPECT_EQ(scheme.uniform(seed, id), std::strtod(token[2].get<std::string>().c_str(), nullptr)) << "token " << id;
      const double score = std::strtod(token[3].get<std::string>().c_str(), nullptr);
      EXPECT_NEAR(scheme.score(seed, id), score, 4e-16 * std::max(1.0, score)) << "token " << id;
    }
  }
}

TEST(PrfSchemes, BatchedSeedsEqualSingleSeedsForEveryWidth) {
  std::mt19937 random(18);  // fixed seed: 18
  for (std::uint32_t width : {1u, 2u, 4u, 5u, 9u, 16u}) {
    const GumbelMaxScheme scheme(golden_key(gumbel_params(width, 1000)));
    const std::size_t count = 5000;  // more than one internal chunk of 4096
    std::vector<std::uint32_t> contexts(width * count);
    for (auto& id : contexts) id = random() % 1000;
    std::vector<std::uint64_t> seeds(count);
    scheme.context_seeds(contexts, seeds);
    for (std::size_t i = 0; i < count; i += 97) {
      EXPECT_EQ(seeds[i], scheme.context_seed(std::span<const std::uint32_t>(contexts).subspan(i * width, width)))
          << "width " << width << " context " << i;
    }
  }
}

TEST(PrfSchemes, KeysAreRefusedByAnotherSchemesCodePath) {
  const WatermarkKey gumbel = golden_key(gumbel_params(2, 1000));
  const WatermarkKey green = golden_key(params_with(0.25, 2.0, 2, 1000, 3));
  try {
    GreenListScheme scheme(gumbel);
    ADD_FAILURE() << "a gumbel-max key was accepted by the green list";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    const std::string message = e.what();
    EXPECT_NE(message.find("is a 'gumbel-max' key"), std::string::npos) << message;
    EXPECT_NE(message.find("needs a 'kgw-green-list' key"), std::string::npos) << message;
    EXPECT_EQ(message.find("000102"), std::string::npos) << "no secret in messages";
  }
  try {
    GumbelMaxScheme scheme(green);
    ADD_FAILURE() << "a green-list key was accepted by gumbel-max";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs a 'gumbel-max' key"), std::string::npos) << e.what();
  }
  EXPECT_THROW(scheme_kind("synthid-tournament-v9"), Error);
}

TEST(PrfSchemes, GumbelKeyFilesRoundTripAndForeignFieldsAreRefused) {
  const testing::TemporaryFolder folder;
  const auto& directory = folder.path();
  const WatermarkKey key = WatermarkKey::generate(gumbel_params(3, 500));
  key.save(directory / "key.json", false);
  const WatermarkKey loaded = WatermarkKey::load(directory / "key.json");
  EXPECT_EQ(loaded.params(), key.params());
  EXPECT_EQ(loaded.commitment_hex(), key.commitment_hex());
  const nlohmann::json description = nlohmann::json::parse(key.public_json());
  EXPECT_EQ(description["scheme"]["name"], "gumbel-max");
  EXPECT_FALSE(description["scheme"].contains("gamma"));
  EXPECT_FALSE(description["scheme"].contains("delta"));

  nlohmann::json file = nlohmann::json::parse(key.public_json());
  file["secret"] = std::string(64, 'a');
  const auto refused = testing::expect_key_file_refused;
  nlohmann::json edited = file;
  edited["scheme"]["version"] = 3;
  refused(edited, "scheme version 3 of 'gumbel-max' is not supported");
  edited = file;
  edited["scheme"]["name"] = "tournament";
  refused(edited, "unknown scheme 'tournament'");
  edited = file;
  edited["scheme"]["gamma"] = 0.25;
  refused(edited, "field 'scheme.gamma' does not belong to a 'gumbel-max' key");
  // A context width of 0 would give every step the same seed.
  EXPECT_THROW(gumbel_params(0, 500).validate(), Error);
}

// Frequencies of n choices against the softmax of `logits`: every |observed - expected| within 5 sd.
template <typename Choose>
void expect_softmax_frequencies(const std::vector<float>& logits, std::size_t n, Choose choose, const char* what) {
  double total = 0;
  for (float logit : logits) total += std::exp(static_cast<double>(logit));
  std::vector<std::size_t> counts(logits.size());
  for (std::size_t i = 0; i < n; ++i) ++counts.at(choose(i));
  for (std::size_t t = 0; t < logits.size(); ++t) {
    const double p = std::exp(static_cast<double>(logits[t])) / total;
    const double sd = std::sqrt(static_cast<double>(n) * p * (1 - p));
    EXPECT_NEAR(static_cast<double>(counts[t]), static_cast<double>(n) * p, 5 * sd + 1) << what << ": token " << t;
  }
}

class GumbelVersions : public ::testing::TestWithParam<std::uint32_t> {};
INSTANTIATE_TEST_SUITE_P(Versions, GumbelVersions, ::testing::Values(1u, 2u));

TEST_P(GumbelVersions, GumbelChoiceSamplesTheSoftmaxExactlyOnEveryPath) {
  const GumbelMaxScheme scheme(golden_key(gumbel_params(1, 6, GetParam())));
  const std::vector<float> logits = {1.5f, 0.0f, -1.0f, 2.2f, -3.0f, -std::numeric_limits<float>::infinity()};
  const std::vector<float> finite(logits.begin(), logits.end() - 1);
  const std::size_t n = 40000;
  // Keyed: one choice per distinct context (each has its own seed).
  expect_softmax_frequencies(finite, n, [&](std::size_t i) {
    const std::uint32_t context[] = {static_cast<std::uint32_t>(i)};
    return scheme.choose_token(scheme.context_seed(context), logits);
  }, "keyed full row");
  std::vector<Candidate> candidates = {{3, 2.2f}, {0, 1.5f}, {4, -3.0f}, {2, -1.0f}, {1, 0.0f}};
  std::size_t differ = 0;
  for (std::uint32_t c = 0; c < 2000; ++c) {
    const std::uint32_t context[] = {c};
    const std::uint64_t seed = scheme.context_seed(context);
    differ += scheme.choose_candidate(seed, candidates) != scheme.choose_token(seed, logits);
  }
  EXPECT_EQ(differ, 0u) << "the candidate path must pick what the full row picks";
  std::mt19937_64 random(7);  // fixed seed: 7
  expect_softmax_frequencies(finite, n, [&](std::size_t) { return scheme.choose_token_unkeyed(random, logits); },
                             "unkeyed full row");
  expect_softmax_frequencies(finite, n, [&](std::size_t) { return scheme.choose_candidate_unkeyed(random, candidates); },
                             "unkeyed candidates");
  EXPECT_THROW(scheme.choose_token(1, std::vector<float>(5, 0.0f)), Error) << "short row";
  EXPECT_THROW(scheme.choose_candidate(1, std::vector<Candidate>{{6, 0.0f}}), Error) << "id outside the vocabulary";
  EXPECT_THROW(scheme.choose_candidate(1, std::vector<Candidate>{}), Error) << "nothing to choose";
  // Padding columns past the vocabulary are never chosen.
  std::vector<float> padded = logits;
  padded.push_back(100.0f);
  EXPECT_LT(scheme.choose_token(42, padded), 6u);
}

TEST_P(GumbelVersions, GumbelDetectionFindsSampledTextAndSkipsRepeatedContexts) {
  const SyntheticModel model({.vocab_size = 2000, .zipf_exponent = 1.2, .model_seed = 3});
  auto scheme = std::make_shared<const GumbelMaxScheme>(golden_key(gumbel_params(2, 2000, GetParam())));
  GumbelMaxSampler sampler(scheme);
  const std::uint32_t prompt[] = {5, 9};
  const std::vector<std::uint32_t> response = sample(model, sampler, 200, 11, prompt);
  GumbelMaxDetector detector(scheme);
  std::vector<std::uint32_t> document(prompt, prompt + 2);
  document.insert(document.end(), response.begin(), response.end());
  const GumbelScoreCounts counts = detector.add_document(document);
  EXPECT_EQ(counts.tokens, counts.skipped_prefix + counts.skipped_repeated_context + counts.skipped_repeated_tuple +
                               counts.scored);
  const GammaTest test = GumbelMaxDetector::test(counts);
  EXPECT_LT(test.log10_p, -10) << "scored " << counts.scored << " score " << counts.score;
  // The same prompt and request seed give the same response (the sampler is deterministic).
  EXPECT_EQ(sample(model, sampler, 200, 11, prompt), response);
  // A repeated context within a response: the detector skips it exactly as the sampler left it unkeyed.
  const std::vector<std::uint32_t> looping = {1, 2, 3, 1, 2, 4, 1, 2, 3};
  const GumbelScoreCounts loop_counts = GumbelMaxDetector(scheme).add_document(looping);
  EXPECT_EQ(loop_counts.skipped_prefix, 2u);
  EXPECT_EQ(loop_counts.skipped_repeated_context, 2u);  // (1,2) at positions 5 and 8
  EXPECT_EQ(loop_counts.scored, 5u);
  EXPECT_THROW(GumbelMaxDetector(scheme).add_document(std::vector<std::uint32_t>{1, 2, 2000}), Error);
}

TEST(PrfSchemes, SamplerKeysOnlyTheFirstOccurrenceOfAContext) {
  auto scheme = std::make_shared<const GumbelMaxScheme>(golden_key(gumbel_params(1, 3)));
  GumbelMaxSampler sampler(scheme);
  const std::uint32_t prompt[] = {0};
  sampler.reset(prompt, 1);
  EXPECT_TRUE(sampler.will_key()) << "the prompt's context is not a repeat";
  const std::vector<float> logits = {0.0f, 0.0f, 0.0f};
  EXPECT_EQ(sampler.choose(std::span<const float>(logits)),
            scheme->choose_token(scheme->context_seed(prompt), logits)) << "a keyed step is the key's choice";
  sampler.accept(0);  // context {0} again: drawn from the request's randomness
  EXPECT_FALSE(sampler.will_key());
  // Unkeyed steps follow the request seed: over 40 draws two request seeds disagree somewhere.
  GumbelMaxSampler other(scheme);
  other.reset(prompt, 2);
  other.accept(0);
  std::size_t differ = 0;
  for (int i = 0; i < 40; ++i) {
    differ += sampler.choose(std::span<const float>(logits)) != other.choose(std::span<const float>(logits));
  }
  EXPECT_GT(differ, 0u);
  sampler.accept(1);
  EXPECT_TRUE(sampler.will_key()) << "context {1} is new";
}

TEST_P(GumbelVersions, GumbelDetectionIsCalibratedOnNullTextWithFreshKeys) {
  // 400 fresh keys, one null document each (uniform ids: independent of every key). Under the null
  // each p-value is uniform, so the count below 0.05 is Binomial(400, 0.05): mean 20, and the
  // interval [7, 36] holds it with probability 0.9995 (exact binomial tails 2.0e-4 and 2.9e-4).
  std::mt19937 random(2018);  // fixed seed: 2018
  std::size_t below_005 = 0;
  std::size_t below_050 = 0;
  for (int k = 0; k < 400; ++k) {
    auto scheme = std::make_shared<const GumbelMaxScheme>(WatermarkKey::generate(gumbel_params(2, 1000, GetParam())));
    std::vector<std::uint32_t> document(150);
    for (auto& id : document) id = random() % 1000;
    GumbelMaxDetector detector(scheme);
    const GammaTest test = GumbelMaxDetector::test(detector.add_document(document));
    below_005 += test.p_value < 0.05;
    below_050 += test.p_value < 0.5;
  }
  EXPECT_GE(below_005, 7u);
  EXPECT_LE(below_005, 36u);
  EXPECT_GE(below_050, 160u);  // Binomial(400, 0.5): mean 200, sd 10
  EXPECT_LE(below_050, 240u);
}

TEST(PrfSchemes, DistillationScanScoresGumbelKeysBesideGreenListKeys) {
  // One scan, a gumbel-max key (the one that watermarked) and a green-list v3 key (did not): the
  // same dedup and prompt rules, the exact Gamma test for the first, Holm over both.
  const SyntheticModel model({.vocab_size = 2000, .zipf_exponent = 1.2, .model_seed = 4});
  auto gumbel = std::make_shared<const GumbelMaxScheme>(golden_key(gumbel_params(2, 2000)));
  auto green = std::make_shared<const GreenListScheme>(golden_key(params_with(0.25, 2.0, 2, 2000, 3)));
  DistillationScan scan({{"green", green, nullptr, 0.0, nullptr}, {"gumbel", nullptr, nullptr, 0.0, gumbel}});
  EXPECT_EQ(scan.group_count(), 1u) << "same width, threshold and filter: one dedup set";
  GumbelMaxSampler sampler(gumbel);
  std::vector<std::vector<std::uint32_t>> responses;
  for (std::uint32_t r = 0; r < 6; ++r) {
    const std::uint32_t prompt[] = {r, r + 1};
    responses.push_back(sample(model, sampler, 60, r, prompt));
    scan.add_response(responses.back(), prompt);
  }
  scan.add_response(responses.front(), {});  // a repeat: every tuple already scored
  const std::vector<KeyScanResult> results = scan.results({});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].scheme, SchemeKind::green_list);
  EXPECT_EQ(results[1].scheme, SchemeKind::gumbel_max);
  EXPECT_EQ(results[0].counts.scored, results[1].counts.scored) << "the dedup never looks at the key";
  EXPECT_GE(results[1].counts.skipped_repeated_tuple, responses.front().size() - 2);
  const GammaTest expected = gamma_test(results[1].counts.score, results[1].counts.scored);
  EXPECT_EQ(results[1].test.log_p, expected.log_p);
  EXPECT_LT(results[1].test.log10_p, -10);
  EXPECT_GT(results[0].test.log10_p, -4) << "the green-list key did not watermark this text";
  EXPECT_LE(results[1].test.log10_p, results[1].holm_log10_p) << "Holm only raises p-values";
  // The batched score equals the definition summed over the distinct tuples, one at a time.
  std::set<std::array<std::uint32_t, 3>> seen;
  double score = 0;
  for (const auto& response : responses) {
    for (std::size_t i = 2; i < response.size(); ++i) {
      if (!seen.insert({response[i - 2], response[i - 1], response[i]}).second) continue;
      score += gumbel->score(gumbel->context_seed(std::span<const std::uint32_t>(response).subspan(i - 2, 2)), response[i]);
    }
  }
  EXPECT_EQ(seen.size(), results[1].counts.scored);
  EXPECT_NEAR(score, results[1].counts.score, 1e-9 * score);
}

}  // namespace
}  // namespace tracemark
