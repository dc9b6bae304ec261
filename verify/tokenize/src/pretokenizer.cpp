#include "pretokenizer.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

// What \s means to each engine, as members of a bracket class.
//   Rust's regex crate and Oniguruma: the Unicode White_Space property, which is exactly
//   U+0009..U+000D, U+0085 and the Z categories (Zs, Zl, Zp).
//   ECMAScript: WhiteSpace + LineTerminator = U+0009..U+000D, U+FEFF and the Z categories (no U+0085).
// PCRE2's own \s under UCP also matches U+180E, which none of the three do; hence explicit classes.
std::string_view space_members(PatternDialect dialect) {
  return dialect == PatternDialect::ecmascript ? "\\t-\\r\\x{feff}\\p{Z}" : "\\t-\\r\\x{85}\\p{Z}";
}
// \d: Unicode decimal digits, except in ECMAScript, where it is ASCII even with the u flag.
std::string_view digit_members(PatternDialect dialect) {
  return dialect == PatternDialect::ecmascript ? "0-9" : "\\p{Nd}";
}
// ".": anything but a line terminator, which is only \n for Rust (without the s flag) and
// Oniguruma, and \n, \r, U+2028, U+2029 for ECMAScript.
std::string_view dot_class(PatternDialect dialect) {
  return dialect == PatternDialect::ecmascript ? "[^\\n\\r\\x{2028}\\x{2029}]" : "[^\\n]";
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0) return "PCRE2 error " + std::to_string(code);
  return reinterpret_cast<const char*>(buffer);
}

std::size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

}  // namespace

std::string translate_pattern(std::string_view pattern, PatternDialect dialect, const std::string& source) {
  std::string out;
  out.reserve(pattern.size() + 64);
  bool in_class = false;
  std::size_t class_start = 0;  // index in `pattern` just after "[" or "[^"
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char escaped = pattern[++i];
      auto unsupported = [&](std::string_view why) {
        throw Error(ErrorCode::unsupported, source + ": the pre-tokenizer pattern uses \\" + std::string(1, escaped) +
                                                " at byte " + std::to_string(i - 1) + ", " + std::string(why) +
                                                "; this build cannot guarantee the same pieces as the tokenizer's own regex engine");
      };
      switch (escaped) {
        case 's':
          out += in_class ? std::string(space_members(dialect)) : "[" + std::string(space_members(dialect)) + "]";
          break;
        case 'S':
          if (in_class) unsupported("a negated class inside a class");
          out += "[^" + std::string(space_members(dialect)) + "]";
          break;
        case 'd':
          out += in_class ? std::string(digit_members(dialect)) : "[" + std::string(digit_members(dialect)) + "]";
          break;
        case 'D':
          if (in_class) unsupported("a negated class inside a class");
          out += "[^" + std::string(digit_members(dialect)) + "]";
          break;
        case 'w':
        case 'W':
        case 'b':
        case 'B':
          unsupported("whose word characters differ between regex engines");
          break;
        default:
          out += c;
          out += escaped;
      }
      continue;
    }
    if (in_class) {
      if (c == ']' && i > class_start) {
        in_class = false;
      } else if (c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
        // A POSIX class such as [:alpha:]: copy it whole so that its "]" does not end the class.
        const std::size_t close = pattern.find(":]", i + 2);
        if (close != std::string_view::npos) {
          out.append(pattern.substr(i, close + 2 - i));
          i = close + 1;
          continue;
        }
      }
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      out += c;
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      class_start = i + 1;  // a "]" right here is a literal member
      continue;
    }
    if (c == '.') {
      out += dot_class(dialect);
      continue;
    }
    out += c;
  }
  return out;
}

Pretokenizer::Pretokenizer(std::string_view pattern, PatternDialect dialect, UnmatchedText unmatched,
                           const std::string& source, std::uint32_t first_match_limit)
    : translated_(translate_pattern(pattern, dialect, source)), unmatched_(unmatched), first_match_limit_(first_match_limit) {
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated_.data()), translated_.size(), PCRE2_UTF | PCRE2_UCP,
                        &error, &error_offset, nullptr);
  if (!code_) {
    throw Error(ErrorCode::invalid_input, source + ": the pre-tokenizer pattern does not compile (" + pcre2_message(error) +
                                              " at byte " + std::to_string(error_offset) + " of the translated pattern " +
                                              translated_ + ")");
  }
  // Without JIT (a PCRE2 built without it) the interpreter gives the same matches, only slower.
  jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;
}

