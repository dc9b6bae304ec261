// Key policies (issue 15, part 2): which keyring label a request gets (precedence: cohort in force >
// model > epoch > default), the accounts-file format of `campaigns --accounts-out`, every refusal
// (account twice, label not in the ring, malformed JSON with line and offset, overlapping epochs),
// and KeySelector: subkeys derived once, reload swaps the policy or keeps the old one.
#include "tracemark/embed/key_policy.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <thread>

#include "test_support.hpp"
#include "tracemark/embed/key_selector.hpp"
#include "tracemark/embed/keyring.hpp"
#include "tracemark/error.hpp"
#include "tracemark/rfc3339_time.hpp"

namespace tracemark {
namespace {

using testing::TemporaryFolder;

std::int64_t at(const char* time) { return *parse_rfc3339_ms(time); }

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

void write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary);
  file << text;
}

Keyring ring_with(std::vector<std::string> labels) {
  SecretBytes master{};
  for (std::size_t i = 0; i < master.size(); ++i) master[i] = static_cast<std::uint8_t>(7 + i);
  SchemeParams params;
  params.vocab_size = 1000;
  params.context_width = 1;
  return Keyring::from_master(master, params, std::move(labels), "2026-01-01T00:00:00Z");
}

constexpr const char* kPolicy = R"({
  "format": "tracemark-key-policy", "format_version": 1,
  "default": "global:main",
  "cohorts": [
    {"label": "cohort:canary-a", "accounts_file": "flagged.tsv", "clusters": ["c1"], "from": "2026-03-10T00:00:00Z"},
    {"label": "cohort:canary-b", "accounts": ["bob", "bea"]}
  ],
  "models": {"tm-large-2026-03": "model:2026-03"},
  "epochs": [
    {"label": "epoch:2026-02"},
    {"label": "global:spring", "from": "2026-04-01T00:00:00Z", "until": "2026-06-01T00:00:00Z"}
  ]
})";

constexpr const char* kFlagged =
    "# account\tcluster (tracemark campaigns; one flagged account a line)\n"
    "acct-000017\tc1\n"
    "acct-000042\tc1\n"
    "acct-000099\tc2\n";

TEST(KeyPolicy, PrecedenceCohortThenModelThenEpochThenDefault) {
  TemporaryFolder folder;
  write(folder.path() / "flagged.tsv", kFlagged);
  write(folder.path() / "policy.json", kPolicy);
  const KeyPolicy policy = KeyPolicy::load(folder.path() / "policy.json");
  const auto label = [&](const char* account, const char* model, const char* time) {
    return *policy.choose(KeyRequest{account, model, at(time)}).label;
  };
  // A cohort from the accounts file, in force from its "from" time on, over the model rule.
  EXPECT_EQ(label("acct-000017", "tm-large-2026-03", "2026-03-10T00:00:00Z"), "cohort:canary-a");
  EXPECT_EQ(policy.choose(KeyRequest{"acct-000017", "x", at("2026-03-11T00:00:00Z")}).rule, KeyRule::cohort);
  // Before "from" the account falls through to the next rules.
  EXPECT_EQ(label("acct-000017", "tm-large-2026-03", "2026-03-09T23:59:59.999Z"), "model:2026-03");
  EXPECT_EQ(label("acct-000017", "other", "2026-03-09T00:00:00Z"), "global:main");
  // Cluster c2 was not selected: its account is an ordinary one.
  EXPECT_EQ(label("acct-000099", "other", "2026-03-20T00:00:00Z"), "global:main");
  // Inline accounts, in force always.
  EXPECT_EQ(label("bob", "tm-large-2026-03", "2020-01-01T00:00:00Z"), "cohort:canary-b");
  // Epochs: a month label covers its month (UTC); an explicit range is [from, until).
  EXPECT_EQ(label("carol", "other", "2026-02-01T00:00:00Z"), "epoch:2026-02");
  EXPECT_EQ(label("carol", "other", "2026-02-28T23:59:59.999Z"), "epoch:2026-02");
  EXPECT_EQ(label("carol", "other", "2026-03-01T00:00:00Z"), "global:main");
  EXPECT_EQ(label("carol", "other", "2026-04-01T00:00:00Z"), "global:spring");
  EXPECT_EQ(label("carol", "other", "2026-06-01T00:00:00Z"), "global:main");
  EXPECT_EQ(policy.choose(KeyRequest{"carol", "other", at("2026-05-01T00:00:00Z")}).rule, KeyRule::epoch);
  // The model rule beats an epoch.
  EXPECT_EQ(label("carol", "tm-large-2026-03", "2026-02-10T00:00:00Z"), "model:2026-03");
  EXPECT_EQ(policy.labels(), (std::vector<std::string>{"cohort:canary-a", "cohort:canary-b", "epoch:2026-02", "global:main",
                                                       "global:spring", "model:2026-03"}));
  EXPECT_EQ(policy.cohort_accounts(), 4u);
}

