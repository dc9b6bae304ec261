// The deduplication set of a scan: 64-bit tuple fingerprints in one flat open-addressing table
// (linear probing). Memory is at most 16 bytes per distinct tuple: the table grows by 1.5x when
// 3/4 full, so it is between 1/2 and 3/4 full after the first growth (8-byte slots); a
// reserve_more() for a batch adds at most 11 bytes per reserved fingerprint that was a repeat.
// The slots live in a ZeroedSlots array (huge pages for large tables: zeroed_slots.hpp).
#pragma once

#include <cstdint>

#include "tracemark/verify/zeroed_slots.hpp"

namespace tracemark {

// Not thread-safe.
class TupleSet {
 public:
  // Returns true when the fingerprint was not in the set (and inserts it). The fingerprint 0 is
  // stored as 1 (0 marks an empty slot): a key-independent merge that can only drop a tuple.
  // Inline: a scan calls it once per suspect token; the growth path is out of line.
  bool insert(std::uint64_t fingerprint) {
    if (fingerprint == kEmpty) fingerprint = 1;
    if (slots_.empty()) grow();
    std::size_t slot = home_slot(fingerprint);
    for (;;) {
      const std::uint64_t occupant = slots_[slot];
      if (occupant == fingerprint) return false;
      if (occupant == kEmpty) break;
      if (++slot == slots_.size()) slot = 0;
    }
    // A new tuple: grow first if it would make the table more than 3/4 full (only new tuples grow
    // the table, so the 16-bytes-a-tuple bound holds exactly).
    if (4 * (size_ + 1) > 3 * slots_.size()) {
      insert_after_growth(fingerprint);
    } else {
      slots_[slot] = fingerprint;
    }
    ++size_;
    return true;
  }
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
  std::size_t memory_bytes() const noexcept { return slots_.size() * sizeof(std::uint64_t); }

 private:
  // Fingerprints are XXH3 outputs, uniform over 64 bits, so no further mixing is needed.
  static constexpr std::uint64_t kEmpty = 0;
  std::size_t home_slot(std::uint64_t fingerprint) const noexcept {
    // Multiply-shift range reduction (Lemire), so the capacity need not be a power of two.
    __extension__ using Wide = unsigned __int128;  // GCC/Clang extension; pedantic-clean with __extension__
    return static_cast<std::size_t>((static_cast<Wide>(fingerprint) * slots_.size()) >> 64);
  }
  void grow() { rehash(2 * (size_ + 1)); }
  // Grows, then stores `fingerprint` (known absent) in its slot of the new table.
  void insert_after_growth(std::uint64_t fingerprint);
  void rehash(std::size_t slots);

  ZeroedSlots slots_;
  std::size_t size_ = 0;
};

}  // namespace tracemark
