// The transformer options shared by `train --model transformer` and `distill --student
// transformer`, and the one place that trains, reports progress and writes the model file.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "model_vocabulary.hpp"
#include "tracemark/refmodel/transformer_model.hpp"

namespace tracemark::cli {

struct TransformerOptions {
  TransformerShape shape;
  TransformerTraining training;
  unsigned threads = 0;  // libtorch's threads; 0: its default (the cores)
};

// --layers --width --heads --context-length --steps --batch-size --learning-rate --warmup-steps
// --weight-decay --train-seed --torch-threads, in an option group of their own.
void add_transformer_options(CLI::App& command, TransformerOptions& options);

// Prints training progress on stderr: one updating line on a terminal, a line per tenth otherwise.
std::function<void(const TransformerTraining::Progress&)> training_progress_printer();

// Trains on documents, writes `out` (nothing when training fails), prints progress on stderr
// (one updating line on a terminal, a line per tenth otherwise) and a summary on stdout.
void train_transformer_file(const TokenDocuments& documents, const ModelVocabulary& vocabulary,
                            const TransformerOptions& options, const std::string& out, bool force);

}  // namespace tracemark::cli
