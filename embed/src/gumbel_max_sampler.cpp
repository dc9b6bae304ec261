#include "tracemark/embed/gumbel_max_sampler.hpp"

#include <array>
#include <string>

#include "crypto.hpp"
#include "tracemark/error.hpp"

namespace tracemark {

GumbelMaxSampler::GumbelMaxSampler(std::shared_ptr<const GumbelMaxScheme> scheme) : scheme_(std::move(scheme)) {
  if (!scheme_) throw Error(ErrorCode::invalid_argument, "GumbelMaxSampler needs a scheme");
  reset({}, 0);
}

void GumbelMaxSampler::reset(std::span<const std::uint32_t> prompt, std::optional<std::uint64_t> request_seed) {
  std::uint64_t seed = 0;
  if (request_seed) {
    seed = *request_seed;
  } else {
    std::array<std::uint8_t, 8> bytes{};
    crypto::random_bytes(bytes);
    for (std::uint8_t byte : bytes) seed = seed << 8 | byte;
  }
  request_random_.seed(seed);
  const std::size_t take = std::min<std::size_t>(scheme_->context_width(), prompt.size());
  context_.assign(prompt.end() - static_cast<std::ptrdiff_t>(take), prompt.end());
  seen_seeds_.clear();
  refresh_current_context();
}

void GumbelMaxSampler::refresh_current_context() {
  context_full_ = context_.size() == scheme_->context_width();
  if (!context_full_) return;
  current_seed_ = scheme_->context_seed(context_);
  current_seen_ = seen_seeds_.contains(current_seed_);
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
  return std::uniform_real_distribution<double>(0.0, 1.0)(request_random_) < keyed_fraction_;
}

std::uint32_t GumbelMaxSampler::choose(std::span<const float> logits) {
  return keyed_this_step() ? scheme_->choose_token(current_seed_, logits)
                           : scheme_->choose_token_unkeyed(request_random_, logits);
}

std::uint32_t GumbelMaxSampler::choose(std::span<const Candidate> candidates) {
  return keyed_this_step() ? scheme_->choose_candidate(current_seed_, candidates)
                    : scheme_->choose_candidate_unkeyed(request_random_, candidates);
}

void GumbelMaxSampler::accept(std::uint32_t token) {
  if (context_full_) {
    seen_seeds_.insert(current_seed_);
    context_.erase(context_.begin());
  }
  context_.push_back(token);
  refresh_current_context();
}

}  // namespace tracemark
