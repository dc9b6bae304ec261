// The synthid-tournament scheme: the closed form against an explicit tournament enumerated exactly
// (and against simulated tournaments), distortion-freeness in expectation over keys, the full-row and
// candidate paths, the sampler's repeated-context rule, key files and refusals, and detection:
// calibrated on null text with 400 fresh keys, powerful on sampled text, dedup as the other schemes.
// Every randomised test uses a fixed seed, printed in its comment.
#include "tracemark/embed/tournament_scheme.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "refmodel_test_support.hpp"
#include "test_support.hpp"
#include "tracemark/embed/scheme_catalog.hpp"
#include "tracemark/embed/tournament_sampler.hpp"
#include "tracemark/error.hpp"
#include "tracemark/refmodel/synthetic_model.hpp"
#include "tracemark/verify/distillation_scan.hpp"
#include "tracemark/verify/tournament_detector.hpp"

namespace tracemark {
namespace {

using testing::sample;

using testing::gumbel_params;

using testing::tournament_params;

using testing::golden_key;
using testing::params_with;



std::vector<double> softmax(std::span<const Candidate> candidates) {
  std::vector<double> p;
  double total = 0;
  for (const Candidate& c : candidates) {
    p.push_back(std::exp(static_cast<double>(c.logit)));
    total += p.back();
  }
  for (double& x : p) x /= total;
  return p;
}

// The explicit tournament, enumerated exactly: every assignment of the 2^m leaves to candidates
// (independent draws from p_0), each match won by the higher g_l and a tie split 1/2 : 1/2. Returns
// the winner's distribution over candidate indices. A deliberately simple reference (re2's rule).
std::vector<double> enumerated_tournament(const TournamentScheme& scheme, std::uint64_t seed,
                                          std::span<const Candidate> candidates) {
  const std::size_t v = candidates.size();
  const std::uint32_t m = scheme.layers();
  const std::size_t leaves = std::size_t{1} << m;
  const std::vector<double> p0 = softmax(candidates);
  std::vector<double> winner(v, 0.0);
  std::vector<std::size_t> leaf(leaves, 0);
  // Winner distribution (over candidate indices) of the subtree of `count` leaves starting at `first`,
  // whose matches are at layers 0 .. level-1.
  std::function<std::vector<double>(std::size_t, std::size_t, std::uint32_t)> play =
      [&](std::size_t first, std::size_t count, std::uint32_t level) -> std::vector<double> {
    std::vector<double> out(v, 0.0);
    if (count == 1) {
      out[leaf[first]] = 1.0;
      return out;
    }
    const std::vector<double> left = play(first, count / 2, level - 1);
    const std::vector<double> right = play(first + count / 2, count / 2, level - 1);
    const std::uint32_t layer = level - 1;
    for (std::size_t a = 0; a < v; ++a) {
      for (std::size_t b = 0; b < v; ++b) {
        const double both = left[a] * right[b];
        if (both == 0) continue;
        const int ga = static_cast<int>((scheme.g_values(seed, candidates[a].id) >> layer) & 1);
        const int gb = static_cast<int>((scheme.g_values(seed, candidates[b].id) >> layer) & 1);
        if (ga > gb) {
          out[a] += both;
        } else if (gb > ga) {
          out[b] += both;
        } else {
          out[a] += both / 2;
          out[b] += both / 2;
        }
      }
    }
    return out;
  };
  // Every leaf assignment, in base v.
  std::size_t assignments = 1;
  for (std::size_t i = 0; i < leaves; ++i) assignments *= v;
  for (std::size_t code = 0; code < assignments; ++code) {
    std::size_t rest = code;
    double probability = 1;
    for (std::size_t i = 0; i < leaves; ++i) {
      leaf[i] = rest % v;
      rest /= v;
      probability *= p0[leaf[i]];
    }
    const std::vector<double> w = play(0, leaves, m);
    for (std::size_t x = 0; x < v; ++x) winner[x] += probability * w[x];
  }
  return winner;
}

TEST(Tournament, MatchesGoldenVectors) {
  // Computed outside tracemark (tests/golden/make_prf_vectors.py, Python's `cryptography`): context
  // seeds, the 30 g-values and their count per tuple, and p_m on six candidates for m = 1, 3, 30
  // by the per-layer recursion in 100-digit decimals (from the same double p_0). With 30 layers
  // nearly all the mass goes to one candidate and the others keep probabilities from 1e-34 down to
  // 1e-59: those must still be right to 1e-12 relative (1 - G is never computed by cancellation).
  const nlohmann::json golden = testing::load_golden("prf_vectors.json")["synthid_tournament_v1"];
  const TournamentScheme scheme(golden_key(tournament_params(2, 50257, 30)));
  for (const auto& row : golden["contexts"]) {
    const std::vector<std::uint32_t> context = row["context"].get<std::vector<std::uint32_t>>();
    const std::uint64_t seed = scheme.context_seed(context);
    EXPECT_EQ(seed, std::stoull(row["seed"].get<std::string>(), nullptr, 16));
    for (const auto& token : row["tokens"]) {
      const std::uint32_t id = token[0].get<std::uint32_t>();
      EXPECT_EQ(scheme.g_values(seed, id), std::stoull(token[1].get<std::string>(), nullptr, 16)) << "token " << id;
      EXPECT_EQ(scheme.score(seed, id), token[2].get<std::uint32_t>()) << "token " << id;
    }
  }
  const auto& final = golden["final_distribution"];
  std::vector<Candidate> candidates;
  for (const auto& c : final["candidates"]) candidates.push_back({c[0].get<std::uint32_t>(), c[1].get<float>()});
  const std::vector<std::uint32_t> context = final["context"].get<std::vector<std::uint32_t>>();
  for (const auto& [layers, expected] : final["p_by_layers"].items()) {
    const TournamentScheme with_layers(golden_key(tournament_params(2, 50257, static_cast<std::uint32_t>(std::stoul(layers)))));
    const std::vector<double> p = with_layers.final_distribution(with_layers.context_seed(context), candidates);
    for (std::size_t x = 0; x < candidates.size(); ++x) {
      const double want = std::strtod(expected[x].get<std::string>().c_str(), nullptr);
      EXPECT_NEAR(p[x], want, 1e-12 * want + 1e-300) << "layers " << layers << " candidate " << x;
    }
  }
}

TEST(Tournament, ClosedFormEqualsTheEnumeratedTournament) {
  // Up to 3 layers (8 leaves) over 4 candidates: 4^8 leaf assignments, exactly; under two keys,
  // 30 contexts each for 1 and 2 layers and 4 for 3 layers (the enumeration is slow on purpose).
  const std::vector<Candidate> candidates = {{7, 0.3f}, {2, -0.4f}, {11, 1.1f}, {5, 0.0f}};
  for (std::uint32_t layers : {1u, 2u, 3u}) {
    for (int k = 0; k < 2; ++k) {
      SchemeParams params = tournament_params(1, 16, layers);
      const TournamentScheme scheme(k == 0 ? golden_key(params) : WatermarkKey::generate(params));
      for (std::uint32_t c = 0; c < (layers == 3 ? 4u : 30u); ++c) {
        const std::uint32_t context[] = {c};
        const std::uint64_t seed = scheme.context_seed(context);
        const std::vector<double> closed = scheme.final_distribution(seed, candidates);
        const std::vector<double> exact = enumerated_tournament(scheme, seed, candidates);
        for (std::size_t x = 0; x < candidates.size(); ++x) {
          EXPECT_NEAR(closed[x], exact[x], 1e-12) << "layers " << layers << " key " << k << " context " << c << " x " << x;
        }
      }
    }
  }
}

// The closed form one layer at a time, straight from its definition (the scheme goes in blocks of
// layers through histograms; both must agree).
std::vector<double> per_layer_recursion(const TournamentScheme& scheme, std::uint64_t seed,
                                        std::span<const Candidate> candidates) {
  std::vector<double> p = softmax(candidates);
  for (std::uint32_t l = 0; l < scheme.layers(); ++l) {
    double mean_g = 0;
    for (std::size_t x = 0; x < p.size(); ++x) mean_g += p[x] * static_cast<double>((scheme.g_values(seed, candidates[x].id) >> l) & 1);
    for (std::size_t x = 0; x < p.size(); ++x) {
      p[x] *= 1.0 + static_cast<double>((scheme.g_values(seed, candidates[x].id) >> l) & 1) - mean_g;
    }
  }
  return p;
}

TEST(Tournament, BlockedFormEqualsThePerLayerRecursionForEveryLayerCount) {
  // Rows of 20, 300 and 5000 candidates (blocks of 1, 4 and 8 layers) with spread logits; layer
  // counts that fill blocks exactly, end inside one, and use all 64 bits.
  std::mt19937 random(30);  // fixed seed: 30
  for (std::uint32_t size : {20u, 300u, 5000u})
  for (std::uint32_t layers : {1u, 2u, 3u, 4u, 5u, 7u, 8u, 9u, 16u, 17u, 30u, 56u, 57u, 63u, 64u}) {
    std::vector<Candidate> candidates;
    for (std::uint32_t t = 0; t < size; ++t) {
      candidates.push_back({t * 3 + 1, static_cast<float>(random() % 2000) / 250.0f - 4.0f});
    }
    const TournamentScheme scheme(golden_key(tournament_params(2, 16000, layers)));
    for (std::uint32_t c = 0; c < 3; ++c) {
      const std::uint32_t context[] = {c, 7};
      const std::uint64_t seed = scheme.context_seed(context);
      const std::vector<double> blocked = scheme.final_distribution(seed, candidates);
      const std::vector<double> reference = per_layer_recursion(scheme, seed, candidates);
      double total = 0;
      for (std::size_t x = 0; x < candidates.size(); ++x) {
        total += blocked[x];
        ASSERT_NEAR(blocked[x], reference[x], 1e-12 * std::max(1e-3, reference[x]) + 1e-300)
            << "size " << size << " layers " << layers << " context " << c << " candidate " << x;
      }
      EXPECT_NEAR(total, 1.0, 1e-12);
    }
  }
}

TEST(Tournament, KeyedDrawsFollowTheClosedFormAndSimulatedTournaments) {
  // Chi-square of 40000 keyed draws against p_m (one context), and of 40000 simulated explicit
  // tournaments (random leaves, random tie breaks) against the same p_m. 5 candidates, 4 df:
  // chi-square above 25 has probability 5e-5. Fixed seeds: 18 and 1818.
  const TournamentScheme scheme(golden_key(tournament_params(1, 10, 4)));
  const std::vector<Candidate> candidates = {{0, 0.5f}, {3, 0.0f}, {9, -0.7f}, {4, 1.0f}, {6, 0.2f}};
  const std::uint32_t context[] = {42};
  const std::uint64_t seed = scheme.context_seed(context);
  const std::vector<double> pm = scheme.final_distribution(seed, candidates);
  const std::vector<double> p0 = softmax(candidates);
  const std::size_t n = 40000;
  auto chi_square = [&](const std::vector<std::size_t>& counts) {
    double chi = 0;
    for (std::size_t x = 0; x < pm.size(); ++x) {
      const double expected = static_cast<double>(n) * pm[x];
      chi += (static_cast<double>(counts[x]) - expected) * (static_cast<double>(counts[x]) - expected) / expected;
    }
    return chi;
  };
  std::mt19937_64 random(18);
  TournamentScheme::Workspace workspace;
  std::vector<std::size_t> drawn(candidates.size());
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t id = scheme.choose_candidate(seed, candidates, random, workspace);
    const auto at = std::find_if(candidates.begin(), candidates.end(), [&](const Candidate& c) { return c.id == id; });
    ++drawn[static_cast<std::size_t>(at - candidates.begin())];
  }
  EXPECT_LT(chi_square(drawn), 25.0);
  std::mt19937_64 simulation(1818);
  std::discrete_distribution<std::size_t> leaf_draw(p0.begin(), p0.end());
  std::vector<std::size_t> simulated(candidates.size());
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::size_t> round(16);
    for (auto& leaf : round) leaf = leaf_draw(simulation);
    for (std::uint32_t layer = 0; round.size() > 1; ++layer) {
      std::vector<std::size_t> next;
      for (std::size_t j = 0; j < round.size(); j += 2) {
        const auto g = [&](std::size_t x) { return (scheme.g_values(seed, candidates[x].id) >> layer) & 1; };
        const std::size_t a = round[j], b = round[j + 1];
        next.push_back(g(a) > g(b) ? a : g(b) > g(a) ? b : (simulation() & 1 ? a : b));
      }
      round = next;
    }
    ++simulated[round[0]];
  }
  EXPECT_LT(chi_square(simulated), 25.0);
  // The watermark moves probability: for this context p_m differs from p_0.
  double moved = 0;
  for (std::size_t x = 0; x < pm.size(); ++x) moved += std::abs(pm[x] - p0[x]);
  EXPECT_GT(moved, 0.01);
}

