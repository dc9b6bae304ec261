#include "tracemark/verify/context_xor_filter.hpp"

#include <cmath>
#include <string>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

// Seeds tried in turn: SplitMix64's sequence from a fixed start, so a build is reproducible.
std::uint64_t next_seed(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Segments must stay below 2^32 slots for the 32-bit multiply-shift of slot().
constexpr std::uint64_t kMaxFingerprints = 3'000'000'000ULL;
constexpr int kMaxSeeds = 100;

}  // namespace

ContextXorFilter::ContextXorFilter(std::uint64_t seed, std::vector<std::uint8_t> slots)
    : seed_(seed), segment_(slots.size() / 3), slots_(std::move(slots)) {}

ContextXorFilter ContextXorFilter::from_parts(std::uint64_t seed, std::vector<std::uint8_t> slots) {
  if (slots.empty() || slots.size() % 3 != 0 || slots.size() / 3 >= (std::uint64_t{1} << 32)) {
    throw Error(ErrorCode::invalid_input, "a context filter of " + std::to_string(slots.size()) +
                                              " slots: not three equal segments of fewer than 2^32 slots");
  }
  return ContextXorFilter(seed, std::move(slots));
}

ContextXorFilter ContextXorFilter::build(std::span<const std::uint64_t> fingerprints) {
  if (fingerprints.size() > kMaxFingerprints) {
    throw Error(ErrorCode::invalid_argument, "a context filter holds at most 3e9 contexts (" +
                                                 std::to_string(fingerprints.size()) + " given); use --reference-top");
  }
  // 1.23 n + 32 slots (the paper's size for 8-bit tags), in three equal segments.
  const std::uint64_t segment =
      (32 + static_cast<std::uint64_t>(std::ceil(1.23 * static_cast<double>(fingerprints.size()))) + 2) / 3;
  ContextXorFilter filter(0, std::vector<std::uint8_t>(3 * segment, 0));
  const std::size_t capacity = filter.slots_.size();
  std::vector<std::uint32_t> count(capacity);
  std::vector<std::uint64_t> xor_of_hashes(capacity);
  std::vector<std::size_t> queue;
  std::vector<std::pair<std::size_t, std::uint64_t>> peeled;  // (slot, hash) in peeling order
  peeled.reserve(fingerprints.size());
  std::uint64_t seed_state = 0x74726163656d6172ULL;  // "tracemar"
  for (int attempt = 0; attempt < kMaxSeeds; ++attempt) {
    filter.seed_ = next_seed(seed_state);
    std::fill(count.begin(), count.end(), 0u);
    std::fill(xor_of_hashes.begin(), xor_of_hashes.end(), 0u);
    for (std::uint64_t fingerprint : fingerprints) {
      const std::uint64_t hash = mix(fingerprint + filter.seed_);
      for (unsigned i = 0; i < 3; ++i) {
        const std::size_t s = filter.slot(hash, i);
        ++count[s];
        xor_of_hashes[s] ^= hash;
      }
    }
    queue.clear();
    peeled.clear();
    for (std::size_t s = 0; s < capacity; ++s) {
      if (count[s] == 1) queue.push_back(s);
    }
    while (!queue.empty()) {
      const std::size_t s = queue.back();
      queue.pop_back();
      if (count[s] != 1) continue;  // its one key was peeled through another slot meanwhile
      const std::uint64_t hash = xor_of_hashes[s];
      peeled.emplace_back(s, hash);
      for (unsigned i = 0; i < 3; ++i) {
        const std::size_t other = filter.slot(hash, i);
        xor_of_hashes[other] ^= hash;
        if (--count[other] == 1) queue.push_back(other);
      }
    }
    if (peeled.size() != fingerprints.size()) continue;  // a core that does not peel: next seed
    // Fill in reverse peeling order: each key's slot is still free (0) when it is set, and none of
    // its other two slots changes afterwards.
    for (auto it = peeled.rbegin(); it != peeled.rend(); ++it) {
      const auto [s, hash] = *it;
      filter.slots_[s] = static_cast<std::uint8_t>(tag(hash) ^ filter.slots_[filter.slot(hash, 0)] ^
                                                   filter.slots_[filter.slot(hash, 1)] ^ filter.slots_[filter.slot(hash, 2)]);
    }
    return filter;
  }
  throw Error(ErrorCode::invalid_argument, "could not build a context filter in " + std::to_string(kMaxSeeds) +
                                               " tries: are the fingerprints distinct?");
}

}  // namespace tracemark
