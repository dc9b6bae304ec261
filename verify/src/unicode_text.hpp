// UTF-8 validation, lossy repair and Unicode normalisation, all by ICU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer_definition.hpp"

namespace tracemark {

inline constexpr std::size_t kAllValid = static_cast<std::size_t>(-1);

// Offset of the first byte of the first ill-formed UTF-8 sequence (surrogates, overlongs and code
// points above U+10FFFF are ill-formed), or kAllValid.
std::size_t find_invalid_utf8(std::string_view bytes) noexcept;

// The bytes with each maximal ill-formed subsequence replaced by U+FFFD (ICU's U8_NEXT rule, the
// one Unicode recommends and WHATWG decoders use); adds the number of replacements to `replacements`.
std::string replace_invalid_utf8(std::string_view bytes, std::uint64_t& replacements);

// `text` (valid UTF-8) in the given normalisation form. Returns a view of `text` itself when it is
// already normalised, else of `storage`, which it fills.
std::string_view normalize_utf8(std::string_view text, Normalization form, std::string& storage);

}  // namespace tracemark
