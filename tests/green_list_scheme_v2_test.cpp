// kgw-green-list version 2 (keyed per-token values R[t], one multiply per token): golden vectors
// computed outside tracemark, exact null probability, independence within and across contexts,
// the vectorised path against the definition, and embedding/detection agreement end to end.
#include "tracemark/embed/green_list_scheme.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "tracemark/refmodel/synthetic_model.hpp"
#include "scheme_test_support.hpp"
#include "test_support.hpp"
#include "tracemark/error.hpp"
#include "tracemark/sha256.hpp"
#include "tracemark/verify/green_list_detector.hpp"

namespace tracemark {
namespace {

using testing::attainable_size;
using testing::expect_green_fraction_is_gamma;
using testing::golden_key;
using testing::params_with;

std::shared_ptr<const GreenListScheme> v2_scheme(double gamma, std::uint32_t width, std::uint32_t vocab) {
  return std::make_shared<const GreenListScheme>(golden_key(params_with(gamma, 2.0, width, vocab, 2)));
}

TEST(GreenListSchemeV2, MatchesGoldenVectorsComputedWithOpensslAndPython) {
  const nlohmann::json golden = testing::load_golden("kgw_v2_vectors.json");
  const WatermarkKey key = golden_key(params_with(0.25, 2.0, 2, 50257, 2));
  EXPECT_EQ(key.key_id(), golden["key_id"].get<std::string>());
  EXPECT_EQ(key.commitment_hex(), golden["commitment"].get<std::string>());
  const GreenListScheme scheme(key);
  EXPECT_EQ(scheme.version(), 2u);
  ASSERT_EQ(scheme.token_values().size(), 50257u);
  // R read as little-endian u32 is the keystream itself; on a little-endian host the bytes match.
  const std::uint32_t one = 1;
  if (*reinterpret_cast<const unsigned char*>(&one) == 1) {
    EXPECT_EQ(sha256_hex(std::string_view(reinterpret_cast<const char*>(scheme.token_values().data()), scheme.token_values().size_bytes())),
              golden["token_values_sha256"].get<std::string>());
  }
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(scheme.token_values()[i], std::stoul(golden["token_values_first"][i].get<std::string>(), nullptr, 16));
  }
  EXPECT_EQ(scheme.token_values()[50256], std::stoul(golden["token_values_last"].get<std::string>(), nullptr, 16));
  for (const auto& entry : golden["contexts"]) {
    const auto context = entry["context"].get<std::vector<std::uint32_t>>();
    const std::uint64_t seed = scheme.context_seed(context);
    EXPECT_EQ(seed, std::stoull(entry["seed"].get<std::string>(), nullptr, 16));
    for (const auto& token : entry["tokens"]) {
      const auto id = token[0].get<std::uint32_t>();
      EXPECT_EQ(scheme.value(seed, id), std::stoul(token[1].get<std::string>(), nullptr, 16)) << "token " << id;
      EXPECT_EQ(scheme.is_green(seed, id), token[2].get<bool>()) << "token " << id;
    }
  }
  EXPECT_FALSE(scheme.is_green(0, 50257)) << "ids outside the vocabulary have no value";
}

TEST(GreenListSchemeV2, VersionsAndLimitsAreValidated) {
  EXPECT_EQ(SchemeParams{}.scheme_version, 2u) << "new keys get version 2";
  SchemeParams params = params_with(0.25, 2.0, 2, (1u << 24) + 1, 2);
  EXPECT_THROW(params.validate(), Error);
  params.scheme_version = 1;
  EXPECT_NO_THROW(params.validate());
  params.scheme_version = 4;
  try {
    params.validate();
    ADD_FAILURE() << "version 4 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unsupported);
    EXPECT_NE(std::string(e.what()).find("versions 1 to 3"), std::string::npos) << e.what();
  }
  // The same secret gives different green lists in versions 1 and 2 (one scheme cannot read the other).
  const GreenListScheme v1(golden_key(params_with(0.25, 2.0, 2, 50257, 1)));
  const GreenListScheme v2(golden_key(params_with(0.25, 2.0, 2, 50257, 2)));
  const std::uint32_t context[] = {1, 2};
  std::uint32_t both = 0;
  for (std::uint32_t t = 0; t < 50257; ++t) both += v1.is_green(v1.context_seed(context), t) && v2.is_green(v2.context_seed(context), t);
  EXPECT_NEAR(both / 50257.0, 0.0625, 0.01);
}

TEST(GreenListSchemeV2, GreenFractionOfTheVocabularyIsGamma) {
  for (double gamma : {0.1, 0.25, 0.5}) {
    const auto scheme = v2_scheme(gamma, 1, 50257);
    EXPECT_EQ(scheme->null_green_probability(), std::llround(gamma * 4294967296.0) / 4294967296.0);
    expect_green_fraction_is_gamma(*scheme, gamma);
  }
}

TEST(GreenListSchemeV2, NeighbouringTokensAndContextsAreUnrelated) {
  // An affine rule such as (a t + b) mod 2^32 would colour arithmetic progressions of ids alike; the
  // keyed values must not. Over 100 contexts x 50k ids: P(t, t+1 green), P(t, t+1, t+2 green) and
  // P(t green in context c and in context c+1) must be gamma^2, gamma^3 and gamma^2 (6 sd).
  const auto scheme = v2_scheme(0.25, 1, 50257);
  std::uint64_t pairs = 0, triples = 0, across = 0, n = 0;
  for (std::uint32_t c = 0; c < 100; ++c) {
    const std::uint32_t context[] = {c}, next_context[] = {c + 1};
    const std::uint64_t seed = scheme->context_seed(context), next_seed = scheme->context_seed(next_context);
    for (std::uint32_t t = 0; t + 2 < 50257; ++t) {
      const bool a = scheme->is_green(seed, t), b = scheme->is_green(seed, t + 1), d = scheme->is_green(seed, t + 2);
      pairs += a && b;
      triples += a && b && d;
      across += a && scheme->is_green(next_seed, t);
      ++n;
    }
  }
  auto expect_rate = [n](std::uint64_t count, double p, const char* what) {
    const double sd = std::sqrt(static_cast<double>(n) * p * (1 - p));
    EXPECT_LT(std::fabs(static_cast<double>(count) - static_cast<double>(n) * p), 6 * sd) << what << ": " << count << " of " << n;
  };
  expect_rate(pairs, 0.0625, "adjacent pairs");
  expect_rate(triples, 0.015625, "adjacent triples");
  expect_rate(across, 0.0625, "one id in neighbouring contexts");
}

TEST(GreenListSchemeV2, FullVocabularyBiasMatchesTheDefinitionAndLeavesPaddingAlone) {
  const auto scheme = v2_scheme(0.25, 2, 50257);
  for (std::size_t size : {1u, 7u, 17u, 1003u, 50257u, 50304u}) {
    const std::uint32_t context[] = {static_cast<std::uint32_t>(size), 5};
    const std::uint64_t seed = scheme->context_seed(context);
    std::vector<float> logits(size);
    for (std::size_t i = 0; i < size; ++i) logits[i] = static_cast<float>(i % 13) * 0.25f - 1.0f;
    const std::vector<float> original = logits;
    scheme->bias_logits(seed, logits);
    for (std::size_t i = 0; i < size; ++i) {
      const auto id = static_cast<std::uint32_t>(i);
      const bool green = id < 50257 && GreenListScheme::green_value_v2(seed, scheme->token_values()[id]) < scheme->threshold();
      ASSERT_EQ(logits[i], original[i] + (green ? 2.0f : 0.0f)) << "index " << i << " of " << size;
    }
  }
}

TEST(GreenListSchemeV2, CandidateBiasMatchesFullVocabularyInAnyOrder) {
  const auto scheme = v2_scheme(0.25, 2, 50257);
  const std::uint32_t context[] = {11, 12};
  const std::uint64_t seed = scheme->context_seed(context);
  std::vector<float> full(50257, 0.0f);
  scheme->bias_logits(seed, full);
  std::mt19937 rng(static_cast<std::mt19937::result_type>(testing::announce_seed(7)));
  std::vector<Candidate> candidates;
  for (int i = 0; i < 1024; ++i) candidates.push_back({static_cast<std::uint32_t>(rng() % 50257), static_cast<float>(i)});
  std::vector<Candidate> biased = candidates;
  scheme->bias_candidates(seed, biased);
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    ASSERT_EQ(biased[i].logit, candidates[i].logit + full[candidates[i].id]);
  }
  std::vector<Candidate> outside = {{50257, 0.0f}};
  EXPECT_THROW(scheme->bias_candidates(seed, outside), Error);
}

