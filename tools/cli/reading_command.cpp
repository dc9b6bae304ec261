// tracemark reading: reading mode (verify/reading_mode.hpp). `queries` writes the prefixes of a
// harvest the key-free rule allows, as token-id prompts for `generate` or `probe --completions`
// (max tokens 1, temperature 0, and top log-probabilities where the API gives them); `scan`
// scores the suspect's answers to them under a key.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "shared_options.hpp"
#include "tracemark/atomic_file.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/colour_score_test.hpp"
#include "tracemark/verify/reading_mode.hpp"

namespace tracemark::cli {
namespace {

struct QueriesOptions {
  std::string harvest;
  std::size_t width = 0;
  std::size_t stride = 1;
  std::uint64_t max_records = 0;  // 0: every record
  std::string out;
  bool force = false;
};

void run_queries(const QueriesOptions& options) {
  std::vector<HarvestSequence> harvest = read_harvest_sequences(options.harvest);
  const std::size_t records = options.max_records > 0 ? std::min<std::size_t>(options.max_records, harvest.size()) : harvest.size();
  const std::vector<ReadingQuery> queries = reading_queries(harvest, options.width);
  AtomicOutputFile out(options.out, 0600);  // the prefixes are our answers: keep them private
  std::size_t written = 0, allowed = 0;
  for (const ReadingQuery& query : queries) {
    if (query.record >= records) break;
    if (allowed++ % options.stride != options.stride - 1) continue;
    const HarvestSequence& sequence = harvest[query.record];
    const auto end = sequence.tokens.begin() + static_cast<std::ptrdiff_t>(sequence.prompt_length + query.position);
    nlohmann::ordered_json record;
    record["id"] = query.id();
    record["prompt_tokens"] = std::vector<std::uint32_t>(sequence.tokens.begin(), end);
    out.stream() << record.dump() << "\n";
    ++written;
  }
  out.commit(options.force);
  std::cout << "wrote " << written << " queries (one in " << options.stride << " of " << allowed
            << " prefixes whose window is followed for the first time, in " << records << " harvest records) to "
            << options.out << "\n";
}

struct ScanOptions {
  std::string key;
  std::string harvest;
  std::string answers;
  std::string reference_answers;
  double alpha = 1e-3;
  bool json = false;
};

// The green tokens' share of the listed probability mass (gamma expected under the null).
double green_share(const ColourScoreTest& mass) { return mass.weight > 0 ? mass.green_weight / mass.weight : 0.0; }

// How far the listed green tokens' log-probabilities sit above their windows' means, on average
// (0 expected under the null).
double green_excess(const ColourScoreTest& tilt) {
  return tilt.green_tokens > 0 ? tilt.green_weight / static_cast<double>(tilt.green_tokens) : 0.0;
}

nlohmann::ordered_json binomial_json(const BinomialTest& test) {
  return {{"scored", test.scored}, {"green", test.green}, {"green_rate", test.scored ? double(test.green) / test.scored : 0.0},
          {"gamma", test.gamma}, {"log10_p", test.log10_p}};
}

void run_scan(const ScanOptions& options) {
  const WatermarkKey key = WatermarkKey::load(options.key);
  const std::vector<HarvestSequence> harvest = read_harvest_sequences(options.harvest);
  const ReadingScanReport report = scan_reading_answers(key, harvest, options.answers, options.reference_answers);
  // One to four tests of one hypothesis: Bonferroni over them (ReadingScanReport::combined_log10_p).
  const double combined_log10 = report.combined_log10_p();
  const int tests = report.test_count();
  const bool detected = combined_log10 < std::log10(options.alpha);
  if (options.json) {
    nlohmann::ordered_json out;
    out["key_id"] = key.key_id();
    out["answers"] = report.answers;
    out["not_first"] = report.not_first;
    out["scored"] = report.scored;
    out["greedy"] = binomial_json(report.greedy);
    if (report.mass) {
      const ColourScoreTest& mass = *report.mass;
      const ColourScoreTest& tilt = *report.tilt;
      out["top_logprobs_min"] = report.top_logprobs_min;
      out["green_mass"] = {{"windows", mass.windows}, {"tokens", mass.tokens}, {"mass", mass.weight},
                           {"green_share", green_share(mass)}, {"log10_p", mass.log10_p}};
      out["green_tilt"] = {{"windows", tilt.windows}, {"green_tokens", tilt.green_tokens},
                           {"green_excess_nats", green_excess(tilt)}, {"log10_p", tilt.log10_p}};
      if (report.excess) {
        out["reference_excess"] = {{"windows", report.excess->windows}, {"score", report.excess->score},
                                   {"green_excess", green_excess(*report.excess)}, {"log10_p", report.excess->log10_p}};
      }
    }
    out["log10_p"] = combined_log10;
    out["alpha"] = options.alpha;
    out["detected"] = detected;
    std::cout << out.dump(1) << "\n";
    return;
  }
  std::cout << "reading mode, key " << key.key_id() << ": " << report.answers << " answers, " << report.scored
            << " windows scored (" << report.not_first << " answers to prefixes whose window was followed earlier: not scored)\n";
  const BinomialTest& greedy = report.greedy;
  std::cout << "  next tokens:     " << greedy.green << " of " << greedy.scored << " green ("
            << (greedy.scored ? double(greedy.green) / greedy.scored : 0.0) << "; " << greedy.gamma << " expected), p "
            << format_p_value(greedy.log10_p) << "\n";
  if (report.mass) {
    const ColourScoreTest& mass = *report.mass;
    const ColourScoreTest& tilt = *report.tilt;
    std::cout << "  green mass:      green share " << green_share(mass) << " of the listed mass ("
              << mass.weight / std::max<double>(1, mass.windows) << " a window, at least " << report.top_logprobs_min
              << " tokens), p " << format_p_value(mass.log10_p) << " (mixture bound)\n";
    std::cout << "  green tilt:      listed green tokens " << green_excess(tilt)
              << " nats above their window's mean log-probability, p " << format_p_value(tilt.log10_p)
              << " (mixture bound)\n";
    if (report.excess) {
      std::cout << "  over reference:  listed green tokens " << green_excess(*report.excess)
                << " more probable than under the reference model, p " << format_p_value(report.excess->log10_p)
                << " (mixture bound)\n";
    }
  } else {
    std::cout << "  top logprobs:    not in every answer (the suspect's listed tokens add stronger tests: "
                 "generate --top-logprobs K, probe --top-logprobs K)\n";
  }
  std::cout << "  p = " << format_p_value(combined_log10) << (tests > 1 ? " (the smallest, times " + std::to_string(tests) + ")" : std::string()) << ": "
            << (detected ? "the suspect reads the harvest with our watermark" : "no evidence at alpha") << " (alpha "
            << options.alpha << ")\n";
}

}  // namespace

void add_reading_command(CLI::App& app) {
  CLI::App* reading = app.add_subcommand("reading", "reading mode: ask a suspect for its next token after prefixes of the harvest");
  reading->require_subcommand(1);

  auto queries = std::make_shared<QueriesOptions>();
  CLI::App* make = reading->add_subcommand(
      "queries", "write the harvest prefixes the key-free rule allows, as token-id prompts (answer each with one greedy "
                 "token: `generate --max-tokens 1 --temperature 0 --top-logprobs 20`, or `probe --completions --max-tokens 1 "
                 "--temperature 0 --top-logprobs 5`)");
  make->add_option("--harvest", queries->harvest, "our answers the suspect may have trained on (JSON lines with "
                                                  "\"prompt_tokens\" and \"tokens\": generate's output, a reference log)")
      ->required();
  make->add_option("--width", queries->width, "the key's context width h (not secret: `tracemark key show`)")
      ->required()->check(CLI::Range(1, 16));
  make->add_option("--stride", queries->stride, "keep every S-th allowed prefix (fewer queries)")
      ->capture_default_str()->check(CLI::Range(1, 1'000'000));
  make->add_option("--max-records", queries->max_records, "only the first N harvest records (0: all)")->capture_default_str();
  add_out_option(*make, queries->out, "JSON lines {\"id\": \"r<record>-<position>\", \"prompt_tokens\"}, mode 0600");
  add_force_flag(*make, queries->force, "an existing output file");
  make->callback([queries] { run_queries(*queries); });

  auto scan = std::make_shared<ScanOptions>();
  CLI::App* score = reading->add_subcommand("scan", "score a suspect's answers to reading queries under a green-list key");
  score->add_option("--key", scan->key, "key file (a green-list key of context width 1 or more)")->required();
  score->add_option("--harvest", scan->harvest, "the harvest the queries were made from (the rule is rebuilt from it)")
      ->required();
  score->add_option("--answers", scan->answers,
                    "the suspect's answers: JSON lines with the query's \"id\" and \"prompt_tokens\", the answer (\"tokens\", "
                    "its next token first, or the text of a probe's \"choices\") and optionally the listed tokens: "
                    "\"top_logprobs\" (generate --top-logprobs) or an OpenAI response's logprobs (probe --top-logprobs)")
      ->required();
  score->add_option("--reference-answers", scan->reference_answers,
                    "a clean reference model's answers to the same queries, with listed tokens (a model never "
                    "trained on our watermarked text): adds the test of what the suspect puts on green tokens beyond it");
  score->add_option("--alpha", scan->alpha, "evidence threshold for the verdict")->capture_default_str()->check(CLI::Range(1e-300, 0.5));
  score->add_flag("--json", scan->json, "every figure as JSON");
  score->callback([scan] { run_scan(*scan); });
}

}  // namespace tracemark::cli
