// The fast full-vocabulary Gumbel-max choice (embed/src/gumbel_full_row.hpp) against its definition:
// the single-precision approximation of -ln(-ln r) stays well inside the error the exact second pass
// allows, over random draws and the extremes of r; and the choice equals the definition's double
// loop on rows of every kind (ordinary, tied, huge, masked, NaN, padded, peaked), for version 1's
// two passes and version 2's screen (embed/src/gumbel_screen.hpp), whose bound is checked too.
#include "gumbel_full_row.hpp"
#include "gumbel_screen.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
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

class GumbelFullRowVersions : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(GumbelFullRowVersions, ChoiceEqualsTheDefinitionOnRowsOfEveryKind) {
  std::mt19937_64 random(testing::announce_seed(6 + GetParam()));
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (std::uint32_t vocab : {1u, 7u, 1000u, 50257u}) {
    const GumbelMaxScheme scheme(WatermarkKey::generate(testing::gumbel_params(1, vocab, GetParam())));
    const int rows = vocab > 10000 ? 300 : 3000;
    for (int row = 0; row < rows; ++row) {
      std::vector<float> logits(vocab + 5);  // 5 padding columns, never chosen
      const int kind = row % 8;
      for (std::uint32_t t = 0; t < logits.size(); ++t) {
        switch (kind) {
          case 0: logits[t] = normal(random); break;                                    // ordinary
          case 1: logits[t] = 0.0f; break;                                              // all tied
          case 2: logits[t] = 1.0e6f + normal(random); break;                           // huge: coarse float grid
          case 3: logits[t] = random() % 4 ? -std::numeric_limits<float>::infinity() : normal(random); break;  // masked
          case 4: logits[t] = random() % 5 ? normal(random) : std::numeric_limits<float>::quiet_NaN(); break;  // NaN
          case 5: logits[t] = 5.0f * normal(random); break;                              // peaked, like a model's row
          case 6: logits[t] = -1.0e5f + 0.01f * normal(random); break;                   // nearly flat, far from 0
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

TEST_P(GumbelFullRowVersions, InfiniteLogitsFollowTheDefinition) {
  const GumbelMaxScheme scheme(WatermarkKey::generate(testing::gumbel_params(1, 100, GetParam())));
  std::vector<float> logits(100, 0.0f);
  logits[40] = std::numeric_limits<float>::infinity();
  logits[70] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(scheme.choose_token(9, logits), 40u) << "the first +infinity, as the definition's loop picks";
}

INSTANTIATE_TEST_SUITE_P(Versions, GumbelFullRowVersions, ::testing::Values(1u, 2u));

// Version 2's screen (gumbel_screen.hpp): the bound from k's exponent is never below -ln(-ln r) (by
// more than the float rounding the margin covers), and it is tight where it matters (r near 1,
// where the key is large), so few ids pass the screen.
TEST(GumbelScreen, BoundIsNeverBelowTheExactValueAndTightNearOne) {
  std::vector<std::uint32_t> draws = {0u, 1u, 2u, 3u, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu};
  for (int shift = 0; shift < 32; ++shift) {
    draws.push_back(1u << shift);
    draws.push_back(~(1u << shift));
    draws.push_back(0xffffffffu - ((1u << shift) - 1));
  }
  std::mt19937 random(static_cast<std::mt19937::result_type>(testing::announce_seed(8)));
  for (int i = 0; i < 10'000'000; ++i) draws.push_back(static_cast<std::uint32_t>(random()));
  double worst_below = 0, worst_slack_near_one = 0;
  for (std::uint32_t k : draws) {
    const double exact = -std::log(-std::log(GumbelMaxScheme::unit_interval_v2(k)));
    const double bound = gumbel_detail::bound_v2(k);
    worst_below = std::max(worst_below, exact - bound);
    // r > 0.996, but not the last 256 values of k (probability 2^-24), where dropping ~k's lowest
    // bit costs up to 0.56 and the two largest, whose (~k) >> 1 is 0, get the loose bound 109.
    if (k >= 0xff000000u && k <= 0xffffff00u) worst_slack_near_one = std::max(worst_slack_near_one, bound - exact);
  }
  std::cout << "[ bound ] below the exact value by at most " << worst_below << "; slack near r = 1 at most "
            << worst_slack_near_one << "\n";
  EXPECT_LT(worst_below, 1e-5) << "the choice's margin (1e-4) must cover it";
  EXPECT_LT(worst_slack_near_one, 0.1) << "a loose bound lets too many ids through the screen";
}

TEST(GumbelScreen, FirstLargestIsTheFirstIndexOfTheMaximum) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> row(37, 1.0f);
  EXPECT_EQ(gumbel_detail::first_largest(row.data(), row.size()), 0u);
  row[20] = 2.0f;
  row[29] = 2.0f;
  row[3] = nan;
  EXPECT_EQ(gumbel_detail::first_largest(row.data(), row.size()), 20u);
  row[36] = 3.0f;  // in the tail after the last block of eight
  EXPECT_EQ(gumbel_detail::first_largest(row.data(), row.size()), 36u);
  std::vector<float> masked(19, -inf);
  masked[5] = nan;
  EXPECT_EQ(gumbel_detail::first_largest(masked.data(), masked.size()), masked.size()) << "nothing to choose";
}

// Version 2's score is the lower end of r's cell: never above -ln(1 - r) and still mean 1 to within
// the sampling error, so the Gamma(n, 1) tail stays valid and loses nothing measurable.
TEST(GumbelScreen, VersionTwoScoreIsTheCellsLowerEndWithMeanOne) {
  const GumbelMaxScheme scheme(WatermarkKey::generate(testing::gumbel_params(2, 5000, 2)));
  std::mt19937_64 random(testing::announce_seed(9));
  double sum = 0;
  const int n = 1'000'000;
  for (int i = 0; i < n; ++i) {
    const std::uint64_t seed = random();
    const auto token = static_cast<std::uint32_t>(random() % 5000);
    const double score = scheme.score(seed, token);
    ASSERT_LE(score, -std::log1p(-scheme.uniform(seed, token)));
    ASSERT_GE(score, 0.0);
    sum += score;
  }
  EXPECT_NEAR(sum / n, 1.0, 0.005);  // 5 standard errors
}

}  // namespace
}  // namespace tracemark
