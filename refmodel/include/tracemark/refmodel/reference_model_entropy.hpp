// The protected model's per-step entropy recomputed from a reference model of it, for detection
// and scans with keys that have an entropy threshold (`--reference-model MODEL`).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "tracemark/refmodel/ngram_model.hpp"
#include "tracemark/verify/step_entropy_source.hpp"

namespace tracemark {

// Immutable; thread-safe (each call uses working memory of its own). top_k = 0: the entropy of the
// whole distribution, as a serving engine that hands full logits to the processor measures it;
// top_k = k: of the k most probable tokens renormalized, as the candidate path measures it.
class ReferenceModelEntropy final : public StepEntropySource {
 public:
  ReferenceModelEntropy(std::shared_ptr<const NgramModel> model, std::string name, std::size_t top_k = 0);

  std::vector<float> entropies(std::span<const std::uint32_t> prompt,
                               std::span<const std::uint32_t> response) const override;
  std::string description() const override;

 private:
  std::shared_ptr<const NgramModel> model_;
  std::string name_;
  std::size_t top_k_;
};

}  // namespace tracemark
