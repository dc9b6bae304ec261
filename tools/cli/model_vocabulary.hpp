// The token space a reference-model command works in: raw ids of a given vocabulary size, or a
// tracemark tokenizer (then text can be encoded and decoded). Shared by train, distill, generate
// and perplexity.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "refmodel/ngram_model.hpp"
#include "refmodel/training_corpus.hpp"

namespace tracemark::cli {

struct ModelVocabulary {
  ModelTokenizerRecord record;  // empty name: raw ids
  std::uint32_t vocab_size = 0;
  TextEncoder encode;                                                    // empty without a tokenizer
  std::function<std::string(std::span<const std::uint32_t>)> decode;    // empty without a tokenizer

  bool has_tokenizer() const { return !record.name.empty(); }
};

// For training: raw ids with --vocab-size. Throws Error(invalid_argument) without one.
ModelVocabulary vocabulary_for_training(std::optional<std::uint32_t> vocab_size);

// For using a trained model: its own tokenizer (loaded from the spec it records; its digest must
// match), or raw ids. Throws Error(invalid_input) naming the model file when it does not match.
ModelVocabulary vocabulary_of_model(const NgramModel& model, const std::string& model_name);

}  // namespace tracemark::cli
