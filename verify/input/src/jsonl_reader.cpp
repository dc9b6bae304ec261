#include "tracemark/verify/jsonl_reader.hpp"

#include <cerrno>
#include <cstring>
#include <iostream>
#include <zlib.h>

#include "tracemark/error.hpp"

namespace tracemark {

JsonlReader::JsonlReader(const std::filesystem::path& path) : name_(path.string()) {
  if (name_ == "-") {
    name_ = "<stdin>";
    stream_ = &std::cin;
    return;
  }
  if (path.extension() == ".gz") {
    gzip_ = gzopen(path.c_str(), "rb");
    if (!gzip_) {
      throw Error(ErrorCode::io, "cannot open input " + name_ + ": " + std::strerror(errno) +
                                     "; check the path and permissions");
    }
    gzbuffer(static_cast<gzFile>(gzip_), 1 << 17);
    return;
  }
  file_.open(path, std::ios::binary);
  if (!file_) {
    throw Error(ErrorCode::io, "cannot open input " + name_ + ": " + std::strerror(errno) +
                                   "; check the path and permissions");
  }
  stream_ = &file_;
}

JsonlReader::~JsonlReader() {
  if (gzip_) gzclose(static_cast<gzFile>(gzip_));
}

bool JsonlReader::read_line() {
  if (!gzip_) return static_cast<bool>(std::getline(*stream_, line_));
  line_.clear();
  char buffer[1 << 16];
  for (;;) {
    if (!gzgets(static_cast<gzFile>(gzip_), buffer, sizeof buffer)) {
      int status = Z_OK;
      const char* message = gzerror(static_cast<gzFile>(gzip_), &status);
      if (status != Z_OK && status != Z_STREAM_END) {
        throw Error(ErrorCode::invalid_input, name_ + " near line " + std::to_string(line_number_ + 1) +
                                                  ": corrupt gzip data (" + message + ")");
      }
      return !line_.empty();
    }
    line_ += buffer;
    if (!line_.empty() && line_.back() == '\n') {
      line_.pop_back();
      return true;
    }
  }
}

bool JsonlReader::next_line(JsonlLine& line) {
  while (read_line()) {
    const std::uint64_t start = offset_;
    offset_ += line_.size() + 1;
    ++line_number_;
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (line_.find_first_not_of(" \t") == std::string::npos) continue;
    line.line = line_number_;
    line.byte_offset = start;
    line.text.swap(line_);
    return true;
  }
  if (stream_ && stream_->bad()) throw Error(ErrorCode::io, "reading " + name_ + " failed");
  return false;
}

JsonlRecord JsonlReader::parse_line(const JsonlLine& line) const {
  JsonlRecord record;
  record.line = line.line;
  record.byte_offset = line.byte_offset;
  try {
    record.value = nlohmann::json::parse(line.text);
  } catch (const nlohmann::json::parse_error& e) {
    const std::uint64_t column = e.byte == 0 ? 1 : e.byte;
    throw Error(ErrorCode::invalid_input,
                name_ + " line " + std::to_string(line.line) + " (byte offset " +
                    std::to_string(line.byte_offset + column - 1) + "): not valid JSON at column " +
                    std::to_string(column) + "; each line must hold one JSON object");
  }
  return record;
}

bool JsonlReader::next(JsonlRecord& record) {
  JsonlLine line;
  if (!next_line(line)) return false;
  record = parse_line(line);
  return true;
}

std::string JsonlReader::where(const JsonlRecord& record) const {
  return name_ + " line " + std::to_string(record.line);
}

nlohmann::json record_id(const JsonlRecord& record) {
  if (record.value.is_object()) {
    auto it = record.value.find("id");
    if (it != record.value.end() && (it->is_string() || it->is_number())) return *it;
  }
  return record.line;
}

std::vector<std::uint32_t> record_tokens(const JsonlReader& reader, const JsonlRecord& record) {
  if (!record.value.is_object()) {
    throw Error(ErrorCode::invalid_input, reader.where(record) + ": expected a JSON object with \"tokens\": [ids]");
  }
  auto it = record.value.find("tokens");
  if (it == record.value.end() || !it->is_array()) {
    throw Error(ErrorCode::invalid_input, reader.where(record) +
                                              ": field \"tokens\" (an array of token ids) is missing; "
                                              "records must look like {\"id\": ..., \"tokens\": [ids]}");
  }
  std::vector<std::uint32_t> tokens;
  tokens.reserve(it->size());
  std::size_t position = 0;
  for (const auto& value : *it) {
    if (!value.is_number_integer() || (value.is_number_unsigned() ? value.get<std::uint64_t>() > 0xFFFFFFFFull
                                                                  : value.get<std::int64_t>() < 0)) {
      throw Error(ErrorCode::invalid_input, reader.where(record) + ": \"tokens\"[" + std::to_string(position) +
                                                "] is " + value.dump() + ", not a token id (an integer from 0 to 2^32-1)");
    }
    tokens.push_back(value.get<std::uint32_t>());
    ++position;
  }
  return tokens;
}

}  // namespace tracemark
