// Attacks on a harvest (issue 17): word paraphrase against a small WordNet database written by the
// test (the format of wndb(5WN), so the test needs no package), and watermark stealing/scrubbing
// on a synthetic harvest whose green lists the test knows.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "test_support.hpp"
#include "tracemark/attacks/green_list_stealing.hpp"
#include "tracemark/attacks/word_paraphrase.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

// Expects statement to throw tracemark::Error whose message contains text.
#define EXPECT_THROW_MESSAGE(statement, text)                                                   \
  do {                                                                                          \
    try {                                                                                       \
      statement;                                                                                \
      ADD_FAILURE() << "no error from " #statement;                                             \
    } catch (const Error& e) {                                                                  \
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();               \
    }                                                                                           \
  } while (false)

// A WordNet folder with two noun synsets and one adjective synset, offsets exact.
class TinyWordnet : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = temporary_.path();
    const std::string licence = "  1 This software and database is being provided\n";
    std::string noun = licence;
    const std::size_t car = noun.size();
    noun += pad(car) + " 06 n 03 car 0 auto 0 motor_vehicle 0 000 | a motor vehicle\n";
    const std::size_t house = noun.size();
    noun += pad(house) + " 14 n 02 house 0 home 0 000 | a dwelling\n";
    write("data.noun", noun);
    write("index.noun", licence + "car n 1 0 1 0 " + pad(car) + "\nhouse n 1 1 @ 1 0 " + pad(house) +
                            "\nmotor_vehicle n 1 0 1 0 " + pad(car) + "\n");
    std::string adj = licence;
    const std::size_t big = adj.size();
    adj += pad(big) + " 00 s 02 big 0 large(a) 0 000 | above average in size\n";
    write("data.adj", adj);
    write("index.adj", licence + "big a 1 0 1 0 " + pad(big) + "\n");
    for (const char* name : {"data.verb", "index.verb", "data.adv", "index.adv"}) write(name, licence);
  }

  static std::string pad(std::size_t offset) {
    std::string digits = std::to_string(offset);
    return std::string(8 - digits.size(), '0') + digits;
  }
  void write(const std::string& name, const std::string& text) { std::ofstream(folder_ / name, std::ios::binary) << text; }

  testing::TemporaryFolder temporary_;
  std::filesystem::path folder_;
};

TEST_F(TinyWordnet, SynonymsOfTheFirstSenseWithoutMultiWordLemmas) {
  WordnetSynonyms synonyms(folder_);
  EXPECT_EQ(synonyms.synonyms("car"), (std::vector<std::string>{"auto"}));
  EXPECT_EQ(synonyms.synonyms("big"), (std::vector<std::string>{"large"}));  // the "(a)" marker is dropped
  EXPECT_EQ(synonyms.synonyms("home").size(), 0u);                           // not a lemma in this index
  EXPECT_EQ(synonyms.lemma_count(), 3u);                                      // motor_vehicle is not a plain word
}

TEST_F(TinyWordnet, MissingAndDamagedFilesAreNamed) {
  std::filesystem::remove(folder_ / "index.adv");
  EXPECT_THROW_MESSAGE(WordnetSynonyms{folder_}, "index.adv");
  write("index.adv", "fast r 1 0\n");
  EXPECT_THROW_MESSAGE(WordnetSynonyms{folder_}, "index.adv line 1: not a WordNet index line");
  write("index.adv", "fast r 1 0 1 0 00000003\n");  // an offset that is no synset line
  write("data.adv", "  1 licence\n");
  WordnetSynonyms synonyms(folder_);
  EXPECT_THROW_MESSAGE(synonyms.synonyms("fast"), "data.adv byte offset 3: not the synset line");
}

TEST_F(TinyWordnet, ParaphraseKeepsCasePunctuationAndSpaces) {
  WordnetSynonyms synonyms(folder_);
  ParaphraseOptions options;
  options.rate = 1.0;
  options.edits = {WordEdit::synonym};
  ParaphraseCounts counts;
  SplitMix64 rng(3);
  EXPECT_EQ(paraphrase_text("  The Big car,\n\tBIG house.", options, synonyms, {}, rng, counts),
            "  The Large auto,\n\tLARGE home.");
  EXPECT_EQ(counts.words, 5u);
  EXPECT_EQ(counts.synonyms, 4u);
  EXPECT_EQ(counts.no_synonym, 1u);  // "The"
}

