// GPT-2's byte-level alphabet (bytes_to_unicode in its encoder.py): the printable bytes
// 0x21..0x7E, 0xA1..0xAC and 0xAE..0xFF stand for themselves as code points; the other 68 bytes, in
// increasing order, stand for U+0100, U+0101, ... so that every token is a printable string.
#include <array>
#include <unicode/utf8.h>

#include "tokenizer_loaders.hpp"

namespace tracemark {
namespace {

bool stands_for_itself(unsigned byte) { return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE; }

// Code point -> byte, for code points below 0x144 (the largest symbol is U+0143); -1 elsewhere.
constexpr std::size_t kSymbols = 0x144;
std::array<int, kSymbols> make_symbol_table() {
  std::array<int, kSymbols> table{};
  table.fill(-1);
  unsigned next = 0x100;
  for (unsigned byte = 0; byte < 256; ++byte) table[stands_for_itself(byte) ? byte : next++] = static_cast<int>(byte);
  return table;
}

}  // namespace

std::optional<std::string> byte_level_bytes(std::string_view symbols) {
  static const std::array<int, kSymbols> table = make_symbol_table();  // immutable after first use
  std::string bytes;
  bytes.reserve(symbols.size());
  const auto* data = reinterpret_cast<const std::uint8_t*>(symbols.data());
  const auto length = static_cast<std::int64_t>(symbols.size());
  for (std::int64_t i = 0; i < length;) {
    UChar32 c;
    U8_NEXT(data, i, length, c);
    if (c < 0 || static_cast<std::size_t>(c) >= kSymbols || table[static_cast<std::size_t>(c)] < 0) return std::nullopt;
    bytes += static_cast<char>(table[static_cast<std::size_t>(c)]);
  }
  return bytes;
}

}  // namespace tracemark
