#include "tracemark/verify/scan_report.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace tracemark {
namespace {

nlohmann::ordered_json key_result_json(const KeyScanResult& r, double gamma, double alpha, std::size_t keys) {
  nlohmann::ordered_json out = {
      {"key_id", r.key_id},
      {"responses", r.counts.responses},
      {"tokens", r.counts.tokens},
      {"skipped_prefix", r.counts.skipped_prefix},
      {"skipped_repeated_tuple", r.counts.skipped_repeated_tuple},
      {"skipped_prompt_window", r.counts.skipped_prompt_window},
      {"skipped_filter", r.counts.skipped_filter},
      {"scored", r.counts.scored},
      {"green", r.counts.green},
      {"gamma", gamma},
      {"green_rate", r.green_rate},
      {"effect", r.effect},
      {"effect_ci95", {r.effect_interval.lower, r.effect_interval.upper}},
      {"z", r.test.z},
      {"log10_p", r.test.log10_p},
      {"p_value", format_p_value(r.test.log10_p)},
      {"holm_log10_p", r.holm_log10_p},
      {"holm_p_value", format_p_value(r.holm_log10_p)},
      {"alpha", alpha},
      {"further_tokens_needed", r.further_tokens_needed ? nlohmann::ordered_json(*r.further_tokens_needed) : nullptr},
      {"verdict", scan_verdict(r, gamma, keys, alpha)},
  };
  if (r.scheme == SchemeKind::gumbel_max) {
    // A gumbel-max key's statistic is the score sum (null Gamma(scored, 1)); the green-list fields
    // have no meaning for it and are replaced.
    for (const char* field : {"green", "gamma", "green_rate", "effect", "effect_ci95", "z", "further_tokens_needed"}) {
      out.erase(field);
    }
    out["scheme"] = "gumbel-max";
    out["score"] = r.counts.score;
    out["mean_score"] = r.green_rate;
  }
  if (r.scheme == SchemeKind::tournament) {
    // A tournament key's statistic is the number of g-values equal to 1 (null Binomial(scored m, 1/2));
    // the green-list fields are replaced by it, its mean g and the effect mean g - 1/2.
    for (const char* field : {"green", "gamma", "green_rate", "effect_ci95", "z"}) out.erase(field);
    out["scheme"] = std::string(kTournamentSchemeName);
    out["tournament_layers"] = r.tournament_layers;
    out["g_ones"] = r.counts.g_ones;
    out["mean_g"] = r.green_rate;
  }
  // Only with the entropy rule or the syntax rule, so earlier reports keep their exact shape.
  if (r.counts.skipped_low_entropy > 0) out["skipped_low_entropy"] = r.counts.skipped_low_entropy;
  if (r.counts.skipped_syntax > 0) out["skipped_syntax"] = r.counts.skipped_syntax;
  return out;
}

nlohmann::ordered_json trace_json(const std::vector<ScanTracePoint>& trace) {
  nlohmann::ordered_json points = nlohmann::ordered_json::array();
  for (const ScanTracePoint& point : trace) {
    points.push_back({{"responses", point.responses}, {"tokens", point.tokens}, {"scored", point.scored},
                      {"green", point.green}, {"log10_p", point.log10_p}});
  }
  return points;
}

// Says that records with another tokenizer's ids were read as text (empty when none were).
std::string foreign_ids_note(const FileScanResult& file, const std::string& role) {
  if (file.foreign_id_records == 0) return {};
  return "  note: " + std::to_string(file.foreign_id_records) + " of the " + std::to_string(file.records) + " " + role +
         " records carry ids of tokenizer " + file.foreign_tokenizer->name + " (sha256:" + file.foreign_tokenizer->vocab_sha256 +
         "), not the key's; their ids were not scored, their text was read with the key's tokenizer instead\n";
}

nlohmann::ordered_json file_json(const FileScanResult& file, const SuspectScanReport& report, double alpha) {
  nlohmann::ordered_json out = {{"file", file.path}, {"records", file.records}};
  if (file.foreign_id_records > 0) {
    out["read_as_text"] = {{"records", file.foreign_id_records},
                           {"ids_tokenizer", {{"name", file.foreign_tokenizer->name},
                                              {"vocab_sha256", file.foreign_tokenizer->vocab_sha256}}}};
  }
  out["keys"] = nlohmann::ordered_json::array();
  for (std::size_t k = 0; k < file.keys.size(); ++k) {
    nlohmann::ordered_json key = key_result_json(file.keys[k], report.gammas[k], alpha, file.keys.size());
    key["trace"] = trace_json(file.traces[k]);
    out["keys"].push_back(std::move(key));
  }
  return out;
}

}  // namespace

