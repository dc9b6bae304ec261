// Reading JSON-lines input files record by record, with positions for error messages.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tracemark/embed/key.hpp"
#include "tracemark/text_lines.hpp"

namespace tracemark {

struct JsonlRecord {
  std::uint64_t line = 0;         // 1-based line number
  std::uint64_t byte_offset = 0;  // offset of the line's first byte in the file
  nlohmann::json value;
};

// One non-blank line, not yet parsed (so that parsing can happen in worker threads).
struct JsonlLine {
  std::uint64_t line = 0;
  std::uint64_t byte_offset = 0;
  std::string text;
};

// The longest record (line, without its newline) a reader accepts unless told otherwise: a record
// is held whole in memory, and parsed it takes several times its size, so memory stays bounded by
// this limit however a file is made (a small .gz can expand to one line of gigabytes).
inline constexpr std::size_t kDefaultMaxRecordBytes = std::size_t{16} << 20;

class ByteSource;

// Reads one file; blank lines are skipped; a name ending in .gz is decompressed on the fly (zlib;
// bytes after the last gzip member are an error). A line holding a NUL byte is refused
// (Error(invalid_input) naming its offset). Not thread-safe.
class JsonlReader {
 public:
  // "-" reads standard input. Throws Error(io) when the file cannot be opened.
  explicit JsonlReader(const std::filesystem::path& path, std::size_t max_record_bytes = kDefaultMaxRecordBytes);
  ~JsonlReader();
  JsonlReader(const JsonlReader&) = delete;
  JsonlReader& operator=(const JsonlReader&) = delete;

  // Reads the next record; returns false at the end. Throws Error(invalid_input) naming the file,
  // line and byte offset for a line that is not valid JSON (json_input.hpp: nested at most
  // kMaxJsonDepth deep, numbers within a double's range) or longer than max_record_bytes.
  bool next(JsonlRecord& record);
  // The next non-blank line without parsing it; parse it with parse_line(). Same errors as next().
  bool next_line(JsonlLine& line);
  // Parses a line from this reader; thread-safe (touches no reader state). Throws
  // Error(invalid_input) naming the file, line and byte offset.
  JsonlRecord parse_line(const JsonlLine& line) const;

  const std::string& name() const noexcept { return name_; }
  std::size_t max_record_bytes() const noexcept { return max_record_bytes_; }
  // "FILE line N" for messages about a record.
  std::string where(const JsonlRecord& record) const;

 private:
  bool read_line();  // next line into line_ (without the newline); false at the end

  std::string name_;
  std::size_t max_record_bytes_;
  std::unique_ptr<ByteSource> source_;
  std::vector<char> buffer_;
  std::size_t buffer_begin_ = 0, buffer_end_ = 0;
  std::string line_;
  LineCounter lines_;
};

// The record's "id" when present (string or number, as written), else its line number.
nlohmann::json record_id(const JsonlRecord& record);

// The tokenizer a record names for its ids, "tokenizer": {"name", "vocab_sha256"} (written by
// generate and by serve's audit log, the shape of a key file's binding), or nothing when the record
// names none. Throws Error(invalid_input) with the reader's position for a malformed field.
std::optional<TokenizerBinding> record_tokenizer(const JsonlReader& reader, const JsonlRecord& record);
// The "tokenizer" field of a record whose ids are of `binding`.
nlohmann::json record_tokenizer_json(const TokenizerBinding& binding);

// The record's "tokens" array as ids. Throws Error(invalid_input) with the reader's position when
// the field is missing or holds anything but integers in [0, 2^32).
std::vector<std::uint32_t> record_tokens(const JsonlReader& reader, const JsonlRecord& record);

}  // namespace tracemark
