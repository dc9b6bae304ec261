// The n-gram model as a DecodingSession: the history lives in the caller's per-thread scratch, so a
// session allocates nothing once the scratch is warm.
#pragma once

#include <span>
#include <vector>

#include "tracemark/refmodel/decoding_session.hpp"
#include "tracemark/refmodel/ngram_model.hpp"

namespace tracemark {

class NgramDecodingSession final : public DecodingSession {
 public:
  // history: reset to the prompt; model and scratch must outlive the session.
  NgramDecodingSession(const NgramModel& model, std::span<const std::uint32_t> prompt, std::vector<std::uint32_t>& history,
                       NgramScratch& scratch)
      : model_(model), history_(history), scratch_(scratch) {
    history_.assign(prompt.begin(), prompt.end());
  }

  std::uint32_t vocab_size() const override { return model_.vocab_size(); }
  void log_probabilities(std::span<float> out) override { model_.log_probabilities(history_, out, scratch_); }
  void top_candidates(std::size_t k, std::vector<Candidate>& out) override {
    model_.top_candidates(history_, k, out, scratch_);
  }
  void accept(std::uint32_t token) override { history_.push_back(token); }

 private:
  const NgramModel& model_;
  std::vector<std::uint32_t>& history_;
  NgramScratch& scratch_;
};

}  // namespace tracemark
