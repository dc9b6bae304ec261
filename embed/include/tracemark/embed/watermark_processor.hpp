// Per-response watermarking state for a serving engine's decoding loop, for any scheme:
//
//   processor.reset(prompt_ids);
//   loop: processor.apply(logits);
//         token = processor.chooses_token() ? processor.choose(logits) : sample(logits);
//         processor.accept(token);
//
// The green list biases the logits and leaves the sampling to the engine. A sampling scheme
// (Gumbel-max, gumbel_max_sampler.hpp; the SynthID tournament, tournament_sampler.hpp) leaves the
// logits alone in apply() and picks the token in choose(): Gumbel-max draws exactly from their
// softmax with the key's randomness, the tournament reweights by the key and draws with the
// request's (distortion-free on average over keys). So the engine hands
// over its final logits (after temperature, top-k, top-p and penalties) and takes the token back,
// as a sampler plug-in of an inference engine does. The rest of this comment is about the green list.
//
// apply() adds delta to the green logits of the current context, unless the context (the last h
// tokens) was already the context of an earlier step of this response: repeated contexts are left
// unbiased (as SynthID-Text does), which keeps repeated phrases from compounding the bias, and the
// detector masks them the same way. With h = 0 there is no context and every step is biased.
//
// Two options spend the bias only where it can act (docs/METHOD.md, "Which steps are scored"):
//   - entropy threshold (the key's, by default): a step is biased only when the softmax of the
//     logits handed to apply() (before any bias) has entropy >= the threshold (step_entropy.hpp);
//   - syntax rule (token_syntax.hpp): only free tokens are biased, and their total probability is
//     kept as it was, so the chance that the next token is syntax (a bracket, a keyword, a schema's
//     argument name) is exactly the model's; inside a JSON object key nothing is biased.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <unordered_set>
#include <type_traits>
#include <variant>
#include <vector>

#include "tracemark/embed/green_list_scheme.hpp"
#include "tracemark/embed/gumbel_max_sampler.hpp"
#include "tracemark/embed/tournament_sampler.hpp"
#include "tracemark/embed/serving_scheme.hpp"
#include "tracemark/embed/token_syntax.hpp"

namespace tracemark {

struct ProcessorOptions {
  // nats; nullopt takes the key's (SchemeParams::entropy_threshold). The detector scores by the
  // key's threshold, so another value here only makes sense for experiments. Green list only.
  std::optional<double> entropy_threshold;
  // The syntax rule over the key's vocabulary; null biases every token. Green list only: a
  // sampling scheme never changes any token's probability, syntax or not.
  std::shared_ptr<const TokenSyntax> syntax;
  // Gumbel-max only (GumbelMaxSampler::set_keyed_fraction): the share of keyable steps keyed;
  // nullopt keys them all. (The tournament draws every step with the request's randomness already.)
  std::optional<double> keyed_fraction;
};

// Not thread-safe: one processor per sequence. Copying is cheap (the scheme is shared, immutable)
// and gives an independent processor, as needed when a sequence forks (beam search, n > 1).
class WatermarkProcessor {
 public:
  explicit WatermarkProcessor(std::shared_ptr<const GreenListScheme> scheme, ProcessorOptions options = {});
  // Either scheme. Error(invalid_argument) for an empty ServingScheme, or for a sampling scheme
  // with an entropy threshold or a syntax rule (they are the green list's).
  explicit WatermarkProcessor(const ServingScheme& scheme, ProcessorOptions options = {});

  // Starts a response. The last h ids of the prompt seed the first contexts; they do not count as
  // seen contexts. An empty prompt means no bias until h tokens have been accepted. request_seed
  // drives a sampling scheme's unkeyed steps (repeated contexts); nullopt draws one from OpenSSL's
  // CSPRNG. The green list has no randomness of its own and ignores it.
  void reset(std::span<const std::uint32_t> prompt = {}, std::optional<std::uint64_t> request_seed = std::nullopt);

  // Whether this scheme picks the token (call choose()) rather than biasing the logits.
  bool chooses_token() const noexcept { return !std::holds_alternative<std::monostate>(sampler_); }
  // A sampling scheme's choice from the final logits (indexed by id, at least vocab_size() long;
  // padding columns and -infinity entries never chosen) or from candidates (any order, any
  // subset). An exact draw from their softmax; keyed when will_bias(), else from the request's
  // stream. Error(invalid_argument) for a green-list processor (it does not choose), a short row,
  // an id outside the vocabulary, or nothing choosable.
  std::uint32_t choose(std::span<const float> logits);
  std::uint32_t choose(std::span<const Candidate> candidates);

