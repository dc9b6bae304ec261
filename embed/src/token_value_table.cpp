#include "token_value_table.hpp"

#include "crypto.hpp"

namespace tracemark {
namespace {

// `bytes` of the AES-256-CTR keystream (zero counter block) under HKDF(secret, purpose, 32).
std::vector<std::uint8_t> keyed_stream(const WatermarkKey& key, std::string_view purpose, std::size_t bytes) {
  std::vector<std::uint8_t> subkey = key.derive_subkey(purpose, 32);
  std::vector<std::uint8_t> stream(bytes);
  crypto::aes256_ctr_keystream(subkey, stream);
  crypto::cleanse(subkey);
  return stream;
}

// The little-endian value of `width` bytes at stream[width * t], for every t < vocab_size.
template <typename Value>
std::vector<Value> little_endian_values(const WatermarkKey& key, std::string_view purpose) {
  constexpr std::size_t width = sizeof(Value);
  std::vector<std::uint8_t> stream = keyed_stream(key, purpose, width * static_cast<std::size_t>(key.params().vocab_size));
  std::vector<Value> values(key.params().vocab_size);
  for (std::size_t t = 0; t < values.size(); ++t) {
    Value value = 0;
    for (std::size_t b = width; b-- > 0;) value = static_cast<Value>(value << 8 | stream[width * t + b]);
    values[t] = value;
  }
  crypto::cleanse(stream);
  return values;
}

}  // namespace

std::vector<std::uint64_t> keyed_token_values64(const WatermarkKey& key, std::string_view purpose) {
  return little_endian_values<std::uint64_t>(key, purpose);
}

std::vector<std::uint32_t> keyed_token_values32(const WatermarkKey& key, std::string_view purpose) {
  return little_endian_values<std::uint32_t>(key, purpose);
}

}  // namespace tracemark
