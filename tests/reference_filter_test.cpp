// The reference-context filter at campaign scale (issue 20): the xor filter (no false negatives, a
// false-positive rate near 1/256, about 1.23 bytes a context, the same bytes for the same set), its
// file (round trip; truncation, alteration, trailing bytes and foreign files refused with the byte
// offset), and the scan with it: a scan that writes the file and one that loads it give the same
// figures, the approximate filter only adds contexts to the exact one, and a file made for other
// keys is refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "test_support.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/context_xor_filter.hpp"
#include "tracemark/verify/reference_filter_file.hpp"
#include "tracemark/verify/suspect_scan.hpp"

namespace tracemark {
namespace {

using testing::params_with;

std::vector<std::uint64_t> random_fingerprints(std::uint64_t seed, std::size_t count) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> out(count);
  for (auto& value : out) value = rng();
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

TEST(ContextXorFilter, HoldsEveryContextAndAdmitsAboutOneOtherIn256) {
  const std::vector<std::uint64_t> held = random_fingerprints(1, 200'000);
  const ContextXorFilter filter = ContextXorFilter::build(held);
  for (std::uint64_t fingerprint : held) ASSERT_TRUE(filter.contains(fingerprint)) << fingerprint;
  const std::vector<std::uint64_t> others = random_fingerprints(2, 1'000'000);
  std::size_t admitted = 0;
  for (std::uint64_t fingerprint : others) admitted += filter.contains(fingerprint);
  // Binomial(1e6, 1/256): mean 3906, sd 62; +-8 sd.
  EXPECT_GT(admitted, 3400u);
  EXPECT_LT(admitted, 4400u);
  EXPECT_LE(filter.memory_bytes(), static_cast<std::size_t>(1.23 * 200'000) + 35);
}

TEST(ContextXorFilter, TheSameSetGivesTheSameBytesInAnyOrder) {
  std::vector<std::uint64_t> held = random_fingerprints(3, 5000);
  const ContextXorFilter a = ContextXorFilter::build(held);
  std::shuffle(held.begin(), held.end(), std::mt19937(4));
  const ContextXorFilter b = ContextXorFilter::build(held);
  EXPECT_EQ(a.seed(), b.seed());
  EXPECT_TRUE(std::ranges::equal(a.slots(), b.slots()));
  // Small sets too (the 32 extra slots), and the empty set.
  for (std::size_t n : {0u, 1u, 2u, 3u, 10u}) {
    const std::vector<std::uint64_t> few = random_fingerprints(5 + n, n);
    const ContextXorFilter small = ContextXorFilter::build(few);
    for (std::uint64_t fingerprint : few) EXPECT_TRUE(small.contains(fingerprint));
  }
}

TEST(ContextXorFilter, RepeatedFingerprintsAreRefused) {
  const std::vector<std::uint64_t> repeated = {7, 7, 9};
  EXPECT_THROW(ContextXorFilter::build(repeated), Error);
}

ReferenceFilterFile sample_file() {
  ReferenceFilterFile file;
  file.tokenizer = TokenizerBinding{"gpt2", std::string(64, 'a')};
  file.vocab_size = 50257;
  file.log_name = "log.jsonl";
  file.log_bytes = 1234;
  for (std::uint32_t width : {1u, 2u}) {
    const std::vector<std::uint64_t> held = random_fingerprints(10 + width, 3000 * width);
    file.sections.push_back({width, width == 2 ? 1.5 : 0.0, 0, 40, held.size(),
                             std::make_shared<const ContextXorFilter>(ContextXorFilter::build(held))});
  }
  return file;
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return std::move(contents).str();
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void expect_refused(const std::filesystem::path& path, const std::string& why) {
  try {
    (void)read_reference_filter_file(path);
    FAIL() << "expected a refusal mentioning \"" << why << "\"";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("byte offset"), std::string::npos) << e.what();
  }
}

TEST(ReferenceFilterFile, RoundTripsAndRefusesDamagedFiles) {
  testing::TemporaryFolder dir;
  const std::filesystem::path path = dir.path() / "filter.tmrf";
  const ReferenceFilterFile written = sample_file();
  write_reference_filter_file(path, written);
  const ReferenceFilterFile read = read_reference_filter_file(path);
  EXPECT_EQ(read.tokenizer, written.tokenizer);
  EXPECT_EQ(read.vocab_size, written.vocab_size);
  EXPECT_EQ(read.log_name, "log.jsonl");
  ASSERT_EQ(read.sections.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(read.sections[i].context_width, written.sections[i].context_width);
    EXPECT_EQ(read.sections[i].entropy_threshold, written.sections[i].entropy_threshold);
    EXPECT_EQ(read.sections[i].contexts, written.sections[i].contexts);
    EXPECT_EQ(read.sections[i].filter->seed(), written.sections[i].filter->seed());
    EXPECT_TRUE(std::ranges::equal(read.sections[i].filter->slots(), written.sections[i].filter->slots()));
  }
  const std::string bytes = read_bytes(path);
  const std::filesystem::path damaged = dir.path() / "damaged.tmrf";
  // Cut short anywhere: in the header, in a filter, in the checksum.
  for (std::size_t keep : {std::size_t{10}, bytes.find('\n', 30), bytes.size() / 2, bytes.size() - 40, bytes.size() - 1}) {
    SCOPED_TRACE("kept " + std::to_string(keep) + " of " + std::to_string(bytes.size()));
    write_bytes(damaged, bytes.substr(0, keep));
    try {
      (void)read_reference_filter_file(damaged);
      FAIL() << "a truncated file was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input);
      const std::string what = e.what();
      EXPECT_TRUE(what.find("truncated") != std::string::npos || what.find("cut short") != std::string::npos ||
                  what.find("not a tracemark reference filter") != std::string::npos) << what;
    }
  }
  std::string altered = bytes;
  altered[bytes.size() / 2] = static_cast<char>(altered[bytes.size() / 2] ^ 0x10);
  write_bytes(damaged, altered);
  expect_refused(damaged, "checksum does not match");
  write_bytes(damaged, bytes + "x");
  expect_refused(damaged, "bytes after the checksum");
  write_bytes(damaged, "{\"tokens\": [1, 2, 3]}\n");
  expect_refused(damaged, "not a tracemark reference filter");
  // A forged header that promises billions of slots in a small file: refused before allocating.
  const std::size_t slots_at = bytes.find("\"slots\":");
  ASSERT_NE(slots_at, std::string::npos);
  const std::size_t digits_at = bytes.find_first_of("0123456789", slots_at);
  const std::size_t digits_end = bytes.find_first_not_of("0123456789", digits_at);
  write_bytes(damaged, bytes.substr(0, digits_at) + "12884901885" + bytes.substr(digits_end));
  expect_refused(damaged, "the header promises 12884901885 bytes");
  // A header nested past the JSON reader's depth limit, and one with a wrong type.
  write_bytes(damaged, bytes.substr(0, bytes.find('{')) + std::string(5000, '[') + std::string(5000, ']') + "\n");
  expect_refused(damaged, "the header is not JSON");
  std::string wrong_type = bytes;
  const std::size_t vocab_at = wrong_type.find("\"vocab_size\":");
  ASSERT_NE(vocab_at, std::string::npos);
  wrong_type.insert(wrong_type.find_first_of("0123456789", vocab_at), "\"");
  wrong_type.insert(wrong_type.find_first_not_of("0123456789", wrong_type.find_first_of("0123456789", vocab_at)), "\"");
  write_bytes(damaged, wrong_type);
  expect_refused(damaged, "the header is not what this version writes");
}

// A suspect that shares half its text with a "served log", so the filter decides a lot.
struct ScanFiles {
  std::string log;
  std::string suspect;
};

ScanFiles write_scan_files(const testing::TemporaryFolder& dir, std::uint32_t vocab) {
  std::mt19937 rng(30);
  std::uniform_int_distribution<std::uint32_t> token(0, vocab - 1);
  auto response = [&] {
    std::vector<std::uint32_t> ids(60);
    for (auto& id : ids) id = token(rng);
    return ids;
  };
  std::vector<std::vector<std::uint32_t>> served;
  for (int i = 0; i < 300; ++i) served.push_back(response());
  ScanFiles files{(dir.path() / "log.jsonl").string(), (dir.path() / "suspect.jsonl").string()};
  std::ofstream log(files.log), suspect(files.suspect);
  for (const auto& ids : served) log << nlohmann::json({{"tokens", ids}}).dump() << '\n';
  for (int i = 0; i < 600; ++i) {
    suspect << nlohmann::json({{"tokens", i % 2 == 0 ? served[static_cast<std::size_t>(i / 2)] : response()}}).dump() << '\n';
  }
  return files;
}

TEST(ReferenceFilterScan, AWrittenFilterAndALoadedOneGiveTheSameFiguresAndOnlyAddContexts) {
  testing::TemporaryFolder dir;
  constexpr std::uint32_t kVocab = 100000;
  const ScanFiles files = write_scan_files(dir, kVocab);
  const std::vector<WatermarkKey> keys = {WatermarkKey::generate(params_with(0.25, 2.0, 1, kVocab)),
                                          WatermarkKey::generate(params_with(0.25, 2.0, 2, kVocab)),
                                          WatermarkKey::generate(params_with(0.25, 2.0, 2, kVocab, 2))};
  SuspectScanOptions exact;
  exact.reference_log_path = files.log;
  const SuspectScanReport with_log = run_suspect_scan(keys, files.suspect, exact);
  SuspectScanOptions building = exact;
  building.reference_filter_out = (dir.path() / "filter.tmrf").string();
  const SuspectScanReport built = run_suspect_scan(keys, files.suspect, building);
  SuspectScanOptions loading;
  loading.reference_filter_path = building.reference_filter_out;
  loading.threads = 2;
  const SuspectScanReport loaded = run_suspect_scan(keys, files.suspect, loading);
  ASSERT_EQ(loaded.reference.size(), 2u);  // widths 1 and 2
  for (const ReferenceLogSummary& summary : loaded.reference) {
    EXPECT_TRUE(summary.approximate);
    EXPECT_EQ(summary.responses, 300u);
  }
  for (std::size_t k = 0; k < keys.size(); ++k) {
    SCOPED_TRACE("key " + std::to_string(k));
    const ScanCounts& a = built.suspect.keys[k].counts;
    const ScanCounts& b = loaded.suspect.keys[k].counts;
    const ScanCounts& e = with_log.suspect.keys[k].counts;
    EXPECT_EQ(a.scored, b.scored);
    EXPECT_EQ(a.green, b.green);
    EXPECT_EQ(a.skipped_filter, b.skipped_filter);
    EXPECT_EQ(built.suspect.keys[k].test.log10_p, loaded.suspect.keys[k].test.log10_p);
    // False positives only: every context the log holds still passes; a few others pass too.
    EXPECT_GT(e.skipped_filter, 5000u);
    EXPECT_LE(b.skipped_filter, e.skipped_filter);
    EXPECT_GE(b.scored, e.scored);
    EXPECT_LT(static_cast<double>(e.skipped_filter - b.skipped_filter), 0.02 * static_cast<double>(e.skipped_filter));
  }
}

TEST(ReferenceFilterScan, AFilterMadeForOtherKeysIsRefused) {
  testing::TemporaryFolder dir;
  constexpr std::uint32_t kVocab = 100000;
  const ScanFiles files = write_scan_files(dir, kVocab);
  const WatermarkKey width1 = WatermarkKey::generate(params_with(0.25, 2.0, 1, kVocab));
  SuspectScanOptions building;
  building.reference_log_path = files.log;
  building.reference_filter_out = (dir.path() / "filter.tmrf").string();
  (void)run_suspect_scan({&width1, 1}, files.suspect, building);
  SuspectScanOptions loading;
  loading.reference_filter_path = building.reference_filter_out;
  auto expect_refusal = [&](const WatermarkKey& key, const std::string& why) {
    try {
      (void)run_suspect_scan({&key, 1}, files.suspect, loading);
      FAIL() << "expected a refusal mentioning \"" << why << "\"";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input);
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  expect_refusal(WatermarkKey::generate(params_with(0.25, 2.0, 2, kVocab)), "needs width 2");
  expect_refusal(WatermarkKey::generate(params_with(0.25, 2.0, 1, kVocab + 1)), "vocabulary of 100000 ids");
  SchemeParams with_threshold = params_with(0.25, 2.0, 1, kVocab);
  with_threshold.entropy_threshold = 1.0;
  expect_refusal(WatermarkKey::generate(with_threshold), "at entropy >=");
  SchemeParams bound = params_with(0.25, 2.0, 1, kVocab);
  bound.tokenizer = TokenizerBinding{"someone-else", std::string(64, 'b')};
  try {
    (void)run_suspect_scan(std::vector<WatermarkKey>{WatermarkKey::generate(bound)}, files.suspect, loading);
    FAIL() << "a filter for keys without a tokenizer was accepted for a key with one";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("was built for no tokenizer"), std::string::npos) << e.what();
  }
  // A log and a filter together, and a filter without a log to build it from, are refused too.
  SuspectScanOptions both = loading;
  both.reference_log_path = files.log;
  EXPECT_THROW(run_suspect_scan({&width1, 1}, files.suspect, both), Error);
  SuspectScanOptions out_only;
  out_only.reference_filter_out = (dir.path() / "other.tmrf").string();
  EXPECT_THROW(run_suspect_scan({&width1, 1}, files.suspect, out_only), Error);
  EXPECT_FALSE(std::filesystem::exists(out_only.reference_filter_out));
}

}  // namespace
}  // namespace tracemark
