// An account's frame: the prompt shingles it repeats across its own prompts, counted in bounded
// memory (lossy counting, Manku and Motwani 2002: when the table is full, the least-counted entries
// are dropped; a shingle of a template the account keeps using returns, and reaches a count of two,
// before the next purge). Private to campaigns/.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tracemark::campaigns {

// Not thread-safe.
class FrameCounter {
 public:
  static constexpr std::size_t kCapacity = 128;  // slots at most (8 bytes each)

  // Counts one prompt's shingles (a set: each at most once per prompt).
  void add_prompt(std::span<const std::uint64_t> shingles);
  // Shingles (48-bit keys) counted at least `min_count` times, sorted.
  std::vector<std::uint64_t> frequent(std::uint32_t min_count) const;
  std::uint32_t prompts() const noexcept { return prompts_; }
  // The key a shingle is counted under (its low 48 bits, never 0).
  static std::uint64_t key_of(std::uint64_t shingle) noexcept { return (shingle & 0xFFFF'FFFF'FFFFull) | 1; }

 private:
  void insert(std::uint64_t key, std::uint32_t count);
  void purge();
  void grow(std::size_t size);

  std::vector<std::uint64_t> slots_;  // key << 16 | count; 0: empty
  std::size_t used_ = 0;
  std::uint32_t prompts_ = 0;
};

}  // namespace tracemark::campaigns
