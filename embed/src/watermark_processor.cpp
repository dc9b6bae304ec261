#include "tracemark/embed/watermark_processor.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

#include "tracemark/embed/step_entropy.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

// Adds delta to the green free entries and subtracts log(biased free mass / free mass) from every
// free entry, so the free entries' total probability is unchanged (syntax entries are untouched).
// Entries are 0 .. count-1; id_of(i) is entry i's token id, logit_of(i) a reference to its logit.
template <typename IdOf, typename LogitOf, typename IsFree, typename IsGreen>
void bias_free_entries(std::size_t count, IdOf id_of, LogitOf logit_of, IsFree is_free, IsGreen is_green, float delta) {
  float top = -std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < count; ++i) top = std::max(top, logit_of(i));
  if (!std::isfinite(top)) return;
  double mass = 0, biased_mass = 0;
  const double boost = std::exp(static_cast<double>(delta));
  for (std::size_t i = 0; i < count; ++i) {
    const float logit = logit_of(i);
    if (!is_free(id_of(i)) || !(logit > -std::numeric_limits<float>::infinity())) continue;
    const double w = std::exp(static_cast<double>(logit) - static_cast<double>(top));
    mass += w;
    biased_mass += is_green(id_of(i)) ? w * boost : w;
  }
  if (!(mass > 0)) return;
  const auto shift = static_cast<float>(std::log(biased_mass / mass));
  for (std::size_t i = 0; i < count; ++i) {
    if (is_free(id_of(i))) logit_of(i) += (is_green(id_of(i)) ? delta : 0.0f) - shift;
  }
}

}  // namespace

WatermarkProcessor::WatermarkProcessor(std::shared_ptr<const GreenListScheme> scheme, ProcessorOptions options)
    : scheme_(std::move(scheme)), syntax_(std::move(options.syntax)) {
  if (!scheme_) throw Error(ErrorCode::invalid_argument, "WatermarkProcessor needs a scheme");
  if (options.keyed_fraction) {
    throw Error(ErrorCode::invalid_argument, "a keyed fraction belongs to sampling schemes (gumbel-max); the green list "
                                             "biases every step its context allows");
  }
  threshold_ = options.entropy_threshold.value_or(scheme_->entropy_threshold());
  if (!(threshold_ >= 0.0 && threshold_ <= 64.0)) {
    throw Error(ErrorCode::invalid_argument, "entropy threshold must be between 0 and 64 nats");
  }
  if (syntax_ && syntax_->vocab_size() < scheme_->vocab_size()) {
    throw Error(ErrorCode::invalid_argument, "the syntax rule covers " + std::to_string(syntax_->vocab_size()) +
                                                 " token ids, fewer than the key's vocabulary of " +
                                                 std::to_string(scheme_->vocab_size()));
  }
  reset();
}

WatermarkProcessor::WatermarkProcessor(const ServingScheme& scheme, ProcessorOptions options) {
  if (scheme.green_list) {
    *this = WatermarkProcessor(scheme.green_list, std::move(options));
    return;
  }
  if (!scheme.gumbel_max && !scheme.tournament) throw Error(ErrorCode::invalid_argument, "WatermarkProcessor needs a scheme");
  if (options.entropy_threshold || options.syntax) {
    throw Error(ErrorCode::invalid_argument,
                "an entropy threshold and the syntax rule belong to the green list; a sampling scheme's key "
                "(gumbel-max, synthid-tournament) is served without them");
  }
  if (scheme.gumbel_max) {
    GumbelMaxSampler& sampler = sampler_.emplace<GumbelMaxSampler>(scheme.gumbel_max);
    if (options.keyed_fraction) sampler.set_keyed_fraction(*options.keyed_fraction);
    return;
  }
  if (options.keyed_fraction) {
    throw Error(ErrorCode::invalid_argument, "a keyed fraction applies to gumbel-max keys; a synthid-tournament key "
                                             "already draws every step with the request's own randomness");
  }
  sampler_.emplace<TournamentSampler>(scheme.tournament);
}

const GreenListScheme& WatermarkProcessor::scheme() const {
  if (!scheme_) {
    const std::string_view name = std::holds_alternative<GumbelMaxSampler>(sampler_) ? kGumbelMaxSchemeName
                                                                                      : kTournamentSchemeName;
    throw Error(ErrorCode::invalid_argument, "this processor serves a '" + std::string(name) + "' key, which has no green list");
  }
  return *scheme_;
}

std::uint32_t WatermarkProcessor::vocab_size() const noexcept {
  if (scheme_) return scheme_->vocab_size();
  return std::visit([](const auto& sampler) -> std::uint32_t {
    if constexpr (std::is_same_v<std::decay_t<decltype(sampler)>, std::monostate>) {
      return 0;
    } else {
      return sampler.scheme().vocab_size();
    }
  }, sampler_);
}

