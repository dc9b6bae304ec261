#include "context_prf.hpp"

// AES_set_encrypt_key/AES_encrypt are marked deprecated in OpenSSL 3 in favour of EVP, but they are
// the only OpenSSL API that encrypts one block with a precomputed, read-only key schedule: no
// allocation and no per-call context, so one instance serves every thread. The batched path uses
// EVP (AES-NI). Both are the same AES-128; tests/context_prf_test.cpp checks they agree.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/aes.h>
#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <vector>

#include "crypto.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

static_assert(sizeof(AES_KEY) <= 256, "AES_KEY larger than the storage reserved for it");

// Block j (16 bytes) of a context's padded encoding: ids 4j .. 4j+3, little-endian, zeros past h.
void encode_block(std::span<const std::uint32_t> context, std::uint32_t block, std::uint8_t* out) noexcept {
  std::memset(out, 0, 16);
  for (std::uint32_t k = 0; k < 4; ++k) {
    const std::size_t index = 4 * static_cast<std::size_t>(block) + k;
    if (index >= context.size()) break;
    const std::uint32_t id = context[index];
    out[4 * k] = static_cast<std::uint8_t>(id);
    out[4 * k + 1] = static_cast<std::uint8_t>(id >> 8);
    out[4 * k + 2] = static_cast<std::uint8_t>(id >> 16);
    out[4 * k + 3] = static_cast<std::uint8_t>(id >> 24);
  }
}

std::uint64_t low64_little_endian(const std::uint8_t* block) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    std::uint64_t value;
    std::memcpy(&value, block, 8);
    return value;
  }
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = value << 8 | block[i];
  return value;
}

}  // namespace

ContextPrf::ContextPrf(const WatermarkKey& key, std::string_view purpose, std::uint32_t context_width)
    : width_(context_width), blocks_(std::max<std::uint32_t>(1, (4 * context_width + 15) / 16)) {
  std::vector<std::uint8_t> derived = key.derive_subkey(purpose, key_.size());
  std::copy(derived.begin(), derived.end(), key_.begin());
  crypto::cleanse(derived);
  if (AES_set_encrypt_key(key_.data(), 128, reinterpret_cast<AES_KEY*>(schedule_.data())) != 0) {
    throw Error(ErrorCode::internal, "OpenSSL AES-128 key schedule failed");
  }
}

ContextPrf::~ContextPrf() {
  crypto::cleanse(key_);
  crypto::cleanse(schedule_);
}

std::uint64_t ContextPrf::seed(std::span<const std::uint32_t> context) const noexcept {
  const auto* schedule = reinterpret_cast<const AES_KEY*>(schedule_.data());
  std::uint8_t state[16] = {};
  std::uint8_t block[16];
  for (std::uint32_t j = 0; j < blocks_; ++j) {
    encode_block(context.first(std::min<std::size_t>(context.size(), width_)), j, block);
    for (int i = 0; i < 16; ++i) state[i] ^= block[i];
    AES_encrypt(state, state, schedule);
  }
  return low64_little_endian(state);
}

void ContextPrf::seeds(std::span<const std::uint32_t> contexts, std::span<std::uint64_t> seeds) const {
  if (contexts.size() != static_cast<std::size_t>(width_) * seeds.size()) {
    throw Error(ErrorCode::internal, "ContextPrf::seeds: contexts and seeds of different lengths");
  }
  if (seeds.empty()) return;
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_ecb(), nullptr, key_.data(), nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1) {
    throw Error(ErrorCode::internal, "OpenSSL AES-128-ECB initialisation failed");
  }
  // Chunks bound the working buffer (16 bytes a context) whatever the batch size.
  constexpr std::size_t kChunk = 4096;
  std::vector<std::uint8_t> state(16 * std::min(kChunk, seeds.size()));
  const std::size_t message_bytes = 4 * static_cast<std::size_t>(width_);
  const auto* message = reinterpret_cast<const std::uint8_t*>(contexts.data());
  std::uint8_t block[16];
  for (std::size_t start = 0; start < seeds.size(); start += kChunk) {
    const std::size_t count = std::min(kChunk, seeds.size() - start);
    for (std::uint32_t j = 0; j < blocks_; ++j) {
      // CBC: block j of every context goes into its running state (the zero IV makes block 0 a copy).
      const std::size_t offset = 16 * static_cast<std::size_t>(j);
      const std::size_t length = message_bytes > offset ? std::min<std::size_t>(16, message_bytes - offset) : 0;
      for (std::size_t i = 0; i < count; ++i) {
        std::uint8_t* running = state.data() + 16 * i;
        if constexpr (std::endian::native == std::endian::little) {
          // The ids are already their little-endian encoding: copy them, zero padding after them.
          const std::uint8_t* source = message + (start + i) * message_bytes + offset;
          if (j == 0) {
            if (length > 0) std::memcpy(running, source, length);
            std::memset(running + length, 0, 16 - length);
          } else {
            for (std::size_t b = 0; b < length; ++b) running[b] ^= source[b];
          }
        } else {
          encode_block(contexts.subspan((start + i) * width_, width_), j, block);
          if (j == 0) std::memset(running, 0, 16);
          for (int b = 0; b < 16; ++b) running[b] ^= block[b];
        }
      }
      int written = 0;
      if (EVP_EncryptUpdate(ctx.get(), state.data(), &written, state.data(), static_cast<int>(16 * count)) != 1 ||
          written != static_cast<int>(16 * count)) {
        throw Error(ErrorCode::internal, "OpenSSL AES-128-ECB encryption failed");
      }
    }
    for (std::size_t i = 0; i < count; ++i) seeds[start + i] = low64_little_endian(state.data() + 16 * i);
  }
  crypto::cleanse(state);
}

}  // namespace tracemark
