// Text for simulated prompts: a word-bigram chain over the corpora (new sentences with the corpora's
// word statistics, so prompts are not verbatim copies that would repeat across strangers more than
// real prompts do) and verbatim sentences (people also paste the same passages). Immutable after
// loading; private to campaigns/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "random_draws.hpp"

namespace tracemark::campaigns {

class SimulatedText {
 public:
  // Reads {"text": ...} JSON lines (the first 2 MB of text of each file). Throws Error(io) / Error(invalid_input) naming the file when a
  // file is missing or holds no usable text.
  explicit SimulatedText(const std::vector<std::filesystem::path>& corpus_files);

  // About `words` words from the bigram chain, starting at a sentence start.
  std::string chain(RandomDraws& random, std::size_t words) const;
  // One sentence of the corpora as written (whitespace collapsed).
  std::string_view sentence(RandomDraws& random) const;
  // A word of the corpora's vocabulary that is purely alphabetic (for slot fillers and names).
  std::string_view word(RandomDraws& random) const;

 private:
  std::vector<std::string> vocabulary_;           // distinct whitespace-separated words
  std::vector<std::uint32_t> successor_offsets_;  // CSR: successors of word w are [offsets[w], offsets[w + 1])
  std::vector<std::uint32_t> successors_;
  std::vector<std::uint32_t> sentence_starts_;    // words that follow a sentence end
  std::vector<std::uint32_t> alphabetic_words_;
  std::vector<std::string> sentences_;
};

}  // namespace tracemark::campaigns
