#include "model_vocabulary.hpp"

#include <filesystem>
#include <memory>

#include "tracemark/error.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace tracemark::cli {
namespace {

ModelVocabulary from_tokenizer(std::shared_ptr<const Tokenizer> tokenizer) {
  ModelVocabulary vocabulary;
  vocabulary.record.spec = tokenizer->name();  // a built-in name or an absolute path: loads it again
  // The name field holds 127 bytes; a long path is shown by its file name (the spec keeps it all).
  vocabulary.record.name = tokenizer->name().size() < 128 ? tokenizer->name()
                                                          : std::filesystem::path(tokenizer->name()).filename().string();
  vocabulary.record.vocab_sha256 = tokenizer->vocab_sha256();
  vocabulary.vocab_size = tokenizer->vocab_size();
  // Corpus text may hold stray invalid UTF-8 (old encodings): it is replaced by U+FFFD rather than
  // refused, as a serving engine's tokenizer would. JSON text is valid UTF-8 by construction.
  vocabulary.encode = [tokenizer](std::string_view text) { return tokenizer->encode_lossy(text).ids; };
  vocabulary.decode = [tokenizer](std::span<const std::uint32_t> ids) { return tokenizer->decode(ids); };
  vocabulary.tokenizer = tokenizer;
  return vocabulary;
}

// Ids a model must not generate from the uniform floor: gaps in the tokenizer's id range (decode
// refuses them) and special tokens (their text encodes to them only when specials are allowed).
// A byte token that is a fragment of a UTF-8 sequence is ordinary: its text cannot be encoded on
// its own, which is not a reason to exclude it.
std::vector<std::uint32_t> ids_that_are_no_ordinary_token(const Tokenizer& tokenizer) {
  std::vector<std::uint32_t> excluded;
  EncodeOptions with_specials;
  with_specials.allow_special = true;
  for (std::uint32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    const std::uint32_t one[1] = {id};
    std::string bytes;
    try {
      bytes = tokenizer.decode(one);
    } catch (const Error&) {
      excluded.push_back(id);
      continue;
    }
    try {
      const std::vector<std::uint32_t> special = tokenizer.encode(bytes, with_specials);
      if (special.size() == 1 && special[0] == id && tokenizer.encode(bytes) != special) excluded.push_back(id);
    } catch (const Error&) {
      // not valid UTF-8 on its own: an ordinary byte token
    }
  }
  return excluded;
}

}  // namespace

ModelVocabulary vocabulary_for_training(const std::string& tokenizer_spec, std::optional<std::uint32_t> vocab_size) {
  if (!tokenizer_spec.empty()) {
    const std::shared_ptr<const Tokenizer> tokenizer = Tokenizer::load(tokenizer_spec);
    ModelVocabulary vocabulary = from_tokenizer(tokenizer);
    vocabulary.unpredictable_ids = ids_that_are_no_ordinary_token(*tokenizer);
    if (vocab_size && *vocab_size != vocabulary.vocab_size) {
      throw Error(ErrorCode::invalid_argument, "--vocab-size " + std::to_string(*vocab_size) + " contradicts tokenizer " +
                                                   vocabulary.record.name + " (vocabulary size " +
                                                   std::to_string(vocabulary.vocab_size) + "); leave --vocab-size out");
    }
    return vocabulary;
  }
  if (!vocab_size) {
    throw Error(ErrorCode::invalid_argument, "give --tokenizer (to train on text) or --vocab-size (to train on token ids)");
  }
  ModelVocabulary vocabulary;
  vocabulary.vocab_size = *vocab_size;
  return vocabulary;
}

ModelVocabulary vocabulary_of_model(const NgramModel& model, const std::string& model_name) {
  return vocabulary_of_model(model.tokenizer(), model.vocab_size(), model_name);
}

ModelVocabulary vocabulary_of_model(const ModelTokenizerRecord& tokenizer, std::uint32_t vocab_size,
                                    const std::string& model_name) {
  if (tokenizer.name.empty()) {
    ModelVocabulary vocabulary;
    vocabulary.vocab_size = vocab_size;
    return vocabulary;
  }
  ModelVocabulary vocabulary = from_tokenizer(Tokenizer::load(tokenizer.spec));
  require_model_tokenizer(tokenizer, model_name, vocabulary.record);
  if (vocabulary.vocab_size != vocab_size) {
    throw Error(ErrorCode::invalid_input, model_name + " has a vocabulary of " + std::to_string(vocab_size) +
                                              " tokens, its tokenizer " + vocabulary.record.name + " one of " +
                                              std::to_string(vocabulary.vocab_size) + "; train the model again");
  }
  return vocabulary;
}

TokenDocuments read_corpora(const std::vector<std::string>& arguments, const ModelVocabulary& vocabulary) {
  TokenDocuments documents;
  for (const std::string& argument : arguments) {
    for (auto& document : read_corpus_file(resolve_corpus_argument(argument), vocabulary.encode, vocabulary.vocab_size)) {
      documents.push_back(std::move(document));
    }
  }
  return documents;
}

}  // namespace tracemark::cli
