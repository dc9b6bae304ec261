// The transformer reference model (issue 17): it learns, its cached decoding equals one forward
// pass, its file round-trips and refuses damage, and its distribution is a distribution.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <sstream>

#include "refmodel_test_support.hpp"
#include "test_support.hpp"
#include "tracemark/error.hpp"
#include "tracemark/refmodel/reference_model.hpp"
#include "tracemark/refmodel/transformer_model.hpp"

namespace tracemark {
namespace {

namespace fs = std::filesystem;

TransformerShape tiny_shape(std::uint32_t context = 8) {
  TransformerShape shape;
  shape.layers = 2;
  shape.width = 32;
  shape.heads = 2;
  shape.context_length = context;
  return shape;
}

TransformerTraining short_training(std::uint32_t steps) {
  TransformerTraining training;
  training.steps = steps;
  training.batch_size = 8;
  training.learning_rate = 1e-2;
  training.warmup_steps = 5;
  return training;
}

// A cycle 5 9 3 7 5 9 3 7 ...: each token determines the next.
TokenDocuments cyclic_documents() {
  const std::uint32_t cycle[4] = {5, 9, 3, 7};
  TokenDocuments documents(20);
  for (std::size_t d = 0; d < documents.size(); ++d) {
    for (std::size_t i = 0; i < 40; ++i) documents[d].push_back(cycle[(d + i) % 4]);
  }
  return documents;
}

std::vector<float> full_log_probabilities(DecodingSession& session) {
  std::vector<float> out(session.vocab_size());
  session.log_probabilities(out);
  return out;
}

TEST(TransformerModel, LearnsAPatternItCanThenContinue) {
  set_neural_threads(1);
  const TransformerModel model =
      TransformerModel::train(cyclic_documents(), 50, {}, {}, tiny_shape(), short_training(150));
  EXPECT_LT(model.provenance().final_loss, 0.3);
  EXPECT_EQ(model.compact_vocab_size(), 4u);
  const std::uint32_t prompt[] = {3, 7, 5};
  const auto session = model.start(prompt);
  std::vector<Candidate> top;
  session->top_candidates(3, top);
  ASSERT_FALSE(top.empty());
  EXPECT_EQ(top[0].id, 9u);
  EXPECT_GT(std::exp(top[0].logit), 0.9);
  session->accept(9);
  session->top_candidates(1, top);
  EXPECT_EQ(top[0].id, 3u);
}

TEST(TransformerModel, CachedDecodingEqualsOneForwardPassBeyondTheWindow) {
  set_neural_threads(1);
  // A window of 4 and 30 tokens: the rolling cache drops keys many times over.
  const TransformerModel model =
      TransformerModel::train(testing::tiny_corpus(30, 10, 60, 3), 40, {}, {}, tiny_shape(4), short_training(20));
  std::vector<std::uint32_t> history = {1, 2, 3, 39};  // 39: never seen in training
  const auto session = model.start(history);
  SplitMix64 rng(11);
  std::vector<float> reference(model.vocab_size());
  for (int step = 0; step < 30; ++step) {
    model.log_probabilities(history, reference);
    const std::vector<float> cached = full_log_probabilities(*session);
    for (std::size_t id = 0; id < reference.size(); ++id) {
      ASSERT_NEAR(cached[id], reference[id], 2e-4) << "step " << step << " id " << id;
    }
    const auto token = static_cast<std::uint32_t>(rng.next() % 30);
    session->accept(token);
    history.push_back(token);
  }
}

TEST(TransformerModel, ItsDistributionSumsToOneAndGivesUnseenIdsTheFloor) {
  const std::vector<std::uint32_t> unpredictable = {0, 49};
  const TransformerModel model =
      TransformerModel::train(testing::tiny_corpus(20, 5, 40, 5), 50, unpredictable, {}, tiny_shape(), short_training(5));
  const std::uint32_t prompt[] = {1, 2};
  const auto session = model.start(prompt);
  const std::vector<float> logp = full_log_probabilities(*session);
  double total = 0;
  for (float value : logp) total += std::exp(static_cast<double>(value));
  EXPECT_NEAR(total, 1.0, 1e-5);
  EXPECT_EQ(logp[49], -std::numeric_limits<float>::infinity());
  EXPECT_NEAR(logp[30], std::log(kUnseenMass / 48), 1e-4);  // 30: ordinary, never seen
  // Scoring agrees with the distribution: -ln P of two tokens is the sum of the two steps.
  const std::uint32_t tokens[] = {30, 3};
  std::vector<float> second(model.vocab_size());
  const std::vector<std::uint32_t> after = {1, 2, 30};
  model.log_probabilities(after, second);
  EXPECT_NEAR(model.sequence_nats(prompt, tokens), -(logp[30] + second[3]), 1e-3);
  const std::uint32_t impossible[] = {49};
  EXPECT_TRUE(std::isinf(model.sequence_nats(prompt, impossible)));
}

TEST(TransformerModel, FileRoundTripsExactly) {
  testing::TemporaryFolder dir;
  const ModelTokenizerRecord tokenizer{"example", "example-spec", std::string(64, 'a')};
  const TransformerModel model =
      TransformerModel::train(testing::tiny_corpus(20, 5, 40, 7), 30, {}, tokenizer, tiny_shape(), short_training(10));
  const fs::path path = dir.path() / "student.tmodel";
  model.save(path, false);
  EXPECT_THROW(model.save(path, false), Error);  // no overwrite without asking
  const TransformerModel loaded = TransformerModel::load(path);
  EXPECT_EQ(loaded.tokenizer(), tokenizer);
  EXPECT_EQ(loaded.shape().layers, 2u);
  EXPECT_EQ(loaded.provenance().steps, 10u);
  EXPECT_EQ(loaded.parameter_count(), model.parameter_count());
  const std::vector<std::uint32_t> history = {4, 5, 6};
  std::vector<float> a(30), b(30);
  model.log_probabilities(history, a);
  loaded.log_probabilities(history, b);
  EXPECT_EQ(a, b);
  const ReferenceModel either = ReferenceModel::load(path);
  EXPECT_EQ(either.kind(), "transformer");
  EXPECT_EQ(either.vocab_size(), 30u);
}

void expect_refused(const fs::path& path, const std::string& fragment) {
  try {
    (void)TransformerModel::load(path);
    ADD_FAILURE() << "loaded " << path;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(TransformerModel, DamagedAndForeignFilesAreRefusedNamingTheFile) {
  testing::TemporaryFolder dir;
  const TransformerModel model =
      TransformerModel::train(testing::tiny_corpus(20, 5, 40, 7), 30, {}, {}, tiny_shape(), short_training(2));
  const fs::path good = dir.path() / "good.tmodel";
  model.save(good, false);
  std::ifstream in(good, std::ios::binary);
  std::ostringstream read;
  read << in.rdbuf();
  const std::string bytes = read.str();

  auto write = [&](const std::string& name, const std::string& content) {
    const fs::path path = dir.path() / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  };
  std::string flipped = bytes;
  flipped[bytes.size() / 2] = static_cast<char>(flipped[bytes.size() / 2] ^ 0x40);
  expect_refused(write("flipped.tmodel", flipped), "checksum mismatch");
  expect_refused(write("truncated.tmodel", bytes.substr(0, bytes.size() - 100)), "do not match");
  expect_refused(write("short.tmodel", bytes.substr(0, 12)), "truncated");
  expect_refused(write("text.tmodel", "hello, world\n"), "not a tracemark transformer model file");
  std::string version = bytes;
  version[8] = 2;
  expect_refused(write("version.tmodel", version), "format version 2");

  const fs::path ngram = dir.path() / "ngram.model";
  (void)testing::train_model(testing::tiny_corpus(20, 5, 40, 7), 3, 30, ngram);
  expect_refused(ngram, "is an n-gram model file");
  EXPECT_EQ(ReferenceModel::load(ngram).kind(), "n-gram");
  EXPECT_THROW((void)ReferenceModel::load(dir.path() / "text.tmodel"), Error);
}

TEST(TransformerModel, DivergentTrainingStopsWithAMessage) {
  TransformerTraining training = short_training(300);
  training.learning_rate = 10;
  training.warmup_steps = 0;
  try {
    (void)TransformerModel::train(testing::tiny_corpus(20, 5, 40, 7), 30, {}, {}, tiny_shape(), training);
    FAIL() << "training at learning rate 10 did not diverge";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("diverged"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--learning-rate"), std::string::npos) << e.what();
  }
}

TEST(TransformerModel, OptionsOutOfRangeAreRefusedByName) {
  TransformerShape shape = tiny_shape();
  shape.width = 30;
  shape.heads = 4;
  EXPECT_THROW(shape.validate(), Error);
  shape = tiny_shape();
  shape.layers = 0;
  try {
    shape.validate();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--layers"), std::string::npos);
  }
  TransformerTraining training;
  training.learning_rate = 0;
  EXPECT_THROW(training.validate(), Error);
  EXPECT_THROW((void)TransformerModel::train({}, 30, {}, {}, tiny_shape(), short_training(1)), Error);
}

}  // namespace
}  // namespace tracemark
