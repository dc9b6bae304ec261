// A synthetic next-token model with realistic entropy, for tests, benchmarks and the demo until
// the reference n-gram model exists. Not a language model: each context (the previous two ids)
// gets a Zipf-like distribution over the whole vocabulary, logit(t) = -s ln(1 + V u(ctx, t)),
// with u a hash-derived uniform, so ranks are a pseudo-random permutation per context.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tracemark/embed/watermark_processor.hpp"

namespace tracemark {

// The synthetic model keeps a few arrays of vocab_size entries per step, so its vocabulary is
// capped (whether the size comes from --vocab-size or from a key file).
inline constexpr std::uint32_t kSyntheticModelMaxVocabulary = 1u << 24;

struct SyntheticModelOptions {
  std::uint32_t vocab_size = 32000;  // 2..kSyntheticModelMaxVocabulary
  double zipf_exponent = 2.0;  // larger: lower entropy; 2.0 gives about 2.5 nats per token at V = 32000
  std::uint64_t model_seed = 1;
};

// Deterministic, splittable pseudo-random numbers (SplitMix64, Steele et al. 2014).
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)

 private:
  std::uint64_t state_;
};

// Immutable; thread-safe.
class SyntheticModel {
 public:
  explicit SyntheticModel(SyntheticModelOptions options);

  // Fills logits (size vocab_size) for the context (the ids so far; only the last two matter).
  void logits(std::span<const std::uint32_t> history, std::span<float> out) const;
  // Entropy in nats of the next-token distribution after the history (for reporting).
  double entropy(std::span<const std::uint32_t> history) const;

  // Samples `length` tokens at temperature 1. With a processor, its watermark is applied at every
  // step exactly as a serving engine would (reset, apply, accept).
  std::vector<std::uint32_t> generate(std::size_t length, SplitMix64& rng, WatermarkProcessor* processor) const;

  std::uint32_t vocab_size() const noexcept { return options_.vocab_size; }

 private:
  SyntheticModelOptions options_;
};

}  // namespace tracemark
