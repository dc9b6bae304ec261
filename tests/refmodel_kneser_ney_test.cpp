// The reference model's probabilities against a deliberately simple map-based implementation of
// interpolated Kneser-Ney (Chen & Goodman 1999, section 3.4), written from the formula and sharing
// no code with tools/refmodel.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "tracemark/refmodel/token_sampler.hpp"
#include "refmodel_test_support.hpp"
#include "test_support.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

using Gram = std::vector<std::uint32_t>;  // oldest token first, predicted token last

class ReferenceKneserNey {
 public:
  ReferenceKneserNey(const std::vector<std::vector<std::uint32_t>>& corpus, std::uint32_t order, std::uint32_t vocab)
      : order_(order), vocab_(vocab), counts_(order + 1), discounts_(order + 1) {
    const std::uint32_t bos = vocab;
    for (const auto& document : corpus) {
      if (document.empty()) continue;
      Gram padded(order - 1, bos);
      padded.insert(padded.end(), document.begin(), document.end());
      for (std::size_t end = order - 1; end < padded.size(); ++end) {
        ++counts_[order][Gram(padded.begin() + static_cast<std::ptrdiff_t>(end + 1 - order),
                              padded.begin() + static_cast<std::ptrdiff_t>(end + 1))];
      }
    }
    // Continuation count of a k-gram: the number of distinct (k+1)-grams it ends.
    for (std::uint32_t k = order - 1; k >= 1; --k) {
      for (const auto& [gram, count] : counts_[k + 1]) ++counts_[k][Gram(gram.begin() + 1, gram.end())];
    }
    for (std::uint32_t k = 1; k <= order; ++k) {
      double n1 = 0, n2 = 0;
      for (const auto& [gram, count] : counts_[k]) {
        n1 += count == 1;
        n2 += count == 2;
      }
      discounts_[k] = n1 == 0 ? 0.5 : n1 / (n1 + 2 * n2);
    }
  }

  double discount(std::uint32_t k) const { return discounts_[k]; }

  double probability(const std::vector<std::uint32_t>& history, std::uint32_t token) const {
    Gram context(order_ - 1, vocab_);
    context.insert(context.end(), history.begin(), history.end());
    context.erase(context.begin(), context.end() - (order_ - 1));
    return p(order_, context, token);
  }

 private:
  // P_k(token | context), context: the last k-1 tokens.
  double p(std::uint32_t k, const Gram& context, std::uint32_t token) const {
    if (k == 0) return 1.0 / vocab_;
    double total = 0, types = 0, count = 0;
    for (const auto& [gram, c] : counts_[k]) {
      if (!std::equal(context.begin(), context.end(), gram.begin())) continue;
      total += c;
      types += 1;
      if (gram.back() == token) count = c;
    }
    const Gram lower_context = context.empty() ? Gram{} : Gram(context.begin() + 1, context.end());
    if (total == 0) return p(k - 1, lower_context, token);
    const double d = discounts_[k];
    return std::max(count - d, 0.0) / total + d * types / total * p(k - 1, lower_context, token);
  }

  std::uint32_t order_;
  std::uint32_t vocab_;
  std::vector<std::map<Gram, std::uint64_t>> counts_;  // index k: k-grams
  std::vector<double> discounts_;
};

// Histories to query: seen contexts, contexts with unseen tokens, empty and short ones.
std::vector<std::vector<std::uint32_t>> query_histories(const std::vector<std::vector<std::uint32_t>>& corpus,
                                                        std::uint32_t vocab, SplitMix64& rng) {
  std::vector<std::vector<std::uint32_t>> histories = {{}, {1}, {1, 2}, {vocab - 1}, {vocab - 1, vocab - 2, 0, 1}};
  for (int i = 0; i < 40; ++i) {
    const auto& document = corpus[rng.next() % corpus.size()];
    const std::size_t end = rng.next() % document.size();
    histories.emplace_back(document.begin(), document.begin() + static_cast<std::ptrdiff_t>(end));
    if (i % 4 == 0) histories.back().push_back(static_cast<std::uint32_t>(rng.next() % vocab));  // maybe unseen
  }
  return histories;
}

class KneserNeyByOrder : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(KneserNeyByOrder, MatchesTheReferenceAndSumsToOneOverTheWholeVocabulary) {
  const std::uint32_t order = GetParam();
  const std::uint32_t vocab = 60;  // ids 40..59 never occur in training: they get the uniform floor only
  const auto corpus = testing::tiny_corpus(40, 6, 50, testing::announce_seed(1000 + order));
  testing::TemporaryFolder folder;
  const NgramModel model = testing::train_model(corpus, order, vocab, folder.path() / "model.tmlm");
  const ReferenceKneserNey reference(corpus, order, vocab);
  for (std::uint32_t k = 1; k <= order; ++k) EXPECT_DOUBLE_EQ(model.discount(k), reference.discount(k)) << "order " << k;

