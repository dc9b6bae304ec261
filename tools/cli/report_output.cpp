#include "report_output.hpp"

namespace tracemark::cli {

std::string result_json_line(nlohmann::ordered_json head, const ScoreCounts& counts, const BinomialTest& test) {
  head["tokens"] = counts.tokens;
  head["scored"] = counts.scored;
  head["green"] = counts.green;
  head["gamma"] = test.gamma;
  head["z"] = test.z;
  head["log10_p"] = test.log10_p;
  head["skipped_prefix"] = counts.skipped_prefix;
  head["skipped_repeated_context"] = counts.skipped_repeated_context;
  head["skipped_repeated_tuple"] = counts.skipped_repeated_tuple;
  std::string text = head.dump();
  text.pop_back();  // the closing brace; p_value goes in as a raw number literal
  text += ",\"p_value\":" + format_p_value(test.log10_p) + "}";
  return text;
}

std::string dump_with_raw_p_values(const nlohmann::ordered_json& document, int indent) {
  // format_p_value() only produces digits, '.', 'e' and '-', so dropping the quotes around those
  // two fields' values leaves valid JSON numbers.
  std::string text = document.dump(indent);
  for (const std::string field : {"\"p_value\": \"", "\"holm_p_value\": \""}) {
    for (std::size_t at = text.find(field); at != std::string::npos; at = text.find(field, at)) {
      const std::size_t open_quote = at + field.size() - 1;
      const std::size_t close_quote = text.find('"', open_quote + 1);
      text.erase(close_quote, 1);
      text.erase(open_quote, 1);
      at = close_quote - 1;
    }
  }
  return text;
}

}  // namespace tracemark::cli