  // Whether the context allows a bias (a sampling scheme: a keyed choice) at the current step (full
  // and not repeated); apply() may still leave the step alone for its entropy or syntax
  // (last_step_biased() says).
  bool will_bias() const noexcept {
    return chooses_token() ? std::visit(WillKey{}, sampler_) : context_full_ && !current_seen_;
  }
  // The current context's seed (meaningful when will_bias()): what a device-resident bias needs
  // from the host each step (bindings/python/tracemark/device.py).
  std::uint64_t current_seed() const noexcept {
    return chooses_token() ? std::visit(CurrentSeed{}, sampler_) : current_seed_;
  }

  // Full-vocabulary logits indexed by token id. A sampling scheme only checks the length. The one
  // rule for their length, whatever the key's scheme and version: at least the key's vocabulary size, else Error(invalid_argument) (a shorter row
  // would leave part of the vocabulary unwatermarked); entries at or beyond the vocabulary size
  // (padding columns of an output layer rounded up, for example to a multiple of 64) are left
  // unchanged. The length is checked at every step, whether or not this step biases.
  void apply(std::span<float> logits) const;
  // Candidate array in any order covering any subset; throws Error(invalid_argument) for an id
  // outside the vocabulary.
  void apply(std::span<Candidate> candidates) const;

  // After apply(): the entropy (nats) of the step's unbiased distribution when the processor
  // measured it (an entropy threshold is set), and whether the step was biased.
  std::optional<double> last_step_entropy() const noexcept { return last_entropy_; }
  bool last_step_biased() const noexcept { return last_biased_; }
  double entropy_threshold() const noexcept { return threshold_; }

  // Records the sampled token and moves to the next step.
  void accept(std::uint32_t token);

  // The green-list scheme; Error(invalid_argument) for a sampling scheme's processor.
  const GreenListScheme& scheme() const;
  std::uint32_t vocab_size() const noexcept;

 private:
  void refresh_current_context();
  // One step of either path: the context, the entropy gate (measure() when a threshold is set) and
  // the syntax state decide; then bias_all() (no syntax rule) or bias_free() does the work.
  template <typename Measure, typename BiasAll, typename BiasFree>
  void bias_step(Measure measure, BiasAll bias_all, BiasFree bias_free) const;

  void require_row(std::size_t length) const;
  // Calls action(sampler) with the sampling scheme's sampler; callers check chooses_token() first.
  template <typename Action>
  void with_sampler(Action action) {
    std::visit([&](auto& sampler) {
      if constexpr (!std::is_same_v<std::decay_t<decltype(sampler)>, std::monostate>) action(sampler);
    }, sampler_);
  }

  std::shared_ptr<const GreenListScheme> scheme_;  // null for a sampling scheme
  // A sampling scheme's sampler (then the members below are unused). A variant, not a pointer to
  // an interface, so the processor stays a plain copyable value (clone, beam search).
  std::variant<std::monostate, GumbelMaxSampler, TournamentSampler> sampler_;
  struct WillKey {
    bool operator()(std::monostate) const noexcept { return false; }
    template <typename Sampler>
    bool operator()(const Sampler& sampler) const noexcept { return sampler.will_key(); }
  };
  struct CurrentSeed {
    std::uint64_t operator()(std::monostate) const noexcept { return 0; }
    template <typename Sampler>
    std::uint64_t operator()(const Sampler& sampler) const noexcept { return sampler.current_seed(); }
  };
  double threshold_ = 0;
  std::shared_ptr<const TokenSyntax> syntax_;
  SyntaxState syntax_state_;
  std::vector<std::uint32_t> context_;  // the last min(h, known) ids, oldest first
  bool context_full_ = false;
  bool current_seen_ = false;
  std::uint64_t current_seed_ = 0;
  std::unordered_set<std::uint64_t> seen_seeds_;  // seeds of contexts already used in this response
  // What the last apply() did (observability only: never read by apply() itself).
  mutable std::optional<double> last_entropy_;
  mutable bool last_biased_ = false;
};

}  // namespace tracemark
