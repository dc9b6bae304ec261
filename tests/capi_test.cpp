// The C ABI (libtracemark.so.0) against the C++ libraries it wraps: same biases, same detection,
// errors as statuses with messages, NULL handling, thread-local messages, no secret in messages.
#include "tracemark/tracemark.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>

#include "test_support.hpp"
#include "tracemark/embed/keyring.hpp"
#include "tracemark/sha256.hpp"
#include "tracemark/embed/watermark_processor.hpp"
#include "tracemark/verify/green_list_detector.hpp"
#include "tracemark/verify/gumbel_max_detector.hpp"
#include "tracemark/verify/tournament_detector.hpp"

namespace tracemark {
namespace {

std::string golden_key_text() {
  std::ifstream file(std::filesystem::path(TRACEMARK_TEST_DATA) / "kgw_v1_key.json");
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

constexpr const char* kGoldenSecretHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

struct KeyHandle {
  tm_key* key = nullptr;
  ~KeyHandle() { tm_key_free(key); }
};
struct ProcessorHandle {
  tm_processor* processor = nullptr;
  ~ProcessorHandle() { tm_processor_free(processor); }
};

class CApi : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string text = golden_key_text();
    ASSERT_EQ(tm_key_load_memory(text.data(), text.size(), &key_.key), TM_OK) << tm_last_error();
    scheme_ = std::make_shared<const GreenListScheme>(testing::golden_key(testing::params_with(0.25, 2.0, 2, 50257)));
  }
  KeyHandle key_;
  std::shared_ptr<const GreenListScheme> scheme_;
};

TEST_F(CApi, KeyInfoIsTheGoldenKeysPublicPart) {
  tm_key_info info;
  info.size = sizeof info;
  ASSERT_EQ(tm_key_get_info(key_.key, &info), TM_OK);
  EXPECT_EQ(info.vocab_size, 50257u);
  EXPECT_EQ(info.context_width, 2u);
  EXPECT_EQ(info.scheme_version, 1u);
  EXPECT_EQ(info.gamma, 0.25);
  EXPECT_EQ(info.delta, 2.0);
  EXPECT_EQ(info.null_green_probability, 0.25);
  EXPECT_STREQ(info.key_id, "tmk_33e75962f43d9849");
  EXPECT_EQ(info.size, sizeof info);
}

// Extensible structs: a caller compiled against a newer header (a larger struct) gets the fields
// this library knows and zeros after them; options it does not know are refused unless zero; a
// size below the first version is refused and nothing is written.
TEST_F(CApi, ExtensibleStructsReadAndWriteOnlyTheCallersSize) {
  struct NewerKeyInfo {
    tm_key_info known;
    std::uint64_t added_later;
  } newer;
  std::memset(&newer, 0xAB, sizeof newer);
  newer.known.size = sizeof newer;
  ASSERT_EQ(tm_key_get_info(key_.key, &newer.known), TM_OK) << tm_last_error();
  EXPECT_EQ(newer.known.size, sizeof(tm_key_info)) << "size tells the caller how many bytes were filled";
  EXPECT_EQ(newer.known.vocab_size, 50257u);
  EXPECT_EQ(newer.added_later, 0u) << "bytes beyond the library's struct are zeroed";

  tm_key_info small;
  std::memset(&small, 0xAB, sizeof small);
  small.size = 16;
  EXPECT_EQ(tm_key_get_info(key_.key, &small), TM_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tm_last_error()).find("sizeof(tm_key_info)"), std::string::npos) << tm_last_error();
  EXPECT_EQ(small.vocab_size, 0xABABABABu) << "nothing is written on an error";

