// Key policies: which keyring label watermarks a request, by the account that sent it (cohorts, for
// example the accounts `tracemark campaigns --accounts-out` flagged), by the model version served,
// by the time (epochs), and a default. Only the choice of label lives here; PolicyKeys
// (policy_keys.hpp) turns labels into keys. docs/METHOD.md ("Key policies") gives the format.
//
// Precedence, first match wins: an account cohort in force at the request's time, then the model,
// then an epoch rule covering the time, then the default. An account is in at most one cohort and
// epoch rules never overlap, so at most one rule of each kind can match.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tracemark {

class Keyring;

inline constexpr std::string_view kKeyPolicyFormat = "tracemark-key-policy";
inline constexpr std::uint32_t kKeyPolicyVersion = 1;
// A policy file and each accounts file it names are read whole, up to this size.
inline constexpr std::size_t kMaxKeyPolicyFileBytes = std::size_t{64} << 20;

// What a policy looks at in a request.
struct KeyRequest {
  std::string_view account;
  std::string_view model;    // the model name served (the audit line's "model")
  std::int64_t time_ms = 0;  // milliseconds since 1970-01-01T00:00:00Z
};

enum class KeyRule { cohort, model, epoch, fallback };
std::string_view key_rule_name(KeyRule rule) noexcept;  // "cohort", "model", "epoch", "default"

struct KeyChoice {
  const std::string* label = nullptr;  // into the policy; valid while the policy lives; never null
  KeyRule rule = KeyRule::fallback;
};

// A parsed, validated policy. Immutable; safe to share across threads.
class KeyPolicy {
 public:
  // Reads `path` (a plain file, not a secret: no permission check) and the accounts files it names,
  // relative to the policy's folder. Throws Error(io) for a file that cannot be read,
  // Error(invalid_input) for malformed JSON (file, line, byte offset), a field of the wrong type or an
  // unknown one (its JSON path), a malformed label or time, an accounts-file line that is not
  // `ACCOUNT` or `ACCOUNT<TAB>CLUSTER` (file, line, byte offset), an account named twice (both
  // places), a listed cluster found in no line, overlapping epoch rules, an epoch rule without a time
  // range; Error(unsupported) for another format version. Every message says what to do.
  static KeyPolicy load(const std::filesystem::path& path);
  // The same from text; accounts files are looked up relative to source's folder.
  static KeyPolicy parse(std::string_view text, const std::filesystem::path& source);

  KeyChoice choose(const KeyRequest& request) const;

  // Every label the policy can choose, distinct, sorted.
  std::vector<std::string> labels() const;
  // Throws Error(invalid_input) when a label of the policy is not among the ring's labels (the
  // message names the policy's place of each such label and the ring's labels): a ring derives any
  // label, so a typo would otherwise watermark under a key nobody committed to.
  void check_labels_in(const Keyring& ring, const std::filesystem::path& ring_path) const;

  const std::string& source() const noexcept { return source_; }
  std::size_t cohort_accounts() const noexcept { return account_cohort_.size(); }
  std::size_t cohort_count() const noexcept { return cohorts_.size(); }

 private:
  struct Cohort {
    std::string label;
    std::optional<std::int64_t> from_ms;  // in force from this time on (inclusive); always when absent
    std::string where;                    // "cohorts[2]", for messages
  };
  struct EpochRule {
    std::string label;
    std::int64_t from_ms = 0;   // inclusive
    std::int64_t until_ms = 0;  // exclusive
    std::string where;
  };
  KeyPolicy() = default;

  std::string source_;
  std::string default_label_;
  std::vector<Cohort> cohorts_;
  std::unordered_map<std::string, std::size_t> account_cohort_;  // account -> index into cohorts_
  std::unordered_map<std::string, std::string> model_labels_;    // model name -> label
  std::vector<EpochRule> epochs_;                                 // sorted by from_ms, disjoint
};

}  // namespace tracemark
