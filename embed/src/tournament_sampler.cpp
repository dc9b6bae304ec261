#include "tracemark/embed/tournament_sampler.hpp"

#include "tracemark/error.hpp"

namespace tracemark {

TournamentSampler::TournamentSampler(std::shared_ptr<const TournamentScheme> scheme)
    : scheme_(std::move(scheme)), context_(scheme_.get()) {
  if (!scheme_) throw Error(ErrorCode::invalid_argument, "TournamentSampler needs a scheme");
  reset({}, 0);
}

void TournamentSampler::reset(std::span<const std::uint32_t> prompt, std::optional<std::uint64_t> request_seed) {
  context_.reset(prompt, request_seed);
}

std::uint32_t TournamentSampler::choose(std::span<const float> logits) {
  return will_key() ? scheme_->choose_token(context_.current_seed(), logits, context_.random(), workspace_)
                    : scheme_->choose_token_unkeyed(context_.random(), logits, workspace_);
}

std::uint32_t TournamentSampler::choose(std::span<const Candidate> candidates) {
  return will_key() ? scheme_->choose_candidate(context_.current_seed(), candidates, context_.random(), workspace_)
                    : scheme_->choose_candidate_unkeyed(context_.random(), candidates, workspace_);
}

}  // namespace tracemark
