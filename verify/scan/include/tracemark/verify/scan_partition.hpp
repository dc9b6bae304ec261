// The scan past one machine (issue 20): a map-reduce over hash partitions of the (context, token)
// tuples, driven by any engine that runs commands (bench/dask_scan.py uses Dask distributed).
//
//   1. emit (map), once per input shard: every response is prepared by the scan's own rules
//      (DistillationScan::prepare: prefix, prompt windows, reference filter, entropy, syntax), and
//      each candidate tuple goes to partition P(fingerprint) of N; a partition file holds the shard's
//      key-independent counts, how many candidates fell in the partition, and the partition's
//      distinct tuples in first-occurrence order (`scan --emit-partitions N`).
//   2. reduce, once per partition: the partition's files of every shard, in shard order, are
//      deduplicated into one set, so each distinct tuple is deduplicated in exactly one partition,
//      and every key colours the tuples new to it (`scan --reduce-partition`); the result is a small
//      JSON file of partial counts.
//   3. merge: the N partial counts are summed into each key's counts and the usual figures
//      (`scan --merge`).
//
// The result equals the single-process scan of the shards concatenated in order: a tuple is scored
// once whatever partition or shard it comes from, its colour depends only on the tuple and the key,
// and the shard-level counts are sums. (Even a 64-bit fingerprint collision is resolved the same
// way: the first occurrence in input order is the one coloured.) Only the p-value curve and the
// per-response tallies, which depend on input order across partitions, are not produced.
//
// Partition files hold token ids, never key material; the keys are needed only to reduce and merge.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tracemark/embed/key.hpp"
#include "tracemark/verify/distillation_scan.hpp"
#include "tracemark/verify/suspect_scan.hpp"

namespace tracemark {

// The partition (0 .. partitions-1) of a tuple fingerprint: multiply-shift on bits 16-47, so it is
// independent of the scan's shard (low bits) and of where TupleSet places it (high bits).
std::uint32_t tuple_partition(std::uint64_t fingerprint, std::uint32_t partitions) noexcept;

// The input shard a partition file came from, as the evidence of a distributed run records it.
struct ScanShardInfo {
  std::string name;    // file name, no folder
  std::uint64_t bytes = 0;
  std::string sha256;  // of the shard file
  std::uint64_t records = 0;
};

// One deduplication group (DistillationScan's: keys with the same width and rules) in a partition file
// or a partial count.
struct PartitionGroup {
  std::uint32_t context_width = 0;
  double entropy_threshold = 0;
  std::vector<std::string> key_ids;  // the group's keys, in the scan's key order
  // Key-independent counts of the whole shard (responses, tokens, skipped_*); scored, green and
  // skipped_repeated_tuple are left 0 (the reduce and the merge decide them).
  ScanCounts shard_counts;
  std::uint64_t candidates = 0;        // candidate tuples of the partition, repeats included
  std::vector<std::uint32_t> tuples;   // distinct tuples, (context_width + 1) ids each (partition files only)
};

// What the set-up of the scan contributes to its report (tokenizer, prompts, reference filters): the
// map copies it into every partition file so the merge can report it.
struct PartitionScanSetup {
  std::optional<TokenizerBinding> tokenizer;
  std::uint64_t prompts = 0;
  std::vector<ReferenceLogSummary> reference;
};

struct ScanPartitionFile {
  std::uint32_t partition = 0;
  std::uint32_t partitions = 1;
  ScanShardInfo shard;
  PartitionScanSetup setup;
  std::vector<PartitionGroup> groups;
};

// Layout: the line "tracemark-scan-partition 1", one line of JSON (everything but the tuples), the
// groups' tuples (little-endian uint32) one group after the other, then the SHA-256 of every byte
// before it. Written atomically; read_scan_partition_file refuses (Error(invalid_input), naming the
// file and byte offset) a file that is not one, is truncated, altered or has trailing bytes.
void write_scan_partition_file(const std::filesystem::path& path, const ScanPartitionFile& file);
ScanPartitionFile read_scan_partition_file(const std::filesystem::path& path);

// The map step over prepared responses of one shard: buckets each group's candidates by partition,
// deduplicated within the shard (first occurrence kept). Not thread-safe.
class PartitionEmitter {
 public:
  PartitionEmitter(const DistillationScan& scan, std::uint32_t partitions);
  void add_batch(std::span<const PreparedResponse> batch);
  // The partition files of everything added (partition k at index k; shard and setup left for the caller).
  std::vector<ScanPartitionFile> files() const;

 private:
  std::uint32_t partitions_;
  std::vector<PartitionGroup> templates_;                    // per group: rules, keys and shard counts
  std::vector<std::vector<TupleSet>> seen_;                  // [group][partition]
  std::vector<std::vector<std::vector<std::uint32_t>>> tuples_;  // [group][partition]
  std::vector<std::vector<std::uint64_t>> candidates_;      // [group][partition]
};

// The partial counts of one partition over every shard (the reduce step's output).
struct ScanPartialCounts {
  std::uint32_t partition = 0;
  std::uint32_t partitions = 1;
  std::vector<ScanShardInfo> shards;  // in shard order
  PartitionScanSetup setup;
  std::vector<PartitionGroup> groups;  // shard_counts summed over shards, candidates of this partition; no tuples
  std::vector<std::string> key_ids;    // the scan's keys in order
  std::vector<std::uint64_t> scored;   // per key: distinct tuples of this partition
  std::vector<std::uint64_t> green;    // per key: of which green
};

// The reduce step: `files` are partition k of every shard, in shard order. Refuses (invalid_input)
// files of different partitions, keys or set-ups, and keys that are not the files' (invalid_argument).
ScanPartialCounts reduce_scan_partition(std::span<const WatermarkKey> keys, std::span<const std::filesystem::path> files);

void write_scan_partial_counts(const std::filesystem::path& path, const ScanPartialCounts& partial);
ScanPartialCounts read_scan_partial_counts(const std::filesystem::path& path);

// The merge step: the partial counts of partitions 0 .. N-1, each exactly once, of the same shards
// and keys, summed into the report of a single-process scan (no p-value curve beyond its end point,
// no per-response tallies). Refuses anything missing, repeated or inconsistent (invalid_input).
struct MergedScan {
  SuspectScanReport report;
  std::uint32_t partitions = 0;
  std::vector<ScanShardInfo> shards;
};
MergedScan merge_scan_partials(std::span<const WatermarkKey> keys, std::span<const ScanPartialCounts> partials,
                               const ScanSettings& settings);

}  // namespace tracemark
