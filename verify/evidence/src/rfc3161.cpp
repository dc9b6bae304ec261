#include "tracemark/verify/rfc3161.hpp"

#include <memory>
#include <string>
#include <string_view>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const noexcept { Free(p); }
};
template <typename T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Free>>;

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no detail from OpenSSL";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(length));
}

// The certificate in the token that signed it, or nullptr; it belongs to the token.
X509* token_signer(PKCS7* token) {
  STACK_OF(X509)* signers = PKCS7_get0_signers(token, nullptr, 0);
  X509* signer = signers && sk_X509_num(signers) > 0 ? sk_X509_value(signers, 0) : nullptr;
  sk_X509_free(signers);  // frees the list only
  return signer;
}

// Fields of a timestamp token (signed by `signer`, which may be nullptr) that OpenSSL parses but
// does not check, so that a changed byte in them would otherwise go unnoticed. Returns what is
// wrong, or "" when the token is well formed.
std::string token_structure_problem(PKCS7* token, X509* signer) {
  // RFC 3161 2.4.2 and RFC 5652 5.1: a token's SignedData has version 3.
  if (!PKCS7_type_is_signed(token) || ASN1_INTEGER_get(token->d.sign->version) != 3) {
    return "the token's SignedData version is not 3";
  }
  STACK_OF(PKCS7_SIGNER_INFO)* infos = PKCS7_get_signer_info(token);
  if (!infos || sk_PKCS7_SIGNER_INFO_num(infos) != 1) return "the token must hold exactly one signer";
  PKCS7_SIGNER_INFO* signer_info = sk_PKCS7_SIGNER_INFO_value(infos, 0);
  // RFC 5652 5.3: version 1 goes with a signer named by issuer and serial number, the only form
  // OpenSSL's PKCS7 parser accepts.
  if (ASN1_INTEGER_get(signer_info->version) != 1) return "the token's SignerInfo version is not 1";
  // Algorithm parameters are not read for SHA-2 digests or ECDSA/EdDSA/RSA signatures: they must be
  // absent or NULL, as RFC 5754 and RFC 5758 specify.
  X509_ALGOR* digest_algorithm = nullptr;
  X509_ALGOR* signature_algorithm = nullptr;
  PKCS7_SIGNER_INFO_get0_algs(signer_info, nullptr, &digest_algorithm, &signature_algorithm);
  const auto parameters_absent_or_null = [](const X509_ALGOR* algorithm) {
    int type = V_ASN1_UNDEF;
    X509_ALGOR_get0(nullptr, &type, nullptr, algorithm);
    return type == V_ASN1_UNDEF || type == V_ASN1_NULL;
  };
  bool parameters_ok = digest_algorithm && signature_algorithm && parameters_absent_or_null(digest_algorithm) &&
                       parameters_absent_or_null(signature_algorithm);
  for (int i = 0; parameters_ok && i < sk_X509_ALGOR_num(token->d.sign->md_algs); ++i) {
    parameters_ok = parameters_absent_or_null(sk_X509_ALGOR_value(token->d.sign->md_algs, i));
  }
  if (!parameters_ok) return "the token's algorithm parameters are not absent or NULL";
  // OpenSSL takes the signature scheme from the signer's key and the hash from the digest
  // algorithm; it checks neither against the signatureAlgorithm field. Require a known algorithm of
  // the signer key's type whose hash, when it names one, is the digest algorithm.
  const int signature_nid = OBJ_obj2nid(signature_algorithm->algorithm);
  int hash_nid = NID_undef, key_nid = NID_undef;
  if (signature_nid != NID_undef && !OBJ_find_sigid_algs(signature_nid, &hash_nid, &key_nid)) key_nid = signature_nid;
  EVP_PKEY* signer_key = signer ? X509_get0_pubkey(signer) : nullptr;
  if (!signer_key || key_nid == NID_undef || !EVP_PKEY_is_a(signer_key, OBJ_nid2sn(key_nid)) ||
      (hash_nid != NID_undef && hash_nid != OBJ_obj2nid(digest_algorithm->algorithm))) {
    return "the token's signature algorithm is unknown or does not fit the signer's key and digest";
  }
  // The signer is found by comparing names in a canonical (case-folded) form: require the
  // SignerInfo's issuer to be byte for byte the certificate's.
  const unsigned char* named_der = nullptr;
  const unsigned char* issuer_der = nullptr;
  std::size_t named_length = 0, issuer_length = 0;
  if (!signer_info->issuer_and_serial ||
      X509_NAME_get0_der(signer_info->issuer_and_serial->issuer, &named_der, &named_length) != 1 ||
      X509_NAME_get0_der(X509_get_issuer_name(signer), &issuer_der, &issuer_length) != 1 ||
      std::string_view(reinterpret_cast<const char*>(named_der), named_length) !=
          std::string_view(reinterpret_cast<const char*>(issuer_der), issuer_length)) {
    return "the token's signer is not named exactly as its certificate's issuer";
  }
  return {};
}

}  // namespace

