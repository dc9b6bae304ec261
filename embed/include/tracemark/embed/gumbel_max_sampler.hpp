// Per-response state of the Gumbel-max scheme in a serving engine's decoding loop. Where the green
// list biases logits and lets the engine sample (WatermarkProcessor::apply), this scheme IS the
// sampler: the engine hands over the final logits (after temperature, top-k, penalties) and takes
// the chosen token:
//
//   sampler.reset(prompt_ids, request_seed);
//   loop: token = sampler.choose(logits);  sampler.accept(token);
//
// A step whose context (the last h ids) already occurred earlier in this response is not keyed:
// its token is drawn by the same Gumbel-max rule from the request's own random stream (seeded by
// request_seed), so the response does not loop on a repeated phrase and the detector, which scores
// only the first occurrence of each context in a document, loses nothing it could have scored.
// Every step, keyed or not, is an exact draw from the softmax of the logits given.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <unordered_set>
#include <vector>

#include "tracemark/embed/gumbel_max_scheme.hpp"
#include "tracemark/embed/sampler_context.hpp"

namespace tracemark {

// Not thread-safe: one sampler per sequence. Copyable (the scheme is shared and immutable; the copy
// continues the same random stream).
class GumbelMaxSampler {
 public:
  explicit GumbelMaxSampler(std::shared_ptr<const GumbelMaxScheme> scheme);

  // Starts a response. The last h prompt ids form the first context (not counted as seen). The
  // request seed drives the unkeyed steps; nullopt draws one from OpenSSL's CSPRNG.
  void reset(std::span<const std::uint32_t> prompt = {}, std::optional<std::uint64_t> request_seed = std::nullopt);

  // The share of keyable steps that are keyed; the others draw from the request's stream (a coin
  // from that stream per step). 1 (the default) keys every keyable step. A context-seeded choice
  // is a function of the context, so with 1 every request with the same prompt gets the same
  // answer; a lower share trades evidence per token (the unkeyed steps score as null text) for
  // diversity across repeated prompts. The detector needs no change: it scores every first
  // occurrence of a context, and an unkeyed step's token does not depend on the key.
  // Error(invalid_argument) outside (0, 1].
  void set_keyed_fraction(double fraction);
  double keyed_fraction() const noexcept { return keyed_fraction_; }

  // Whether the current step is keyable (context full and not yet seen in this response).
  bool will_key() const noexcept { return context_.will_key(); }
  std::uint64_t current_seed() const noexcept { return context_.current_seed(); }

  // Full-vocabulary logits indexed by id, at least vocab_size() long (padding columns after it are
  // never chosen); returns the chosen id. Candidates: any order, any subset; returns the chosen id.
  // Error(invalid_argument) for a short row, an id outside the vocabulary, or nothing choosable.
  std::uint32_t choose(std::span<const float> logits);
  std::uint32_t choose(std::span<const Candidate> candidates);

  // Records the token the engine emitted (normally the one chosen) and moves to the next step.
  void accept(std::uint32_t token) { context_.accept(token); }

  const GumbelMaxScheme& scheme() const noexcept { return *scheme_; }

 private:
  bool keyed_this_step();

  std::shared_ptr<const GumbelMaxScheme> scheme_;
  SamplerContext<GumbelMaxScheme> context_;
  double keyed_fraction_ = 1.0;
};

}  // namespace tracemark
