#include "evidence_attribution.hpp"

#include <algorithm>
#include <cctype>

#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/verify/scan_report.hpp"

namespace tracemark {
namespace {

constexpr const char* kFormat = "tracemark-attribution";
constexpr int kFormatVersion = 1;

// "sha256:" + lower-case hex, whichever way the root was written.
std::string normalised_root(std::string_view root) {
  std::string out(root.starts_with("sha256:") ? root.substr(7) : root);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return "sha256:" + out;
}

std::size_t first_ring_key(const EvidenceRing& ring, std::size_t keys) {
  if (ring.labels.empty() || ring.labels.size() > keys) {
    throw Error(ErrorCode::invalid_argument, "evidence: the keyring's " + std::to_string(ring.labels.size()) +
                                                 " labels must be the last of the scan's " + std::to_string(keys) + " keys");
  }
  return keys - ring.labels.size();
}

const KeyringProof* proof_of(const EvidenceRing& ring, std::string_view label) {
  for (const KeyringProof& proof : ring.proofs) {
    if (proof.label == label) return &proof;
  }
  return nullptr;
}

}  // namespace

Attribution evidence_attribution(const EvidenceRing& ring, const FileScanResult& file, const SuspectScanReport& report,
                                 double alpha) {
  const std::size_t first = first_ring_key(ring, file.keys.size());
  return attribute(ring.labels, std::span(file.keys).subspan(first), report.gammas.at(first), alpha);
}

bool is_claimed(const Attribution& suspect, std::string_view label) {
  return std::any_of(suspect.labels.begin(), suspect.labels.end(),
                     [&](const LabelFinding& f) { return f.detected && f.label == label; });
}

std::string attribution_file_text(const EvidenceRing& ring, const SuspectScanReport& report,
                                  std::span<const WatermarkKey> keys, double alpha) {
  const std::size_t first = first_ring_key(ring, keys.size());
  const Attribution suspect = evidence_attribution(ring, report.suspect, report, alpha);
  nlohmann::ordered_json labels = nlohmann::ordered_json::array();
  nlohmann::ordered_json proofs = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < ring.labels.size(); ++i) {
    const std::string& label = ring.labels[i];
    const WatermarkKey& key = keys[first + i];
    const std::string commitment = "sha256:" + key.commitment_hex();
    const bool claimed = is_claimed(suspect, label);
    labels.push_back({{"label", label}, {"key_index", first + i}, {"key_id", key.key_id()}, {"commitment", commitment},
                      {"claimed", claimed}});
    if (!claimed) continue;  // a proof reveals a label's place in the ring: only for evidence claimed
    const KeyringProof* proof = proof_of(ring, label);
    if (!proof) {
      throw Error(ErrorCode::invalid_argument, "evidence: the suspect is detected under " + label +
                                                   ", but no inclusion proof of that label was given");
    }
    proof->verify(ring.root);  // Error(invalid_input) naming the label and the failed check
    if (proof->ring_id != ring.ring_id) {
      throw Error(ErrorCode::invalid_argument, "evidence: the inclusion proof of " + label + " is for ring " +
                                                   proof->ring_id + ", not " + ring.ring_id);
    }
    if (proof->commitment != commitment) {
      throw Error(ErrorCode::invalid_argument, "evidence: the inclusion proof of " + label + " names commitment " +
                                                   proof->commitment + ", but the scan's key for it has " + commitment);
    }
    proofs.push_back(parse_ordered_json(proof->to_json(), "keyring proof"));
  }
  nlohmann::ordered_json document = {{"format", kFormat},          {"format_version", kFormatVersion},
                                     {"ring_id", ring.ring_id},    {"root", normalised_root(ring.root)},
                                     {"labels", std::move(labels)}, {"proofs", std::move(proofs)}};
  document["suspect"] = attribution_json(suspect);
  if (report.control) document["control"] = attribution_json(evidence_attribution(ring, *report.control, report, alpha));
  document["explanation"] = attribution_text(suspect);
  return dump_with_raw_p_values(document, 2) + "\n";
}

EvidenceRing read_evidence_ring(std::string_view text) {
  const nlohmann::json document = parse_json(text, kAttributionFile);
  EvidenceRing ring;
  ring.ring_id = document.at("ring_id").get<std::string>();
  ring.root = document.at("root").get<std::string>();
  for (const nlohmann::json& label : document.at("labels")) ring.labels.push_back(label.at("label").get<std::string>());
  const nlohmann::json& proofs = document.at("proofs");
  for (std::size_t i = 0; i < proofs.size(); ++i) {
    ring.proofs.push_back(KeyringProof::parse(proofs.at(i).dump(), std::string(kAttributionFile) + " proofs[" + std::to_string(i) + "]"));
  }
  return ring;
}