TEST(Tournament, DistortionFreeInExpectationOverKeys) {
  // Averaged over 20000 independent context seeds of one key, and over 3000 fresh keys, p_m equals
  // p_0: each coordinate within 5 standard errors. And the keyed draw
  // itself (key and request randomness together) follows the softmax: counts within 5 sd.
  const TournamentScheme scheme(golden_key(tournament_params(1, 6, 30)));
  const std::vector<Candidate> candidates = {{0, 1.5f}, {1, 0.0f}, {2, -1.0f}, {3, 2.2f}, {4, -3.0f}};
  const std::vector<double> p0 = softmax(candidates);
  const std::size_t n = 20000;
  std::vector<double> sum(p0.size(), 0.0), sum_sq(p0.size(), 0.0);
  for (std::uint32_t c = 0; c < n; ++c) {
    const std::uint32_t context[] = {c};
    const std::vector<double> pm = scheme.final_distribution(scheme.context_seed(context), candidates);
    for (std::size_t x = 0; x < pm.size(); ++x) {
      sum[x] += pm[x];
      sum_sq[x] += pm[x] * pm[x];
    }
  }
  for (std::size_t x = 0; x < p0.size(); ++x) {
    const double mean = sum[x] / n;
    const double se = std::sqrt((sum_sq[x] / n - mean * mean) / n);
    EXPECT_NEAR(mean, p0[x], 5 * se + 1e-12) << "token " << x << " (se " << se << ")";
  }
  // The same over 3000 fresh keys (one context each): the law over keys itself.
  std::vector<double> key_sum(p0.size(), 0.0), key_sum_sq(p0.size(), 0.0);
  const std::size_t fresh_keys = 3000;
  for (std::size_t k = 0; k < fresh_keys; ++k) {
    const TournamentScheme fresh(WatermarkKey::generate(tournament_params(1, 6, 30)));
    const std::uint32_t context[] = {0};
    const std::vector<double> pm = fresh.final_distribution(fresh.context_seed(context), candidates);
    for (std::size_t x = 0; x < pm.size(); ++x) {
      key_sum[x] += pm[x];
      key_sum_sq[x] += pm[x] * pm[x];
    }
  }
  for (std::size_t x = 0; x < p0.size(); ++x) {
    const double mean = key_sum[x] / fresh_keys;
    const double se = std::sqrt((key_sum_sq[x] / fresh_keys - mean * mean) / fresh_keys);
    EXPECT_NEAR(mean, p0[x], 5 * se + 1e-12) << "fresh keys, token " << x << " (se " << se << ")";
  }
  std::vector<float> logits = {1.5f, 0.0f, -1.0f, 2.2f, -3.0f, -std::numeric_limits<float>::infinity()};
  std::mt19937_64 random(5);  // fixed seed: 5
  TournamentScheme::Workspace workspace;
  std::vector<std::size_t> counts(6);
  const std::size_t draws = 40000;
  for (std::uint32_t c = 0; c < draws; ++c) {
    const std::uint32_t context[] = {c};
    ++counts.at(scheme.choose_token(scheme.context_seed(context), logits, random, workspace));
  }
  EXPECT_EQ(counts[5], 0u) << "a masked token is never chosen";
  for (std::size_t x = 0; x < p0.size(); ++x) {
    const double sd = std::sqrt(draws * p0[x] * (1 - p0[x]));
    EXPECT_NEAR(static_cast<double>(counts[x]), draws * p0[x], 5 * sd + 1) << "token " << x;
  }
}

