// tracemark keygen: make a secret watermark key file (mode 0600) and print its public commitment.
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "tracemark/embed/key.hpp"

namespace tracemark::cli {
namespace {

struct KeygenOptions {
  std::string out;
  SchemeParams params;
  bool force = false;
};

void run_keygen(const KeygenOptions& options) {
  WatermarkKey key = WatermarkKey::generate(options.params);
  key.save(options.out, options.force);
  std::cout << "wrote key " << key.key_id() << " to " << options.out << " (mode 0600; keep it secret)\n"
            << "commitment: sha256:" << key.commitment_hex() << "\n"
            << "Publish the commitment now: it binds you to this key and its parameters without revealing it.\n";
}

}  // namespace

void add_keygen_command(CLI::App& app) {
  auto options = std::make_shared<KeygenOptions>();
  CLI::App* command = app.add_subcommand("keygen", "make a new secret watermark key file");
  command->add_option("--out", options->out, "key file to write (mode 0600)")->required();
  command->add_option("--gamma", options->params.gamma, "green fraction of the vocabulary, in (0, 1)")
      ->capture_default_str();
  command->add_option("--delta", options->params.delta, "logit bias added to green tokens, in [0, 64]")
      ->capture_default_str();
  command->add_option("--context-width", options->params.context_width,
                      "previous tokens that seed the green list (0 = one fixed list), 0..16")
      ->capture_default_str();
  command->add_option("--vocab-size", options->params.vocab_size, "number of token ids of the protected model")
      ->required();
  command->add_flag("--force", options->force, "replace an existing key file");
  command->callback([options] { run_keygen(*options); });
}

}  // namespace tracemark::cli
