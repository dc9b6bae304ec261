// The audit log of `tracemark serve` holds one line per served exchange and, since issue 12, one
// line per refused request: {"event": "rejected", "time", "status", "reason", "client", ...} (never
// the API key presented). Readers that want the served responses (scan --reference-log) skip the
// event lines; README.md describes both kinds.
#pragma once

#include <string_view>

namespace tracemark {

inline constexpr std::string_view kAuditEventField = "event";
inline constexpr std::string_view kAuditRejectedEvent = "rejected";

// True when the line is a JSON object with a top-level "event" member (not a served exchange).
// Cheap for exchange lines: they are parsed only when the text "event" occurs in them.
bool is_audit_event_line(std::string_view line);

}  // namespace tracemark
