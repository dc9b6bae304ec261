// attribution.json of an evidence bundle (issue 15): the keyring's root, the inclusion proofs of the
// labels whose evidence is claimed, and the attribution results; written with the bundle and checked
// by `evidence verify`. Private to verify/evidence. docs/METHOD.md ("Attribution in evidence
// bundles") gives the format.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

#include "tracemark/embed/key.hpp"
#include "tracemark/verify/attribution.hpp"
#include "tracemark/verify/evidence_bundle.hpp"
#include "tracemark/verify/suspect_scan.hpp"

namespace tracemark {

inline constexpr const char* kAttributionFile = "attribution.json";

// The attribution of one scanned file under the ring's labels (the last ring.labels.size() keys).
Attribution evidence_attribution(const EvidenceRing& ring, const FileScanResult& file, const SuspectScanReport& report,
                                 double alpha);

// The labels whose evidence is claimed: those detected in the suspect (their own test, Holm over every
// key, below alpha). Only their proofs go into the bundle.
bool is_claimed(const Attribution& suspect, std::string_view label);

// attribution.json's text. Checks the ring against the scan first and throws Error(invalid_argument)
// naming the problem: more labels than keys, a claimed label without a proof, a proof that does not
// lead to the root, is for another ring or names another commitment than its label's key. Writes only
// the claimed labels' proofs, whatever else `ring.proofs` holds.
std::string attribution_file_text(const EvidenceRing& ring, const SuspectScanReport& report,
                                  std::span<const WatermarkKey> keys, double alpha);

// The ring part of an attribution.json (ring id, root, labels, proofs), for the re-run; throws
// Error(invalid_input) or nlohmann's exception for a malformed file.
EvidenceRing read_evidence_ring(std::string_view attribution_file_text);

// Checks attribution.json without any secret: every proof parses, leads to the file's root (and to
// `published_root` when given), is for the file's ring, and its leaf's commitment is the commitment
// keys.json records for its label's key; every claimed label has a proof and no other label has one;
// each label's key in keys.json is the one named. Adds failures (naming the label and what failed)
// or one "checked" line.
void check_attribution_file(std::string_view text, const nlohmann::json& keys_json, std::string_view published_root,
                            BundleVerification& check);

}  // namespace tracemark
