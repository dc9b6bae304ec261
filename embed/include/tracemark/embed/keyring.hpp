// Keyrings: one master secret, and one complete watermark key per label derived from it, so that
// a provider can watermark each model version, each cohort of accounts and each time epoch under a
// key of its own, and later say which of them a suspect learned from.
//
// - A subkey is HKDF-SHA256(master, "tracemark/v1/keyring-subkey" 0x00 label), 32 bytes, used as the
//   secret of an ordinary WatermarkKey with the ring's parameters: deriving it needs nothing but the
//   master secret and the label, and every command that takes --key accepts it.
// - The ring is committed to by a Merkle root (RFC 6962's tree shape) over one leaf per label,
//   holding the label and its subkey's commitment. One subkey can be revealed in a dispute with
//   its inclusion proof, which checks against the published root and reveals no other subkey.
// docs/METHOD.md ("Keyrings") gives every byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tracemark/embed/key.hpp"

namespace tracemark {

inline constexpr std::uint32_t kKeyringFileVersion = 1;
inline constexpr std::uint32_t kKeyringProofVersion = 1;
// A ring has at most this many labels (each costs one HKDF and one leaf; 4,096 is far beyond any
// plan of model versions x cohorts x epochs).
inline constexpr std::size_t kMaxKeyringLabels = 4096;
inline constexpr std::size_t kMaxKeyringFileBytes = 4 << 20;

// A label is KIND:NAME with KIND one of model, cohort, epoch, global; NAME 1 to 64 characters of
// [A-Za-z0-9._+-]; an epoch's NAME is a month, YYYY-MM. Throws Error(invalid_argument) saying what
// is wrong and what a label looks like.
void validate_keyring_label(std::string_view label);

// The inclusion proof of one subkey: everything needed to check, against the ring's published root,
// that `label` had the key with `commitment` when the root was published.
struct KeyringProof {
  std::string ring_id;
  std::string root;        // "sha256:" + 64 hex digits
  std::uint64_t leaf_count = 0;
  std::uint64_t leaf_index = 0;
  std::string label;
  std::string key_id;      // the subkey's (informative; not part of the leaf)
  std::string commitment;  // "sha256:" + 64 hex digits: the subkey's commitment
  std::vector<std::string> path;  // sibling hashes from the leaf up, 64 hex digits each

  // Throws Error(invalid_input) saying which check failed when the path does not lead from the
  // leaf (label, commitment) to `root`, or when `expected_root` (if not empty, "sha256:..." or bare
  // hex) differs from it. Needs no secret.
  void verify(std::string_view expected_root = {}) const;
  // The proof as pretty JSON, and back (throws Error(invalid_input) naming `source` and the field).
  std::string to_json() const;
  static KeyringProof parse(std::string_view text, const std::filesystem::path& source);
};

// The master secret, the ring's parameters and its labels. Immutable; safe to share across threads.
// The master secret is wiped on destruction and appears in no text but the ring file itself.
class Keyring {
 public:
  // A fresh master secret (OpenSSL's CSPRNG). Labels are validated, must be distinct, and are kept
  // sorted (bytewise), which fixes the leaf order of the root.
  static Keyring generate(SchemeParams params, std::vector<std::string> labels);
  static Keyring from_master(const SecretBytes& master, SchemeParams params, std::vector<std::string> labels,
                             std::string created_utc);
  // Reads a ring file: the same refusals as WatermarkKey::load (mode 0600 or stricter, regular file,
  // size), plus labels, ring id and root checked against the master secret.
  static Keyring load(const std::filesystem::path& path);
  static Keyring parse(std::string_view ring_file_text, const std::filesystem::path& source);

  Keyring(const Keyring&) = default;
  Keyring& operator=(const Keyring&) = default;
  ~Keyring();

  // Writes the ring file, mode 0600, atomically; refuses an existing file unless overwrite.
  void save(const std::filesystem::path& path, bool overwrite) const;

  const std::string& ring_id() const noexcept { return ring_id_; }
  const SchemeParams& params() const noexcept { return params_; }
  const std::string& created_utc() const noexcept { return created_utc_; }
  const std::vector<std::string>& labels() const noexcept { return labels_; }
  bool contains(std::string_view label) const;

  // The subkey of `label`. Throws Error(invalid_argument) for a malformed label and for a label
  // that is not in the ring (the message lists the ring's labels).
  WatermarkKey derive(std::string_view label) const;
  // The subkey of any well-formed label, in the ring or not (what the derivation rule alone gives;
  // for tests and for planning labels). Prefer derive().
  WatermarkKey derive_any(std::string_view label) const;

  // "sha256:" + hex of the Merkle root over the labels' leaves.
  const std::string& root() const noexcept { return root_; }
  KeyringProof prove(std::string_view label) const;

  // Everything but the master secret, as pretty JSON (ring id, parameters, labels with key ids and
  // commitments, root): safe to publish.
  std::string public_json() const;

 private:
  Keyring(const SecretBytes& master, SchemeParams params, std::vector<std::string> labels, std::string created_utc);

  SecretBytes master_{};
  SchemeParams params_;
  std::string created_utc_;
  std::vector<std::string> labels_;        // sorted
  std::vector<std::string> commitments_;   // "sha256:...", parallel to labels_
  std::vector<std::string> key_ids_;       // parallel to labels_
  std::string ring_id_;
  std::string root_;
};

}  // namespace tracemark
