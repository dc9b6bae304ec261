#include "tracemark/embed/tournament_sampler.hpp"

#include <array>

#include "crypto.hpp"
#include "tracemark/error.hpp"

namespace tracemark {

TournamentSampler::TournamentSampler(std::shared_ptr<const TournamentScheme> scheme) : scheme_(std::move(scheme)) {
  if (!scheme_) throw Error(ErrorCode::invalid_argument, "TournamentSampler needs a scheme");
  reset({}, 0);
}

void TournamentSampler::reset(std::span<const std::uint32_t> prompt, std::optional<std::uint64_t> request_seed) {
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

void TournamentSampler::refresh_current_context() {
  context_full_ = context_.size() == scheme_->context_width();
  if (!context_full_) return;
  current_seed_ = scheme_->context_seed(context_);
  current_seen_ = seen_seeds_.contains(current_seed_);
}

std::uint32_t TournamentSampler::choose(std::span<const float> logits) {
  return will_key() ? scheme_->choose_token(current_seed_, logits, request_random_, workspace_)
                    : scheme_->choose_token_unkeyed(request_random_, logits, workspace_);
}

std::uint32_t TournamentSampler::choose(std::span<const Candidate> candidates) {
  return will_key() ? scheme_->choose_candidate(current_seed_, candidates, request_random_, workspace_)
                    : scheme_->choose_candidate_unkeyed(request_random_, candidates, workspace_);
}

void TournamentSampler::accept(std::uint32_t token) {
  if (context_full_) {
    seen_seeds_.insert(current_seed_);
    context_.erase(context_.begin());
  }
  context_.push_back(token);
  refresh_current_context();
}

}  // namespace tracemark