TEST(Tournament, FullRowAndCandidatePathsAgreeAndRefuseBadInput) {
  const TournamentScheme scheme(golden_key(tournament_params(2, 50, 30)));
  std::vector<float> logits(50);
  std::mt19937 setup(3);  // fixed seed: 3
  for (float& logit : logits) logit = static_cast<float>(setup() % 1000) / 200.0f - 2.5f;
  logits[7] = -std::numeric_limits<float>::infinity();
  std::vector<Candidate> candidates;
  for (std::uint32_t t = 0; t < 50; ++t) candidates.push_back({t, logits[t]});
  std::vector<float> padded = logits;
  padded.resize(64, 100.0f);  // padding columns with huge logits: never chosen
  TournamentScheme::Workspace workspace;
  std::size_t differ = 0;
  for (std::uint32_t c = 0; c < 500; ++c) {
    const std::uint32_t context[] = {c, c + 1};
    const std::uint64_t seed = scheme.context_seed(context);
    std::mt19937_64 a(c), b(c), d(c);
    const std::uint32_t row = scheme.choose_token(seed, logits, a, workspace);
    differ += row != scheme.choose_candidate(seed, candidates, b, workspace);
    differ += row != scheme.choose_token(seed, padded, d, workspace);
    EXPECT_NE(row, 7u);
  }
  EXPECT_EQ(differ, 0u) << "the candidate and padded paths must pick what the full row picks";
  // Candidate order does not change the distribution (tokens are looked up by id).
  std::vector<Candidate> shuffled = candidates;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(9));  // fixed seed: 9
  const std::uint32_t context[] = {1, 2};
  const std::uint64_t seed = scheme.context_seed(context);
  const std::vector<double> in_order = scheme.final_distribution(seed, candidates);
  const std::vector<double> out_of_order = scheme.final_distribution(seed, shuffled);
  for (std::size_t i = 0; i < shuffled.size(); ++i) {
    EXPECT_NEAR(out_of_order[i], in_order[shuffled[i].id], 1e-14);
  }
  std::mt19937_64 random(1);
  EXPECT_THROW(scheme.choose_token(1, std::vector<float>(49, 0.0f), random, workspace), Error) << "short row";
  EXPECT_THROW(scheme.choose_candidate(1, std::vector<Candidate>{{50, 0.0f}}, random, workspace), Error) << "id";
  EXPECT_THROW(scheme.choose_candidate(1, std::vector<Candidate>{}, random, workspace), Error) << "nothing to choose";
  EXPECT_THROW(scheme.choose_token(1, std::vector<float>(50, -std::numeric_limits<float>::infinity()), random, workspace),
               Error);
  EXPECT_THROW(scheme.choose_token_unkeyed(random, std::vector<float>(50, std::nanf("")), workspace), Error);
  // 64 layers: every bit of u is a g-value.
  const TournamentScheme wide(golden_key(tournament_params(2, 50, 64)));
  const std::vector<double> p64 = wide.final_distribution(seed, candidates);
  double total = 0;
  for (double p : p64) total += p;
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_EQ(p64[7], 0.0);
}

