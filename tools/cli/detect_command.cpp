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
#include "tracemark/verify/text_records.hpp"
#include "tracemark/verify/tokenizer.hpp"
#include "tracemark/verify/utf8.hpp"

namespace tracemark::cli {
namespace {

struct DetectOptions {
  std::string key;
  std::string input;
  std::string tokenizer;  // where to load the key's tokenizer from; empty: by the name in the key
  bool json = false;
  std::size_t max_record_bytes = kDefaultMaxRecordBytes;
};

// The token sequences (responses) of one record: its "tokens", or its texts ("text", or each
// choice of a chat completion) tokenized with the key's tokenizer. The tokenizer is loaded at the
// first text record and refused when its vocabulary digest differs from the one in the key.
std::vector<std::vector<std::uint32_t>> record_documents(const JsonlReader& reader, const JsonlRecord& record,
                                                         const WatermarkKey& key, const DetectOptions& options,
                                                         std::shared_ptr<const Tokenizer>& tokenizer) {
  const std::optional<std::vector<std::string>> texts = record_texts(reader, record);
  if (!texts) return {record_tokens(reader, record)};
  const std::optional<TokenizerBinding>& binding = key.params().tokenizer;
  if (!binding) {
    throw Error(ErrorCode::invalid_input, reader.where(record) + ": field \"tokens\" is missing and key " + key.key_id() +
                                              " names no tokenizer to turn its text into ids; give token ids, or use a key made "
                                              "with tracemark keygen --tokenizer");
  }
  if (!tokenizer) {
    tokenizer = Tokenizer::load(options.tokenizer.empty() ? binding->name : options.tokenizer);
    if (tokenizer->vocab_sha256() != binding->vocab_sha256) {
      throw Error(ErrorCode::invalid_input, "tokenizer " + tokenizer->name() + " has vocabulary sha256:" + tokenizer->vocab_sha256() +
                                                " but key " + key.key_id() + " was made with tokenizer " + binding->name +
                                                " (sha256:" + binding->vocab_sha256 + "); use the tokenizer the key was made with");
    }
  }
  std::vector<std::vector<std::uint32_t>> documents;
  for (const std::string& text : *texts) {
    try {
      documents.push_back(tokenizer->encode(text));
    } catch (const Error& e) {
      throw Error(e.code(), reader.where(record) + ": " + e.what());
    }
  }
  return documents;
}

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
  std::uint64_t records = 0;
  std::shared_ptr<const Tokenizer> tokenizer;
  while (reader.next_line(line)) {
    if (const std::size_t invalid = find_invalid_utf8(line.text); invalid != kAllValid) {
      throw Error(ErrorCode::invalid_input, reader.name() + " line " + std::to_string(line.line) + " (byte offset " +
                                                std::to_string(line.byte_offset + invalid) +
                                                "): invalid UTF-8; convert the file to UTF-8, or run tracemark tokenize --lossy first");
    }
    const JsonlRecord record = reader.parse_line(line);
    const auto documents = record_documents(reader, record, key, options, tokenizer);
    ScoreCounts counts;
    try {
      for (const auto& tokens : documents) counts += detector.add_document(tokens);
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
  command->add_option("--input", options->input,
                      "JSON lines with \"tokens\": [ids], or with \"text\" or an OpenAI chat completion when the key names "
                      "a tokenizer (and optional \"id\"); - for stdin")
      ->required();
  command->add_option("--tokenizer", options->tokenizer,
                      "where to load the key's tokenizer from (default: the name in the key); refused unless its vocabulary "
                      "digest is the key's");
  command->add_flag("--json", options->json, "one JSON object per record, then a summary object");
  command->add_option("--max-record-bytes", options->max_record_bytes,
                      "longest input line accepted, in bytes; longer lines are refused (memory stays bounded by it)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
  command->callback([options] { run_detect(*options); });
}

}  // namespace tracemark::cli
