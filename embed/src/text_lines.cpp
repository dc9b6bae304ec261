#include "tracemark/text_lines.hpp"

#include "tracemark/error.hpp"

namespace tracemark {

std::string describe_position(std::string_view file, const LinePosition& position, std::uint64_t column) {
  return std::string(file) + " line " + std::to_string(position.line) + " (byte offset " +
         std::to_string(position.byte_offset + column) + ")";
}

bool LineReader::next(TextLine& line) {
  if (!std::getline(stream_, line.text)) {
    if (stream_.bad()) throw Error(ErrorCode::io, "reading " + name_ + " failed after line " + std::to_string(counter_.lines()));
    return false;
  }
  line.terminated = !stream_.eof();  // getline stopped at the end, not at a newline
  line.position = counter_.next(line.text.size());
  return true;
}

}  // namespace tracemark