  struct NewerParams {
    tm_processor_params known;
    std::int32_t option_added_later;
    std::int32_t padding;
  } params;
  std::memset(&params, 0xAB, sizeof params);
  ASSERT_EQ(tm_processor_params_init(&params.known, sizeof params), TM_OK) << tm_last_error();
  EXPECT_EQ(params.known.allow_padded_logits, 1);
  EXPECT_EQ(params.option_added_later, 0);
  EXPECT_EQ(params.known.size, sizeof(tm_processor_params));
  params.known.size = sizeof params;
  ProcessorHandle accepted;
  EXPECT_EQ(tm_processor_create(key_.key, &params.known, &accepted.processor), TM_OK) << tm_last_error();
  params.option_added_later = 1;
  ProcessorHandle refused;
  EXPECT_EQ(tm_processor_create(key_.key, &params.known, &refused.processor), TM_UNSUPPORTED);
  EXPECT_EQ(refused.processor, nullptr);
  EXPECT_NE(std::string(tm_last_error()).find("does not know"), std::string::npos) << tm_last_error();

  tm_processor_params garbage;
  std::memset(&garbage, 0, sizeof garbage);
  EXPECT_EQ(tm_processor_create(key_.key, &garbage, &refused.processor), TM_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tm_last_error()).find("tm_processor_params_init"), std::string::npos) << tm_last_error();
  EXPECT_EQ(tm_processor_params_init(&garbage, 4), TM_INVALID_ARGUMENT);
}

TEST_F(CApi, FullVocabularyAndCandidateBiasEqualTheCppProcessor) {
  std::mt19937 rng(static_cast<std::mt19937::result_type>(testing::announce_seed(20261125)));
  ProcessorHandle processor;
  ASSERT_EQ(tm_processor_create(key_.key, nullptr, &processor.processor), TM_OK);
  WatermarkProcessor reference(scheme_);
  const std::uint32_t prompt[] = {17, 4242, 9};
  ASSERT_EQ(tm_processor_reset(processor.processor, prompt, 3), TM_OK);
  reference.reset(prompt);
  std::uniform_real_distribution<float> logit(-5.0f, 5.0f);
  std::uniform_int_distribution<std::uint32_t> token(0, 50256);
  int biased_steps = 0;
  for (int step = 0; step < 30; ++step) {
    std::vector<float> logits(50257), expected;
    for (float& value : logits) value = logit(rng);
    expected = logits;
    ASSERT_EQ(tm_processor_apply(processor.processor, logits.data(), logits.size()), TM_OK);
    reference.apply(std::span<float>(expected));
    ASSERT_EQ(logits, expected) << "step " << step;
    EXPECT_EQ(tm_processor_will_bias(processor.processor), reference.will_bias() ? 1 : 0);
    biased_steps += reference.will_bias();

    std::vector<tm_candidate> candidates(40);
    std::vector<Candidate> expected_candidates(40);
    for (std::size_t i = 0; i < 40; ++i) {
      candidates[i] = {token(rng), logit(rng)};
      expected_candidates[i] = {candidates[i].id, candidates[i].logit};
    }
    ASSERT_EQ(tm_processor_apply_candidates(processor.processor, candidates.data(), 40), TM_OK);
    reference.apply(std::span<Candidate>(expected_candidates));
    for (std::size_t i = 0; i < 40; ++i) ASSERT_EQ(candidates[i].logit, expected_candidates[i].logit);

    // Repeat a context now and then: the C ABI must skip it exactly as the C++ processor does.
    const std::uint32_t next = step % 7 == 6 ? 17u : token(rng);
    ASSERT_EQ(tm_processor_accept(processor.processor, next), TM_OK);
    reference.accept(next);
  }
  EXPECT_GT(biased_steps, 20);
}

TEST_F(CApi, GoldenGreenTokensGetDelta) {
  ProcessorHandle processor;
  ASSERT_EQ(tm_processor_create(key_.key, nullptr, &processor.processor), TM_OK);
  const nlohmann::json golden = testing::load_golden("kgw_v1_vectors.json");
  for (const auto& entry : golden["contexts"]) {
    const auto context = entry["context"].get<std::vector<std::uint32_t>>();
    ASSERT_EQ(tm_processor_reset(processor.processor, context.data(), context.size()), TM_OK);
    std::vector<float> logits(50257, 0.0f);
    ASSERT_EQ(tm_processor_apply(processor.processor, logits.data(), logits.size()), TM_OK);
    for (const auto& token : entry["tokens"]) {
      EXPECT_EQ(logits[token[0].get<std::uint32_t>()], token[2].get<bool>() ? 2.0f : 0.0f);
    }
  }
}

