#include "tracemark/refmodel/reference_model.hpp"

#include <cstring>
#include <fstream>

#include "tracemark/error.hpp"
#include "tracemark/refmodel/ngram_file_format.hpp"

namespace tracemark {

ReferenceModel ReferenceModel::load(const std::filesystem::path& path) {
  char magic[8] = {};
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::io, path.string() + ": cannot open the model file");
    in.read(magic, sizeof magic);
  }
  ReferenceModel model;
  if (std::memcmp(magic, ngram_format::kMagic, sizeof magic) == 0) {
    model.ngram_.emplace(NgramModel::load(path));
  } else if (std::memcmp(magic, "TMNEURAL", sizeof magic) == 0) {
    model.transformer_.emplace(TransformerModel::load(path));
  } else {
    throw Error(ErrorCode::invalid_input, path.string() + " is not a tracemark reference model (no TMNGRAM or TMNEURAL "
                                                          "signature); make one with `tracemark train` or `tracemark "
                                                          "distill`");
  }
  return model;
}

std::uint32_t ReferenceModel::vocab_size() const noexcept {
  return ngram_ ? ngram_->vocab_size() : transformer_->vocab_size();
}

const ModelTokenizerRecord& ReferenceModel::tokenizer() const noexcept {
  return ngram_ ? ngram_->tokenizer() : transformer_->tokenizer();
}

std::unique_ptr<DecodingSession> ReferenceModel::start(std::span<const std::uint32_t> prompt,
                                                       GenerationScratch& scratch) const {
  return ngram_ ? start_ngram_session(*ngram_, prompt, scratch) : transformer_->start(prompt);
}

double ReferenceModel::sequence_nats(std::span<const std::uint32_t> context, std::span<const std::uint32_t> tokens) const {
  return ngram_ ? tracemark::sequence_nats(*ngram_, context, tokens) : transformer_->sequence_nats(context, tokens);
}

}  // namespace tracemark
