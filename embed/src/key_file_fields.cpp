#include "key_file_fields.hpp"

#include <algorithm>
#include <optional>

#include "crypto.hpp"
#include "tracemark/atomic_file.hpp"
#include "tracemark/embed/scheme_catalog.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/sha256.hpp"

namespace tracemark {

using Json = nlohmann::json;

Json params_to_json(const SchemeParams& params) {
  Json scheme = {{"name", params.scheme},
                 {"version", params.scheme_version},
                 {"context_width", params.context_width},
                 {"vocab_size", params.vocab_size}};
  // Only the green list has gamma and delta (a Gumbel-max key file has neither field).
  if (params.scheme == kGreenListSchemeName) {
    scheme["gamma"] = params.gamma;
    scheme["delta"] = params.delta;
  }
  // Written only when used, so keys without it stay byte-identical to earlier builds' keys.
  if (params.entropy_threshold > 0.0) scheme["entropy_threshold"] = params.entropy_threshold;
  if (params.scheme == kTournamentSchemeName) scheme["tournament_layers"] = params.tournament_layers;
  Json tokenizer = nullptr;
  if (params.tokenizer) tokenizer = {{"name", params.tokenizer->name}, {"vocab_sha256", params.tokenizer->vocab_sha256}};
  return {{"scheme", scheme}, {"tokenizer", tokenizer}};
}

void KeyFileReader::fail(ErrorCode code, const std::string& message) const {
  throw Error(code, what_ + " " + path_.string() + ": " + message);
}

const Json& KeyFileReader::field(const Json& object, const std::string& name, const std::string& where) const {
  if (!object.is_object() || !object.contains(name)) fail(ErrorCode::invalid_input, "field '" + where + "' is missing");
  return object.at(name);
}

std::string KeyFileReader::string_field(const Json& object, const std::string& name, const std::string& where) const {
  const Json& value = field(object, name, where);
  if (!value.is_string()) fail(ErrorCode::invalid_input, "field '" + where + "' must be a string");
  return value.get<std::string>();
}

double KeyFileReader::number_field(const Json& object, const std::string& name, const std::string& where) const {
  const Json& value = field(object, name, where);
  if (!value.is_number()) fail(ErrorCode::invalid_input, "field '" + where + "' must be a number");
  return value.get<double>();
}

std::uint32_t KeyFileReader::uint_field(const Json& object, const std::string& name, const std::string& where) const {
  const Json& value = field(object, name, where);
  if (!value.is_number_unsigned() || value.get<std::uint64_t>() > 0xFFFFFFFFull) {
    fail(ErrorCode::invalid_input, "field '" + where + "' must be an unsigned 32-bit integer");
  }
  return value.get<std::uint32_t>();
}

SchemeParams KeyFileReader::params(const Json& file) const {
  SchemeParams params;
  const Json& scheme = field(file, "scheme", "scheme");
  params.scheme = string_field(scheme, "name", "scheme.name");
  params.scheme_version = uint_field(scheme, "version", "scheme.version");
  // The name decides which fields the scheme has; an unknown name is refused here, never read as
  // another scheme's key.
  try {
    const SchemeKind kind = scheme_kind(params.scheme);
    if (kind == SchemeKind::tournament) {
      params.tournament_layers = uint_field(scheme, "tournament_layers", "scheme.tournament_layers");
    } else if (scheme.contains("tournament_layers")) {
      fail(ErrorCode::invalid_input, "field 'scheme.tournament_layers' does not belong to a '" + params.scheme +
                                         "' key; the file was edited or corrupted");
    }
    if (kind == SchemeKind::green_list) {
      params.gamma = number_field(scheme, "gamma", "scheme.gamma");
      params.delta = number_field(scheme, "delta", "scheme.delta");
    } else {
      params.gamma = 0.0;
      params.delta = 0.0;
      for (const char* absent : {"gamma", "delta", "entropy_threshold"}) {
        if (scheme.contains(absent)) {
          fail(ErrorCode::invalid_input, std::string("field 'scheme.") + absent + "' does not belong to a '" + params.scheme +
                                             "' key; the file was edited or corrupted");
        }
      }
    }
  } catch (const Error& e) {
    if (e.code() == ErrorCode::unsupported) fail(e.code(), e.what());
    throw;
  }
  params.context_width = uint_field(scheme, "context_width", "scheme.context_width");
  params.vocab_size = uint_field(scheme, "vocab_size", "scheme.vocab_size");
  if (scheme.is_object() && scheme.contains("entropy_threshold")) {
    params.entropy_threshold = number_field(scheme, "entropy_threshold", "scheme.entropy_threshold");
  }
  const Json& tokenizer = field(file, "tokenizer", "tokenizer");
  if (!tokenizer.is_null()) {
    params.tokenizer = TokenizerBinding{string_field(tokenizer, "name", "tokenizer.name"),
                                        string_field(tokenizer, "vocab_sha256", "tokenizer.vocab_sha256")};
  }
  try {
    params.validate();
  } catch (const Error& e) {
    fail(e.code(), e.what());
  }
  return params;
}

SecretBytes KeyFileReader::secret(const Json& file, const std::string& name) const {
  std::string secret_hex = string_field(file, name, name);
  std::optional<std::vector<std::uint8_t>> decoded = secret_hex.size() == 64 ? from_hex(secret_hex) : std::nullopt;
  crypto::cleanse({reinterpret_cast<std::uint8_t*>(secret_hex.data()), secret_hex.size()});
  if (!decoded) fail(ErrorCode::invalid_input, "field '" + name + "' must be 64 hex digits");
  SecretBytes secret{};
  std::copy(decoded->begin(), decoded->end(), secret.begin());
  crypto::cleanse(*decoded);
  return secret;
}

void write_secret_json(const std::filesystem::path& path, const nlohmann::json& file, bool overwrite) {
  std::string text = file.dump(2) + "\n";
  write_file_atomically(path, text, 0600, overwrite);
  crypto::cleanse({reinterpret_cast<std::uint8_t*>(text.data()), text.size()});
}

nlohmann::json parse_secret_json(std::string_view text, const KeyFileReader& reader, std::string_view made_by) {
  std::string copy(text);
  JsonProblem problem;
  std::optional<nlohmann::json> parsed = try_parse_json(copy, problem);
  crypto::cleanse({reinterpret_cast<std::uint8_t*>(copy.data()), copy.size()});
  if (!parsed) {
    reader.fail(ErrorCode::invalid_input, "not valid JSON at byte offset " + std::to_string(problem.offset) +
                                              "; is this a tracemark " + std::string(made_by) + "?");
  }
  if (!parsed->is_object()) reader.fail(ErrorCode::invalid_input, "expected a JSON object");
  return std::move(*parsed);
}

}  // namespace tracemark