void check_attribution_file(std::string_view text, const nlohmann::json& keys_json, std::string_view published_root,
                            BundleVerification& check) {
  const std::size_t failures_before = check.failures.size();
  auto fail = [&](const std::string& what) { check.failures.push_back(std::string(kAttributionFile) + ": " + what); };
  JsonProblem problem;
  const std::optional<nlohmann::json> parsed = try_parse_json(text, problem);
  if (!parsed || !parsed->is_object()) {
    fail(parsed ? "not a JSON object" : "not valid JSON at byte offset " + std::to_string(problem.offset) + " (" + problem.reason + ")");
    return;
  }
  const nlohmann::json& document = *parsed;
  try {
    if (document.at("format").get<std::string>() != kFormat || document.at("format_version").get<int>() != kFormatVersion) {
      fail(std::string("not a tracemark attribution file of format version ") + std::to_string(kFormatVersion));
      return;
    }
    const std::string ring_id = document.at("ring_id").get<std::string>();
    const std::string root = normalised_root(document.at("root").get<std::string>());
    if (!published_root.empty() && root != normalised_root(published_root)) {
      fail("the bundle's keyring root " + escaped_excerpt(root, 80) + " is not the published root " +
           escaped_excerpt(normalised_root(published_root), 80));
    }
    // label -> (commitment in keys.json, claimed)
    std::vector<std::pair<std::string, std::string>> commitments;
    std::vector<std::string> claimed;
    for (const nlohmann::json& entry : document.at("labels")) {
      const std::string label = entry.at("label").get<std::string>();
      const std::size_t index = entry.at("key_index").get<std::size_t>();
      if (!keys_json.is_array() || index >= keys_json.size()) {
        fail("label " + escaped_excerpt(label) + " names key " + std::to_string(index) + ", which keys.json does not hold");
        continue;
      }
      const std::string recorded = keys_json.at(index).value("commitment", std::string());
      if (recorded != entry.at("commitment").get<std::string>()) {
        fail("label " + escaped_excerpt(label) + ": commitment " + escaped_excerpt(entry.at("commitment").get<std::string>(), 80) +
             " is not that of key " + std::to_string(index) + " in keys.json (" + escaped_excerpt(recorded, 80) + ")");
      }
      commitments.emplace_back(label, recorded);
      if (entry.at("claimed").get<bool>()) claimed.push_back(label);
    }
    // The claims must be the suspect's detected labels, as recorded beside them.
    for (const nlohmann::json& finding : document.at("suspect").at("labels")) {
      const std::string label = finding.at("label").get<std::string>();
      const bool detected = finding.at("detected").get<bool>();
      if (detected != (std::find(claimed.begin(), claimed.end(), label) != claimed.end())) {
        fail("label " + escaped_excerpt(label) + " is " + (detected ? "detected but not claimed" : "claimed but not detected"));
      }
    }
    const nlohmann::json& proofs = document.at("proofs");
    std::vector<std::string> proven;
    for (std::size_t i = 0; i < proofs.size(); ++i) {
      const std::string where = std::string(kAttributionFile) + " proofs[" + std::to_string(i) + "]";
      // A proof that fails is reported for what it is, not again as a missing one.
      if (proofs.at(i).is_object() && proofs.at(i).contains("label") && proofs.at(i).at("label").is_string()) {
        proven.push_back(proofs.at(i).at("label").get<std::string>());
      }
      try {
        const KeyringProof proof = KeyringProof::parse(proofs.at(i).dump(), where);
        proof.verify(root);  // the path from (label, commitment) must lead to the bundle's root
        if (proof.ring_id != ring_id) {
          fail("the inclusion proof of " + proof.label + " is for ring " + escaped_excerpt(proof.ring_id) + ", not " + escaped_excerpt(ring_id));
        }
        const auto label = std::find_if(commitments.begin(), commitments.end(), [&](const auto& c) { return c.first == proof.label; });
        if (label == commitments.end() || std::find(claimed.begin(), claimed.end(), proof.label) == claimed.end()) {
          fail("holds an inclusion proof of " + proof.label + ", which is not a claimed label of the scan");
        } else if (label->second != proof.commitment) {
          fail("the inclusion proof of " + proof.label + " has leaf commitment " + proof.commitment +
               ", not the commitment of the label's key in keys.json (" + label->second + "): the revealed subkey is not "
               "the ring's subkey of that label");
        }
      } catch (const Error& e) {
        fail(std::string("tampered or malformed inclusion proof: ") + e.what());
      }
    }
    for (const std::string& label : claimed) {
      if (std::find(proven.begin(), proven.end(), label) == proven.end()) fail("the claimed label " + label + " has no inclusion proof");
    }
    if (check.failures.size() == failures_before) {
      std::string labels;
      for (const std::string& label : claimed) labels += (labels.empty() ? "" : ", ") + label;
      check.checked.push_back("attribution: ring " + ring_id + ", root " + root +
                              (published_root.empty() ? " (give --keyring-root to compare it with the published root)"
                                                      : " (the published root)") +
                              "; " + std::to_string(claimed.size()) + " claimed label(s)" +
                              (claimed.empty() ? "" : " (" + labels + ")") +
                              ", each with an inclusion proof that leads to the root from its key's commitment in keys.json; "
                              "verdict " + document.at("suspect").at("verdict").get<std::string>());
    }
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("a field is missing or has the wrong type: ") + e.what());
  }
}

}  // namespace tracemark
