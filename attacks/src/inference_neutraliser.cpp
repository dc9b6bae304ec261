#include "tracemark/attacks/inference_neutraliser.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "tracemark/error.hpp"

namespace tracemark {

NeutralisingSession::NeutralisingSession(std::unique_ptr<DecodingSession> inner, const GreenListEstimate& estimate,
                                         double penalty, std::span<const std::uint32_t> prompt)
    : inner_(std::move(inner)), estimate_(estimate), penalty_(penalty) {
  if (!(penalty >= 0 && penalty <= 50)) {
    throw Error(ErrorCode::invalid_argument, "neutralisation penalty " + std::to_string(penalty) +
                                                 " is out of range; use 0 to 50 (nats subtracted from flagged tokens)");
  }
  const std::size_t h = estimate.context_width();
  const std::size_t keep = std::min(h, prompt.size());
  history_.assign(prompt.end() - static_cast<std::ptrdiff_t>(keep), prompt.end());
}

std::span<const std::uint32_t> NeutralisingSession::flagged_now() const {
  // Positions with fewer than h earlier tokens are never flagged (as the estimate counts them).
  if (history_.size() < estimate_.context_width() || penalty_ == 0) return {};
  return estimate_.flagged_after(history_);
}

void NeutralisingSession::log_probabilities(std::span<float> out) {
  inner_->log_probabilities(out);
  const std::span<const std::uint32_t> flagged = flagged_now();
  if (flagged.empty()) return;
  ++penalised_steps_;
  // Renormalise: the flagged tokens' mass m becomes m e^-penalty; everything shifts by -ln(1 - m + m e^-penalty).
  double flagged_mass = 0;
  for (std::uint32_t token : flagged) flagged_mass += std::exp(static_cast<double>(out[token]));
  const double shift = std::log(std::max(1e-300, 1 - flagged_mass + flagged_mass * std::exp(-penalty_)));
  for (std::uint32_t token : flagged) out[token] = static_cast<float>(static_cast<double>(out[token]) - penalty_);
  for (float& value : out) value = static_cast<float>(static_cast<double>(value) - shift);
}

void NeutralisingSession::top_candidates(std::size_t k, std::vector<Candidate>& out) {
  const std::span<const std::uint32_t> flagged = flagged_now();
  if (flagged.empty()) {
    inner_->top_candidates(k, out);
    return;
  }
  ++penalised_steps_;
  inner_->top_candidates(2 * k, wide_);
  for (Candidate& candidate : wide_) {
    if (std::binary_search(flagged.begin(), flagged.end(), candidate.id)) {
      candidate.logit = static_cast<float>(static_cast<double>(candidate.logit) - penalty_);
    }
  }
  std::stable_sort(wide_.begin(), wide_.end(), [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  });
  out.assign(wide_.begin(), wide_.begin() + static_cast<std::ptrdiff_t>(std::min(k, wide_.size())));
}

void NeutralisingSession::accept(std::uint32_t token) {
  inner_->accept(token);
  const std::size_t h = estimate_.context_width();
  if (h == 0) return;
  history_.push_back(token);
  if (history_.size() > h) history_.erase(history_.begin());
}

}  // namespace tracemark
