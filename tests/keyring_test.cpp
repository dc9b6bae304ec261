// Keyrings: derivation by label, the ring's Merkle root and inclusion proofs, the ring file, and the
// claim that subkeys of one ring are independent keys, each valid under the null on human text.
#include "tracemark/embed/keyring.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "scheme_test_support.hpp"
#include "test_support.hpp"
#include "tokenizer_test_support.hpp"
#include "tracemark/embed/green_list_scheme.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/green_list_detector.hpp"
#include "tracemark/verify/two_sample.hpp"

namespace tracemark {
namespace {

SecretBytes master_with(std::uint8_t first) {
  SecretBytes master{};
  for (std::size_t i = 0; i < master.size(); ++i) master[i] = static_cast<std::uint8_t>(first + i);
  return master;
}

SchemeParams ring_params(std::uint32_t vocab = 1000) {
  SchemeParams params;
  params.vocab_size = vocab;
  params.context_width = 1;
  return params;
}

const std::vector<std::string> kLabels = {"model:v1", "model:v2", "cohort:campaign-a", "cohort:campaign-b",
                                          "epoch:2026-03", "global:all"};

Keyring fixed_ring(std::vector<std::string> labels = kLabels) {
  return Keyring::from_master(master_with(0), ring_params(), std::move(labels), "2026-01-01T00:00:00Z");
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Keyring, DerivationIsDeterministicAndNeedsOnlyMasterAndLabel) {
  const Keyring a = fixed_ring();
  // Another ring with the same master and a different label set gives the same subkey for a label
  // both hold: a subkey depends on nothing but the master secret and its label.
  const Keyring b = fixed_ring({"model:v1", "cohort:other"});
  EXPECT_EQ(a.derive("model:v1").commitment_hex(), b.derive("model:v1").commitment_hex());
  EXPECT_EQ(a.derive("model:v1").key_id(), fixed_ring().derive("model:v1").key_id());
  EXPECT_EQ(a.derive("model:v1").params(), ring_params());
  EXPECT_EQ(a.ring_id(), fixed_ring().ring_id());
  EXPECT_EQ(a.root(), fixed_ring().root());
  EXPECT_NE(a.root(), b.root());
  const Keyring other_master = Keyring::from_master(master_with(1), ring_params(), kLabels, "2026-01-01T00:00:00Z");
  EXPECT_NE(a.derive("model:v1").commitment_hex(), other_master.derive("model:v1").commitment_hex());
  EXPECT_NE(a.root(), other_master.root());
}

TEST(Keyring, KnownAnswerVector) {
  // Master 00..1f, parameters gamma 0.25, delta 2, h 1, 1,000 ids, scheme version 2. The values were
  // computed independently of this build from docs/METHOD.md ("Keyrings") with Python's hmac and
  // hashlib (HKDF-SHA256 of RFC 5869, the key commitment's layout, RFC 6962's tree).
  const Keyring ring = fixed_ring();
  EXPECT_EQ(ring.ring_id(), "tmr_34c4f0d1a93ba57d");
  EXPECT_EQ(ring.derive("model:v1").key_id(), "tmk_e7533226ecf95390");
  EXPECT_EQ(ring.derive("model:v1").commitment_hex(), "e0e7af5e0891328daf9573a5b4c7efefb884e0ee80d70bcde5b9f4919efff4fb");
  EXPECT_EQ(ring.root(), "sha256:1b8ed3888bcd38b65c1b480ccaca6eb5c77e9fd4bdd7f9bc6cc0894dbff94aad");
}

TEST(Keyring, LabelsGiveDistinctKeys) {
  const Keyring ring = fixed_ring();
  std::map<std::string, std::string> seen;
  for (const std::string& label : kLabels) {
    const std::string commitment = ring.derive(label).commitment_hex();
    EXPECT_TRUE(seen.emplace(commitment, label).second) << label << " and " << seen[commitment];
  }
  // Labels that differ only where a naive concatenation would blur them still differ.
  const Keyring tricky = fixed_ring({"model:v1", "model:v10", "model:v1.0"});
  EXPECT_NE(tricky.derive("model:v1").commitment_hex(), tricky.derive("model:v10").commitment_hex());
  // A subkey is not the master secret used as a key.
  SecretBytes master = master_with(0);
  EXPECT_NE(ring.derive("model:v1").commitment_hex(),
            WatermarkKey::from_secret(master, ring_params(), "2026-01-01T00:00:00Z").commitment_hex());
}

TEST(Keyring, BadLabelsAreRefusedWithTheRule) {
  const Keyring ring = fixed_ring();
  EXPECT_NE(error_of([&] { ring.derive("cohort:nobody"); }).find("is not in keyring " + ring.ring_id()), std::string::npos);
  EXPECT_NE(error_of([&] { ring.derive("cohort:nobody"); }).find("model:v1"), std::string::npos);  // lists the labels
  for (const char* bad : {"v1", "team:a", "model:", "model:has space", "epoch:2026-13", "epoch:march", "cohort:a/b"}) {
    const std::string message = error_of([&] { ring.derive(bad); });
    EXPECT_NE(message.find("a label is KIND:NAME"), std::string::npos) << bad << ": " << message;
  }
  EXPECT_NE(error_of([&] { fixed_ring({"model:v1", "model:v1"}); }).find("given twice"), std::string::npos);
  EXPECT_NE(error_of([&] { fixed_ring({}); }).find("at least one label"), std::string::npos);
  EXPECT_NE(error_of([&] { fixed_ring({std::string("model:") + std::string(65, 'x')}); }).find("65 characters"), std::string::npos);
}

TEST(Keyring, EveryProofVerifiesForRingsOfEverySize) {
  for (std::size_t n = 1; n <= 9; ++n) {
    std::vector<std::string> labels;
    for (std::size_t i = 0; i < n; ++i) labels.push_back("cohort:c" + std::to_string(i));
    const Keyring ring = fixed_ring(labels);
    for (const std::string& label : ring.labels()) {
      const KeyringProof proof = ring.prove(label);
      EXPECT_NO_THROW(proof.verify(ring.root())) << n << " leaves, " << label;
      EXPECT_EQ(proof.commitment, "sha256:" + ring.derive(label).commitment_hex());
      const KeyringProof parsed = KeyringProof::parse(proof.to_json(), "<memory>");
      EXPECT_NO_THROW(parsed.verify(ring.root()));
    }
  }
}

TEST(Keyring, HostileProofFilesAreRefusedWithWhatIsWrong) {
  const std::string good = fixed_ring().prove("cohort:campaign-a").to_json();
  const auto refused = [](const std::string& text, const std::string& why) {
    const std::string message = error_of([&] { (void)KeyringProof::parse(text, "p.json"); });
    EXPECT_NE(message.find("keyring proof p.json"), std::string::npos) << message;
    EXPECT_NE(message.find(why), std::string::npos) << message;
  };
  const auto edited = [&](const std::string& field, const std::string& value) {
    nlohmann::json document = nlohmann::json::parse(good);
    document[field] = nlohmann::json::parse(value);
    return document.dump();
  };
  refused(good.substr(0, good.size() / 2), "not valid JSON at byte offset");       // truncated
  refused(std::string(100000, '[') + std::string(100000, ']'), "not valid JSON");   // deep nesting
  refused("[1, 2]", "expected a JSON object");
  refused(edited("leaf_index", "\"3\""), "'leaf_index' must be an unsigned integer");  // wrong type
  refused(edited("leaf_index", "-1"), "'leaf_index' must be an unsigned integer");      // out of range
  refused(edited("leaf_count", "1e30"), "'leaf_count' must be an unsigned integer");
  refused(edited("path", "\"ab\""), "'path' must be an array");
  refused(edited("path", "[7]"), "'path[0]' must be a string");
  nlohmann::json long_path = nlohmann::json::parse(good);
  long_path["path"] = std::vector<std::string>(65, std::string(64, '0'));
  refused(long_path.dump(), "never that deep");
  // In range for the parser, impossible for the tree: verify says so instead of indexing past it.
  KeyringProof proof = KeyringProof::parse(edited("leaf_index", "18446744073709551615"), "p.json");
  EXPECT_NE(error_of([&] { proof.verify(""); }).find("cannot place leaf"), std::string::npos);
}

TEST(Keyring, TamperedProofsFail) {
  const Keyring ring = fixed_ring();
  const KeyringProof good = ring.prove("cohort:campaign-a");
  ASSERT_FALSE(good.path.empty());
  const auto fails = [&](KeyringProof proof, const std::string& expected_root, const std::string& why) {
    const std::string message = error_of([&] { proof.verify(expected_root); });
    EXPECT_NE(message.find(why), std::string::npos) << message;
  };
  KeyringProof proof = good;
  proof.label = "cohort:campaign-b";  // claim another label for the same subkey
  fails(proof, ring.root(), "does not lead to the proof's root");
  proof = good;
  proof.commitment = "sha256:" + ring.derive("cohort:campaign-b").commitment_hex();  // another subkey
  fails(proof, ring.root(), "does not lead");
  proof = good;
  proof.path[0][5] = proof.path[0][5] == '0' ? '1' : '0';
  fails(proof, ring.root(), "does not lead");
  proof = good;
  proof.leaf_index ^= 1;
  fails(proof, ring.root(), "does not lead");
  proof = good;
  proof.path.pop_back();
  fails(proof, ring.root(), "cannot place leaf");
  proof = good;
  proof.leaf_count = 1000;
  fails(proof, ring.root(), "cannot place leaf");
  proof = good;
  proof.path[0] = "xyz";
  fails(proof, ring.root(), "not 64 hex digits");
  // A proof that is self-consistent but for another ring's root.
  const Keyring other = Keyring::from_master(master_with(7), ring_params(), kLabels, "2026-01-01T00:00:00Z");
  fails(other.prove("cohort:campaign-a"), ring.root(), "not the published root");
  // A path cut short, claiming the leaf sits in a smaller tree one level up, does not verify either.
  proof = good;
  proof.path.erase(proof.path.begin());
  proof.leaf_index /= 2;
  proof.leaf_count = (proof.leaf_count + 1) / 2;
  fails(proof, ring.root(), "");
  EXPECT_ANY_THROW(proof.verify(ring.root()));
}

TEST(Keyring, RingFileRoundTripsAndRefusesUnsafeOrEditedFiles) {
  testing::TemporaryFolder folder;
  const std::filesystem::path path = folder.path() / "ring.json";
  const Keyring ring = Keyring::generate(ring_params(), kLabels);
  ring.save(path, false);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  const Keyring loaded = Keyring::load(path);
  EXPECT_EQ(loaded.root(), ring.root());
  EXPECT_EQ(loaded.derive("cohort:campaign-a").commitment_hex(), ring.derive("cohort:campaign-a").commitment_hex());
  EXPECT_NE(error_of([&] { ring.save(path, false); }).find("exists"), std::string::npos);
  // The public description never holds the master secret.
  std::ifstream file(path);
  const nlohmann::json text = nlohmann::json::parse(file);
  EXPECT_EQ(ring.public_json().find(text.at("master_secret").get<std::string>()), std::string::npos);

  ::chmod(path.c_str(), 0640);
  EXPECT_NE(error_of([&] { Keyring::load(path); }).find("chmod 600"), std::string::npos);
  ::chmod(path.c_str(), 0600);

  // Edited files: a label added, a commitment changed, the root changed.
  const auto edited = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json copy = text;
    edit(copy);
    return error_of([&] { Keyring::parse(copy.dump(), "ring.json"); });
  };
  EXPECT_NE(edited([](nlohmann::json& f) {
              const nlohmann::json first = f["subkeys"][0];
              f["subkeys"].push_back(first);
            }).find("given twice"),
            std::string::npos);
  EXPECT_NE(edited([](nlohmann::json& f) { f["subkeys"][0]["commitment"] = "sha256:" + std::string(64, '0'); })
                .find("commitment does not match the master secret"),
            std::string::npos);
  EXPECT_NE(edited([](nlohmann::json& f) { f["root"] = "sha256:" + std::string(64, '0'); }).find("root does not match"),
            std::string::npos);
  EXPECT_NE(edited([](nlohmann::json& f) { f["format"] = "tracemark-key"; }).find("--key, not --keyring"), std::string::npos);
  EXPECT_NE(edited([](nlohmann::json& f) { f["subkeys"][1]["label"] = "bogus"; }).find("a label is KIND:NAME"), std::string::npos);
  const std::string bad_json = error_of([&] { Keyring::parse("{\"master_secret\": \"00ff", "ring.json"); });
  EXPECT_NE(bad_json.find("byte offset"), std::string::npos);
  EXPECT_EQ(bad_json.find("00ff"), std::string::npos);  // no excerpt of a secret file
}

// Subkeys of one ring are independent keys: on human text (the Brown corpus, cl100k_base ids) each
// subkey's pooled test is valid, and the tests of one ring's labels are independent of each other.
// 40 fresh rings x 12 labels = 480 tests on one fixed text of 10 documents (a fixed text makes the tuples the same
// for every test; only the keys vary, so any dependence between labels would show as correlation).
TEST(Keyring, SubkeysAreIndependentValidTestsOnHumanText) {
  const auto documents = testing::parity_ids("cl100k_base", "brown");
  ASSERT_GE(documents.size(), 10u);
  std::vector<std::vector<std::uint32_t>> text(documents.begin(), documents.begin() + 10);
  std::vector<std::string> labels;
  for (int i = 0; i < 12; ++i) labels.push_back("cohort:c" + std::to_string(i));
  SchemeParams params;
  params.vocab_size = 100352;  // cl100k_base's ids and specials
  params.context_width = 2;
  std::mt19937_64 rng(testing::announce_seed(20261202));
  std::map<double, int> below;
  std::map<double, double> expected, variance;
  std::map<double, int> compared_below;  // Fisher comparisons of disjoint label pairs (attribution)
  int comparisons = 0;
  double sum_xy = 0, sum_x2 = 0;  // centred z-scores of neighbouring labels, for their correlation
  std::uint64_t pairs = 0, scored_total = 0;
  const int rings = 40;
  for (int r = 0; r < rings; ++r) {
    SecretBytes master{};
    for (auto& byte : master) byte = static_cast<std::uint8_t>(rng());
    const Keyring ring = Keyring::from_master(master, params, labels, "2026-01-01T00:00:00Z");
    std::vector<double> z;
    std::vector<BinomialTest> tests;
    for (const std::string& label : ring.labels()) {
      GreenListDetector detector(std::make_shared<const GreenListScheme>(ring.derive(label)));
      for (const auto& document : text) detector.add_document(document);
      const BinomialTest test = detector.test(detector.pooled());
      scored_total += test.scored;
      tests.push_back(test);
      z.push_back(test.z);
      for (double alpha : {0.01, 0.05}) {
        below[alpha] += test.p_value < alpha;
        const double size = testing::attainable_size(test.scored, test.gamma, alpha);
        expected[alpha] += size;
        variance[alpha] += size * (1 - size);
      }
    }
    // Attribution's comparison of two labels' green rates on the same tuples: valid under the null.
    for (std::size_t i = 0; i + 1 < tests.size(); i += 2) {
      const double p = std::exp(log_fisher_exact_greater(tests[i].green, tests[i].scored, tests[i + 1].green, tests[i + 1].scored));
      for (double alpha : {0.01, 0.05}) compared_below[alpha] += p < alpha;
      ++comparisons;
    }
    for (std::size_t i = 0; i + 1 < z.size(); ++i) {
      sum_xy += z[i] * z[i + 1];
      sum_x2 += z[i] * z[i];
      ++pairs;
    }
  }
  const int tests = rings * static_cast<int>(labels.size());
  std::cout << "mean scored tuples per test " << scored_total / tests << "\n";
  EXPECT_GT(scored_total / tests, 5000u);
  for (double alpha : {0.01, 0.05}) {
    std::cout << "p < " << alpha << ": " << below[alpha] << " of " << tests << " (exact expectation " << expected[alpha] << ")\n";
    EXPECT_LE(std::fabs(below[alpha] - expected[alpha]), 3.3 * std::sqrt(variance[alpha])) << "alpha " << alpha;
    EXPECT_LE(expected[alpha], tests * alpha);
  }
  for (double alpha : {0.01, 0.05}) {
    std::cout << "label comparisons with p < " << alpha << ": " << compared_below[alpha] << " of " << comparisons << "\n";
    EXPECT_LE(compared_below[alpha], comparisons * alpha + 3.3 * std::sqrt(comparisons * alpha * (1 - alpha))) << alpha;
  }
  // z-scores have mean 0 and variance 1 under the null, so sum z_i z_{i+1} / pairs estimates their
  // correlation with standard error 1/sqrt(pairs); independent labels keep it within 3.3 of those.
  const double correlation = sum_xy / static_cast<double>(pairs);
  std::cout << "correlation of neighbouring labels' z-scores " << correlation << " over " << pairs << " pairs; mean z^2 "
            << sum_x2 / static_cast<double>(pairs) << "\n";
  EXPECT_LT(std::fabs(correlation), 3.3 / std::sqrt(static_cast<double>(pairs)));
}

}  // namespace
}  // namespace tracemark
