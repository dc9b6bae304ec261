#include "tracemark/verify/tuple_set.hpp"

#include <algorithm>
#include <utility>

namespace tracemark {
namespace {

constexpr std::size_t kInitialSlots = 64;

}  // namespace

void TupleSet::insert_after_growth(std::uint64_t fingerprint) {
  grow();
  std::size_t slot = home_slot(fingerprint);
  while (slots_[slot] != kEmpty) {
    if (++slot == slots_.size()) slot = 0;
  }
  slots_[slot] = fingerprint;
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
  const ZeroedSlots old = std::exchange(slots_, ZeroedSlots(std::max(slots, kInitialSlots)));
  // From insert(): twice the entries after this insert, so half full, at most 16 bytes a tuple (the
  // next growth comes at 3/4 full, 1.5x later); from reserve_more(): half full before the batch, or
  // 3/4 full once the batch is in when the batch alone needs more. The old table is read in slot
  // order, which is (nearly) the order of the new home slots (both are the fingerprint's high bits):
  // the rehash writes the new table almost sequentially.
  for (std::size_t i = 0; i < old.size(); ++i) {
    const std::uint64_t fingerprint = old[i];
    if (fingerprint == kEmpty) continue;
    std::size_t slot = home_slot(fingerprint);
    while (slots_[slot] != kEmpty) {
      if (++slot == slots_.size()) slot = 0;
    }
    slots_[slot] = fingerprint;
  }
}

}  // namespace tracemark
