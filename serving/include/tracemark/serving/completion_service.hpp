// The model behind `tracemark serve`: the reference n-gram model and its tokenizer, turning
// validated requests into tokens watermarked with the key each request is given.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "tracemark/refmodel/reference_model.hpp"
#include "tracemark/refmodel/response_generator.hpp"
#include "tracemark/serving/openai_protocol.hpp"
#include "tracemark/embed/serving_scheme.hpp"
#include "tracemark/embed/watermark_processor.hpp"

namespace tracemark::serving {

struct ModelTextCodec {
  std::function<std::vector<std::uint32_t>(std::string_view)> encode;  // text -> ids
  std::function<std::string(std::span<const std::uint32_t>)> decode;   // ids -> bytes (maybe cut UTF-8)
};

// Thread-safe: the model is immutable and shared; each generate() call borrows its own working
// memory from a pool, so any number of requests run concurrently.
class CompletionService {
 public:
  // top_k: 0 for the whole vocabulary.
  // processor: options every request's WatermarkProcessor gets (a gumbel-max key's keyed fraction).
  CompletionService(ReferenceModel model, ModelTextCodec codec, std::uint32_t top_k, ProcessorOptions processor = {});

  // The prompt ids of a request (chat: the rendered conversation). Throws ApiError 400 for token ids
  // outside the vocabulary.
  std::vector<std::uint32_t> prompt_tokens(const CompletionRequest& request) const;

  // Generates request.max_tokens tokens after the prompt with the request's sampling settings,
  // watermarked with `scheme` (not empty: serve always watermarks; any scheme), calling on_token for each as soon
  // as it is sampled; stops early when on_token returns false. The output depends only on (prompt,
  // settings, seed, key).
  std::vector<std::uint32_t> generate(std::span<const std::uint32_t> prompt, const CompletionRequest& request,
                                      std::uint64_t seed, const ServingScheme& scheme,
                                      const std::function<bool(std::uint32_t)>& on_token,
                                      std::vector<float>* step_entropy = nullptr) const;

  std::string decode(std::span<const std::uint32_t> tokens) const { return codec_.decode(tokens); }
  std::uint32_t vocab_size() const noexcept { return model_.vocab_size(); }

 private:
  std::unique_ptr<GenerationScratch> borrow_scratch() const;
  void return_scratch(std::unique_ptr<GenerationScratch> scratch) const;

  ReferenceModel model_;
  ModelTextCodec codec_;
  std::uint32_t top_k_;
  ProcessorOptions processor_options_;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<GenerationScratch>> pool_;
};

}  // namespace tracemark::serving
