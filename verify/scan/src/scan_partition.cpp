#include "tracemark/verify/scan_partition.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tracemark/atomic_file.hpp"
#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/sha256.hpp"
#include "tracemark/verify/green_list_detector.hpp"

namespace tracemark {
namespace {

constexpr std::string_view kPartitionMagic = "tracemark-scan-partition 1\n";
constexpr std::string_view kPartialFormat = "tracemark-scan-partial 1";
constexpr std::size_t kMaxHeaderBytes = std::size_t{64} << 20;  // many groups and shards, never tuples

std::string at(const std::filesystem::path& path, std::uint64_t offset) {
  return "scan partition file " + path.string() + " (byte offset " + std::to_string(offset) + ")";
}

nlohmann::json counts_json(const ScanCounts& c) {
  return {{"responses", c.responses},
          {"tokens", c.tokens},
          {"skipped_prefix", c.skipped_prefix},
          {"skipped_prompt_window", c.skipped_prompt_window},
          {"skipped_filter", c.skipped_filter},
          {"skipped_low_entropy", c.skipped_low_entropy},
          {"skipped_syntax", c.skipped_syntax}};
}

ScanCounts counts_from(const nlohmann::json& j) {
  ScanCounts c;
  c.responses = j.at("responses").get<std::uint64_t>();
  c.tokens = j.at("tokens").get<std::uint64_t>();
  c.skipped_prefix = j.at("skipped_prefix").get<std::uint64_t>();
  c.skipped_prompt_window = j.at("skipped_prompt_window").get<std::uint64_t>();
  c.skipped_filter = j.at("skipped_filter").get<std::uint64_t>();
  c.skipped_low_entropy = j.at("skipped_low_entropy").get<std::uint64_t>();
  c.skipped_syntax = j.at("skipped_syntax").get<std::uint64_t>();
  return c;
}

void add_shard_counts(ScanCounts& into, const ScanCounts& c) {
  into.responses += c.responses;
  into.tokens += c.tokens;
  into.skipped_prefix += c.skipped_prefix;
  into.skipped_prompt_window += c.skipped_prompt_window;
  into.skipped_filter += c.skipped_filter;
  into.skipped_low_entropy += c.skipped_low_entropy;
  into.skipped_syntax += c.skipped_syntax;
}

nlohmann::json shard_json(const ScanShardInfo& s) {
  return {{"name", s.name}, {"bytes", s.bytes}, {"sha256", s.sha256}, {"records", s.records}};
}

ScanShardInfo shard_from(const nlohmann::json& j) {
  return {j.at("name").get<std::string>(), j.at("bytes").get<std::uint64_t>(), j.at("sha256").get<std::string>(),
          j.at("records").get<std::uint64_t>()};
}

nlohmann::json setup_json(const PartitionScanSetup& s) {
  nlohmann::json out = {{"tokenizer", s.tokenizer ? nlohmann::json{{"name", s.tokenizer->name}, {"vocab_sha256", s.tokenizer->vocab_sha256}}
                                                  : nlohmann::json()},
                        {"prompts", s.prompts},
                        {"reference", nlohmann::json::array()}};
  for (const ReferenceLogSummary& r : s.reference) {
    out["reference"].push_back({{"responses", r.responses}, {"context_width", r.context_width},
                                {"entropy_threshold", r.entropy_threshold}, {"contexts", r.contexts},
                                {"approximate", r.approximate}, {"false_positive_rate", r.false_positive_rate}});
  }
  return out;
}

PartitionScanSetup setup_from(const nlohmann::json& j) {
  PartitionScanSetup s;
  if (!j.at("tokenizer").is_null()) {
    s.tokenizer = TokenizerBinding{j["tokenizer"].at("name").get<std::string>(), j["tokenizer"].at("vocab_sha256").get<std::string>()};
  }
  s.prompts = j.at("prompts").get<std::uint64_t>();
  for (const nlohmann::json& r : j.at("reference")) {
    s.reference.push_back({r.at("responses").get<std::uint64_t>(), r.at("context_width").get<std::uint32_t>(),
                           r.at("entropy_threshold").get<double>(), r.at("contexts").get<std::uint64_t>(),
                           r.at("approximate").get<bool>(), r.at("false_positive_rate").get<double>()});
  }
  return s;
}

nlohmann::json group_json(const PartitionGroup& g) {
  return {{"context_width", g.context_width}, {"entropy_threshold", g.entropy_threshold}, {"keys", g.key_ids},
          {"shard_counts", counts_json(g.shard_counts)}, {"candidates", g.candidates},
          {"tuples", g.tuples.size() / (g.context_width + 1)}};
}

PartitionGroup group_from(const nlohmann::json& j) {
  PartitionGroup g;
  g.context_width = j.at("context_width").get<std::uint32_t>();
  g.entropy_threshold = j.at("entropy_threshold").get<double>();
  g.key_ids = j.at("keys").get<std::vector<std::string>>();
  g.shard_counts = counts_from(j.at("shard_counts"));
  g.candidates = j.at("candidates").get<std::uint64_t>();
  return g;
}

// Two set-ups describe the same scan (the merge's and reduce's consistency check).
bool same_setup(const PartitionScanSetup& a, const PartitionScanSetup& b) { return setup_json(a) == setup_json(b); }

bool same_rules(const std::vector<PartitionGroup>& a, const std::vector<PartitionGroup>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t g = 0; g < a.size(); ++g) {
    if (a[g].context_width != b[g].context_width || a[g].entropy_threshold != b[g].entropy_threshold ||
        a[g].key_ids != b[g].key_ids) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::uint32_t tuple_partition(std::uint64_t fingerprint, std::uint32_t partitions) noexcept {
  // Bits 16-47 only: TupleSet places a fingerprint by its high bits and the scan's shards take the
  // low bits, so a partition chosen by either would crowd each partition's set into a fraction of
  // its slots (the high bits) or of the shards (the low bits).
  const auto middle = static_cast<std::uint32_t>(fingerprint >> 16);
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(middle) * partitions) >> 32);
}

void write_scan_partition_file(const std::filesystem::path& path, const ScanPartitionFile& file) {
  nlohmann::json header = {{"partition", file.partition}, {"partitions", file.partitions}, {"shard", shard_json(file.shard)},
                           {"setup", setup_json(file.setup)}, {"groups", nlohmann::json::array()}};
  for (const PartitionGroup& g : file.groups) header["groups"].push_back(group_json(g));
  AtomicOutputFile out(path, 0644);
  Sha256 digest;
  auto put = [&](std::string_view bytes) {
    out.stream().write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    digest.update(bytes);
  };
  put(kPartitionMagic);
  put(header.dump() + "\n");
  for (const PartitionGroup& g : file.groups) {
    // Little-endian on disk: the supported platforms are little-endian (as for the filter file).
    put({reinterpret_cast<const char*>(g.tuples.data()), g.tuples.size() * sizeof(std::uint32_t)});
  }
  const Sha256Digest checksum = digest.finish();
  out.stream().write(reinterpret_cast<const char*>(checksum.data()), checksum.size());
  if (!out.stream()) throw Error(ErrorCode::io, "could not write the scan partition file " + path.string());
  out.commit(/*overwrite=*/true);
}

ScanPartitionFile read_scan_partition_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::io, "cannot open the scan partition file " + path.string());
  std::error_code size_error;
  const std::uint64_t file_bytes = std::filesystem::file_size(path, size_error);
  if (size_error) throw Error(ErrorCode::io, "cannot read the size of " + path.string() + ": " + size_error.message());
  const std::string redo = "; emit it again (`tracemark scan --emit-partitions N --partition-out PREFIX`)";
  Sha256 digest;
  std::string magic(kPartitionMagic.size(), '\0');
  in.read(magic.data(), static_cast<std::streamsize>(magic.size()));
  if (static_cast<std::size_t>(in.gcount()) != magic.size() || magic != kPartitionMagic) {
    throw Error(ErrorCode::invalid_input, at(path, 0) + ": not a tracemark scan partition file" + redo);
  }
  digest.update(magic);
  std::uint64_t offset = magic.size();
  std::string line;
  for (char c; line.size() <= kMaxHeaderBytes && in.get(c);) {
    if (c == '\n') break;
    line.push_back(c);
  }
  if (!in || line.size() > kMaxHeaderBytes) {
    throw Error(ErrorCode::invalid_input, at(path, offset) + ": the header line is missing, cut short or too long" + redo);
  }
  digest.update(line);
  digest.update("\n");
  ScanPartitionFile file;
  std::vector<std::uint64_t> tuple_counts;
  try {
    JsonProblem problem;
    const std::optional<nlohmann::json> parsed = try_parse_json(line, problem);
    if (!parsed) {
      throw Error(ErrorCode::invalid_input, at(path, offset + problem.offset) + ": the header is not JSON (" + problem.reason + ")" + redo);
    }
    const nlohmann::json& header = *parsed;
    file.partition = header.at("partition").get<std::uint32_t>();
    file.partitions = header.at("partitions").get<std::uint32_t>();
    file.shard = shard_from(header.at("shard"));
    file.setup = setup_from(header.at("setup"));
    for (const nlohmann::json& g : header.at("groups")) {
      file.groups.push_back(group_from(g));
      tuple_counts.push_back(g.at("tuples").get<std::uint64_t>());
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::invalid_input, at(path, offset) + ": the header is not what this version writes (" + e.what() + ")" + redo);
  }
  if (file.partitions == 0 || file.partition >= file.partitions) {
    throw Error(ErrorCode::invalid_input, at(path, offset) + ": partition " + std::to_string(file.partition) + " of " +
                                              std::to_string(file.partitions) + " does not exist" + redo);
  }
  offset += line.size() + 1;
  for (std::size_t g = 0; g < file.groups.size(); ++g) {
    PartitionGroup& group = file.groups[g];
    const std::uint64_t remaining = file_bytes - std::min(offset, file_bytes);
    const std::uint64_t ids_per_tuple = std::uint64_t{group.context_width} + 1;
    // Checked before allocating: a forged header must not make us reserve gigabytes.
    if (group.context_width > 1024 || tuple_counts[g] > remaining / (4 * ids_per_tuple)) {
      throw Error(ErrorCode::invalid_input, at(path, file_bytes) + ": the file is truncated: the header promises " +
                                                std::to_string(tuple_counts[g]) + " tuples for group " + std::to_string(g) +
                                                ", only " + std::to_string(remaining) + " bytes remain" + redo);
    }
    group.tuples.resize(tuple_counts[g] * ids_per_tuple);
    const auto want = static_cast<std::streamsize>(group.tuples.size() * sizeof(std::uint32_t));
    in.read(reinterpret_cast<char*>(group.tuples.data()), want);
    if (in.gcount() != want) {
      throw Error(ErrorCode::invalid_input, at(path, offset + static_cast<std::uint64_t>(in.gcount())) + ": the file is truncated" + redo);
    }
    digest.update({reinterpret_cast<const char*>(group.tuples.data()), static_cast<std::size_t>(want)});
    offset += static_cast<std::uint64_t>(want);
  }
  Sha256Digest stored{};
  in.read(reinterpret_cast<char*>(stored.data()), stored.size());
  if (static_cast<std::size_t>(in.gcount()) != stored.size()) {
    throw Error(ErrorCode::invalid_input, at(path, offset) + ": the file is truncated: its SHA-256 checksum is missing" + redo);
  }
  if (in.peek() != std::char_traits<char>::eof()) {
    throw Error(ErrorCode::invalid_input, at(path, offset + stored.size()) + ": bytes after the checksum" + redo);
  }
  if (digest.finish() != stored) {
    throw Error(ErrorCode::invalid_input, at(path, offset) + ": the SHA-256 checksum does not match: the file is corrupt" + redo);
  }
  return file;
}

