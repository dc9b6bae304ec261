// Where detection gets the protected model's per-step entropy when the key has an entropy
// threshold and the text does not carry it: a reference model of the protected model (refmodel/'s
// ReferenceModelEntropy implements this; verify/ does not depend on refmodel/).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tracemark {

class StepEntropySource {
 public:
  virtual ~StepEntropySource() = default;
  // The entropy (nats) of the protected model's next-token distribution before each token of
  // response, the prompt and the earlier response tokens being the history: one value per token.
  // Thread-safe (called from many threads at once). Throws Error(invalid_input) for an id outside
  // the model's vocabulary.
  virtual std::vector<float> entropies(std::span<const std::uint32_t> prompt,
                                       std::span<const std::uint32_t> response) const = 0;
  // What it is, for reports ("reference model M.tmlm").
  virtual std::string description() const = 0;
};

}  // namespace tracemark
