#include "tracemark/embed/key_policy.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <vector>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "tracemark/embed/keyring.hpp"
#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/rfc3339_time.hpp"
#include "tracemark/text_lines.hpp"

namespace tracemark {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kFixHint = "; fix the key policy (docs/METHOD.md, \"Key policies\")";

// Reads a whole plain (not secret) file of at most kMaxKeyPolicyFileBytes.
std::string read_policy_file(const std::filesystem::path& path, std::string_view what) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(ErrorCode::io, std::string(what) + " " + path.string() + " cannot be opened; check the path");
  // Read in blocks with the limit checked as it grows (the file may be a pipe whose size is unknown).
  std::string text;
  std::vector<char> block(1 << 16);
  while (file.read(block.data(), static_cast<std::streamsize>(block.size())) || file.gcount() > 0) {
    text.append(block.data(), static_cast<std::size_t>(file.gcount()));
    if (text.size() > kMaxKeyPolicyFileBytes) {
      throw Error(ErrorCode::invalid_input, std::string(what) + " " + path.string() + " is larger than the " +
                                                std::to_string(kMaxKeyPolicyFileBytes) + " bytes a key policy may have");
    }
  }
  if (file.bad()) throw Error(ErrorCode::io, std::string(what) + " " + path.string() + " could not be read");
  return text;
}

// The 1-based line of a byte offset and the offset of that line's start.
LinePosition position_of(std::string_view text, std::size_t offset) {
  LinePosition position{1, 0};
  for (std::size_t i = 0; i < std::min(offset, text.size()); ++i) {
    if (text[i] == '\n') {
      ++position.line;
      position.byte_offset = i + 1;
    }
  }
  return position;
}

// Field access with the JSON path of every problem in the message.
class PolicyReader {
 public:
  explicit PolicyReader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw Error(ErrorCode::invalid_input, source_ + ": " + where + ": " + what + std::string(kFixHint));
  }

  void only_fields(const Json& object, const std::string& where, std::initializer_list<std::string_view> allowed) const {
    if (!object.is_object()) fail(where, "must be a JSON object, not " + json_excerpt(object));
    for (const auto& [name, value] : object.items()) {
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        std::string names;
        for (const std::string_view a : allowed) names += std::string(names.empty() ? "" : ", ") + std::string(a);
        fail(where, "unknown field '" + escaped_excerpt(name) + "' (the fields are " + names + ")");
      }
    }
  }

  const std::string& string_at(const Json& value, const std::string& where) const {
    if (!value.is_string()) fail(where, "must be a string, not " + json_excerpt(value));
    return value.get_ref<const std::string&>();
  }

  std::string label_at(const Json& value, const std::string& where) const {
    const std::string& label = string_at(value, where);
    try {
      validate_keyring_label(label);
    } catch (const Error& e) {
      fail(where, e.what());
    }
    return label;
  }

  std::int64_t time_at(const Json& value, const std::string& where) const {
    const std::optional<std::int64_t> time = parse_rfc3339_ms(string_at(value, where));
    if (!time) fail(where, json_excerpt(value) + " is not an RFC 3339 time such as 2026-11-03T00:00:00Z");
    return *time;
  }

  const std::string& source() const noexcept { return source_; }

 private:
  std::string source_;
};

bool is_account_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '@' || c == ':' || c == '+' || c == '-';
}

// An account id as `serve --api-keys` accepts it: 1 to 128 of [A-Za-z0-9._@:+-]. Empty when valid,
// else why not.
std::string account_problem(std::string_view account) {
  if (account.empty() || account.size() > 128) return "an account id has 1 to 128 characters";
  if (!std::all_of(account.begin(), account.end(), is_account_char)) {
    return "account id '" + escaped_excerpt(account) + "' holds a character outside [A-Za-z0-9._@:+-]";
  }
  return {};
}

// One row of an accounts file: `ACCOUNT` or `ACCOUNT<TAB>CLUSTER` (what `campaigns --accounts-out`
// writes), with its place for messages.
struct AccountRow {
  std::string account;
  std::string cluster;
  std::string where;
};

