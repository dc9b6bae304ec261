// libFuzzer target: JSONL records as scan and detect read them (tests/fuzz/README.md).
// The input is a file's bytes, read plain and as a .gz file by JsonlReader; each line goes through
// both record paths. Checked: nothing but tracemark::Error escapes, and the fast path accepts no
// line the general path refuses, with the same ids when both accept.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/verify/audit_log_events.hpp"
#include "tracemark/verify/fast_token_record.hpp"
#include "tracemark/verify/jsonl_reader.hpp"

namespace {

const std::filesystem::path& scratch_folder() {
  static const std::filesystem::path folder = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "tracemark-fuzz-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) std::abort();
    return std::filesystem::path(pattern);
  }();
  return folder;
}

void check_line(const tracemark::JsonlReader& reader, const tracemark::JsonlLine& line) {
  const auto fast = tracemark::parse_token_record_fast(line.text);
  tracemark::is_audit_event_line(line.text);
  try {
    const tracemark::JsonlRecord record = reader.parse_line(line);
    tracemark::json_excerpt(record.value);
    tracemark::record_id(record);
    const auto tokens = tracemark::record_tokens(reader, record);
    if (fast && fast->tokens != tokens) std::abort();  // the two paths disagree on the ids
  } catch (const tracemark::Error&) {
    // The general path refused the line (its JSON, or its ids): the fast path must have too.
    if (fast) std::abort();
  }
}

void read_all(const std::filesystem::path& path) {
  try {
    tracemark::JsonlReader reader(path, 1 << 16);
    tracemark::JsonlLine line;
    while (reader.next_line(line)) check_line(reader, line);
  } catch (const tracemark::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  for (const char* name : {"input.jsonl", "input.jsonl.gz"}) {
    const auto path = scratch_folder() / name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    read_all(path);
  }
  return 0;
}
