// tracemark detect: test token sequences for the key's watermark, per record and pooled.
#include <cstdio>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "report_output.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/green_list_detector.hpp"
#include "tracemark/verify/jsonl_reader.hpp"

namespace tracemark::cli {
namespace {

struct DetectOptions {
  std::string key;
  std::string input;
  bool json = false;
};

std::string table_row(const std::string& id, const ScoreCounts& counts, const BinomialTest& test) {
  char line[256];
  const double rate = counts.scored ? 100.0 * static_cast<double>(counts.green) / static_cast<double>(counts.scored) : 0.0;
  std::snprintf(line, sizeof line, "%-16.16s %8llu %8llu %8llu %7.1f%% %8.2f  %s", id.c_str(),
                static_cast<unsigned long long>(counts.tokens), static_cast<unsigned long long>(counts.scored),
                static_cast<unsigned long long>(counts.green), rate, test.z, format_p_value(test.log10_p).c_str());
  return line;
}

void run_detect(const DetectOptions& options) {
  const WatermarkKey key = WatermarkKey::load(options.key);
  GreenListDetector detector(std::make_shared<const GreenListScheme>(key));
  JsonlReader reader(options.input);

  // Rows are collected and printed only when the whole input was read: an input error (exit 2)
  // leaves no partial table that could be mistaken for a result.
  std::string rows;
  if (!options.json) {
    char header[128];
    std::snprintf(header, sizeof header, "%-16s %8s %8s %8s %8s %8s  %s\n", "id", "tokens", "scored", "green", "green%",
                  "z", "p-value");
    rows += header;
  }
  JsonlRecord record;
  std::uint64_t records = 0;
  while (reader.next(record)) {
    const std::vector<std::uint32_t> tokens = record_tokens(reader, record);
    ScoreCounts counts;
    try {
      counts = detector.add_document(tokens);
    } catch (const Error& e) {
      throw Error(e.code(), reader.where(record) + ": " + e.what() +
                                "; were these ids made with the key's tokenizer and vocabulary?");
    }
    ++records;
    const BinomialTest test = detector.test(counts);
    const nlohmann::json id = record_id(record);
    if (options.json) {
      rows += result_json_line({{"id", id}}, counts, test) + "\n";
    } else {
      rows += table_row(id.is_string() ? id.get<std::string>() : id.dump(), counts, test) + "\n";
    }
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
  command->add_option("--input", options->input, "JSON lines with \"tokens\": [ids] (and optional \"id\"); - for stdin")
      ->required();
  command->add_flag("--json", options->json, "one JSON object per record, then a summary object");
  command->callback([options] { run_detect(*options); });
}

}  // namespace tracemark::cli