std::string format_percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%", 100.0 * fraction);
  return text;
}

std::string format_points(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%+.2f", 100.0 * fraction);
  return text;
}

std::string scan_verdict(const KeyScanResult& result, double gamma, std::size_t keys, double alpha) {
  const std::string p = format_p_value(result.holm_log10_p);
  const std::string correction = keys > 1 ? " after Holm's correction for the " + std::to_string(keys) + " keys tested" : "";
  if (result.counts.scored == 0) {
    return "Nothing was scored, so there is no evidence either way (p = 1): every token was dropped by the rules "
           "listed above. Scan more responses, or relax the reference-log filter (--reference-log, --reference-top).";
  }
  if (result.scheme != SchemeKind::green_list) {
    const std::string scores =
        result.scheme == SchemeKind::gumbel_max
            ? "mean score " + std::to_string(result.green_rate) + " per tuple against 1 by chance, over " +
                  std::to_string(result.counts.scored) + " tuples"
            : "mean g " + std::to_string(result.green_rate) + " against 0.5 by chance, over " +
                  std::to_string(result.counts.scored) + " tuples of " + std::to_string(result.tournament_layers) +
                  " g-values";
    if (result.holm_log10_p < std::log10(alpha)) {
      return "Consistent with training on text watermarked with this key: p = " + p + correction + "; " + scores +
             ". Text not derived from our watermarked outputs would score at least this much with probability p.";
    }
    return "No evidence at the threshold p < " + format_p_value(std::log10(alpha)) + " (p = " + p + correction + "); " +
           scores + ".";
  }
  const std::string effect = "green rate " + format_percent(result.green_rate) + " against " + format_percent(gamma) +
                             " by chance (difference " + format_points(result.effect) + " points, 95% interval " +
                             format_points(result.effect_interval.lower) + " to " +
                             format_points(result.effect_interval.upper) + ")";
  if (result.holm_log10_p < std::log10(alpha)) {
    return "Consistent with training on text watermarked with this key: p = " + p + correction + "; " + effect +
           ". Text not derived from our watermarked outputs would show at least this many green tuples with probability p.";
  }
  std::string more;
  if (result.further_tokens_needed && *result.further_tokens_needed > 0) {
    more = " About " + std::to_string(*result.further_tokens_needed) +
           " more suspect tokens would give p < " + format_p_value(std::log10(alpha)) +
           " if the effect is real and stays this size.";
  }
  if (result.effect_interval.lower <= 0.0) {
    return "No evidence at this sample size (p = " + p + correction + "): the effect is consistent with zero; " + effect +
           "." + more;
  }
  return "Suggestive but below the evidence threshold of p < " + format_p_value(std::log10(alpha)) + " (p = " + p +
         correction + "); " + effect + "." + more;
}

nlohmann::ordered_json scan_report_json(const SuspectScanReport& report, std::span<const WatermarkKey> keys, double alpha) {
  nlohmann::ordered_json out = {{"keys_tested", keys.size()}, {"correction", keys.size() > 1 ? "holm" : "none"},
                                {"alpha", alpha}};
  out["key_parameters"] = nlohmann::ordered_json::array();
  for (const WatermarkKey& key : keys) {
    if (key.params().scheme == kGumbelMaxSchemeName) {
      out["key_parameters"].push_back({{"key_id", key.key_id()},
                                       {"scheme", key.params().scheme},
                                       {"context_width", key.params().context_width},
                                       {"vocab_size", key.params().vocab_size}});
      continue;
    }
    if (key.params().scheme == kTournamentSchemeName) {
      out["key_parameters"].push_back({{"key_id", key.key_id()},
                                       {"scheme", key.params().scheme},
                                       {"tournament_layers", key.params().tournament_layers},
                                       {"context_width", key.params().context_width},
                                       {"vocab_size", key.params().vocab_size}});
      continue;
    }
    out["key_parameters"].push_back({{"key_id", key.key_id()},
                                     {"gamma", key.params().gamma},
                                     {"delta", key.params().delta},
                                     {"context_width", key.params().context_width},
                                     {"vocab_size", key.params().vocab_size}});
  }
  out["tokenizer"] = report.tokenizer ? nlohmann::ordered_json{{"name", report.tokenizer->name},
                                                               {"vocab_sha256", report.tokenizer->vocab_sha256}}
                                      : nlohmann::ordered_json(nullptr);
  out["prompts"] = report.prompts;
  out["reference_log"] = nlohmann::ordered_json::array();
  for (const ReferenceLogSummary& log : report.reference) {
    nlohmann::ordered_json entry = {{"context_width", log.context_width}, {"responses", log.responses}, {"contexts_kept", log.contexts}};
    if (log.entropy_threshold > 0.0) entry["entropy_threshold"] = log.entropy_threshold;
    if (log.approximate) entry["filter_false_positive_rate"] = log.false_positive_rate;  // a filter file's xor filter
    if (log.cohort_accounts > 0) {  // a cohort's reference log (issue 15)
      entry["cohort_accounts"] = log.cohort_accounts;
      entry["shared_contexts_dropped"] = log.shared_contexts_dropped;
    }
    out["reference_log"].push_back(entry);
  }
  out["suspect"] = file_json(report.suspect, report, alpha);
  if (report.control) out["control"] = file_json(*report.control, report, alpha);
  return out;
}