TEST(GreenListSchemeV2, NullCalibrationWithManyTokensPerContext) {
  // Pooled scoring of 30 documents of 40 tokens over only 40 distinct ids with h = 1: each context is
  // followed by many different tokens across the documents (a document scores each context once),
  // so dependence between the colours of one context's tokens would show. The null hypothesis is
  // about a key nobody knows, so each pool gets a fresh random key (with one fixed key, pools would
  // re-sample the same 1,600 fixed colours and vary less than a binomial). 600 such pools: the
  // count with p < alpha is within 3.3 sd of its exact expectation.
  SplitMix64 rng(testing::announce_seed(20261126));
  std::map<double, int> below;
  std::map<double, double> expected, variance;
  std::uint64_t scored = 0;
  for (int pool = 0; pool < 600; ++pool) {
    SecretBytes secret{};
    for (auto& byte : secret) byte = static_cast<std::uint8_t>(rng.next());
    const auto scheme = std::make_shared<const GreenListScheme>(
        WatermarkKey::from_secret(secret, params_with(0.25, 2.0, 1, 32000, 2), "2026-01-01T00:00:00Z"));
    GreenListDetector detector(scheme);
    for (int document = 0; document < 30; ++document) {
      std::vector<std::uint32_t> tokens(40);
      for (auto& token : tokens) token = static_cast<std::uint32_t>(rng.next() % 40) * 797u;
      detector.add_document(tokens);
    }
    const ScoreCounts& counts = detector.pooled();
    scored += counts.scored;
    const double p = detector.test(counts).p_value;
    for (double alpha : {0.01, 0.05}) {
      below[alpha] += p < alpha;
      const double size = attainable_size(counts.scored, 0.25, alpha);
      expected[alpha] += size;
      variance[alpha] += size * (1 - size);
    }
  }
  std::cout << "mean distinct tuples per pool " << scored / 600.0 << " over 40 contexts\n";
  EXPECT_GT(scored / 600.0, 400.0);
  for (double alpha : {0.01, 0.05}) {
    std::cout << "p < " << alpha << ": " << below[alpha] << " of 600 (exact expectation " << expected[alpha] << ")\n";
    EXPECT_LE(std::fabs(below[alpha] - expected[alpha]), 3.3 * std::sqrt(variance[alpha])) << "alpha " << alpha;
  }
}