  SplitMix64 rng(order);
  NgramScratch scratch;
  std::vector<float> logits(vocab);
  for (const auto& history : query_histories(corpus, vocab, rng)) {
    SCOPED_TRACE(::testing::Message() << "history of " << history.size() << " tokens");
    model.log_probabilities(history, logits, scratch);
    double sum = 0, sum_of_exp_logits = 0;
    for (std::uint32_t w = 0; w < vocab; ++w) {
      const double expected = reference.probability(history, w);
      const double actual = model.probability(history, w);
      ASSERT_GT(actual, 0.0) << "token " << w;
      ASSERT_NEAR(actual, expected, 1e-12 * expected) << "token " << w;
      ASSERT_NEAR(logits[w], std::log(expected), 2e-6) << "token " << w;
      sum += actual;
      sum_of_exp_logits += std::exp(static_cast<double>(logits[w]));
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
    EXPECT_NEAR(sum_of_exp_logits, 1.0, 1e-5);
  }
}

TEST_P(KneserNeyByOrder, TopCandidatesAreTheMostProbableTokensInOrder) {
  const std::uint32_t order = GetParam();
  const std::uint32_t vocab = 300;
  const auto corpus = testing::tiny_corpus(200, 8, 80, testing::announce_seed(2000 + order));
  testing::TemporaryFolder folder;
  const NgramModel model = testing::train_model(corpus, order, vocab, folder.path() / "model.tmlm");
  SplitMix64 rng(order);
  NgramScratch scratch;
  std::vector<Candidate> candidates;
  for (const auto& history : query_histories(corpus, vocab, rng)) {
    for (std::size_t k : {1, 5, 40, 299, 300, 1000}) {
      model.top_candidates(history, k, candidates, scratch);
      ASSERT_EQ(candidates.size(), std::min<std::size_t>(k, vocab));
      std::set<std::uint32_t> chosen;
      for (std::size_t i = 0; i < candidates.size(); ++i) {
        chosen.insert(candidates[i].id);
        EXPECT_NEAR(candidates[i].logit, std::log(model.probability(history, candidates[i].id)), 2e-6);
        if (i > 0) {
          ASSERT_GE(candidates[i - 1].logit, candidates[i].logit);
        }
      }
      ASSERT_EQ(chosen.size(), candidates.size()) << "duplicate candidates";
      const double weakest = model.probability(history, candidates.back().id);
      for (std::uint32_t w = 0; w < vocab; ++w) {
        if (!chosen.count(w)) {
          ASSERT_LE(model.probability(history, w), weakest * (1 + 1e-12)) << "k " << k << " token " << w;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Orders, KneserNeyByOrder, ::testing::Values(2u, 3u, 4u, 5u));

TEST(KneserNey, LargeVocabularyQueriesStayNormalised) {
  // A 150k vocabulary (tokenizer-sized) trained on a small corpus: almost every token lives on the
  // uniform floor, and the full-vocabulary path must still sum to 1.
  const std::uint32_t vocab = 150'000;
  const auto corpus = testing::tiny_corpus(5000, 10, 300, testing::announce_seed(3));
  testing::TemporaryFolder folder;
  const NgramModel model = testing::train_model(corpus, 4, vocab, folder.path() / "model.tmlm");
  NgramScratch scratch;
  std::vector<float> logits(vocab);
  for (const auto& history : {corpus[0], corpus[1], std::vector<std::uint32_t>{149'999}}) {
    model.log_probabilities(history, logits, scratch);
    double sum = 0;
    for (float logit : logits) sum += std::exp(static_cast<double>(logit));
    EXPECT_NEAR(sum, 1.0, 1e-4);
  }
}

TEST(KneserNey, UnpredictableIdsGetProbabilityZeroAndTheRestSumsToOne) {
  // Ids 50..59 are never seen; 55..59 are marked unpredictable (as a tokenizer's special tokens
  // and gaps are), and 3 is marked although seen: training data wins over the mark.
  const std::uint32_t vocab = 60;
  const std::vector<std::uint32_t> unpredictable = {3, 55, 56, 57, 58, 59};
  const auto corpus = testing::tiny_corpus(50, 6, 50, testing::announce_seed(4));
  testing::TemporaryFolder folder;
  const NgramModel model =
      testing::train_model(corpus, 3, vocab, folder.path() / "m.tmlm", ModelTokenizerRecord{}, unpredictable);
  ASSERT_EQ(std::vector<std::uint32_t>(model.unpredictable_ids().begin(), model.unpredictable_ids().end()), unpredictable);
  NgramScratch scratch;
  std::vector<float> logits(vocab);
  std::vector<Candidate> candidates;
  SplitMix64 rng(4);
  for (const auto& history : query_histories(corpus, 50, rng)) {
    model.log_probabilities(history, logits, scratch);
    double sum = 0;
    for (std::uint32_t w = 0; w < vocab; ++w) {
      const double p = model.probability(history, w);
      if (w >= 55) {
        EXPECT_EQ(p, 0.0);
        EXPECT_TRUE(std::isinf(logits[w]) && logits[w] < 0);
      } else {
        EXPECT_GT(p, 0.0) << "token " << w;  // 50..54: unseen but predictable; 3: seen
      }
      sum += p;
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
    model.top_candidates(history, vocab, candidates, scratch);
    EXPECT_EQ(candidates.size(), 55u);
    SamplerScratch sampler;
    for (double u : {0.0, 0.3, 0.999999}) EXPECT_LT(sample_from_logits(logits, SamplingOptions{}, u, sampler), 55u);
  }
}

TEST(KneserNey, RejectsOutOfRangeInput) {
  testing::TemporaryFolder folder;
  const NgramModel model = testing::train_model(testing::tiny_corpus(10, 2, 20, 1), 3, 10, folder.path() / "m.tmlm");
  NgramScratch scratch;
  std::vector<float> logits(10);
  EXPECT_THROW(model.log_probabilities(std::vector<std::uint32_t>{3, 10}, logits, scratch), Error);
  EXPECT_THROW(model.probability({}, 10), Error);
  std::vector<float> wrong_size(9);
  EXPECT_THROW(model.log_probabilities({}, wrong_size, scratch), Error);
  EXPECT_THROW(NgramCounter(1, 10), Error);
  EXPECT_THROW(NgramCounter(6, 10), Error);
  NgramCounter counter(3, 10);
  EXPECT_THROW(counter.add_document(std::vector<std::uint32_t>{1, 10}), Error);
  EXPECT_THROW(counter.build(), Error);  // nothing added
}

}  // namespace
}  // namespace tracemark
