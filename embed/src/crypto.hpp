// Thin wrappers over OpenSSL 3 for the few primitives embed/ needs. Private to embed/ (SHA-256 and
// hex are public: tracemark/sha256.hpp).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tracemark::crypto {

// HKDF-SHA256 (RFC 5869) with a fixed tracemark salt.
std::vector<std::uint8_t> hkdf_sha256(std::span<const std::uint8_t> secret, std::string_view info,
                                      std::size_t length);
// AES-256-CTR keystream (OpenSSL EVP, 16-byte all-zero initial counter block, big-endian counter):
// out receives the first out.size() bytes, the encryption of zeros. key must be 32 bytes.
void aes256_ctr_keystream(std::span<const std::uint8_t> key, std::span<std::uint8_t> out);
void random_bytes(std::span<std::uint8_t> out);  // OpenSSL's CSPRNG (RAND_priv_bytes)
void cleanse(std::span<std::uint8_t> bytes) noexcept;

}  // namespace tracemark::crypto
