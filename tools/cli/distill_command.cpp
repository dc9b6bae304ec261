// tracemark distill: simulate a student distilled from a teacher's responses, optionally mixed
// with clean human text so that a chosen fraction of its training tokens is watermarked. The
// student is an ordinary reference model file: it answers prompts with `tracemark generate`.
#include <iostream>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "shared_options.hpp"
#include "model_vocabulary.hpp"
#include "transformer_options.hpp"
#include "tracemark/refmodel/distillation_mix.hpp"
#include "tracemark/refmodel/ngram_counter.hpp"
#include "tracemark/refmodel/ngram_model_writer.hpp"
#include "tracemark/error.hpp"

namespace tracemark::cli {
namespace {

struct DistillOptions {
  std::vector<std::string> teacher_outputs;
  std::vector<std::string> mix_clean;
  std::optional<double> fraction;
  std::string tokenizer;
  std::optional<std::uint32_t> vocab_size;
  std::uint32_t order = 3;
  std::string student = "ngram";
  TransformerOptions transformer;
  std::string out;
  bool force = false;
};

std::vector<std::size_t> lengths(const TokenDocuments& documents) {
  std::vector<std::size_t> result;
  for (const auto& document : documents) result.push_back(document.size());
  return result;
}

void run_distill(const DistillOptions& options) {
  if (options.fraction.has_value() != !options.mix_clean.empty()) {
    throw Error(ErrorCode::invalid_argument, "--mix-clean and --fraction go together: give both (the share of "
                                             "watermarked training tokens) or neither (the student sees only the teacher)");
  }
  const ModelVocabulary vocabulary = vocabulary_for_training(options.tokenizer, options.vocab_size);
  // The teacher's responses (their "tokens"; with a tokenizer, their "text" re-encoded, so the
  // student's tokenizer may differ from the teacher's).
  const TokenDocuments teacher = read_corpora(options.teacher_outputs, vocabulary);
  const TokenDocuments clean = read_corpora(options.mix_clean, vocabulary);
  const DistillationMix mix = plan_distillation_mix(lengths(teacher), lengths(clean), options.fraction.value_or(1.0));
  if (options.student == "transformer") {
    TokenDocuments training(teacher.begin(), teacher.begin() + static_cast<std::ptrdiff_t>(mix.teacher_documents));
    training.insert(training.end(), clean.begin(), clean.begin() + static_cast<std::ptrdiff_t>(mix.clean_documents));
    train_transformer_file(training, vocabulary, options.transformer, options.out, options.force);
  } else {
    NgramCounter counter(options.order, vocabulary.vocab_size);
    for (std::size_t i = 0; i < mix.teacher_documents; ++i) counter.add_document(teacher[i]);
    for (std::size_t i = 0; i < mix.clean_documents; ++i) counter.add_document(clean[i]);
    NgramTables tables = counter.build();
    tables.unpredictable_ids = vocabulary.unpredictable_ids;
    write_ngram_model(tables, vocabulary.record, options.out, options.force);
  }
  std::cout << "trained " << options.student << " student " << options.out << " on " << mix.teacher_tokens
            << " teacher tokens (" << mix.teacher_documents << " of " << teacher.size() << " responses) and "
            << mix.clean_tokens << " clean tokens (" << mix.clean_documents << " of " << clean.size()
            << " documents): watermarked fraction " << mix.watermarked_fraction() << "\n";
}

}  // namespace

void add_distill_command(CLI::App& app) {
  auto options = std::make_shared<DistillOptions>();
  CLI::App* command = app.add_subcommand("distill", "train a simulated student on a teacher's responses");
  command->add_option("--teacher-outputs", options->teacher_outputs, "JSON lines from `tracemark generate`")->required();
  command->add_option("--mix-clean", options->mix_clean, "clean corpus files to mix in (as for `tracemark train`, CORPUS:SPLIT included)");
  command->add_option("--fraction", options->fraction, "share of the student's training tokens that are the teacher's, in (0, 1]")
      ->check(CLI::Range(0.0, 1.0));
  add_tokenizer_option(*command, options->tokenizer,
                       "the student's tokenizer (may differ from the teacher's: responses' \"text\" is re-encoded)");
  add_vocab_size_option(*command, options->vocab_size, "without --tokenizer: vocabulary size of the token ids");
  command->add_option("--student", options->student,
                      "the student's kind: ngram (memorises the harvest: the best case for detection) or transformer "
                      "(a small decoder-only network on libtorch, which generalises)")
      ->capture_default_str()->check(CLI::IsMember({"ngram", "transformer"}));
  add_order_option(*command, options->order, "n-gram order of the student, 2 to 5");
  add_transformer_options(*command, options->transformer);
  add_out_option(*command, options->out, "student model file to write");
  add_force_flag(*command, options->force, "an existing model file");
  command->callback([options] { run_distill(*options); });
}

}  // namespace tracemark::cli
