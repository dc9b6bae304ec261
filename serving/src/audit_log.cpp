#include "tracemark/serving/audit_log.hpp"

#include <chrono>

#include "tracemark/error.hpp"
#include "tracemark/rfc3339_time.hpp"

namespace tracemark::serving {

AuditLog::AuditLog(const std::filesystem::path& path, bool sync_each_line)
    : file_(path, 0600, sync_each_line, "audit log", "--audit-log") {
  if (const auto torn = file_.torn_tail()) {
    throw Error(ErrorCode::invalid_input,
                "audit log " + name() + " ends inside a line that starts at byte offset " + std::to_string(*torn) +
                    " (a write cut off by a crash?); keep a copy, cut the partial line off with `truncate -s " +
                    std::to_string(*torn) + " " + name() + "`, and start again");
  }
}

std::int64_t utc_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string rfc3339_utc_now() { return format_rfc3339_ms(utc_now_ms()); }

}  // namespace tracemark::serving
