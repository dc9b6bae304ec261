// tracemark keygen: make a secret watermark key file (mode 0600) and print its public commitment.
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "shared_options.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace tracemark::cli {
namespace {

struct KeygenOptions {
  std::string out;
  SchemeParams params;
  std::string tokenizer;  // empty: the key names no tokenizer and --vocab-size is required
  bool vocab_size_given = false;
  bool force = false;
};

void run_keygen(const KeygenOptions& options) {
  SchemeParams params = options.params;
  if (!options.tokenizer.empty()) {
    const auto tokenizer = Tokenizer::load(options.tokenizer);
    if (options.vocab_size_given && params.vocab_size != tokenizer->vocab_size()) {
      throw Error(ErrorCode::invalid_argument, "--vocab-size " + std::to_string(params.vocab_size) + " differs from tokenizer " +
                                                   tokenizer->name() + "'s " + std::to_string(tokenizer->vocab_size()) +
                                                   " ids; leave --vocab-size out to take the tokenizer's");
    }
    params.vocab_size = tokenizer->vocab_size();
    params.tokenizer = TokenizerBinding{tokenizer->name(), tokenizer->vocab_sha256()};
  } else if (!options.vocab_size_given) {
    throw Error(ErrorCode::invalid_argument, "--vocab-size is required unless --tokenizer names the protected model's tokenizer");
  }
  WatermarkKey key = WatermarkKey::generate(params);
  key.save(options.out, options.force);
  std::cout << "wrote key " << key.key_id() << " to " << options.out << " (mode 0600; keep it secret)\n"
            << "commitment: sha256:" << key.commitment_hex() << "\n"
            << "Publish the commitment now: it binds you to this key and its parameters without revealing it.\n";
}

}  // namespace

void add_keygen_command(CLI::App& app) {
  auto options = std::make_shared<KeygenOptions>();
  CLI::App* command = app.add_subcommand("keygen", "make a new secret watermark key file");
  add_out_option(*command, options->out, "key file to write (mode 0600)");
  command->add_option("--gamma", options->params.gamma, "green fraction of the vocabulary, in (0, 1)")
      ->capture_default_str();
  command->add_option("--delta", options->params.delta, "logit bias added to green tokens, in [0, 64]")
      ->capture_default_str();
  command->add_option("--context-width", options->params.context_width,
                      "previous tokens that seed the green list (0 = one fixed list), 0..16")
      ->capture_default_str();
  command->add_option("--entropy-threshold", options->params.entropy_threshold,
                      "entropy-aware embedding: bias (and score) only steps whose distribution has at least this entropy, "
                      "in nats, 0..64; 0 biases every step. Detection then needs the entropy: a reference model of the "
                      "protected model, or logs that recorded it")
      ->capture_default_str();
  command->add_option("--scheme-version", options->params.scheme_version,
                      "green-list scheme version: 2 (fast full-vocabulary path, at most 2^24 ids) or 1")
      ->capture_default_str();
  CLI::Option* vocab_size = add_vocab_size_option(*command, options->params.vocab_size,
                                                  "number of token ids of the protected model (required without --tokenizer)");
  add_tokenizer_option(*command, options->tokenizer,
                       "the protected model's tokenizer (the key records its name and vocabulary SHA-256 and takes its "
                       "vocabulary size)");
  add_force_flag(*command, options->force, "an existing key file");
  command->callback([options, vocab_size] {
    options->vocab_size_given = vocab_size->count() > 0;
    run_keygen(*options);
  });
}

}  // namespace tracemark::cli
