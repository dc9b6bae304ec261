// tracemark perplexity: how probable a reference model finds some responses, so the watermark's
// cost in text quality is a number (compare watermarked and unwatermarked responses to the same
// prompts under the same model).
#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "model_vocabulary.hpp"
#include "tracemark/error.hpp"
#include "tracemark/refmodel/reference_model.hpp"
#include "tracemark/verify/jsonl_reader.hpp"

namespace tracemark::cli {
namespace {

struct PerplexityOptions {
  std::string model;
  std::string input;
  bool json = false;
};

struct ScoredRecord {
  std::vector<std::uint32_t> context;  // the prompt: conditions the first tokens, not scored
  std::vector<std::uint32_t> tokens;   // scored
};

// Text fields are re-encoded with the model's tokenizer when it has one (the responses may come
// from a model with another tokenizer); otherwise "tokens" and "prompt_tokens" are model ids.
ScoredRecord read_record(const JsonlReader& reader, const JsonlRecord& record, const ModelVocabulary& vocabulary) {
  ScoredRecord scored;
  const auto& value = record.value;
  const bool has_text = value.is_object() && value.contains("text") && value["text"].is_string();
  if (vocabulary.has_tokenizer() && has_text) {
    scored.tokens = vocabulary.encode(value["text"].get_ref<const std::string&>());
    if (value.contains("prompt") && value["prompt"].is_string()) {
      scored.context = vocabulary.encode(value["prompt"].get_ref<const std::string&>());
    }
  } else {
    scored.tokens = record_tokens(reader, record);
    if (value.contains("prompt_tokens")) {
      JsonlRecord prompt = record;
      prompt.value = {{"tokens", value["prompt_tokens"]}};
      scored.context = record_tokens(reader, prompt);
    }
  }
  for (const auto* ids : {&scored.context, &scored.tokens}) {
    for (std::uint32_t id : *ids) {
      if (id >= vocabulary.vocab_size) {
        throw Error(ErrorCode::invalid_input, reader.where(record) + ": token id " + std::to_string(id) +
                                                  " is outside the model's vocabulary (size " +
                                                  std::to_string(vocabulary.vocab_size) +
                                                  "); were these ids made with the model's tokenizer?");
      }
    }
  }
  return scored;
}

void run_perplexity(const PerplexityOptions& options) {
  const ReferenceModel model = ReferenceModel::load(options.model);
  const ModelVocabulary vocabulary = vocabulary_of_model(model.tokenizer(), model.vocab_size(), options.model);
  JsonlReader reader(options.input);
  JsonlRecord record;
  double total_nats = 0;
  std::uint64_t total_tokens = 0, records = 0;
  std::string rows;
  while (reader.next(record)) {
    ScoredRecord scored = read_record(reader, record, vocabulary);
    const double nats = model.sequence_nats(scored.context, scored.tokens);
    ++records;
    total_nats += nats;
    total_tokens += scored.tokens.size();
    if (options.json) {
      const double mean = scored.tokens.empty() ? 0.0 : nats / static_cast<double>(scored.tokens.size());
      rows += nlohmann::ordered_json{{"id", record_id(record)},
                                     {"tokens", scored.tokens.size()},
                                     {"nats_per_token", mean},
                                     {"perplexity", std::exp(mean)}}
                  .dump() +
              "\n";
    }
  }
  const double mean = total_tokens ? total_nats / static_cast<double>(total_tokens) : 0.0;
  if (options.json) {
    std::cout << rows
              << nlohmann::ordered_json{{"summary", true}, {"records", records}, {"tokens", total_tokens},
                                        {"nats_per_token", mean}, {"perplexity", std::exp(mean)}}
                     .dump()
              << "\n";
    return;
  }
  std::cout << "perplexity " << std::exp(mean) << " (" << mean << " nats per token) over " << total_tokens
            << " tokens in " << records << " records of " << options.input << " under " << options.model << "\n";
}

}  // namespace

void add_perplexity_command(CLI::App& app) {
  auto options = std::make_shared<PerplexityOptions>();
  CLI::App* command = app.add_subcommand("perplexity", "perplexity of responses under a reference model");
  command->add_option("--model", options->model, "model file (n-gram or transformer)")->required();
  command->add_option("--input", options->input,
                      "JSON lines from `tracemark generate` (\"tokens\", optional \"prompt_tokens\" as context); - for stdin")
      ->required();
  command->add_flag("--json", options->json, "one JSON object per record, then a summary object");
  command->callback([options] { run_perplexity(*options); });
}

}  // namespace tracemark::cli
