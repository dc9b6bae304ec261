// tracemark attack finetune: the distiller's attack on a trained student rather than on the harvest
// (issue 17): further training of a transformer student on clean text for N steps, which erodes an
// inherited watermark (learnability of watermarks, ICLR 2024). The strength is the number of steps;
// the cost is measured by `tracemark perplexity` of the new student.
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "model_vocabulary.hpp"
#include "shared_options.hpp"
#include "transformer_options.hpp"
#include "tracemark/error.hpp"
#include "tracemark/refmodel/transformer_model.hpp"

namespace tracemark::cli {
namespace {

struct FinetuneOptions {
  std::string model;
  std::vector<std::string> corpus;
  TransformerTraining training;
  unsigned threads = 0;
  std::string out;
  bool force = false;
};

void run_finetune(const FinetuneOptions& options) {
  TransformerModel model = TransformerModel::load(options.model);
  const ModelVocabulary vocabulary = vocabulary_of_model(model.tokenizer(), model.vocab_size(), options.model);
  const TokenDocuments documents = read_corpora(options.corpus, vocabulary);
  set_neural_threads(options.threads);
  TransformerTraining training = options.training;
  training.on_progress = training_progress_printer();
  model.fine_tune(documents, training);
  model.save(options.out, options.force);
  std::cout << "finetune (strength " << options.training.steps << " steps): wrote " << options.out
            << "; final loss " << model.provenance().final_loss << " nats/token; fine-tuning steps in all "
            << model.provenance().fine_tuning_steps << "\n";
}

}  // namespace

void add_attack_finetune_command(CLI::App& attack) {
  auto options = std::make_shared<FinetuneOptions>();
  options->training.learning_rate = 5e-4;  // below training's peak: a distiller keeps the student's skill
  options->training.warmup_steps = 10;
  CLI::App* command = attack.add_subcommand("finetune", "train a transformer student further on clean text (erodes an inherited watermark)");
  command->add_option("--model", options->model, "the student, from `tracemark distill --student transformer`")->required();
  command->add_option("--corpus", options->corpus, "clean text: corpus files as `tracemark train` reads them")->required();
  command->add_option("--steps", options->training.steps, "the attack's strength: optimiser steps, 1 to 10000000")->required();
  command->add_option("--learning-rate", options->training.learning_rate, "AdamW peak learning rate")->capture_default_str();
  command->add_option("--batch-size", options->training.batch_size, "sequences per step")->capture_default_str();
  command->add_option("--warmup-steps", options->training.warmup_steps, "linear warm-up steps")->capture_default_str();
  command->add_option("--seed", options->training.seed, "seed of the training windows")->capture_default_str();
  command->add_option("--torch-threads", options->threads, "threads for libtorch's matrix products; 0: all cores")
      ->capture_default_str();
  add_out_option(*command, options->out, "the fine-tuned student's model file");
  add_force_flag(*command, options->force, "an existing model file");
  command->callback([options] { run_finetune(*options); });
}

}  // namespace tracemark::cli
