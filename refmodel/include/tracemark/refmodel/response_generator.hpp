// The decoding loop of the reference model, driving embed/'s WatermarkProcessor exactly as a
// serving engine would: reset(prompt); per step: logits, apply, sample, accept.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "tracemark/refmodel/decoding_session.hpp"
#include "tracemark/refmodel/ngram_model.hpp"
#include "tracemark/refmodel/token_sampler.hpp"
#include "tracemark/refmodel/synthetic_model.hpp"  // SplitMix64
#include "tracemark/embed/watermark_processor.hpp"

namespace tracemark {

struct GenerationOptions {
  std::size_t max_tokens = 200;  // response length; 1..1,000,000
  SamplingOptions sampling;

  // Throws Error(invalid_argument) naming the parameter and its range.
  void validate() const;
};

// Per-thread working memory (one per thread, reused across responses).
// What a suspect behind an API returns besides its token when asked for "top logprobs": per step,
// the model's `count` most probable next tokens with their natural-log probabilities, from the
// distribution before any watermark or sampling change (temperature, top-k, top-p).
struct TopLogprobRecording {
  std::size_t count = 0;                    // 1..kMaxTopLogprobs
  std::vector<std::vector<Candidate>> steps;  // one entry per generated token, most probable first
};
inline constexpr std::size_t kMaxTopLogprobs = 1000;

struct GenerationScratch {
  NgramScratch model;
  SamplerScratch sampler;
  std::vector<float> logits;
  std::vector<Candidate> candidates;
  std::vector<std::uint32_t> history;
};

// The seed of response number `index` under a run seed: independent streams per response, so a
// response depends only on (seed, index), never on which thread made it or in what order.
std::uint64_t response_stream_seed(std::uint64_t seed, std::uint64_t index) noexcept;

// Generates max_tokens tokens after the prompt (there is no end-of-document token). With
// options.sampling.top_k > 0 the watermark is applied to the k candidates (as SynthID-Text's
// reference does for latency), else to the full-vocabulary logits. processor: may be null (no
// watermark); it is reset with the prompt. Prompt ids must be < model.vocab_size().
// step_entropy: when not null, receives one value per generated token: the entropy (nats) of the
// distribution the processor saw at that step before any bias (embed/step_entropy.hpp), which is
// what serving records for entropy-aware detection.
std::vector<std::uint32_t> generate_response(const NgramModel& model, std::span<const std::uint32_t> prompt,
                                             const GenerationOptions& options, SplitMix64& rng,
                                             WatermarkProcessor* processor, GenerationScratch& scratch,
                                             std::vector<float>* step_entropy = nullptr);

// The same loop, handing each token to on_token as soon as it is sampled (streaming servers).
// Generation stops early, before max_tokens, when on_token returns false (for example when the
// client went away). Returns the tokens generated, the one refused by on_token included. For the
// same arguments the tokens are exactly generate_response's.
std::vector<std::uint32_t> generate_response_streaming(const NgramModel& model, std::span<const std::uint32_t> prompt,
                                                       const GenerationOptions& options, SplitMix64& rng,
                                                       WatermarkProcessor* processor, GenerationScratch& scratch,
                                                       const std::function<bool(std::uint32_t)>& on_token,
                                                       std::vector<float>* step_entropy = nullptr);

// An n-gram model's session after `prompt`, working in scratch.history and scratch.model (so
// generate_response_streaming(model, ...) is decode_response_streaming over this session).
std::unique_ptr<DecodingSession> start_ngram_session(const NgramModel& model, std::span<const std::uint32_t> prompt,
                                                     GenerationScratch& scratch);

// The loop itself, over any model kind: generate_response_streaming with a session started on the
// prompt (the session's history is the prompt; the processor is reset with `prompt`). Uses only
// scratch.sampler, scratch.logits and scratch.candidates.
std::vector<std::uint32_t> decode_response_streaming(DecodingSession& session, std::span<const std::uint32_t> prompt,
                                                     const GenerationOptions& options, SplitMix64& rng,
                                                     WatermarkProcessor* processor, GenerationScratch& scratch,
                                                     const std::function<bool(std::uint32_t)>& on_token,
                                                     std::vector<float>* step_entropy = nullptr,
                                                     TopLogprobRecording* top_logprobs = nullptr);

// decode_response_streaming without a consumer: all max_tokens tokens. top_logprobs: when not
// null, its steps are replaced by one entry per generated token.
std::vector<std::uint32_t> decode_response(DecodingSession& session, std::span<const std::uint32_t> prompt,
                                           const GenerationOptions& options, SplitMix64& rng,
                                           WatermarkProcessor* processor, GenerationScratch& scratch,
                                           std::vector<float>* step_entropy = nullptr,
                                           TopLogprobRecording* top_logprobs = nullptr);

}  // namespace tracemark
