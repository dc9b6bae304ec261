// Pre-tokenization: splitting text into pieces by the tokenizer's own regex, with PCRE2's JIT.
// The pattern is first translated from its dialect (tokenizer_definition.hpp) into PCRE2 syntax with
// explicit classes for \s, \d and ".", so that each piece is what the tokenizer's own engine gives.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "tokenizer_definition.hpp"

struct pcre2_real_code_8;
struct pcre2_real_match_data_8;
struct pcre2_real_match_context_8;
struct pcre2_real_jit_stack_8;

namespace tracemark {

// The pattern rewritten for PCRE2 (UTF and UCP mode). Throws Error(unsupported) naming a construct
// whose meaning differs between engines and is not translated (\w, \W, \b, \B, \S inside a class).
std::string translate_pattern(std::string_view pattern, PatternDialect dialect, const std::string& source);

// Immutable after construction; share freely across threads (each Pieces has its own match state).
class Pretokenizer {
 public:
  // Throws Error(invalid_input) with PCRE2's message and offset when the pattern does not compile.
  // first_match_limit: PCRE2's match limit for the first attempt at each match; 0 (what tokenizers
  // use) keeps PCRE2's defaults. A match that hits a limit is retried with generous ones (Pieces),
  // so the limit changes no piece; tests set a tiny one to drive every match through the retry.
  Pretokenizer(std::string_view pattern, PatternDialect dialect, UnmatchedText unmatched, const std::string& source,
               std::uint32_t first_match_limit = 0);
  ~Pretokenizer();
  Pretokenizer(const Pretokenizer&) = delete;
  Pretokenizer& operator=(const Pretokenizer&) = delete;

  const std::string& translated_pattern() const noexcept { return translated_; }

  // The pieces of one text, in order. The text must be valid UTF-8 (it is not checked again) and
  // must outlive the iterator. Not thread-safe; make one per text.
  class Pieces {
   public:
    Pieces(const Pretokenizer& pretokenizer, std::string_view text);
    ~Pieces();
    Pieces(const Pieces&) = delete;
    Pieces& operator=(const Pieces&) = delete;
    // The next non-empty piece; false at the end. Throws Error(unsupported) if the regex engine hits
    // a resource limit (naming the byte offset), which only pathological patterns do.
    bool next(std::string_view& piece);
    // Whether a match hit PCRE2's default limits and was retried with the large JIT stack and no
    // limits (kept for the rest of the text).
    bool retried_with_larger_limits() const noexcept { return context_ != nullptr; }

   private:
    bool find_match(std::size_t from, std::size_t& start, std::size_t& end);

    const Pretokenizer& owner_;
    std::string_view text_;
    std::size_t position_ = 0;
    std::size_t pending_start_ = 0, pending_end_ = 0;  // keep mode: a match found after a gap
    bool has_pending_ = false;
    pcre2_real_match_data_8* match_data_ = nullptr;
    pcre2_real_jit_stack_8* jit_stack_ = nullptr;   // made only when the default stack is too small
    pcre2_real_match_context_8* context_ = nullptr;        // the generous limits, after a retry
    pcre2_real_match_context_8* first_context_ = nullptr;  // first_match_limit, when one is set
  };

 private:
  std::string translated_;
  UnmatchedText unmatched_;
  bool jit_ = false;
  std::uint32_t first_match_limit_ = 0;
  pcre2_real_code_8* code_ = nullptr;
};

}  // namespace tracemark
