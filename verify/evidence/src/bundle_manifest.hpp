// Reading the signed parts of an evidence bundle that someone handed us: the DSSE envelope, the
// manifest it signs and the investigation log. Functions over text (no files), so they can be
// tested and fuzzed alone (tests/fuzz/bundle_fuzzer.cpp); every malformed input is a failure or an
// Error(invalid_input), never a crash.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tracemark {

inline constexpr const char* kManifestFile = "manifest.json";
inline constexpr const char* kEnvelopeFile = "manifest.dsse.json";
inline constexpr const char* kTimestampRequestFile = "manifest.tsq";
inline constexpr const char* kTimestampReplyFile = "manifest.tsr";
inline constexpr const char* kInvestigationLogFile = "investigation.jsonl";
inline constexpr const char* kStatementType = "https://in-toto.io/Statement/v1";
inline constexpr const char* kPredicateType = "urn:tracemark:evidence-bundle:v1";

struct ManifestSubject {
  std::string name;    // path inside the bundle, as listed
  std::string sha256;  // lowercase hex, as listed
};

// Checks that the envelope is canonical JSON of DSSE's form, signed by the key whose PEM and id are
// given, and that its payload is exactly manifest_text. Returns the raw signature, or nullopt after
// adding one failure that names the field.
std::optional<std::string> check_manifest_envelope(std::string_view envelope_text, std::string_view manifest_text,
                                                   const std::string& public_pem, const std::string& public_id,
                                                   std::vector<std::string>& failures);

// The subjects of an in-toto Statement of a tracemark evidence bundle. Returns nullopt after adding
// a failure when the text is not such a Statement; a subject of the wrong shape (a name that is not
// a string, a digest that is not {"sha256": hex}) is a failure of its own and is left out.
std::optional<std::vector<ManifestSubject>> read_manifest_subjects(std::string_view manifest_text,
                                                                   std::vector<std::string>& failures);

// The lines of an investigation log (the text of investigation.jsonl), its hash chain checked.
// Throws Error(invalid_input) naming `name`, the line and its byte offset for a malformed entry or a
// broken link.
std::vector<std::string> parse_investigation_log(std::string_view text, const std::string& name);

}  // namespace tracemark
