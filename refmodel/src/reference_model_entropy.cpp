#include "tracemark/refmodel/reference_model_entropy.hpp"

#include "tracemark/embed/step_entropy.hpp"
#include "tracemark/error.hpp"

namespace tracemark {

ReferenceModelEntropy::ReferenceModelEntropy(std::shared_ptr<const NgramModel> model, std::string name, std::size_t top_k)
    : model_(std::move(model)), name_(std::move(name)), top_k_(top_k) {
  if (!model_) throw Error(ErrorCode::invalid_argument, "ReferenceModelEntropy needs a model");
}

std::vector<float> ReferenceModelEntropy::entropies(std::span<const std::uint32_t> prompt,
                                                    std::span<const std::uint32_t> response) const {
  NgramScratch scratch;
  std::vector<Candidate> candidates;
  std::vector<std::uint32_t> history(prompt.begin(), prompt.end());
  history.reserve(prompt.size() + response.size());
  std::vector<float> out;
  out.reserve(response.size());
  for (std::size_t i = 0; i < response.size(); ++i) {
    if (response[i] >= model_->vocab_size()) {
      throw Error(ErrorCode::invalid_input, "token id " + std::to_string(response[i]) + " at position " + std::to_string(i) +
                                                " is outside the vocabulary of " + name_ + " (size " +
                                                std::to_string(model_->vocab_size()) + ")");
    }
    if (top_k_ == 0) {
      out.push_back(static_cast<float>(model_->entropy(history, scratch)));
    } else {
      model_->top_candidates(history, top_k_, candidates, scratch);
      out.push_back(static_cast<float>(candidates_entropy(candidates)));
    }
    history.push_back(response[i]);
  }
  return out;
}

std::string ReferenceModelEntropy::description() const {
  return "reference model " + name_ + (top_k_ ? " (entropy of its top " + std::to_string(top_k_) + ")" : "");
}

}  // namespace tracemark