TEST_F(CApi, BatchRowsAreIndependentAndNullRowsUntouched) {
  constexpr std::size_t batch = 4, vocab = 50257, stride = 50304;  // a padded row stride
  std::vector<ProcessorHandle> processors(batch);
  std::vector<tm_processor*> row_processors(batch);
  std::vector<WatermarkProcessor> references(batch, WatermarkProcessor(scheme_));
  for (std::size_t b = 0; b < batch; ++b) {
    ASSERT_EQ(tm_processor_create(key_.key, nullptr, &processors[b].processor), TM_OK);
    const std::uint32_t prompt[] = {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(100 + b)};
    ASSERT_EQ(tm_processor_reset(processors[b].processor, prompt, 2), TM_OK);
    references[b].reset(prompt);
    row_processors[b] = processors[b].processor;
  }
  row_processors[2] = nullptr;  // an unwatermarked row
  for (int step = 0; step < 3; ++step) {
    std::vector<float> matrix(batch * stride, 1.0f);
    ASSERT_EQ(tm_processor_apply_batch(row_processors.data(), batch, matrix.data(), stride, vocab), TM_OK) << tm_last_error();
    for (std::size_t b = 0; b < batch; ++b) {
      std::vector<float> expected(vocab, 1.0f);
      if (b != 2) references[b].apply(std::span<float>(expected));
      ASSERT_TRUE(std::equal(expected.begin(), expected.end(), matrix.begin() + static_cast<std::ptrdiff_t>(b * stride)))
          << "row " << b;
      EXPECT_TRUE(std::all_of(matrix.begin() + static_cast<std::ptrdiff_t>(b * stride + vocab),
                              matrix.begin() + static_cast<std::ptrdiff_t>((b + 1) * stride), [](float v) { return v == 1.0f; }));
    }
    std::vector<std::uint32_t> tokens = {7u + static_cast<std::uint32_t>(step), 8, 9, 10};
    ASSERT_EQ(tm_processor_accept_batch(row_processors.data(), batch, tokens.data()), TM_OK);
    for (std::size_t b = 0; b < batch; ++b) {
      if (b != 2) references[b].accept(tokens[b]);
    }
  }
}

TEST_F(CApi, DetectEqualsTheCppDetector) {
  std::mt19937 rng(static_cast<std::mt19937::result_type>(testing::announce_seed(77)));
  std::vector<std::uint32_t> tokens(2000);
  for (auto& t : tokens) t = rng() % 50257;
  tokens[500] = tokens[100];  // a repeated context and tuple
  tokens[501] = tokens[101];
  tokens[502] = tokens[102];
  tm_detection detection;
  ASSERT_EQ(tm_detect(key_.key, tokens.data(), tokens.size(), &detection), TM_OK);
  GreenListDetector detector(scheme_);
  const ScoreCounts counts = detector.add_document(tokens);
  const BinomialTest test = detector.test(counts);
  EXPECT_EQ(detection.tokens, 2000u);
  EXPECT_EQ(detection.scored, counts.scored);
  EXPECT_EQ(detection.green, counts.green);
  EXPECT_LT(detection.scored, 1998u);
  EXPECT_EQ(detection.gamma, test.gamma);
  EXPECT_EQ(detection.z, test.z);
  EXPECT_EQ(detection.p_value, test.p_value);
  EXPECT_EQ(detection.log10_p, test.log10_p);
  EXPECT_GT(detection.p_value, 1e-4);
}

