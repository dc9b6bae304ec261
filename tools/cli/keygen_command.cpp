// tracemark keygen: make a secret watermark key file (mode 0600) and print its public commitment.
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "key_parameter_options.hpp"
#include "shared_options.hpp"
#include "tracemark/embed/key.hpp"

namespace tracemark::cli {
namespace {

struct KeygenOptions {
  std::string out;
  KeyParameterOptions parameters;
  bool force = false;
};

void run_keygen(const KeygenOptions& options) {
  WatermarkKey key = WatermarkKey::generate(resolve_key_parameters(options.parameters));
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
  add_key_parameter_options(*command, options->parameters);
  add_force_flag(*command, options->force, "an existing key file");
  command->callback([options] { run_keygen(*options); });
}

}  // namespace tracemark::cli
