#include "bundle_manifest.hpp"

#include <filesystem>

#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/verify/base64_sha256.hpp"
#include "tracemark/verify/canonical_json.hpp"
#include "tracemark/verify/evidence_signing.hpp"

namespace tracemark {
namespace {

using Json = nlohmann::json;

// A string member, or "" when absent or of another type (the callers compare it with what they want).
std::string string_or_empty(const Json& object, const char* name) {
  if (!object.is_object()) return {};
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool is_lower_hex_digest(const std::string& text) {
  return text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

std::optional<std::string> check_manifest_envelope(std::string_view envelope_text, std::string_view manifest_text,
                                                   const std::string& public_pem, const std::string& public_id,
                                                   std::vector<std::string>& failures) {
  const std::string envelope_name = kEnvelopeFile;
  auto fail = [&](const std::string& what) -> std::optional<std::string> {
    failures.push_back(what);
    return std::nullopt;
  };
  JsonProblem problem;
  const std::optional<Json> envelope = try_parse_json(envelope_text, problem);
  if (!envelope || !envelope->is_object()) {
    return fail(envelope_name + ": not valid JSON" +
                (envelope ? std::string(" object") : " (byte offset " + std::to_string(problem.offset) + ": " + problem.reason + ")"));
  }
  std::string canonical;
  try {
    canonical = canonical_json(*envelope);
  } catch (const Error&) {
  }
  if (canonical != envelope_text) return fail(envelope_name + ": not in canonical form (bytes were changed)");
  if (string_or_empty(*envelope, "payloadType") != kInTotoPayloadType) {
    return fail(envelope_name + ": field payloadType is not " + std::string(kInTotoPayloadType));
  }
  const auto signatures = envelope->find("signatures");
  if (signatures == envelope->end() || !signatures->is_array() || signatures->size() != 1 || !(*signatures)[0].is_object()) {
    return fail(envelope_name + ": field signatures must hold exactly one signature");
  }
  const Json& entry = (*signatures)[0];
  const std::string payload_b64 = string_or_empty(*envelope, "payload");
  const std::string sig_b64 = string_or_empty(entry, "sig");
  const std::string keyid = string_or_empty(entry, "keyid");
  const auto payload = base64_decode(payload_b64);
  const auto sig = base64_decode(sig_b64);
  if (keyid != public_id) {
    return fail(envelope_name + ": field signatures[0].keyid is " + (keyid.empty() ? "missing" : escaped_excerpt(keyid, 80)) +
                " but the public key given is " + public_id + " (signed by another key, or the field was changed)");
  }
  if (!payload || base64_encode(*payload) != payload_b64) return fail(envelope_name + ": field payload is not canonical base64");
  if (!sig || base64_encode(*sig) != sig_b64) return fail(envelope_name + ": field signatures[0].sig is not canonical base64");
  if (!verify_ed25519(public_pem, dsse_pae(kInTotoPayloadType, *payload), *sig)) {
    return fail(envelope_name + ": field signatures[0].sig does not verify with public key " + public_id +
                " (the payload or the signature was changed)");
  }
  if (*payload != manifest_text) {
    std::size_t at = 0;
    while (at < payload->size() && at < manifest_text.size() && (*payload)[at] == manifest_text[at]) ++at;
    return fail(std::string(kManifestFile) + ": differs from the signed payload in " + envelope_name + " at byte offset " +
                std::to_string(at));
  }
  return *sig;
}

std::optional<std::vector<ManifestSubject>> read_manifest_subjects(std::string_view manifest_text,
                                                                   std::vector<std::string>& failures) {
  JsonProblem problem;
  const std::optional<Json> manifest = try_parse_json(manifest_text, problem);
  if (!manifest || string_or_empty(*manifest, "_type") != kStatementType ||
      string_or_empty(*manifest, "predicateType") != kPredicateType || !manifest->contains("subject") ||
      !(*manifest)["subject"].is_array()) {
    failures.push_back(std::string(kManifestFile) + ": not an in-toto Statement of a tracemark evidence bundle");
    return std::nullopt;
  }
  std::vector<ManifestSubject> subjects;
  const Json& listed = (*manifest)["subject"];
  for (std::size_t i = 0; i < listed.size(); ++i) {
    const Json& subject = listed[i];
    const std::string where = std::string(kManifestFile) + ": subject " + std::to_string(i + 1);
    if (!subject.is_object() || !subject.contains("name") || !subject["name"].is_string()) {
      failures.push_back(where + ": field name must be a string (the file's path inside the bundle), not " +
                         json_excerpt(subject.is_object() && subject.contains("name") ? subject["name"] : subject));
      continue;
    }
    const std::string name = subject["name"].get<std::string>();
    const Json* digest = subject.contains("digest") ? &subject["digest"] : nullptr;
    if (!digest || !digest->is_object() || !digest->contains("sha256") || !(*digest)["sha256"].is_string() ||
        !is_lower_hex_digest((*digest)["sha256"].get<std::string>())) {
      failures.push_back(where + " (\"" + escaped_excerpt(name, 80) +
                         "\"): field digest must be {\"sha256\": 64 lowercase hex digits}, not " +
                         json_excerpt(digest ? *digest : Json()));
      continue;
    }
    const std::filesystem::path relative(name);
    if (name.empty() || relative.is_absolute() || name.find("..") != std::string::npos) {
      failures.push_back(where + ": name \"" + escaped_excerpt(name, 80) + "\" is not a plain path inside the bundle");
      continue;
    }
    subjects.push_back({name, (*digest)["sha256"].get<std::string>()});
  }
  return subjects;
}

}  // namespace tracemark