PartitionEmitter::PartitionEmitter(const DistillationScan& scan, std::uint32_t partitions) : partitions_(partitions) {
  if (partitions == 0 || partitions > 65536) {
    throw Error(ErrorCode::invalid_argument, "the number of partitions must be between 1 and 65536");
  }
  for (std::size_t g = 0; g < scan.group_count(); ++g) {
    PartitionGroup group;
    group.context_width = scan.group_context_width(g);
    group.entropy_threshold = scan.group_entropy_threshold(g);
    for (std::size_t k : scan.group_keys(g)) group.key_ids.push_back(scan.key_entry(k).key_id);
    templates_.push_back(std::move(group));
  }
  seen_.assign(templates_.size(), std::vector<TupleSet>(partitions));
  tuples_.assign(templates_.size(), std::vector<std::vector<std::uint32_t>>(partitions));
  candidates_.assign(templates_.size(), std::vector<std::uint64_t>(partitions, 0));
}

void PartitionEmitter::add_batch(std::span<const PreparedResponse> batch) {
  for (const PreparedResponse& prepared : batch) {
    if (prepared.parts.size() != templates_.size()) throw Error(ErrorCode::internal, "prepared response of another scan");
    for (std::size_t g = 0; g < templates_.size(); ++g) {
      const PreparedResponse::GroupPart& part = prepared.parts[g];
      add_undeduplicated_counts(templates_[g].shard_counts, prepared, g);
      const std::uint32_t width = templates_[g].context_width;
      for (std::size_t j = 0; j < part.fingerprints.size(); ++j) {
        const std::uint32_t p = tuple_partition(part.fingerprints[j], partitions_);
        ++candidates_[g][p];
        if (!seen_[g][p].insert(part.fingerprints[j])) continue;
        const std::uint32_t* ids = prepared.tokens.data() + part.positions[j] - width;
        tuples_[g][p].insert(tuples_[g][p].end(), ids, ids + width + 1);
      }
    }
  }
}

