// The token space a reference-model command works in: a tracemark tokenizer (text can be encoded
// and decoded), or raw ids of a given vocabulary size. Shared by train, distill, generate and
// perplexity.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tracemark/refmodel/ngram_model.hpp"
#include "tracemark/refmodel/training_corpus.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace tracemark::cli {

struct ModelVocabulary {
  ModelTokenizerRecord record;  // empty name: raw ids
  std::uint32_t vocab_size = 0;
  TextEncoder encode;                                                    // empty without a tokenizer
  std::function<std::string(std::span<const std::uint32_t>)> decode;    // empty without a tokenizer
  std::vector<std::uint32_t> unpredictable_ids;  // training only: ids that are no ordinary token
  std::shared_ptr<const Tokenizer> tokenizer;    // null without a tokenizer

  bool has_tokenizer() const { return !record.name.empty(); }
};

// For training: the tokenizer named by --tokenizer (a built-in name or a path, as
// Tokenizer::load takes), or raw ids with --vocab-size. Throws Error(invalid_argument) when
// neither is given, or when --vocab-size contradicts the tokenizer's.
ModelVocabulary vocabulary_for_training(const std::string& tokenizer_spec, std::optional<std::uint32_t> vocab_size);

// For using a trained model: its own tokenizer (loaded again from the spec the model file records;
// its vocabulary digest must match), or raw ids. Throws Error(invalid_input) naming the model file
// when the tokenizer found differs, Error(io) when it cannot be found (the message says how to
// fetch it).
ModelVocabulary vocabulary_of_model(const NgramModel& model, const std::string& model_name);
// The same for a model of any kind, from the tokenizer and vocabulary size its file records.
ModelVocabulary vocabulary_of_model(const ModelTokenizerRecord& tokenizer, std::uint32_t vocab_size,
                                    const std::string& model_name);

// Every document of the corpus arguments (paths or CORPUS:SPLIT, as `tracemark train` takes them),
// in order, in the vocabulary's ids (text encoded with its tokenizer).
TokenDocuments read_corpora(const std::vector<std::string>& arguments, const ModelVocabulary& vocabulary);

}  // namespace tracemark::cli
