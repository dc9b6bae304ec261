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

// The bytes with each maximal ill-formed subsequence replaced by U+FFFD (ICU's U8_NEXT rule, the
// one Unicode recommends and WHATWG decoders use); adds the number of replacements to `replacements`.
std::string replace_invalid_utf8(std::string_view bytes, std::uint64_t& replacements);

}  // namespace tracemark
