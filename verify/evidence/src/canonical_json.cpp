#include "tracemark/verify/canonical_json.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/verify/utf8.hpp"

namespace tracemark {
namespace {

constexpr std::uint64_t kMaxExactInteger = std::uint64_t{1} << 53;  // largest run of exact IEEE doubles

// UTF-16 code units of a valid UTF-8 string, for RFC 8785's member order.
std::u16string utf16_of(const std::string& text) {
  std::u16string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::uint32_t code = 0;
    std::size_t length = 1;
    if (byte < 0x80) {
      code = byte;
    } else if (byte >> 5 == 0x6) {
      code = byte & 0x1f, length = 2;
    } else if (byte >> 4 == 0xe) {
      code = byte & 0x0f, length = 3;
    } else {
      code = byte & 0x07, length = 4;
    }
    for (std::size_t j = 1; j < length && i + j < text.size(); ++j) code = (code << 6) | (static_cast<unsigned char>(text[i + j]) & 0x3f);
    i += length;
    if (code >= 0x10000) {
      code -= 0x10000;
      out.push_back(static_cast<char16_t>(0xd800 + (code >> 10)));
      out.push_back(static_cast<char16_t>(0xdc00 + (code & 0x3ff)));
    } else {
      out.push_back(static_cast<char16_t>(code));
    }
  }
  return out;
}

void write_string(const std::string& text, const std::string& where, std::string& out) {
  if (find_invalid_utf8(text) != kAllValid) {
    throw Error(ErrorCode::invalid_argument, "canonical JSON: " + where + " holds a string that is not valid UTF-8");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (byte < 0x20) {
          out += "\\u00";
          out.push_back(kHex[byte >> 4]);
          out.push_back(kHex[byte & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// Recursion is bounded by kMaxJsonDepth (json_input.hpp), the depth every parsed input is held to;
// a deeper value (built in memory) is refused rather than recursed into.
template <typename Json>
void write_value(const Json& value, const std::string& where, std::size_t depth, std::string& out) {
  if ((value.is_array() || value.is_object()) && depth >= kMaxJsonDepth) {
    throw Error(ErrorCode::invalid_argument, "canonical JSON: " + where.substr(0, 200) + " nests deeper than " +
                                                 std::to_string(kMaxJsonDepth) + " levels");
  }
  switch (value.type()) {
    case nlohmann::json::value_t::null: out += "null"; return;
    case nlohmann::json::value_t::boolean: out += value.template get<bool>() ? "true" : "false"; return;
    case nlohmann::json::value_t::string: write_string(value.template get_ref<const std::string&>(), where, out); return;
    case nlohmann::json::value_t::number_unsigned: {
      const auto number = value.template get<std::uint64_t>();
      if (number > kMaxExactInteger) {
        throw Error(ErrorCode::invalid_argument, "canonical JSON: " + where + " is an integer beyond 2^53");
      }
      out += std::to_string(number);
      return;
    }
    case nlohmann::json::value_t::number_integer: {
      const auto number = value.template get<std::int64_t>();
      if (number > static_cast<std::int64_t>(kMaxExactInteger) || number < -static_cast<std::int64_t>(kMaxExactInteger)) {
        throw Error(ErrorCode::invalid_argument, "canonical JSON: " + where + " is an integer beyond 2^53");
      }
      out += std::to_string(number);
      return;
    }
    case nlohmann::json::value_t::number_float:
      throw Error(ErrorCode::invalid_argument, "canonical JSON: " + where +
                                                   " is a floating-point number, which this canonical subset refuses; "
                                                   "keep fractional figures in a file the manifest digests");
    case nlohmann::json::value_t::array: {
      out.push_back('[');
      std::size_t i = 0;
      for (const auto& element : value) {
        if (i) out.push_back(',');
        write_value(element, where + "[" + std::to_string(i++) + "]", depth + 1, out);
      }
      out.push_back(']');
      return;
    }
    case nlohmann::json::value_t::object: {
      std::vector<std::pair<std::u16string, const std::string*>> names;
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (find_invalid_utf8(it.key()) != kAllValid) {
          throw Error(ErrorCode::invalid_argument, "canonical JSON: " + where + " has a member name that is not valid UTF-8");
        }
        names.emplace_back(utf16_of(it.key()), &it.key());
      }
      std::sort(names.begin(), names.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      out.push_back('{');
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (i) out.push_back(',');
        write_string(*names[i].second, where, out);
        out.push_back(':');
        write_value(value.at(*names[i].second), where + "." + *names[i].second, depth + 1, out);
      }
      out.push_back('}');
      return;
    }
    case nlohmann::json::value_t::binary:
    case nlohmann::json::value_t::discarded:
      break;
  }
  throw Error(ErrorCode::invalid_argument, "canonical JSON: " + where + " is not a JSON value");
}

}  // namespace

std::string canonical_json(const nlohmann::json& value) {
  std::string out;
  write_value(value, "$", 0, out);
  return out;
}

std::string canonical_json(const nlohmann::ordered_json& value) {
  std::string out;
  write_value(value, "$", 0, out);
  return out;
}

}  // namespace tracemark
