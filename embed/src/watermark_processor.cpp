#include "tracemark/embed/watermark_processor.hpp"

#include "tracemark/error.hpp"

namespace tracemark {

WatermarkProcessor::WatermarkProcessor(std::shared_ptr<const GreenListScheme> scheme) : scheme_(std::move(scheme)) {
  if (!scheme_) throw Error(ErrorCode::invalid_argument, "WatermarkProcessor needs a scheme");
  reset();
}

void WatermarkProcessor::reset(std::span<const std::uint32_t> prompt) {
  const std::size_t width = scheme_->context_width();
  const std::size_t take = std::min(width, prompt.size());
  context_.assign(prompt.end() - static_cast<std::ptrdiff_t>(take), prompt.end());
  seen_seeds_.clear();
  refresh_current_context();
}

void WatermarkProcessor::refresh_current_context() {
  context_full_ = context_.size() == scheme_->context_width();
  if (!context_full_) return;
  current_seed_ = scheme_->context_seed(context_);
  // With h = 0 the single (empty) context is never treated as repeated.
  current_seen_ = scheme_->context_width() > 0 && seen_seeds_.contains(current_seed_);
}

void WatermarkProcessor::apply(std::span<float> logits) const {
  if (logits.size() < scheme_->vocab_size()) {
    throw Error(ErrorCode::invalid_argument, "a logits row of " + std::to_string(logits.size()) +
                                                 " entries is shorter than the key's vocabulary (" +
                                                 std::to_string(scheme_->vocab_size()) +
                                                 " ids); pass the whole row (padding columns after it are left alone)");
  }
  if (will_bias()) scheme_->bias_logits(current_seed_, logits);
}

void WatermarkProcessor::apply(std::span<Candidate> candidates) const {
  if (will_bias()) scheme_->bias_candidates(current_seed_, candidates);
}

void WatermarkProcessor::accept(std::uint32_t token) {
  const std::size_t width = scheme_->context_width();
  if (width == 0) return;
  if (context_full_) {
    seen_seeds_.insert(current_seed_);
    context_.erase(context_.begin());
  }
  context_.push_back(token);
  refresh_current_context();
}

}  // namespace tracemark
