// Training input for the reference model: corpus file formats and the distillation mix.
#include <gtest/gtest.h>

#include <fstream>

#include "tracemark/refmodel/distillation_mix.hpp"
#include "tracemark/refmodel/training_corpus.hpp"
#include "test_support.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

// A stand-in tokenizer: one id per byte.
std::vector<std::uint32_t> bytes_as_ids(std::string_view text) {
  return {text.begin(), text.end()};
}

std::filesystem::path write(const testing::TemporaryFolder& folder, const std::string& name, const std::string& text) {
  std::ofstream(folder.path() / name, std::ios::binary) << text;
  return folder.path() / name;
}

std::string what_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TrainingCorpus, PlainTextDocumentsAreSeparatedByBlankLines) {
  testing::TemporaryFolder folder;
  const auto path = write(folder, "c.txt", "ab\ncd\n\n  \t\nef\r\n\n\n");
  const TokenDocuments documents = read_corpus_file(path, bytes_as_ids, 256);
  ASSERT_EQ(documents.size(), 2u);
  EXPECT_EQ(documents[0], bytes_as_ids("ab\ncd\n"));
  EXPECT_EQ(documents[1], bytes_as_ids("ef\r\n"));
  EXPECT_NE(what_of([&] { read_corpus_file(path, {}, 256); }).find("c.txt is plain text, which needs a tokenizer"),
            std::string::npos);
  // An id the tokenizer makes beyond the model's vocabulary is named with the document's first line.
  EXPECT_NE(what_of([&] { read_corpus_file(path, bytes_as_ids, 101); }).find("c.txt line 5: token id 101"),
            std::string::npos);
}

TEST(TrainingCorpus, JsonlPrefersTextWithATokenizerAndTokensWithout) {
  testing::TemporaryFolder folder;
  const auto path = write(folder, "c.jsonl", "{\"text\":\"hi\",\"tokens\":[1,2,3]}\n\n{\"tokens\":[4]}\n");
  const TokenDocuments with_tokenizer = read_corpus_file(path, bytes_as_ids, 256);
  ASSERT_EQ(with_tokenizer.size(), 2u);
  EXPECT_EQ(with_tokenizer[0], bytes_as_ids("hi"));
  EXPECT_EQ(with_tokenizer[1], std::vector<std::uint32_t>{4});
  const TokenDocuments ids = read_corpus_file(path, {}, 256);
  EXPECT_EQ(ids[0], (std::vector<std::uint32_t>{1, 2, 3}));
  const auto bad = write(folder, "bad.jsonl", "{\"tokens\":[1]}\n{\"text\":\"x\"}\n");
  EXPECT_NE(what_of([&] { read_corpus_file(bad, {}, 256); }).find("bad.jsonl line 2: expected an object with \"tokens\""),
            std::string::npos);
}

TEST(DistillationMix, ReachesTheFractionWithWholeDocuments) {
  const std::vector<std::size_t> teacher(10, 100);  // 1000 tokens
  const std::vector<std::size_t> clean(100, 50);    // 5000 tokens
  DistillationMix mix = plan_distillation_mix(teacher, clean, 0.25);  // wants 3000 clean tokens
  EXPECT_EQ(mix.teacher_documents, 10u);
  EXPECT_EQ(mix.clean_documents, 60u);
  EXPECT_DOUBLE_EQ(mix.watermarked_fraction(), 0.25);
  mix = plan_distillation_mix(teacher, clean, 0.1);  // would need 9000 clean: all clean, 555.6 teacher tokens
  EXPECT_EQ(mix.clean_documents, 100u);
  EXPECT_EQ(mix.teacher_documents, 6u);  // 600 is nearer to 555.6 than 500
  EXPECT_NEAR(mix.watermarked_fraction(), 0.1, 0.01);
  mix = plan_distillation_mix(teacher, clean, 1.0);
  EXPECT_EQ(mix.clean_documents, 0u);
  EXPECT_EQ(mix.teacher_documents, 10u);
  EXPECT_THROW(plan_distillation_mix(teacher, clean, 0.0), Error);
  EXPECT_THROW(plan_distillation_mix(teacher, clean, 1.5), Error);
}

}  // namespace
}  // namespace tracemark
