#include "tracemark/embed/gumbel_max_scheme.hpp"

#include <bit>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "choice_input_checks.hpp"
#include "context_prf.hpp"
#include "token_value_table.hpp"
#include "gumbel_full_row.hpp"
#include "gumbel_screen.hpp"
#include "crypto.hpp"
#include "tracemark/embed/scheme_catalog.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

constexpr std::string_view kContextPrfPurpose = "tracemark/v1/gumbel-max/context-prf";
constexpr std::string_view kTokenValuesPurpose = "tracemark/v1/gumbel-max/token-values";
constexpr std::string_view kContextPrfPurposeV2 = "tracemark/v2/gumbel-max/context-prf";
constexpr std::string_view kTokenValuesPurposeV2 = "tracemark/v2/gumbel-max/token-values";

const WatermarkKey& gumbel_key(const WatermarkKey& key) {
  require_scheme(key, SchemeKind::gumbel_max, "the gumbel-max scheme");
  return key;
}

// The one Gumbel-max loop of all four choices: entry i has id id_of(i) and logit logit_of(i), and
// draw(id) gives its uniform; returns the id maximising logit - ln(-ln r). Entries of -infinity
// (masked) or NaN are never chosen; draw() is still called for them, so an unkeyed stream advances
// the same whatever the mask.
template <typename IdOf, typename LogitOf, typename Draw>
std::uint32_t gumbel_argmax(std::size_t count, IdOf id_of, LogitOf logit_of, Draw draw) {
  double best = -std::numeric_limits<double>::infinity();
  std::uint32_t chosen = 0;
  bool any = false;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint32_t id = id_of(i);
    const double r = draw(id);
    const float logit = logit_of(i);
    if (!(logit > -std::numeric_limits<float>::infinity())) continue;
    const double key = static_cast<double>(logit) - std::log(-std::log(r));
    if (!any || key > best) {
      best = key;
      chosen = id;
      any = true;
    }
  }
  if (!any) throw Error(ErrorCode::invalid_argument, "every logit is -infinity or NaN: there is no token to choose");
  return chosen;
}

}  // namespace

GumbelMaxScheme::GumbelMaxScheme(const WatermarkKey& key)
    : prf_(std::make_shared<const ContextPrf>(gumbel_key(key),
                                              key.params().scheme_version >= 2 ? kContextPrfPurposeV2 : kContextPrfPurpose,
                                              key.params().context_width)),
      context_width_(key.params().context_width),
      vocab_size_(key.params().vocab_size),
      version_(key.params().scheme_version) {
  if (version_ >= 2) {
    token_values32_ = keyed_token_values32(key, kTokenValuesPurposeV2);
  } else {
    token_values_ = keyed_token_values64(key, kTokenValuesPurpose);
  }
}

std::uint64_t GumbelMaxScheme::context_seed(std::span<const std::uint32_t> context) const noexcept {
  return prf_->seed(context);
}

void GumbelMaxScheme::context_seeds(std::span<const std::uint32_t> contexts, std::span<std::uint64_t> seeds) const {
  prf_->seeds(contexts, seeds);
}

double GumbelMaxScheme::score(std::uint64_t seed, std::uint32_t token) const noexcept {
  // Version 2: the lower end of r's cell of width 2^-32 (k 2^-32), exactly as the header says.
  if (version_ >= 2) return -std::log1p(-static_cast<double>(value_v2(seed, token_values32_[token])) * 0x1p-32);
  return -std::log1p(-uniform(seed, token));
}