std::string policy_error(const std::string& text, const std::string& flagged = kFlagged) {
  TemporaryFolder folder;
  write(folder.path() / "flagged.tsv", flagged);
  write(folder.path() / "policy.json", text);
  return error_of([&] { KeyPolicy::load(folder.path() / "policy.json"); });
}

std::string with(const std::string& fields) {
  return R"({"format":"tracemark-key-policy","format_version":1,"default":"global:main")" + fields + "}";
}

TEST(KeyPolicy, RefusesAnAccountNamedTwiceNamingBothPlaces) {
  EXPECT_THAT(policy_error(with(R"(,"cohorts":[{"label":"cohort:a","accounts":["bob"]},{"label":"cohort:b","accounts":["bob"]}])")),
              ::testing::ContainsRegex("account 'bob' is named twice, in .*cohorts\\[0\\]\\.accounts\\[0\\] and in .*cohorts\\[1\\]\\.accounts\\[0\\]"));
  EXPECT_THAT(policy_error(with(R"(,"cohorts":[{"label":"cohort:a","accounts":["bob","bob"]}])")),
              ::testing::HasSubstr("account 'bob' is named twice"));
  // Once inline and once in the accounts file: the file's line and byte offset are named.
  EXPECT_THAT(policy_error(with(R"(,"cohorts":[{"label":"cohort:a","accounts":["acct-000042"]},{"label":"cohort:b","accounts_file":"flagged.tsv"}])")),
              ::testing::ContainsRegex("account 'acct-000042' is named twice, in .*cohorts\\[0\\]\\.accounts\\[0\\] and in .*flagged.tsv line 3 \\(byte offset 83\\) \\(cohorts\\[1\\]\\)"));
}

