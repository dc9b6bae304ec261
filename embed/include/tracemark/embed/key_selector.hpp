// The key each request is watermarked with: one fixed key (`--key`), or a keyring's subkey chosen by
// a key policy (`--keyring --key-policy`) that can be replaced while requests are served.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "tracemark/embed/serving_scheme.hpp"
#include "tracemark/embed/key.hpp"
#include "tracemark/embed/key_policy.hpp"
#include "tracemark/embed/keyring.hpp"

namespace tracemark {

// The key of one request: public names and the scheme; never the secret in text form.
struct ServingKey {
  std::string label;   // the keyring label; empty for a fixed key
  std::string key_id;  // the key's public id (tmk_...), what audit lines record
  ServingScheme scheme;  // a keyring's subkeys are green-list keys; a fixed key may be of any scheme
};

// Thread-safe: select() may run on any number of threads while reload() runs on another. A request
// keeps the ServingKey it got (the scheme is shared), so replacing the policy never changes the key
// of a request in progress, and no request waits for a reload: the policy in force is one
// shared_ptr swapped atomically.
class KeySelector {
 public:
  explicit KeySelector(const WatermarkKey& key);
  // Loads the policy, checks that every label it can choose is in the ring, and derives those
  // subkeys once (HKDF per label, not per request). Throws what KeyPolicy::load and
  // check_labels_in throw.
  KeySelector(Keyring ring, std::filesystem::path ring_path, std::filesystem::path policy_path);

  ServingKey select(const KeyRequest& request) const;

  // Reads the policy file again. On success the new policy is in force for every request that
  // selects its key afterwards, and the return value describes it; on failure (any Error) the old
  // policy stays in force and the error propagates. Subkeys of labels already derived are reused.
  // A fixed-key selector has nothing to reload: throws Error(invalid_argument).
  std::string reload();

  bool uses_policy() const noexcept { return ring_.has_value(); }
  // The scheme parameters every key shares (the ring's, or the fixed key's).
  const SchemeParams& params() const noexcept { return params_; }
  // "watermark key tmk_..." or "keyring RING_ID (N labels), policy FILE: ...", for start-up lines.
  std::string describe() const;

 private:
  struct State {
    std::optional<KeyPolicy> policy;         // absent for a fixed key
    std::map<std::string, ServingKey> keys;  // by label ("" for a fixed key)
  };
  std::shared_ptr<const State> load_state(const State* previous) const;
  static std::string describe_state(const State& state);

  std::optional<Keyring> ring_;
  std::filesystem::path ring_path_;
  std::filesystem::path policy_path_;
  SchemeParams params_;
  std::atomic<std::shared_ptr<const State>> state_;
  std::mutex reload_mutex_;  // one reload at a time
};

}  // namespace tracemark
