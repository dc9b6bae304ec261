// Shared output helpers for commands that print test results.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/green_list_detector.hpp"

namespace tracemark::cli {

// One JSON line with the counts and the test. p_value is written from log10_p so that it is never
// printed as 0, even below the smallest double (JSON numbers have no range limit).
std::string result_json_line(nlohmann::ordered_json head, const ScoreCounts& counts, const BinomialTest& test);

// Dumps a document whose "p_value" and "holm_p_value" fields hold format_p_value() strings, writing
// those fields as raw JSON numbers (so they stay exact below the smallest double).
std::string dump_with_raw_p_values(const nlohmann::ordered_json& document, int indent);

}  // namespace tracemark::cli