std::vector<AccountRow> read_accounts_file(const std::filesystem::path& path) {
  const std::string text = read_policy_file(path, "accounts file");
  const std::string name = path.string();
  std::vector<AccountRow> rows;
  for_each_line(text, [&](std::string_view line, const LinePosition& position) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') return;
    const std::size_t tab = line.find('\t');
    AccountRow row;
    row.account.assign(line.substr(0, tab));
    if (tab != std::string_view::npos) row.cluster.assign(line.substr(tab + 1));
    row.where = describe_position(name, position);
    if (row.cluster.find('\t') != std::string::npos || (tab != std::string_view::npos && row.cluster.empty())) {
      throw Error(ErrorCode::invalid_input, row.where + ": expected `ACCOUNT` or `ACCOUNT<TAB>CLUSTER` (the format of "
                                                        "`tracemark campaigns --accounts-out`)");
    }
    if (const std::string problem = account_problem(row.account); !problem.empty()) {
      throw Error(ErrorCode::invalid_input, row.where + ": " + problem + "; is this an accounts file?");
    }
    rows.push_back(std::move(row));
  });
  return rows;
}

// The month [start, end) of an `epoch:YYYY-MM` label.
std::pair<std::int64_t, std::int64_t> month_of_epoch_label(std::string_view label) {
  const std::string_view month = label.substr(label.find(':') + 1);  // validated: YYYY-MM
  const std::int64_t year = std::stoll(std::string(month.substr(0, 4)));
  const unsigned number = static_cast<unsigned>(std::stoul(std::string(month.substr(5, 2))));
  const std::int64_t start = month_start_ms(year, number);
  const std::int64_t end = number == 12 ? month_start_ms(year + 1, 1) : month_start_ms(year, number + 1);
  return {start, end};
}

}  // namespace

std::string_view key_rule_name(KeyRule rule) noexcept {
  switch (rule) {
    case KeyRule::cohort: return "cohort";
    case KeyRule::model: return "model";
    case KeyRule::epoch: return "epoch";
    case KeyRule::fallback: return "default";
  }
  return "default";
}

KeyPolicy KeyPolicy::load(const std::filesystem::path& path) { return parse(read_policy_file(path, "key policy"), path); }

