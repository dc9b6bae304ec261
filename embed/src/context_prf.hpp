// The keyed pseudo-random function that turns a context (the h token ids before a step) into its
// 64-bit seed, for the schemes whose seeds must be provably uniform and independent: green list
// version 3 and the Gumbel-max scheme (docs/DESIGN.md, "Context seeds from a PRF").
//
// Definition: the context's ids as little-endian u32, zero-padded to m = max(1, ceil(4h / 16))
// blocks of 16 bytes, go through AES-128 CBC-MAC with a zero IV under K = HKDF(secret, purpose, 16);
// the seed is the first 8 bytes of the last block, little-endian. h is fixed for a key, so every
// message has the same length m blocks, and fixed-length CBC-MAC over a PRP is a PRF (Bellare,
// Kilian, Rogaway 1994/2000): distinct contexts get seeds that are indistinguishable from
// independent uniform values to anyone without the key. With h <= 4 this is one AES block.
//
// Private to embed/. Immutable after construction and safe to share across threads: seed() uses a
// key schedule that is only read, seeds() makes its own cipher context per call.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace tracemark {

class WatermarkKey;

class ContextPrf {
 public:
  ContextPrf(const WatermarkKey& key, std::string_view purpose, std::uint32_t context_width);
  ~ContextPrf();
  ContextPrf(const ContextPrf&) = delete;
  ContextPrf& operator=(const ContextPrf&) = delete;

  // One context of exactly context_width() ids (a serving step: one AES call per block).
  std::uint64_t seed(std::span<const std::uint32_t> context) const noexcept;
  // Many contexts at once (a scan): contexts holds seeds.size() contexts of context_width() ids
  // each, back to back. Same values as seed(); one pass of AES-128-ECB per CBC block over the whole
  // batch, so the hardware pipelines the blocks. Throws Error(internal) on length mismatch.
  void seeds(std::span<const std::uint32_t> contexts, std::span<std::uint64_t> seeds) const;

  std::uint32_t context_width() const noexcept { return width_; }

 private:
  std::array<std::uint8_t, 16> key_{};
  alignas(16) std::array<std::uint8_t, 256> schedule_{};  // OpenSSL AES_KEY (244 bytes), opaque here
  std::uint32_t width_;
  std::uint32_t blocks_;
};

}  // namespace tracemark
