#include "tracemark/embed/keyring.hpp"

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>

#include "crypto.hpp"
#include "key_file_fields.hpp"
#include "keyring_leaf.hpp"
#include "merkle_tree.hpp"
#include "tracemark/atomic_file.hpp"
#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/secret_file.hpp"

namespace tracemark {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kKeyringFileFormat = "tracemark-keyring";
// HKDF info strings (docs/METHOD.md, "Keyrings"): distinct from every purpose WatermarkKey uses.
constexpr std::string_view kSubkeyPurpose = "tracemark/v1/keyring-subkey";
constexpr std::string_view kRingIdPurpose = "tracemark/v1/keyring-id";
constexpr std::string_view kLeafDomain = "tracemark/v1/keyring-leaf";

constexpr std::string_view kLabelHelp =
    "a label is KIND:NAME with KIND model, cohort, epoch or global and NAME 1 to 64 characters of "
    "A-Z a-z 0-9 . _ + - (an epoch's NAME is a month, YYYY-MM), for example model:v2, cohort:campaign-a, "
    "epoch:2026-03";

std::string now_utc() {
  std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buffer;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '+' || c == '-';
}

bool is_month(std::string_view name) {
  if (name.size() != 7 || name[4] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6}) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  const int month = (name[5] - '0') * 10 + (name[6] - '0');
  return month >= 1 && month <= 12;
}

std::vector<std::string> sorted_labels(std::vector<std::string> labels) {
  if (labels.empty()) throw Error(ErrorCode::invalid_argument, "a keyring needs at least one label; " + std::string(kLabelHelp));
  if (labels.size() > kMaxKeyringLabels) {
    throw Error(ErrorCode::invalid_argument, "a keyring holds at most " + std::to_string(kMaxKeyringLabels) + " labels (got " +
                                                 std::to_string(labels.size()) + ")");
  }
  for (const std::string& label : labels) validate_keyring_label(label);
  std::sort(labels.begin(), labels.end());
  const auto repeated = std::adjacent_find(labels.begin(), labels.end());
  if (repeated != labels.end()) {
    throw Error(ErrorCode::invalid_argument, "label '" + *repeated + "' is given twice; each label names one subkey");
  }
  return labels;
}

}  // namespace

void validate_keyring_label(std::string_view label) {
  const std::size_t colon = label.find(':');
  const auto refuse = [&](const std::string& why) {
    throw Error(ErrorCode::invalid_argument,
                "label '" + escaped_excerpt(label, 80) + "' " + why + "; " + std::string(kLabelHelp));
  };
  if (colon == std::string_view::npos) refuse("has no KIND: prefix");
  const std::string_view kind = label.substr(0, colon);
  const std::string_view name = label.substr(colon + 1);
  if (kind != "model" && kind != "cohort" && kind != "epoch" && kind != "global") refuse("has an unknown kind");
  if (name.empty() || name.size() > 64) refuse("has a name of " + std::to_string(name.size()) + " characters");
  if (!std::all_of(name.begin(), name.end(), is_name_char)) refuse("has a character outside the allowed set in its name");
  if (kind == "epoch" && !is_month(name)) refuse("is an epoch whose name is not a month YYYY-MM");
}