std::uint32_t GumbelMaxScheme::choose_token_v2(std::uint64_t seed, std::span<const float> logits) const {
  // gumbel_screen.hpp: the exact key of the largest logit's id gives the floor; the screen flags
  // every id that could reach it; the exact keys of the flagged ids decide, in id order (lowest id
  // on a tie, as the definition).
  const std::size_t first = gumbel_detail::first_largest(logits.data(), vocab_size_);
  if (first == vocab_size_) throw Error(ErrorCode::invalid_argument, "every logit is -infinity or NaN: there is no token to choose");
  if (!(logits[first] < std::numeric_limits<float>::infinity())) {  // +infinity: the definition's own loop
    return gumbel_argmax(
        vocab_size_, [](std::size_t i) { return static_cast<std::uint32_t>(i); }, [&](std::size_t i) { return logits[i]; },
        [&](std::uint32_t id) { return uniform(seed, id); });
  }
  auto exact_key = [&](std::uint32_t t) { return static_cast<double>(logits[t]) - std::log(-std::log(uniform(seed, t))); };
  const double anchor = exact_key(static_cast<std::uint32_t>(first));
  // The margin covers the float rounding of logit + bound (relative 2^-24) and of the bound itself.
  auto floor_below = [](double key) {
    const double exact = key - (1e-4 + 0x1p-20 * (std::abs(key) + 1));
    const float rounded = static_cast<float>(exact);
    return static_cast<double>(rounded) > exact ? std::nextafter(rounded, -std::numeric_limits<float>::infinity()) : rounded;
  };
  thread_local std::vector<std::uint8_t> flags;
  flags.resize(vocab_size_ + 8);
  std::fill(flags.begin() + vocab_size_, flags.end(), std::uint8_t{0});
  std::size_t flagged = gumbel_detail::screen_v2(logits.data(), token_values32_.data(), vocab_size_, seed,
                                                 floor_below(anchor), flags.data());
  static_assert(std::endian::native == std::endian::little, "flag i of a word is its byte i");
  auto for_each_flagged = [&](auto&& visit) {  // eight flags a load; each set flag is bit 8i of the word
    for (std::size_t block = 0; block < vocab_size_; block += 8) {
      std::uint64_t eight = 0;
      std::memcpy(&eight, flags.data() + block, 8);
      while (eight != 0) {  // the padding after vocab_size_ is zero, so every set flag is an id
        visit(static_cast<std::uint32_t>(block + static_cast<std::size_t>(std::countr_zero(eight)) / 8));
        eight &= eight - 1;
      }
    }
  };
  // A near-flat row lets many ids through: raise the floor to the best exact key of an even sample
  // of them (the anchor stays a floor: any id's exact key is) and screen again.
  constexpr std::size_t kRescreenAbove = 1024, kAnchorSample = 256;
  if (flagged > kRescreenAbove) {
    double raised = anchor;
    std::size_t seen = 0;
    const std::size_t stride = flagged / kAnchorSample;
    for_each_flagged([&](std::uint32_t t) {
      if (seen++ % stride == 0) raised = std::max(raised, exact_key(t));
    });
    flagged = gumbel_detail::screen_v2(logits.data(), token_values32_.data(), vocab_size_, seed, floor_below(raised),
                                       flags.data());
  }
  double best = -std::numeric_limits<double>::infinity();
  std::uint32_t chosen = static_cast<std::uint32_t>(first);
  bool any = false;
  for_each_flagged([&](std::uint32_t t) {  // in id order, so the lowest id wins a tie
    const double key = exact_key(t);
    if (!any || key > best) {
      best = key;
      chosen = t;
      any = true;
    }
  });
  return chosen;
}

std::uint32_t GumbelMaxScheme::choose_token(std::uint64_t seed, std::span<const float> logits) const {
  check_logits_row(logits, vocab_size_);
  if (version_ >= 2) return choose_token_v2(seed, logits);
  // Two passes (gumbel_full_row.hpp): approximate keys, then the exact keys of the few ids that
  // could be the largest. The result is the definition's (the loop below), which stays the
  // fallback when a logit is +infinity.
  thread_local std::vector<float> keys;
  keys.resize(vocab_size_);
  const float largest = gumbel_detail::approximate_keys(logits.data(), token_values_.data(), vocab_size_, seed, keys.data());
  if (largest == -std::numeric_limits<float>::infinity()) {
    throw Error(ErrorCode::invalid_argument, "every logit is -infinity or NaN: there is no token to choose");
  }
  if (largest < std::numeric_limits<float>::infinity()) {
    const double margin = 2 * gumbel_detail::kGumbelApproximationError + 0x1p-22 * (std::abs(static_cast<double>(largest)) + 1);
    const double threshold = static_cast<double>(largest) - margin;
    double best = -std::numeric_limits<double>::infinity();
    std::uint32_t chosen = 0;
    for (std::uint32_t t = 0; t < vocab_size_; ++t) {
      if (!(static_cast<double>(keys[t]) >= threshold)) continue;
      const double key = static_cast<double>(logits[t]) - std::log(-std::log(uniform(seed, t)));
      if (key > best) {
        best = key;
        chosen = t;
      }
    }
    return chosen;
  }
  return gumbel_argmax(
      vocab_size_, [](std::size_t i) { return static_cast<std::uint32_t>(i); }, [&](std::size_t i) { return logits[i]; },
      [&](std::uint32_t id) { return uniform(seed, id); });
}

std::uint32_t GumbelMaxScheme::choose_candidate(std::uint64_t seed, std::span<const Candidate> candidates) const {
  check_candidates(candidates, vocab_size_);
  return gumbel_argmax(
      candidates.size(), [&](std::size_t i) { return candidates[i].id; }, [&](std::size_t i) { return candidates[i].logit; },
      [&](std::uint32_t id) { return uniform(seed, id); });
}

std::uint32_t GumbelMaxScheme::choose_token_unkeyed(std::mt19937_64& random, std::span<const float> logits) const {
  check_logits_row(logits, vocab_size_);
  return gumbel_argmax(
      vocab_size_, [](std::size_t i) { return static_cast<std::uint32_t>(i); }, [&](std::size_t i) { return logits[i]; },
      [&](std::uint32_t) { return unit_interval(random()); });
}

std::uint32_t GumbelMaxScheme::choose_candidate_unkeyed(std::mt19937_64& random,
                                                        std::span<const Candidate> candidates) const {
  check_candidates(candidates, vocab_size_);
  return gumbel_argmax(
      candidates.size(), [&](std::size_t i) { return candidates[i].id; }, [&](std::size_t i) { return candidates[i].logit; },
      [&](std::uint32_t) { return unit_interval(random()); });
}

}  // namespace tracemark