TEST(Tournament, UnkeyedDrawsSampleTheSoftmax) {
  const TournamentScheme scheme(golden_key(tournament_params(1, 5, 30)));
  const std::vector<float> logits = {1.5f, 0.0f, -1.0f, 2.2f, -3.0f};
  const std::vector<Candidate> candidates = {{3, 2.2f}, {0, 1.5f}, {4, -3.0f}, {2, -1.0f}, {1, 0.0f}};
  std::vector<Candidate> in_order;
  for (std::uint32_t t = 0; t < 5; ++t) in_order.push_back({t, logits[t]});
  const std::vector<double> p0 = softmax(in_order);
  std::mt19937_64 random(7);  // fixed seed: 7
  TournamentScheme::Workspace workspace;
  const std::size_t n = 40000;
  std::vector<std::size_t> row(5), listed(5);
  for (std::size_t i = 0; i < n; ++i) {
    ++row.at(scheme.choose_token_unkeyed(random, logits, workspace));
    ++listed.at(scheme.choose_candidate_unkeyed(random, candidates, workspace));
  }
  for (std::size_t t = 0; t < 5; ++t) {
    const double sd = std::sqrt(n * p0[t] * (1 - p0[t]));
    EXPECT_NEAR(static_cast<double>(row[t]), n * p0[t], 5 * sd + 1) << "row token " << t;
    EXPECT_NEAR(static_cast<double>(listed[t]), n * p0[t], 5 * sd + 1) << "candidate token " << t;
  }
}

