// An approximate-membership filter over 64-bit context fingerprints: the 8-bit xor filter of Graf and
// Lemire ("Xor Filters: Faster and Smaller Than Bloom and Cuckoo Filters", ACM JEA 2020), written
// here from the paper (Debian packages no C or C++ one). About 1.23 bytes per context (plus 32
// slots) and a false-positive rate of 1/256 for a fingerprint that was not added; never a false
// negative. For the scan's reference-context filter at campaign scale (reference_filter_file.hpp):
// a false positive only lets the scan score a context that the log did not hold, and which contexts
// are scored is still decided without the key (docs/METHOD.md).
//
// Construction: each fingerprint is mixed with a seed into a hash h; h picks one slot in each of
// three equal segments and an 8-bit tag; slots are peeled (a slot hit by one remaining key fixes
// that key) and filled in reverse peeling order so that the XOR of a key's three slots is its tag.
// A seed whose hypergraph does not peel is replaced by the next (rare: under 1% of tries at 1.23x).
// The result depends only on the set of fingerprints, not on their order.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tracemark {

// Immutable once built; contains() is thread-safe.
class ContextXorFilter {
 public:
  // Builds a filter holding `fingerprints`, which must be distinct (Error(invalid_argument) when a
  // repeat makes construction impossible). Deterministic: the same set gives the same bytes.
  static ContextXorFilter build(std::span<const std::uint64_t> fingerprints);
  // A filter from stored parts (reference_filter_file.hpp); Error(invalid_input) when they cannot
  // be a filter (slots not three equal segments).
  static ContextXorFilter from_parts(std::uint64_t seed, std::vector<std::uint8_t> slots);

  bool contains(std::uint64_t fingerprint) const noexcept {
    const std::uint64_t hash = mix(fingerprint + seed_);
    return tag(hash) == (slots_[slot(hash, 0)] ^ slots_[slot(hash, 1)] ^ slots_[slot(hash, 2)]);
  }
  std::uint64_t seed() const noexcept { return seed_; }
  std::span<const std::uint8_t> slots() const noexcept { return slots_; }
  std::size_t memory_bytes() const noexcept { return slots_.size(); }

 private:
  ContextXorFilter(std::uint64_t seed, std::vector<std::uint8_t> slots);
  // The 64-bit finaliser of MurmurHash3 (a bijection), so distinct fingerprints keep distinct hashes.
  static std::uint64_t mix(std::uint64_t h) noexcept {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
  }
  static std::uint8_t tag(std::uint64_t hash) noexcept { return static_cast<std::uint8_t>(hash ^ (hash >> 32)); }
  // Slot of segment i (0, 1, 2): a rotation of the hash per segment, mapped onto the segment by a
  // multiply-shift (Lemire's reduction).
  std::size_t slot(std::uint64_t hash, unsigned i) const noexcept {
    const std::uint64_t rotated = i == 0 ? hash : (hash << (21 * i)) | (hash >> (64 - 21 * i));
    return static_cast<std::size_t>(((rotated & 0xffffffffULL) * segment_) >> 32) + i * segment_;
  }

  std::uint64_t seed_ = 0;
  std::uint64_t segment_ = 0;  // slots per segment; slots_.size() == 3 * segment_
  std::vector<std::uint8_t> slots_;
};

}  // namespace tracemark
