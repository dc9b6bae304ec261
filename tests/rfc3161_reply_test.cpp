// RFC 3161 replies: a timestamp authority made in-process with OpenSSL's TS_RESP_CTX (an ECDSA P-256
// or RSA signer with a self-signed timeStamping certificate) answers tracemark's request; the reply
// verifies, and every single-bit change of any of its bytes is refused (issue 6: a changed byte of
// any bundle file is detected, and a .tsr added later is a bundle file).
#include "tracemark/verify/rfc3161.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace tracemark {
namespace {

struct Authority {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, EVP_PKEY_free};
  std::unique_ptr<X509, decltype(&X509_free)> certificate{nullptr, X509_free};
};

void add_extension(X509* certificate, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  ASSERT_NE(extension, nullptr);
  ASSERT_EQ(X509_add_ext(certificate, extension, -1), 1);
  X509_EXTENSION_free(extension);
}

// A self-signed certificate for a timestamp authority: critical extendedKeyUsage timeStamping, as
// RFC 3161 2.3 requires of the signer.
Authority make_authority(bool rsa) {
  Authority authority;
  authority.key.reset(rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048))
                          : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  EXPECT_NE(authority.key, nullptr);
  authority.certificate.reset(X509_new());
  X509* certificate = authority.certificate.get();
  X509_set_version(certificate, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), 7);
  X509_gmtime_adj(X509_getm_notBefore(certificate), -3600);
  X509_gmtime_adj(X509_getm_notAfter(certificate), 86400);
  X509_NAME* name = X509_get_subject_name(certificate);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Test TSA"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Example"), -1, -1, 0);
  X509_set_issuer_name(certificate, name);
  X509_set_pubkey(certificate, authority.key.get());
  add_extension(certificate, NID_ext_key_usage, "critical,timeStamping");
  add_extension(certificate, NID_basic_constraints, "critical,CA:FALSE");
  EXPECT_GT(X509_sign(certificate, authority.key.get(), EVP_sha256()), 0);
  return authority;
}

ASN1_INTEGER* next_serial(TS_RESP_CTX*, void*) {
  ASN1_INTEGER* serial = ASN1_INTEGER_new();
  ASN1_INTEGER_set(serial, 42);
  return serial;
}

// The authority's DER reply to a DER request (as `openssl ts -reply` makes it).
std::string reply_to(const Authority& authority, const std::string& request) {
  std::unique_ptr<TS_RESP_CTX, decltype(&TS_RESP_CTX_free)> context(TS_RESP_CTX_new(), TS_RESP_CTX_free);
  ASN1_OBJECT* policy = OBJ_txt2obj("1.2.3.4.1", 1);
  EXPECT_EQ(TS_RESP_CTX_set_signer_cert(context.get(), authority.certificate.get()), 1);
  EXPECT_EQ(TS_RESP_CTX_set_signer_key(context.get(), authority.key.get()), 1);
  EXPECT_EQ(TS_RESP_CTX_set_signer_digest(context.get(), EVP_sha256()), 1);
  EXPECT_EQ(TS_RESP_CTX_set_def_policy(context.get(), policy), 1);
  EXPECT_EQ(TS_RESP_CTX_add_md(context.get(), EVP_sha256()), 1);
  TS_RESP_CTX_set_serial_cb(context.get(), next_serial, nullptr);
  ASN1_OBJECT_free(policy);
  std::unique_ptr<BIO, decltype(&BIO_free)> input(BIO_new_mem_buf(request.data(), static_cast<int>(request.size())), BIO_free);
  std::unique_ptr<TS_RESP, decltype(&TS_RESP_free)> reply(TS_RESP_create_response(context.get(), input.get()), TS_RESP_free);
  EXPECT_NE(reply, nullptr);
  unsigned char* der = nullptr;
  const int length = i2d_TS_RESP(reply.get(), &der);
  EXPECT_GT(length, 0);
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  return out;
}

class Rfc3161Reply : public ::testing::TestWithParam<bool> {};

TEST_P(Rfc3161Reply, VerifiesAndRefusesEverySingleBitChange) {
  const Authority authority = make_authority(GetParam());
  const std::string request = timestamp_request_der(std::string(32, '\x5a'), 0x0102030405060708ULL);
  const std::string reply = reply_to(authority, request);
  const TimestampReplyCheck good = check_timestamp_reply(reply, request, {});
  ASSERT_TRUE(good.ok) << good.problem;
  EXPECT_NE(good.authority.find("Test TSA"), std::string::npos);
  EXPECT_FALSE(good.time_utc.empty());
  // A reply to another request (another digest) is refused.
  const std::string other_request = timestamp_request_der(std::string(32, '\x5b'), 0x0102030405060708ULL);
  EXPECT_FALSE(check_timestamp_reply(reply, other_request, {}).ok);
  // Every bit of every byte: no changed reply verifies. Before tracemark's own structure checks,
  // OpenSSL alone let through changes of the status, of algorithm parameters, of the SignerInfo's
  // version, of the case of the signer's issuer name, and of the signature algorithm's hash.
  int accepted = 0;
  for (std::size_t at = 0; at < reply.size(); ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string changed = reply;
      changed[at] = static_cast<char>(changed[at] ^ (1 << bit));
      const TimestampReplyCheck check = check_timestamp_reply(changed, request, {});
      if (check.ok) {
        ++accepted;
        ADD_FAILURE() << "byte " << at << " bit " << bit << " changed and the reply still verifies";
      } else {
        EXPECT_FALSE(check.problem.empty());
      }
    }
  }
  EXPECT_EQ(accepted, 0) << "of " << reply.size() * 8 << " single-bit changes";
}

INSTANTIATE_TEST_SUITE_P(Signers, Rfc3161Reply, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& signer) { return signer.param ? "Rsa" : "EcdsaP256"; });

}  // namespace
}  // namespace tracemark