TEST(Tournament, GValuesAreFairIndependentBitsPerLayer) {
  // Over 20000 tuples of one key: each layer's bit is 1 about half the time, and two layers agree
  // about half the time (independence of layers), within 5 sd (sd = sqrt(n / 4) = 71).
  const TournamentScheme scheme(golden_key(tournament_params(2, 1000, 64)));
  std::mt19937 random(64);  // fixed seed: 64
  const std::size_t n = 20000;
  std::array<std::size_t, 64> ones{};
  std::size_t agree_0_1 = 0, agree_5_40 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t context[] = {static_cast<std::uint32_t>(random() % 1000), static_cast<std::uint32_t>(random() % 1000)};
    const std::uint64_t g = scheme.g_values(scheme.context_seed(context), random() % 1000);
    for (unsigned l = 0; l < 64; ++l) ones[l] += (g >> l) & 1;
    agree_0_1 += ((g >> 0) & 1) == ((g >> 1) & 1);
    agree_5_40 += ((g >> 5) & 1) == ((g >> 40) & 1);
  }
  for (unsigned l = 0; l < 64; ++l) EXPECT_NEAR(static_cast<double>(ones[l]), n / 2.0, 5 * 71.0) << "layer " << l;
  EXPECT_NEAR(static_cast<double>(agree_0_1), n / 2.0, 5 * 71.0);
  EXPECT_NEAR(static_cast<double>(agree_5_40), n / 2.0, 5 * 71.0);
  // m layers keep only bits 0 .. m-1.
  const TournamentScheme narrow(golden_key(tournament_params(2, 1000, 30)));
  const std::uint32_t context[] = {1, 2};
  const std::uint64_t seed = narrow.context_seed(context);
  EXPECT_EQ(narrow.g_values(seed, 5) >> 30, 0u);
  EXPECT_EQ(narrow.score(seed, 5), static_cast<std::uint32_t>(std::popcount(narrow.g_values(seed, 5))));
}

TEST(Tournament, SamplerKeysOnlyTheFirstOccurrenceOfAContext) {
  auto scheme = std::make_shared<const TournamentScheme>(golden_key(tournament_params(1, 3, 30)));
  TournamentSampler sampler(scheme);
  const std::uint32_t prompt[] = {0};
  sampler.reset(prompt, 1);
  EXPECT_TRUE(sampler.will_key()) << "the prompt's context is not a repeat";
  EXPECT_EQ(sampler.current_seed(), scheme->context_seed(prompt));
  const std::vector<float> logits = {0.0f, 0.0f, 0.0f};
  std::mt19937_64 same_stream(1);
  TournamentScheme::Workspace workspace;
  EXPECT_EQ(sampler.choose(std::span<const float>(logits)),
            scheme->choose_token(scheme->context_seed(prompt), logits, same_stream, workspace))
      << "a keyed step is the tournament's draw with the request's stream";
  sampler.accept(0);  // context {0} again: drawn from the softmax with the request's stream
  EXPECT_FALSE(sampler.will_key());
  TournamentSampler other(scheme);
  other.reset(prompt, 2);
  other.accept(0);
  std::size_t differ = 0;
  for (int i = 0; i < 40; ++i) {
    differ += sampler.choose(std::span<const float>(logits)) != other.choose(std::span<const float>(logits));
  }
  EXPECT_GT(differ, 0u) << "unkeyed steps follow the request seed";
  sampler.accept(1);
  EXPECT_TRUE(sampler.will_key()) << "context {1} is new";
  const std::vector<Candidate> candidates = {{2, 0.0f}, {1, 0.0f}};
  const std::uint32_t chosen = sampler.choose(std::span<const Candidate>(candidates));
  EXPECT_TRUE(chosen == 1 || chosen == 2);
}