std::vector<ScanPartitionFile> PartitionEmitter::files() const {
  std::vector<ScanPartitionFile> out(partitions_);
  for (std::uint32_t p = 0; p < partitions_; ++p) {
    out[p].partition = p;
    out[p].partitions = partitions_;
    for (std::size_t g = 0; g < templates_.size(); ++g) {
      PartitionGroup group = templates_[g];
      group.candidates = candidates_[g][p];
      group.tuples = tuples_[g][p];
      out[p].groups.push_back(std::move(group));
    }
  }
  return out;
}

ScanPartialCounts reduce_scan_partition(std::span<const WatermarkKey> keys, std::span<const std::filesystem::path> files) {
  if (files.empty()) throw Error(ErrorCode::invalid_argument, "reducing a partition needs its files from every shard");
  ScanPartialCounts partial;
  std::vector<TupleSet> seen;
  std::vector<std::vector<std::uint32_t>> fresh;  // per group: new tuples, (width + 1) ids each
  for (std::size_t f = 0; f < files.size(); ++f) {
    const ScanPartitionFile file = read_scan_partition_file(files[f]);
    if (f == 0) {
      partial.partition = file.partition;
      partial.partitions = file.partitions;
      partial.setup = file.setup;
      for (const PartitionGroup& g : file.groups) {
        PartitionGroup group = g;
        group.tuples.clear();
        group.shard_counts = {};
        group.candidates = 0;
        partial.groups.push_back(std::move(group));
      }
      seen.resize(file.groups.size());
      fresh.resize(file.groups.size());
    } else if (file.partition != partial.partition || file.partitions != partial.partitions ||
               !same_setup(file.setup, partial.setup) || !same_rules(file.groups, partial.groups)) {
      throw Error(ErrorCode::invalid_input, "scan partition file " + files[f].string() + " is partition " +
                                                std::to_string(file.partition) + " of " + std::to_string(file.partitions) +
                                                " of another scan set-up than " + files[0].string() +
                                                " (partition " + std::to_string(partial.partition) + " of " +
                                                std::to_string(partial.partitions) +
                                                "); reduce one partition of one scan at a time, with every shard emitted by the same keys and options");
    }
    partial.shards.push_back(file.shard);
    for (std::size_t g = 0; g < file.groups.size(); ++g) {
      const PartitionGroup& group = file.groups[g];
      add_shard_counts(partial.groups[g].shard_counts, group.shard_counts);
      partial.groups[g].candidates += group.candidates;
      const std::size_t width = group.context_width;
      for (std::size_t t = 0; t + width < group.tuples.size(); t += width + 1) {
        const std::span<const std::uint32_t> tuple(group.tuples.data() + t, width + 1);
        if (seen[g].insert(tuple_fingerprint(tuple.first(width), tuple[width]))) {
          fresh[g].insert(fresh[g].end(), tuple.begin(), tuple.end());
        }
      }
    }
  }
  for (const WatermarkKey& key : keys) partial.key_ids.push_back(key.key_id());
  std::vector<std::string> file_keys;
  for (const PartitionGroup& g : partial.groups) file_keys.insert(file_keys.end(), g.key_ids.begin(), g.key_ids.end());
  if (std::multiset<std::string>(file_keys.begin(), file_keys.end()) !=
      std::multiset<std::string>(partial.key_ids.begin(), partial.key_ids.end())) {
    throw Error(ErrorCode::invalid_argument, "the keys given are not the keys the partition files were emitted with; give "
                                             "the same --key/--keyring options to every step");
  }
  partial.scored.assign(keys.size(), 0);
  partial.green.assign(keys.size(), 0);
  for (std::size_t g = 0; g < partial.groups.size(); ++g) {
    const std::size_t width = partial.groups[g].context_width;
    std::vector<std::uint32_t> contexts, tokens;
    for (std::size_t t = 0; t + width < fresh[g].size(); t += width + 1) {
      contexts.insert(contexts.end(), fresh[g].begin() + static_cast<std::ptrdiff_t>(t),
                      fresh[g].begin() + static_cast<std::ptrdiff_t>(t + width));
      tokens.push_back(fresh[g][t + width]);
    }
    std::vector<std::uint8_t> flags(tokens.size());
    for (std::size_t k = 0; k < keys.size(); ++k) {
      if (std::find(partial.groups[g].key_ids.begin(), partial.groups[g].key_ids.end(), partial.key_ids[k]) ==
          partial.groups[g].key_ids.end()) {
        continue;
      }
      const GreenListScheme scheme(keys[k]);
      for (std::uint32_t id : tokens) {
        if (id >= scheme.vocab_size()) {
          throw Error(ErrorCode::invalid_input, "a partition tuple has token id " + std::to_string(id) +
                                                    " outside the vocabulary of key " + partial.key_ids[k]);
        }
      }
      partial.scored[k] = tokens.size();
      partial.green[k] = scheme.green_flags(contexts, tokens, flags);
    }
  }
  return partial;
}

