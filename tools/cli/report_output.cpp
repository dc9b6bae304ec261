#include "report_output.hpp"

namespace tracemark::cli {
namespace {

std::string with_p_value(const nlohmann::ordered_json& head, double log10_p) {
  std::string text = head.dump();
  text.pop_back();  // the closing brace; p_value goes in as a raw number literal
  text += ",\"p_value\":" + format_p_value(log10_p) + "}";
  return text;
}

}  // namespace

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
  // Only with the entropy or syntax rule, so earlier outputs keep their exact shape.
  if (counts.skipped_low_entropy > 0) head["skipped_low_entropy"] = counts.skipped_low_entropy;
  if (counts.skipped_syntax > 0) head["skipped_syntax"] = counts.skipped_syntax;
  return with_p_value(head, test.log10_p);
}

std::string result_json_line(nlohmann::ordered_json head, const GumbelScoreCounts& counts, const GammaTest& test) {
  head["tokens"] = counts.tokens;
  head["scored"] = counts.scored;
  head["score"] = counts.score;
  head["log10_p"] = test.log10_p;
  head["skipped_prefix"] = counts.skipped_prefix;
  head["skipped_repeated_context"] = counts.skipped_repeated_context;
  head["skipped_repeated_tuple"] = counts.skipped_repeated_tuple;
  return with_p_value(head, test.log10_p);
}

std::string result_json_line(nlohmann::ordered_json head, const GumbelScoreCounts& counts,
                             const WeightedExponentialTest& test) {
  head["tokens"] = counts.tokens;
  head["scored"] = counts.scored;
  head["weighting"] = "entropy";
  head["weighted_score"] = counts.weighted_score;
  head["weight_sum"] = test.weight_sum;
  head["log10_p"] = test.log10_p;
  head["p_bound"] = "chernoff";
  head["skipped_prefix"] = counts.skipped_prefix;
  head["skipped_repeated_context"] = counts.skipped_repeated_context;
  head["skipped_repeated_tuple"] = counts.skipped_repeated_tuple;
  return with_p_value(head, test.log10_p);
}

std::string result_json_line(nlohmann::ordered_json head, const TournamentScoreCounts& counts, const BinomialTest& test,
                             double mean_g) {
  head["tokens"] = counts.tokens;
  head["scored"] = counts.scored;
  head["g_values"] = test.scored;
  head["g_ones"] = counts.g_ones;
  head["mean_g"] = mean_g;
  head["log10_p"] = test.log10_p;
  head["skipped_prefix"] = counts.skipped_prefix;
  head["skipped_repeated_context"] = counts.skipped_repeated_context;
  head["skipped_repeated_tuple"] = counts.skipped_repeated_tuple;
  return with_p_value(head, test.log10_p);
}

}  // namespace tracemark::cli
