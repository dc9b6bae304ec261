// A reference model of either kind, chosen by its file: the n-gram model (`tracemark train`,
// `distill`) or the transformer (`train --model transformer`, `distill --student transformer`).
// Commands that only generate and score (generate, perplexity, serve) take this, so both kinds
// go through one decoding loop and one watermark processor.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "tracemark/refmodel/ngram_model.hpp"
#include "tracemark/refmodel/response_generator.hpp"
#include "tracemark/refmodel/transformer_model.hpp"

namespace tracemark {

class ReferenceModel {
 public:
  // Reads the file's first bytes to tell the kind, then loads it with that kind's checks.
  // Error(invalid_input) naming the file when it is neither kind; the kinds' own errors otherwise.
  static ReferenceModel load(const std::filesystem::path& path);

  std::string_view kind() const noexcept { return ngram_ ? "n-gram" : "transformer"; }
  std::uint32_t vocab_size() const noexcept;
  const ModelTokenizerRecord& tokenizer() const noexcept;
  const NgramModel* ngram() const noexcept { return ngram_ ? &*ngram_ : nullptr; }
  const TransformerModel* transformer() const noexcept { return transformer_ ? &*transformer_ : nullptr; }

  // A decoding session after prompt; the n-gram kind works in scratch (per thread).
  std::unique_ptr<DecodingSession> start(std::span<const std::uint32_t> prompt, GenerationScratch& scratch) const;
  // -ln P(tokens | context), summed over tokens.
  double sequence_nats(std::span<const std::uint32_t> context, std::span<const std::uint32_t> tokens) const;

 private:
  ReferenceModel() = default;
  std::optional<NgramModel> ngram_;
  std::optional<TransformerModel> transformer_;
};

}  // namespace tracemark
