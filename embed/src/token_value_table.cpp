#include "token_value_table.hpp"

#include "crypto.hpp"

namespace tracemark {

std::vector<std::uint64_t> keyed_token_values64(const WatermarkKey& key, std::string_view purpose) {
  std::vector<std::uint8_t> subkey = key.derive_subkey(purpose, 32);
  std::vector<std::uint8_t> stream(8 * static_cast<std::size_t>(key.params().vocab_size));
  crypto::aes256_ctr_keystream(subkey, stream);
  crypto::cleanse(subkey);
  std::vector<std::uint64_t> values(key.params().vocab_size);
  for (std::size_t t = 0; t < values.size(); ++t) {
    std::uint64_t value = 0;
    for (int b = 7; b >= 0; --b) value = value << 8 | stream[8 * t + static_cast<std::size_t>(b)];
    values[t] = value;
  }
  crypto::cleanse(stream);
  return values;
}

std::vector<std::uint32_t> keyed_token_values32(const WatermarkKey& key, std::string_view purpose) {
  std::vector<std::uint8_t> subkey = key.derive_subkey(purpose, 32);
  std::vector<std::uint8_t> stream(4 * static_cast<std::size_t>(key.params().vocab_size));
  crypto::aes256_ctr_keystream(subkey, stream);
  crypto::cleanse(subkey);
  std::vector<std::uint32_t> values(key.params().vocab_size);
  for (std::size_t t = 0; t < values.size(); ++t) {
    const std::size_t at = 4 * t;
    values[t] = std::uint32_t{stream[at]} | std::uint32_t{stream[at + 1]} << 8 | std::uint32_t{stream[at + 2]} << 16 |
                std::uint32_t{stream[at + 3]} << 24;
  }
  crypto::cleanse(stream);
  return values;
}

}  // namespace tracemark
