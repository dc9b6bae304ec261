// The distributed scan's steps (issue 20, verify/scan_partition.hpp): emitting hash partitions of
// several shards, reducing each partition and merging the partial counts gives exactly the counts and
// p-values of the single-process scan of the shards concatenated, for any number of partitions and
// shards, with keys of several widths, an entropy threshold, prompts and a reference filter; and
// damaged, missing, repeated or foreign partition files and partial counts are refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "test_support.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/scan_partition.hpp"
#include "tracemark/verify/suspect_scan.hpp"

namespace tracemark {
namespace {

using testing::params_with;

constexpr std::uint32_t kVocab = 50;

// Entropy from the ids alone (thread-safe, deterministic), standing in for a reference model.
class IdEntropy : public StepEntropySource {
 public:
  std::vector<float> entropies(std::span<const std::uint32_t>, std::span<const std::uint32_t> response) const override {
    std::vector<float> out;
    for (std::size_t i = 0; i < response.size(); ++i) out.push_back(static_cast<float>((response[i] * 7 + i) % 30) / 10.0f);
    return out;
  }
  std::string description() const override { return "ids"; }
};

// Writes `count` short responses over a small vocabulary (many repeated tuples, within and across
// shards) with prompts that sometimes copy part of the response.
std::string write_records(const std::filesystem::path& path, std::uint32_t seed, int count) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::uint32_t> token(0, kVocab - 1);
  std::uniform_int_distribution<int> length(0, 40);
  std::ofstream out(path);
  for (int r = 0; r < count; ++r) {
    std::vector<std::uint32_t> tokens, prompt;
    for (int i = length(rng); i > 0; --i) tokens.push_back(token(rng));
    if (tokens.size() > 8 && token(rng) % 3 == 0) prompt.assign(tokens.begin() + 1, tokens.begin() + 7);
    for (int i = 0; i < 4; ++i) prompt.push_back(token(rng));
    out << nlohmann::json({{"id", "r" + std::to_string(seed) + "-" + std::to_string(r)}, {"tokens", tokens}, {"prompt_tokens", prompt}})
               .dump()
        << '\n';
  }
  return path.string();
}

std::vector<WatermarkKey> mixed_keys() {
  std::vector<WatermarkKey> keys;
  for (auto [width, threshold] : std::vector<std::pair<std::uint32_t, double>>{{1, 0.0}, {2, 0.0}, {2, 0.0}, {1, 1.2}, {3, 0.0}}) {
    SchemeParams params = params_with(0.25, 2.0, width, kVocab);
    params.entropy_threshold = threshold;
    keys.push_back(WatermarkKey::generate(params));
  }
  return keys;
}

struct Distributed {
  MergedScan merged;
  std::vector<std::filesystem::path> partials;
};

Distributed run_distributed(const std::vector<WatermarkKey>& keys, const SuspectScanOptions& options,
                            const std::vector<std::string>& shards, std::uint32_t partitions, const std::filesystem::path& work) {
  const SuspectScanner scanner(keys, options);
  std::vector<std::vector<std::string>> emitted;
  for (std::size_t s = 0; s < shards.size(); ++s) {
    emitted.push_back(scanner.emit_partitions(shards[s], partitions, (work / ("shard" + std::to_string(s))).string()));
  }
  Distributed out;
  std::vector<ScanPartialCounts> partials;
  for (std::uint32_t p = 0; p < partitions; ++p) {
    std::vector<std::filesystem::path> files;
    for (const auto& paths : emitted) files.emplace_back(paths.at(p));
    out.partials.push_back(work / ("partial" + std::to_string(p) + ".json"));
    write_scan_partial_counts(out.partials.back(), reduce_scan_partition(keys, files));
    partials.push_back(read_scan_partial_counts(out.partials.back()));
  }
  out.merged = merge_scan_partials(keys, partials, options.settings);
  return out;
}

void expect_same_result(const KeyScanResult& a, const KeyScanResult& b) {
  EXPECT_EQ(a.key_id, b.key_id);
  EXPECT_EQ(a.counts.responses, b.counts.responses);
  EXPECT_EQ(a.counts.tokens, b.counts.tokens);
  EXPECT_EQ(a.counts.skipped_prefix, b.counts.skipped_prefix);
  EXPECT_EQ(a.counts.skipped_repeated_tuple, b.counts.skipped_repeated_tuple);
  EXPECT_EQ(a.counts.skipped_prompt_window, b.counts.skipped_prompt_window);
  EXPECT_EQ(a.counts.skipped_filter, b.counts.skipped_filter);
  EXPECT_EQ(a.counts.skipped_low_entropy, b.counts.skipped_low_entropy);
  EXPECT_EQ(a.counts.scored, b.counts.scored);
  EXPECT_EQ(a.counts.green, b.counts.green);
  EXPECT_EQ(a.test.log10_p, b.test.log10_p);
  EXPECT_EQ(a.holm_log10_p, b.holm_log10_p);
  EXPECT_EQ(a.further_tokens_needed, b.further_tokens_needed);
}

TEST(ScanPartition, MergedPartitionsEqualTheSingleProcessScan) {
  testing::TemporaryFolder dir;
  const std::vector<WatermarkKey> keys = mixed_keys();
  const std::vector<std::string> shards = {write_records(dir.path() / "a.jsonl", 1, 150),
                                           write_records(dir.path() / "b.jsonl", 2, 120),
                                           write_records(dir.path() / "c.jsonl", 3, 90)};
  const std::string whole = (dir.path() / "whole.jsonl").string();
  {
    std::ofstream out(whole);
    for (const std::string& shard : shards) out << std::ifstream(shard).rdbuf();
  }
  const std::string log = write_records(dir.path() / "log.jsonl", 4, 40);
  for (bool with_filter : {false, true}) {
    SCOPED_TRACE(with_filter ? "reference filter file" : "no reference filter");
    SuspectScanOptions options;
    options.entropy_source = std::make_shared<IdEntropy>();
    if (with_filter) {
      // Built once from the log, then loaded by every step, as a distributed run would.
      SuspectScanOptions build = options;
      build.reference_log_path = log;
      build.reference_filter_out = (dir.path() / "filter.bin").string();
      (void)run_suspect_scan(keys, shards[0], build);
      options.reference_filter_path = build.reference_filter_out;
    }
    const SuspectScanReport single = run_suspect_scan(keys, whole, options);
    EXPECT_GT(single.suspect.keys[0].counts.skipped_repeated_tuple, 1000u);
    EXPECT_GT(single.suspect.keys[3].counts.skipped_low_entropy, 100u);
    if (with_filter) {
      EXPECT_GT(single.suspect.keys[1].counts.skipped_filter, 100u);
    }
    for (std::uint32_t partitions : {1u, 3u, 7u}) {
      SCOPED_TRACE(std::to_string(partitions) + " partitions");
      const std::filesystem::path work = dir.path() / ("run" + std::to_string(partitions) + (with_filter ? "f" : ""));
      std::filesystem::create_directories(work);
      const Distributed distributed = run_distributed(keys, options, shards, partitions, work);
      const SuspectScanReport& merged = distributed.merged.report;
      ASSERT_EQ(merged.suspect.keys.size(), keys.size());
      for (std::size_t k = 0; k < keys.size(); ++k) {
        SCOPED_TRACE("key " + std::to_string(k));
        expect_same_result(merged.suspect.keys[k], single.suspect.keys[k]);
      }
      EXPECT_EQ(merged.suspect.records, single.suspect.records);
      EXPECT_EQ(merged.reference.size(), single.reference.size());
      EXPECT_EQ(distributed.merged.partitions, partitions);
      ASSERT_EQ(distributed.merged.shards.size(), 3u);
      EXPECT_EQ(distributed.merged.shards[1].name, "b.jsonl");
      EXPECT_EQ(distributed.merged.shards[1].records, 120u);
      EXPECT_EQ(distributed.merged.shards[1].sha256.size(), 64u);
    }
  }
}

TEST(ScanPartition, MissingRepeatedAndDamagedPartsAreRefused) {
  testing::TemporaryFolder dir;
  const std::vector<WatermarkKey> keys = mixed_keys();
  const std::vector<std::string> shards = {write_records(dir.path() / "a.jsonl", 5, 60), write_records(dir.path() / "b.jsonl", 6, 60)};
  SuspectScanOptions options;
  options.entropy_source = std::make_shared<IdEntropy>();
  const Distributed good = run_distributed(keys, options, shards, 3, dir.path());
  std::vector<ScanPartialCounts> partials;
  for (const auto& path : good.partials) partials.push_back(read_scan_partial_counts(path));
  // A partition missing, or one given twice.
  EXPECT_THROW(merge_scan_partials(keys, std::span(partials).first(2), options.settings), Error);
  std::vector<ScanPartialCounts> repeated = {partials[0], partials[1], partials[1]};
  EXPECT_THROW(merge_scan_partials(keys, repeated, options.settings), Error);
  // Partial counts of another set of shards.
  std::vector<ScanPartialCounts> mixed = partials;
  mixed[2].shards[0].sha256 = std::string(64, '0');
  EXPECT_THROW(merge_scan_partials(keys, mixed, options.settings), Error);
  // Other keys.
  std::vector<WatermarkKey> others = mixed_keys();
  EXPECT_THROW(merge_scan_partials(others, partials, options.settings), Error);
  const std::filesystem::path part = dir.path() / "shard0.1-of-3.tmpart";
  EXPECT_THROW(reduce_scan_partition(others, std::vector<std::filesystem::path>{part}), Error);
  // Partitions 0 and 1 reduced together.
  EXPECT_THROW(reduce_scan_partition(keys, std::vector<std::filesystem::path>{dir.path() / "shard0.0-of-3.tmpart", part}), Error);
  // A truncated partition file, and one with a changed byte, are refused by length and checksum.
  const std::uintmax_t size = std::filesystem::file_size(part);
  ASSERT_GT(size, 100u);
  std::stringstream read_back;
  read_back << std::ifstream(part, std::ios::binary).rdbuf();
  const std::string bytes = read_back.str();
  auto expect_refused = [&](const std::string& content, const std::string& expected) {
    const std::filesystem::path damaged = dir.path() / "damaged.tmpart";
    std::ofstream(damaged, std::ios::binary | std::ios::trunc) << content;
    try {
      (void)read_scan_partition_file(damaged);
      FAIL() << "a damaged partition file was accepted (" << expected << ")";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input);
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("byte offset"), std::string::npos) << e.what();
    }
  };
  expect_refused(bytes.substr(0, bytes.size() - 40), "truncated");
  std::string flipped = bytes;
  flipped[flipped.size() - 40] ^= 1;
  expect_refused(flipped, "checksum");
  expect_refused(bytes + "x", "after the checksum");
  expect_refused("{}", "not a tracemark scan partition file");
}

}  // namespace
}  // namespace tracemark
