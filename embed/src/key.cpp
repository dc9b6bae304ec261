#include "tracemark/embed/key.hpp"

#include <bit>
#include <cstdio>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>

#include "crypto.hpp"
#include "key_file_fields.hpp"
#include "tracemark/atomic_file.hpp"
#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/embed/scheme_catalog.hpp"
#include "tracemark/secret_file.hpp"
#include "tracemark/sha256.hpp"

namespace tracemark {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kKeyFileFormat = "tracemark-key";
constexpr std::string_view kCommitmentDomain = "tracemark/v1/key-commitment";
constexpr std::string_view kKeyIdPurpose = "tracemark/v1/key-id";

void append_u32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}
void append_u64(std::vector<std::uint8_t>& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}
void append_string(std::vector<std::uint8_t>& out, std::string_view text) {
  append_u32(out, static_cast<std::uint32_t>(text.size()));
  out.insert(out.end(), text.begin(), text.end());
}

std::string now_utc() {
  std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buffer;
}

bool is_lower_hex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

void SchemeParams::validate() const {
  // Unknown names and versions are refused, never read as another scheme (scheme_catalog.hpp).
  const std::uint32_t latest = latest_scheme_version(scheme);
  if (scheme_version < 1 || scheme_version > latest) {
    throw Error(ErrorCode::unsupported, "scheme version " + std::to_string(scheme_version) + " of '" + scheme +
                                            "' is not supported by this build (it knows versions 1 to " +
                                            std::to_string(latest) + "); upgrade tracemark");
  }
  const SchemeKind kind = scheme_kind(scheme);
  if (kind == SchemeKind::tournament) {
    if (tournament_layers < 1 || tournament_layers > kTournamentMaxLayers) {
      throw Error(ErrorCode::invalid_argument, "the synthid-tournament scheme needs between 1 and " +
                                                   std::to_string(kTournamentMaxLayers) + " tournament layers (got " +
                                                   std::to_string(tournament_layers) + ")");
    }
  } else if (tournament_layers != 0) {
    throw Error(ErrorCode::invalid_argument, "tournament layers belong to the synthid-tournament scheme; a '" + scheme +
                                                 "' key has none (it must be 0)");
  }
  if (kind != SchemeKind::green_list) {
    if (gamma != 0.0 || delta != 0.0) {
      throw Error(ErrorCode::invalid_argument, "the " + scheme + " scheme has no gamma or delta (both must be 0)");
    }
    if (entropy_threshold != 0.0) {
      throw Error(ErrorCode::invalid_argument, "the " + scheme + " scheme has no entropy threshold (it must be 0)");
    }
    if (context_width < 1) {
      // With no context every step would share one seed: the key would pick the same ranking each step.
      throw Error(ErrorCode::invalid_argument, "the " + scheme + " scheme needs a context width of at least 1");
    }
    if (vocab_size > kGreenListSchemeV2MaxVocabulary) {
      throw Error(ErrorCode::invalid_argument, "the " + scheme + " scheme keeps a keyed table entry per token id and allows at most " +
                                                   std::to_string(kGreenListSchemeV2MaxVocabulary) + " ids (got " +
                                                   std::to_string(vocab_size) + ")");
    }
  } else {
    // The green threshold is round(gamma * 2^32); it must leave at least one value on each side.
    if (!(gamma > 0.0 && gamma < 1.0) || std::isnan(gamma) || std::round(gamma * 4294967296.0) < 1.0 ||
        std::round(gamma * 4294967296.0) > 4294967295.0) {
      throw Error(ErrorCode::invalid_argument, "gamma must be strictly between 0 and 1 (got " + std::to_string(gamma) + ")");
    }
    if (!(delta >= 0.0 && delta <= 64.0)) {
      throw Error(ErrorCode::invalid_argument, "delta must be between 0 and 64 (got " + std::to_string(delta) + ")");
    }
    if (!(entropy_threshold >= 0.0 && entropy_threshold <= 64.0)) {
      throw Error(ErrorCode::invalid_argument, "entropy threshold must be between 0 and 64 nats (got " +
                                                   std::to_string(entropy_threshold) + ")");
    }
  }
  if (context_width > 16) {
    throw Error(ErrorCode::invalid_argument, "context width must be between 0 and 16 (got " +
                                                 std::to_string(context_width) + ")");
  }
  if (vocab_size < 1 || vocab_size > kMaxVocabularySize) {
    throw Error(ErrorCode::invalid_argument, "vocabulary size must be between 1 and 2^31 (got " +
                                                 std::to_string(vocab_size) + ")");
  }
  if (scheme == kGreenListSchemeName && scheme_version >= 2 && vocab_size > kGreenListSchemeV2MaxVocabulary) {
    throw Error(ErrorCode::invalid_argument, "scheme version " + std::to_string(scheme_version) +
                                                 " keeps 4 bytes per token id and allows at most " +
                                                 std::to_string(kGreenListSchemeV2MaxVocabulary) + " ids (got " +
                                                 std::to_string(vocab_size) + "); use scheme version 1 for this vocabulary");
  }
  if (tokenizer) {
    if (tokenizer->name.empty()) throw Error(ErrorCode::invalid_argument, "tokenizer name must not be empty");
    if (tokenizer->vocab_sha256.size() != 64 || !is_lower_hex(tokenizer->vocab_sha256)) {
      throw Error(ErrorCode::invalid_argument, "tokenizer vocab_sha256 must be 64 lowercase hex digits");
    }
  }
}