TEST(Tournament, DetectionFindsSampledTextAndSkipsRepeatedContexts) {
  const SyntheticModel model({.vocab_size = 2000, .zipf_exponent = 1.2, .model_seed = 3});
  auto scheme = std::make_shared<const TournamentScheme>(golden_key(tournament_params(2, 2000, 30)));
  TournamentSampler sampler(scheme);
  const std::uint32_t prompt[] = {5, 9};
  const std::vector<std::uint32_t> response = sample(model, sampler, 200, 11, prompt);
  TournamentDetector detector(scheme);
  std::vector<std::uint32_t> document(prompt, prompt + 2);
  document.insert(document.end(), response.begin(), response.end());
  const TournamentScoreCounts counts = detector.add_document(document);
  EXPECT_EQ(counts.tokens, counts.skipped_prefix + counts.skipped_repeated_context + counts.skipped_repeated_tuple +
                               counts.scored);
  const BinomialTest test = detector.test(counts);
  EXPECT_EQ(test.scored, counts.scored * 30);
  EXPECT_EQ(test.log_p, log_binomial_upper_tail(counts.g_ones, counts.scored * 30, 0.5));
  EXPECT_GT(detector.mean_g(counts), 0.5);
  EXPECT_LT(test.log10_p, -6) << "scored " << counts.scored << " mean g " << detector.mean_g(counts);
  EXPECT_EQ(sample(model, sampler, 200, 11, prompt), response) << "same prompt and request seed: same response";
  EXPECT_NE(sample(model, sampler, 200, 12, prompt), response) << "another request seed: another response";
  // The looping document: the detector skips repeated contexts as the sampler left them unkeyed.
  const std::vector<std::uint32_t> looping = {1, 2, 3, 1, 2, 4, 1, 2, 3};
  TournamentDetector fresh(scheme);
  const TournamentScoreCounts loop_counts = fresh.add_document(looping);
  EXPECT_EQ(loop_counts.skipped_prefix, 2u);
  EXPECT_EQ(loop_counts.skipped_repeated_context, 2u);  // (1,2) at positions 5 and 8
  EXPECT_EQ(loop_counts.scored, 5u);
  // Pooled: the same document again adds no tuple.
  const TournamentScoreCounts again = fresh.add_document(looping);
  EXPECT_EQ(again.scored, 5u) << "per document, scored again";
  EXPECT_EQ(fresh.pooled().scored, 5u) << "pooled, each distinct tuple once";
  EXPECT_EQ(fresh.pooled().skipped_repeated_tuple, 5u);
  EXPECT_THROW(TournamentDetector(scheme).add_document(std::vector<std::uint32_t>{1, 2, 2000}), Error);
}

// Kolmogorov-Smirnov distance of sorted values from the uniform law on (0, 1).
double ks_uniform(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const double n = static_cast<double>(values.size());
  double d = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    d = std::max({d, static_cast<double>(i + 1) / n - values[i], values[i] - static_cast<double>(i) / n});
  }
  return d;
}

TEST(Tournament, DetectionIsCalibratedOnNullTextWithFreshKeys) {
  // 400 fresh keys, one null document each (uniform ids: independent of every key). Under the null
  // each p-value is uniform (up to the binomial's discreteness, which only makes it conservative):
  //   below 0.05 ~ Binomial(400, 0.05): [7, 36] holds it with probability 0.9995;
  //   below 0.01 ~ Binomial(400, 0.01): at most 12 with probability 0.9998 (P(X >= 13) = 1.6e-4);
  //   KS distance from uniform below 0.0975 (the 0.001 critical value 1.95 / sqrt(400)).
  std::mt19937 random(1818);  // fixed seed: 1818
  std::size_t below_005 = 0, below_001 = 0;
  std::vector<double> p_values;
  for (int k = 0; k < 400; ++k) {
    auto scheme = std::make_shared<const TournamentScheme>(WatermarkKey::generate(tournament_params(2, 1000, 30)));
    std::vector<std::uint32_t> document(150);
    for (auto& id : document) id = random() % 1000;
    TournamentDetector detector(scheme);
    const BinomialTest test = detector.test(detector.add_document(document));
    below_005 += test.p_value < 0.05;
    below_001 += test.p_value < 0.01;
    p_values.push_back(test.p_value);
  }
  EXPECT_GE(below_005, 7u);
  EXPECT_LE(below_005, 36u);
  EXPECT_LE(below_001, 12u);
  EXPECT_LT(ks_uniform(p_values), 0.0975);
}