void write_scan_partial_counts(const std::filesystem::path& path, const ScanPartialCounts& partial) {
  nlohmann::json out = {{"format", kPartialFormat}, {"partition", partial.partition}, {"partitions", partial.partitions},
                        {"shards", nlohmann::json::array()}, {"setup", setup_json(partial.setup)},
                        {"groups", nlohmann::json::array()}, {"keys", nlohmann::json::array()}};
  for (const ScanShardInfo& s : partial.shards) out["shards"].push_back(shard_json(s));
  for (const PartitionGroup& g : partial.groups) out["groups"].push_back(group_json(g));
  for (std::size_t k = 0; k < partial.key_ids.size(); ++k) {
    out["keys"].push_back({{"key_id", partial.key_ids[k]}, {"scored", partial.scored[k]}, {"green", partial.green[k]}});
  }
  AtomicOutputFile file(path, 0644);
  file.stream() << out.dump() << "\n";
  if (!file.stream()) throw Error(ErrorCode::io, "could not write the partial counts " + path.string());
  file.commit(/*overwrite=*/true);
}

ScanPartialCounts read_scan_partial_counts(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::io, "cannot open the partial counts " + path.string());
  std::stringstream content;
  content << in.rdbuf();
  const std::string text = content.str();
  JsonProblem problem;
  const std::optional<nlohmann::json> parsed = try_parse_json(text, problem);
  const std::string redo = "; reduce the partition again (`tracemark scan --reduce-partition`)";
  if (!parsed) {
    throw Error(ErrorCode::invalid_input, "partial counts " + path.string() + " (byte offset " +
                                              std::to_string(problem.offset) + "): not JSON (" + problem.reason + ")" + redo);
  }
  ScanPartialCounts partial;
  try {
    const nlohmann::json& j = *parsed;
    if (j.at("format").get<std::string>() != kPartialFormat) throw Error(ErrorCode::invalid_input, "format");
    partial.partition = j.at("partition").get<std::uint32_t>();
    partial.partitions = j.at("partitions").get<std::uint32_t>();
    for (const nlohmann::json& s : j.at("shards")) partial.shards.push_back(shard_from(s));
    partial.setup = setup_from(j.at("setup"));
    for (const nlohmann::json& g : j.at("groups")) partial.groups.push_back(group_from(g));
    for (const nlohmann::json& k : j.at("keys")) {
      partial.key_ids.push_back(k.at("key_id").get<std::string>());
      partial.scored.push_back(k.at("scored").get<std::uint64_t>());
      partial.green.push_back(k.at("green").get<std::uint64_t>());
    }
  } catch (const std::exception& e) {
    throw Error(ErrorCode::invalid_input, "partial counts " + path.string() + ": not what this version writes (" +
                                              e.what() + ")" + redo);
  }
  return partial;
}

