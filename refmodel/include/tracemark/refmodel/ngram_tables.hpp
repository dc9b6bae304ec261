// The counted, not yet serialised contents of a reference model: what NgramCounter produces and
// write_ngram_model stores. See ngram_file_format.hpp for the meaning of each array.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tracemark/refmodel/ngram_file_format.hpp"

namespace tracemark {

// Which tokenizer the model's ids belong to. An empty name means the model was trained on token
// ids directly (no tokenizer): it can neither encode prompts nor decode responses to text.
struct ModelTokenizerRecord {
  std::string name;
  std::string spec;          // how to load it again (the --tokenizer argument it was trained with)
  std::string vocab_sha256;  // 64 lowercase hex digits, or empty without a tokenizer
  bool operator==(const ModelTokenizerRecord&) const = default;
};

struct NgramTables {
  std::uint32_t order = 0;
  std::uint32_t vocab_size = 0;
  std::uint64_t token_count = 0;
  std::uint64_t document_count = 0;
  std::array<double, ngram_format::kMaxOrder> discounts{};                      // index: order - 1
  std::array<std::vector<ngram_format::Node>, ngram_format::kMaxOrder> nodes;   // index: depth
  std::array<std::vector<ngram_format::Follower>, ngram_format::kMaxOrder> followers;
  std::vector<std::uint32_t> unpredictable_ids;  // sorted, unique, < vocab_size, fewer than vocab_size
};

}  // namespace tracemark