TEST(GreenListSchemeV2, EmbeddedWatermarkIsDetectedAndCleanTextIsNot) {
  const auto scheme = v2_scheme(0.25, 2, 32000);
  SyntheticModel model({32000, 2.0, 1});
  SplitMix64 rng(testing::announce_seed(42));
  for (int i = 0; i < 3; ++i) {
    WatermarkProcessor processor(scheme);
    const auto tokens = model.generate(200, rng, &processor);
    GreenListDetector detector(scheme);
    const BinomialTest test = detector.test(detector.add_document(tokens));
    EXPECT_LT(test.log10_p, -10.0) << "sequence " << i << ": green " << test.green << " of " << test.scored;
  }
  const auto small_scheme = v2_scheme(0.25, 2, 8000);
  SyntheticModel small_model({8000, 1.6, 3});
  GreenListDetector clean(small_scheme);
  int below_001 = 0;
  for (int i = 0; i < 50; ++i) below_001 += clean.test(clean.add_document(small_model.generate(200, rng, nullptr))).p_value < 0.01;
  EXPECT_LE(below_001, 4);  // P(X >= 5) < 0.002 for X ~ Binomial(50, 0.01)
  EXPECT_GT(clean.test(clean.pooled()).p_value, 1e-4);
}

}  // namespace
}  // namespace tracemark
