#include <cstring>
#include <simdjson.h>

#include "tracemark/campaigns/audit_record.hpp"
#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/text_lines.hpp"
#include "tracemark/verify/audit_log_events.hpp"

namespace tracemark::campaigns {
namespace {


enum class FieldProblem { none, missing, wrong_type };

struct ParsedFields {
  FieldProblem time = FieldProblem::missing, account = FieldProblem::missing;
  std::string_view bad_optional;  // an optional field of the wrong type
  std::string time_text;
  bool event = false;             // a top-level "event" member: not an exchange (issue 12's refusals)
};

// The fast path: simdjson's DOM parser, which validates the whole line (as scan's fast path does:
// docs/DESIGN.md, "Hostile input"), behind json_input's depth limit. Returns false when the line is
// not a JSON object simdjson accepts (the caller then lets the general reader name the problem).
bool parse_fields(simdjson::dom::parser& parser, std::string_view line, AuditRecord& record, ParsedFields& parsed) {
  if (json_too_deep_at(line)) return false;
  simdjson::dom::element document;
  if (parser.parse(line.data(), line.size()).get(document) != simdjson::SUCCESS) return false;
  simdjson::dom::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) return false;
  record.account.clear();
  record.client_address.clear();
  record.user_agent.clear();
  record.model.clear();
  record.prompt_text.clear();
  record.has_response = false;
  const auto optional_string = [&](simdjson::dom::element value, std::string& out, std::string_view name) {
    if (value.is_null()) return;
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) {
      parsed.bad_optional = name;
      return;
    }
    out.assign(text);
  };
  for (const simdjson::dom::key_value_pair field : object) {
    const std::string_view key = field.key;
    const simdjson::dom::element value = field.value;
    std::string_view text;
    if (key == kAuditEventField) {
      parsed.event = true;
    } else if (key == "time") {
      if (value.get_string().get(text) == simdjson::SUCCESS) {
        parsed.time = FieldProblem::none;
        parsed.time_text.assign(text);
      } else {
        parsed.time = FieldProblem::wrong_type;
      }
    } else if (key == "account") {
      if (value.get_string().get(text) == simdjson::SUCCESS && !text.empty()) {
        parsed.account = FieldProblem::none;
        record.account.assign(text);
      } else {
        parsed.account = FieldProblem::wrong_type;
      }
    } else if (key == "client_address") {
      optional_string(value, record.client_address, "client_address");
    } else if (key == "user_agent") {
      optional_string(value, record.user_agent, "user_agent");
    } else if (key == "model") {
      optional_string(value, record.model, "model");
    } else if (key == "prompt") {
      record.prompt_text.clear();
      if (value.get_string().get(text) == simdjson::SUCCESS) {
        record.prompt_text.assign(text);
      } else if (simdjson::dom::array messages; value.get_array().get(messages) == simdjson::SUCCESS) {
        // Chat messages (their contents are the prompt) or token ids (no text to read).
        for (const simdjson::dom::element message : messages) {
          simdjson::dom::object parts;
          if (message.get_object().get(parts) != simdjson::SUCCESS) continue;  // a token id
          std::string_view content;
          if (parts["content"].get_string().get(content) == simdjson::SUCCESS) {
            if (!record.prompt_text.empty()) record.prompt_text.push_back('\n');
            record.prompt_text.append(content);
          }
        }
      }
    } else if (key == "tokens" || key == "text") {
      if (simdjson::dom::array items; value.get_array().get(items) == simdjson::SUCCESS) {
        record.has_response = record.has_response || items.size() > 0;
      } else if (value.get_string().get(text) == simdjson::SUCCESS) {
        record.has_response = record.has_response || !text.empty();
      }
    }
  }
  return true;
}

}  // namespace

AuditLogReader::AuditLogReader(const std::filesystem::path& path, bool skip_bad_lines)
    : reader_(path), skip_bad_lines_(skip_bad_lines) {}

AuditLogReader::~AuditLogReader() = default;

std::optional<std::string> AuditLogReader::parse(const JsonlLine& line, AuditRecord& record) const {
  thread_local simdjson::dom::parser parser;
  ParsedFields parsed;
  record.event = false;
  const std::string where = describe_position(reader_.name(), {line.line, line.byte_offset}) + ": ";
  if (!parse_fields(parser, line.text, record, parsed)) {
    try {
      const JsonlRecord whole = reader_.parse_line(line);  // throws naming the offset of invalid JSON
      return where + (whole.value.is_object() ? "a JSON object the fast reader refused (a number or string it cannot hold?)"
                                              : "not a JSON object; each audit line is one object");
    } catch (const Error& e) {
      return std::string(e.what());
    }
  }
  if (parsed.event) {
    record.event = true;  // a refused request, not an exchange: skipped, not an error
    return std::nullopt;
  }
  if (parsed.time == FieldProblem::missing) return where + "the audit line has no \"time\"";
  if (parsed.time == FieldProblem::wrong_type) return where + "\"time\" is not a string";
  if (parsed.account != FieldProblem::none) {
    return where + (parsed.account == FieldProblem::missing ? "the audit line has no \"account\"" : "\"account\" is not a non-empty string");
  }
  if (!parsed.bad_optional.empty()) return where + "\"" + std::string(parsed.bad_optional) + "\" is not a string";
  const auto time = parse_rfc3339_ms(parsed.time_text);
  if (!time) {
    return where + "\"time\" is \"" + escaped_excerpt(parsed.time_text, 40) + "\", not an RFC 3339 date-time such as 2026-03-02T06:35:07.123Z";
  }
  record.time_ms = *time;
  return std::nullopt;
}

bool AuditLogReader::next_line(JsonlLine& line) {
  if (!reader_.next_line(line)) return false;
  ++lines_read_;
  return true;
}

void AuditLogReader::skip(const std::string& problem) {
  if (!skip_bad_lines_) {
    throw Error(ErrorCode::invalid_input, problem + "; fix or remove the line, or pass --skip-bad-lines to skip and count such lines");
  }
  if (skipped_++ == 0) first_skip_reason_ = problem;
}

bool AuditLogReader::next(AuditRecord& record) {
  while (next_line(line_)) {
    const auto problem = parse(line_, record);
    if (!problem && !record.event) return true;
    if (problem) skip(*problem);
  }
  return false;
}

}  // namespace tracemark::campaigns
