// tracemark scan: was a suspect model trained on our watermarked responses? One pooled,
// deduplicated test per key over all of the suspect's responses, Holm-corrected across keys,
// with an optional reference-log filter, prompt-window rule and a clean control.
#include <algorithm>
#include <cstdio>
#include <thread>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "report_output.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/distillation_scan.hpp"
#include "tracemark/verify/fast_token_record.hpp"
#include "tracemark/verify/jsonl_reader.hpp"
#include "tracemark/verify/parallel_for.hpp"

namespace tracemark::cli {
namespace {

struct ScanOptions {
  std::vector<std::string> keys;
  std::string suspect;
  std::string prompts;
  std::string reference_log;
  std::size_t reference_top = 0;
  std::string control;
  double alpha = 1e-6;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  bool json = false;
};

using TokenTable = std::map<std::string, std::vector<std::uint32_t>>;

std::string id_text(const nlohmann::json& id) { return id.is_string() ? id.get<std::string>() : id.dump(); }

// Prompts by record id, from records {"id": ..., "tokens": [ids]}.
TokenTable read_prompts(const std::string& path) {
  TokenTable prompts;
  JsonlReader reader(path);
  JsonlRecord record;
  while (reader.next(record)) prompts[id_text(record_id(record))] = record_tokens(reader, record);
  return prompts;
}

// Scans one file of responses ("tokens", optional "prompt_tokens", or a prompt matched by id).
// Lines are read in batches; each batch is parsed and prepared on the worker threads and merged in
// input order, so every figure is identical for any thread count.
std::vector<KeyScanResult> scan_file(const std::string& path, const std::vector<DistillationScan::KeyEntry>& keys,
                                     const TokenTable& prompts, const ScanOptions& options) {
  constexpr std::size_t kBatch = 512;
  DistillationScan scan(keys);
  JsonlReader reader(path);
  std::vector<JsonlLine> lines(kBatch);
  std::vector<PreparedResponse> prepared(kBatch);
  for (;;) {
    std::size_t count = 0;
    while (count < kBatch && reader.next_line(lines[count])) ++count;
    if (count == 0) break;
    parallel_for(count, options.threads, [&](std::size_t i) {
      // Fast path for plain {"id", "tokens"} records; everything else takes the general path.
      if (auto fast = parse_token_record_fast(lines[i].text); fast && !fast->has_prompt_tokens) {
        std::vector<std::uint32_t> prompt;
        if (!prompts.empty()) {
          auto it = prompts.find(fast->id ? *fast->id : std::to_string(lines[i].line));
          if (it != prompts.end()) prompt = it->second;
        }
        try {
          prepared[i] = scan.prepare(fast->tokens, prompt);
          return;
        } catch (const Error& e) {
          throw Error(e.code(), reader.name() + " line " + std::to_string(lines[i].line) + ": " + e.what());
        }
      }
      const JsonlRecord record = reader.parse_line(lines[i]);
      const std::vector<std::uint32_t> response = record_tokens(reader, record);
      std::vector<std::uint32_t> prompt;
      if (record.value.contains("prompt_tokens")) {
        JsonlRecord prompt_record = record;
        prompt_record.value = {{"tokens", record.value["prompt_tokens"]}};
        prompt = record_tokens(reader, prompt_record);
      } else if (auto it = prompts.find(id_text(record_id(record))); it != prompts.end()) {
        prompt = it->second;
      }
      try {
        prepared[i] = scan.prepare(response, prompt);
      } catch (const Error& e) {
        throw Error(e.code(), reader.where(record) + ": " + e.what());
      }
    });
    for (std::size_t i = 0; i < count; ++i) scan.merge(prepared[i]);
  }
  ScanSettings settings;
  settings.target_p = options.alpha;
  return scan.results(settings);
}

std::string percent(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%", 100.0 * value);
  return text;
}
std::string signed_points(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%+.2f", 100.0 * value);
  return text;
}

// The verdict in words a non-statistician reads correctly; it never claims more than the test shows.
std::string verdict(const KeyScanResult& result, double gamma, std::size_t keys, double alpha) {
  const std::string p = format_p_value(result.holm_log10_p);
  const std::string correction = keys > 1 ? " after Holm's correction for the " + std::to_string(keys) + " keys tested" : "";
  if (result.counts.scored == 0) {
    return "Nothing was scored, so there is no evidence either way (p = 1): every token was dropped by the rules "
           "listed above. Scan more responses, or relax --reference-log/--reference-top.";
  }
  const std::string effect = "green rate " + percent(result.green_rate) + " against " + percent(gamma) +
                             " by chance (difference " + signed_points(result.effect) + " points, 95% interval " +
                             signed_points(result.effect_interval.lower) + " to " +
                             signed_points(result.effect_interval.upper) + ")";
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

nlohmann::ordered_json result_json(const KeyScanResult& r, double gamma, double alpha, std::size_t keys) {
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
      {"verdict", verdict(r, gamma, keys, alpha)},
  };
  return out;
}

void run_scan(const ScanOptions& options) {
  if (!(options.alpha > 0.0 && options.alpha < 1.0)) {
    throw Error(ErrorCode::invalid_argument, "--alpha must be strictly between 0 and 1");
  }
  std::vector<WatermarkKey> keys;
  for (const std::string& path : options.keys) keys.push_back(WatermarkKey::load(path));

  // One reference-context filter per context width, built from the audit log of our responses.
  std::map<std::uint32_t, std::shared_ptr<const ReferenceContexts>> filters;
  if (!options.reference_log.empty()) {
    std::map<std::uint32_t, std::shared_ptr<ReferenceContexts>> building;
    for (const WatermarkKey& key : keys) {
      building.try_emplace(key.params().context_width, std::make_shared<ReferenceContexts>(key.params().context_width));
    }
    JsonlReader reader(options.reference_log);
    JsonlRecord record;
    while (reader.next(record)) {
      const std::vector<std::uint32_t> tokens = record_tokens(reader, record);
      for (auto& [width, filter] : building) filter->add_response(tokens);
    }
    for (auto& [width, filter] : building) {
      if (filter->size() == 0) {
        throw Error(ErrorCode::invalid_input, "reference log " + options.reference_log +
                                                  " has no usable records (no response longer than the context width " +
                                                  std::to_string(width) + "); without it no filter can be built, and "
                                                  "the scan does not silently run unfiltered: fix the log or drop "
                                                  "--reference-log");
      }
      filter->keep_most_frequent(options.reference_top);
      filters[width] = filter;
    }
  }
  std::vector<DistillationScan::KeyEntry> entries;
  std::map<std::string, double> gammas;
  for (const WatermarkKey& key : keys) {
    auto scheme = std::make_shared<const GreenListScheme>(key);
    gammas[key.key_id()] = scheme->null_green_probability();
    auto filter = filters.contains(key.params().context_width) ? filters[key.params().context_width] : nullptr;
    entries.push_back({key.key_id(), scheme, filter});
  }
  const TokenTable prompts = options.prompts.empty() ? TokenTable{} : read_prompts(options.prompts);

  const std::vector<KeyScanResult> suspect = scan_file(options.suspect, entries, prompts, options);
  std::vector<KeyScanResult> control;
  if (!options.control.empty()) control = scan_file(options.control, entries, prompts, options);

  if (options.json) {
    nlohmann::ordered_json out = {{"keys_tested", keys.size()}, {"correction", keys.size() > 1 ? "holm" : "none"}};
    out["suspect"] = nlohmann::ordered_json::array();
    for (const auto& r : suspect) out["suspect"].push_back(result_json(r, gammas[r.key_id], options.alpha, keys.size()));
    if (!control.empty()) {
      out["control"] = nlohmann::ordered_json::array();
      for (const auto& r : control) out["control"].push_back(result_json(r, gammas[r.key_id], options.alpha, keys.size()));
    }
    std::cout << dump_with_raw_p_values(out, 2) << "\n";
    return;
  }
  for (std::size_t i = 0; i < suspect.size(); ++i) {
    const KeyScanResult& r = suspect[i];
    std::cout << "Key " << r.key_id << " (" << keys[i].params().context_width << "-token context, gamma "
              << gammas[r.key_id] << ")\n"
              << "  suspect: " << r.counts.responses << " responses, " << r.counts.tokens << " tokens read; dropped: "
              << r.counts.skipped_prefix << " first tokens, " << r.counts.skipped_repeated_tuple << " repeated tuples, "
              << r.counts.skipped_prompt_window << " prompt windows, " << r.counts.skipped_filter
              << " outside the reference log; " << r.counts.scored << " scored, " << r.counts.green << " green\n"
              << "  " << verdict(r, gammas[r.key_id], keys.size(), options.alpha) << "\n";
    if (!control.empty()) {
      const KeyScanResult& c = control[i];
      std::cout << "  control (known clean): " << c.counts.scored << " scored, green rate " << percent(c.green_rate)
                << ", p = " << format_p_value(c.holm_log10_p) << "\n";
      if (c.holm_log10_p < std::log10(options.alpha)) {
        std::cout << "  WARNING: the known-clean control is flagged too. The set-up is suspect (for example the prompts "
                     "or the control are themselves watermarked); do not rely on the suspect's result.\n";
      }
    }
  }
  if (keys.size() > 1) {
    std::cout << "\n" << keys.size() << " keys were tested; every p-value above is corrected for that (Holm).\n";
  }
}

}  // namespace

void add_scan_command(CLI::App& app) {
  auto options = std::make_shared<ScanOptions>();
  CLI::App* command = app.add_subcommand("scan", "test whether a suspect model was trained on our watermarked responses");
  command->add_option("--key", options->keys, "key file (repeat for several keys; p-values are Holm-corrected)")->required();
  command->add_option("--suspect", options->suspect, "suspect responses: JSON lines with \"tokens\" (.jsonl or .jsonl.gz)")
      ->required();
  command->add_option("--prompts", options->prompts, "prompts sent, {\"id\", \"tokens\"}: tuples copied from a prompt are not scored");
  command->add_option("--reference-log", options->reference_log,
                      "our served responses believed harvested: score only tuples whose context occurs there");
  command->add_option("--reference-top", options->reference_top, "with --reference-log: keep only its N most frequent contexts")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
  command->add_option("--control", options->control, "responses of a model known to be clean, scanned the same way");
  command->add_option("--alpha", options->alpha, "evidence threshold for the verdict (after correction)")->capture_default_str();
  command->add_option("--threads", options->threads, "worker threads (results do not depend on it)")
      ->check(CLI::Range(1u, 256u));
  command->add_flag("--json", options->json, "every figure as JSON");
  command->callback([options] { run_scan(*options); });
}

}  // namespace tracemark::cli