void WatermarkProcessor::reset(std::span<const std::uint32_t> prompt, std::optional<std::uint64_t> request_seed) {
  if (chooses_token()) {
    with_sampler([&](auto& sampler) { sampler.reset(prompt, request_seed); });
    return;
  }
  const std::size_t width = scheme_->context_width();
  const std::size_t take = std::min(width, prompt.size());
  context_.assign(prompt.end() - static_cast<std::ptrdiff_t>(take), prompt.end());
  seen_seeds_.clear();
  syntax_state_ = {};
  last_entropy_.reset();
  last_biased_ = false;
  refresh_current_context();
}

void WatermarkProcessor::refresh_current_context() {
  context_full_ = context_.size() == scheme_->context_width();
  if (!context_full_) return;
  current_seed_ = scheme_->context_seed(context_);
  // With h = 0 the single (empty) context is never treated as repeated.
  current_seen_ = scheme_->context_width() > 0 && seen_seeds_.contains(current_seed_);
}

template <typename Measure, typename BiasAll, typename BiasFree>
void WatermarkProcessor::bias_step(Measure measure, BiasAll bias_all, BiasFree bias_free) const {
  last_biased_ = false;
  last_entropy_.reset();
  if (!will_bias()) return;
  if (threshold_ > 0.0) {
    last_entropy_ = measure();
    if (*last_entropy_ < threshold_) return;
  }
  if (!syntax_) {
    bias_all();
  } else {
    if (!TokenSyntax::state_allows_free(syntax_state_)) return;
    bias_free();
  }
  last_biased_ = true;
}

void WatermarkProcessor::require_row(std::size_t length) const {
  if (length < vocab_size()) {
    throw Error(ErrorCode::invalid_argument, "a logits row of " + std::to_string(length) +
                                                 " entries is shorter than the key's vocabulary (" +
                                                 std::to_string(vocab_size()) +
                                                 " ids); pass the whole row (padding columns after it are left alone)");
  }
}

std::uint32_t WatermarkProcessor::choose(std::span<const float> logits) {
  if (!chooses_token()) {
    throw Error(ErrorCode::invalid_argument, "a green-list processor biases logits and does not choose tokens; "
                                             "sample from the biased logits (chooses_token() is false)");
  }
  require_row(logits.size());
  std::uint32_t token = 0;
  with_sampler([&](auto& sampler) { token = sampler.choose(logits); });
  return token;
}

std::uint32_t WatermarkProcessor::choose(std::span<const Candidate> candidates) {
  if (!chooses_token()) {
    throw Error(ErrorCode::invalid_argument, "a green-list processor biases logits and does not choose tokens; "
                                             "sample from the biased candidates (chooses_token() is false)");
  }
  std::uint32_t token = 0;
  with_sampler([&](auto& sampler) { token = sampler.choose(candidates); });
  return token;
}

void WatermarkProcessor::apply(std::span<float> logits) const {
  require_row(logits.size());
  if (chooses_token()) return;
  bias_step([&] { return logits_entropy(logits.first(scheme_->vocab_size())); }, [&] { scheme_->bias_logits(current_seed_, logits); },
            [&] {
              bias_free_entries(
                  std::min<std::size_t>(logits.size(), scheme_->vocab_size()),
                  [](std::size_t i) { return static_cast<std::uint32_t>(i); }, [&](std::size_t i) -> float& { return logits[i]; },
                  [&](std::uint32_t id) { return !syntax_->is_syntax_token(id); },
                  [&](std::uint32_t id) { return scheme_->is_green(current_seed_, id); }, scheme_->delta());
            });
}

void WatermarkProcessor::apply(std::span<Candidate> candidates) const {
  if (chooses_token()) return;  // choose() checks the ids
  if (will_bias()) {
    for (const Candidate& candidate : candidates) {
      if (candidate.id >= scheme_->vocab_size()) {
        throw Error(ErrorCode::invalid_argument, "candidate token id " + std::to_string(candidate.id) +
                                                     " is outside the key's vocabulary (size " +
                                                     std::to_string(scheme_->vocab_size()) + ")");
      }
    }
  }
  bias_step([&] { return candidates_entropy(candidates); }, [&] { scheme_->bias_candidates(current_seed_, candidates); },
            [&] {
              bias_free_entries(
                  candidates.size(), [&](std::size_t i) { return candidates[i].id; },
                  [&](std::size_t i) -> float& { return candidates[i].logit; },
                  [&](std::uint32_t id) { return !syntax_->is_syntax_token(id); },
                  [&](std::uint32_t id) { return scheme_->is_green(current_seed_, id); }, scheme_->delta());
            });
}

void WatermarkProcessor::accept(std::uint32_t token) {
  if (chooses_token()) {
    with_sampler([&](auto& sampler) { sampler.accept(token); });
    return;
  }
  if (syntax_) syntax_->advance(syntax_state_, token);
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
