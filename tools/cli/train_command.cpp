// tracemark train: count a corpus into a reference n-gram model file.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "shared_options.hpp"
#include "model_vocabulary.hpp"
#include "transformer_options.hpp"
#include "tracemark/refmodel/ngram_counter.hpp"
#include "tracemark/refmodel/ngram_model_writer.hpp"

namespace tracemark::cli {
namespace {

struct TrainOptions {
  std::vector<std::string> corpus;
  std::string tokenizer;
  std::optional<std::uint32_t> vocab_size;
  std::uint32_t order = 3;
  std::string kind = "ngram";
  TransformerOptions transformer;
  std::string out;
  bool force = false;
};

void run_train(const TrainOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const ModelVocabulary vocabulary = vocabulary_for_training(options.tokenizer, options.vocab_size);
  if (options.kind == "transformer") {
    train_transformer_file(read_corpora(options.corpus, vocabulary), vocabulary, options.transformer, options.out,
                           options.force);
    return;
  }
  NgramCounter counter(options.order, vocabulary.vocab_size);
  for (const std::string& file : options.corpus) {
    for (const auto& document : read_corpus_file(resolve_corpus_argument(file), vocabulary.encode, vocabulary.vocab_size)) {
      counter.add_document(document);
    }
  }
  NgramTables tables = counter.build();
  tables.unpredictable_ids = vocabulary.unpredictable_ids;
  write_ngram_model(tables, vocabulary.record, options.out, options.force);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "trained an order-" << options.order << " Kneser-Ney model on " << counter.token_count() << " tokens in "
            << counter.document_count() << " documents in " << seconds << " s\n"
            << "contexts per order:";
  for (std::uint32_t depth = 0; depth < options.order; ++depth) std::cout << " " << tables.nodes[depth].size();
  std::cout << "\ndiscounts per order:";
  for (std::uint32_t k = 1; k <= options.order; ++k) std::cout << " " << tables.discounts[k - 1];
  std::cout << "\nwrote " << options.out << " (" << std::filesystem::file_size(options.out) << " bytes, vocabulary "
            << vocabulary.vocab_size << ", "
            << (vocabulary.has_tokenizer() ? "tokenizer " + vocabulary.record.name : std::string("raw token ids")) << ")\n";
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* command = app.add_subcommand("train", "train a reference language model (n-gram or transformer) on a corpus");
  command->add_option("--corpus", options->corpus,
                      "corpus files: plain UTF-8 text, documents separated by blank lines (needs --tokenizer); or "
                      "JSONL (name ending in .jsonl), one document per line, {\"text\": ...} or {\"tokens\": [ids]}; or "
                      "CORPUS:SPLIT (brown, nlp-corpus, spam-assassin, go-code, tool-calls, reasoning : train, heldout, null), "
                      "the set-up's documents")
      ->required();
  add_tokenizer_option(*command, options->tokenizer, "the model's tokenizer");
  add_vocab_size_option(*command, options->vocab_size, "without --tokenizer: vocabulary size of the token ids");
  command->add_option("--model", options->kind, "the model's kind: ngram (Kneser-Ney counts) or transformer (libtorch)")
      ->capture_default_str()->check(CLI::IsMember({"ngram", "transformer"}));
  add_order_option(*command, options->order, "n-gram order, 2 to 5");
  add_transformer_options(*command, options->transformer);
  add_out_option(*command, options->out, "model file to write");
  add_force_flag(*command, options->force, "an existing model file");
  command->callback([options] { run_train(*options); });
}

}  // namespace tracemark::cli
