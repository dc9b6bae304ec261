// tracemark tokenize: text records to the token ids of a protected model's tokenizer.
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "commands.hpp"
#include "shared_options.hpp"
#include "tracemark/atomic_file.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/jsonl_reader.hpp"
#include "tracemark/verify/parallel_for.hpp"
#include "tracemark/verify/tokenizer.hpp"
#include "tracemark/verify/utf8.hpp"

namespace tracemark::cli {
namespace {

struct TokenizeOptions {
  std::string tokenizer;
  std::string input;
  std::string output = "-";
  bool lossy = false;
  bool allow_special = false;
  bool force = false;
  unsigned threads = 1;
  std::size_t max_record_bytes = kDefaultMaxRecordBytes;
};

// Lines are read in batches and tokenized in parallel; outputs are written in input order, so the
// output does not depend on the thread count. A batch holds at most this many lines or bytes.
constexpr std::size_t kBatchLines = 4096;
constexpr std::size_t kBatchBytes = 32u << 20;

struct LineResult {
  std::string json;  // the output line, newline included
  std::uint64_t replacements = 0;
};

void append_ids(std::string& out, const std::vector<std::uint32_t>& ids) {
  out.reserve(out.size() + ids.size() * 7 + 4);
  out += '[';
  char digits[16];
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    const auto end = std::to_chars(digits, digits + sizeof digits, ids[i]).ptr;
    out.append(digits, end);
  }
  out += ']';
}

LineResult tokenize_line(const JsonlReader& reader, JsonlLine& line, const Tokenizer& tokenizer, const TokenizeOptions& options) {
  LineResult result;
  const std::size_t invalid = find_invalid_utf8(line.text);
  if (invalid != kAllValid) {
    if (!options.lossy) {
      char byte[8];
      std::snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned char>(line.text[invalid]));
      throw Error(ErrorCode::invalid_input, reader.name() + " line " + std::to_string(line.line) + " (byte offset " +
                                                std::to_string(line.byte_offset + invalid) + "): invalid UTF-8 (byte " + byte +
                                                "); convert the file to UTF-8, or pass --lossy to replace invalid bytes with U+FFFD");
    }
    line.text = replace_invalid_utf8(line.text, result.replacements);
  }
  const JsonlRecord record = reader.parse_line(line);
  line.text = std::string();  // the record holds its own copy now; keep memory near one copy per record
  const auto text = record.value.is_object() ? record.value.find("text") : record.value.end();
  if (!record.value.is_object() || text == record.value.end() || !text->is_string()) {
    throw Error(ErrorCode::invalid_input, reader.where(record) + ": field \"text\" (a string) is missing; records must look like "
                                                                 "{\"id\": ..., \"text\": \"...\"}");
  }
  const std::vector<std::uint32_t> ids = tokenizer.encode(text->get_ref<const std::string&>(), {options.allow_special});
  result.json = "{\"id\":" + record_id(record).dump() + ",\"tokens\":";
  append_ids(result.json, ids);
  if (result.replacements) result.json += ",\"utf8_replacements\":" + std::to_string(result.replacements);
  result.json += "}\n";
  return result;
}

void run_tokenize(const TokenizeOptions& options) {
  if (options.output != "-" && options.input != "-" && same_file(options.input, options.output)) {
    throw Error(ErrorCode::invalid_argument, "--output " + options.output + " is the input file " + options.input +
                                                 "; write the ids to another file");
  }
  if (options.output != "-" && !options.force && std::filesystem::exists(options.output)) {
    throw Error(ErrorCode::invalid_argument, options.output + " already exists; it was left untouched (pass --force to replace it)");
  }
  const std::shared_ptr<const Tokenizer> tokenizer = Tokenizer::load(options.tokenizer);
  JsonlReader reader(options.input, options.max_record_bytes);
  // A file is written beside its destination and renamed into place when complete: a failure (a
  // bad line late in the input) or a kill leaves the earlier file as it was.
  std::optional<AtomicOutputFile> file;
  std::ostream* out = &std::cout;
  if (options.output != "-") out = &file.emplace(options.output, 0644).stream();
  std::uint64_t records = 0, replacements = 0, damaged_records = 0;
  std::vector<JsonlLine> batch;
  std::vector<LineResult> results;
  bool more = true;
  while (more) {
    batch.clear();
    std::size_t bytes = 0;
    JsonlLine line;
    while (batch.size() < kBatchLines && bytes < kBatchBytes && (more = reader.next_line(line))) {
      bytes += line.text.size();
      batch.push_back(std::move(line));
    }
    results.assign(batch.size(), LineResult{});
    parallel_for(batch.size(), options.threads,
                 [&](std::size_t i) { results[i] = tokenize_line(reader, batch[i], *tokenizer, options); });
    for (const LineResult& result : results) {
      *out << result.json;
      replacements += result.replacements;
      damaged_records += result.replacements != 0;
    }
    records += batch.size();
  }
  out->flush();
  if (!*out) throw Error(ErrorCode::io, "writing " + (options.output == "-" ? std::string("standard output") : options.output) + " failed");
  if (file) file->commit(options.force);
  std::cerr << "tokenize: " << records << " records with " << tokenizer->name() << " (vocabulary sha256:" << tokenizer->vocab_sha256()
            << ")\n";
  if (options.lossy) {
    std::cerr << "tokenize: --lossy replaced " << replacements << " invalid UTF-8 sequences with U+FFFD in " << damaged_records
              << " records\n";
  }
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* command = app.add_subcommand("tokenize", "turn text records into the token ids of a model's tokenizer");
  add_tokenizer_option(*command, options->tokenizer, "the tokenizer whose ids to write")->required();
  command->add_option("--input", options->input, "JSON lines with \"text\" (and optional \"id\"); - for stdin")->required();
  command->add_option("--output", options->output, "JSON lines with \"id\" and \"tokens\"; - for stdout")->capture_default_str();
  add_force_flag(*command, options->force, "an existing --output file");
  add_max_record_bytes_option(*command, options->max_record_bytes, "longest input line accepted");
  command->add_flag("--lossy", options->lossy, "replace invalid UTF-8 with U+FFFD (and report how many) instead of failing");
  command->add_flag("--allow-special", options->allow_special,
                    "encode the text of special tokens (such as <|endoftext|>) as those tokens; by default it is plain text");
  add_threads_option(*command, options->threads, "worker threads (output order and content do not depend on it)");
  command->callback([options] { run_tokenize(*options); });
}

}  // namespace tracemark::cli
