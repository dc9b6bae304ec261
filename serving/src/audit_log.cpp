#include "tracemark/serving/audit_log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "tracemark/error.hpp"

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

std::string rfc3339_utc_now() {
  const auto now = std::chrono::system_clock::now();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[40];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ", static_cast<int>(millis % 1000));
  return std::string(text, n) + fraction;
}

}  // namespace tracemark::serving
