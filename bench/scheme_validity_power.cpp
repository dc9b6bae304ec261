// All schemes side by side on the synthetic model (refmodel/synthetic_model.hpp), same prompts
// (none) and same model: for each scheme, `keys` fresh keys; per key one unwatermarked and one
// watermarked 200-token response. Prints, per scheme:
//   - validity: fraction of null p-values under 0.05 and 0.01, and the Kolmogorov-Smirnov distance
//     of the null p-values from uniform (with its 5% critical value 1.36 / sqrt(keys));
//   - power: TPR at FPR 1e-3 (p < 1e-3, exact tails, so the FPR is at most 1e-3 by construction);
//   - quality: perplexity ratio of watermarked to unwatermarked responses under the unwatermarked
//     model, with a 95% interval (normal, over responses, on the log scale);
//   - diversity: the mean common prefix (tokens) of two responses to the same two-token prompt with
//     different request seeds, watermarked with the same key, beside two unwatermarked ones (so
//     the first step already has a full context).
// Usage: scheme_validity_power [keys=200] [vocab=32000] [zipf=2.0] [length=200] [only=NAME-PREFIX]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tracemark/embed/gumbel_max_sampler.hpp"
#include "tracemark/embed/tournament_sampler.hpp"
#include "tracemark/embed/watermark_processor.hpp"
#include "tracemark/refmodel/synthetic_model.hpp"
#include "tracemark/verify/green_list_detector.hpp"
#include "tracemark/verify/gumbel_max_detector.hpp"
#include "tracemark/verify/tournament_detector.hpp"

