#include "tracemark/embed/gumbel_max_sampler.hpp"

#include <string>

#include "tracemark/error.hpp"

namespace tracemark {

GumbelMaxSampler::GumbelMaxSampler(std::shared_ptr<const GumbelMaxScheme> scheme)
    : scheme_(std::move(scheme)), context_(scheme_.get()) {
  if (!scheme_) throw Error(ErrorCode::invalid_argument, "GumbelMaxSampler needs a scheme");
  reset({}, 0);
}

void GumbelMaxSampler::reset(std::span<const std::uint32_t> prompt, std::optional<std::uint64_t> request_seed) {
  context_.reset(prompt, request_seed);
}

void GumbelMaxSampler::set_keyed_fraction(double fraction) {
  if (!(fraction > 0.0 && fraction <= 1.0)) {
    throw Error(ErrorCode::invalid_argument, "keyed fraction " + std::to_string(fraction) +
                                                 " is out of range; use a share of steps in (0, 1]");
  }
  keyed_fraction_ = fraction;
}

bool GumbelMaxSampler::keyed_this_step() {
  if (!will_key()) return false;
  if (keyed_fraction_ >= 1.0) return true;  // no coin: the stream stays as it was without the option
  return std::uniform_real_distribution<double>(0.0, 1.0)(context_.random()) < keyed_fraction_;
}

std::uint32_t GumbelMaxSampler::choose(std::span<const float> logits) {
  return keyed_this_step() ? scheme_->choose_token(context_.current_seed(), logits)
                           : scheme_->choose_token_unkeyed(context_.random(), logits);
}

std::uint32_t GumbelMaxSampler::choose(std::span<const Candidate> candidates) {
  return keyed_this_step() ? scheme_->choose_candidate(context_.current_seed(), candidates)
                           : scheme_->choose_candidate_unkeyed(context_.random(), candidates);
}

}  // namespace tracemark
