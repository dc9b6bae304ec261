#include "account_table.hpp"

#include <algorithm>
#include <optional>

#include "tracemark/campaigns/audit_record.hpp"
#include "tracemark/campaigns/prompt_shingles.hpp"
#include "tracemark/error.hpp"
#include "tracemark/text_lines.hpp"
#include "tracemark/verify/parallel_for.hpp"

namespace tracemark::campaigns {

std::uint32_t StringIndex::intern(std::string_view text) {
  auto it = index_.find(text);
  if (it != index_.end()) return it->second;
  const auto index = static_cast<std::uint32_t>(texts_.size());
  texts_.emplace_back(text);
  index_.emplace(texts_.back(), index);
  return index;
}

namespace {

// One line prepared on a worker thread: parsed, its prompt's shingles and capability.
struct PreparedLine {
  AuditRecord record;
  std::optional<std::string> problem;
  std::vector<std::uint64_t> shingles;
  Capability capability = Capability::other;
};

}  // namespace

void AccountTable::ingest(const std::filesystem::path& path, bool skip_bad_lines, unsigned threads) {
  AuditLogReader reader(path, skip_bad_lines);
  constexpr std::int64_t kLastMs = 4'102'444'800'000;  // 2100-01-01
  constexpr std::size_t kBatch = 8192, kChunk = 512;
  std::vector<JsonlLine> lines(kBatch);
  std::vector<PreparedLine> prepared(kBatch);
  for (;;) {
    std::size_t count = 0;
    while (count < kBatch && reader.next_line(lines[count])) ++count;
    if (count == 0) break;
    // Parsing, shingling and classifying run on the workers; everything that depends on order
    // (interning, the accounts' tables, errors) happens below, in input order.
    parallel_for((count + kChunk - 1) / kChunk, threads, [&](std::size_t chunk) {
      for (std::size_t i = chunk * kChunk; i < std::min(count, (chunk + 1) * kChunk); ++i) {
        PreparedLine& p = prepared[i];
        p.problem = reader.parse(lines[i], p.record);
        if (p.problem || p.record.event) continue;
        if (p.record.time_ms < kTableEpochMs || p.record.time_ms >= kLastMs) {
          p.problem = describe_position(reader.name(), {lines[i].line, lines[i].byte_offset}) + ": \"time\" " +
                      format_rfc3339_ms(p.record.time_ms) + " is outside 2000 to 2099";
          continue;
        }
        prompt_shingles(p.record.prompt_text, p.shingles);
        p.capability = classify_prompt(p.record.prompt_text);
      }
    });
    for (std::size_t i = 0; i < count; ++i) {
      const PreparedLine& p = prepared[i];
      if (p.problem) {
        reader.skip(*p.problem);
        continue;
      }
      if (p.record.event) continue;  // a refused request: no exchange
      add(p.record, p.shingles, p.capability);
    }
  }
  lines_read += reader.lines_read();
  skipped_lines += reader.skipped_lines();
  if (first_skip_reason.empty()) first_skip_reason = reader.first_skip_reason();
}

void AccountTable::add(const AuditRecord& record, const std::vector<std::uint64_t>& shingles, Capability capability) {
  ++exchanges;
  if (exchanges == 1 || record.time_ms < first_ms) first_ms = record.time_ms;
  if (exchanges == 1 || record.time_ms > last_ms) last_ms = record.time_ms;
  const std::uint32_t account = account_names.intern(record.account);
  if (account > accounts.size()) accounts.resize(account);
  AccountActivity& activity = accounts[account - 1];
  ExchangeMark mark;
  mark.time_s = static_cast<std::uint32_t>((record.time_ms - kTableEpochMs) / 1000);
  mark.address = record.client_address.empty() ? 0 : addresses.intern(record.client_address);
  // An account's user agent and model rarely change: compare with its last before interning.
  if (activity.exchanges.empty() || models.text(activity.exchanges.back().model) != record.model) {
    mark.model = static_cast<std::uint16_t>(std::min<std::uint32_t>(record.model.empty() ? 0 : models.intern(record.model), 0xFFFF));
  } else {
    mark.model = activity.exchanges.back().model;
  }
  mark.capability = capability;
  activity.exchanges.push_back(mark);
  if (activity.agents.empty() || agents.text(activity.agents.back().first) != record.user_agent) {
    const std::uint32_t agent = record.user_agent.empty() ? 0 : agents.intern(record.user_agent);
    auto found = std::find_if(activity.agents.begin(), activity.agents.end(), [&](const auto& a) { return a.first == agent; });
    if (found == activity.agents.end()) {
      activity.agents.emplace_back(agent, 1);
    } else {
      ++found->second;
      std::iter_swap(found, activity.agents.end() - 1);  // the last one used stays at the back
    }
  } else {
    ++activity.agents.back().second;
  }
  if (!shingles.empty()) activity.frame.add_prompt(shingles);
}

}  // namespace tracemark::campaigns
