// The syntax-aware token rule: which tokens are syntax (left alone by the watermark, and not
// scored) and which are free (identifiers, string and numeric values, comments, prose: where the
// watermark is carried). Code and tool-call JSON are mostly forced syntax; biasing a closing
// bracket or a schema-fixed argument name can only break the output, and scoring such steps adds
// noise (docs/METHOD.md, "Which steps are scored").
//
// The rule looks at a token's bytes and at the bytes of the response before it, never at the key,
// so selecting scored tuples by it keeps the binomial test exact. A token is syntax when:
//   - its bytes, without ASCII whitespace, are empty or hold no letter, digit or non-ASCII byte
//     (punctuation and operators);
//   - its bytes contain a quote, a backslash, a brace, a bracket or an angle bracket (string and
//     JSON structure, tool-call markers);
//   - its bytes, without surrounding whitespace, are a keyword of Go, Python or JSON (kKeywords);
//   - the response so far leaves it inside a JSON object key ("name", "arguments", argument names
//     fixed by a schema), as followed by the small lexer of SyntaxState.
// Everything else is free. The lexer follows strings, escapes and the nesting of {} and []; it runs
// over any text (prose and code too), where it only ever makes a few more tokens syntax.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tracemark {

// The lexical state after some bytes of a response. Small and copyable; starts empty at each
// response (the prompt is not part of the response's structure).
struct SyntaxState {
  std::string containers;    // open '{' and '[' (deeper nesting than 256 is counted, not stored)
  std::uint32_t overflow = 0;
  bool in_string = false;
  bool escape = false;
  bool string_is_key = false;
  bool expect_key = false;   // the next string opened is an object key

  void advance(std::string_view bytes) noexcept;
  bool operator==(const SyntaxState&) const = default;
};

// Immutable after construction; share one instance across threads.
class TokenSyntax {
 public:
  // token_bytes[i]: the bytes that token id i stands for (the tokenizer's vocabulary).
  explicit TokenSyntax(std::vector<std::string> token_bytes);

  std::uint32_t vocab_size() const noexcept { return static_cast<std::uint32_t>(bytes_.size()); }
  // Syntax by its bytes alone (ids outside the table are syntax).
  bool is_syntax_token(std::uint32_t token) const noexcept { return token >= bytes_.size() || syntax_[token] != 0; }
  // Free given the state before it: not syntax by its bytes, and not inside an object key.
  bool is_free(const SyntaxState& state, std::uint32_t token) const noexcept {
    return !is_syntax_token(token) && !(state.in_string && state.string_is_key);
  }
  // Whether any token can be free in this state (false inside an object key).
  static bool state_allows_free(const SyntaxState& state) noexcept { return !(state.in_string && state.string_is_key); }
  void advance(SyntaxState& state, std::uint32_t token) const noexcept {
    if (token < bytes_.size()) state.advance(bytes_[token]);
  }
  // For each position of tokens (a response), whether it is free; the state starts empty.
  std::vector<bool> free_positions(std::span<const std::uint32_t> tokens) const;
  std::span<const std::uint8_t> syntax_table() const noexcept { return syntax_; }

 private:
  std::vector<std::string> bytes_;
  std::vector<std::uint8_t> syntax_;  // 1: syntax by the token's bytes alone
};

// The classification of one token's bytes alone (the rule above without the lexer).
bool is_syntax_bytes(std::string_view bytes) noexcept;

}  // namespace tracemark
