#include "model_vocabulary.hpp"

#include "tracemark/error.hpp"

namespace tracemark::cli {

ModelVocabulary vocabulary_for_training(std::optional<std::uint32_t> vocab_size) {
  if (!vocab_size) {
    throw Error(ErrorCode::invalid_argument, "--vocab-size is required when training on token ids");
  }
  ModelVocabulary vocabulary;
  vocabulary.vocab_size = *vocab_size;
  return vocabulary;
}

ModelVocabulary vocabulary_of_model(const NgramModel& model, const std::string& model_name) {
  ModelVocabulary vocabulary;
  vocabulary.vocab_size = model.vocab_size();
  require_model_tokenizer(model, model_name, vocabulary.record);
  return vocabulary;
}

}  // namespace tracemark::cli
