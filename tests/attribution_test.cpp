// Attribution over a keyring's labels: verdicts from hand-made scan results (each test can fail),
// and the plain-words reading of "no evidence under B".
#include "tracemark/verify/attribution.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "tracemark/error.hpp"
#include "tracemark/verify/holm.hpp"
#include "tracemark/verify/interval.hpp"

namespace tracemark {
namespace {

constexpr double kGamma = 0.25;

// Results for labels with these (green, scored) counts, Holm-corrected across them as the scan does.
std::vector<KeyScanResult> results_for(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& counts) {
  std::vector<KeyScanResult> results;
  std::vector<double> log_p;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    KeyScanResult r;
    r.key_id = "tmk_" + std::to_string(i);
    r.counts.green = counts[i].first;
    r.counts.scored = counts[i].second;
    r.test = binomial_test(r.counts.green, r.counts.scored, kGamma);
    r.green_rate = r.counts.scored ? static_cast<double>(r.counts.green) / static_cast<double>(r.counts.scored) : 0;
    r.effect = r.green_rate - kGamma;
    const RateInterval rate = clopper_pearson_interval(r.counts.green, r.counts.scored, 0.95);
    r.effect_interval = {rate.lower - kGamma, rate.upper - kGamma};
    r.further_tokens_needed = std::nullopt;
    log_p.push_back(r.test.log_p);
    results.push_back(r);
  }
  const std::vector<double> adjusted = holm_adjust_log_p(log_p);
  for (std::size_t i = 0; i < results.size(); ++i) results[i].holm_log10_p = adjusted[i] / std::log(10.0);
  return results;
}

const std::vector<std::string> kLabels = {"cohort:a", "cohort:b", "model:v2"};

TEST(Attribution, StrongEffectUnderOneLabelIsAttributedToIt) {
  const auto results = results_for({{4000, 10000}, {2520, 10000}, {2490, 10000}});
  const Attribution a = attribute(kLabels, results, kGamma, 1e-6);
  ASSERT_EQ(a.verdict, AttributionVerdict::single);
  EXPECT_EQ(a.labels[*a.attributed].label, "cohort:a");
  EXPECT_TRUE(a.labels[0].detected);
  EXPECT_FALSE(a.labels[1].detected);
  EXPECT_EQ(a.comparisons.size(), 6u);
  const std::string text = attribution_text(a);
  EXPECT_NE(text.find("Verdict: attributed to cohort:a."), std::string::npos) << text;
  // The plain words for B: what the interval still allows and what would have been detected.
  EXPECT_NE(text.find("No evidence under cohort:b means: with these 10000 tuples, effects up to +"), std::string::npos) << text;
  EXPECT_NE(text.find("is not ruled out"), std::string::npos);
  EXPECT_GT(a.labels[1].minimum_detectable_effect, 0.0);
  EXPECT_LT(a.labels[1].minimum_detectable_effect, 0.15);
  EXPECT_EQ(attribution_json(a)["attributed_to"], "cohort:a");
}

TEST(Attribution, CleanTextIsAttributedToNone) {
  const auto results = results_for({{2510, 10000}, {2470, 10000}, {2530, 10000}});
  const Attribution a = attribute(kLabels, results, kGamma, 1e-6);
  EXPECT_EQ(a.verdict, AttributionVerdict::none);
  EXPECT_FALSE(a.attributed);
  EXPECT_NE(attribution_text(a).find("Verdict: attributed to none"), std::string::npos);
  EXPECT_TRUE(attribution_json(a)["attributed_to"].is_null());
}

TEST(Attribution, TwoEqualEffectsAreAmbiguousNotAttributed) {
  // Learned from both A and B about equally: both detected, neither shown larger than the other.
  const auto results = results_for({{3500, 10000}, {3480, 10000}, {2500, 10000}});
  const Attribution a = attribute(kLabels, results, kGamma, 1e-6);
  EXPECT_EQ(a.verdict, AttributionVerdict::ambiguous);
  EXPECT_TRUE(a.labels[0].detected && a.labels[1].detected);
  const std::string text = attribution_text(a);
  EXPECT_NE(text.find("not attributable to a single label"), std::string::npos);
  EXPECT_NE(text.find("shown: cohort:a above model:v2"), std::string::npos) << text;
}

TEST(Attribution, DetectedButTooFewTuplesToSeparateIsAmbiguous) {
  // A is detected, but B's sample is too small for "A above B" to reach 1e-6.
  const auto results = results_for({{4000, 10000}, {12, 30}, {2500, 10000}});
  const Attribution a = attribute(kLabels, results, kGamma, 1e-6);
  EXPECT_EQ(a.verdict, AttributionVerdict::ambiguous);
}

TEST(Attribution, RefusesMismatchedInput) {
  const auto results = results_for({{1, 10}});
  EXPECT_THROW(attribute(kLabels, results, kGamma, 1e-6), Error);
  const std::vector<std::string> one = {"cohort:a"};
  EXPECT_THROW(attribute(one, results, kGamma, 0.0), Error);
}

}  // namespace
}  // namespace tracemark
