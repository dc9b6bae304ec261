// The deduplication set of a scan: 64-bit tuple fingerprints in one flat open-addressing table
// (linear probing). Memory is at most 16 bytes per distinct tuple: the table grows by 1.5x when
// 3/4 full, so it is between 1/2 and 3/4 full after the first growth (8-byte slots); a
// reserve_more() for a batch adds at most 11 bytes per reserved fingerprint that was a repeat.
#pragma once

#include <cstdint>
#include <vector>

namespace tracemark {

// Not thread-safe.
class TupleSet {
 public:
  // Returns true when the fingerprint was not in the set (and inserts it). The fingerprint 0 is
  // stored as 1 (0 marks an empty slot): a key-independent merge that can only drop a tuple.
  bool insert(std::uint64_t fingerprint);
  // Makes room for `count` more fingerprints without growing while they are inserted (a batch's
  // candidates: at most 3/4 full after them). Growth is geometric (to at least twice the tuples
  // held), so a long run of batches rehashes O(log n) times, not once per batch. Memory is then at
  // most 16 bytes per tuple held plus 11 bytes per fingerprint reserved for and found already present.
  void reserve_more(std::size_t count);
  // Hints the processor to load the slot where `fingerprint` would start probing (a batch's next
  // tuples are prefetched while the current one is inserted: the set is far larger than the cache).
  void prefetch(std::uint64_t fingerprint) const noexcept {
    if (!slots_.empty()) __builtin_prefetch(slots_.data() + home_slot(fingerprint));
  }
  std::size_t size() const noexcept { return size_; }
  // Bytes held by the table.
  std::size_t memory_bytes() const noexcept { return slots_.capacity() * sizeof(std::uint64_t); }

 private:
  std::size_t home_slot(std::uint64_t fingerprint) const noexcept {
    // Multiply-shift range reduction (Lemire), so the capacity need not be a power of two.
    __extension__ using Wide = unsigned __int128;  // GCC/Clang extension; pedantic-clean with __extension__
    return static_cast<std::size_t>((static_cast<Wide>(fingerprint) * slots_.size()) >> 64);
  }
  void grow() { rehash(2 * (size_ + 1)); }
  void rehash(std::size_t slots);

  std::vector<std::uint64_t> slots_;
  std::size_t size_ = 0;
};

}  // namespace tracemark
