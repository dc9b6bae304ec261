#include "unicode_text.hpp"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/utf8.h>

#include <cstring>
#include <limits>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

// Length of the leading run of ASCII bytes, eight at a time: most text is mostly ASCII.
std::size_t ascii_prefix(std::string_view bytes, std::size_t from) noexcept {
  std::size_t i = from;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    if (word & 0x8080808080808080ull) break;
  }
  while (i < bytes.size() && static_cast<unsigned char>(bytes[i]) < 0x80) ++i;
  return i;
}

const icu::Normalizer2& normalizer(Normalization form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* instance = nullptr;
  switch (form) {
    case Normalization::nfc: instance = icu::Normalizer2::getNFCInstance(status); break;
    case Normalization::nfkc: instance = icu::Normalizer2::getNFKCInstance(status); break;
    case Normalization::nfd: instance = icu::Normalizer2::getNFDInstance(status); break;
    case Normalization::nfkd: instance = icu::Normalizer2::getNFKDInstance(status); break;
    case Normalization::none: break;
  }
  if (U_FAILURE(status) || !instance) {
    throw Error(ErrorCode::internal, std::string("ICU normaliser unavailable: ") + u_errorName(status));
  }
  return *instance;
}

}  // namespace

std::size_t find_invalid_utf8(std::string_view bytes) noexcept {
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  const auto length = static_cast<std::int64_t>(bytes.size());
  std::int64_t i = static_cast<std::int64_t>(ascii_prefix(bytes, 0));
  while (i < length) {
    if (data[i] < 0x80) {
      i = static_cast<std::int64_t>(ascii_prefix(bytes, static_cast<std::size_t>(i)));
      continue;
    }
    const std::int64_t start = i;
    UChar32 c;
    U8_NEXT(data, i, length, c);
    if (c < 0) return static_cast<std::size_t>(start);
  }
  return kAllValid;
}

std::string replace_invalid_utf8(std::string_view bytes, std::uint64_t& replacements) {
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  const auto length = static_cast<std::int64_t>(bytes.size());
  std::string out;
  out.reserve(bytes.size());
  std::int64_t i = 0;
  while (i < length) {
    const std::int64_t start = i;
    UChar32 c;
    U8_NEXT(data, i, length, c);
    if (c < 0) {
      out += "\xEF\xBF\xBD";
      ++replacements;
    } else {
      out.append(bytes.substr(static_cast<std::size_t>(start), static_cast<std::size_t>(i - start)));
    }
  }
  return out;
}

std::string replace_invalid_utf8(std::string_view bytes) {
  std::uint64_t ignored = 0;
  return replace_invalid_utf8(bytes, ignored);
}

std::size_t incomplete_utf8_tail(std::string_view bytes) noexcept {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
  // The lead byte of the last sequence: the last byte within 3 of the end that is no continuation.
  std::size_t lead = bytes.size();
  for (std::size_t back = 1; back <= 3 && back <= bytes.size(); ++back) {
    if ((byte(bytes.size() - back) & 0xC0) != 0x80) {
      lead = bytes.size() - back;
      break;
    }
  }
  if (lead == bytes.size()) return 0;
  const unsigned char first = byte(lead);
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // the second byte's range (Unicode Table 3-7)
  if (first >= 0xC2 && first <= 0xDF) {
    length = 2;
  } else if (first >= 0xE0 && first <= 0xEF) {
    length = 3;
    if (first == 0xE0) low = 0xA0;
    if (first == 0xED) high = 0x9F;
  } else if (first >= 0xF0 && first <= 0xF4) {
    length = 4;
    if (first == 0xF0) low = 0x90;
    if (first == 0xF4) high = 0x8F;
  } else {
    return 0;  // ASCII or a byte that starts no sequence: nothing to wait for
  }
  const std::size_t have = bytes.size() - lead;
  if (have >= length) return 0;
  if (have >= 2 && (byte(lead + 1) < low || byte(lead + 1) > high)) return 0;
  return have;
}

std::string_view normalize_utf8(std::string_view text, Normalization form, std::string& storage) {
  if (form == Normalization::none) return text;
  if (text.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    throw Error(ErrorCode::invalid_input, "a text of " + std::to_string(text.size()) +
                                              " bytes is too long to normalise (ICU's limit is 2^31-1 bytes); split it");
  }
  const icu::Normalizer2& instance = normalizer(form);
  const icu::StringPiece piece(text.data(), static_cast<std::int32_t>(text.size()));
  UErrorCode status = U_ZERO_ERROR;
  if (instance.isNormalizedUTF8(piece, status) && U_SUCCESS(status)) return text;
  status = U_ZERO_ERROR;
  storage.clear();
  storage.reserve(text.size() + text.size() / 8);
  icu::StringByteSink<std::string> sink(&storage);
  instance.normalizeUTF8(0, piece, sink, nullptr, status);
  if (U_FAILURE(status)) throw Error(ErrorCode::internal, std::string("ICU normalisation failed: ") + u_errorName(status));
  return storage;
}

}  // namespace tracemark
