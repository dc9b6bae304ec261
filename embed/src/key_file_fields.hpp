// The parts of a key file that a keyring file shares with it: the scheme parameters as JSON, and a
// reader of typed fields whose errors name the file and the field. Private to embed/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "tracemark/embed/key.hpp"
#include "tracemark/error.hpp"

namespace tracemark {

// {"scheme": {...}, "tokenizer": {...} or null}, as in a key file.
nlohmann::json params_to_json(const SchemeParams& params);

// Writes `file` (with its secret field already set) to `path` atomically, mode 0600, and wipes the
// serialised copy.
void write_secret_json(const std::filesystem::path& path, const nlohmann::json& file, bool overwrite);

class KeyFileReader;
// Parses a secret file's text into a JSON object, wiping the working copy; on bad JSON the error
// names only the byte offset (an excerpt could show part of the secret) and asks whether this is
// a file made by `made_by`.
nlohmann::json parse_secret_json(std::string_view text, const KeyFileReader& reader, std::string_view made_by);

// Reads one typed field of a secret file, or throws naming the file (`what PATH`) and the field.
class KeyFileReader {
 public:
  KeyFileReader(std::string_view what, const std::filesystem::path& path) : what_(what), path_(path) {}

  [[noreturn]] void fail(ErrorCode code, const std::string& message) const;
  const nlohmann::json& field(const nlohmann::json& object, const std::string& name, const std::string& where) const;
  std::string string_field(const nlohmann::json& object, const std::string& name, const std::string& where) const;
  double number_field(const nlohmann::json& object, const std::string& name, const std::string& where) const;
  std::uint32_t uint_field(const nlohmann::json& object, const std::string& name, const std::string& where) const;
  // The "scheme" and "tokenizer" fields of `file`, validated (params_to_json's inverse).
  SchemeParams params(const nlohmann::json& file) const;
  // A 32-byte secret written as 64 hex digits in field `name`; the caller wipes the result.
  SecretBytes secret(const nlohmann::json& file, const std::string& name) const;

 private:
  std::string what_;
  std::filesystem::path path_;
};

}  // namespace tracemark
