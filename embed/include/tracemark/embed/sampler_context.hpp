// The per-response state every sampling scheme's sampler keeps (GumbelMaxSampler,
// TournamentSampler): the last h ids, the current context's seed, whether that context already
// occurred in this response (then the step is not keyed: the repeated-context rule the detectors
// mirror), and the request's own random stream.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <unordered_set>
#include <vector>

namespace tracemark {

// 64 bits from OpenSSL's CSPRNG (a request seed nobody gave).
std::uint64_t csprng_seed();

// Scheme: anything with context_width() and context_seed(span of ids). Not thread-safe; copyable
// (the scheme is shared and immutable; the copy continues the same random stream).
template <typename Scheme>
class SamplerContext {
 public:
  explicit SamplerContext(const Scheme* scheme) : scheme_(scheme) {}

  // Starts a response: the last h prompt ids form the first context (not counted as seen); the
  // request seed drives the stream, nullopt draws one from OpenSSL's CSPRNG.
  void reset(std::span<const std::uint32_t> prompt, std::optional<std::uint64_t> request_seed) {
    random_.seed(request_seed ? *request_seed : csprng_seed());
    const std::size_t take = std::min<std::size_t>(scheme_->context_width(), prompt.size());
    context_.assign(prompt.end() - static_cast<std::ptrdiff_t>(take), prompt.end());
    seen_seeds_.clear();
    refresh();
  }

  // Whether the current step is keyed (context full and not yet seen in this response).
  bool will_key() const noexcept { return context_full_ && !current_seen_; }
  std::uint64_t current_seed() const noexcept { return current_seed_; }
  std::mt19937_64& random() noexcept { return random_; }

  // Records the emitted token and moves to the next step.
  void accept(std::uint32_t token) {
    if (context_full_) {
      seen_seeds_.insert(current_seed_);
      context_.erase(context_.begin());
    }
    context_.push_back(token);
    refresh();
  }

 private:
  void refresh() {
    context_full_ = context_.size() == scheme_->context_width();
    if (!context_full_) return;
    current_seed_ = scheme_->context_seed(context_);
    current_seen_ = seen_seeds_.contains(current_seed_);
  }

  const Scheme* scheme_;
  std::mt19937_64 random_;
  std::vector<std::uint32_t> context_;  // the last min(h, known) ids, oldest first
  bool context_full_ = false;
  bool current_seen_ = false;
  std::uint64_t current_seed_ = 0;
  std::unordered_set<std::uint64_t> seen_seeds_;
};

}  // namespace tracemark
