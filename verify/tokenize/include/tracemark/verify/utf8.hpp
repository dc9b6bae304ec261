// UTF-8 checks and lossy repair (by ICU), for readers that must name the offset of bad bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tracemark {

inline constexpr std::size_t kAllValid = static_cast<std::size_t>(-1);

// Offset of the first byte of the first ill-formed UTF-8 sequence (surrogates, overlongs and code
// points above U+10FFFF are ill-formed), or kAllValid.
std::size_t find_invalid_utf8(std::string_view bytes) noexcept;

// The one repair rule of the project (tokenize --lossy, scan's highlighted examples, serve's
// responses and audit log): the bytes with each maximal ill-formed subsequence replaced by one
// U+FFFD (ICU's U8_NEXT rule, the "maximal subparts" practice Unicode recommends in chapter 3 and
// WHATWG's decoder follows); adds the number of replacements to `replacements`.
std::string replace_invalid_utf8(std::string_view bytes, std::uint64_t& replacements);
std::string replace_invalid_utf8(std::string_view bytes);

// Length (0 to 3) of the end of `bytes` that starts a well-formed sequence but is cut off: what a
// stream must hold back until more bytes arrive. replace_invalid_utf8 of the bytes before it, then
// of the rest with the bytes that follow, equals replace_invalid_utf8 of the whole.
std::size_t incomplete_utf8_tail(std::string_view bytes) noexcept;

}  // namespace tracemark
