#include "frame_counter.hpp"

#include <algorithm>

namespace tracemark::campaigns {
namespace {

std::size_t slot_of(std::uint64_t key, std::size_t size) noexcept {
  return static_cast<std::size_t>((key * 0x9e3779b97f4a7c15ULL) >> 40) & (size - 1);
}

}  // namespace

void FrameCounter::grow(std::size_t size) {
  std::vector<std::uint64_t> old;
  old.swap(slots_);
  slots_.assign(size, 0);
  used_ = 0;
  for (const std::uint64_t slot : old) {
    if (slot != 0) insert(slot >> 16, static_cast<std::uint32_t>(slot & 0xFFFF));
  }
}

void FrameCounter::insert(std::uint64_t key, std::uint32_t count) {
  for (std::size_t i = slot_of(key, slots_.size());; i = (i + 1) & (slots_.size() - 1)) {
    if (slots_[i] == 0) {
      slots_[i] = (key << 16) | std::min<std::uint32_t>(count, 0xFFFF);
      ++used_;
      return;
    }
    if ((slots_[i] >> 16) == key) {
      const std::uint32_t total = std::min<std::uint32_t>(static_cast<std::uint32_t>(slots_[i] & 0xFFFF) + count, 0xFFFF);
      slots_[i] = (key << 16) | total;
      return;
    }
  }
}

void FrameCounter::purge() {
  // Drop the entries counted at most `level` times, raising the level until at most half is used.
  for (std::uint32_t level = 1; level < 0xFFFF; ++level) {
    std::vector<std::uint64_t> kept;
    for (const std::uint64_t slot : slots_) {
      if (slot != 0 && (slot & 0xFFFF) > level) kept.push_back(slot);
    }
    std::fill(slots_.begin(), slots_.end(), 0);
    used_ = 0;
    for (const std::uint64_t slot : kept) insert(slot >> 16, static_cast<std::uint32_t>(slot & 0xFFFF));
    if (used_ * 2 <= slots_.size()) return;
  }
}

void FrameCounter::add_prompt(std::span<const std::uint64_t> shingles) {
  ++prompts_;
  for (const std::uint64_t shingle : shingles) {
    if (slots_.empty()) grow(16);
    if ((used_ + 1) * 4 > slots_.size() * 3) {
      if (slots_.size() < kCapacity) {
        grow(slots_.size() * 2);
      } else {
        purge();
      }
    }
    insert(key_of(shingle), 1);
  }
}

std::vector<std::uint64_t> FrameCounter::frequent(std::uint32_t min_count) const {
  std::vector<std::uint64_t> out;
  for (const std::uint64_t slot : slots_) {
    if (slot != 0 && (slot & 0xFFFF) >= min_count) out.push_back(slot >> 16);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace tracemark::campaigns
