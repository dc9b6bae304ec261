// tracemark detect: test token sequences for the key's watermark, per record and pooled.
#include <cstdio>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "shared_options.hpp"
#include "report_output.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/embed/scheme_catalog.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/green_list_detector.hpp"
#include "tracemark/verify/gumbel_max_detector.hpp"
#include "tracemark/verify/jsonl_reader.hpp"
#include "tracemark/verify/tournament_detector.hpp"
#include "tracemark/verify/suspect_records.hpp"
#include "tracemark/verify/suspect_scan.hpp"
#include "reference_entropy.hpp"
#include "tracemark/verify/token_byte_table.hpp"

namespace tracemark::cli {
namespace {

struct DetectOptions {
  std::string key;
  std::string input;
  std::string tokenizer;  // where to load the key's tokenizer from; empty: by the name in the key
  bool json = false;
  std::size_t max_record_bytes = kDefaultMaxRecordBytes;
  StepRuleOptions steps;  // entropy source and syntax rule
  bool entropy_weighted = false;  // gumbel-max keys: weight each tuple by its step's recorded entropy
};

std::string table_row(const std::string& id, const ScoreCounts& counts, const BinomialTest& test) {
  char line[256];
  const double rate = counts.scored ? 100.0 * static_cast<double>(counts.green) / static_cast<double>(counts.scored) : 0.0;
  std::snprintf(line, sizeof line, "%-16.16s %8llu %8llu %8llu %7.1f%% %8.2f  %s", id.c_str(),
                static_cast<unsigned long long>(counts.tokens), static_cast<unsigned long long>(counts.scored),
                static_cast<unsigned long long>(counts.green), rate, test.z, format_p_value(test.log10_p).c_str());
  return line;
}

std::string gumbel_table_row(const std::string& id, const GumbelScoreCounts& counts, const GammaTest& test) {
  char line[256];
  const double mean = counts.scored ? counts.score / static_cast<double>(counts.scored) : 0.0;
  std::snprintf(line, sizeof line, "%-16.16s %8llu %8llu %10.2f %8.3f  %s", id.c_str(),
                static_cast<unsigned long long>(counts.tokens), static_cast<unsigned long long>(counts.scored), counts.score,
                mean, format_p_value(test.log10_p).c_str());
  return line;
}

std::string weighted_table_row(const std::string& id, const GumbelScoreCounts& counts, const WeightedExponentialTest& test) {
  char line[256];
  std::snprintf(line, sizeof line, "%-16.16s %8llu %8llu %10.2f %10.2f  <= %s", id.c_str(),
                static_cast<unsigned long long>(counts.tokens), static_cast<unsigned long long>(counts.scored),
                counts.weighted_score, test.weight_sum, format_p_value(test.log10_p).c_str());
  return line;
}

// A sampling scheme scores every step: the green list's step rules do not apply to its keys.
void refuse_step_rules(const DetectOptions& options, const WatermarkKey& key) {
  if (!options.steps.reference_model.empty() || options.steps.syntax_aware) {
    throw Error(ErrorCode::invalid_argument, "key " + key.key_id() + " is a '" + key.params().scheme + "' key: it scores "
                                             "every step, so --reference-model and --syntax-aware do not apply; leave them out");
  }
}

// The record loop of a sampling scheme's detect: each record decoded as `scan` decodes it and
// checked by check(record, "FILE line N"), its responses scored by score(record) (an Error there is
// reported with the file and line), then one output line per record, line_of(id, counts) with id
// the record's id (a JSON number or string with --json, else a string). Returns the number of
// records; the lines (after the table header) go to standard output.
template <typename Counts, typename Check, typename Score, typename Line>
std::uint64_t detect_records(const DetectOptions& options, const WatermarkKey& key, const std::string& header, Check check,
                             Score score, Line line_of) {
  const KeyTokenizer tokenizer(std::span<const WatermarkKey>(&key, 1), options.tokenizer);
  const SuspectRecordDecoder decoder(tokenizer, TokenSource::automatic);
  JsonlReader reader(options.input, options.max_record_bytes);
  std::string rows = options.json ? std::string() : header;
  JsonlLine line;
  std::uint64_t records = 0;
  while (reader.next_line(line)) {
    const SuspectRecord record = decoder.decode(reader, line);
    check(record, reader.name() + " line " + std::to_string(line.line));
    Counts counts;
    try {
      counts = score(record);
    } catch (const Error& e) {
      throw Error(e.code(), reader.name() + " line " + std::to_string(line.line) + ": " + e.what() +
                                "; were these ids made with the key's tokenizer and vocabulary?");
    }
    ++records;
    const nlohmann::json id = !options.json ? nlohmann::json(record.id)
                              : record.id_is_number ? nlohmann::json::parse(record.id) : nlohmann::json(record.id);
    rows += line_of(id, counts) + "\n";
  }
  std::cout << rows;
  return records;
}

std::string header_line(const char* score, const char* mean) {
  char header[128];
  std::snprintf(header, sizeof header, "%-16s %8s %8s %10s %10s  %s\n", "id", "tokens", "scored", score, mean, "p-value");
  return header;
}

// A Gumbel-max key: each distinct (context, token) scores -ln(1 - r), the sum's null is Gamma(n, 1).
// The scheme has no entropy threshold and no syntax rule, so those options are refused.
void run_detect_gumbel(const DetectOptions& options, const WatermarkKey& key) {
  refuse_step_rules(options, key);
  GumbelMaxDetector detector(std::make_shared<const GumbelMaxScheme>(key));
  const bool weighted = options.entropy_weighted;
  const std::uint64_t records = detect_records<GumbelScoreCounts>(
      options, key, weighted ? header_line("weighted", "chance") : header_line("score", "mean"),
      [&](const SuspectRecord& record, const std::string& where) {
        if (weighted && !record.entropy) {
          throw Error(ErrorCode::invalid_input, where + ": --entropy-weighted needs each record's per-step \"entropy\" "
                                                "(one number per token, what serving recorded: generate "
                                                "--record-entropy); this record has none");
        }
      },
      [&](const SuspectRecord& record) {
        GumbelScoreCounts counts;
        for (const auto& tokens : record.responses) {
          counts += weighted ? detector.add_document(tokens, *record.entropy) : detector.add_document(tokens);
        }
        return counts;
      },
      [&](const nlohmann::json& id, const GumbelScoreCounts& counts) {
        if (weighted) {
          const WeightedExponentialTest test = GumbelMaxDetector::weighted_test(counts);
          return options.json ? result_json_line({{"id", id}}, counts, test) : weighted_table_row(id.get<std::string>(), counts, test);
        }
        const GammaTest test = GumbelMaxDetector::test(counts);
        return options.json ? result_json_line({{"id", id}}, counts, test) : gumbel_table_row(id.get<std::string>(), counts, test);
      });
  if (weighted) {
    const WeightedExponentialTest pooled = GumbelMaxDetector::weighted_test(detector.pooled());
    if (options.json) {
      std::cout << result_json_line({{"summary", true}, {"key_id", key.key_id()}, {"records", records}},
                                    detector.pooled(), pooled) << "\n";
      return;
    }
    std::cout << weighted_table_row("pooled", detector.pooled(), pooled) << "\n\n"
              << "Pooled over " << records << " records with gumbel-max key " << key.key_id() << ", entropy-weighted: "
              << detector.pooled().scored << " distinct (context, token) tuples scored, weighted score "
              << detector.pooled().weighted_score << " (chance: " << pooled.weight_sum << " on average), p <= "
              << format_p_value(pooled.log10_p) << ".\n"
              << "p bounds the probability that text written without this key scores at least this much (a Chernoff\n"
              << "bound: valid and conservative, by a factor of about 2.5 z for a score z standard deviations high).\n";
    return;
  }
  const GammaTest pooled = GumbelMaxDetector::test(detector.pooled());
  if (options.json) {
    std::cout << result_json_line({{"summary", true}, {"key_id", key.key_id()}, {"records", records}},
                                  detector.pooled(), pooled)
              << "\n";
    return;
  }
  std::cout << gumbel_table_row("pooled", detector.pooled(), pooled) << "\n\n"
            << "Pooled over " << records << " records with gumbel-max key " << key.key_id() << ": "
            << detector.pooled().scored << " distinct (context, token) tuples scored, score " << detector.pooled().score
            << " (chance: " << detector.pooled().scored << " on average), p = " << format_p_value(pooled.log10_p) << ".\n"
            << "p is the probability that text written without this key scores at least this much.\n";
}

std::string tournament_table_row(const std::string& id, const TournamentScoreCounts& counts, const BinomialTest& test,
                                 double mean_g) {
  char line[256];
  std::snprintf(line, sizeof line, "%-16.16s %8llu %8llu %10llu %8.4f  %s", id.c_str(),
                static_cast<unsigned long long>(counts.tokens), static_cast<unsigned long long>(counts.scored),
                static_cast<unsigned long long>(counts.g_ones), mean_g, format_p_value(test.log10_p).c_str());
  return line;
}

// A SynthID tournament key: each distinct (context, token) scores its m g-values; the number of
// ones over n tuples is Binomial(n m, 1/2) under the null. No entropy threshold or syntax rule.
void run_detect_tournament(const DetectOptions& options, const WatermarkKey& key) {
  refuse_step_rules(options, key);
  TournamentDetector detector(std::make_shared<const TournamentScheme>(key));
  const std::uint64_t records = detect_records<TournamentScoreCounts>(
      options, key, header_line("g-ones", "mean-g"),
      [](const SuspectRecord&, const std::string&) {},
      [&](const SuspectRecord& record) {
        TournamentScoreCounts counts;
        for (const auto& tokens : record.responses) counts += detector.add_document(tokens);
        return counts;
      },
      [&](const nlohmann::json& id, const TournamentScoreCounts& counts) {
        const BinomialTest test = detector.test(counts);
        return options.json ? result_json_line({{"id", id}}, counts, test, detector.mean_g(counts))
                            : tournament_table_row(id.get<std::string>(), counts, test, detector.mean_g(counts));
      });
  const TournamentScoreCounts& pooled_counts = detector.pooled();
  const BinomialTest pooled = detector.test(pooled_counts);
  if (options.json) {
    std::cout << result_json_line({{"summary", true}, {"key_id", key.key_id()}, {"records", records}}, pooled_counts,
                                  pooled, detector.mean_g(pooled_counts))
              << "\n";
    return;
  }
  const std::uint32_t m = detector.scheme().layers();
  std::cout << tournament_table_row("pooled", pooled_counts, pooled, detector.mean_g(pooled_counts)) << "\n\n"
            << "Pooled over " << records << " records with synthid-tournament key " << key.key_id() << " (" << m
            << " layers): " << pooled_counts.scored << " distinct (context, token) tuples scored, " << pooled_counts.g_ones
            << " of their " << pooled_counts.scored * m << " g-values are 1 (chance: half), p = "
            << format_p_value(pooled.log10_p) << ".\n"
            << "p is the probability that text written without this key has at least this many g-values of 1.\n";
}

void run_detect(const DetectOptions& options) {
  const WatermarkKey key = WatermarkKey::load(options.key);
  switch (scheme_kind(key.params().scheme)) {
    case SchemeKind::gumbel_max: return run_detect_gumbel(options, key);
    case SchemeKind::tournament:
      if (options.entropy_weighted) {
        throw Error(ErrorCode::invalid_argument, "--entropy-weighted applies to gumbel-max keys; key " + key.key_id() +
                                                     " is a synthid-tournament key, scored by its exact binomial test");
      }
      return run_detect_tournament(options, key);
    case SchemeKind::green_list: break;
  }
  if (options.entropy_weighted) {
    throw Error(ErrorCode::invalid_argument, "--entropy-weighted applies to gumbel-max keys; key " + key.key_id() +
                                                 " is a green-list key, whose entropy rule is the key's threshold");
  }
  GreenListDetector detector(std::make_shared<const GreenListScheme>(key));
  // Records are decoded exactly as `scan` decodes them (one rule for ids and text).
  const KeyTokenizer tokenizer(std::span<const WatermarkKey>(&key, 1), options.tokenizer);
  const SuspectRecordDecoder decoder(tokenizer, TokenSource::automatic);
  const double threshold = key.params().entropy_threshold;
  const auto entropy_source = load_reference_entropy(options.steps.reference_model, options.steps.reference_top_k, {&key, 1});
  std::unique_ptr<TokenSyntax> syntax;
  if (options.steps.syntax_aware) {
    if (!key.params().tokenizer) {
      throw Error(ErrorCode::invalid_argument, "--syntax-aware reads the tokens' bytes, but key " + key.key_id() +
                                                   " names no tokenizer; use a key made with `tracemark keygen --tokenizer`");
    }
    syntax = std::make_unique<TokenSyntax>(token_byte_table(tokenizer.get("--syntax-aware"), key.params().vocab_size));
  }
  JsonlReader reader(options.input, options.max_record_bytes);

  // Rows are collected and printed only when the whole input was read: an input error (exit 2)
  // leaves no partial table that could be mistaken for a result.
  std::string rows;
  if (!options.json) {
    char header[128];
    std::snprintf(header, sizeof header, "%-16s %8s %8s %8s %8s %8s  %s\n", "id", "tokens", "scored", "green", "green%",
                  "z", "p-value");
    rows += header;
  }
  JsonlLine line;
  std::uint64_t records = 0, foreign_records = 0;
  std::optional<TokenizerBinding> foreign;
  while (reader.next_line(line)) {
    const SuspectRecord record = decoder.decode(reader, line);
    // The entropy rule's input: what serving recorded, else the reference model's.
    std::vector<float> entropy;
    if (threshold > 0.0) {
      if (record.entropy) {
        entropy = *record.entropy;
      } else if (entropy_source && record.responses.size() == 1) {
        entropy = entropy_source->entropies(record.prompt ? std::span<const std::uint32_t>(*record.prompt)
                                                          : std::span<const std::uint32_t>(),
                                            record.responses.front());
      } else if (!entropy_source) {
        refuse_entropy_threshold_without_source(
            key, reader.name() + " line " + std::to_string(line.line) +
                     " carries no per-step \"entropy\"; record it when serving (generate or serve --record-entropy), or "
                     "give --reference-model MODEL (a reference model of the protected model) to recompute it");
      }
    }
    ScoreCounts counts;
    try {
      for (const auto& tokens : record.responses) {
        std::vector<float> computed;
        if (threshold > 0.0 && entropy.empty()) computed = entropy_source->entropies({}, tokens);
        StepSelection selection{entropy.empty() ? std::span<const float>(computed) : std::span<const float>(entropy),
                                threshold, syntax.get()};
        counts += detector.add_document(tokens, selection);
      }
    } catch (const Error& e) {
      throw Error(e.code(), reader.name() + " line " + std::to_string(line.line) + ": " + e.what() +
                                "; were these ids made with the key's tokenizer and vocabulary?");
    }
    ++records;
    if (record.foreign_ids) {
      ++foreign_records;
      if (!foreign) foreign = record.foreign_ids;
    }
    const BinomialTest test = detector.test(counts);
    if (options.json) {
      const nlohmann::json id = record.id_is_number ? nlohmann::json::parse(record.id) : nlohmann::json(record.id);
      rows += result_json_line({{"id", id}}, counts, test) + "\n";
    } else {
      rows += table_row(record.id, counts, test) + "\n";
    }
  }
  if (foreign_records > 0) {
    std::cerr << "detect: " << foreign_records << " of " << records << " records carry ids of tokenizer " << foreign->name
              << " (sha256:" << foreign->vocab_sha256 << "), not the key's; their ids were not scored, their text was read "
              << "with the key's tokenizer instead\n";
  }
  std::cout << rows;
  const BinomialTest pooled = detector.test(detector.pooled());
  if (options.json) {
    std::cout << result_json_line({{"summary", true}, {"key_id", key.key_id()}, {"records", records}},
                                  detector.pooled(), pooled)
              << "\n";
    return;
  }
  std::cout << table_row("pooled", detector.pooled(), pooled) << "\n\n";
  if (detector.pooled().scored == 0) {
    std::cout << "Nothing was scored: every token lacked a full context of " << key.params().context_width
              << " previous tokens or repeated an earlier (context, token) tuple. p = 1.\n";
    return;
  }
  std::cout << "Pooled over " << records << " records with key " << key.key_id() << ": " << detector.pooled().scored
            << " distinct (context, token) tuples scored, " << detector.pooled().green << " green (chance: "
            << 100.0 * pooled.gamma << "%), p = " << format_p_value(pooled.log10_p) << ".\n"
            << "p is the probability that text written without this key shows at least this many green tuples;\n"
            << "it does not say how the text was made, only how surprising it is for unwatermarked text.\n";
}

}  // namespace

void add_detect_command(CLI::App& app) {
  auto options = std::make_shared<DetectOptions>();
  CLI::App* command = app.add_subcommand("detect", "test token sequences for a key's watermark");
  command->add_option("--key", options->key, "key file")->required();
  command->add_option("--input", options->input,
                      "JSON lines with \"tokens\": [ids], or with \"text\" or an OpenAI chat completion when the key names "
                      "a tokenizer (and optional \"id\"); - for stdin")
      ->required();
  add_tokenizer_option(*command, options->tokenizer,
                       "where to load the key's tokenizer from (default: the name in the key; refused unless its "
                       "vocabulary digest is the key's)");
  command->add_flag("--json", options->json, "one JSON object per record, then a summary object");
  add_max_record_bytes_option(*command, options->max_record_bytes, "longest input line accepted");
  add_step_rule_options(*command, options->steps);
  command->add_flag("--entropy-weighted", options->entropy_weighted,
                    "gumbel-max keys: weight each tuple's score by its step's entropy (the records' \"entropy\", "
                    "recorded when serving) and test with a Chernoff bound (valid, conservative); pays on text with "
                    "long low-entropy stretches");
  command->callback([options] { run_detect(*options); });
}

}  // namespace tracemark::cli