KeyPolicy KeyPolicy::parse(std::string_view text, const std::filesystem::path& source) {
  const std::string name = source.string();
  JsonProblem problem;
  const std::optional<Json> parsed = try_parse_json(text, problem);
  if (!parsed) {
    throw Error(ErrorCode::invalid_input, describe_position(name, position_of(text, problem.offset),
                                                            problem.offset - position_of(text, problem.offset).byte_offset) +
                                              ": not valid JSON (" + problem.reason + std::string(kFixHint) + ")");
  }
  const Json& file = *parsed;
  const PolicyReader reader(name);
  reader.only_fields(file, "the policy", {"format", "format_version", "default", "cohorts", "models", "epochs"});
  if (!file.contains("format") || reader.string_at(file["format"], "format") != kKeyPolicyFormat) {
    reader.fail("format", "must be \"" + std::string(kKeyPolicyFormat) + "\" (is this a key policy?)");
  }
  if (!file.contains("format_version") || !file["format_version"].is_number_unsigned()) {
    reader.fail("format_version", "must be the number " + std::to_string(kKeyPolicyVersion));
  }
  if (file["format_version"].get<std::uint64_t>() != kKeyPolicyVersion) {
    throw Error(ErrorCode::unsupported, name + ": key policy version " + file["format_version"].dump() +
                                            " is not supported by this build (it reads version " +
                                            std::to_string(kKeyPolicyVersion) + "); upgrade tracemark");
  }
  if (!file.contains("default")) reader.fail("default", "is missing: every policy names the label of requests no rule picks");

  KeyPolicy policy;
  policy.source_ = name;
  policy.default_label_ = reader.label_at(file["default"], "default");

  // Where each account was named first, for the message when it is named again.
  std::map<std::string, std::string> named_at;
  const std::filesystem::path folder = source.parent_path();
  if (file.contains("cohorts")) {
    const Json& cohorts = file["cohorts"];
    if (!cohorts.is_array()) reader.fail("cohorts", "must be an array of {\"label\", \"accounts\", \"accounts_file\", ...}");
    for (std::size_t c = 0; c < cohorts.size(); ++c) {
      const std::string where = "cohorts[" + std::to_string(c) + "]";
      const Json& cohort = cohorts[c];
      reader.only_fields(cohort, where, {"label", "accounts", "accounts_file", "clusters", "from"});
      if (!cohort.contains("label")) reader.fail(where, "has no \"label\"");
      Cohort entry{reader.label_at(cohort["label"], where + ".label"), std::nullopt, where};
      if (cohort.contains("from")) entry.from_ms = reader.time_at(cohort["from"], where + ".from");
      const std::size_t index = policy.cohorts_.size();
      const auto add_account = [&](const std::string& account, const std::string& place) {
        const auto [it, fresh] = named_at.emplace(account, place);
        if (!fresh) {
          throw Error(ErrorCode::invalid_input, name + ": account '" + escaped_excerpt(account) + "' is named twice, in " +
                                                    it->second + " and in " + place +
                                                    "; an account is served under one key, so name it in one cohort once");
        }
        policy.account_cohort_.emplace(account, index);
      };
      if (cohort.contains("accounts")) {
        const Json& accounts = cohort["accounts"];
        if (!accounts.is_array()) reader.fail(where + ".accounts", "must be an array of account ids");
        for (std::size_t a = 0; a < accounts.size(); ++a) {
          const std::string at = where + ".accounts[" + std::to_string(a) + "]";
          const std::string& account = reader.string_at(accounts[a], at);
          if (const std::string why = account_problem(account); !why.empty()) reader.fail(at, why);
          add_account(account, name + " " + at);
        }
      }
      std::set<std::string> clusters;
      if (cohort.contains("clusters")) {
        const Json& list = cohort["clusters"];
        if (!list.is_array() || list.empty()) reader.fail(where + ".clusters", "must be a non-empty array of cluster ids");
        if (!cohort.contains("accounts_file")) reader.fail(where + ".clusters", "selects lines of an \"accounts_file\", but there is none");
        for (std::size_t k = 0; k < list.size(); ++k) clusters.insert(reader.string_at(list[k], where + ".clusters[" + std::to_string(k) + "]"));
      }
      if (cohort.contains("accounts_file")) {
        std::filesystem::path path = reader.string_at(cohort["accounts_file"], where + ".accounts_file");
        if (path.is_relative()) path = folder / path;
        std::set<std::string> seen_clusters;
        for (const AccountRow& row : read_accounts_file(path)) {
          if (!clusters.empty() && !clusters.contains(row.cluster)) continue;
          seen_clusters.insert(row.cluster);
          add_account(row.account, row.where + " (" + where + ")");
        }
        for (const std::string& cluster : clusters) {
          if (!seen_clusters.contains(cluster)) {
            reader.fail(where + ".clusters", "cluster '" + escaped_excerpt(cluster) + "' is in no line of " + path.string());
          }
        }
      }
      if (!cohort.contains("accounts") && !cohort.contains("accounts_file")) {
        reader.fail(where, "names no accounts: give \"accounts\" (a list) or \"accounts_file\" (from `tracemark campaigns --accounts-out`)");
      }
      policy.cohorts_.push_back(std::move(entry));
    }
  }

  if (file.contains("models")) {
    const Json& models = file["models"];
    if (!models.is_object()) reader.fail("models", "must be an object mapping model names to labels");
    for (const auto& [model, label] : models.items()) {
      policy.model_labels_.emplace(model, reader.label_at(label, "models." + model));
    }
  }

  if (file.contains("epochs")) {
    const Json& epochs = file["epochs"];
    if (!epochs.is_array()) reader.fail("epochs", "must be an array of {\"label\", \"from\", \"until\"}");
    for (std::size_t e = 0; e < epochs.size(); ++e) {
      const std::string where = "epochs[" + std::to_string(e) + "]";
      reader.only_fields(epochs[e], where, {"label", "from", "until"});
      if (!epochs[e].contains("label")) reader.fail(where, "has no \"label\"");
      EpochRule rule{reader.label_at(epochs[e]["label"], where + ".label"), 0, 0, where};
      const bool ranged = epochs[e].contains("from") || epochs[e].contains("until");
      if (ranged) {
        if (!epochs[e].contains("from") || !epochs[e].contains("until")) {
          reader.fail(where, "gives only one of \"from\" and \"until\"; give both (until is exclusive)");
        }
        rule.from_ms = reader.time_at(epochs[e]["from"], where + ".from");
        rule.until_ms = reader.time_at(epochs[e]["until"], where + ".until");
        if (rule.until_ms <= rule.from_ms) reader.fail(where, "ends (\"until\") before it starts (\"from\")");
      } else if (rule.label.starts_with("epoch:")) {
        std::tie(rule.from_ms, rule.until_ms) = month_of_epoch_label(rule.label);
      } else {
        reader.fail(where, "has no time range: give \"from\" and \"until\", or use an epoch:YYYY-MM label (its month)");
      }
      policy.epochs_.push_back(std::move(rule));
    }
    std::sort(policy.epochs_.begin(), policy.epochs_.end(),
              [](const EpochRule& a, const EpochRule& b) { return a.from_ms < b.from_ms; });
    for (std::size_t e = 1; e < policy.epochs_.size(); ++e) {
      const EpochRule& before = policy.epochs_[e - 1];
      const EpochRule& after = policy.epochs_[e];
      if (after.from_ms < before.until_ms) {
        reader.fail(before.where + " and " + after.where,
                    "overlap from " + format_rfc3339_ms(after.from_ms) + " to " +
                        format_rfc3339_ms(std::min(before.until_ms, after.until_ms)) +
                        "; at any time at most one epoch rule may apply");
      }
    }
  }
  return policy;
}

