// Word-level paraphrase of harvested responses, the cheapest thing a distiller can do before
// training: at a given rate, each word is replaced by a WordNet synonym, deleted, preceded by an
// inserted word, or swapped with its neighbour. Words are runs of non-space bytes; the spaces
// between them are kept as written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tracemark/attacks/wordnet_synonyms.hpp"
#include "tracemark/refmodel/synthetic_model.hpp"  // SplitMix64

namespace tracemark {

enum class WordEdit : std::uint8_t { synonym, deletion, insertion, swap };

struct ParaphraseOptions {
  // The probability that a word is edited, in [0, 1] (Error invalid_argument outside).
  double rate = 0.1;
  // The edits to choose from, uniformly, for each edited word; not empty.
  std::vector<WordEdit> edits{WordEdit::synonym, WordEdit::deletion, WordEdit::insertion, WordEdit::swap};

  void validate() const;
};

// Parses "synonym,deletion,insertion,swap" (any subset, comma-separated). Throws
// Error(invalid_argument) naming an unknown edit and listing the valid ones.
std::vector<WordEdit> parse_word_edits(const std::string& list);

// Counts of edits made (a word chosen for a synonym that has none is left as it is and counted in
// no_synonym).
struct ParaphraseCounts {
  std::uint64_t words = 0;
  std::uint64_t synonyms = 0, deletions = 0, insertions = 0, swaps = 0, no_synonym = 0;
  void add(const ParaphraseCounts& other);
  std::uint64_t edited() const noexcept { return synonyms + deletions + insertions + swaps; }
};

// Rewrites one text. insertion_pool: the words inserted are drawn uniformly from it (the caller
// passes the harvest's own words, so insertions follow its word frequencies); it must not be empty
// when insertions are enabled. Synonyms keep the case pattern of the word they replace (Title,
// UPPER, lower) and its leading and trailing punctuation. Deterministic for a given rng state.
std::string paraphrase_text(const std::string& text, const ParaphraseOptions& options, WordnetSynonyms& synonyms,
                            const std::vector<std::string>& insertion_pool, SplitMix64& rng, ParaphraseCounts& counts);

// The words of a text (runs of non-space bytes), for building an insertion pool.
std::vector<std::string> split_words(const std::string& text);

}  // namespace tracemark
