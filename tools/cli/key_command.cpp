// tracemark key commit|show: inspect a key file without revealing its secret.
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "tracemark/embed/key.hpp"

namespace tracemark::cli {

void add_key_command(CLI::App& app) {
  CLI::App* key = app.add_subcommand("key", "inspect a key file (never prints the secret)");
  key->require_subcommand(1);

  auto commit_path = std::make_shared<std::string>();
  CLI::App* commit = key->add_subcommand("commit", "print the key's public commitment");
  commit->add_option("KEY", *commit_path, "key file")->required();
  commit->callback([commit_path] {
    std::cout << "sha256:" << WatermarkKey::load(*commit_path).commitment_hex() << "\n";
  });

  auto show_path = std::make_shared<std::string>();
  CLI::App* show = key->add_subcommand("show", "print the key's id, parameters and commitment");
  show->add_option("KEY", *show_path, "key file")->required();
  show->callback([show_path] { std::cout << WatermarkKey::load(*show_path).public_json() << "\n"; });
}

}  // namespace tracemark::cli