TEST_F(TinyWordnet, RateZeroChangesNothingAndTheSeedDecides) {
  WordnetSynonyms synonyms(folder_);
  const std::string text = "one two three four five six seven eight nine ten car big house";
  const std::vector<std::string> pool = split_words(text);
  ParaphraseOptions options;
  options.rate = 0.0;
  ParaphraseCounts counts;
  SplitMix64 rng(1);
  EXPECT_EQ(paraphrase_text(text, options, synonyms, pool, rng, counts), text);
  EXPECT_EQ(counts.edited(), 0u);
  options.rate = 0.5;
  SplitMix64 a(7), b(7), c(8);
  ParaphraseCounts ca, cb, cc;
  const std::string first = paraphrase_text(text, options, synonyms, pool, a, ca);
  EXPECT_EQ(first, paraphrase_text(text, options, synonyms, pool, b, cb));
  EXPECT_NE(first, text);
  EXPECT_NE(first, paraphrase_text(text, options, synonyms, pool, c, cc));
}

TEST_F(TinyWordnet, DeletionInsertionAndSwapCountWords) {
  WordnetSynonyms synonyms(folder_);
  const std::string text = "a b c d e f g h";
  ParaphraseOptions options;
  options.rate = 1.0;
  ParaphraseCounts counts;
  SplitMix64 rng(1);
  options.edits = {WordEdit::deletion};
  EXPECT_EQ(paraphrase_text(text, options, synonyms, {}, rng, counts), "");
  options.edits = {WordEdit::swap};
  EXPECT_EQ(paraphrase_text(text, options, synonyms, {}, rng, counts), "b a d c f e h g");
  options.edits = {WordEdit::insertion};
  const std::string inserted = paraphrase_text("a b", options, synonyms, {"x"}, rng, counts);
  EXPECT_EQ(inserted, "x a x b");
  EXPECT_THROW_MESSAGE(paraphrase_text("a", options, synonyms, {}, rng, counts), "non-empty word pool");
}

TEST(WordParaphrase, OptionsOutOfRangeAreRefused) {
  ParaphraseOptions options;
  options.rate = 1.5;
  EXPECT_THROW_MESSAGE(options.validate(), "paraphrase rate 1.500000 is out of range; use a value in [0, 1]");
  options.rate = std::nan("");
  EXPECT_THROW(options.validate(), Error);
  EXPECT_EQ(parse_word_edits("swap,synonym"), (std::vector<WordEdit>{WordEdit::swap, WordEdit::synonym}));
  EXPECT_THROW_MESSAGE(parse_word_edits("synonym,rotate"), "unknown word edit \"rotate\"");
}

// A harvest from a toy teacher: after each previous token, a base distribution over 60 tokens
// with the green quarter (known to the test) boosted by e^2, as a green-list watermark with h = 1
// does; the reference is the same base distribution without the boost.
struct ToyWatermark {
  static constexpr std::uint32_t kVocab = 60;
  static bool green(std::uint32_t previous, std::uint32_t token) {
    return (previous * 7919u + token * 104729u) % 4 == 0;
  }
  static TokenDocuments sample(bool boosted, std::uint64_t seed, std::size_t documents, std::size_t length) {
    SplitMix64 rng(seed);
    TokenDocuments out;
    for (std::size_t d = 0; d < documents; ++d) {
      std::vector<std::uint32_t> document{static_cast<std::uint32_t>(rng.next() % kVocab)};
      while (document.size() < length) {
        double weights[kVocab], total = 0;
        for (std::uint32_t t = 0; t < kVocab; ++t) {
          weights[t] = 1.0 / (1.0 + (t + document.back()) % kVocab);  // Zipf-like, shifted per context
          if (boosted && green(document.back(), t)) weights[t] *= std::exp(2.0);
          total += weights[t];
        }
        double u = rng.uniform() * total;
        std::uint32_t t = 0;
        while (t + 1 < kVocab && u >= weights[t]) u -= weights[t++];
        document.push_back(t);
      }
      out.push_back(std::move(document));
    }
    return out;
  }
  static double green_rate(const TokenDocuments& documents) {
    std::uint64_t green_count = 0, total = 0;
    for (const auto& document : documents) {
      for (std::size_t i = 1; i < document.size(); ++i, ++total) green_count += green(document[i - 1], document[i]);
    }
    return static_cast<double>(green_count) / static_cast<double>(total);
  }
};

