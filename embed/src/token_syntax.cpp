#include "tracemark/embed/token_syntax.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace tracemark {
namespace {

constexpr std::size_t kMaxDepth = 256;

// Go (the language specification's 25 keywords), Python 3.11 (keyword.kwlist) and JSON's literals.
constexpr std::array<std::string_view, 63> kKeywords = {
    "break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for", "func", "go",
    "goto", "if", "import", "interface", "map", "package", "range", "return", "select", "struct", "switch", "type",
    "var", "False", "None", "True", "and", "as", "assert", "async", "await", "class", "def", "del", "elif",
    "except", "finally", "from", "global", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "try",
    "while", "with", "yield", "true", "false", "null", "nil", "self", "int", "string", "bool", "error", "byte"};

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_alnum(unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

void SyntaxState::advance(std::string_view bytes) noexcept {
  for (const char ch : bytes) {
    if (in_string) {
      if (escape) {
        escape = false;
      } else if (ch == '\\') {
        escape = true;
      } else if (ch == '"') {
        in_string = false;
        expect_key = false;
      }
      continue;
    }
    const char top = overflow > 0 ? '\0' : containers.empty() ? '\0' : containers.back();
    switch (ch) {
      case '"':
        in_string = true;
        string_is_key = top == '{' && expect_key;
        break;
      case '{':
      case '[':
        if (containers.size() < kMaxDepth) {
          containers.push_back(ch);
        } else {
          ++overflow;
        }
        expect_key = ch == '{';
        break;
      case '}':
      case ']':
        if (overflow > 0) {
          --overflow;
        } else if (!containers.empty()) {
          containers.pop_back();
        }
        expect_key = false;
        break;
      case ',': expect_key = top == '{'; break;
      default:
        if (!is_space(static_cast<unsigned char>(ch))) expect_key = false;
        break;
    }
  }
}

bool is_syntax_bytes(std::string_view bytes) noexcept {
  std::size_t begin = 0, end = bytes.size();
  while (begin < end && is_space(static_cast<unsigned char>(bytes[begin]))) ++begin;
  while (end > begin && is_space(static_cast<unsigned char>(bytes[end - 1]))) --end;
  const std::string_view core = bytes.substr(begin, end - begin);
  if (core.empty()) return true;
  bool has_word_byte = false;
  for (const char ch : core) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\' || c == '{' || c == '}' || c == '[' || c == ']' || c == '<' || c == '>') return true;
    if (is_alnum(c) || c >= 0x80) has_word_byte = true;
  }
  if (!has_word_byte) return true;
  return std::find(kKeywords.begin(), kKeywords.end(), core) != kKeywords.end();
}

TokenSyntax::TokenSyntax(std::vector<std::string> token_bytes) : bytes_(std::move(token_bytes)) {
  syntax_.reserve(bytes_.size());
  for (const std::string& bytes : bytes_) syntax_.push_back(is_syntax_bytes(bytes) ? 1 : 0);
}

std::vector<bool> TokenSyntax::free_positions(std::span<const std::uint32_t> tokens) const {
  std::vector<bool> free(tokens.size());
  SyntaxState state;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    free[i] = is_free(state, tokens[i]);
    advance(state, tokens[i]);
  }
  return free;
}

}  // namespace tracemark
