// Watermark keys: a 256-bit secret plus the parameters of the scheme it drives, kept together in
// one versioned key file (as sentencepiece keeps everything a model needs in its file), so that
// embedding and detection can never disagree about gamma, delta, context width or vocabulary.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tracemark {

inline constexpr std::string_view kGreenListSchemeName = "kgw-green-list";
// Version of the scheme new keys get (docs/DESIGN.md, "Scheme version 2"); every version from 1 to
// kGreenListSchemeLatestVersion stays loadable, usable and detectable.
inline constexpr std::uint32_t kGreenListSchemeVersion = 2;
// Version 3 is version 2's rule with context seeds from a keyed PRF (AES-128, context_prf.hpp)
// instead of keyed XXH3.
inline constexpr std::uint32_t kGreenListSchemeLatestVersion = 3;
// The Gumbel-max (exponential) sampling scheme (gumbel_max_scheme.hpp): distortion-free, no gamma
// or delta (both 0 in its SchemeParams and absent from its key file).
inline constexpr std::string_view kGumbelMaxSchemeName = "gumbel-max";
inline constexpr std::uint32_t kGumbelMaxSchemeLatestVersion = 2;  // 2: the 32-bit per-id function
// SynthID-Text's tournament sampling (tournament_scheme.hpp): distortion-free in expectation over
// keys; no gamma or delta; m tournament layers (g-values per step), 1..64, SynthID's 30 by default.
inline constexpr std::string_view kTournamentSchemeName = "synthid-tournament";
inline constexpr std::uint32_t kTournamentSchemeLatestVersion = 1;
inline constexpr std::uint32_t kTournamentDefaultLayers = 30;
inline constexpr std::uint32_t kTournamentMaxLayers = 64;
// Version 2 keeps a 4-byte keyed value per token id, so it is limited to this many ids.
inline constexpr std::uint32_t kGreenListSchemeV2MaxVocabulary = 1u << 24;
inline constexpr std::uint32_t kKeyFileVersion = 1;
// A key file is under 1 KiB; load() refuses anything larger than this without reading it.
inline constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;
// The largest vocabulary a key may have (scheme version 1; version 2 allows fewer, above).
inline constexpr std::uint32_t kMaxVocabularySize = 1u << 31;

// Which tokenizer the token ids of this key refer to (name and SHA-256 of its vocabulary).
struct TokenizerBinding {
  std::string name;
  std::string vocab_sha256;  // 64 lowercase hex digits
  bool operator==(const TokenizerBinding&) const = default;
};

// Parameters of a key's scheme (the green list, Gumbel-max or the tournament). Valid ranges are enforced by validate().
struct SchemeParams {
  std::string scheme{kGreenListSchemeName};
  std::uint32_t scheme_version = kGreenListSchemeVersion;
  double gamma = 0.25;               // green list: green fraction of the vocabulary, in (0, 1); Gumbel-max: 0
  double delta = 2.0;                // green list: logit bias added to green tokens, in [0, 64]; Gumbel-max: 0
  std::uint32_t context_width = 2;   // h: previous tokens that seed the split, 0..16 (0 = one fixed list)
  std::uint32_t vocab_size = 0;      // token ids are 0..vocab_size-1; 1..2^31
  std::optional<TokenizerBinding> tokenizer;
  // Entropy-aware embedding (SWEET, Lee et al. 2023): a step is biased, and scored, only where the
  // protected model's next-token distribution has Shannon entropy >= this many nats. 0 (the
  // default) biases every step; [0, 64]. Part of the commitment when above 0.
  double entropy_threshold = 0.0;
  // synthid-tournament only: m, the number of tournament layers (g-values per step), 1..64; 0 for
  // every other scheme (and absent from their key files).
  std::uint32_t tournament_layers = 0;

  // Throws Error(invalid_argument) naming the offending parameter and its valid range.
  void validate() const;
  bool operator==(const SchemeParams&) const = default;
};

using SecretBytes = std::array<std::uint8_t, 32>;

// A secret and its parameters. Immutable after construction; safe to share across threads.
// The secret is wiped from memory on destruction and never appears in any text this class makes
// other than the key file itself.
class WatermarkKey {
 public:
  // A fresh secret from OpenSSL's CSPRNG; created time is now (UTC).
  static WatermarkKey generate(SchemeParams params);
  // A key with a given secret, for known-answer tests and re-loading.
  static WatermarkKey from_secret(const SecretBytes& secret, SchemeParams params, std::string created_utc);
  // Reads and checks a key file: refuses anything but a regular file (a FIFO is never waited on),
  // files readable by group or others or larger than kMaxKeyFileBytes, unknown versions,
  // parameters out of range, and a key_id or commitment that does not match the secret.
  static WatermarkKey load(const std::filesystem::path& path);
  // The same checks (but permissions) on the text of a key file held in memory; source names it in
  // messages (for example "<memory>"). The caller should wipe its copy of the text.
  static WatermarkKey parse(std::string_view key_file_text, const std::filesystem::path& source);

  WatermarkKey(const WatermarkKey&) = default;
  WatermarkKey& operator=(const WatermarkKey&) = default;
  ~WatermarkKey();

  // Writes the key file with mode 0600, atomically; refuses to replace an existing file unless
  // overwrite is true.
  void save(const std::filesystem::path& path, bool overwrite) const;

  const SchemeParams& params() const noexcept { return params_; }
  const std::string& key_id() const noexcept { return key_id_; }
  const std::string& created_utc() const noexcept { return created_utc_; }

  // Public commitment: SHA-256 over a domain-separated encoding of the secret and parameters
  // (docs/METHOD.md gives the byte layout). Publishing it reveals nothing about the secret.
  std::string commitment_hex() const;

  // HKDF-SHA256 sub-key for one purpose; purposes are distinct strings, so sub-keys are
  // independent and the secret itself is never used directly.
  std::vector<std::uint8_t> derive_subkey(std::string_view purpose, std::size_t length) const;

  // Everything but the secret, as pretty JSON (for `key show`, reports and bundles).
  std::string public_json() const;

 private:
  WatermarkKey(const SecretBytes& secret, SchemeParams params, std::string created_utc);

  SecretBytes secret_{};
  SchemeParams params_;
  std::string created_utc_;
  std::string key_id_;
};

}  // namespace tracemark
