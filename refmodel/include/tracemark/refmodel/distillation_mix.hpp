// Choosing the training set of a simulated student: the teacher's (watermarked) responses mixed
// with clean human text so that a given fraction of the training tokens is watermarked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tracemark {

struct DistillationMix {
  std::size_t teacher_documents = 0;  // the first teacher_documents of the teacher's, in order
  std::size_t clean_documents = 0;    // the first clean_documents of the clean text, in order
  std::uint64_t teacher_tokens = 0;
  std::uint64_t clean_tokens = 0;
  double watermarked_fraction() const noexcept {
    const double total = static_cast<double>(teacher_tokens + clean_tokens);
    return total > 0 ? static_cast<double>(teacher_tokens) / total : 0.0;
  }
};

// Whole documents are taken in order (deterministic): all teacher documents and the clean ones
// needed to bring the watermarked share down to `fraction`; when the clean text runs short, all of
// it and only as many teacher documents as the fraction allows. The achieved fraction is within
// one document of the target. fraction in (0, 1] (Error invalid_argument otherwise); with 1 no
// clean text is used.
DistillationMix plan_distillation_mix(const std::vector<std::size_t>& teacher_lengths,
                                      const std::vector<std::size_t>& clean_lengths, double fraction);

}  // namespace tracemark