WatermarkKey::WatermarkKey(const SecretBytes& secret, SchemeParams params, std::string created_utc)
    : secret_(secret), params_(std::move(params)), created_utc_(std::move(created_utc)) {
  params_.validate();
  key_id_ = "tmk_" + to_hex(derive_subkey(kKeyIdPurpose, 8));
}

WatermarkKey::~WatermarkKey() { crypto::cleanse(secret_); }

WatermarkKey WatermarkKey::generate(SchemeParams params) {
  params.validate();
  SecretBytes secret{};
  crypto::random_bytes(secret);
  WatermarkKey key(secret, std::move(params), now_utc());
  crypto::cleanse(secret);
  return key;
}

WatermarkKey WatermarkKey::from_secret(const SecretBytes& secret, SchemeParams params, std::string created_utc) {
  return WatermarkKey(secret, std::move(params), std::move(created_utc));
}

std::vector<std::uint8_t> WatermarkKey::derive_subkey(std::string_view purpose, std::size_t length) const {
  return crypto::hkdf_sha256(secret_, purpose, length);
}

std::string WatermarkKey::commitment_hex() const {
  // Layout (all integers big-endian; docs/METHOD.md): domain, 0x00, secret, scheme name,
  // scheme version, gamma and delta as IEEE-754 binary64 bits, context width, vocabulary size,
  // then 0x00, or 0x01 followed by the tokenizer name and vocabulary digest.
  std::vector<std::uint8_t> message(kCommitmentDomain.begin(), kCommitmentDomain.end());
  message.push_back(0);
  message.insert(message.end(), secret_.begin(), secret_.end());
  append_string(message, params_.scheme);
  append_u32(message, params_.scheme_version);
  append_u64(message, std::bit_cast<std::uint64_t>(params_.gamma));
  append_u64(message, std::bit_cast<std::uint64_t>(params_.delta));
  append_u32(message, params_.context_width);
  append_u32(message, params_.vocab_size);
  if (params_.tokenizer) {
    message.push_back(1);
    append_string(message, params_.tokenizer->name);
    append_string(message, params_.tokenizer->vocab_sha256);
  } else {
    message.push_back(0);
  }
  // Appended only when set, so the commitment of a key without a threshold is unchanged; an older
  // build recomputes the commitment without it and refuses such a key as edited.
  if (params_.entropy_threshold > 0.0) {
    append_string(message, "entropy_threshold");
    append_u64(message, std::bit_cast<std::uint64_t>(params_.entropy_threshold));
  }
  // Likewise only for tournament keys (no other scheme has layers), so earlier keys keep theirs.
  if (params_.tournament_layers > 0) {
    append_string(message, "tournament_layers");
    append_u32(message, params_.tournament_layers);
  }
  std::string hex = to_hex(sha256(message));
  crypto::cleanse(message);
  return hex;
}

std::string WatermarkKey::public_json() const {
  Json description = params_to_json(params_);
  description["format"] = kKeyFileFormat;
  description["format_version"] = kKeyFileVersion;
  description["key_id"] = key_id_;
  description["created"] = created_utc_;
  description["commitment"] = "sha256:" + commitment_hex();
  return description.dump(2);
}

void WatermarkKey::save(const std::filesystem::path& path, bool overwrite) const {
  Json file = parse_json(public_json(), "key description");
  file["secret"] = to_hex(secret_);
  write_secret_json(path, file, overwrite);
}

WatermarkKey WatermarkKey::load(const std::filesystem::path& path) {
  const SecretText text = read_secret_file(path, "key file", "make one with `tracemark keygen --out " + path.string() + "`",
                                           kMaxKeyFileBytes);
  return parse(text.view(), path);
}

WatermarkKey WatermarkKey::parse(std::string_view key_file_text, const std::filesystem::path& source) {
  KeyFileReader reader("key file", source);
  Json file = parse_secret_json(key_file_text, reader, "key file (made by `tracemark keygen`)");

  if (reader.string_field(file, "format", "format") != kKeyFileFormat) {
    reader.fail(ErrorCode::invalid_input, "field 'format' is not '" + std::string(kKeyFileFormat) + "'");
  }
  std::uint32_t version = reader.uint_field(file, "format_version", "format_version");
  if (version != kKeyFileVersion) {
    reader.fail(ErrorCode::unsupported, "key file version " + std::to_string(version) +
                                            " is not supported by this build (it reads version " +
                                            std::to_string(kKeyFileVersion) + "); upgrade tracemark");
  }

  SchemeParams params = reader.params(file);

  SecretBytes secret = reader.secret(file, "secret");
  file["secret"] = nullptr;
  WatermarkKey key(secret, std::move(params), reader.string_field(file, "created", "created"));
  crypto::cleanse(secret);
  if (reader.string_field(file, "key_id", "key_id") != key.key_id()) {
    reader.fail(ErrorCode::invalid_input, "key_id does not match the secret; the file was edited or corrupted");
  }
  if (reader.string_field(file, "commitment", "commitment") != "sha256:" + key.commitment_hex()) {
    reader.fail(ErrorCode::invalid_input,
                "commitment does not match the secret and parameters; the file was edited or corrupted");
  }
  return key;
}

}  // namespace tracemark
