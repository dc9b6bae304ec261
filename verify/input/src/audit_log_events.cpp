#include "tracemark/verify/audit_log_events.hpp"

#include <string>

#include "tracemark/json_input.hpp"

namespace tracemark {

bool is_audit_event_line(std::string_view line) {
  if (line.find("\"" + std::string(kAuditEventField) + "\"") == std::string_view::npos) return false;
  JsonProblem problem;
  const auto value = try_parse_json(line, problem);
  return value && value->is_object() && value->contains(kAuditEventField);
}

}  // namespace tracemark
