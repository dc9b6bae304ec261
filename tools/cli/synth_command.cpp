// tracemark synth: token sequences from the synthetic model, watermarked with --key or not. For
// demos and experiments before a real model is wired in; the reference model supersedes it.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "commands.hpp"
#include "shared_options.hpp"
#include "tracemark/refmodel/synthetic_model.hpp"
#include "tracemark/atomic_file.hpp"
#include "tracemark/embed/gumbel_max_sampler.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/embed/scheme_catalog.hpp"
#include "tracemark/embed/tournament_sampler.hpp"
#include "tracemark/error.hpp"

namespace tracemark::cli {
namespace {

struct SynthOptions {
  std::string out;
  std::string key;
  std::size_t count = 100;
  std::size_t length = 200;
  std::uint32_t vocab_size = 32000;
  double zipf_exponent = 2.0;
  std::uint64_t seed = 1;
  bool force = false;
};

void run_synth(const SynthOptions& options) {
  std::optional<WatermarkKey> key;
  SyntheticModelOptions model_options;
  model_options.vocab_size = options.vocab_size;
  model_options.zipf_exponent = options.zipf_exponent;
  if (!options.key.empty()) {
    key = WatermarkKey::load(options.key);
    model_options.vocab_size = key->params().vocab_size;
  }
  const SyntheticModel model(model_options);
  const SchemeKind kind = key ? scheme_kind(key->params().scheme) : SchemeKind::green_list;
  std::shared_ptr<const GreenListScheme> scheme;
  std::shared_ptr<const GumbelMaxScheme> gumbel_scheme;
  std::shared_ptr<const TournamentScheme> tournament_scheme;
  if (key && kind == SchemeKind::gumbel_max) gumbel_scheme = std::make_shared<const GumbelMaxScheme>(*key);
  if (key && kind == SchemeKind::tournament) tournament_scheme = std::make_shared<const TournamentScheme>(*key);
  if (key && kind == SchemeKind::green_list) scheme = std::make_shared<const GreenListScheme>(*key);
  // Gumbel-max and tournament: the key is the sampler (choose, accept); the request seed drives the
  // draws the key does not make. Both samplers have one interface.
  auto sample_with = [&](auto& sampler, std::size_t i) {
    sampler.reset({}, options.seed * 0x9e3779b97f4a7c15ULL + i);
    std::vector<std::uint32_t> tokens;
    std::vector<float> logits(model.vocab_size());
    for (std::size_t step = 0; step < options.length; ++step) {
      model.logits(tokens, logits);
      const std::uint32_t token = sampler.choose(std::span<const float>(logits));
      sampler.accept(token);
      tokens.push_back(token);
    }
    return tokens;
  };

  AtomicOutputFile out(options.out, 0644);
  double entropy_sum = 0;
  std::size_t entropy_samples = 0;
  for (std::size_t i = 0; i < options.count; ++i) {
    // One stream per sequence: the output does not depend on how sequences are scheduled.
    SplitMix64 rng(options.seed * 0x9e3779b97f4a7c15ULL + i);
    std::optional<WatermarkProcessor> processor;
    if (scheme) processor.emplace(scheme);
    std::vector<std::uint32_t> tokens;
    if (gumbel_scheme) {
      GumbelMaxSampler sampler(gumbel_scheme);
      tokens = sample_with(sampler, i);
    } else if (tournament_scheme) {
      TournamentSampler sampler(tournament_scheme);
      tokens = sample_with(sampler, i);
    } else {
      tokens = model.generate(options.length, rng, processor ? &*processor : nullptr);
    }
    if (i < 8 && !tokens.empty()) {
      entropy_sum += model.entropy(std::span<const std::uint32_t>(tokens).first(tokens.size() / 2));
      ++entropy_samples;
    }
    nlohmann::ordered_json record = {{"id", "synth-" + std::to_string(i)}, {"tokens", tokens}};
    out.stream() << record.dump() << "\n";
  }
  out.commit(options.force);
  std::cout << "wrote " << options.count << " sequences of " << options.length << " tokens to " << options.out
            << (key ? " (watermarked with " + key->key_id() + ")" : " (not watermarked)") << "; model entropy about "
            << (entropy_samples ? entropy_sum / static_cast<double>(entropy_samples) : 0.0) << " nats per token\n";
}

}  // namespace

void add_synth_command(CLI::App& app) {
  auto options = std::make_shared<SynthOptions>();
  CLI::App* command = app.add_subcommand("synth", "sample token sequences from a synthetic model (demo, experiments)");
  add_out_option(*command, options->out, "JSON lines file to write");
  command->add_option("--key", options->key, "watermark with this key (its vocabulary size is used)");
  command->add_option("--count", options->count, "number of sequences")->capture_default_str()->check(CLI::Range(1, 10'000'000));
  command->add_option("--length", options->length, "tokens per sequence")->capture_default_str()->check(CLI::Range(1, 1'000'000));
  add_vocab_size_option(*command, options->vocab_size, "vocabulary size without --key")->capture_default_str();
  command->add_option("--zipf", options->zipf_exponent, "Zipf exponent of the synthetic model (larger: lower entropy)")
      ->capture_default_str()->check(CLI::Range(0.1, 10.0));
  command->add_option("--seed", options->seed, "random seed")->capture_default_str();
  add_force_flag(*command, options->force, "an existing output file");
  command->callback([options] { run_synth(*options); });
}

}  // namespace tracemark::cli
