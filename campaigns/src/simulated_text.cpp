#include "simulated_text.hpp"

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "tracemark/error.hpp"
#include "tracemark/verify/jsonl_reader.hpp"

namespace tracemark::campaigns {
namespace {

bool ends_sentence(std::string_view word) {
  return !word.empty() && (word.back() == '.' || word.back() == '?' || word.back() == '!');
}

bool alphabetic(std::string_view word) {
  if (word.size() < 3 || word.size() > 12) return false;
  return std::all_of(word.begin(), word.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

}  // namespace

SimulatedText::SimulatedText(const std::vector<std::filesystem::path>& corpus_files) {
  std::unordered_map<std::string, std::uint32_t> ids;
  std::vector<std::uint32_t> stream;  // the corpora as word ids, documents separated by a sentence end
  constexpr std::size_t kMaxSentences = 200'000;
  // The first 2 MB of each file are plenty for the chain and the sentences, and keep start-up short.
  constexpr std::size_t kBytesPerFile = 2 << 20;
  for (const auto& path : corpus_files) {
    JsonlReader reader(path);
    JsonlRecord record;
    std::size_t bytes = 0;
    while (bytes < kBytesPerFile && reader.next(record)) {
      if (!record.value.is_object() || !record.value.contains("text") || !record.value["text"].is_string()) continue;
      const std::string& text = record.value["text"].get_ref<const std::string&>();
      bytes += text.size();
      std::string sentence;
      std::size_t at = 0;
      while (at < text.size()) {
        while (at < text.size() && std::isspace(static_cast<unsigned char>(text[at]))) ++at;
        const std::size_t start = at;
        while (at < text.size() && !std::isspace(static_cast<unsigned char>(text[at]))) ++at;
        if (at == start) break;
        const std::string word = text.substr(start, at - start);
        auto [it, added] = ids.try_emplace(word, static_cast<std::uint32_t>(vocabulary_.size()));
        if (added) vocabulary_.push_back(word);
        stream.push_back(it->second);
        if (!sentence.empty()) sentence.push_back(' ');
        sentence += word;
        if (ends_sentence(word)) {
          if (sentence.size() >= 40 && sentence.size() <= 400 && sentences_.size() < kMaxSentences) sentences_.push_back(sentence);
          sentence.clear();
        }
      }
    }
  }
  if (stream.size() < 1000) {
    std::string names;
    for (const auto& path : corpus_files) names += (names.empty() ? "" : ", ") + path.string();
    throw Error(ErrorCode::invalid_input, "the corpus files (" + names + ") hold fewer than 1,000 words of {\"text\": ...} "
                                          "records; the simulator draws prompts from them (run ./tools/setup.sh to build "
                                          "the corpora, or give --corpus FILE.jsonl)");
  }
  if (sentences_.empty()) sentences_.push_back("The quick brown fox jumps over the lazy dog.");
  std::vector<std::uint32_t> counts(vocabulary_.size() + 1, 0);
  for (std::size_t i = 0; i + 1 < stream.size(); ++i) ++counts[stream[i] + 1];
  successor_offsets_.assign(vocabulary_.size() + 1, 0);
  for (std::size_t w = 0; w < vocabulary_.size(); ++w) successor_offsets_[w + 1] = successor_offsets_[w] + counts[w + 1];
  successors_.resize(successor_offsets_.back());
  std::vector<std::uint32_t> fill(successor_offsets_.begin(), successor_offsets_.end() - 1);
  for (std::size_t i = 0; i + 1 < stream.size(); ++i) {
    successors_[fill[stream[i]]++] = stream[i + 1];
    if (ends_sentence(vocabulary_[stream[i]])) sentence_starts_.push_back(stream[i + 1]);
  }
  if (sentence_starts_.empty()) sentence_starts_.push_back(stream.front());
  for (std::uint32_t w = 0; w < vocabulary_.size(); ++w) {
    if (alphabetic(vocabulary_[w])) alphabetic_words_.push_back(w);
  }
  if (alphabetic_words_.empty()) alphabetic_words_.push_back(0);
}

std::string SimulatedText::chain(RandomDraws& random, std::size_t words) const {
  std::string out;
  std::uint32_t current = sentence_starts_[random.below(sentence_starts_.size())];
  for (std::size_t i = 0; i < words; ++i) {
    if (i) out.push_back(' ');
    out += vocabulary_[current];
    const std::uint32_t begin = successor_offsets_[current], end = successor_offsets_[current + 1];
    current = begin == end ? sentence_starts_[random.below(sentence_starts_.size())] : successors_[begin + random.below(end - begin)];
  }
  return out;
}

std::string_view SimulatedText::sentence(RandomDraws& random) const { return sentences_[random.below(sentences_.size())]; }

std::string_view SimulatedText::word(RandomDraws& random) const {
  return vocabulary_[alphabetic_words_[random.below(alphabetic_words_.size())]];
}

}  // namespace tracemark::campaigns
