// libFuzzer target: the parts of an evidence bundle someone hands us, read before and after the
// signature is checked: the DSSE envelope (its form, canonical JSON, signature), the manifest's
// subjects, the investigation log (hash chain, typed entries, Holm over its tests), and canonical
// JSON of whatever parses. The input is used as each part in turn. Nothing but tracemark::Error may
// escape (verify_evidence_bundle reports every problem as a failure line, never a crash).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bundle_manifest.hpp"
#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/verify/canonical_json.hpp"
#include "tracemark/verify/evidence_bundle.hpp"
#include "tracemark/verify/evidence_signing.hpp"

namespace {

// A test key pair made for the fuzzer (the seed corpus's envelope is signed with its private half,
// so the signature-valid path is covered too); it signs nothing else.
constexpr const char* kPublicPem =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAPXWcv2P8AAVOv1XTLVLAkVh4DyhU6Yp8n6wzRmwdbAo=\n"
    "-----END PUBLIC KEY-----\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string public_id = tracemark::signing_key_id_of_public_pem(kPublicPem);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // An envelope and the manifest it should sign: the input split at its first NUL byte.
  const std::size_t nul = input.find('\0');
  const std::string_view envelope = input.substr(0, nul);
  const std::string_view manifest = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  std::vector<std::string> failures;
  tracemark::check_manifest_envelope(envelope, manifest, kPublicPem, public_id, failures);
  tracemark::read_manifest_subjects(input, failures);
  try {
    const std::vector<std::string> log = tracemark::parse_investigation_log(input, "<fuzz>");
    tracemark::summarize_investigation(log);
  } catch (const tracemark::Error&) {
  }
  tracemark::JsonProblem problem;
  if (const auto value = tracemark::try_parse_json(input, problem)) {
    try {
      tracemark::canonical_json(*value);
    } catch (const tracemark::Error&) {
    }
  }
  return 0;
}
