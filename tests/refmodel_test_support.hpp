// Helpers for the reference model tests: tiny corpora and a trained model file in a temp folder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "tracemark/refmodel/ngram_counter.hpp"
#include "tracemark/refmodel/ngram_model.hpp"
#include "tracemark/refmodel/ngram_model_writer.hpp"
#include "tracemark/refmodel/synthetic_model.hpp"

namespace tracemark::testing {

// Documents over ids 0..used-1 of a vocabulary that may be larger (ids >= used are never seen in
// training), with a skewed distribution and some repeated phrases so that all count-of-counts occur.
inline std::vector<std::vector<std::uint32_t>> tiny_corpus(std::uint32_t used, std::size_t documents,
                                                           std::size_t length, std::uint64_t seed) {
  SplitMix64 rng(seed);
  std::vector<std::vector<std::uint32_t>> corpus(documents);
  for (auto& document : corpus) {
    for (std::size_t i = 0; i < length; ++i) {
      const double u = rng.uniform();
      document.push_back(static_cast<std::uint32_t>(u * u * used));  // low ids more frequent
      if (i % 7 == 3) {  // a recurring phrase
        document.push_back(1);
        document.push_back(2);
      }
    }
  }
  return corpus;
}

inline NgramModel train_model(const std::vector<std::vector<std::uint32_t>>& corpus, std::uint32_t order,
                              std::uint32_t vocab_size, const std::filesystem::path& path,
                              const ModelTokenizerRecord& tokenizer = {},
                              const std::vector<std::uint32_t>& unpredictable_ids = {}) {
  NgramCounter counter(order, vocab_size);
  for (const auto& document : corpus) counter.add_document(document);
  NgramTables tables = counter.build();
  tables.unpredictable_ids = unpredictable_ids;
  write_ngram_model(tables, tokenizer, path, true);
  return NgramModel::load(path);
}

// Samples `length` tokens from the synthetic model with a sampling scheme's sampler (GumbelMaxSampler,
// TournamentSampler: reset, choose, accept), the request seed given.
template <typename Sampler>
std::vector<std::uint32_t> sample(const SyntheticModel& model, Sampler& sampler, std::size_t length,
                                  std::uint64_t request_seed, std::span<const std::uint32_t> prompt) {
  std::vector<std::uint32_t> history(prompt.begin(), prompt.end());
  std::vector<float> logits(model.vocab_size());
  sampler.reset(prompt, request_seed);
  std::vector<std::uint32_t> response;
  for (std::size_t i = 0; i < length; ++i) {
    model.logits(history, logits);
    const std::uint32_t token = sampler.choose(std::span<const float>(logits));
    sampler.accept(token);
    history.push_back(token);
    response.push_back(token);
  }
  return response;
}

}  // namespace tracemark::testing