TEST(GreenListStealing, FlagsMostlyGreenPairsAndScrubbingRemovesTheExcess) {
  const TokenDocuments harvest = ToyWatermark::sample(true, 1, 100, 200);
  const TokenDocuments reference = ToyWatermark::sample(false, 2, 100, 200);
  const GreenListEstimate estimate = GreenListEstimate::estimate(harvest, reference, ToyWatermark::kVocab, {});
  const auto flagged = estimate.flagged();
  ASSERT_EQ(flagged.size(), estimate.flagged_pairs());
  ASSERT_GT(flagged.size(), 150u);
  std::size_t truly_green = 0;
  for (const auto& [context, token] : flagged) {
    ASSERT_EQ(context.size(), 1u);
    truly_green += ToyWatermark::green(context[0], token);
    EXPECT_TRUE(estimate.is_flagged(context, token));
  }
  const double precision = static_cast<double>(truly_green) / static_cast<double>(flagged.size());
  EXPECT_GT(precision, 0.8) << "seeds 1 and 2";

  const double before = ToyWatermark::green_rate(harvest);
  EXPECT_GT(before, 0.5);
  EXPECT_LT(ToyWatermark::green_rate(reference), 0.32);
  TokenDocuments scrubbed;
  ScrubCounts counts;
  SplitMix64 rng(5);
  for (const auto& document : harvest) scrubbed.push_back(scrub_document(document, estimate, 1.0, rng, counts));
  EXPECT_EQ(counts.tokens, 20000u);
  EXPECT_EQ(counts.flagged, counts.replaced + counts.deleted);
  EXPECT_GT(counts.replaced, 3000u);
  EXPECT_LT(ToyWatermark::green_rate(scrubbed), before - 0.15) << "before " << before;

  // Strength 0 rewrites nothing; out of range is refused.
  ScrubCounts none;
  EXPECT_EQ(scrub_document(harvest[0], estimate, 0.0, rng, none), harvest[0]);
  EXPECT_EQ(none.replaced + none.deleted, 0u);
  EXPECT_THROW_MESSAGE(scrub_document(harvest[0], estimate, 1.01, rng, none), "scrub strength 1.010000 is out of range");
}

TEST(GreenListStealing, CleanHarvestFlagsLittleAndBadOptionsAreRefused) {
  const TokenDocuments clean = ToyWatermark::sample(false, 3, 100, 200);
  const TokenDocuments reference = ToyWatermark::sample(false, 2, 100, 200);
  const GreenListEstimate estimate = GreenListEstimate::estimate(clean, reference, ToyWatermark::kVocab, {});
  EXPECT_LT(static_cast<double>(estimate.flagged_pairs()), 0.1 * static_cast<double>(estimate.judged_pairs()));
  StealingOptions options;
  options.context_width = 4;
  EXPECT_THROW_MESSAGE(GreenListEstimate::estimate(clean, reference, 60, options), "context width 4 is out of range");
  options = {};
  options.min_ratio = 1.0;
  EXPECT_THROW_MESSAGE(GreenListEstimate::estimate(clean, reference, 60, options), "ratio 1.000000 is out of range");
  options = {};
  options.max_p = 0.0;
  EXPECT_THROW_MESSAGE(GreenListEstimate::estimate(clean, reference, 60, options), "significance level 0.000000 is out of range");
  EXPECT_THROW_MESSAGE(GreenListEstimate::estimate({{1, 2, 60}}, reference, 60, {}),
                       "harvest document 0: token id 60 is outside the vocabulary");
}

}  // namespace
}  // namespace tracemark