Pretokenizer::~Pretokenizer() { pcre2_code_free(code_); }

Pretokenizer::Pieces::Pieces(const Pretokenizer& pretokenizer, std::string_view text)
    : owner_(pretokenizer), text_(text) {
  match_data_ = pcre2_match_data_create_from_pattern(owner_.code_, nullptr);
  if (!match_data_) throw std::bad_alloc();
  if (owner_.first_match_limit_ > 0) {
    first_context_ = pcre2_match_context_create(nullptr);
    if (!first_context_) throw std::bad_alloc();
    pcre2_set_match_limit(first_context_, owner_.first_match_limit_);
  }
}

Pretokenizer::Pieces::~Pieces() {
  pcre2_match_data_free(match_data_);
  pcre2_match_context_free(context_);
  pcre2_match_context_free(first_context_);
  pcre2_jit_stack_free(jit_stack_);
}

bool Pretokenizer::Pieces::find_match(std::size_t from, std::size_t& start, std::size_t& end) {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text_.data());
  while (from < text_.size()) {
    pcre2_real_match_context_8* limits = context_ ? context_ : first_context_;
    int rc = owner_.jit_ ? pcre2_jit_match(owner_.code_, subject, text_.size(), from, PCRE2_NO_UTF_CHECK, match_data_, limits)
                         : pcre2_match(owner_.code_, subject, text_.size(), from, PCRE2_NO_UTF_CHECK, match_data_, limits);
    if ((rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
         rc == PCRE2_ERROR_HEAPLIMIT) &&
        !context_) {
      // Long runs (megabytes of one character class) can need more backtracking room than the
      // defaults give; retry this match once with generous limits, kept for the rest of the text.
      context_ = pcre2_match_context_create(nullptr);
      jit_stack_ = pcre2_jit_stack_create(1 << 16, 1 << 28, nullptr);
      if (!context_ || !jit_stack_) throw std::bad_alloc();
      pcre2_jit_stack_assign(context_, nullptr, jit_stack_);
      pcre2_set_match_limit(context_, 0xFFFFFFFFu);
      pcre2_set_depth_limit(context_, 0xFFFFFFFFu);
      pcre2_set_heap_limit(context_, 0xFFFFFFFFu);
      continue;
    }
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc < 0) {
      throw Error(ErrorCode::unsupported, "pre-tokenizer regex failed at byte offset " + std::to_string(from) + " (" +
                                              pcre2_message(rc) + "); the text is too pathological for this pattern");
    }
    const PCRE2_SIZE* vector = pcre2_get_ovector_pointer(match_data_);
    start = vector[0];
    end = vector[1];
    if (end > start) return true;
    // An empty match encodes to nothing; search again one character further on, as find_iter does.
    from = start + utf8_sequence_length(static_cast<unsigned char>(text_[start]));
  }
  return false;
}

bool Pretokenizer::Pieces::next(std::string_view& piece) {
  if (has_pending_) {
    has_pending_ = false;
    piece = text_.substr(pending_start_, pending_end_ - pending_start_);
    position_ = pending_end_;
    return true;
  }
  if (position_ >= text_.size()) return false;
  std::size_t start = 0, end = 0;
  if (!find_match(position_, start, end)) {
    if (owner_.unmatched_ == UnmatchedText::keep) {
      piece = text_.substr(position_);
      position_ = text_.size();
      return true;
    }
    position_ = text_.size();
    return false;
  }
  if (start > position_ && owner_.unmatched_ == UnmatchedText::keep) {
    piece = text_.substr(position_, start - position_);
    pending_start_ = start;
    pending_end_ = end;
    has_pending_ = true;
    return true;
  }
  piece = text_.substr(start, end - start);
  position_ = end;
  return true;
}

}  // namespace tracemark
