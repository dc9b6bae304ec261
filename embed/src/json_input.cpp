#include "tracemark/json_input.hpp"

#include <cmath>
#include <cstdlib>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

// nlohmann's parse_error text is "[json.exception.parse_error.101] parse error at line 1, column 8:
// syntax error while parsing value - invalid literal; last read: 'tru'". The description between
// "column N: " and "; last read" is one of the library's fixed phrases; the last-read part holds
// input bytes of any length, so it is dropped (the caller shows its own excerpt).
std::string parse_error_description(const std::string& what) {
  std::string text = what;
  if (const auto column = text.find("column "); column != std::string::npos) {
    if (const auto colon = text.find(": ", column); colon != std::string::npos) text = text.substr(colon + 2);
  }
  if (const auto last_read = text.find("; last read"); last_read != std::string::npos) text.resize(last_read);
  if (text.size() > 160) text = text.substr(0, 160) + "...";
  return escaped_excerpt(text, 200);
}

// Calls visit(offset) for every byte of text outside string literals (and their quotes) until it
// returns false. Escapes are skipped inside strings, so an escaped quote does not end one.
template <typename Visit>
void visit_outside_strings(std::string_view text, Visit visit) {
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (!visit(i)) {
      return;
    }
  }
}

// Where the first number that overflows a double starts (the parser's out_of_range error does not
// say), or 0 when none is found.
std::size_t first_overflowing_number(std::string_view text) {
  std::size_t found = 0, skip_to = 0;
  visit_outside_strings(text, [&](std::size_t i) {
    const char c = text[i];
    if (i < skip_to || !(c == '-' || (c >= '0' && c <= '9'))) return true;
    std::size_t end = i;
    while (end < text.size() && std::string_view("+-0123456789.eE").find(text[end]) != std::string_view::npos) ++end;
    skip_to = end;
    if (!std::isinf(std::strtod(std::string(text.substr(i, end - i)).c_str(), nullptr))) return true;
    found = i;
    return false;
  });
  return found;
}

std::string near(std::string_view text, std::size_t offset) {
  const std::size_t start = offset > 8 ? offset - 8 : 0;
  return "near \"" + escaped_excerpt(text.substr(std::min(start, text.size())), 24) + "\"";
}

template <typename Json>
std::optional<Json> try_parse(std::string_view text, JsonProblem& problem) {
  if (const auto deep = json_too_deep_at(text)) {
    problem = {*deep, "arrays and objects nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
    return std::nullopt;
  }
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const typename Json::parse_error& e) {
    const std::size_t offset = std::min<std::size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    problem = {offset, parse_error_description(e.what()) + ", " + near(text, offset)};
  } catch (const typename Json::out_of_range&) {
    // The one out_of_range a parse throws: a number beyond the range of a double (1e999, or an
    // integer of hundreds of digits).
    const std::size_t offset = first_overflowing_number(text);
    problem = {offset, "a number too large for a double, " + near(text, offset)};
  } catch (const typename Json::exception& e) {
    problem = {0, parse_error_description(e.what())};
  }
  return std::nullopt;
}

template <typename Json>
Json parse_or_throw(std::string_view text, std::string_view source) {
  JsonProblem problem;
  auto value = try_parse<Json>(text, problem);
  if (!value) {
    throw Error(ErrorCode::invalid_input, std::string(source) + ": not valid JSON at byte offset " +
                                              std::to_string(problem.offset) + " (" + problem.reason + ")");
  }
  return std::move(*value);
}

template <typename Json>
std::string excerpt_of(const Json& value, std::size_t max_chars) {
  switch (value.type()) {
    case nlohmann::json::value_t::string: {
      const auto& text = value.template get_ref<const std::string&>();
      return "\"" + escaped_excerpt(text, max_chars) + "\"";
    }
    case nlohmann::json::value_t::array:
      return "an array of " + std::to_string(value.size()) + (value.size() == 1 ? " element" : " elements");
    case nlohmann::json::value_t::object:
      return "an object of " + std::to_string(value.size()) + (value.size() == 1 ? " member" : " members");
    case nlohmann::json::value_t::binary:
    case nlohmann::json::value_t::discarded:
      return "not a JSON value";
    default:
      // null, booleans and numbers: short by nature (a double prints in at most 24 characters).
      return value.dump();
  }
}

}  // namespace

std::optional<std::size_t> json_too_deep_at(std::string_view text, std::size_t max_depth) {
  // The depth never exceeds the number of '[' and '{' bytes, wherever they are (strings included):
  // when there are no more than max_depth of them, nothing can be too deep. A flat count (which the
  // compiler vectorises) settles the common line, a record of ids (two openers), without the
  // byte-by-byte walk outside strings below (4-6% of a scan of token-id records).
  std::size_t openers = 0;
  for (const char c : text) openers += static_cast<std::size_t>(c == '[') + static_cast<std::size_t>(c == '{');
  if (openers <= max_depth) return std::nullopt;
  std::size_t depth = 0;
  std::optional<std::size_t> too_deep;
  visit_outside_strings(text, [&](std::size_t i) {
    const char c = text[i];
    if (c == '[' || c == '{') {
      if (++depth > max_depth) too_deep = i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
    return !too_deep;
  });
  return too_deep;
}

std::optional<nlohmann::json> try_parse_json(std::string_view text, JsonProblem& problem) {
  return try_parse<nlohmann::json>(text, problem);
}

std::optional<nlohmann::ordered_json> try_parse_ordered_json(std::string_view text, JsonProblem& problem) {
  return try_parse<nlohmann::ordered_json>(text, problem);
}

nlohmann::json parse_json(std::string_view text, std::string_view source) {
  return parse_or_throw<nlohmann::json>(text, source);
}

nlohmann::ordered_json parse_ordered_json(std::string_view text, std::string_view source) {
  return parse_or_throw<nlohmann::ordered_json>(text, source);
}

std::string json_excerpt(const nlohmann::json& value, std::size_t max_chars) { return excerpt_of(value, max_chars); }

std::string json_excerpt(const nlohmann::ordered_json& value, std::size_t max_chars) {
  return excerpt_of(value, max_chars);
}

std::string escaped_excerpt(std::string_view bytes, std::size_t max_chars) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const std::size_t kept = std::min(bytes.size(), max_chars);
  for (std::size_t i = 0; i < kept; ++i) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    switch (byte) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (byte >= 0x20 && byte < 0x7f) {
          out.push_back(static_cast<char>(byte));
        } else {
          out += "\\x";
          out.push_back(kHex[byte >> 4]);
          out.push_back(kHex[byte & 15]);
        }
    }
  }
  if (kept < bytes.size()) out += "...";
  return out;
}

}  // namespace tracemark