MergedScan merge_scan_partials(std::span<const WatermarkKey> keys, std::span<const ScanPartialCounts> partials,
                               const ScanSettings& settings) {
  if (partials.empty()) throw Error(ErrorCode::invalid_argument, "merging needs the partial counts of every partition");
  const ScanPartialCounts& first = partials.front();
  const std::string redo = "; give the partial counts of partitions 0 to N-1 of one scan, each once";
  std::vector<bool> present(first.partitions, false);
  auto shards_json = [](const std::vector<ScanShardInfo>& shards) {
    nlohmann::json out = nlohmann::json::array();
    for (const ScanShardInfo& s : shards) out.push_back(shard_json(s));
    return out;
  };
  for (const ScanPartialCounts& p : partials) {
    if (p.partitions != first.partitions || p.partition >= p.partitions || present[p.partition]) {
      throw Error(ErrorCode::invalid_input, "partial counts of partition " + std::to_string(p.partition) + " of " +
                                                std::to_string(p.partitions) + " are repeated or of another partitioning" + redo);
    }
    present[p.partition] = true;
    bool same_counts = p.groups.size() == first.groups.size();
    for (std::size_t g = 0; same_counts && g < p.groups.size(); ++g) {
      same_counts = counts_json(p.groups[g].shard_counts) == counts_json(first.groups[g].shard_counts);
    }
    if (shards_json(p.shards) != shards_json(first.shards) || !same_setup(p.setup, first.setup) ||
        !same_rules(p.groups, first.groups) || p.key_ids != first.key_ids || !same_counts) {
      throw Error(ErrorCode::invalid_input, "partial counts of partition " + std::to_string(p.partition) +
                                                " were made from other shards, keys or options than partition " +
                                                std::to_string(first.partition) + redo);
    }
  }
  if (std::find(present.begin(), present.end(), false) != present.end()) {
    throw Error(ErrorCode::invalid_input, "partition " + std::to_string(std::find(present.begin(), present.end(), false) - present.begin()) +
                                              " of " + std::to_string(first.partitions) + " is missing" + redo);
  }
  std::vector<std::string> ids;
  for (const WatermarkKey& key : keys) ids.push_back(key.key_id());
  if (ids != first.key_ids) {
    throw Error(ErrorCode::invalid_argument, "the keys given are not the keys (in the same order) the partitions were reduced with");
  }
  std::vector<ScanCounts> counts(keys.size());
  std::vector<double> gammas;
  for (std::size_t k = 0; k < keys.size(); ++k) {
    gammas.push_back(GreenListScheme(keys[k]).null_green_probability());
    const auto group = std::find_if(first.groups.begin(), first.groups.end(), [&](const PartitionGroup& g) {
      return std::find(g.key_ids.begin(), g.key_ids.end(), ids[k]) != g.key_ids.end();
    });
    if (group == first.groups.end()) throw Error(ErrorCode::invalid_input, "key " + ids[k] + " is in no group" + redo);
    const std::size_t g = static_cast<std::size_t>(group - first.groups.begin());
    counts[k] = group->shard_counts;
    std::uint64_t candidates = 0;
    for (const ScanPartialCounts& p : partials) {
      counts[k].scored += p.scored[k];
      counts[k].green += p.green[k];
      candidates += p.groups[g].candidates;
    }
    counts[k].skipped_repeated_tuple = candidates - counts[k].scored;
  }
  MergedScan merged;
  merged.partitions = first.partitions;
  merged.shards = first.shards;
  SuspectScanReport& report = merged.report;
  report.tokenizer = first.setup.tokenizer;
  report.prompts = first.setup.prompts;
  report.reference = first.setup.reference;
  report.gammas = gammas;
  FileScanResult& file = report.suspect;
  for (const ScanShardInfo& s : first.shards) {
    file.path += (file.path.empty() ? "" : ",") + s.name;
    file.records += s.records;
  }
  file.keys = key_scan_results(ids, gammas, counts, settings);
  file.tallies.resize(keys.size());
  for (const KeyScanResult& r : file.keys) {
    file.traces.push_back({{r.counts.responses, r.counts.tokens, r.counts.scored, r.counts.green, r.test.log10_p}});
  }
  return merged;
}

}  // namespace tracemark