TEST_F(CApi, ErrorsAreStatusesWithMessages) {
  ProcessorHandle processor;
  ASSERT_EQ(tm_processor_create(key_.key, nullptr, &processor.processor), TM_OK);
  std::vector<float> logits(50256);
  EXPECT_EQ(tm_processor_apply(processor.processor, logits.data(), logits.size()), TM_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tm_last_error()).find("50256 entries but the key's vocabulary has 50257"), std::string::npos)
      << tm_last_error();

  tm_processor_params strict;
  ASSERT_EQ(tm_processor_params_init(&strict, sizeof strict), TM_OK);
  EXPECT_EQ(strict.allow_padded_logits, 1);
  strict.allow_padded_logits = 0;
  ProcessorHandle strict_processor;
  ASSERT_EQ(tm_processor_create(key_.key, &strict, &strict_processor.processor), TM_OK);
  std::vector<float> padded(50304);
  EXPECT_EQ(tm_processor_apply(strict_processor.processor, padded.data(), padded.size()), TM_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tm_last_error()).find("allow_padded_logits"), std::string::npos) << tm_last_error();

  tm_candidate candidates[2] = {{3, 1.0f}, {50257, 1.0f}};
  const std::uint32_t prompt[] = {1, 2};
  ASSERT_EQ(tm_processor_reset(processor.processor, prompt, 2), TM_OK);
  EXPECT_EQ(tm_processor_apply_candidates(processor.processor, candidates, 2), TM_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tm_last_error()).find("candidate 1 has token id 50257"), std::string::npos) << tm_last_error();
  EXPECT_EQ(candidates[0].logit, 1.0f) << "no candidate may change on an error";

  const std::uint32_t bad_tokens[] = {1, 2, 3, 60000};
  tm_detection detection;
  EXPECT_EQ(tm_detect(key_.key, bad_tokens, 4, &detection), TM_INVALID_INPUT);
  EXPECT_NE(std::string(tm_last_error()).find("token id 60000 at position 3"), std::string::npos) << tm_last_error();

  EXPECT_EQ(tm_processor_apply(nullptr, logits.data(), 1), TM_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tm_last_error()).find("tm_processor_apply: processor is NULL"), std::string::npos);
  tm_key* out = nullptr;
  EXPECT_EQ(tm_key_load_memory("{}", 2, nullptr), TM_INVALID_ARGUMENT);
  EXPECT_EQ(tm_key_load_memory("{", 1, &out), TM_INVALID_INPUT);
  EXPECT_NE(std::string(tm_last_error()).find("not valid JSON"), std::string::npos) << tm_last_error();
  EXPECT_EQ(out, nullptr);

  tm_processor_free(nullptr);
  tm_key_free(nullptr);
  EXPECT_STREQ(tm_status_name(TM_OK), "TM_OK");
  EXPECT_STREQ(tm_status_name(TM_UNSUPPORTED), "TM_UNSUPPORTED");
  EXPECT_STREQ(tm_status_name(static_cast<tm_status>(99)), "TM_UNKNOWN_STATUS");
  EXPECT_STREQ(tm_version(), TRACEMARK_TEST_VERSION);
}

TEST_F(CApi, KeyFilesAreCheckedAndMessagesHoldNoSecret) {
  testing::TemporaryFolder folder;
  const auto path = folder.path() / "key.json";
  std::string text = golden_key_text();
  std::ofstream(path) << text;
  ::chmod(path.c_str(), 0644);
  tm_key* key = nullptr;
  EXPECT_EQ(tm_key_load(path.c_str(), &key), TM_PERMISSION);
  EXPECT_NE(std::string(tm_last_error()).find("chmod 600"), std::string::npos) << tm_last_error();
  ::chmod(path.c_str(), 0600);
  ASSERT_EQ(tm_key_load(path.c_str(), &key), TM_OK) << tm_last_error();
  tm_key_free(key);
  EXPECT_EQ(tm_key_load((folder.path() / "missing.json").c_str(), &key), TM_IO);

  // An edited parameter: the commitment no longer matches; the message must not echo the secret.
  const std::string edited_text = std::string(text).replace(text.find("\"gamma\": 0.25"), 13, "\"gamma\": 0.26");
  EXPECT_EQ(tm_key_load_memory(edited_text.data(), edited_text.size(), &key), TM_INVALID_INPUT);
  EXPECT_NE(std::string(tm_last_error()).find("commitment does not match"), std::string::npos) << tm_last_error();
  EXPECT_EQ(std::string(tm_last_error()).find(kGoldenSecretHex), std::string::npos);
  const std::string bad_secret = std::string(text).replace(text.find(kGoldenSecretHex), 64, std::string(64, 'z'));
  EXPECT_EQ(tm_key_load_memory(bad_secret.data(), bad_secret.size(), &key), TM_INVALID_INPUT);
  EXPECT_EQ(std::string(tm_last_error()).find("zzzz"), std::string::npos) << tm_last_error();
  const std::string future = std::string(text).replace(text.find("\"version\": 1"), 12, "\"version\": 99");
  EXPECT_EQ(tm_key_load_memory(future.data(), future.size(), &key), TM_UNSUPPORTED);
}

