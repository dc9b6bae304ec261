// Signing evidence manifests: Ed25519 (RFC 8032) through OpenSSL 3's EVP interface, in a DSSE
// envelope (the Dead Simple Signing Envelope of in-toto and Sigstore). DSSE signs the bytes of the
// payload together with its type ("pre-authentication encoding"), so a verifier never has to
// re-serialise anything: the signed bytes are exactly the manifest file's bytes.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace tracemark {

inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";

// Writes a fresh Ed25519 key pair: the private key as PKCS#8 PEM with mode 0600 and the public key
// (SubjectPublicKeyInfo PEM) with mode 0644, each through a temporary file and a rename; refuses to
// replace existing files unless overwrite is true. Returns the key id (see signing_key_id).
std::string generate_signing_key(const std::filesystem::path& private_path, const std::filesystem::path& public_path,
                                 bool overwrite);

// "ed25519:" + SHA-256 hex of the raw 32-byte public key: names the key in envelopes and messages.
std::string signing_key_id_of_public_pem(const std::string& public_pem);

// An Ed25519 private key loaded from a PEM file. Refuses files readable or writable by group or
// others (a signing key is a secret). Not copyable; the key is freed on destruction.
class EvidenceSigner {
 public:
  explicit EvidenceSigner(const std::filesystem::path& private_path);
  ~EvidenceSigner();
  EvidenceSigner(const EvidenceSigner&) = delete;
  EvidenceSigner& operator=(const EvidenceSigner&) = delete;

  std::string sign(std::string_view message) const;  // 64-byte signature
  const std::string& key_id() const noexcept { return key_id_; }
  const std::string& public_pem() const noexcept { return public_pem_; }

 private:
  void* key_ = nullptr;  // EVP_PKEY*
  std::string key_id_;
  std::string public_pem_;
};

// Reads a public key PEM file; throws Error(invalid_input) naming the file when it is not an Ed25519
// public key.
std::string read_public_key_pem(const std::filesystem::path& public_path);
// True when `signature` is a valid Ed25519 signature of `message` under the public key.
bool verify_ed25519(const std::string& public_pem, std::string_view message, std::string_view signature);

// DSSE's pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, with
// lengths as ASCII decimal.
std::string dsse_pae(std::string_view payload_type, std::string_view payload);

// The DSSE envelope of `payload`, as canonical JSON:
// {"payload": base64, "payloadType": type, "signatures": [{"keyid": id, "sig": base64}]}.
std::string dsse_envelope(const EvidenceSigner& signer, std::string_view payload_type, std::string_view payload);

}  // namespace tracemark