namespace {

using namespace tracemark;

struct Scheme {
  std::string name;
  SchemeParams params;
};

// Mean negative log-likelihood per token of `tokens` under the (unwatermarked) model.
double mean_nll(const SyntheticModel& model, const std::vector<std::uint32_t>& tokens) {
  std::vector<float> logits(model.vocab_size());
  std::vector<std::uint32_t> history;
  double sum = 0;
  for (std::uint32_t token : tokens) {
    model.logits(history, logits);
    const double top = *std::max_element(logits.begin(), logits.end());
    double total = 0;
    for (float logit : logits) total += std::exp(static_cast<double>(logit) - top);
    sum += -(static_cast<double>(logits[token]) - top - std::log(total));
    history.push_back(token);
  }
  return sum / static_cast<double>(tokens.size());
}

// `length` tokens from the model with a sampler-scheme's sampler (GumbelMaxSampler or
// TournamentSampler: one interface), request seed given.
// The model sees prompt + response; the response is returned.
template <typename Sampler>
std::vector<std::uint32_t> sample_with(const SyntheticModel& model, Sampler& sampler, std::size_t length,
                                       std::uint64_t request_seed, std::span<const std::uint32_t> prompt = {}) {
  sampler.reset(prompt, request_seed);
  std::vector<std::uint32_t> history(prompt.begin(), prompt.end());
  std::vector<float> logits(model.vocab_size());
  for (std::size_t step = 0; step < length; ++step) {
    model.logits(history, logits);
    const std::uint32_t token = sampler.choose(std::span<const float>(logits));
    sampler.accept(token);
    history.push_back(token);
  }
  return std::vector<std::uint32_t>(history.begin() + static_cast<std::ptrdiff_t>(prompt.size()), history.end());
}

// Plain sampling from the softmax (no key) after a prompt, with its own stream; and the green list's
// processor before that sampler when given.
std::vector<std::uint32_t> sample_plain(const SyntheticModel& model, std::size_t length, std::uint64_t seed,
                                        std::span<const std::uint32_t> prompt, WatermarkProcessor* processor) {
  std::mt19937_64 random(seed);
  if (processor) processor->reset(prompt);
  std::vector<std::uint32_t> history(prompt.begin(), prompt.end());
  std::vector<float> logits(model.vocab_size());
  std::vector<double> weights(model.vocab_size());
  for (std::size_t step = 0; step < length; ++step) {
    model.logits(history, logits);
    if (processor) processor->apply(std::span<float>(logits));
    const float top = *std::max_element(logits.begin(), logits.end());
    for (std::size_t t = 0; t < logits.size(); ++t) weights[t] = std::exp(static_cast<double>(logits[t] - top));
    const std::uint32_t token =
        static_cast<std::uint32_t>(std::discrete_distribution<std::size_t>(weights.begin(), weights.end())(random));
    if (processor) processor->accept(token);
    history.push_back(token);
  }
  return std::vector<std::uint32_t>(history.begin() + static_cast<std::ptrdiff_t>(prompt.size()), history.end());
}

double ks_distance_from_uniform(std::vector<double> p) {
  std::sort(p.begin(), p.end());
  double d = 0;
  const double n = static_cast<double>(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    d = std::max({d, (static_cast<double>(i) + 1) / n - p[i], p[i] - static_cast<double>(i) / n});
  }
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  const int keys = argc > 1 ? std::atoi(argv[1]) : 200;
  const std::uint32_t vocab = argc > 2 ? static_cast<std::uint32_t>(std::atoi(argv[2])) : 32000;
  const double zipf = argc > 3 ? std::atof(argv[3]) : 2.0;
  const std::size_t length = argc > 4 ? static_cast<std::size_t>(std::atoi(argv[4])) : 200;
  const SyntheticModel model({.vocab_size = vocab, .zipf_exponent = zipf, .model_seed = 1});

  std::vector<Scheme> schemes;
  for (std::uint32_t version : {2u, 3u}) {
    SchemeParams params;
    params.scheme_version = version;
    params.vocab_size = vocab;
    schemes.push_back({"kgw-green-list v" + std::to_string(version) + " (gamma 0.25, delta 2, h 2)", params});
  }
  SchemeParams gumbel;
  gumbel.scheme = std::string(kGumbelMaxSchemeName);
  gumbel.scheme_version = 1;
  gumbel.gamma = gumbel.delta = 0.0;
  gumbel.vocab_size = vocab;
  schemes.push_back({"gumbel-max v1 (h 2)", gumbel});
  SchemeParams tournament = gumbel;
  tournament.scheme = std::string(kTournamentSchemeName);
  tournament.tournament_layers = kTournamentDefaultLayers;
  schemes.push_back({"synthid-tournament v1 (m 30, h 2)", tournament});
  tournament.tournament_layers = 8;
  schemes.push_back({"synthid-tournament v1 (m 8, h 2)", tournament});

  std::printf("Synthetic model: vocab %u, Zipf exponent %.2f, %zu-token responses, %d fresh keys per scheme.\n\n", vocab,
              zipf, length, keys);
  std::printf("| scheme | null p < 0.05 | null p < 0.01 | KS distance (5%% critical %.3f) | TPR at FPR 1e-3 | median log10 p "
              "(watermarked) | perplexity ratio [95%% CI] | same-prompt common prefix, watermarked / unwatermarked (tokens) |"
              "\n|---|---|---|---|---|---|---|---|\n",
              1.36 / std::sqrt(static_cast<double>(keys)));
  const std::string only = argc > 5 ? argv[5] : "";
  for (const Scheme& scheme : schemes) {
    if (scheme.name.rfind(only, 0) != 0) continue;
    std::vector<double> null_p, marked_log10_p, nll_difference;
    double marked_prefix = 0, clean_prefix = 0;  // sums over keys
    auto common_prefix = [](const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b) {
      return static_cast<double>(std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin());
    };
    for (int k = 0; k < keys; ++k) {
      const WatermarkKey key = WatermarkKey::generate(scheme.params);
      // Null: unwatermarked sampling with its own stream; watermarked: the scheme's own path.
      SplitMix64 null_rng(0x5eed0000ULL + static_cast<std::uint64_t>(k));
      const std::vector<std::uint32_t> clean = model.generate(length, null_rng, nullptr);
      // Diversity: two requests with one prompt and key, each with its own request seed.
      const std::uint32_t prompt[] = {static_cast<std::uint32_t>(1 + k % 97), static_cast<std::uint32_t>(2 + k % 89)};
      const std::uint64_t request_a = 0xdef0000ULL + static_cast<std::uint64_t>(k), request_b = request_a + 0x100000ULL;
      clean_prefix += common_prefix(sample_plain(model, length, request_a, prompt, nullptr),
                                    sample_plain(model, length, request_b, prompt, nullptr));
      std::vector<std::uint32_t> marked;
      double null_p_value = 1, marked_log10 = 0;
      if (scheme.params.scheme == kTournamentSchemeName) {
        auto tournament_scheme = std::make_shared<const TournamentScheme>(key);
        TournamentSampler sampler(tournament_scheme);
        marked = sample_with(model, sampler, length, 0xabc0000ULL + static_cast<std::uint64_t>(k));
        marked_prefix += common_prefix(sample_with(model, sampler, length, request_a, prompt),
                                       sample_with(model, sampler, length, request_b, prompt));
        TournamentDetector null_detector(tournament_scheme), marked_detector(tournament_scheme);
        null_p_value = null_detector.test(null_detector.add_document(clean)).p_value;
        marked_log10 = marked_detector.test(marked_detector.add_document(marked)).log10_p;
      } else if (scheme.params.scheme == kGumbelMaxSchemeName) {
        auto gumbel_scheme = std::make_shared<const GumbelMaxScheme>(key);
        GumbelMaxSampler sampler(gumbel_scheme);
        marked = sample_with(model, sampler, length, 0xabc0000ULL + static_cast<std::uint64_t>(k));
        marked_prefix += common_prefix(sample_with(model, sampler, length, request_a, prompt),
                                       sample_with(model, sampler, length, request_b, prompt));
        null_p_value = GumbelMaxDetector::test(GumbelMaxDetector(gumbel_scheme).add_document(clean)).p_value;
        marked_log10 = GumbelMaxDetector::test(GumbelMaxDetector(gumbel_scheme).add_document(marked)).log10_p;
      } else {
        auto green = std::make_shared<const GreenListScheme>(key);
        WatermarkProcessor processor(green);
        SplitMix64 rng(0xabc0000ULL + static_cast<std::uint64_t>(k));
        marked = model.generate(length, rng, &processor);
        marked_prefix += common_prefix(sample_plain(model, length, request_a, prompt, &processor),
                                       sample_plain(model, length, request_b, prompt, &processor));
        GreenListDetector null_detector(green), marked_detector(green);
        null_p_value = null_detector.test(null_detector.add_document(clean)).p_value;
        marked_log10 = marked_detector.test(marked_detector.add_document(marked)).log10_p;
      }
      null_p.push_back(null_p_value);
      marked_log10_p.push_back(marked_log10);
      nll_difference.push_back(mean_nll(model, marked) - mean_nll(model, clean));
    }
    const double n = static_cast<double>(keys);
    const double below_005 = static_cast<double>(std::count_if(null_p.begin(), null_p.end(), [](double p) { return p < 0.05; })) / n;
    const double below_001 = static_cast<double>(std::count_if(null_p.begin(), null_p.end(), [](double p) { return p < 0.01; })) / n;
    const double tpr = static_cast<double>(std::count_if(marked_log10_p.begin(), marked_log10_p.end(),
                                                         [](double l) { return l < -3.0; })) / n;
    std::vector<double> sorted = marked_log10_p;
    std::sort(sorted.begin(), sorted.end());
    double mean = 0, square = 0;
    for (double d : nll_difference) mean += d / n;
    for (double d : nll_difference) square += (d - mean) * (d - mean) / (n - 1);
    const double half = 1.96 * std::sqrt(square / n);
    std::printf("| %s | %.3f | %.3f | %.3f | %.3f | %.1f | %.4f [%.4f, %.4f] | %.1f / %.1f |\n", scheme.name.c_str(), below_005,
                below_001, ks_distance_from_uniform(null_p), tpr, sorted[sorted.size() / 2], std::exp(mean),
                std::exp(mean - half), std::exp(mean + half), marked_prefix / n, clean_prefix / n);
    std::fflush(stdout);
  }
}
