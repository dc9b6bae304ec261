// Lines of text files with their positions, for readers whose messages name the file, line and
// byte offset of a problem: one counter for every reader (JSON lines, API keys, logs, corpora).
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>

namespace tracemark {

struct LinePosition {
  std::uint64_t line = 0;         // from 1
  std::uint64_t byte_offset = 0;  // of the line's first byte in the file
};

// "FILE line N (byte offset B)", B = the line's offset plus `column` (a byte within the line).
std::string describe_position(std::string_view file, const LinePosition& position, std::uint64_t column = 0);

// Counts lines and byte offsets for a reader that takes the file one line at a time. Lines end in
// "\n", which is not part of the line (a "\r" before it is, so offsets stay those of the file).
class LineCounter {
 public:
  // The position of the next line, `length` bytes long without its newline.
  LinePosition next(std::size_t length) noexcept {
    const LinePosition position{++lines_, offset_};
    offset_ += length + 1;
    return position;
  }
  std::uint64_t lines() const noexcept { return lines_; }
  // The position the next line will have (for a message about a line still being read).
  LinePosition upcoming() const noexcept { return {lines_ + 1, offset_}; }

 private:
  std::uint64_t lines_ = 0;
  std::uint64_t offset_ = 0;
};

struct TextLine {
  std::string text;  // without the newline
  LinePosition position;
  bool terminated = true;  // false for a last line without its newline (a write cut off?)
};

// Reads a stream line by line with positions. Not thread-safe.
class LineReader {
 public:
  // name: the file, for messages.
  LineReader(std::istream& stream, std::string name) : stream_(stream), name_(std::move(name)) {}
  // False at the end of the stream. Throws Error(io) when the stream fails other than by ending.
  bool next(TextLine& line);
  const std::string& name() const noexcept { return name_; }
  // describe_position() for this reader's file.
  std::string where(const LinePosition& position, std::uint64_t column = 0) const {
    return describe_position(name_, position, column);
  }

 private:
  std::istream& stream_;
  std::string name_;
  LineCounter counter_;
};

// Calls visit(std::string_view line, const LinePosition&) for each line of `text`, in order. A last
// line without a newline is visited; an empty text has no lines.
template <typename Visit>
void for_each_line(std::string_view text, Visit&& visit) {
  LineCounter counter;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    visit(line, counter.next(line.size()));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

}  // namespace tracemark