TEST(KeyPolicy, RefusesMalformedFilesWithWhereAndWhatToDo) {
  // Malformed JSON: file, line and byte offset.
  EXPECT_THAT(policy_error("{\n  \"format\": \"tracemark-key-policy\",\n  \"default\": oops\n}"),
              ::testing::ContainsRegex("policy.json line 3 \\(byte offset [0-9]+\\): not valid JSON .*fix the key policy"));
  EXPECT_THAT(policy_error(with(R"(,"cohort":[])")), ::testing::HasSubstr("unknown field 'cohort'"));
  EXPECT_THAT(policy_error(R"({"format":"tracemark-key-policy","format_version":1})"), ::testing::HasSubstr("default: is missing"));
  EXPECT_THAT(policy_error(R"({"format":"tracemark-key","format_version":1,"default":"global:main"})"),
              ::testing::HasSubstr("format: must be \"tracemark-key-policy\""));
  EXPECT_THAT(policy_error(R"({"format":"tracemark-key-policy","format_version":2,"default":"global:main"})"),
              ::testing::HasSubstr("key policy version 2 is not supported"));
  EXPECT_THAT(policy_error(with(R"(,"models":{"m":"model"})")), ::testing::HasSubstr("models.m: label 'model' has no KIND: prefix"));
  EXPECT_THAT(policy_error(with(R"(,"cohorts":[{"label":"cohort:a"}])")), ::testing::HasSubstr("cohorts[0]: names no accounts"));
  EXPECT_THAT(policy_error(with(R"(,"cohorts":[{"label":"cohort:a","accounts":["a b"]}])")),
              ::testing::HasSubstr("cohorts[0].accounts[0]: account id 'a b' holds a character outside"));
  EXPECT_THAT(policy_error(with(R"(,"cohorts":[{"label":"cohort:a","accounts":["x"],"from":"yesterday"}])")),
              ::testing::HasSubstr("cohorts[0].from: \"yesterday\" is not an RFC 3339 time"));
  EXPECT_THAT(policy_error(with(R"(,"cohorts":[{"label":"cohort:a","accounts_file":"flagged.tsv","clusters":["c9"]}])")),
              ::testing::HasSubstr("cluster 'c9' is in no line of"));
  EXPECT_THAT(policy_error(with(R"(,"cohorts":[{"label":"cohort:a","accounts_file":"flagged.tsv"}])"), "a\tb\tc\n"),
              ::testing::ContainsRegex("flagged.tsv line 1 \\(byte offset 0\\): expected `ACCOUNT` or `ACCOUNT<TAB>CLUSTER`"));
  EXPECT_THAT(policy_error(with(R"(,"cohorts":[{"label":"cohort:a","accounts_file":"missing.tsv"}])")),
              ::testing::HasSubstr("missing.tsv cannot be opened"));
  EXPECT_THAT(policy_error(with(R"(,"epochs":[{"label":"epoch:2026-03"},{"label":"global:x","from":"2026-03-31T00:00:00Z","until":"2026-04-02T00:00:00Z"}])")),
              ::testing::HasSubstr("overlap from 2026-03-31T00:00:00.000Z to 2026-04-01T00:00:00.000Z"));
  EXPECT_THAT(policy_error(with(R"(,"epochs":[{"label":"global:x"}])")), ::testing::HasSubstr("epochs[0]: has no time range"));
  EXPECT_THAT(policy_error(with(R"(,"epochs":[{"label":"global:x","from":"2026-03-31T00:00:00Z"}])")),
              ::testing::HasSubstr("gives only one of \"from\" and \"until\""));
}

TEST(KeyPolicy, RefusesHostileFiles) {
  // Deep nesting, wrong types, numbers out of range and a truncated file: each a clear refusal.
  std::string deep = with(R"(,"models":)");
  deep.pop_back();
  deep += std::string(5000, '[') + std::string(5000, ']') + "}";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {deep, "nested deeper than 128 levels"},
      {with(R"(,"models":{"m":7})"), "models.m: must be a string, not 7"},
      {with(R"(,"cohorts":{"label":"cohort:a"})"), "cohorts: must be an array"},
      {R"({"format":"tracemark-key-policy","format_version":-1,"default":"global:main"})", "format_version: must be the number 1"},
      {R"({"format":"tracemark-key-policy","format_version":1e300,"default":"global:main"})", "format_version: must be the number 1"},
      {R"({"format":"tracemark-key-policy","format_version":1,"default":"glo)", "byte offset 66): not valid JSON"},
      {with(R"(,"cohorts":[{"label":"cohort:a","accounts":[1,2]}])"), "cohorts[0].accounts[0]: must be a string, not 1"},
  };
  for (const auto& [text, expected] : cases) {
    const std::string message = policy_error(text);
    EXPECT_THAT(message, ::testing::HasSubstr("policy.json")) << text.substr(0, 200);
    EXPECT_THAT(message, ::testing::HasSubstr(expected)) << text.substr(0, 200);
  }
}

TEST(KeyPolicy, EveryLabelMustBeInTheRing) {
  TemporaryFolder folder;
  write(folder.path() / "flagged.tsv", kFlagged);
  write(folder.path() / "policy.json", kPolicy);
  const KeyPolicy policy = KeyPolicy::load(folder.path() / "policy.json");
  const Keyring full = ring_with(policy.labels());
  EXPECT_NO_THROW(policy.check_labels_in(full, "ring.json"));
  const Keyring partial = ring_with({"global:main", "cohort:canary-a", "model:2026-03", "epoch:2026-02", "global:spring"});
  EXPECT_THAT(error_of([&] { policy.check_labels_in(partial, "ring.json"); }),
              ::testing::ContainsRegex("not in the keyring ring.json: 'cohort:canary-b' \\(cohorts\\[1\\]\\); the ring has .*Nothing is "
                                       "served under a key the ring does not commit to"));
}

