#include "tracemark/refmodel/ngram_counter.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

using ngram_format::kMaxOrder;

// An n-gram at context depth j: ids[0..j-1] the context from the most recent token backwards,
// ids[j] the predicted token, the rest zero. Sorting by ids orders contexts as the trie stores them.
struct Gram {
  std::array<std::uint32_t, kMaxOrder> ids{};
  std::uint32_t count = 0;
};

// Sorts and merges equal n-grams, adding their counts.
void sort_and_merge(std::vector<Gram>& grams) {
  std::sort(grams.begin(), grams.end(), [](const Gram& a, const Gram& b) { return a.ids < b.ids; });
  std::size_t out = 0;
  for (std::size_t i = 0; i < grams.size();) {
    Gram merged = grams[i];
    std::uint64_t count = 0;
    for (; i < grams.size() && grams[i].ids == merged.ids; ++i) count += grams[i].count;
    merged.count = static_cast<std::uint32_t>(count);  // <= token count < 2^32, checked on input
    grams[out++] = merged;
  }
  grams.resize(out);
}

bool same_context(const Gram& a, const Gram& b, std::uint32_t depth) {
  return std::equal(a.ids.begin(), a.ids.begin() + depth, b.ids.begin());
}

// Chen & Goodman (1999), "An empirical study of smoothing techniques for language modeling",
// eq. 26: D = n1 / (n1 + 2 n2), n_r the number of n-grams with count r. Without singletons
// (tiny corpora) the estimate is undefined and 0.5 is used; the result is always in (0, 1].
double estimate_discount(const std::vector<Gram>& grams) {
  std::uint64_t n1 = 0, n2 = 0;
  for (const Gram& gram : grams) {
    n1 += gram.count == 1;
    n2 += gram.count == 2;
  }
  if (n1 == 0) return 0.5;
  return static_cast<double>(n1) / static_cast<double>(n1 + 2 * n2);
}

}  // namespace

NgramCounter::NgramCounter(std::uint32_t order, std::uint32_t vocab_size) : order_(order), vocab_size_(vocab_size) {
  if (order < ngram_format::kMinOrder || order > kMaxOrder) {
    throw Error(ErrorCode::invalid_argument, "order " + std::to_string(order) + " is out of range; use 2 to 5");
  }
  if (vocab_size == 0 || vocab_size > (1U << 31)) {
    throw Error(ErrorCode::invalid_argument, "vocabulary size " + std::to_string(vocab_size) + " is out of range; use 1 to 2^31");
  }
}

void NgramCounter::add_document(std::span<const std::uint32_t> tokens) {
  if (tokens.empty()) return;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] >= vocab_size_) {
      throw Error(ErrorCode::invalid_input, "token id " + std::to_string(tokens[i]) + " at position " + std::to_string(i) +
                                                " is outside the vocabulary (size " + std::to_string(vocab_size_) + ")");
    }
  }
  // Counts are 32-bit in the file; keep every count (at most the token count) below 2^32.
  if (token_count_ + tokens.size() >= std::numeric_limits<std::uint32_t>::max()) {
    throw Error(ErrorCode::invalid_input, "training data exceeds 2^32 - 1 tokens; train on less text");
  }
  stream_.insert(stream_.end(), order_ - 1, vocab_size_);
  stream_.insert(stream_.end(), tokens.begin(), tokens.end());
  token_count_ += tokens.size();
  ++document_count_;
}

NgramTables NgramCounter::build() const {
  if (token_count_ == 0) throw Error(ErrorCode::invalid_input, "no training tokens: the corpus is empty");
  NgramTables tables;
  tables.order = order_;
  tables.vocab_size = vocab_size_;
  tables.token_count = token_count_;
  tables.document_count = document_count_;

  // Highest order: raw counts of every n-gram ending at a training token.
  const std::uint32_t top = order_ - 1;
  std::vector<Gram> grams;
  grams.reserve(token_count_);
  for (std::size_t p = 0; p < stream_.size(); ++p) {
    if (stream_[p] == vocab_size_) continue;  // padding is never predicted
    Gram gram;
    for (std::uint32_t i = 1; i <= top; ++i) gram.ids[i - 1] = stream_[p - i];  // padding guarantees p >= top
    gram.ids[top] = stream_[p];
    gram.count = 1;
    grams.push_back(gram);
  }
  sort_and_merge(grams);

  // Context keys of the depth just built (deeper) and being built, to link children to parents.
  std::vector<Gram> deeper_contexts;
  std::vector<Gram> these_contexts;
  for (std::uint32_t depth = top + 1; depth-- > 0;) {
    tables.discounts[depth] = estimate_discount(grams);
    auto& nodes = tables.nodes[depth];
    auto& followers = tables.followers[depth];
    followers.reserve(grams.size());
    these_contexts.clear();
    for (std::size_t i = 0; i < grams.size();) {
      ngram_format::Node node{};
      node.token = depth == 0 ? 0 : grams[i].ids[depth - 1];
      node.followers_begin = static_cast<std::uint32_t>(followers.size());
      std::uint64_t total = 0;
      const std::size_t first = i;
      for (; i < grams.size() && same_context(grams[i], grams[first], depth); ++i) {
        followers.push_back({grams[i].ids[depth], grams[i].count});
        total += grams[i].count;
      }
      node.followers_count = static_cast<std::uint32_t>(i - first);
      node.total = static_cast<std::uint32_t>(total);  // a sum of counts of one order: <= tokens
      nodes.push_back(node);
      these_contexts.push_back(grams[first]);
    }
    // Link the depth below (built in the previous iteration) to these nodes as their parents:
    // both lists are sorted by context, so one forward walk pairs them.
    if (depth < top) {
      auto& children = tables.nodes[depth + 1];
      std::size_t parent = 0;
      for (std::size_t c = 0; c < children.size(); ++c) {
        while (parent < nodes.size() && !same_context(deeper_contexts[c], these_contexts[parent], depth)) ++parent;
        if (parent == nodes.size()) throw Error(ErrorCode::internal, "n-gram trie: a context has no parent");
        if (nodes[parent].children_count == 0) nodes[parent].children_begin = static_cast<std::uint32_t>(c);
        ++nodes[parent].children_count;
      }
    }
    deeper_contexts.swap(these_contexts);
    if (depth == 0) break;
    // Kneser-Ney continuation counts of the order below: N1+(. h w), the number of distinct tokens
    // seen before (h w), i.e. the number of distinct n-grams that reduce to (h w).
    std::vector<Gram> lower;
    lower.reserve(grams.size());
    for (const Gram& gram : grams) {
      Gram reduced;
      std::copy(gram.ids.begin(), gram.ids.begin() + (depth - 1), reduced.ids.begin());
      reduced.ids[depth - 1] = gram.ids[depth];
      reduced.count = 1;
      lower.push_back(reduced);
    }
    sort_and_merge(lower);
    grams.swap(lower);
  }
  return tables;
}

}  // namespace tracemark
