// Trusted timestamps (RFC 3161) for evidence manifests, through OpenSSL's TS functions. tracemark
// writes the request (.tsq); a timestamp authority's reply (.tsr) can be added to a bundle later and
// is then checked against the request.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace tracemark {

// DER of a TimeStampReq (version 1) for a SHA-256 digest (32 raw bytes), with the given nonce and
// certReq TRUE. The same arguments always give the same bytes, so a verifier can rebuild it.
std::string timestamp_request_der(std::string_view sha256_digest, std::uint64_t nonce);

struct TimestampReplyCheck {
  bool ok = false;
  std::string problem;       // when not ok: what failed, in words
  std::string time_utc;      // genTime of the token, when it could be read
  std::string authority;     // subject of the certificate that signed the token
  bool chain_checked = false;  // the authority's certificate chain was checked against ca_file
};

// Checks a TimeStampResp (DER) against the request it answers: status granted, the same message
// imprint and nonce, and a valid signature on the token. With a CA file (PEM) the signer's chain is
// checked against it; without one the signature is checked against the certificate the reply holds
// (which proves the token is intact, not who the authority is).
TimestampReplyCheck check_timestamp_reply(std::string_view reply_der, std::string_view request_der,
                                          const std::filesystem::path& ca_file);

}  // namespace tracemark
