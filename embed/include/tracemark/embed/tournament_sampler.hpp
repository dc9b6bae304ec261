// Per-response state of the SynthID tournament scheme in a serving engine's decoding loop. Like the
// Gumbel-max scheme, this scheme IS the sampler: the engine hands over the final logits (after
// temperature, top-k, penalties) and takes the chosen token:
//
//   sampler.reset(prompt_ids, request_seed);
//   loop: token = sampler.choose(logits);  sampler.accept(token);
//
// The interface is exactly GumbelMaxSampler's, so one decoding loop drives either.
//
// A keyed step reweights the distribution by the key's tournament (tournament_scheme.hpp) and draws
// from the result with the request's own random stream; a step whose context (the last h ids)
// already occurred earlier in this response is not keyed: its token is drawn from the softmax itself
// with the same stream, and the detector, which scores only the first occurrence of each context in
// a document, skips it likewise.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <unordered_set>
#include <vector>

#include "tracemark/embed/sampler_context.hpp"
#include "tracemark/embed/tournament_scheme.hpp"

namespace tracemark {

// Not thread-safe: one sampler per sequence. Copyable (the scheme is shared and immutable; the copy
// continues the same random stream and has its own workspace).
class TournamentSampler {
 public:
  explicit TournamentSampler(std::shared_ptr<const TournamentScheme> scheme);

  // Starts a response. The last h prompt ids form the first context (not counted as seen). The
  // request seed drives every draw (keyed steps draw from the tournament's distribution, unkeyed
  // ones from the softmax); nullopt draws one from OpenSSL's CSPRNG.
  void reset(std::span<const std::uint32_t> prompt = {}, std::optional<std::uint64_t> request_seed = std::nullopt);

  // Whether the current step is keyed (context full and not yet seen in this response).
  bool will_key() const noexcept { return context_.will_key(); }
  std::uint64_t current_seed() const noexcept { return context_.current_seed(); }

  // Full-vocabulary logits indexed by id, at least vocab_size() long (padding columns after it are
  // never chosen); returns the chosen id. Candidates: any order, any subset; returns the chosen id.
  // Error(invalid_argument) for a short row, an id outside the vocabulary, or nothing choosable.
  std::uint32_t choose(std::span<const float> logits);
  std::uint32_t choose(std::span<const Candidate> candidates);

  // Records the token the engine emitted (normally the one chosen) and moves to the next step.
  void accept(std::uint32_t token) { context_.accept(token); }

  const TournamentScheme& scheme() const noexcept { return *scheme_; }

 private:
  std::shared_ptr<const TournamentScheme> scheme_;
  SamplerContext<TournamentScheme> context_;
  TournamentScheme::Workspace workspace_;
};

}  // namespace tracemark
