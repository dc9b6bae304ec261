// tracemark keyring new|show|derive|commit|prove|verify-proof: a master secret with one subkey per
// label (model version, cohort, epoch), the ring's public Merkle root, and inclusion proofs that
// reveal one subkey in a dispute without revealing the others (embed/keyring.hpp).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "key_parameter_options.hpp"
#include "shared_options.hpp"
#include "tracemark/atomic_file.hpp"
#include "tracemark/embed/keyring.hpp"
#include "tracemark/error.hpp"

namespace tracemark::cli {
namespace {

struct KeyringOptions {
  std::string ring;
  std::string out;
  std::string label;
  std::vector<std::string> labels;
  KeyParameterOptions parameters;
  bool force = false;
  // verify-proof
  std::string proof;
  std::string root;
  std::string key;
};

std::string read_public_file(const std::string& path, const std::string& what) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(ErrorCode::io, what + " " + path + " cannot be read; check the path");
  // Checked before reading: a huge file given by mistake is refused without loading it.
  std::error_code size_error;
  const std::uintmax_t size = std::filesystem::file_size(path, size_error);
  constexpr std::uintmax_t kMaxBytes = std::uintmax_t{1} << 20;
  if (size_error || size > kMaxBytes) {
    throw Error(ErrorCode::invalid_input, what + " " + path + " is not a regular file of at most 1 MiB; is this the right file?");
  }
  std::ostringstream text;
  text << file.rdbuf();
  return std::move(text).str();
}

void run_new(const KeyringOptions& options) {
  const Keyring ring = Keyring::generate(resolve_key_parameters(options.parameters), options.labels);
  ring.save(options.out, options.force);
  std::cout << "wrote keyring " << ring.ring_id() << " with " << ring.labels().size() << " labels to " << options.out
            << " (mode 0600; keep it secret)\n"
            << "root: " << ring.root() << "\n"
            << "Publish the root now: it binds you to every subkey of the ring without revealing any. A ring's labels are\n"
            << "fixed when it is made; reserve canary cohorts (cohort:canary-01, ...) for accounts found later.\n";
}

void run_derive(const KeyringOptions& options) {
  const Keyring ring = Keyring::load(options.ring);
  const WatermarkKey key = ring.derive(options.label);
  key.save(options.out, options.force);
  std::cout << "wrote subkey " << key.key_id() << " (" << options.label << ") to " << options.out
            << " (mode 0600; an ordinary key file)\ncommitment: sha256:" << key.commitment_hex() << "\n";
}

void run_prove(const KeyringOptions& options) {
  const Keyring ring = Keyring::load(options.ring);
  const KeyringProof proof = ring.prove(options.label);
  write_file_atomically(options.out, proof.to_json() + "\n", 0644, options.force);
  std::cout << "wrote the inclusion proof of " << options.label << " (subkey " << proof.key_id << ") to " << options.out
            << "\nIt checks against root " << proof.root << " and reveals no other subkey.\n";
}

void run_verify_proof(const KeyringOptions& options) {
  const KeyringProof proof = KeyringProof::parse(read_public_file(options.proof, "keyring proof"), options.proof);
  proof.verify(options.root);
  if (!options.key.empty()) {
    const WatermarkKey key = WatermarkKey::load(options.key);
    if ("sha256:" + key.commitment_hex() != proof.commitment) {
      throw Error(ErrorCode::invalid_input, "key file " + options.key + " (" + key.key_id() + ") has commitment sha256:" +
                                                key.commitment_hex() + ", not the proof's " + proof.commitment +
                                                "; it is not the subkey of label " + proof.label);
    }
  }
  std::cout << "proof OK: label " << proof.label << " has commitment " << proof.commitment << " in ring " << proof.ring_id
            << "\nroot " << proof.root << (options.root.empty() ? " (compare it with the published root, or pass --root)" : " (the published root)")
            << (options.key.empty() ? "" : "\nkey file " + options.key + " is that subkey") << "\n";
}

}  // namespace

void add_keyring_command(CLI::App& app) {
  auto options = std::make_shared<KeyringOptions>();
  CLI::App* keyring = app.add_subcommand("keyring", "keyrings: one master secret, one subkey per model version, cohort or epoch");
  keyring->require_subcommand(1);

  CLI::App* make = keyring->add_subcommand("new", "make a keyring file (mode 0600) and print its public root");
  add_out_option(*make, options->out, "keyring file to write (mode 0600)");
  make->add_option("--labels", options->labels,
                   "the ring's labels, comma-separated: model:VERSION, cohort:NAME, epoch:YYYY-MM, global:NAME")
      ->required()->delimiter(',');
  add_key_parameter_options(*make, options->parameters);
  add_force_flag(*make, options->force, "an existing keyring file");
  make->callback([options] { run_new(*options); });

  CLI::App* show = keyring->add_subcommand("show", "print the ring's id, parameters, labels with subkey commitments, and root");
  show->add_option("RING", options->ring, "keyring file")->required();
  show->callback([options] { std::cout << Keyring::load(options->ring).public_json() << "\n"; });

  CLI::App* commit = keyring->add_subcommand("commit", "print the ring's public root (the one value to publish)");
  commit->add_option("RING", options->ring, "keyring file")->required();
  commit->callback([options] { std::cout << Keyring::load(options->ring).root() << "\n"; });

  CLI::App* derive = keyring->add_subcommand("derive", "write one label's subkey as an ordinary key file (mode 0600)");
  derive->add_option("RING", options->ring, "keyring file")->required();
  derive->add_option("LABEL", options->label, "the label, e.g. cohort:campaign-a")->required();
  add_out_option(*derive, options->out, "key file to write (mode 0600)");
  add_force_flag(*derive, options->force, "an existing key file");
  derive->callback([options] { run_derive(*options); });

  CLI::App* prove = keyring->add_subcommand("prove", "write the inclusion proof of one label's subkey (public)");
  prove->add_option("RING", options->ring, "keyring file")->required();
  prove->add_option("LABEL", options->label, "the label whose subkey is revealed")->required();
  add_out_option(*prove, options->out, "proof file to write (JSON)");
  add_force_flag(*prove, options->force, "an existing proof file");
  prove->callback([options] { run_prove(*options); });

  CLI::App* verify = keyring->add_subcommand("verify-proof", "check an inclusion proof (needs no secret)");
  verify->add_option("PROOF", options->proof, "proof file (`tracemark keyring prove`)")->required();
  verify->add_option("--root", options->root, "the published root (sha256:HEX) the proof must lead to");
  verify->add_option("--key", options->key, "the revealed subkey's key file: its commitment must be the proof's");
  verify->callback([options] { run_verify_proof(*options); });
}

}  // namespace tracemark::cli