// Keyrings (issue 15): a processor per request for a label's subkey, the same biases as the subkey
// made by the C++ library, unknown labels and unsafe files refused, nothing secret in messages.
TEST(CApiKeyring, ProcessorsForLabelsUseTheLabelsSubkeys) {
  testing::TemporaryFolder folder;
  const auto path = folder.path() / "ring.json";
  SecretBytes master{};
  for (std::size_t i = 0; i < master.size(); ++i) master[i] = static_cast<std::uint8_t>(40 + i);
  SchemeParams params;
  params.vocab_size = 500;
  params.context_width = 1;
  const Keyring ring = Keyring::from_master(master, params, {"cohort:canary-a", "global:main"}, "2026-01-01T00:00:00Z");
  ring.save(path, false);
  ::chmod(path.c_str(), 0644);
  tm_keyring* handle = nullptr;
  EXPECT_EQ(tm_keyring_load(path.c_str(), &handle), TM_PERMISSION);
  EXPECT_NE(std::string(tm_last_error()).find("chmod 600"), std::string::npos) << tm_last_error();
  ::chmod(path.c_str(), 0600);
  ASSERT_EQ(tm_keyring_load(path.c_str(), &handle), TM_OK) << tm_last_error();

  std::size_t count = 0;
  ASSERT_EQ(tm_keyring_label_count(handle, &count), TM_OK);
  ASSERT_EQ(count, 2u);
  const char* label = nullptr;
  ASSERT_EQ(tm_keyring_label(handle, 0, &label), TM_OK);
  EXPECT_STREQ(label, "cohort:canary-a");
  EXPECT_EQ(tm_keyring_label(handle, 2, &label), TM_INVALID_ARGUMENT);

  KeyHandle subkey;
  ASSERT_EQ(tm_keyring_derive(handle, "cohort:canary-a", &subkey.key), TM_OK) << tm_last_error();
  tm_key_info info{};
  info.size = sizeof info;
  ASSERT_EQ(tm_key_get_info(subkey.key, &info), TM_OK);
  EXPECT_EQ(std::string(info.key_id), ring.derive("cohort:canary-a").key_id());

  // A processor for a label biases exactly as the C++ processor of that label's subkey, on every
  // call (the second comes from the ring's cache), and differs from another label's.
  WatermarkProcessor reference(std::make_shared<const GreenListScheme>(ring.derive("cohort:canary-a")));
  ProcessorHandle first, again, other;
  ASSERT_EQ(tm_processor_create_for_label(handle, "cohort:canary-a", nullptr, &first.processor), TM_OK) << tm_last_error();
  ASSERT_EQ(tm_processor_create_for_label(handle, "cohort:canary-a", nullptr, &again.processor), TM_OK);
  ASSERT_EQ(tm_processor_create_for_label(handle, "global:main", nullptr, &other.processor), TM_OK);
  const std::uint32_t prompt[] = {7};
  reference.reset(prompt);
  for (tm_processor* p : {first.processor, again.processor, other.processor}) ASSERT_EQ(tm_processor_reset(p, prompt, 1), TM_OK);
  std::vector<float> expected(500, 0.0f), a(500, 0.0f), b(500, 0.0f), c(500, 0.0f);
  reference.apply(expected);
  ASSERT_EQ(tm_processor_apply(first.processor, a.data(), a.size()), TM_OK);
  ASSERT_EQ(tm_processor_apply(again.processor, b.data(), b.size()), TM_OK);
  ASSERT_EQ(tm_processor_apply(other.processor, c.data(), c.size()), TM_OK);
  EXPECT_EQ(a, expected);
  EXPECT_EQ(b, expected);
  EXPECT_NE(c, expected);

  // Freeing the ring leaves its keys and processors usable.
  tm_keyring_free(handle);
  ASSERT_EQ(tm_processor_accept(first.processor, 3), TM_OK);
  ASSERT_EQ(tm_processor_apply(first.processor, a.data(), a.size()), TM_OK);

  ASSERT_EQ(tm_keyring_load(path.c_str(), &handle), TM_OK);
  tm_processor* processor = nullptr;
  EXPECT_EQ(tm_processor_create_for_label(handle, "cohort:canary-b", nullptr, &processor), TM_INVALID_ARGUMENT);
  EXPECT_EQ(processor, nullptr);
  const std::string message = tm_last_error();
  EXPECT_NE(message.find("cohort:canary-b"), std::string::npos) << message;
  EXPECT_EQ(message.find(to_hex(master)), std::string::npos) << message;
  EXPECT_EQ(tm_processor_create_for_label(handle, "nonsense", nullptr, &processor), TM_INVALID_ARGUMENT);
  EXPECT_EQ(tm_processor_create_for_label(nullptr, "global:main", nullptr, &processor), TM_INVALID_ARGUMENT);
  EXPECT_EQ(tm_processor_create_for_label(handle, nullptr, nullptr, &processor), TM_INVALID_ARGUMENT);
  EXPECT_EQ(tm_keyring_derive(handle, "global:main", nullptr), TM_INVALID_ARGUMENT);
  tm_keyring_free(handle);
  tm_keyring_free(nullptr);
  EXPECT_EQ(tm_keyring_load((folder.path() / "missing.json").c_str(), &handle), TM_IO);
}

