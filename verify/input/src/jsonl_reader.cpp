#include "tracemark/verify/jsonl_reader.hpp"

#include <cstring>

#include "byte_source.hpp"
#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/text_lines.hpp"

namespace tracemark {

JsonlReader::JsonlReader(const std::filesystem::path& path, std::size_t max_record_bytes)
    : name_(path.string() == "-" ? "<stdin>" : path.string()),
      max_record_bytes_(max_record_bytes),
      source_(open_byte_source(path.string(), name_)),
      buffer_(1 << 16) {}

JsonlReader::~JsonlReader() = default;

bool JsonlReader::read_line() {
  line_.clear();
  for (;;) {
    if (buffer_begin_ == buffer_end_) {
      buffer_begin_ = 0;
      buffer_end_ = source_->read(buffer_.data(), buffer_.size());
      if (buffer_end_ == 0) return !line_.empty();  // a last line without its newline counts
    }
    const char* begin = buffer_.data() + buffer_begin_;
    const auto* newline = static_cast<const char*>(std::memchr(begin, '\n', buffer_end_ - buffer_begin_));
    const std::size_t length = newline ? static_cast<std::size_t>(newline - begin) : buffer_end_ - buffer_begin_;
    if (line_.size() + length > max_record_bytes_) {
      throw Error(ErrorCode::invalid_input, describe_position(name_, lines_.upcoming()) +
                                                ": the record is longer than the limit of " +
                                                std::to_string(max_record_bytes_) +
                                                " bytes; split it, or raise the limit with --max-record-bytes");
    }
    line_.append(begin, length);
    buffer_begin_ += length;
    if (newline) {
      ++buffer_begin_;
      return true;
    }
  }
}

bool JsonlReader::next_line(JsonlLine& line) {
  while (read_line()) {
    const LinePosition position = lines_.next(line_.size());
    if (const void* nul = std::memchr(line_.data(), '\0', line_.size())) {
      const auto column = static_cast<std::uint64_t>(static_cast<const char*>(nul) - line_.data());
      throw Error(ErrorCode::invalid_input, describe_position(name_, position, column) +
                                                ": a NUL byte, which JSON text never holds; is this a binary file? "
                                                "Remove the byte or give the right file");
    }
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (line_.find_first_not_of(" \t") == std::string::npos) continue;
    line.line = position.line;
    line.byte_offset = position.byte_offset;
    line.text.swap(line_);
    return true;
  }
  return false;
}

JsonlRecord JsonlReader::parse_line(const JsonlLine& line) const {
  JsonlRecord record;
  record.line = line.line;
  record.byte_offset = line.byte_offset;
  JsonProblem problem;
  auto value = try_parse_json(line.text, problem);
  if (!value) {
    throw Error(ErrorCode::invalid_input, describe_position(name_, {line.line, line.byte_offset}, problem.offset) +
                                              ": not valid JSON at column " + std::to_string(problem.offset + 1) + " (" +
                                              problem.reason + "); each line must hold one JSON object");
  }
  record.value = std::move(*value);
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

std::optional<TokenizerBinding> record_tokenizer(const JsonlReader& reader, const JsonlRecord& record) {
  if (!record.value.is_object()) return std::nullopt;
  const auto it = record.value.find("tokenizer");
  if (it == record.value.end() || it->is_null()) return std::nullopt;
  const auto text_field = [&](const char* name) -> std::string {
    const auto field = it->find(name);
    if (field == it->end() || !field->is_string()) {
      throw Error(ErrorCode::invalid_input, reader.where(record) + ": \"tokenizer\" must be {\"name\": text, \"vocab_sha256\": "
                                                                   "64 hex digits}, the tokenizer whose ids the record holds");
    }
    return field->get<std::string>();
  };
  if (!it->is_object()) text_field("name");  // throws
  TokenizerBinding binding{text_field("name"), text_field("vocab_sha256")};
  if (binding.vocab_sha256.size() != 64 || binding.vocab_sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
    throw Error(ErrorCode::invalid_input, reader.where(record) + ": \"tokenizer\".\"vocab_sha256\" must be 64 lowercase hex digits");
  }
  return binding;
}

nlohmann::json record_tokenizer_json(const TokenizerBinding& binding) {
  return {{"name", binding.name}, {"vocab_sha256", binding.vocab_sha256}};
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
  const nlohmann::json::array_t& ids = it->get_ref<const nlohmann::json::array_t&>();
  std::vector<std::uint32_t> tokens;
  tokens.reserve(ids.size());
  for (std::size_t position = 0; position < ids.size(); ++position) {
    const nlohmann::json& value = ids[position];
    if (!value.is_number_integer() || (value.is_number_unsigned() ? value.get<std::uint64_t>() > 0xFFFFFFFFull
                                                                  : value.get<std::int64_t>() < 0)) {
      throw Error(ErrorCode::invalid_input, reader.where(record) + ": \"tokens\"[" + std::to_string(position) +
                                                "] is " + json_excerpt(value) + ", not a token id (an integer from 0 to 2^32-1)");
    }
    tokens.push_back(value.get<std::uint32_t>());
  }
  return tokens;
}

}  // namespace tracemark
