// Per-account behaviour gathered from the audit logs in one streaming pass: memory grows with the
// accounts and their exchanges' metadata (about 12 bytes an exchange and the frame counter's 1 kB an
// account at most), never with prompts or responses. Private to campaigns/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "frame_counter.hpp"
#include "tracemark/campaigns/audit_record.hpp"
#include "tracemark/campaigns/capability.hpp"

namespace tracemark::campaigns {

struct ExchangeMark {
  std::uint32_t time_s = 0;    // seconds since the table's epoch (2000-01-01T00:00:00Z)
  std::uint32_t address = 0;   // index into AccountTable::addresses (0: none recorded)
  std::uint16_t model = 0;     // index into AccountTable::models (0: none recorded)
  Capability capability = Capability::other;
};

struct AccountActivity {
  std::vector<ExchangeMark> exchanges;                     // in file order
  std::vector<std::pair<std::uint32_t, std::uint32_t>> agents;  // (agent index, exchanges)
  FrameCounter frame;
};

// Interns strings to dense indices; index 0 is the empty string.
class StringIndex {
 public:
  StringIndex() { intern(""); }
  std::uint32_t intern(std::string_view text);
  const std::string& text(std::uint32_t index) const { return texts_[index]; }
  std::size_t size() const noexcept { return texts_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
  };
  std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>> index_;
  std::vector<std::string> texts_;
};

inline constexpr std::int64_t kTableEpochMs = 946'684'800'000;  // 2000-01-01T00:00:00Z

struct AccountTable {
  StringIndex account_names, addresses, agents, models;
  std::vector<AccountActivity> accounts;  // by account index - 1 (names index 0 is unused)
  std::uint64_t lines_read = 0, skipped_lines = 0, exchanges = 0;
  std::string first_skip_reason;
  std::int64_t first_ms = 0, last_ms = 0;

  // Reads one log, parsing batches of lines on `threads` threads (the tables do not depend on it).
  // Throws as AuditLogReader does; times before 2000 or from 2100 on are malformed.
  void ingest(const std::filesystem::path& path, bool skip_bad_lines, unsigned threads);
  // Adds one exchange.
  void add(const AuditRecord& record, const std::vector<std::uint64_t>& shingles, Capability capability);
};

}  // namespace tracemark::campaigns