TEST_F(CApi, LastErrorIsPerThreadAndCloneIsIndependent) {
  EXPECT_EQ(tm_processor_reset(nullptr, nullptr, 0), TM_INVALID_ARGUMENT);
  std::string other_thread_message = "unset";
  std::thread([&] { other_thread_message = tm_last_error(); }).join();
  EXPECT_EQ(other_thread_message, "");
  EXPECT_NE(std::string(tm_last_error()), "");

  ProcessorHandle original, copy;
  ASSERT_EQ(tm_processor_create(key_.key, nullptr, &original.processor), TM_OK);
  const std::uint32_t prompt[] = {5, 6};
  ASSERT_EQ(tm_processor_reset(original.processor, prompt, 2), TM_OK);
  ASSERT_EQ(tm_processor_clone(original.processor, &copy.processor), TM_OK);
  ASSERT_EQ(tm_processor_accept(original.processor, 11), TM_OK);
  std::vector<float> from_copy(50257, 0.0f), expected(50257, 0.0f);
  ASSERT_EQ(tm_processor_apply(copy.processor, from_copy.data(), from_copy.size()), TM_OK);
  WatermarkProcessor reference(scheme_);
  reference.reset(prompt);
  reference.apply(std::span<float>(expected));
  EXPECT_EQ(from_copy, expected);
  // The key may be freed while processors made from it live on.
  tm_key_free(key_.key);
  key_.key = nullptr;
  ASSERT_EQ(tm_processor_apply(original.processor, from_copy.data(), from_copy.size()), TM_OK);
}

