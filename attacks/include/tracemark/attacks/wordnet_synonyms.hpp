// Synonyms from the WordNet database files (Princeton WordNet 3.0 as Debian's wordnet-base ships
// it in /usr/share/wordnet: index.{noun,verb,adj,adv} and data.{noun,verb,adj,adv}; format in
// wndb(5WN)). A word's synonyms are the other single-word lemmas of its most frequent sense (the
// first synset its index line lists) in each part of speech where it is a lemma. No morphology:
// an inflected form ("dogs") that is not itself a lemma has no synonyms here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace tracemark {

// Loads the four index files at construction and reads synset lines from the data files on
// demand, caching each word's answer. Not thread-safe (the cache and the open data files).
class WordnetSynonyms {
 public:
  // The default folder of Debian's wordnet-base package.
  static constexpr const char* kDefaultFolder = "/usr/share/wordnet";

  // Throws Error(io) naming the missing file and the package to install, Error(invalid_input)
  // naming the file and line of a malformed index line.
  explicit WordnetSynonyms(const std::filesystem::path& folder);

  // Lower-case single-word synonyms of a lower-case word, without the word itself, in the order the
  // database lists them (nouns, verbs, adjectives, adverbs); empty when there are none. Throws
  // Error(invalid_input) naming the data file and byte offset of a malformed synset line.
  const std::vector<std::string>& synonyms(const std::string& word);

  std::size_t lemma_count() const noexcept { return first_senses_.size(); }

 private:
  struct Sense {
    std::uint8_t part_of_speech;  // index into the four files
    std::uint64_t offset;         // byte offset of the synset line in its data file
  };
  std::vector<std::string> synset_words(const Sense& sense);

  std::filesystem::path folder_;
  std::unordered_map<std::string, std::vector<Sense>> first_senses_;
  std::ifstream data_[4];
  std::unordered_map<std::string, std::vector<std::string>> cache_;
};

}  // namespace tracemark