TEST(Tournament, KeysAreRefusedByAnotherSchemesCodePath) {
  const WatermarkKey tournament = golden_key(tournament_params(2, 1000, 30));
  const WatermarkKey gumbel = golden_key(gumbel_params(2, 1000));
  const WatermarkKey green = golden_key(params_with(0.25, 2.0, 2, 1000, 3));
  auto expect_refused = [](auto make, const std::string& is, const std::string& needs) {
    try {
      make();
      ADD_FAILURE() << "accepted: " << is << " for " << needs;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
      const std::string message = e.what();
      EXPECT_NE(message.find("is a '" + is + "' key"), std::string::npos) << message;
      EXPECT_NE(message.find("needs a '" + needs + "' key"), std::string::npos) << message;
      EXPECT_EQ(message.find("000102"), std::string::npos) << "no secret in messages";
    }
  };
  expect_refused([&] { GreenListScheme s(tournament); }, "synthid-tournament", "kgw-green-list");
  expect_refused([&] { GumbelMaxScheme s(tournament); }, "synthid-tournament", "gumbel-max");
  expect_refused([&] { TournamentScheme s(green); }, "kgw-green-list", "synthid-tournament");
  expect_refused([&] { TournamentScheme s(gumbel); }, "gumbel-max", "synthid-tournament");
  EXPECT_EQ(scheme_kind("synthid-tournament"), SchemeKind::tournament);
  EXPECT_EQ(scheme_name(SchemeKind::tournament), "synthid-tournament");
  EXPECT_TRUE(uses_prf_context_seeds(tournament.params()));
  EXPECT_EQ(latest_scheme_version("synthid-tournament"), 1u);
}

TEST(Tournament, KeyFilesRoundTripAndBadFieldsAreRefused) {
  const testing::TemporaryFolder folder;
  const auto& directory = folder.path();
  const WatermarkKey key = WatermarkKey::generate(tournament_params(3, 500, 20));
  key.save(directory / "key.json", false);
  const WatermarkKey loaded = WatermarkKey::load(directory / "key.json");
  EXPECT_EQ(loaded.params(), key.params());
  EXPECT_EQ(loaded.params().tournament_layers, 20u);
  EXPECT_EQ(loaded.commitment_hex(), key.commitment_hex());
  const nlohmann::json description = nlohmann::json::parse(key.public_json());
  EXPECT_EQ(description["scheme"]["name"], "synthid-tournament");
  EXPECT_EQ(description["scheme"]["tournament_layers"], 20);
  EXPECT_FALSE(description["scheme"].contains("gamma"));
  EXPECT_FALSE(description["scheme"].contains("delta"));
  // The layers are committed: the same secret with other layers gives another commitment.
  SecretBytes secret{};
  const WatermarkKey a = WatermarkKey::from_secret(secret, tournament_params(2, 500, 20), "2026-01-01T00:00:00Z");
  const WatermarkKey b = WatermarkKey::from_secret(secret, tournament_params(2, 500, 21), "2026-01-01T00:00:00Z");
  EXPECT_NE(a.commitment_hex(), b.commitment_hex());
  // Keys of the other schemes carry no layers field (their files and commitments are unchanged).
  EXPECT_FALSE(nlohmann::json::parse(golden_key(gumbel_params(2, 500)).public_json())["scheme"].contains("tournament_layers"));
  EXPECT_FALSE(nlohmann::json::parse(golden_key(params_with(0.25, 2.0, 2, 500, 2)).public_json())["scheme"].contains(
      "tournament_layers"));

  nlohmann::json file = nlohmann::json::parse(key.public_json());
  file["secret"] = std::string(64, 'a');
  const auto refused = testing::expect_key_file_refused;
  nlohmann::json edited = file;
  edited["scheme"]["version"] = 2;
  refused(edited, "scheme version 2 of 'synthid-tournament' is not supported");
  edited = file;
  edited["scheme"]["tournament_layers"] = 0;
  refused(edited, "between 1 and 64 tournament layers (got 0)");
  edited["scheme"]["tournament_layers"] = 65;
  refused(edited, "between 1 and 64 tournament layers (got 65)");
  edited["scheme"]["tournament_layers"] = "30";
  refused(edited, "field 'scheme.tournament_layers' must be an unsigned 32-bit integer");
  edited["scheme"]["tournament_layers"] = -3;
  refused(edited, "field 'scheme.tournament_layers' must be an unsigned 32-bit integer");
  edited["scheme"].erase("tournament_layers");
  refused(edited, "field 'scheme.tournament_layers' is missing");
  edited = file;
  edited["scheme"]["gamma"] = 0.25;
  refused(edited, "field 'scheme.gamma' does not belong to a 'synthid-tournament' key");
  edited = file;
  edited["scheme"]["name"] = "gumbel-max";
  refused(edited, "field 'scheme.tournament_layers' does not belong to a 'gumbel-max' key");
  edited["scheme"]["name"] = "kgw-green-list";
  refused(edited, "field 'scheme.tournament_layers' does not belong to a 'kgw-green-list' key");
  edited["scheme"]["name"] = "synthid-tournament-2";
  refused(edited, "unknown scheme 'synthid-tournament-2'");
  // validate(): a context width of 0 would give every step one seed; layers on another scheme.
  EXPECT_THROW(tournament_params(0, 500, 30).validate(), Error);
  SchemeParams green = params_with(0.25, 2.0, 2, 500, 3);
  green.tournament_layers = 30;
  EXPECT_THROW(green.validate(), Error);
  SchemeParams with_gamma = tournament_params(2, 500, 30);
  with_gamma.gamma = 0.25;
  EXPECT_THROW(with_gamma.validate(), Error);
}

