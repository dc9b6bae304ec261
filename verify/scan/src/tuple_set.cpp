#include "tracemark/verify/tuple_set.hpp"

#include <algorithm>

namespace tracemark {
namespace {

// Fingerprints are XXH3 outputs, uniform over 64 bits, so no further mixing is needed.
constexpr std::uint64_t kEmpty = 0;
constexpr std::size_t kInitialSlots = 64;

}  // namespace

bool TupleSet::insert(std::uint64_t fingerprint) {
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
    grow();
    slot = home_slot(fingerprint);
    while (slots_[slot] != kEmpty) {
      if (++slot == slots_.size()) slot = 0;
    }
  }
  slots_[slot] = fingerprint;
  ++size_;
  return true;
}

void TupleSet::reserve_more(std::size_t count) {
  const std::size_t needed = (4 * (size_ + count)) / 3 + 1;
  if (needed <= slots_.size() || count == 0) return;
  // Grow geometrically, as insert() does: at least to half full before the batch (2 slots per tuple
  // held). Growing only to `needed` made every batch of a long scan rehash the whole table again
  // (a batch's candidates are mostly new), so the cost grew with the square of the input
  // (issue 20: 60% of a 10M-token scan was spent in rehash()).
  rehash(std::max(needed, 2 * (size_ + 1)));
}

void TupleSet::rehash(std::size_t slots) {
  std::vector<std::uint64_t> old = std::move(slots_);
  // From insert(): twice the entries after this insert, so half full, at most 16 bytes a tuple (the
  // next growth comes at 3/4 full, 1.5x later); from reserve_more(): half full before the batch, or
  // 3/4 full once the batch is in when the batch alone needs more.
  slots_.assign(std::max(slots, kInitialSlots), kEmpty);
  slots_.shrink_to_fit();
  for (std::uint64_t fingerprint : old) {
    if (fingerprint == kEmpty) continue;
    std::size_t slot = home_slot(fingerprint);
    while (slots_[slot] != kEmpty) {
      if (++slot == slots_.size()) slot = 0;
    }
    slots_[slot] = fingerprint;
  }
}

}  // namespace tracemark
