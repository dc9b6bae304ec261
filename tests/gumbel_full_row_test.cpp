// The fast full-vocabulary Gumbel-max choice (embed/src/gumbel_full_row.hpp) against its definition:
// the single-precision approximation of -ln(-ln r) stays well inside the error the exact second pass
// allows, over random draws and the extremes of r; and the choice equals the definition's double
// loop on rows of every kind (ordinary, tied, huge, masked, NaN, padded).
#include "gumbel_full_row.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "tracemark/embed/gumbel_max_scheme.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {


double exact_gumbel(std::uint64_t u) { return -std::log(-std::log(GumbelMaxScheme::unit_interval(u))); }

TEST(GumbelFullRow, ApproximationErrorIsFarInsideTheMargin) {
  std::vector<std::uint64_t> draws = {0, 1, 2047, 2048, ~0ull, ~0ull - 2047, ~0ull << 11, 1ull << 63, (1ull << 63) - 1,
                                      (1ull << 63) + 2048, 0xffffffffull, 0x100000000ull, 0xffffffff00000000ull};
  for (int shift = 11; shift < 64; ++shift) {
    draws.push_back(1ull << shift);
    draws.push_back(~0ull - (1ull << shift));
  }
  std::mt19937_64 random(testing::announce_seed(5));
  for (int i = 0; i < 10'000'000; ++i) draws.push_back(random());
  double worst = 0;
  std::uint64_t worst_at = 0;
  for (std::uint64_t u : draws) {
    const double error = std::abs(static_cast<double>(gumbel_detail::approximate_gumbel(u)) - exact_gumbel(u));
    if (error > worst) {
      worst = error;
      worst_at = u;
    }
  }
  std::cout << "[ worst ] " << worst << " at u = " << worst_at << "\n";
  EXPECT_LT(worst, gumbel_detail::kGumbelApproximationError / 5);
}

// The definition, as gumbel_max_scheme.hpp states it: first id with the largest double key.
std::uint32_t reference_choice(const GumbelMaxScheme& scheme, std::uint64_t seed, const std::vector<float>& logits) {
  double best = -std::numeric_limits<double>::infinity();
  std::uint32_t chosen = 0;
  bool any = false;
  for (std::uint32_t t = 0; t < scheme.vocab_size(); ++t) {
    if (!(logits[t] > -std::numeric_limits<float>::infinity())) continue;
    const double key = static_cast<double>(logits[t]) - std::log(-std::log(scheme.uniform(seed, t)));
    if (!any || key > best) {
      best = key;
      chosen = t;
      any = true;
    }
  }
  return chosen;
}

TEST(GumbelFullRow, ChoiceEqualsTheDefinitionOnRowsOfEveryKind) {
  std::mt19937_64 random(testing::announce_seed(6));
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (std::uint32_t vocab : {1u, 7u, 1000u, 50257u}) {
    const GumbelMaxScheme scheme(WatermarkKey::generate(testing::gumbel_params(1, vocab)));
    const int rows = vocab > 10000 ? 300 : 3000;
    for (int row = 0; row < rows; ++row) {
      std::vector<float> logits(vocab + 5);  // 5 padding columns, never chosen
      const int kind = row % 6;
      for (std::uint32_t t = 0; t < logits.size(); ++t) {
        switch (kind) {
          case 0: logits[t] = normal(random); break;                                    // ordinary
          case 1: logits[t] = 0.0f; break;                                              // all tied
          case 2: logits[t] = 1.0e6f + normal(random); break;                           // huge: coarse float grid
          case 3: logits[t] = random() % 4 ? -std::numeric_limits<float>::infinity() : normal(random); break;  // masked
          case 4: logits[t] = random() % 5 ? normal(random) : std::numeric_limits<float>::quiet_NaN(); break;  // NaN
          default: logits[t] = std::round(normal(random)); break;                        // few distinct values
        }
      }
      logits[vocab] = 1.0e30f;  // padding with a huge logit must not be chosen
      bool any = false;
      for (std::uint32_t t = 0; t < vocab; ++t) any = any || logits[t] > -std::numeric_limits<float>::infinity();
      const std::uint64_t seed = random();
      if (!any) {
        EXPECT_THROW(scheme.choose_token(seed, logits), Error);
        continue;
      }
      ASSERT_EQ(scheme.choose_token(seed, logits), reference_choice(scheme, seed, logits))
          << "vocab " << vocab << " row " << row << " kind " << kind;
    }
  }
}

TEST(GumbelFullRow, InfiniteLogitsFollowTheDefinition) {
  const GumbelMaxScheme scheme(WatermarkKey::generate(testing::gumbel_params(1, 100)));
  std::vector<float> logits(100, 0.0f);
  logits[40] = std::numeric_limits<float>::infinity();
  logits[70] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(scheme.choose_token(9, logits), 40u) << "the first +infinity, as the definition's loop picks";
}

}  // namespace
}  // namespace tracemark
