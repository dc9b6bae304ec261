// tracemark evidence keygen|verify: the signing key for evidence bundles, and the check of a bundle
// (digests, signature, timestamp; with --key, a re-run of the scan). Bundles are written by
// `tracemark scan --evidence DIR`. The work is in verify/evidence_bundle.hpp.
#include <iostream>
#include <memory>
#include <thread>

#include "commands.hpp"
#include "shared_options.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/evidence_bundle.hpp"
#include "tracemark/verify/evidence_signing.hpp"

namespace tracemark::cli {
namespace {

struct KeygenOptions {
  std::string out;
  std::string public_out;
  bool force = false;
};

struct VerifyOptions {
  std::string folder;
  BundleVerifyOptions bundle;
  std::string public_key;
  std::string tsa_ca;
  std::vector<std::string> keys;
};

// Exit status 1 would read as "internal error"; a bundle that fails its checks is exit 2 with the
// reasons, like any other bad input.
class BundleFailed : public Error {
 public:
  explicit BundleFailed(const std::string& message) : Error(ErrorCode::invalid_input, message) {}
};

void run_verify(VerifyOptions options) {
  options.bundle.public_key = options.public_key;
  options.bundle.tsa_ca = options.tsa_ca;
  std::vector<WatermarkKey> keys;
  for (const std::string& path : options.keys) keys.push_back(WatermarkKey::load(path));
  const BundleVerification result = verify_evidence_bundle(options.folder, options.bundle, keys);
  for (const std::string& line : result.checked) std::cout << "ok: " << line << "\n";
  for (const std::string& line : result.failures) std::cout << "FAIL: " << line << "\n";
  if (!result.ok()) {
    throw BundleFailed("evidence bundle " + options.folder + " does not verify: " + std::to_string(result.failures.size()) +
                       " problem(s), listed above; do not rely on it");
  }
  std::cout << "evidence bundle " << options.folder << " verifies"
            << (keys.empty() ? " (digests and signature; give --key to re-run the scan)" : " (and the re-run reproduces it)")
            << "\n";
}

}  // namespace

void add_evidence_command(CLI::App& app) {
  CLI::App* evidence = app.add_subcommand("evidence", "signing keys for evidence bundles, and checking a bundle");
  evidence->require_subcommand(1);

  auto keygen = std::make_shared<KeygenOptions>();
  CLI::App* keygen_command = evidence->add_subcommand("keygen", "make an Ed25519 signing key (mode 0600) and its public key");
  add_out_option(*keygen_command, keygen->out, "private key file (PEM, written with mode 0600)");
  keygen_command->add_option("--public-out", keygen->public_out, "public key file (default: the --out path + .pub)");
  add_force_flag(*keygen_command, keygen->force, "existing key files");
  keygen_command->callback([keygen] {
    const std::string public_out = keygen->public_out.empty() ? keygen->out + ".pub" : keygen->public_out;
    const std::string id = generate_signing_key(keygen->out, public_out, keygen->force);
    std::cout << "signing key " << id << "\n  private: " << keygen->out << " (mode 0600; keep it secret)\n  public:  "
              << public_out << " (give it to whoever checks the bundles)\n";
  });

  auto verify = std::make_shared<VerifyOptions>();
  verify->bundle.threads = std::max(1u, std::thread::hardware_concurrency());
  CLI::App* verify_command = evidence->add_subcommand(
      "verify", "check every digest, the signature and the timestamp of a bundle; with --key, re-run the scan");
  verify_command->add_option("DIR", verify->folder, "the bundle folder")->required();
  verify_command->add_option("--public-key", verify->public_key, "the signer's public key (PEM)")->required();
  verify_command->add_option("--key", verify->keys,
                             "watermark key files of the scan (all of them, in keys.json's order): re-run the scan on the "
                             "bundled inputs and check that every recorded figure is reproduced");
  verify_command->add_option("--keyring-root", verify->bundle.ring_root,
                             "the keyring root published before the scan (`tracemark keyring commit`): the bundle's "
                             "attribution must be under that ring");
  verify_command->add_option("--tsa-ca", verify->tsa_ca, "CA certificates (PEM) of the timestamp authority, to check manifest.tsr's chain");
  add_threads_option(*verify_command, verify->bundle.threads, "worker threads for the re-run (results do not depend on it)");
  verify_command->callback([verify] { run_verify(*verify); });
}

}  // namespace tracemark::cli