std::string scan_report_text(const SuspectScanReport& report, std::span<const WatermarkKey> keys, double alpha) {
  std::ostringstream out;
  for (const ReferenceLogSummary& log : report.reference) {
    if (log.cohort_accounts == 0) continue;
    out << "Reference log restricted to a cohort of " << log.cohort_accounts << " accounts: " << log.responses
        << " of its responses, " << log.contexts << " contexts of width " << log.context_width << " kept";
    if (log.shared_contexts_dropped > 0) out << " (" << log.shared_contexts_dropped << " dropped: other accounts were served them too)";
    out << ".\n";
  }
  out << foreign_ids_note(report.suspect, "suspect");
  if (report.control) out << foreign_ids_note(*report.control, "control");
  for (std::size_t i = 0; i < report.suspect.keys.size(); ++i) {
    const KeyScanResult& r = report.suspect.keys[i];
    out << "Key " << r.key_id << " (" << keys[i].params().context_width << "-token context, ";
    if (r.scheme == SchemeKind::gumbel_max) {
      out << "gumbel-max)\n";
    } else if (r.scheme == SchemeKind::tournament) {
      out << "synthid-tournament, " << r.tournament_layers << " layers)\n";
    } else {
      out << "gamma " << report.gammas[i] << ")\n";
    }
    out
        << "  suspect: " << r.counts.responses << " responses, " << r.counts.tokens << " tokens read; dropped: "
        << r.counts.skipped_prefix << " first tokens, " << r.counts.skipped_repeated_tuple << " repeated tuples, "
        << r.counts.skipped_prompt_window << " prompt windows, " << r.counts.skipped_filter
        << " outside the reference log";
    if (r.counts.skipped_low_entropy > 0) out << ", " << r.counts.skipped_low_entropy << " low-entropy steps";
    if (r.counts.skipped_syntax > 0) out << ", " << r.counts.skipped_syntax << " syntax tokens";
    if (r.scheme == SchemeKind::gumbel_max) {
      out << "; " << r.counts.scored << " scored, score " << r.counts.score << "\n";
    } else if (r.scheme == SchemeKind::tournament) {
      out << "; " << r.counts.scored << " scored, " << r.counts.g_ones << " of " << r.counts.scored * r.tournament_layers
          << " g-values 1\n";
    } else {
      out << "; " << r.counts.scored << " scored, " << r.counts.green << " green\n";
    }
    out
        << "  " << scan_verdict(r, report.gammas[i], keys.size(), alpha) << "\n";
    if (report.control) {
      const KeyScanResult& c = report.control->keys[i];
      out << "  control (known clean): " << c.counts.scored << " scored, "
          << (c.scheme == SchemeKind::gumbel_max   ? "mean score " + std::to_string(c.green_rate)
              : c.scheme == SchemeKind::tournament ? "mean g " + std::to_string(c.green_rate)
                                                   : "green rate " + format_percent(c.green_rate))
          << ", p = " << format_p_value(c.holm_log10_p) << "\n";
      if (c.holm_log10_p < std::log10(alpha)) {
        out << "  WARNING: the known-clean control is flagged too. The set-up is suspect (for example the prompts "
               "or the control are themselves watermarked); do not rely on the suspect's result.\n";
      }
    }
  }
  if (keys.size() > 1) {
    out << "\n" << keys.size() << " keys were tested; every p-value above is corrected for that (Holm).\n";
  }
  return out.str();
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

}  // namespace tracemark
