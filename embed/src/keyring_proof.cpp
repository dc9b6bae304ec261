// Inclusion proofs of keyring subkeys: written by Keyring::prove, checked with no secret at all.
#include <nlohmann/json.hpp>

#include "key_file_fields.hpp"
#include "keyring_leaf.hpp"
#include "merkle_tree.hpp"
#include "tracemark/embed/keyring.hpp"
#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"

namespace tracemark {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kProofFormat = "tracemark-keyring-proof";

std::string normalised_root(std::string_view root) {
  std::string text(root);
  if (text.rfind("sha256:", 0) != 0) text = "sha256:" + text;
  for (char& c : text) c = static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  return text;
}

}  // namespace

void KeyringProof::verify(std::string_view expected_root) const {
  const std::string where = "keyring proof for label '" + label + "'";
  validate_keyring_label(label);
  const std::optional<Sha256Digest> leaf = keyring_leaf_hash(label, commitment);
  if (!leaf) throw Error(ErrorCode::invalid_input, where + ": commitment must be 'sha256:' followed by 64 hex digits");
  std::vector<Sha256Digest> siblings;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const std::optional<std::vector<std::uint8_t>> bytes = path[i].size() == 64 ? from_hex(path[i]) : std::nullopt;
    if (!bytes) throw Error(ErrorCode::invalid_input, where + ": path[" + std::to_string(i) + "] is not 64 hex digits");
    Sha256Digest digest{};
    std::copy(bytes->begin(), bytes->end(), digest.begin());
    siblings.push_back(digest);
  }
  const std::optional<Sha256Digest> computed = merkle::root_from_path(*leaf, leaf_index, leaf_count, siblings);
  if (!computed) {
    throw Error(ErrorCode::invalid_input, where + ": a path of " + std::to_string(path.size()) + " hashes cannot place leaf " +
                                              std::to_string(leaf_index) + " in a tree of " + std::to_string(leaf_count) +
                                              " leaves; the proof was edited or belongs to another ring");
  }
  if ("sha256:" + to_hex(*computed) != normalised_root(root)) {
    throw Error(ErrorCode::invalid_input, where + ": the path does not lead to the proof's root " + root +
                                              "; the label, commitment, index or path was edited");
  }
  if (!expected_root.empty() && normalised_root(expected_root) != normalised_root(root)) {
    throw Error(ErrorCode::invalid_input, where + ": the proof is for root " + root + ", not the published root " +
                                              normalised_root(expected_root));
  }
}

std::string KeyringProof::to_json() const {
  Json document = {{"format", kProofFormat},     {"format_version", kKeyringProofVersion},
                   {"ring_id", ring_id},         {"root", root},
                   {"leaf_count", leaf_count},   {"leaf_index", leaf_index},
                   {"label", label},             {"key_id", key_id},
                   {"commitment", commitment},   {"path", path}};
  return document.dump(2);
}

KeyringProof KeyringProof::parse(std::string_view text, const std::filesystem::path& source) {
  KeyFileReader reader("keyring proof", source);
  JsonProblem problem;
  const std::optional<Json> parsed = try_parse_json(text, problem);
  if (!parsed) {
    reader.fail(ErrorCode::invalid_input, "not valid JSON at byte offset " + std::to_string(problem.offset) + " (" +
                                              problem.reason + "); make one with `tracemark keyring prove`");
  }
  const Json& file = *parsed;
  if (!file.is_object()) reader.fail(ErrorCode::invalid_input, "expected a JSON object");
  if (reader.string_field(file, "format", "format") != kProofFormat) {
    reader.fail(ErrorCode::invalid_input, "field 'format' is not '" + std::string(kProofFormat) + "'");
  }
  const std::uint32_t version = reader.uint_field(file, "format_version", "format_version");
  if (version != kKeyringProofVersion) {
    reader.fail(ErrorCode::unsupported, "proof version " + std::to_string(version) + " is not supported by this build");
  }
  KeyringProof proof;
  proof.ring_id = reader.string_field(file, "ring_id", "ring_id");
  proof.root = reader.string_field(file, "root", "root");
  for (const char* name : {"leaf_count", "leaf_index"}) {
    const Json& value = reader.field(file, name, name);
    if (!value.is_number_unsigned()) reader.fail(ErrorCode::invalid_input, std::string("field '") + name + "' must be an unsigned integer");
    (std::string_view(name) == "leaf_count" ? proof.leaf_count : proof.leaf_index) = value.get<std::uint64_t>();
  }
  proof.label = reader.string_field(file, "label", "label");
  proof.key_id = reader.string_field(file, "key_id", "key_id");
  proof.commitment = reader.string_field(file, "commitment", "commitment");
  const Json& path = reader.field(file, "path", "path");
  if (!path.is_array()) reader.fail(ErrorCode::invalid_input, "field 'path' must be an array of hex strings");
  if (path.size() > 64) reader.fail(ErrorCode::invalid_input, "field 'path' has " + std::to_string(path.size()) + " hashes; a ring's tree is never that deep");
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (!path[i].is_string()) reader.fail(ErrorCode::invalid_input, "field 'path[" + std::to_string(i) + "]' must be a string");
    proof.path.push_back(path[i].get<std::string>());
  }
  return proof;
}

}  // namespace tracemark
