#include "tracemark/attacks/word_paraphrase.hpp"

#include <algorithm>
#include <cctype>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// A word as written, with the whitespace that follows it.
struct Word {
  std::string text;
  std::string space_after;
};

std::vector<Word> split_with_spaces(const std::string& text, std::string& leading_space) {
  std::vector<Word> words;
  std::size_t i = 0;
  while (i < text.size() && is_space(text[i])) ++i;
  leading_space = text.substr(0, i);
  while (i < text.size()) {
    const std::size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    const std::size_t space = i;
    while (i < text.size() && is_space(text[i])) ++i;
    words.push_back(Word{text.substr(start, space - start), text.substr(space, i - space)});
  }
  return words;
}

// The synonym of a word with its punctuation and case pattern, or "" when it has none.
std::string synonym_of(const std::string& word, WordnetSynonyms& synonyms, SplitMix64& rng) {
  std::size_t begin = 0, end = word.size();
  while (begin < end && !is_letter(word[begin])) ++begin;
  while (end > begin && !is_letter(word[end - 1])) --end;
  if (begin == end) return "";
  std::string core = word.substr(begin, end - begin);
  bool upper = true, title = std::isupper(static_cast<unsigned char>(core[0])) != 0;
  for (std::size_t i = 0; i < core.size(); ++i) {
    if (!is_letter(core[i])) return "";  // "don't", "e-mail": left alone
    const bool is_upper = std::isupper(static_cast<unsigned char>(core[i])) != 0;
    upper = upper && is_upper;
    if (i > 0 && is_upper) title = false;
    core[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(core[i])));
  }
  const std::vector<std::string>& choices = synonyms.synonyms(core);
  if (choices.empty()) return "";
  std::string chosen = choices[rng.next() % choices.size()];
  if (upper && core.size() > 1) {
    for (char& c : chosen) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  } else if (title || upper) {
    chosen[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(chosen[0])));
  }
  return word.substr(0, begin) + chosen + word.substr(end);
}

}  // namespace

void ParaphraseOptions::validate() const {
  if (!(rate >= 0.0 && rate <= 1.0)) {
    throw Error(ErrorCode::invalid_argument, "paraphrase rate " + std::to_string(rate) + " is out of range; use a value in [0, 1]");
  }
  if (edits.empty()) throw Error(ErrorCode::invalid_argument, "paraphrase needs at least one edit");
}

std::vector<WordEdit> parse_word_edits(const std::string& list) {
  std::vector<WordEdit> edits;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string name = list.substr(start, comma - start);
    if (name == "synonym") edits.push_back(WordEdit::synonym);
    else if (name == "deletion") edits.push_back(WordEdit::deletion);
    else if (name == "insertion") edits.push_back(WordEdit::insertion);
    else if (name == "swap") edits.push_back(WordEdit::swap);
    else {
      throw Error(ErrorCode::invalid_argument, "unknown word edit \"" + name +
                                                   "\"; use a comma-separated list of synonym, deletion, insertion, swap");
    }
    start = comma + 1;
  }
  return edits;
}

void ParaphraseCounts::add(const ParaphraseCounts& other) {
  words += other.words;
  synonyms += other.synonyms;
  deletions += other.deletions;
  insertions += other.insertions;
  swaps += other.swaps;
  no_synonym += other.no_synonym;
}

std::vector<std::string> split_words(const std::string& text) {
  std::string leading;
  std::vector<std::string> words;
  for (Word& word : split_with_spaces(text, leading)) words.push_back(std::move(word.text));
  return words;
}

std::string paraphrase_text(const std::string& text, const ParaphraseOptions& options, WordnetSynonyms& synonyms,
                            const std::vector<std::string>& insertion_pool, SplitMix64& rng, ParaphraseCounts& counts) {
  options.validate();
  std::string leading;
  std::vector<Word> words = split_with_spaces(text, leading);
  std::vector<Word> out;
  out.reserve(words.size() + words.size() / 4);
  counts.words += words.size();
  for (std::size_t i = 0; i < words.size(); ++i) {
    // One draw per word, then one for the edit, so the edits made depend only on the seed.
    if (rng.uniform() >= options.rate) {
      out.push_back(std::move(words[i]));
      continue;
    }
    switch (options.edits[rng.next() % options.edits.size()]) {
      case WordEdit::synonym: {
        std::string replaced = synonym_of(words[i].text, synonyms, rng);
        if (replaced.empty()) {
          ++counts.no_synonym;
        } else {
          words[i].text = std::move(replaced);
          ++counts.synonyms;
        }
        out.push_back(std::move(words[i]));
        break;
      }
      case WordEdit::deletion:
        ++counts.deletions;
        if (!out.empty() && i + 1 == words.size()) out.back().space_after = words[i].space_after;  // keep the end
        break;
      case WordEdit::insertion:
        if (insertion_pool.empty()) throw Error(ErrorCode::invalid_argument, "word insertion needs a non-empty word pool");
        out.push_back(Word{insertion_pool[rng.next() % insertion_pool.size()], " "});
        out.push_back(std::move(words[i]));
        ++counts.insertions;
        break;
      case WordEdit::swap:
        if (i + 1 < words.size()) {
          // The words trade places; the spaces stay where they were.
          std::swap(words[i].text, words[i + 1].text);
          out.push_back(std::move(words[i]));
          out.push_back(std::move(words[i + 1]));
          ++i;
          ++counts.swaps;
        } else {
          out.push_back(std::move(words[i]));
        }
        break;
    }
  }
  std::string result = leading;
  for (const Word& word : out) result += word.text + word.space_after;
  return result;
}

}  // namespace tracemark
