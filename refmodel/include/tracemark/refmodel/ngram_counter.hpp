// Counting n-grams for the interpolated Kneser-Ney reference model.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tracemark/refmodel/ngram_tables.hpp"

namespace tracemark {

// Collects training documents, then counts them into NgramTables. Not thread-safe.
// Memory: 4 bytes per training token while collecting; build() needs about 50 bytes per token
// more at its peak (sorted n-gram arrays of two adjacent orders).
class NgramCounter {
 public:
  // order: 2..5 (Error invalid_argument otherwise); vocab_size: 1..2^31 ids.
  NgramCounter(std::uint32_t order, std::uint32_t vocab_size);

  // Adds one document (contexts at its start are padded with begin-of-document markers, so its
  // first tokens are modelled as document openings). Empty documents are ignored. Throws
  // Error(invalid_input) naming the id and position for an id >= vocab_size; the caller adds the
  // file and line.
  void add_document(std::span<const std::uint32_t> tokens);

  std::uint64_t token_count() const noexcept { return token_count_; }
  std::uint64_t document_count() const noexcept { return document_count_; }

  // Counts every order and computes discounts. Throws Error(invalid_input) when no token was added.
  NgramTables build() const;

 private:
  std::uint32_t order_;
  std::uint32_t vocab_size_;
  std::vector<std::uint32_t> stream_;  // documents, each preceded by order-1 begin-of-document ids
  std::uint64_t token_count_ = 0;
  std::uint64_t document_count_ = 0;
};

}  // namespace tracemark
