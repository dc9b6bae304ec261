#include "tracemark/embed/green_list_scheme.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>

// Inlined, so the batched colouring's short hashes compile into its loop (same functions, same values).
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "context_prf.hpp"
#include "crypto.hpp"
#include "tracemark/embed/scheme_catalog.hpp"
#include "tracemark/embed/token_bytes.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

constexpr std::size_t kHashSecretSize = 192;  // >= XXH3_SECRET_SIZE_MIN (136)
constexpr std::string_view kContextHashPurpose = "tracemark/v1/kgw-green-list/context-hash";
constexpr std::string_view kTokenValuesPurpose = "tracemark/v2/kgw-green-list/token-values";
constexpr std::string_view kContextPrfPurpose = "tracemark/v3/kgw-green-list/context-prf";

// Runs before any member is built from the key, so a key of another scheme is refused first.
const WatermarkKey& green_list_key(const WatermarkKey& key) {
  require_scheme(key, SchemeKind::green_list, "the green-list scheme");
  return key;
}

// Branch-free so the compiler vectorises it; cloned for AVX2 and a baseline, picked at load time.
__attribute__((target_clones("avx2", "default")))
void add_delta_to_green(float* logits, std::size_t count, std::uint64_t seed, std::uint32_t threshold,
                        float delta) noexcept {
  const std::uint32_t low = static_cast<std::uint32_t>(seed);
  const std::uint32_t high = static_cast<std::uint32_t>(seed >> 32);
  for (std::size_t i = 0; i < count; ++i) {
    std::uint32_t value = GreenListScheme::mix32(static_cast<std::uint32_t>(i) ^ low) ^ high;
    logits[i] += value < threshold ? delta : 0.0f;
  }
}

// Version 2: value = (R[t] * multiplier) ^ high, green when value < threshold. The unsigned compare
// is done as a signed one on values with the top bit flipped (folded into high and the threshold),
// which AVX2 has as one instruction. Per 8 tokens: two loads, a multiply, a XOR, a compare, an AND,
// an add and a store.
__attribute__((target_clones("avx512f", "avx2", "default")))
void add_delta_to_green_v2(float* logits, const std::uint32_t* token_values, std::size_t count, std::uint64_t seed,
                           std::uint32_t threshold, float delta) noexcept {
  const std::uint32_t multiplier = static_cast<std::uint32_t>(seed) | 1u;
  const std::uint32_t high = static_cast<std::uint32_t>(seed >> 32) ^ 0x80000000u;
  const std::int32_t signed_threshold = static_cast<std::int32_t>(threshold ^ 0x80000000u);
  for (std::size_t i = 0; i < count; ++i) {
    const std::int32_t value = static_cast<std::int32_t>((token_values[i] * multiplier) ^ high);
    logits[i] += value < signed_threshold ? delta : 0.0f;
  }
}

std::vector<std::uint32_t> derive_token_values(const WatermarkKey& key) {
  if (key.params().scheme_version < 2) return {};
  std::vector<std::uint8_t> subkey = key.derive_subkey(kTokenValuesPurpose, 32);
  if constexpr (std::endian::native == std::endian::little) {
    // R[t] is the little-endian u32 at byte 4t: on this host the keystream is the table itself (no
    // second buffer to fill and copy: a scan of many keys loads each key's table once).
    std::vector<std::uint32_t> values(key.params().vocab_size);
    crypto::aes256_ctr_keystream(subkey, {reinterpret_cast<std::uint8_t*>(values.data()), 4 * values.size()});
    crypto::cleanse(subkey);
    return values;
  }
  std::vector<std::uint8_t> stream(4 * static_cast<std::size_t>(key.params().vocab_size));
  crypto::aes256_ctr_keystream(subkey, stream);
  crypto::cleanse(subkey);
  std::vector<std::uint32_t> values(key.params().vocab_size);
  for (std::size_t t = 0; t < values.size(); ++t) {
    values[t] = static_cast<std::uint32_t>(stream[4 * t]) | static_cast<std::uint32_t>(stream[4 * t + 1]) << 8 |
                static_cast<std::uint32_t>(stream[4 * t + 2]) << 16 | static_cast<std::uint32_t>(stream[4 * t + 3]) << 24;
  }
  crypto::cleanse(stream);
  return values;
}

}  // namespace

GreenListScheme::GreenListScheme(const WatermarkKey& key)
    : hash_secret_(green_list_key(key).params().scheme_version >= 3
                       ? std::vector<std::uint8_t>{}
                       : key.derive_subkey(kContextHashPurpose, kHashSecretSize)),
      prf_(key.params().scheme_version >= 3
               ? std::make_shared<const ContextPrf>(key, kContextPrfPurpose, key.params().context_width)
               : nullptr),
      threshold_(static_cast<std::uint32_t>(std::llround(key.params().gamma * 4294967296.0))),
      delta_(static_cast<float>(key.params().delta)),
      context_width_(key.params().context_width),
      vocab_size_(key.params().vocab_size),
      version_(key.params().scheme_version),
      entropy_threshold_(key.params().entropy_threshold),
      token_values_(derive_token_values(key)) {}