TEST_F(CApi, EntropyThresholdKeysGateTheProcessorAndNeedEntropyToDetect) {
  // Issue 16: a key with an entropy threshold (tests/golden/entropy_threshold_key.json: 1.0 nats).
  std::ifstream file(std::filesystem::path(TRACEMARK_TEST_DATA) / "entropy_threshold_key.json");
  std::stringstream text;
  text << file.rdbuf();
  KeyHandle key;
  ASSERT_EQ(tm_key_load_memory(text.str().data(), text.str().size(), &key.key), TM_OK) << tm_last_error();
  double threshold = 0;
  ASSERT_EQ(tm_key_get_entropy_threshold(key.key, &threshold), TM_OK);
  EXPECT_EQ(threshold, 1.0);
  ASSERT_EQ(tm_key_get_entropy_threshold(key_.key, &threshold), TM_OK);
  EXPECT_EQ(threshold, 0.0);

  ProcessorHandle processor;
  ASSERT_EQ(tm_processor_create(key.key, nullptr, &processor.processor), TM_OK);
  const uint32_t prompt[] = {1, 2};
  ASSERT_EQ(tm_processor_reset(processor.processor, prompt, 2), TM_OK);
  std::vector<float> peaked(50257, -40.0f);
  peaked[9] = 0.0f;
  const std::vector<float> before = peaked;
  ASSERT_EQ(tm_processor_apply(processor.processor, peaked.data(), peaked.size()), TM_OK);
  int biased = -1;
  double entropy = -2;
  ASSERT_EQ(tm_processor_last_step(processor.processor, &biased, &entropy), TM_OK);
  EXPECT_EQ(biased, 0);
  EXPECT_LT(entropy, 0.01);
  EXPECT_GE(entropy, 0.0);
  EXPECT_EQ(peaked, before);
  std::vector<float> flat(50257, 0.0f);
  ASSERT_EQ(tm_processor_apply(processor.processor, flat.data(), flat.size()), TM_OK);
  ASSERT_EQ(tm_processor_last_step(processor.processor, &biased, &entropy), TM_OK);
  EXPECT_EQ(biased, 1);
  EXPECT_NEAR(entropy, std::log(50257.0), 1e-6);

  std::vector<uint32_t> ids(300);
  std::mt19937 rng(16);
  for (auto& id : ids) id = rng() % 50257;
  tm_detection detection{};
  EXPECT_EQ(tm_detect(key.key, ids.data(), ids.size(), &detection), TM_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tm_last_error()).find("tm_detect_with_entropy"), std::string::npos) << tm_last_error();
  const std::vector<float> low(ids.size(), 0.5f), high(ids.size(), 3.0f);
  ASSERT_EQ(tm_detect_with_entropy(key.key, ids.data(), low.data(), ids.size(), &detection), TM_OK);
  EXPECT_EQ(detection.scored, 0u);
  ASSERT_EQ(tm_detect_with_entropy(key.key, ids.data(), high.data(), ids.size(), &detection), TM_OK);
  EXPECT_GT(detection.scored, 250u);
  EXPECT_EQ(tm_detect_with_entropy(key.key, ids.data(), nullptr, ids.size(), &detection), TM_INVALID_ARGUMENT);
}

