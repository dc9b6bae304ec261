#include "tracemark/attacks/wordnet_synonyms.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <sstream>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

constexpr std::array<const char*, 4> kPartsOfSpeech{"noun", "verb", "adj", "adv"};

std::vector<std::string> split_spaces(const std::string& line) {
  std::vector<std::string> fields;
  std::istringstream stream(line);
  for (std::string field; stream >> field;) fields.push_back(std::move(field));
  return fields;
}

bool parse_unsigned(const std::string& text, std::uint64_t& value, int base = 10) {
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value, base);
  return error == std::errc() && ptr == end;
}

// Lemmas we substitute: plain lower-case ASCII letters (no multi-word lemmas, no hyphens).
bool is_plain_word(const std::string& word) {
  return !word.empty() && std::all_of(word.begin(), word.end(), [](unsigned char c) { return c >= 'a' && c <= 'z'; });
}

std::string lower(std::string word) {
  for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return word;
}

}  // namespace

WordnetSynonyms::WordnetSynonyms(const std::filesystem::path& folder) : folder_(folder) {
  for (std::size_t pos = 0; pos < kPartsOfSpeech.size(); ++pos) {
    const std::filesystem::path index_path = folder / (std::string("index.") + kPartsOfSpeech[pos]);
    const std::filesystem::path data_path = folder / (std::string("data.") + kPartsOfSpeech[pos]);
    std::ifstream index(index_path);
    data_[pos].open(data_path, std::ios::binary);
    if (!index || !data_[pos]) {
      throw Error(ErrorCode::io, "cannot open WordNet file " + (index ? data_path : index_path).string() + ": " +
                                     std::strerror(errno) +
                                     "; install Debian's wordnet-base (./tools/setup.sh does) or give --wordnet FOLDER");
    }
    std::string line;
    for (std::uint64_t number = 1; std::getline(index, line); ++number) {
      if (line.empty() || line[0] == ' ') continue;  // the licence header lines start with spaces
      const std::vector<std::string> fields = split_spaces(line);
      std::uint64_t pointer_count = 0, offset = 0;
      if (fields.size() < 6 || !parse_unsigned(fields[3], pointer_count) || fields.size() < 7 + pointer_count ||
          !parse_unsigned(fields[6 + pointer_count], offset)) {
        throw Error(ErrorCode::invalid_input, index_path.string() + " line " + std::to_string(number) +
                                                  ": not a WordNet index line (lemma pos synset_cnt p_cnt ... "
                                                  "synset_offset); reinstall wordnet-base");
      }
      if (is_plain_word(fields[0])) first_senses_[fields[0]].push_back(Sense{static_cast<std::uint8_t>(pos), offset});
    }
  }
}

std::vector<std::string> WordnetSynonyms::synset_words(const Sense& sense) {
  std::ifstream& data = data_[sense.part_of_speech];
  data.clear();
  data.seekg(static_cast<std::streamoff>(sense.offset));
  std::string line;
  std::getline(data, line);
  const std::vector<std::string> fields = split_spaces(line);
  std::uint64_t offset = 0, word_count = 0;
  if (fields.size() < 4 || !parse_unsigned(fields[0], offset) || offset != sense.offset ||
      !parse_unsigned(fields[3], word_count, 16) || fields.size() < 4 + 2 * word_count) {
    throw Error(ErrorCode::invalid_input, (folder_ / (std::string("data.") + kPartsOfSpeech[sense.part_of_speech])).string() +
                                              " byte offset " + std::to_string(sense.offset) +
                                              ": not the synset line its index names; reinstall wordnet-base");
  }
  std::vector<std::string> words;
  for (std::uint64_t i = 0; i < word_count; ++i) {
    std::string word = lower(fields[4 + 2 * i]);
    if (const std::size_t marker = word.find('('); marker != std::string::npos) word.resize(marker);  // adj. "(p)"
    words.push_back(std::move(word));
  }
  return words;
}

const std::vector<std::string>& WordnetSynonyms::synonyms(const std::string& word) {
  if (const auto cached = cache_.find(word); cached != cache_.end()) return cached->second;
  std::vector<std::string> result;
  if (const auto senses = first_senses_.find(word); senses != first_senses_.end()) {
    for (const Sense& sense : senses->second) {
      for (std::string& candidate : synset_words(sense)) {
        if (candidate != word && is_plain_word(candidate) &&
            std::find(result.begin(), result.end(), candidate) == result.end()) {
          result.push_back(std::move(candidate));
        }
      }
    }
  }
  return cache_.emplace(word, std::move(result)).first->second;
}

}  // namespace tracemark