std::optional<Sha256Digest> keyring_leaf_hash(std::string_view label, std::string_view commitment) {
  constexpr std::string_view kPrefix = "sha256:";
  if (commitment.size() != kPrefix.size() + 64 || commitment.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  const std::optional<std::vector<std::uint8_t>> digest = from_hex(commitment.substr(kPrefix.size()));
  if (!digest) return std::nullopt;
  std::vector<std::uint8_t> leaf(kLeafDomain.begin(), kLeafDomain.end());
  leaf.push_back(0);
  for (int shift = 24; shift >= 0; shift -= 8) leaf.push_back(static_cast<std::uint8_t>(label.size() >> shift));
  leaf.insert(leaf.end(), label.begin(), label.end());
  leaf.insert(leaf.end(), digest->begin(), digest->end());
  return merkle::leaf_hash(leaf);
}

Keyring::Keyring(const SecretBytes& master, SchemeParams params, std::vector<std::string> labels, std::string created_utc)
    : master_(master), params_(std::move(params)), created_utc_(std::move(created_utc)), labels_(sorted_labels(std::move(labels))) {
  params_.validate();
  // Attribution compares green rates between labels (docs/METHOD.md): rings are green-list only.
  if (params_.scheme != kGreenListSchemeName) {
    throw Error(ErrorCode::unsupported, "keyrings hold green-list subkeys only (attribution compares green rates); '" +
                                            params_.scheme + "' was asked for. Make single keys with `tracemark keygen "
                                            "--scheme " + params_.scheme + "` instead");
  }
  ring_id_ = "tmr_" + to_hex(crypto::hkdf_sha256(master_, kRingIdPurpose, 8));
  std::vector<Sha256Digest> leaves;
  for (const std::string& label : labels_) {
    const WatermarkKey key = derive_any(label);
    commitments_.push_back("sha256:" + key.commitment_hex());
    key_ids_.push_back(key.key_id());
    leaves.push_back(*keyring_leaf_hash(label, commitments_.back()));
  }
  root_ = "sha256:" + to_hex(merkle::root(leaves));
}

Keyring::~Keyring() { crypto::cleanse(master_); }

Keyring Keyring::generate(SchemeParams params, std::vector<std::string> labels) {
  params.validate();
  SecretBytes master{};
  crypto::random_bytes(master);
  Keyring ring(master, std::move(params), std::move(labels), now_utc());
  crypto::cleanse(master);
  return ring;
}

Keyring Keyring::from_master(const SecretBytes& master, SchemeParams params, std::vector<std::string> labels,
                             std::string created_utc) {
  return Keyring(master, std::move(params), std::move(labels), std::move(created_utc));
}

bool Keyring::contains(std::string_view label) const { return std::binary_search(labels_.begin(), labels_.end(), label); }

WatermarkKey Keyring::derive_any(std::string_view label) const {
  validate_keyring_label(label);
  std::string info(kSubkeyPurpose);
  info.push_back('\0');
  info.append(label);
  std::vector<std::uint8_t> derived = crypto::hkdf_sha256(master_, info, 32);
  SecretBytes secret{};
  std::copy(derived.begin(), derived.end(), secret.begin());
  crypto::cleanse(derived);
  WatermarkKey key = WatermarkKey::from_secret(secret, params_, created_utc_);
  crypto::cleanse(secret);
  return key;
}

WatermarkKey Keyring::derive(std::string_view label) const {
  validate_keyring_label(label);
  if (!contains(label)) {
    std::string known;
    for (const std::string& name : labels_) known += (known.empty() ? "" : ", ") + name;
    throw Error(ErrorCode::invalid_argument, "label '" + std::string(label) + "' is not in keyring " + ring_id_ +
                                                 " (its labels: " + known + "); a ring's labels are fixed when it is made");
  }
  return derive_any(label);
}

KeyringProof Keyring::prove(std::string_view label) const {
  const WatermarkKey key = derive(label);  // refuses unknown labels
  const std::size_t index = static_cast<std::size_t>(std::lower_bound(labels_.begin(), labels_.end(), label) - labels_.begin());
  std::vector<Sha256Digest> leaves;
  for (std::size_t i = 0; i < labels_.size(); ++i) leaves.push_back(*keyring_leaf_hash(labels_[i], commitments_[i]));
  KeyringProof proof;
  proof.ring_id = ring_id_;
  proof.root = root_;
  proof.leaf_count = labels_.size();
  proof.leaf_index = index;
  proof.label = std::string(label);
  proof.key_id = key.key_id();
  proof.commitment = commitments_[index];
  for (const Sha256Digest& sibling : merkle::inclusion_path(leaves, index)) proof.path.push_back(to_hex(sibling));
  return proof;
}

std::string Keyring::public_json() const {
  Json description = params_to_json(params_);
  description["format"] = kKeyringFileFormat;
  description["format_version"] = kKeyringFileVersion;
  description["ring_id"] = ring_id_;
  description["created"] = created_utc_;
  Json subkeys = Json::array();
  for (std::size_t i = 0; i < labels_.size(); ++i) {
    subkeys.push_back({{"label", labels_[i]}, {"key_id", key_ids_[i]}, {"commitment", commitments_[i]}});
  }
  description["subkeys"] = std::move(subkeys);
  description["root"] = root_;
  return description.dump(2);
}

void Keyring::save(const std::filesystem::path& path, bool overwrite) const {
  Json file = parse_json(public_json(), "keyring description");
  file["master_secret"] = to_hex(master_);
  write_secret_json(path, file, overwrite);
}

Keyring Keyring::load(const std::filesystem::path& path) {
  const SecretText text = read_secret_file(path, "keyring file",
                                           "make one with `tracemark keyring new --out " + path.string() + " --labels ...`",
                                           kMaxKeyringFileBytes);
  return parse(text.view(), path);
}

Keyring Keyring::parse(std::string_view ring_file_text, const std::filesystem::path& source) {
  KeyFileReader reader("keyring file", source);
  Json file = parse_secret_json(ring_file_text, reader, "keyring (made by `tracemark keyring new`)");
  if (reader.string_field(file, "format", "format") != kKeyringFileFormat) {
    reader.fail(ErrorCode::invalid_input, "field 'format' is not '" + std::string(kKeyringFileFormat) +
                                              "'; a single key file is given with --key, not --keyring");
  }
  const std::uint32_t version = reader.uint_field(file, "format_version", "format_version");
  if (version != kKeyringFileVersion) {
    reader.fail(ErrorCode::unsupported, "keyring file version " + std::to_string(version) +
                                            " is not supported by this build (it reads version " +
                                            std::to_string(kKeyringFileVersion) + "); upgrade tracemark");
  }
  SchemeParams params = reader.params(file);
  const Json& subkeys = reader.field(file, "subkeys", "subkeys");
  if (!subkeys.is_array()) reader.fail(ErrorCode::invalid_input, "field 'subkeys' must be an array");
  std::vector<std::string> labels;
  for (std::size_t i = 0; i < subkeys.size(); ++i) {
    labels.push_back(reader.string_field(subkeys[i], "label", "subkeys[" + std::to_string(i) + "].label"));
  }
  const std::string created = reader.string_field(file, "created", "created");
  SecretBytes master = reader.secret(file, "master_secret");
  file["master_secret"] = nullptr;
  std::optional<Keyring> ring;
  try {
    ring.emplace(Keyring(master, std::move(params), std::move(labels), created));
  } catch (const Error& e) {
    crypto::cleanse(master);
    reader.fail(e.code(), e.what());
  }
  crypto::cleanse(master);
  if (reader.string_field(file, "ring_id", "ring_id") != ring->ring_id()) {
    reader.fail(ErrorCode::invalid_input, "ring_id does not match the master secret; the file was edited or corrupted");
  }
  // Every recorded commitment and key id must be what the master secret gives: an edited subkey
  // entry would otherwise go unnoticed until a proof failed in a dispute.
  const Json expected = parse_json(ring->public_json(), "keyring description");
  for (std::size_t i = 0; i < subkeys.size(); ++i) {
    const std::string label = subkeys[i].at("label").get<std::string>();
    for (const Json& entry : expected.at("subkeys")) {
      if (entry.at("label") != label) continue;
      for (const char* field : {"key_id", "commitment"}) {
        if (reader.string_field(subkeys[i], field, "subkeys[" + std::to_string(i) + "]." + field) != entry.at(field)) {
          reader.fail(ErrorCode::invalid_input, "subkeys[" + std::to_string(i) + "] (label " + label + "): " + field +
                                                    " does not match the master secret; the file was edited or corrupted");
        }
      }
    }
  }
  if (reader.string_field(file, "root", "root") != ring->root()) {
    reader.fail(ErrorCode::invalid_input, "root does not match the master secret and labels; the file was edited or corrupted");
  }
  return std::move(*ring);
}

}  // namespace tracemark