std::string timestamp_request_der(std::string_view sha256_digest, std::uint64_t nonce) {
  if (sha256_digest.size() != 32) throw Error(ErrorCode::invalid_argument, "a timestamp request needs a 32-byte SHA-256 digest");
  Owned<TS_REQ, TS_REQ_free> request(TS_REQ_new());
  Owned<TS_MSG_IMPRINT, TS_MSG_IMPRINT_free> imprint(TS_MSG_IMPRINT_new());
  Owned<X509_ALGOR, X509_ALGOR_free> algorithm(X509_ALGOR_new());
  Owned<ASN1_INTEGER, ASN1_INTEGER_free> nonce_value(ASN1_INTEGER_new());
  if (!request || !imprint || !algorithm || !nonce_value ||
      X509_ALGOR_set0(algorithm.get(), OBJ_nid2obj(NID_sha256), V_ASN1_NULL, nullptr) != 1 ||
      TS_MSG_IMPRINT_set_algo(imprint.get(), algorithm.get()) != 1 ||
      TS_MSG_IMPRINT_set_msg(imprint.get(), reinterpret_cast<unsigned char*>(const_cast<char*>(sha256_digest.data())),
                             static_cast<int>(sha256_digest.size())) != 1 ||
      TS_REQ_set_version(request.get(), 1) != 1 || TS_REQ_set_msg_imprint(request.get(), imprint.get()) != 1 ||
      ASN1_INTEGER_set_uint64(nonce_value.get(), nonce) != 1 || TS_REQ_set_nonce(request.get(), nonce_value.get()) != 1 ||
      TS_REQ_set_cert_req(request.get(), 1) != 1) {
    throw Error(ErrorCode::internal, "cannot build an RFC 3161 request: " + openssl_error());
  }
  unsigned char* der = nullptr;
  const int length = i2d_TS_REQ(request.get(), &der);
  if (length <= 0) throw Error(ErrorCode::internal, "cannot encode an RFC 3161 request: " + openssl_error());
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  return out;
}

TimestampReplyCheck check_timestamp_reply(std::string_view reply_der, std::string_view request_der,
                                          const std::filesystem::path& ca_file) {
  TimestampReplyCheck check;
  const auto* reply_bytes = reinterpret_cast<const unsigned char*>(reply_der.data());
  Owned<TS_RESP, TS_RESP_free> reply(d2i_TS_RESP(nullptr, &reply_bytes, static_cast<long>(reply_der.size())));
  if (!reply || reply_bytes != reinterpret_cast<const unsigned char*>(reply_der.data()) + reply_der.size()) {
    check.problem = "not a DER TimeStampResp (or bytes after it): " + openssl_error();
    return check;
  }
  const auto* request_bytes = reinterpret_cast<const unsigned char*>(request_der.data());
  Owned<TS_REQ, TS_REQ_free> request(d2i_TS_REQ(nullptr, &request_bytes, static_cast<long>(request_der.size())));
  if (!request) {
    check.problem = "the request is not a DER TimeStampReq: " + openssl_error();
    return check;
  }
  // Strict DER: the reply must be exactly its own re-encoding (no alternative length forms).
  unsigned char* encoded = nullptr;
  const int encoded_length = i2d_TS_RESP(reply.get(), &encoded);
  const bool canonical = encoded_length > 0 && std::string_view(reinterpret_cast<const char*>(encoded),
                                                                static_cast<std::size_t>(encoded_length)) == reply_der;
  OPENSSL_free(encoded);
  if (!canonical) {
    check.problem = "not in DER form (the bytes are not their own re-encoding)";
    return check;
  }
  TS_TST_INFO* info = TS_RESP_get_tst_info(reply.get());
  PKCS7* token = TS_RESP_get_token(reply.get());
  if (!info || !token) {
    check.problem = "the reply holds no timestamp token (status not granted)";
    return check;
  }
  // PKIStatusInfo lies outside the signed token: accept only "granted" (0), so that no byte of the
  // status can change unnoticed (a real authority answers 0; "grantedWithMods" is refused by name).
  if (const long status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(reply.get()))); status != 0) {
    check.problem = "the reply's status is " + std::to_string(status) + ", not 0 (granted)";
    return check;
  }
  Owned<BIO, BIO_free_all> time_text(BIO_new(BIO_s_mem()));
  if (time_text && ASN1_GENERALIZEDTIME_print(time_text.get(), TS_TST_INFO_get_time(info)) == 1) {
    check.time_utc = bio_text(time_text.get());
  }
  Owned<X509_STORE, X509_STORE_free> store(X509_STORE_new());
  if (!store) throw Error(ErrorCode::internal, "cannot allocate an X509 store");
  X509* signer = token_signer(token);
  if (signer) {
    Owned<BIO, BIO_free_all> subject(BIO_new(BIO_s_mem()));
    if (subject && X509_NAME_print_ex(subject.get(), X509_get_subject_name(signer), 0, XN_FLAG_ONELINE) >= 0) {
      check.authority = bio_text(subject.get());
    }
  }
  if (!ca_file.empty()) {
    if (X509_STORE_load_file(store.get(), ca_file.c_str()) != 1) {
      throw Error(ErrorCode::io, "CA file " + ca_file.string() + " cannot be read as PEM certificates: " + openssl_error());
    }
    check.chain_checked = true;
  } else if (signer) {
    X509_STORE_add_cert(store.get(), signer);
  }
  if (std::string problem = token_structure_problem(token, signer); !problem.empty()) {
    check.problem = std::move(problem);
    return check;
  }
  Owned<TS_VERIFY_CTX, TS_VERIFY_CTX_free> context(TS_REQ_to_TS_VERIFY_CTX(request.get(), nullptr));
  if (!context) throw Error(ErrorCode::internal, "cannot set up timestamp verification: " + openssl_error());
  TS_VERIFY_CTX_add_flags(context.get(), TS_VFY_SIGNATURE);
  TS_VERIFY_CTX_set_store(context.get(), store.release());
  if (TS_RESP_verify_response(context.get(), reply.get()) != 1) {
    check.problem = "the reply does not verify against the request: " + openssl_error();
    return check;
  }
  check.ok = true;
  return check;
}

}  // namespace tracemark
