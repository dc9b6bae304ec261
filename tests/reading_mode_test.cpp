// Reading mode (verify/reading_mode.hpp): which prefixes the key-free rule lets us ask, how the
// answers are checked against the harvest, and, on a simulated teacher, that an innocent reader
// closest to the harvest (the teacher's own unwatermarked model) gets calibrated p-values over many
// keys while a reader that learned a little of the watermark is found.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <vector>

#include "test_support.hpp"
#include "tracemark/embed/green_list_scheme.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/reading_mode.hpp"

namespace tracemark {
namespace {

using testing::TemporaryFolder;

std::vector<std::string> ids_of(const std::vector<ReadingQuery>& queries) {
  std::vector<std::string> ids;
  for (const ReadingQuery& q : queries) ids.push_back(q.id());
  return ids;
}

TEST(ReadingQueries, OnlyAWindowsFirstFollowerInHarvestOrder) {
  // Width 2. Record 0: prompt 1 2, answer 3 1 2 4 (the window 1 2 comes back at the end).
  // Record 1: prompt 5 3, answer 1 9 (its window 3 1 was followed in record 0).
  // Record 2: prompt 7 8 9, answer 7 8 6 (the window 7 8 was first followed inside the prompt).
  const std::vector<HarvestSequence> harvest = {
      {{1, 2, 3, 1, 2, 4}, 2}, {{5, 3, 1, 9}, 2}, {{7, 8, 9, 7, 8, 6}, 3}};
  EXPECT_EQ(ids_of(reading_queries(harvest, 2)),
            (std::vector<std::string>{"r0-0", "r0-1", "r0-2", "r1-0", "r2-0", "r2-1"}));
  // Width 1: the windows are single tokens (3 was followed in record 0, 7 and 8 in record 2's prompt).
  EXPECT_EQ(ids_of(reading_queries(harvest, 1)), (std::vector<std::string>{"r0-0", "r0-1", "r2-0"}));
  EXPECT_THROW(reading_queries(harvest, 0), Error);
  EXPECT_THROW(reading_queries(harvest, 17), Error);
  // A record shorter than the window asks nothing.
  EXPECT_TRUE(reading_queries({{{4}, 0}}, 2).empty());
}

TEST(ReadingQueries, IdsRoundTripAndOthersAreRefused) {
  const std::optional<ReadingQuery> q = parse_reading_query_id("r12-345");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->record, 12u);
  EXPECT_EQ(q->position, 345u);
  EXPECT_EQ(q->id(), "r12-345");
  for (const char* bad : {"", "r", "r1", "r1-", "r-1", "x1-2", "r1-2x", "r1--2", "r 1-2", "r18446744073709551616-1"}) {
    EXPECT_FALSE(parse_reading_query_id(bad)) << bad;
  }
}

void write_lines(const std::filesystem::path& path, const std::vector<std::string>& lines) {
  std::ofstream out(path);
  for (const std::string& line : lines) out << line << "\n";
}

std::string error_of(const WatermarkKey& key, const std::vector<HarvestSequence>& harvest,
                     const std::filesystem::path& answers) {
  try {
    scan_reading_answers(key, harvest, answers);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ReadingScan, RefusesAnswersThatDoNotMatchTheHarvest) {
  TemporaryFolder folder;
  const WatermarkKey key = testing::golden_key(testing::params_with(0.25, 2.0, 2, 64, 2));
  write_lines(folder.path() / "harvest.jsonl", {R"({"prompt_tokens":[1,2],"tokens":[3,1,2,4]})"});
  const std::vector<HarvestSequence> harvest = read_harvest_sequences(folder.path() / "harvest.jsonl");
  const auto answers = folder.path() / "answers.jsonl";
  const auto refused = [&](const std::string& line, const std::string& expected) {
    write_lines(answers, {R"({"id":"r0-0","prompt_tokens":[1,2],"tokens":[5]})", line});
    const std::string message = error_of(key, harvest, answers);
    EXPECT_NE(message.find("answers.jsonl line 2"), std::string::npos) << message;
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  };
  refused(R"({"id":"r0-1","prompt_tokens":[1,2,9],"tokens":[5]})", "is not that query's prefix");
  refused(R"({"id":"r3-0","prompt_tokens":[1,2],"tokens":[5]})", "is not a query of this harvest");
  refused(R"({"id":"r0-4","prompt_tokens":[1,2],"tokens":[5]})", "is not a query of this harvest");
  refused(R"({"id":"probe-1","prompt_tokens":[1,2],"tokens":[5]})", "is not a query of this harvest");
  refused(R"({"id":"r0-0","prompt_tokens":[1,2],"tokens":[6]})", "a second answer");
  refused(R"({"id":"r0-1","tokens":[5]})", "no \"prompt_tokens\"");
  refused(R"({"id":"r0-1","prompt_tokens":[1,2,3],"tokens":[]})", "has no next token");
  refused(R"({"id":"r0-1","prompt_tokens":[1,2,3],"tokens":[64]})", "outside the key's vocabulary");
  refused(R"({"id":"r0-1","prompt_tokens":[1,2,3],"tokens":[5],"top_logprobs":[[{"id":5,"logprob":0.5}]]})",
          "logprob above 0");
  refused(R"({"id":"r0-1","prompt_tokens":[1,2,3],"tokens":[5],"top_logprobs":[[{"id":5,"logprob":-1},{"id":5,"logprob":-2}]]})",
          "twice");
  refused(R"({"id":"r0-1","prompt_tokens":[1,2,3],"tokens":[5],"top_logprobs":[[{"id":70,"logprob":-1}]]})",
          "outside the key's vocabulary");
  refused(R"({"id":"r0-1","prompt_tokens":[1,2,3],"tokens":[5],"top_logprobs":[[{"id":5,"logprob":-0.1},{"id":6,"logprob":-0.2}]]})",
          "summing to");
  refused(R"({"id":"r0-1","prompt_tokens":[1,2,3],"tokens":[5],"top_logprobs":[]})", "has no first step");
  refused(R"({"id":7,"prompt_tokens":[1,2,3],"tokens":[5]})", "expected an answer with the query's \"id\"");
  // Hostile input: a truncated line, deep nesting, wrong types and numbers out of range.
  refused(R"({"id":"r0-1","prompt_tokens":[1,2,3],"tok)", "not valid JSON");
  refused(R"({"id":"r0-1","prompt_tokens":[1,2,3],"tokens":[5],"top_logprobs":)" + std::string(5000, '[') +
              std::string(5000, ']') + "}",
          "nested");
  refused(R"({"id":"r0-1","prompt_tokens":[1,-2,3],"tokens":[5]})", "\"prompt_tokens\" must be an array of token ids");
  refused(R"({"id":"r0-1","prompt_tokens":[1,2,4294967296],"tokens":[5]})", "\"prompt_tokens\" must be an array of token ids");
  refused(R"({"id":"r0-1","prompt_tokens":"1 2 3","tokens":[5]})", "\"prompt_tokens\" must be an array of token ids");
  refused(R"({"id":"r0-1","prompt_tokens":[1,2,3],"tokens":[5],"top_logprobs":[[{"id":-1,"logprob":-1}]]})",
          "outside the key's vocabulary");
  refused(R"({"id":"r0-1","prompt_tokens":[1,2,3],"tokens":[5],"top_logprobs":[[{"id":5,"logprob":"-1"}]]})",
          "not a number");
  refused(R"({"id":"r0-1","prompt_tokens":[1,2,3],"tokens":[5],"top_logprobs":[[{"id":5,"logprob":-1e400}]]})",
          "line 2");
  refused(R"({"id":"r0-1","prompt_tokens":[1,2,3],"tokens":[5],"top_logprobs":{"id":5}})", "has no first step");

  // A harvest of the wrong shape is refused with its line, before any answer is read.
  const auto harvest_error = [&](const std::string& line, const std::string& expected) {
    write_lines(folder.path() / "bad-harvest.jsonl", {R"({"prompt_tokens":[1],"tokens":[2]})", line});
    std::string message;
    try {
      read_harvest_sequences(folder.path() / "bad-harvest.jsonl");
    } catch (const Error& e) {
      message = e.what();
    }
    EXPECT_NE(message.find("bad-harvest.jsonl line 2"), std::string::npos) << message;
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  };
  harvest_error(R"({"prompt_tokens":[1]})", "expected a record with \"tokens\"");
  harvest_error(R"({"prompt_tokens":[1],"tokens":[2,-3]})", "not a token id");
  harvest_error(R"({"prompt_tokens":[1.5],"tokens":[2]})", "\"prompt_tokens\" must be an array of token ids");
  harvest_error(R"({"prompt_tokens":[1],"tokens":[2)", "not valid JSON");
  harvest_error(R"(["tokens",[1]])", "expected a record with \"tokens\"");

  // A key of another scheme, or of width 0, is refused before any answer is read.
  EXPECT_NE(error_of(testing::golden_key(testing::gumbel_params(2, 64)), harvest, answers).find("gumbel-max"),
            std::string::npos);
  EXPECT_NE(error_of(testing::golden_key(testing::params_with(0.25, 2.0, 0, 64, 2)), harvest, answers).find("width"),
            std::string::npos);

  // Reference answers are checked the same way, and must answer every scored query.
  write_lines(answers, {R"({"id":"r0-0","prompt_tokens":[1,2],"tokens":[5],"top_logprobs":[[{"id":5,"logprob":-1}]]})",
                        R"({"id":"r0-1","prompt_tokens":[1,2,3],"tokens":[5],"top_logprobs":[[{"id":5,"logprob":-1}]]})"});
  const auto reference = folder.path() / "reference.jsonl";
  const auto reference_error = [&](const std::vector<std::string>& lines, const std::string& expected) {
    write_lines(reference, lines);
    std::string message;
    try {
      scan_reading_answers(key, harvest, answers, reference);
    } catch (const Error& e) {
      message = e.what();
    }
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  };
  reference_error({R"({"id":"r0-0","prompt_tokens":[1,2],"tokens":[5],"top_logprobs":[[{"id":5,"logprob":-2}]]})"},
                  "answers.jsonl line 2: the reference answers have no answer to query \"r0-1\"");
  reference_error({R"({"id":"r0-0","prompt_tokens":[1,2],"tokens":[5]})"},
                  "reference.jsonl line 1: a reference answer needs its listed tokens");
  reference_error({R"({"id":"r0-0","prompt_tokens":[1,9],"tokens":[5],"top_logprobs":[[{"id":5,"logprob":-2}]]})"},
                  "reference.jsonl line 1: the prompt of \"r0-0\" is not that query's prefix");
  reference_error({R"({"id":"r0-0","prompt_tokens":[1,2],"tokens":[5],"top_logprobs":[[{"id":5,"logprob":-2}]]})",
                   R"({"id":"r0-0","prompt_tokens":[1,2],"tokens":[5],"top_logprobs":[[{"id":5,"logprob":-2}]]})"},
                  "reference.jsonl line 2: a second reference answer");

  // The answer to a prefix whose window was followed before is read but not scored.
  write_lines(answers, {R"({"id":"r0-3","prompt_tokens":[1,2,3,1,2],"tokens":[5]})"});
  const ReadingScanReport report = scan_reading_answers(key, harvest, answers);
  EXPECT_EQ(report.answers, 1u);
  EXPECT_EQ(report.not_first, 1u);
  EXPECT_EQ(report.scored, 0u);
  EXPECT_FALSE(report.mass);
}

// A simulated teacher over 64 token ids: its logits depend on the last two tokens only (a fixed
// key-free table). The harvest is its watermarked answers; the innocent reader is the same table
// without the watermark (the closest innocent model there is); the student adds a small learned
// bias on the key's green tokens.
class SimulatedTeacher {
 public:
  static constexpr std::uint32_t kVocab = 64;
  SimulatedTeacher() : logits_(kVocab * kVocab * kVocab) {
    std::mt19937_64 rng(2024);
    std::normal_distribution<float> normal(0.0f, 1.6f);
    for (float& x : logits_) x = normal(rng);
  }
  std::vector<float> logits(std::uint32_t a, std::uint32_t b) const {
    const auto row = logits_.begin() + (static_cast<std::size_t>(a) * kVocab + b) * kVocab;
    return {row, row + kVocab};
  }

 private:
  std::vector<float> logits_;
};

std::vector<double> softmax(const std::vector<float>& logits) {
  const float top = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double sum = 0;
  for (std::size_t i = 0; i < p.size(); ++i) sum += (p[i] = std::exp(double(logits[i] - top)));
  for (double& x : p) x /= sum;
  return p;
}

void add_green_bias(const GreenListScheme& scheme, std::uint32_t a, std::uint32_t b, float delta, std::vector<float>& logits) {
  const std::uint32_t window[2] = {a, b};
  const std::uint64_t seed = scheme.context_seed(window);
  for (std::uint32_t v = 0; v < logits.size(); ++v) logits[v] += scheme.is_green(seed, v) ? delta : 0.0f;
}

// Writes a watermarked harvest of `records` answers and a reader's answers (greedy token and its
// top 5 log-probabilities) to every allowed query; returns the scan.
// reference: also write the answers of a clean reference model (the teacher's table, plus fixed
// key-free noise of `reference_noise` in its logits when above 0) and scan with them.
ReadingScanReport simulate(const WatermarkKey& key, const SimulatedTeacher& teacher, float learned_delta,
                           std::uint64_t seed, const std::filesystem::path& folder, int records = 30,
                           bool reference = false, float reference_noise = 0.0f) {
  const GreenListScheme scheme(key);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::uint32_t> any(0, SimulatedTeacher::kVocab - 1);
  std::vector<HarvestSequence> harvest;
  {
    std::ofstream out(folder / "harvest.jsonl");
    for (int r = 0; r < records; ++r) {
      HarvestSequence sequence;
      for (int i = 0; i < 5; ++i) sequence.tokens.push_back(any(rng));
      sequence.prompt_length = 5;
      for (int i = 0; i < 40; ++i) {
        const std::size_t n = sequence.tokens.size();
        std::vector<float> logits = teacher.logits(sequence.tokens[n - 2], sequence.tokens[n - 1]);
        add_green_bias(scheme, sequence.tokens[n - 2], sequence.tokens[n - 1], 2.0f, logits);
        const std::vector<double> p = softmax(logits);
        sequence.tokens.push_back(std::discrete_distribution<std::uint32_t>(p.begin(), p.end())(rng));
      }
      nlohmann::json line = {{"prompt_tokens", std::vector<std::uint32_t>(sequence.tokens.begin(), sequence.tokens.begin() + 5)},
                             {"tokens", std::vector<std::uint32_t>(sequence.tokens.begin() + 5, sequence.tokens.end())}};
      out << line.dump() << "\n";
      harvest.push_back(std::move(sequence));
    }
  }
  for (const bool answering_as_reference : {false, true}) {
    if (answering_as_reference && !reference) break;
    std::ofstream out(folder / (answering_as_reference ? "reference.jsonl" : "answers.jsonl"));
    for (const ReadingQuery& query : reading_queries(harvest, 2)) {
      const HarvestSequence& sequence = harvest[query.record];
      const std::size_t end = sequence.prompt_length + query.position;
      const std::uint32_t a = sequence.tokens[end - 2], b = sequence.tokens[end - 1];
      std::vector<float> logits = teacher.logits(a, b);
      if (!answering_as_reference && learned_delta != 0.0f) add_green_bias(scheme, a, b, learned_delta, logits);
      if (answering_as_reference && reference_noise > 0.0f) {
        std::mt19937_64 noise_rng((std::uint64_t{a} << 32) | b);  // a function of the window only
        std::normal_distribution<float> noise(0.0f, reference_noise);
        for (float& x : logits) x += noise(noise_rng);
      }
      const std::vector<double> p = softmax(logits);
      std::vector<std::uint32_t> order(p.size());
      for (std::uint32_t v = 0; v < order.size(); ++v) order[v] = v;
      std::sort(order.begin(), order.end(), [&](std::uint32_t x, std::uint32_t y) { return p[x] > p[y] || (p[x] == p[y] && x < y); });
      nlohmann::json top = nlohmann::json::array();
      for (int i = 0; i < (answering_as_reference ? 10 : 5); ++i) top.push_back({{"id", order[i]}, {"logprob", std::log(p[order[i]])}});
      nlohmann::json line = {{"id", query.id()},
                             {"prompt_tokens", std::vector<std::uint32_t>(sequence.tokens.begin(), sequence.tokens.begin() + end)},
                             {"tokens", {order[0]}},
                             {"top_logprobs", {top}}};
      out << line.dump() << "\n";
    }
  }
  return scan_reading_answers(key, read_harvest_sequences(folder / "harvest.jsonl"), folder / "answers.jsonl",
                              reference ? folder / "reference.jsonl" : std::filesystem::path());
}

// The suspect is the teacher's own table without the watermark (the innocent model closest to the
// harvest); the reference for the excess test is a noisy copy of it (another clean model).
TEST(ReadingScan, TheTeachersOwnUnwatermarkedModelIsCalibratedOverManyKeys) {
  TemporaryFolder folder;
  const SimulatedTeacher teacher;
  const int keys = 150;
  int greedy_05 = 0, greedy_01 = 0, mass_05 = 0, mass_01 = 0, tilt_05 = 0, tilt_01 = 0, excess_05 = 0, excess_01 = 0;
  for (int k = 0; k < keys; ++k) {
    const WatermarkKey key = WatermarkKey::generate(testing::params_with(0.25, 2.0, 2, SimulatedTeacher::kVocab, 2));
    const ReadingScanReport report = simulate(key, teacher, 0.0f, 100 + k, folder.path(), 20, true, 0.5f);
    ASSERT_GT(report.scored, 500u);
    ASSERT_TRUE(report.mass);
    greedy_05 += report.greedy.p_value <= 0.05;
    greedy_01 += report.greedy.p_value <= 0.01;
    mass_05 += report.mass->p_value <= 0.05;
    mass_01 += report.mass->p_value <= 0.01;
    tilt_05 += report.tilt->p_value <= 0.05;
    tilt_01 += report.tilt->p_value <= 0.01;
    ASSERT_TRUE(report.excess);
    excess_05 += report.excess->p_value <= 0.05;
    excess_01 += report.excess->p_value <= 0.01;
  }
  // Binomial(150, 0.05): mean 7.5, sd 2.7; (150, 0.01): mean 1.5, sd 1.2. Upper limits at about 3 sd.
  EXPECT_LE(greedy_05, 16);
  EXPECT_LE(greedy_01, 5);
  EXPECT_LE(mass_05, 16);
  EXPECT_LE(mass_01, 5);
  EXPECT_LE(tilt_05, 16);
  EXPECT_LE(tilt_01, 5);
  EXPECT_LE(excess_05, 16);
  EXPECT_LE(excess_01, 5);
  std::cout << "greedy p <= 0.05: " << greedy_05 << ", <= 0.01: " << greedy_01 << "; green mass: " << mass_05 << ", "
            << mass_01 << "; green tilt: " << tilt_05 << ", " << tilt_01 << "; over a reference: " << excess_05 << ", "
            << excess_01 << " (of " << keys << " keys)\n";
}

TEST(ReadingScan, AReaderThatLearnedALittleOfTheWatermarkIsFound) {
  TemporaryFolder folder;
  const SimulatedTeacher teacher;
  const WatermarkKey key = testing::golden_key(testing::params_with(0.25, 2.0, 2, SimulatedTeacher::kVocab, 2));
  // A learned bias of 0.3 nats (the watermark itself is 2): the green mass finds it clearly, and the
  // excess over a clean reference (here the teacher's table itself) more clearly still.
  const ReadingScanReport report = simulate(key, teacher, 0.3f, 7, folder.path(), 60, true);
  ASSERT_TRUE(report.mass);
  EXPECT_GT(report.mass->green_weight / report.mass->weight, 0.27);
  EXPECT_LT(report.mass->log10_p, -6.0);
  EXPECT_LT(report.mass->log10_p, report.greedy.log10_p);
  ASSERT_TRUE(report.excess);
  EXPECT_LT(report.excess->log10_p, report.mass->log10_p);
  EXPECT_LT(report.combined_log10_p(), -6.0);
  EXPECT_NEAR(report.combined_log10_p(), report.excess->log10_p + std::log10(4.0), 1e-9);
}

}  // namespace
}  // namespace tracemark