// Issue 18: tm_detect_scheme gives each scheme's exact test, as the C++ detectors do; tm_key_info
// names the scheme; the green list's answer is tm_detect's in the new struct's terms.
TEST_F(CApi, DetectSchemeEqualsEachSchemesCppDetector) {
  testing::TemporaryFolder folder;
  std::mt19937 rng(static_cast<std::mt19937::result_type>(testing::announce_seed(1203)));
  std::vector<std::uint32_t> tokens(1500);
  for (auto& t : tokens) t = rng() % 3000;
  tokens[700] = tokens[100];  // a repeated context and tuple
  tokens[701] = tokens[101];
  for (const SchemeParams& params : {testing::gumbel_params(2, 3000), testing::tournament_params(2, 3000, 20)}) {
    const WatermarkKey cpp_key = WatermarkKey::generate(params);
    cpp_key.save(folder.path() / "key.json", true);
    KeyHandle key;
    ASSERT_EQ(tm_key_load((folder.path() / "key.json").c_str(), &key.key), TM_OK) << tm_last_error();
    tm_key_info info;
    info.size = sizeof info;
    ASSERT_EQ(tm_key_get_info(key.key, &info), TM_OK);
    tm_scheme_detection found;
    found.size = sizeof found;
    ASSERT_EQ(tm_detect_scheme(key.key, tokens.data(), tokens.size(), &found), TM_OK) << tm_last_error();
    EXPECT_EQ(found.size, sizeof found);
    EXPECT_EQ(found.tokens, 1500u);
    if (params.scheme == kGumbelMaxSchemeName) {
      EXPECT_EQ(info.scheme, TM_SCHEME_GUMBEL_MAX);
      GumbelMaxDetector detector(std::make_shared<const GumbelMaxScheme>(cpp_key));
      const GumbelScoreCounts counts = detector.add_document(tokens);
      EXPECT_EQ(found.scheme, TM_SCHEME_GUMBEL_MAX);
      EXPECT_EQ(found.scored, counts.scored);
      EXPECT_EQ(found.statistic, counts.score);
      EXPECT_EQ(found.null_mean, static_cast<double>(counts.scored));
      EXPECT_EQ(found.log10_p, GumbelMaxDetector::test(counts).log10_p);
    } else {
      EXPECT_EQ(info.scheme, TM_SCHEME_TOURNAMENT);
      EXPECT_EQ(info.tournament_layers, 20u);
      TournamentDetector detector(std::make_shared<const TournamentScheme>(cpp_key));
      const TournamentScoreCounts counts = detector.add_document(tokens);
      EXPECT_EQ(found.scheme, TM_SCHEME_TOURNAMENT);
      EXPECT_EQ(found.scored, counts.scored);
      EXPECT_EQ(found.statistic, static_cast<double>(counts.g_ones));
      EXPECT_EQ(found.null_mean, 10.0 * static_cast<double>(counts.scored));
      EXPECT_EQ(found.log10_p, detector.test(counts).log10_p);
    }
    EXPECT_LT(found.scored, 1498u) << "the repeated tuple is scored once";
    EXPECT_GT(found.log10_p, -6) << "random ids carry no watermark (a fresh key: the floor a valid p-value crosses once in a million runs)";
    std::vector<std::uint32_t> outside = {1, 2, 3000};
    EXPECT_EQ(tm_detect_scheme(key.key, outside.data(), outside.size(), &found), TM_INVALID_INPUT);
    EXPECT_EQ(tm_detect_scheme(nullptr, tokens.data(), tokens.size(), &found), TM_INVALID_ARGUMENT);
    EXPECT_EQ(tm_detect_scheme(key.key, nullptr, 3, &found), TM_INVALID_ARGUMENT);
    EXPECT_EQ(tm_detect_scheme(key.key, tokens.data(), tokens.size(), nullptr), TM_INVALID_ARGUMENT);
    found.size = 40;
    EXPECT_EQ(tm_detect_scheme(key.key, tokens.data(), tokens.size(), &found), TM_INVALID_ARGUMENT);
    EXPECT_NE(std::string(tm_last_error()).find("sizeof(tm_scheme_detection)"), std::string::npos) << tm_last_error();
  }
  // A green-list key: tm_detect's figures.
  tm_key_info info;
  info.size = sizeof info;
  ASSERT_EQ(tm_key_get_info(key_.key, &info), TM_OK);
  EXPECT_EQ(info.scheme, TM_SCHEME_GREEN_LIST);
  tm_detection detection;
  ASSERT_EQ(tm_detect(key_.key, tokens.data(), tokens.size(), &detection), TM_OK);
  tm_scheme_detection found;
  found.size = sizeof found;
  ASSERT_EQ(tm_detect_scheme(key_.key, tokens.data(), tokens.size(), &found), TM_OK);
  EXPECT_EQ(found.scheme, TM_SCHEME_GREEN_LIST);
  EXPECT_EQ(found.scored, detection.scored);
  EXPECT_EQ(found.statistic, static_cast<double>(detection.green));
  EXPECT_EQ(found.null_mean, detection.gamma * static_cast<double>(detection.scored));
  EXPECT_EQ(found.log10_p, detection.log10_p);
}

}  // namespace
}  // namespace tracemark
