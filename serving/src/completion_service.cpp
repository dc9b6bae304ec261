#include "tracemark/serving/completion_service.hpp"

#include "tracemark/embed/watermark_processor.hpp"

namespace tracemark::serving {

CompletionService::CompletionService(ReferenceModel model, ModelTextCodec codec, std::uint32_t top_k,
                                     ProcessorOptions processor)
    : model_(std::move(model)), codec_(std::move(codec)), top_k_(top_k), processor_options_(std::move(processor)) {}

std::vector<std::uint32_t> CompletionService::prompt_tokens(const CompletionRequest& request) const {
  if (request.endpoint == Endpoint::chat_completions) return codec_.encode(render_chat_prompt(request.messages));
  if (!request.prompt_is_tokens) return codec_.encode(request.prompt_text);
  for (std::size_t i = 0; i < request.prompt_tokens.size(); ++i) {
    if (request.prompt_tokens[i] >= model_.vocab_size()) {
      throw ApiError(400, "'prompt'[" + std::to_string(i) + "] is token id " + std::to_string(request.prompt_tokens[i]) +
                              ", outside the model's vocabulary (size " + std::to_string(model_.vocab_size()) + ")",
                     "invalid_request_error", "prompt");
    }
  }
  return request.prompt_tokens;
}

std::vector<std::uint32_t> CompletionService::generate(std::span<const std::uint32_t> prompt, const CompletionRequest& request,
                                                       std::uint64_t seed,
                                                       const ServingScheme& scheme,
                                                       const std::function<bool(std::uint32_t)>& on_token,
                                                       std::vector<float>* step_entropy) const {
  GenerationOptions options;
  options.max_tokens = request.max_tokens;
  options.sampling.temperature = request.temperature;
  options.sampling.top_p = request.top_p;
  options.sampling.top_k = top_k_;
  options.validate();
  SplitMix64 rng(response_stream_seed(seed, 0));
  WatermarkProcessor processor(scheme, processor_options_);
  std::unique_ptr<GenerationScratch> scratch = borrow_scratch();
  std::vector<std::uint32_t> tokens;
  try {
    const std::unique_ptr<DecodingSession> session = model_.start(prompt, *scratch);
    tokens = decode_response_streaming(*session, prompt, options, rng, &processor, *scratch, on_token, step_entropy);
  } catch (...) {
    return_scratch(std::move(scratch));
    throw;
  }
  return_scratch(std::move(scratch));
  return tokens;
}

std::unique_ptr<GenerationScratch> CompletionService::borrow_scratch() const {
  {
    const std::lock_guard lock(pool_mutex_);
    if (!pool_.empty()) {
      auto scratch = std::move(pool_.back());
      pool_.pop_back();
      return scratch;
    }
  }
  return std::make_unique<GenerationScratch>();
}

void CompletionService::return_scratch(std::unique_ptr<GenerationScratch> scratch) const {
  const std::lock_guard lock(pool_mutex_);
  pool_.push_back(std::move(scratch));
}

}  // namespace tracemark::serving
