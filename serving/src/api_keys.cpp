#include "tracemark/serving/api_keys.hpp"

#include "tracemark/error.hpp"
#include "tracemark/secret_file.hpp"
#include "tracemark/text_lines.hpp"

namespace tracemark::serving {
namespace {

bool is_key_char(char c) { return c > 0x20 && c < 0x7f; }
bool is_account_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '@' || c == ':' || c == '+' || c == '-';
}

}  // namespace

ApiKeyTable ApiKeyTable::load(const std::filesystem::path& path) {
  const std::string name = path.string();
  const SecretText text = read_secret_file(path, "API key file", "check the path (--api-keys)");
  ApiKeyTable table;
  std::map<Sha256Digest, std::uint64_t> first_line;
  for_each_line(text.view(), [&](std::string_view line, const LinePosition& position) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string where = describe_position(name, position);
    std::size_t i = 0;
    auto skip_blanks = [&] {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    };
    skip_blanks();
    if (i == line.size() || line[i] == '#') return;
    const std::size_t key_start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') {
      if (!is_key_char(line[i])) {
        throw Error(ErrorCode::invalid_input, where + ": the key holds a character that is not printable ASCII (byte offset " +
                                                  std::to_string(position.byte_offset + i) +
                                                  "); keys are 16 to 512 printable ASCII characters without spaces");
      }
      ++i;
    }
    const std::string_view key = line.substr(key_start, i - key_start);
    skip_blanks();
    const std::size_t account_start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    const std::string account(line.substr(account_start, i - account_start));
    skip_blanks();
    if (account.empty() || i != line.size()) {
      throw Error(ErrorCode::invalid_input, where + ": expected two fields, `KEY ACCOUNT`, separated by spaces");
    }
    if (key.size() < 16 || key.size() > 512) {
      throw Error(ErrorCode::invalid_input, where + ": the key is " + std::to_string(key.size()) +
                                                " characters long; use 16 to 512 (for example `openssl rand -hex 24`)");
    }
    if (account.size() > 128) {
      throw Error(ErrorCode::invalid_input, where + ": the account id is longer than 128 characters");
    }
    for (std::size_t j = 0; j < account.size(); ++j) {
      if (!is_account_char(account[j])) {
        throw Error(ErrorCode::invalid_input, where + ": the account id holds '" + std::string(1, account[j]) +
                                                  "' at byte offset " + std::to_string(position.byte_offset + account_start + j) +
                                                  "; account ids use letters, digits and . _ @ : + -");
      }
    }
    const Sha256Digest digest = sha256(key);
    const auto [it, inserted] = first_line.try_emplace(digest, position.line);
    if (!inserted) {
      throw Error(ErrorCode::invalid_input, where + ": the same key is already given on line " + std::to_string(it->second) +
                                                "; each key must belong to exactly one account");
    }
    table.accounts_.emplace(digest, account);
  });
  if (table.accounts_.empty()) {
    throw Error(ErrorCode::invalid_input, "API key file " + name + " holds no keys; add lines `KEY ACCOUNT`");
  }
  return table;
}

std::optional<std::string> ApiKeyTable::account_of(std::string_view key) const {
  const auto it = accounts_.find(sha256(key));
  if (it == accounts_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() <= scheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != scheme[i]) return std::nullopt;
  }
  std::string_view token = authorization.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

}  // namespace tracemark::serving
