// The reference model file: round trip, and refusal of other versions, damaged files and other
// tokenizers.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "refmodel_test_support.hpp"
#include "test_support.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void write_all(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The error a load throws, or a failure when it does not throw.
Error load_error(const std::filesystem::path& path) {
  try {
    NgramModel::load(path);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "loading " << path << " did not fail";
  return Error(ErrorCode::internal, "");
}

const ModelTokenizerRecord kTokenizer{"test-bpe", "test-bpe:v1", std::string(64, 'a')};

TEST(ReferenceModelFile, RoundTripKeepsEverything) {
  testing::TemporaryFolder folder;
  const auto corpus = testing::tiny_corpus(30, 4, 40, 7);
  NgramCounter counter(4, 32);
  for (const auto& document : corpus) counter.add_document(document);
  counter.add_document({});  // ignored
  const NgramTables tables = counter.build();
  write_ngram_model(tables, kTokenizer, folder.path() / "m.tmlm", false);
  const NgramModel model = NgramModel::load(folder.path() / "m.tmlm");
  EXPECT_EQ(model.order(), 4u);
  EXPECT_EQ(model.vocab_size(), 32u);
  EXPECT_EQ(model.tokenizer(), kTokenizer);
  EXPECT_EQ(model.training_documents(), 4u);
  std::uint64_t tokens = 0;
  for (const auto& document : corpus) tokens += document.size();
  EXPECT_EQ(model.training_tokens(), tokens);
  for (std::uint32_t k = 1; k <= 4; ++k) EXPECT_EQ(model.discount(k), tables.discounts[k - 1]);
  for (std::uint32_t depth = 0; depth < 4; ++depth) EXPECT_EQ(model.context_count(depth), tables.nodes[depth].size());
  // Writing the same tables again gives the same bytes (no timestamps, no padding garbage).
  write_ngram_model(tables, kTokenizer, folder.path() / "again.tmlm", false);
  EXPECT_EQ(read_all(folder.path() / "m.tmlm"), read_all(folder.path() / "again.tmlm"));
  EXPECT_THROW(write_ngram_model(tables, kTokenizer, folder.path() / "m.tmlm", false), Error);  // no overwrite
}

TEST(ReferenceModelFile, RefusesAnotherFormatVersion) {
  testing::TemporaryFolder folder;
  testing::train_model(testing::tiny_corpus(10, 2, 20, 1), 2, 10, folder.path() / "m.tmlm");
  std::string bytes = read_all(folder.path() / "m.tmlm");
  const std::uint32_t version = 2;
  std::memcpy(bytes.data() + 8, &version, sizeof version);
  write_all(folder.path() / "v2.tmlm", bytes);
  const Error e = load_error(folder.path() / "v2.tmlm");
  EXPECT_EQ(e.code(), ErrorCode::unsupported);
  EXPECT_NE(std::string(e.what()).find("v2.tmlm: reference model format version 2 is not supported"), std::string::npos)
      << e.what();
}

TEST(ReferenceModelFile, RefusesDamagedAndForeignFiles) {
  testing::TemporaryFolder folder;
  testing::train_model(testing::tiny_corpus(10, 2, 20, 1), 3, 10, folder.path() / "m.tmlm");
  const std::string good = read_all(folder.path() / "m.tmlm");

  std::string flipped = good;
  flipped[flipped.size() - 3] = static_cast<char>(flipped[flipped.size() - 3] ^ 0x40);
  write_all(folder.path() / "flipped.tmlm", flipped);
  EXPECT_NE(std::string(load_error(folder.path() / "flipped.tmlm").what()).find("checksum"), std::string::npos);

  // A flipped bit in the header (here in the order-1 discount, which stays in range) is caught too.
  std::string header_flip = good;
  header_flip[40 + 2] = static_cast<char>(header_flip[40 + 2] ^ 0x01);
  write_all(folder.path() / "header_flip.tmlm", header_flip);
  EXPECT_NE(std::string(load_error(folder.path() / "header_flip.tmlm").what()).find("checksum"), std::string::npos);

  write_all(folder.path() / "truncated.tmlm", good.substr(0, good.size() - 8));
  EXPECT_EQ(load_error(folder.path() / "truncated.tmlm").code(), ErrorCode::invalid_input);
  write_all(folder.path() / "header.tmlm", good.substr(0, 100));
  EXPECT_EQ(load_error(folder.path() / "header.tmlm").code(), ErrorCode::invalid_input);
  write_all(folder.path() / "text.tmlm", "{\"tokens\": [1, 2, 3]}\n");
  EXPECT_NE(std::string(load_error(folder.path() / "text.tmlm").what()).find("not a tracemark reference model"),
            std::string::npos);
  EXPECT_EQ(load_error(folder.path() / "absent.tmlm").code(), ErrorCode::io);
}

TEST(ReferenceModelFile, RefusesAnotherTokenizer) {
  testing::TemporaryFolder folder;
  const NgramModel model =
      testing::train_model(testing::tiny_corpus(10, 2, 20, 1), 2, 10, folder.path() / "m.tmlm", kTokenizer);
  EXPECT_NO_THROW(require_model_tokenizer(model, "m.tmlm", kTokenizer));
  ModelTokenizerRecord other = kTokenizer;
  other.vocab_sha256 = std::string(64, 'b');
  try {
    require_model_tokenizer(model, "m.tmlm", other);
    ADD_FAILURE() << "a different vocabulary digest was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("m.tmlm was trained with tokenizer test-bpe"), std::string::npos) << e.what();
  }
  EXPECT_THROW(require_model_tokenizer(model, "m.tmlm", ModelTokenizerRecord{}), Error);
}

}  // namespace
}  // namespace tracemark
