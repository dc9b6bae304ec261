// The reference language model: a token-level n-gram model with interpolated Kneser-Ney smoothing
// (Kneser & Ney 1995; the interpolated form of Chen & Goodman 1999, section 3.4), read in place
// from a memory-mapped model file.
//
// For a context h of n-1 tokens and h' = h without its oldest token:
//   P_n(w | h) = max(c(h w) - D_n, 0) / c(h) + D_n N1+(h .) / c(h) P_{n-1}(w | h')
// with raw counts c at the model's order and continuation counts c(h w) = N1+(. h w) at lower
// orders; a context never seen at some order backs off entirely (P_n = P_{n-1}). The recursion
// ends in the uniform distribution over the vocabulary,
//   P_1(w) = max(c(w) - D_1, 0) / c(.) + D_1 N1+(.) / c(.) / V,
// so every token has a probability above zero and each distribution sums to 1 over the vocabulary.
// Exception: ids the model file marks unpredictable (gaps and special tokens of the tokenizer) are
// left out of the uniform term (V counts only the others), so they get probability 0 (logit
// -infinity) unless the training data held them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tracemark/refmodel/mapped_file.hpp"
#include "tracemark/refmodel/ngram_tables.hpp"
#include "tracemark/embed/green_list_scheme.hpp"

namespace tracemark {

// Per-thread working memory for NgramModel queries (one per thread; reused across calls, so a
// query allocates nothing once warm). Not thread-safe.
class NgramScratch {
 public:
  NgramScratch() = default;

 private:
  friend class NgramModel;
  std::vector<double> correction_;       // indexed by token id; zero outside touched_
  std::vector<std::uint8_t> is_touched_;  // indexed by token id
  std::vector<std::uint32_t> touched_;
  std::vector<std::pair<double, std::uint32_t>> ranked_;  // top_candidates' working list
};

// Immutable after load; every method is const and may be called from many threads at once, each
// with its own NgramScratch. The mapping is shared, read-only.
class NgramModel {
 public:
  // Maps and checks a model file: magic, format version, sizes, checksum and the structure of
  // every table (a damaged file is refused, never read out of bounds). Throws Error(unsupported)
  // for another format version, Error(invalid_input) for a damaged file, Error(io) when unreadable;
  // every message names the file.
  static NgramModel load(const std::filesystem::path& path);

  std::uint32_t order() const noexcept { return header_->order; }
  std::uint32_t vocab_size() const noexcept { return header_->vocab_size; }
  std::uint64_t training_tokens() const noexcept { return header_->token_count; }
  std::uint64_t training_documents() const noexcept { return header_->document_count; }
  double discount(std::uint32_t order) const noexcept { return header_->discounts[order - 1]; }
  const ModelTokenizerRecord& tokenizer() const noexcept { return tokenizer_; }
  std::uint64_t context_count(std::uint32_t depth) const noexcept { return header_->nodes[depth].count; }
  // Ids with probability 0 unless seen in training (no ordinary token of the tokenizer).
  std::span<const std::uint32_t> unpredictable_ids() const noexcept { return unpredictable_; }

  // In all queries, history is the document so far (prompt and generated tokens); only its last
  // order-1 ids matter and positions before its start count as begin-of-document. Ids in history
  // must be < vocab_size() (Error invalid_argument otherwise).

  // Natural-log probabilities of every token, out.size() == vocab_size(). Cost: one pass over the
  // vocabulary plus the tokens seen after the context's suffixes.
  void log_probabilities(std::span<const std::uint32_t> history, std::span<float> out, NgramScratch& scratch) const;

  // The k most probable tokens (ties: lower id first), logit = natural-log probability, sorted by
  // descending probability; out is resized to min(k, number of tokens with probability > 0). Cost does not grow with the
  // vocabulary: the tokens seen after the context plus the first k of the unigram order.
  void top_candidates(std::span<const std::uint32_t> history, std::size_t k, std::vector<Candidate>& out,
                      NgramScratch& scratch) const;

  // The Shannon entropy (nats) of the next-token distribution after history, exactly as the
  // softmax of log_probabilities() would give it, in time independent of the vocabulary: the
  // unigram part's sum is precomputed and only the tokens seen after the context are visited.
  double entropy(std::span<const std::uint32_t> history, NgramScratch& scratch) const;

  // P(token | history) in double precision, by the recursion above (for perplexity and tests).
  double probability(std::span<const std::uint32_t> history, std::uint32_t token) const;

 private:
  NgramModel() = default;
  void check_structure(const std::string& name) const;
  // Fills path[0..] with the nodes of the context's suffixes, longest match last; returns depth.
  std::uint32_t match_context(std::span<const std::uint32_t> history, const ngram_format::Node** path) const;
  // Interpolation weights: weight[j] multiplies the discounted counts at depth j, weight[0] the
  // unigram distribution.
  void interpolation_weights(const ngram_format::Node* const* path, std::uint32_t depth, double* weight) const;
  void collect_corrections(std::span<const std::uint32_t> history, NgramScratch& scratch, double& unigram_weight) const;

  MappedFile file_;
  const ngram_format::Header* header_ = nullptr;
  std::span<const ngram_format::Node> nodes_[ngram_format::kMaxOrder];
  std::span<const ngram_format::Follower> followers_[ngram_format::kMaxOrder];
  std::span<const std::uint32_t> unpredictable_;
  ModelTokenizerRecord tokenizer_;
  std::vector<double> unigram_;          // P_1(w), indexed by token id
  std::vector<float> log_unigram_;       // ln P_1(w)
  std::vector<std::uint32_t> by_unigram_;  // token ids by descending P_1, ties by id
  double unigram_plogp_ = 0;               // sum over w of P_1(w) ln P_1(w) (0 ln 0 = 0)
};

// The negative natural-log probability of `tokens` following `context` under the model (the sum
// over tokens; context conditions the first tokens and is not scored): perplexity's numerator.
double sequence_nats(const NgramModel& model, std::span<const std::uint32_t> context, std::span<const std::uint32_t> tokens);

// Refuses a model whose tokenizer differs from the expected one (name and vocabulary digest):
// Error(invalid_input) naming the model file, both tokenizers and what to do.
void require_model_tokenizer(const NgramModel& model, const std::string& model_name,
                             const ModelTokenizerRecord& expected);
// The same for a model of any kind, given the tokenizer its file records.
void require_model_tokenizer(const ModelTokenizerRecord& actual, const std::string& model_name,
                             const ModelTokenizerRecord& expected);

}  // namespace tracemark
