// Ed25519 through OpenSSL against RFC 8032's test vectors, DSSE's pre-authentication encoding, the
// envelope, the key files' modes, and RFC 3161 requests.
#include "tracemark/verify/evidence_signing.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include "tracemark/verify/base64_sha256.hpp"
#include "test_support.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/rfc3161.hpp"

namespace tracemark {
namespace {

std::string bytes_of_hex(const std::string& hex) {
  const std::vector<std::uint8_t> bytes = from_hex(hex).value();
  return std::string(bytes.begin(), bytes.end());
}

// Writes a PEM private key with the given raw Ed25519 secret (mode 0600).
void write_raw_key(const std::filesystem::path& path, const std::string& secret) {
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                               reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  ASSERT_NE(key, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::ofstream(path) << std::string(data, static_cast<std::size_t>(length));
  ::chmod(path.c_str(), 0600);
  BIO_free(bio);
  EVP_PKEY_free(key);
}

TEST(Ed25519, MatchesRfc8032TestVectors) {
  struct Vector {
    const char* secret;
    const char* message;
    const char* signature;
  };
  // RFC 8032 section 7.1, TEST 1, TEST 2 and TEST 3.
  const Vector vectors[] = {
      {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
      {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
      {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7", "af82",
       "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
  };
  testing::TemporaryFolder folder;
  for (const Vector& vector : vectors) {
    const auto path = folder.path() / "raw.pem";
    write_raw_key(path, bytes_of_hex(vector.secret));
    const EvidenceSigner signer(path);
    const std::string signature = signer.sign(bytes_of_hex(vector.message));
    EXPECT_EQ(signature, bytes_of_hex(vector.signature)) << vector.secret;
    EXPECT_TRUE(verify_ed25519(signer.public_pem(), bytes_of_hex(vector.message), signature));
    std::string wrong = signature;
    wrong[10] = static_cast<char>(wrong[10] ^ 1);
    EXPECT_FALSE(verify_ed25519(signer.public_pem(), bytes_of_hex(vector.message), wrong));
    EXPECT_FALSE(verify_ed25519(signer.public_pem(), bytes_of_hex(vector.message) + "x", signature));
  }
}

TEST(Ed25519, KeygenWritesThePrivateKeyWithMode0600AndRefusesToOverwrite) {
  testing::TemporaryFolder folder;
  const auto key = folder.path() / "signing.pem", pub = folder.path() / "signing.pem.pub";
  const std::string id = generate_signing_key(key, pub, false);
  struct stat info{};
  ASSERT_EQ(::stat(key.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(pub.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);
  EXPECT_EQ(id.rfind("ed25519:", 0), 0u);
  EXPECT_EQ(id.size(), 8u + 64u);
  const EvidenceSigner signer(key);
  EXPECT_EQ(signer.key_id(), id);
  EXPECT_EQ(signing_key_id_of_public_pem(read_public_key_pem(pub)), id);
  EXPECT_THROW(generate_signing_key(key, pub, false), Error);
  // A private key readable by others is refused.
  ::chmod(key.c_str(), 0640);
  try {
    EvidenceSigner refused(key);
    FAIL() << "a group-readable signing key was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::permission);
    EXPECT_NE(std::string(e.what()).find("chmod 600"), std::string::npos);
  }
}

TEST(Dsse, PreAuthenticationEncodingIsTheSpecsExample) {
  // The example of the DSSE protocol specification (secure-systems-lab/dsse, protocol.md).
  EXPECT_EQ(dsse_pae("http://example.com/HelloWorld", "hello world"),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  EXPECT_EQ(dsse_pae("", ""), "DSSEv1 0  0 ");
}

TEST(Dsse, EnvelopeSignsThePayloadWithItsType) {
  testing::TemporaryFolder folder;
  generate_signing_key(folder.path() / "k.pem", folder.path() / "k.pub", false);
  const EvidenceSigner signer(folder.path() / "k.pem");
  const std::string payload = R"({"_type":"https://in-toto.io/Statement/v1"})";
  const auto envelope = nlohmann::json::parse(dsse_envelope(signer, kInTotoPayloadType, payload));
  EXPECT_EQ(envelope["payloadType"], std::string(kInTotoPayloadType));
  EXPECT_EQ(*base64_decode(envelope["payload"].get<std::string>()), payload);
  EXPECT_EQ(envelope["signatures"][0]["keyid"], signer.key_id());
  const std::string signature = *base64_decode(envelope["signatures"][0]["sig"].get<std::string>());
  EXPECT_TRUE(verify_ed25519(signer.public_pem(), dsse_pae(kInTotoPayloadType, payload), signature));
  // The type is signed too: the same bytes under another type do not verify.
  EXPECT_FALSE(verify_ed25519(signer.public_pem(), dsse_pae("text/plain", payload), signature));
}

TEST(Rfc3161, RequestIsDeterministicDerWithTheDigestAndNonce) {
  const std::string digest(32, '\x5a');
  const std::string request = timestamp_request_der(digest, 0x0102030405060708ULL);
  EXPECT_EQ(request, timestamp_request_der(digest, 0x0102030405060708ULL));
  EXPECT_NE(request, timestamp_request_der(digest, 7));
  EXPECT_EQ(static_cast<unsigned char>(request[0]), 0x30);  // a DER SEQUENCE
  EXPECT_NE(request.find(digest), std::string::npos);
  // SHA-256's OID 2.16.840.1.101.3.4.2.1 in DER.
  EXPECT_NE(request.find(std::string("\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01", 11)), std::string::npos);
  EXPECT_NE(request.find(std::string("\x02\x08\x01\x02\x03\x04\x05\x06\x07\x08", 10)), std::string::npos);  // the nonce
  EXPECT_THROW(timestamp_request_der("short", 1), Error);
  // A reply that is not DER is reported, not thrown.
  const TimestampReplyCheck check = check_timestamp_reply("not a reply", request, {});
  EXPECT_FALSE(check.ok);
  EXPECT_FALSE(check.problem.empty());
}

}  // namespace
}  // namespace tracemark