std::uint64_t GreenListScheme::context_seed(std::span<const std::uint32_t> context) const noexcept {
  if (prf_) return prf_->seed(context);
  std::uint8_t bytes[4 * kMaxHashedIds];
  const std::size_t length = encode_ids_little_endian(context.first(std::min<std::size_t>(context.size(), 16)), bytes);
  return XXH3_64bits_withSecret(bytes, length, hash_secret_.data(), hash_secret_.size());
}

std::size_t GreenListScheme::green_flags(std::span<const std::uint32_t> contexts, std::span<const std::uint32_t> tokens,
                                        std::span<std::uint8_t> green) const {
  const std::size_t width = context_width_;
  if (contexts.size() != width * tokens.size() || green.size() != tokens.size()) {
    throw Error(ErrorCode::internal, "green_flags: contexts, tokens and flags of different lengths");
  }
  std::size_t count = 0;
  if (prf_) {
    // Version 3: the seeds of 1024 tuples at a time in one batched pass of the PRF, then version 2's
    // colouring. The seed buffer lives on the stack: a buffer as large as the batch would be fresh
    // memory on every call, and its page faults cost more than the AES itself.
    constexpr std::size_t kBlock = 1024;
    std::array<std::uint64_t, kBlock> seeds;
    const std::uint32_t* token_values = token_values_.data();
    const std::size_t vocab = token_values_.size();
    for (std::size_t start = 0; start < tokens.size(); start += kBlock) {
      const std::size_t batch = std::min(kBlock, tokens.size() - start);
      prf_->seeds(contexts.subspan(start * width, batch * width), std::span<std::uint64_t>(seeds.data(), batch));
      for (std::size_t i = 0; i < batch; ++i) {
        const std::uint32_t token = tokens[start + i];
        const bool is = token < vocab && green_value_v2(seeds[i], token_values[token]) < threshold_;
        green[start + i] = is;
        count += is;
      }
    }
    return count;
  }
  if constexpr (std::endian::native == std::endian::little) {
    // The ids are already the little-endian bytes context_seed() hashes: hash them in place. One loop
    // per scheme version, so the loop body has no branch on it.
    const std::size_t bytes = 4 * std::min<std::size_t>(width, 16);
    const auto* base = reinterpret_cast<const std::uint8_t*>(contexts.data());
    const std::uint8_t* secret = hash_secret_.data();
    const std::size_t secret_size = hash_secret_.size();
    if (version_ == 1) {
      for (std::size_t i = 0; i < tokens.size(); ++i) {
        const std::uint64_t seed = XXH3_64bits_withSecret(base + 4 * width * i, bytes, secret, secret_size);
        const bool is = green_value(seed, tokens[i]) < threshold_;
        green[i] = is;
        count += is;
      }
    } else {
      const std::uint32_t* token_values = token_values_.data();
      const std::size_t vocab = token_values_.size();
      for (std::size_t i = 0; i < tokens.size(); ++i) {
        const std::uint64_t seed = XXH3_64bits_withSecret(base + 4 * width * i, bytes, secret, secret_size);
        // An id outside the vocabulary has no value and is never green (value()).
        const bool is = tokens[i] < vocab && green_value_v2(seed, token_values[tokens[i]]) < threshold_;
        green[i] = is;
        count += is;
      }
    }
  } else {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const bool is = is_green(context_seed(contexts.subspan(width * i, width)), tokens[i]);
      green[i] = is;
      count += is;
    }
  }
  return count;
}

void GreenListScheme::bias_logits(std::uint64_t seed, std::span<float> logits) const noexcept {
  if (version_ == 1) {
    add_delta_to_green(logits.data(), std::min<std::size_t>(logits.size(), vocab_size_), seed, threshold_, delta_);
  } else {
    add_delta_to_green_v2(logits.data(), token_values_.data(), std::min<std::size_t>(logits.size(), token_values_.size()),
                          seed, threshold_, delta_);
  }
}

void GreenListScheme::bias_candidates(std::uint64_t seed, std::span<Candidate> candidates) const {
  for (Candidate& candidate : candidates) {
    if (candidate.id >= vocab_size_) {
      throw Error(ErrorCode::invalid_argument, "candidate token id " + std::to_string(candidate.id) +
                                                   " is outside the key's vocabulary (size " +
                                                   std::to_string(vocab_size_) + ")");
    }
    if (is_green(seed, candidate.id)) candidate.logit += delta_;
  }
}

}  // namespace tracemark
