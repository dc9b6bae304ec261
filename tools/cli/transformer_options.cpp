#include "transformer_options.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

namespace tracemark::cli {
namespace {

std::string duration(double seconds) {
  const long whole = std::lround(seconds);
  return std::to_string(whole / 60) + "m" + (whole % 60 < 10 ? "0" : "") + std::to_string(whole % 60) + "s";
}

}  // namespace

void add_transformer_options(CLI::App& command, TransformerOptions& options) {
  const std::string group = "Transformer (with --model/--student transformer)";
  auto add = [&](const std::string& name, auto& value, const std::string& help) {
    command.add_option(name, value, help)->capture_default_str()->group(group);
  };
  add("--layers", options.shape.layers, "transformer blocks, 1 to 48");
  add("--width", options.shape.width, "model dimension, a multiple of --heads, 8 to 4096");
  add("--heads", options.shape.heads, "attention heads, 1 to 64");
  add("--context-length", options.shape.context_length, "attention window in tokens, 2 to 4096");
  add("--steps", options.training.steps, "optimiser steps");
  add("--batch-size", options.training.batch_size, "sequences per step, each 2 x --context-length tokens");
  add("--learning-rate", options.training.learning_rate, "AdamW peak learning rate, in (0, 10]");
  add("--warmup-steps", options.training.warmup_steps, "steps of linear warm-up before the cosine decay");
  add("--weight-decay", options.training.weight_decay, "AdamW weight decay, 0 to 1");
  add("--train-seed", options.training.seed, "seed of the initial weights and of the training windows");
  add("--torch-threads", options.threads, "threads for libtorch's matrix products; 0: all cores");
}

std::function<void(const TransformerTraining::Progress&)> training_progress_printer() {
  const bool terminal = isatty(STDERR_FILENO) != 0;
  auto next_line = std::make_shared<std::uint32_t>(0);
  return [terminal, next_line](const TransformerTraining::Progress& p) {
    if (terminal) {
      std::fprintf(stderr, "\rstep %u/%u  loss %.3f  %.0f tokens/s  %s left   ", p.step, p.steps, p.loss,
                   p.tokens_per_second, duration(p.seconds_left).c_str());
      if (p.step == p.steps) std::fputc('\n', stderr);
    } else if (p.step >= *next_line || p.step == p.steps) {
      std::fprintf(stderr, "step %u/%u  loss %.3f  %.0f tokens/s  %s left\n", p.step, p.steps, p.loss,
                   p.tokens_per_second, duration(p.seconds_left).c_str());
      *next_line = p.step + std::max<std::uint32_t>(1, p.steps / 10);
    }
  };
}

void train_transformer_file(const TokenDocuments& documents, const ModelVocabulary& vocabulary,
                            const TransformerOptions& options, const std::string& out, bool force) {
  set_neural_threads(options.threads);
  TransformerTraining training = options.training;
  training.on_progress = training_progress_printer();
  const TransformerModel model = TransformerModel::train(documents, vocabulary.vocab_size, vocabulary.unpredictable_ids,
                                                         vocabulary.record, options.shape, training);
  model.save(out, force);
  const TransformerProvenance& made = model.provenance();
  std::cout << "trained a transformer (" << options.shape.layers << " layers, width " << options.shape.width << ", "
            << options.shape.heads << " heads, context " << options.shape.context_length << ", "
            << model.parameter_count() << " parameters, " << model.compact_vocab_size() << " of "
            << vocabulary.vocab_size << " ids) for " << made.steps << " steps (" << made.epochs
            << " epochs over " << made.training_tokens << " tokens); final loss " << made.final_loss
            << " nats/token\nwrote " << out << "\n";
}

}  // namespace tracemark::cli