TEST(Tournament, DistillationScanScoresTournamentKeysBesideOtherSchemes) {
  // One scan: the tournament key that watermarked, a green-list v3 and a gumbel-max key that did
  // not. The same dedup and prompt rules; the exact binomial test of the g-values; Holm over all.
  const SyntheticModel model({.vocab_size = 2000, .zipf_exponent = 1.2, .model_seed = 4});
  auto tournament = std::make_shared<const TournamentScheme>(golden_key(tournament_params(2, 2000, 30)));
  auto green = std::make_shared<const GreenListScheme>(golden_key(params_with(0.25, 2.0, 2, 2000, 3)));
  auto gumbel = std::make_shared<const GumbelMaxScheme>(golden_key(gumbel_params(2, 2000)));
  DistillationScan scan({{"green", green, nullptr, 0.0},
                         {"gumbel", nullptr, nullptr, 0.0, gumbel},
                         {"tournament", nullptr, nullptr, 0.0, nullptr, tournament}});
  EXPECT_EQ(scan.group_count(), 1u) << "same width, threshold and filter: one dedup set";
  TournamentSampler sampler(tournament);
  std::vector<std::vector<std::uint32_t>> responses;
  for (std::uint32_t r = 0; r < 6; ++r) {
    const std::uint32_t prompt[] = {r, r + 1};
    responses.push_back(sample(model, sampler, 60, r, prompt));
    scan.add_response(responses.back(), prompt);
  }
  scan.add_response(responses.front(), {});  // a repeat: every tuple already scored
  const std::vector<KeyScanResult> results = scan.results({});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[2].scheme, SchemeKind::tournament);
  EXPECT_EQ(results[2].tournament_layers, 30u);
  EXPECT_EQ(results[0].counts.scored, results[2].counts.scored) << "the dedup never looks at the key";
  EXPECT_GE(results[2].counts.skipped_repeated_tuple, responses.front().size() - 2);
  const BinomialTest expected = tournament_test(results[2].counts.g_ones, results[2].counts.scored, 30);
  EXPECT_EQ(results[2].test.log_p, expected.log_p);
  EXPECT_LT(results[2].test.log10_p, -6);
  EXPECT_GT(results[0].test.log10_p, -4) << "the green-list key did not watermark this text";
  EXPECT_GT(results[1].test.log10_p, -4) << "the gumbel-max key did not watermark this text";
  EXPECT_LE(results[2].test.log10_p, results[2].holm_log10_p) << "Holm only raises p-values";
  EXPECT_NEAR(results[2].green_rate, tournament_mean_g(results[2].counts.g_ones, results[2].counts.scored, 30), 1e-15);
  // The batched count equals the definition summed over the distinct tuples, one at a time.
  std::set<std::array<std::uint32_t, 3>> seen;
  std::uint64_t ones = 0;
  for (const auto& response : responses) {
    for (std::size_t i = 2; i < response.size(); ++i) {
      if (!seen.insert({response[i - 2], response[i - 1], response[i]}).second) continue;
      ones += tournament->score(tournament->context_seed(std::span<const std::uint32_t>(response).subspan(i - 2, 2)),
                                response[i]);
    }
  }
  EXPECT_EQ(seen.size(), results[2].counts.scored);
  EXPECT_EQ(ones, results[2].counts.g_ones);
  // A scan key needs exactly one scheme.
  EXPECT_THROW(DistillationScan({{"two", green, nullptr, 0.0, nullptr, tournament}}), Error);
}

}  // namespace
}  // namespace tracemark
