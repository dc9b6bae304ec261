// Neutralising an inherited watermark at inference (the distiller's last resort, after "Can LLM
// watermarks robustly prevent unauthorized knowledge distillation?", ACL 2025, in a simplified form
// of our own): the student's next-token distribution is tilted away from the tokens a key-less
// green-list estimate (green_list_stealing.hpp) flags after the current context,
//   logit'(t) = logit(t) - penalty   for t flagged after the last h tokens,
// then renormalised. The estimate comes from the harvest and clean text alone; the penalty is the
// attack's strength (0: no change). Wraps any model's DecodingSession, so the student is sampled,
// watermarked or scored exactly as without it.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "tracemark/attacks/green_list_stealing.hpp"
#include "tracemark/refmodel/decoding_session.hpp"

namespace tracemark {

class NeutralisingSession final : public DecodingSession {
 public:
  // prompt: the tokens the inner session was started on (the context of the first step).
  // penalty in [0, 50] (Error invalid_argument outside). estimate must outlive the session.
  NeutralisingSession(std::unique_ptr<DecodingSession> inner, const GreenListEstimate& estimate, double penalty,
                      std::span<const std::uint32_t> prompt);

  std::uint32_t vocab_size() const override { return inner_->vocab_size(); }
  void log_probabilities(std::span<float> out) override;
  // The inner model's 2k most probable tokens, penalised, the k best kept (the sampler normalises
  // over the candidates): exact unless a token below the inner top 2k would enter the top k.
  void top_candidates(std::size_t k, std::vector<Candidate>& out) override;
  void accept(std::uint32_t token) override;

  // Steps so far where the estimate flagged a token after the context (for the attack's report).
  std::uint64_t penalised_steps() const noexcept { return penalised_steps_; }

 private:
  std::span<const std::uint32_t> flagged_now() const;

  std::unique_ptr<DecodingSession> inner_;
  const GreenListEstimate& estimate_;
  double penalty_;
  std::vector<std::uint32_t> history_;  // the last context_width() tokens at most
  std::vector<Candidate> wide_;
  std::uint64_t penalised_steps_ = 0;
};

}  // namespace tracemark