KeyChoice KeyPolicy::choose(const KeyRequest& request) const {
  if (!account_cohort_.empty()) {
    const auto it = account_cohort_.find(std::string(request.account));
    if (it != account_cohort_.end()) {
      const Cohort& cohort = cohorts_[it->second];
      if (!cohort.from_ms || request.time_ms >= *cohort.from_ms) return {&cohort.label, KeyRule::cohort};
    }
  }
  if (!model_labels_.empty()) {
    const auto it = model_labels_.find(std::string(request.model));
    if (it != model_labels_.end()) return {&it->second, KeyRule::model};
  }
  // The last rule starting at or before the time; it applies when the time is before its end.
  const auto after = std::upper_bound(epochs_.begin(), epochs_.end(), request.time_ms,
                                      [](std::int64_t time, const EpochRule& rule) { return time < rule.from_ms; });
  if (after != epochs_.begin() && request.time_ms < std::prev(after)->until_ms) return {&std::prev(after)->label, KeyRule::epoch};
  return {&default_label_, KeyRule::fallback};
}

std::vector<std::string> KeyPolicy::labels() const {
  std::set<std::string> labels{default_label_};
  for (const Cohort& c : cohorts_) labels.insert(c.label);
  for (const auto& [model, label] : model_labels_) labels.insert(label);
  for (const EpochRule& e : epochs_) labels.insert(e.label);
  return {labels.begin(), labels.end()};
}

void KeyPolicy::check_labels_in(const Keyring& ring, const std::filesystem::path& ring_path) const {
  std::vector<std::string> missing;
  const auto check = [&](const std::string& label, const std::string& where) {
    if (!ring.contains(label)) missing.push_back("'" + label + "' (" + where + ")");
  };
  check(default_label_, "default");
  for (const Cohort& c : cohorts_) check(c.label, c.where);
  for (const auto& [model, label] : model_labels_) check(label, "models." + model);
  for (const EpochRule& e : epochs_) check(e.label, e.where);
  if (missing.empty()) return;
  std::string list;
  for (const std::string& m : missing) list += std::string(list.empty() ? "" : ", ") + m;
  std::string ring_labels;
  for (const std::string& l : ring.labels()) ring_labels += std::string(ring_labels.empty() ? "" : ", ") + l;
  throw Error(ErrorCode::invalid_input,
              source_ + ": label(s) not in the keyring " + ring_path.string() + ": " + list + "; the ring has " + ring_labels +
                  ". Nothing is served under a key the ring does not commit to: fix the label, or make a ring with it "
                  "(`tracemark keyring new --labels ...`)");
}

}  // namespace tracemark
