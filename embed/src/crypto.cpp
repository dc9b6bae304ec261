#include "crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <memory>

#include "tracemark/error.hpp"

namespace tracemark::crypto {
namespace {

// Salt for every HKDF extraction in tracemark (RFC 5869 section 3.1: a fixed, public salt is fine).
constexpr std::string_view kHkdfSalt = "tracemark/hkdf-salt/v1";

}  // namespace

std::vector<std::uint8_t> hkdf_sha256(std::span<const std::uint8_t> secret, std::string_view info,
                                      std::size_t length) {
  std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr), EVP_KDF_free);
  if (!kdf) throw Error(ErrorCode::internal, "OpenSSL has no HKDF implementation");
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(kdf.get()), EVP_KDF_CTX_free);
  if (!ctx) throw Error(ErrorCode::internal, "OpenSSL HKDF context allocation failed");
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string("digest", digest_name, 0),
      OSSL_PARAM_construct_octet_string("key", const_cast<std::uint8_t*>(secret.data()), secret.size()),
      OSSL_PARAM_construct_octet_string("salt", const_cast<char*>(kHkdfSalt.data()), kHkdfSalt.size()),
      OSSL_PARAM_construct_octet_string("info", const_cast<char*>(info.data()), info.size()),
      OSSL_PARAM_construct_end(),
  };
  std::vector<std::uint8_t> out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    throw Error(ErrorCode::internal, "OpenSSL HKDF derivation failed");
  }
  return out;
}

void aes256_ctr_keystream(std::span<const std::uint8_t> key, std::span<std::uint8_t> out) {
  if (key.size() != 32) throw Error(ErrorCode::internal, "AES-256-CTR needs a 32-byte key");
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  const std::uint8_t counter[16] = {};
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_ctr(), nullptr, key.data(), counter) != 1) {
    throw Error(ErrorCode::internal, "OpenSSL AES-256-CTR initialisation failed");
  }
  std::fill(out.begin(), out.end(), std::uint8_t{0});
  constexpr std::size_t kChunk = 1 << 20;  // EVP_EncryptUpdate takes an int length
  for (std::size_t offset = 0; offset < out.size(); offset += kChunk) {
    const int length = static_cast<int>(std::min(kChunk, out.size() - offset));
    int written = 0;
    if (EVP_EncryptUpdate(ctx.get(), out.data() + offset, &written, out.data() + offset, length) != 1 || written != length) {
      throw Error(ErrorCode::internal, "OpenSSL AES-256-CTR encryption failed");
    }
  }
}

void random_bytes(std::span<std::uint8_t> out) {
  if (RAND_priv_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    throw Error(ErrorCode::internal, "OpenSSL's random generator failed; no key was made");
  }
}

void cleanse(std::span<std::uint8_t> bytes) noexcept { OPENSSL_cleanse(bytes.data(), bytes.size()); }

}  // namespace tracemark::crypto
