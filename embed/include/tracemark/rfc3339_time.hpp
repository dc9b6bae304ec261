// RFC 3339 date-times as milliseconds since 1970-01-01T00:00:00Z: the times of audit lines, key
// policies and campaign reports (one parser for all of them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tracemark {

// Milliseconds since the epoch of an RFC 3339 date-time (`2026-03-02T06:35:07.123Z`,
// `...+02:00`); nullopt when the text is not one. A leap second (:60) counts as :59.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text);
// RFC 3339 UTC with milliseconds, the form serve writes.
std::string format_rfc3339_ms(std::int64_t time_ms);
// Milliseconds since the epoch of 00:00:00Z on the first day of (year, month); month 1 to 12.
std::int64_t month_start_ms(std::int64_t year, unsigned month);

}  // namespace tracemark