TEST(KeySelector, SelectsDerivedSubkeysAndReloadsAtomically) {
  TemporaryFolder folder;
  const std::filesystem::path policy_path = folder.path() / "policy.json";
  write(policy_path, with(R"(,"cohorts":[{"label":"cohort:a","accounts":["bob"]}])"));
  const Keyring ring = ring_with({"global:main", "cohort:a", "cohort:b"});
  KeySelector selector(ring, "ring.json", policy_path);
  const ServingKey bob = selector.select(KeyRequest{"bob", "m", 0});
  EXPECT_EQ(bob.label, "cohort:a");
  EXPECT_EQ(bob.key_id, ring.derive("cohort:a").key_id());
  EXPECT_EQ(selector.select(KeyRequest{"alice", "m", 0}).key_id, ring.derive("global:main").key_id());
  // The subkey is derived once: every request of a label shares one scheme.
  EXPECT_EQ(selector.select(KeyRequest{"bob", "m", 1}).scheme.green_list.get(), bob.scheme.green_list.get());

  // A valid new policy takes effect for later selections; a request's key already chosen is kept.
  write(policy_path, with(R"(,"cohorts":[{"label":"cohort:b","accounts":["bob"]}])"));
  EXPECT_THAT(selector.reload(), ::testing::HasSubstr("cohort:b = " + ring.derive("cohort:b").key_id()));
  EXPECT_EQ(selector.select(KeyRequest{"bob", "m", 0}).label, "cohort:b");
  EXPECT_EQ(bob.label, "cohort:a");
  EXPECT_NE(bob.scheme.green_list, nullptr);

  // A bad policy (a label not in the ring; malformed JSON) is refused and the old one stays.
  write(policy_path, with(R"(,"cohorts":[{"label":"cohort:c","accounts":["bob"]}])"));
  EXPECT_THAT(error_of([&] { selector.reload(); }), ::testing::HasSubstr("'cohort:c' (cohorts[0])"));
  EXPECT_EQ(selector.select(KeyRequest{"bob", "m", 0}).label, "cohort:b");
  write(policy_path, "{");
  EXPECT_THAT(error_of([&] { selector.reload(); }), ::testing::HasSubstr("not valid JSON"));
  EXPECT_EQ(selector.select(KeyRequest{"bob", "m", 0}).label, "cohort:b");

  // Selections on other threads during reloads always see a whole policy: one of the two labels.
  write(policy_path, with(R"(,"cohorts":[{"label":"cohort:a","accounts":["bob"]}])"));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!stop.load()) {
      const std::string label = selector.select(KeyRequest{"bob", "m", 0}).label;
      if (label != "cohort:a" && label != "cohort:b") bad.fetch_add(1);
    }
  });
  for (int i = 0; i < 20; ++i) {
    write(policy_path, with(std::string(R"(,"cohorts":[{"label":"cohort:)") + (i % 2 ? "a" : "b") + R"(","accounts":["bob"]}])"));
    selector.reload();
  }
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(KeySelector, AFixedKeyHasNothingToReload) {
  const WatermarkKey key = ring_with({"global:main"}).derive("global:main");
  KeySelector selector(key);
  EXPECT_EQ(selector.select(KeyRequest{"anyone", "m", 0}).key_id, key.key_id());
  EXPECT_EQ(selector.select(KeyRequest{"anyone", "m", 0}).label, "");
  EXPECT_FALSE(selector.uses_policy());
  EXPECT_THAT(error_of([&] { selector.reload(); }), ::testing::HasSubstr("no key policy to reload"));
}

}  // namespace
}  // namespace tracemark
