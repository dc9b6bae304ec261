#include "tracemark/refmodel/response_generator.hpp"

#include <string>

#include "ngram_decoding_session.hpp"
#include "tracemark/embed/step_entropy.hpp"
#include "tracemark/error.hpp"

namespace tracemark {

void GenerationOptions::validate() const {
  if (max_tokens < 1 || max_tokens > 1'000'000) {
    throw Error(ErrorCode::invalid_argument, "max tokens " + std::to_string(max_tokens) + " is out of range; use 1 to 1000000");
  }
  sampling.validate();
}

std::uint64_t response_stream_seed(std::uint64_t seed, std::uint64_t index) noexcept {
  // Two SplitMix64 outputs: one scrambles the run seed, the second the index under it; nearby
  // (seed, index) pairs do not give overlapping SplitMix64 sequences.
  SplitMix64 run(seed);
  SplitMix64 response(run.next() ^ (index * 0xd1b54a32d192ed03ULL));
  return response.next();
}

std::vector<std::uint32_t> generate_response(const NgramModel& model, std::span<const std::uint32_t> prompt,
                                             const GenerationOptions& options, SplitMix64& rng,
                                             WatermarkProcessor* processor, GenerationScratch& scratch,
                                             std::vector<float>* step_entropy) {
  return generate_response_streaming(model, prompt, options, rng, processor, scratch,
                                     [](std::uint32_t) { return true; }, step_entropy);
}

std::vector<std::uint32_t> generate_response_streaming(const NgramModel& model, std::span<const std::uint32_t> prompt,
                                                       const GenerationOptions& options, SplitMix64& rng,
                                                       WatermarkProcessor* processor, GenerationScratch& scratch,
                                                       const std::function<bool(std::uint32_t)>& on_token,
                                                       std::vector<float>* step_entropy) {
  NgramDecodingSession session(model, prompt, scratch.history, scratch.model);
  return decode_response_streaming(session, prompt, options, rng, processor, scratch, on_token, step_entropy);
}

std::unique_ptr<DecodingSession> start_ngram_session(const NgramModel& model, std::span<const std::uint32_t> prompt,
                                                     GenerationScratch& scratch) {
  return std::make_unique<NgramDecodingSession>(model, prompt, scratch.history, scratch.model);
}

std::vector<std::uint32_t> decode_response(DecodingSession& session, std::span<const std::uint32_t> prompt,
                                           const GenerationOptions& options, SplitMix64& rng,
                                           WatermarkProcessor* processor, GenerationScratch& scratch,
                                           std::vector<float>* step_entropy, TopLogprobRecording* top_logprobs) {
  return decode_response_streaming(session, prompt, options, rng, processor, scratch,
                                   [](std::uint32_t) { return true; }, step_entropy, top_logprobs);
}

std::vector<std::uint32_t> decode_response_streaming(DecodingSession& session, std::span<const std::uint32_t> prompt,
                                                     const GenerationOptions& options, SplitMix64& rng,
                                                     WatermarkProcessor* processor, GenerationScratch& scratch,
                                                     const std::function<bool(std::uint32_t)>& on_token,
                                                     std::vector<float>* step_entropy,
                                                     TopLogprobRecording* top_logprobs) {
  if (step_entropy) step_entropy->clear();
  if (top_logprobs) {
    if (top_logprobs->count < 1 || top_logprobs->count > kMaxTopLogprobs) {
      throw Error(ErrorCode::invalid_argument, "top logprobs " + std::to_string(top_logprobs->count) +
                                                   " is out of range; use 1 to " + std::to_string(kMaxTopLogprobs));
    }
    top_logprobs->steps.clear();
  }
  const SamplingOptions& sampling = options.sampling;
  // A sampling scheme (Gumbel-max) replaces the sampler's randomness with the key's; its unkeyed
  // steps draw from a stream seeded here, so a response still depends only on the rng's seed.
  // Greedy decoding has no randomness to replace: the scheme then only follows the context.
  const bool scheme_chooses = processor && processor->chooses_token() && sampling.temperature > 0.0;
  if (processor) {
    processor->reset(prompt, processor->chooses_token() ? std::optional<std::uint64_t>(rng.next()) : std::nullopt);
  }
  std::vector<std::uint32_t> response;
  response.reserve(options.max_tokens);
  for (std::size_t step = 0; step < options.max_tokens; ++step) {
    std::uint32_t token = 0;
    const double uniform = rng.uniform();
    // The model's own distribution, read before the processor or the sampler touch a copy of it.
    if (top_logprobs) session.top_candidates(top_logprobs->count, top_logprobs->steps.emplace_back());
    if (sampling.top_k > 0) {
      session.top_candidates(sampling.top_k, scratch.candidates);
      if (step_entropy) step_entropy->push_back(static_cast<float>(candidates_entropy(scratch.candidates)));
      if (scheme_chooses) {
        shape_candidates_for_choice(scratch.candidates, sampling, scratch.sampler);
        token = processor->choose(std::span<const Candidate>(scratch.candidates));
      } else {
        if (processor) processor->apply(std::span<Candidate>(scratch.candidates));
        token = sample_from_candidates(scratch.candidates, sampling, uniform, scratch.sampler);
      }
    } else {
      scratch.logits.resize(session.vocab_size());
      session.log_probabilities(scratch.logits);
      if (step_entropy) step_entropy->push_back(static_cast<float>(logits_entropy(scratch.logits)));
      if (scheme_chooses) {
        shape_logits_for_choice(scratch.logits, sampling, scratch.sampler);
        token = processor->choose(std::span<const float>(scratch.logits));
      } else {
        if (processor) processor->apply(std::span<float>(scratch.logits));
        token = sample_from_logits(scratch.logits, sampling, uniform, scratch.sampler);
      }
    }
    if (processor) processor->accept(token);
    response.push_back(token);
    // The session conditions on the token only when another step follows: a transformer's
    // forward pass for a token nobody reads is wasted work.
    if (!on_token(token)) break;
    if (step + 1 < options.max_tokens) session.accept(token);
  }
  return response;
}

}  // namespace tracemark
