#include "tracemark/verify/evidence_signing.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tracemark/verify/base64_sha256.hpp"
#include "tracemark/atomic_file.hpp"
#include "tracemark/error.hpp"
#include "tracemark/secret_file.hpp"
#include "tracemark/verify/canonical_json.hpp"

namespace tracemark {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct BioFree {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bio = std::unique_ptr<BIO, BioFree>;

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(length));
}

std::string public_pem_of(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) throw Error(ErrorCode::internal, "cannot encode an Ed25519 public key");
  return bio_text(bio.get());
}

Pkey parse_public_pem(const std::string& pem, const std::string& where) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_ED25519) {
    throw Error(ErrorCode::invalid_input, where + " is not an Ed25519 public key in PEM form (-----BEGIN PUBLIC KEY-----); "
                                                  "use the .pub file that `tracemark evidence keygen` wrote");
  }
  return key;
}

std::string read_small_file(const std::filesystem::path& path, const std::string& what) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) {
    throw Error(ErrorCode::io, what + " " + path.string() + " cannot be read: " + std::strerror(errno));
  }
  std::stringstream content;
  content << stream.rdbuf();
  return content.str();
}

}  // namespace

std::string signing_key_id_of_public_pem(const std::string& public_pem) {
  Pkey key = parse_public_pem(public_pem, "the public key");
  unsigned char raw[32];
  std::size_t length = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(key.get(), raw, &length) != 1 || length != 32) {
    throw Error(ErrorCode::internal, "cannot read the raw Ed25519 public key");
  }
  return "ed25519:" + sha256_hex(std::string_view(reinterpret_cast<const char*>(raw), length));
}

std::string generate_signing_key(const std::filesystem::path& private_path, const std::filesystem::path& public_path,
                                 bool overwrite) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) throw Error(ErrorCode::internal, "OpenSSL could not generate an Ed25519 key");
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    throw Error(ErrorCode::internal, "cannot encode an Ed25519 private key");
  }
  std::string private_pem = bio_text(bio.get());
  const std::string public_pem = public_pem_of(key.get());
  // The public half first: if the private file cannot be written nothing secret is left behind.
  write_file_atomically(public_path, public_pem, 0644, overwrite);
  try {
    write_file_atomically(private_path, private_pem, 0600, overwrite);
  } catch (...) {
    OPENSSL_cleanse(private_pem.data(), private_pem.size());
    throw;
  }
  OPENSSL_cleanse(private_pem.data(), private_pem.size());
  return signing_key_id_of_public_pem(public_pem);
}

EvidenceSigner::EvidenceSigner(const std::filesystem::path& private_path) {
  const SecretText pem = read_secret_file(private_path, "signing key",
                                          "make one with `tracemark evidence keygen --out " + private_path.string() + "`");
  Bio bio(BIO_new_mem_buf(pem.view().data(), static_cast<int>(pem.view().size())));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    throw Error(ErrorCode::invalid_input, "signing key " + private_path.string() +
                                              " is not an Ed25519 private key in PEM form; make one with `tracemark "
                                              "evidence keygen --out FILE`");
  }
  key_ = key;
  public_pem_ = public_pem_of(key);
  key_id_ = signing_key_id_of_public_pem(public_pem_);
}

EvidenceSigner::~EvidenceSigner() { EVP_PKEY_free(static_cast<EVP_PKEY*>(key_)); }

std::string EvidenceSigner::sign(std::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  unsigned char signature[64];
  std::size_t length = sizeof signature;
  // Ed25519 hashes internally: no digest is named (RFC 8032 "pure" EdDSA).
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, static_cast<EVP_PKEY*>(key_)) != 1 ||
      EVP_DigestSign(ctx.get(), signature, &length, reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    throw Error(ErrorCode::internal, "Ed25519 signing failed in OpenSSL");
  }
  return std::string(reinterpret_cast<const char*>(signature), length);
}

std::string read_public_key_pem(const std::filesystem::path& public_path) {
  std::string pem = read_small_file(public_path, "public key");
  parse_public_pem(pem, "public key " + public_path.string());
  return pem;
}

bool verify_ed25519(const std::string& public_pem, std::string_view message, std::string_view signature) {
  Pkey key = parse_public_pem(public_pem, "the public key");
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    throw Error(ErrorCode::internal, "Ed25519 verification could not start in OpenSSL");
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
}

std::string dsse_pae(std::string_view payload_type, std::string_view payload) {
  std::string out = "DSSEv1 " + std::to_string(payload_type.size()) + " ";
  out += payload_type;
  out += " " + std::to_string(payload.size()) + " ";
  out += payload;
  return out;
}

std::string dsse_envelope(const EvidenceSigner& signer, std::string_view payload_type, std::string_view payload) {
  const std::string signature = signer.sign(dsse_pae(payload_type, payload));
  const nlohmann::json envelope = {
      {"payload", base64_encode(payload)},
      {"payloadType", std::string(payload_type)},
      {"signatures", nlohmann::json::array({{{"keyid", signer.key_id()}, {"sig", base64_encode(signature)}}})},
  };
  return canonical_json(envelope);
}

}  // namespace tracemark
