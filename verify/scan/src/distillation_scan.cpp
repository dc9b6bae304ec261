#include "tracemark/verify/distillation_scan.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <iterator>
#include <limits>
#include <numbers>

#include <xxhash.h>

#include "tracemark/embed/token_bytes.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/holm.hpp"
#include "tracemark/verify/parallel_for.hpp"
#include "tracemark/verify/tournament_detector.hpp"

namespace tracemark {

std::uint64_t context_fingerprint(std::span<const std::uint32_t> context) noexcept {
  std::uint8_t bytes[4 * kMaxHashedIds];
  const std::size_t length = encode_ids_little_endian(context.first(std::min<std::size_t>(context.size(), 16)), bytes);
  // Seeded differently from tuple fingerprints so the two families never coincide by design.
  return XXH3_64bits_withSeed(bytes, length, 0x636f6e74657874ULL /* "context" */);
}

ReferenceContexts::ReferenceContexts(std::uint32_t context_width, std::shared_ptr<const ContextXorFilter> filter,
                                     std::uint64_t contexts, std::uint64_t responses)
    : width_(context_width), responses_(responses), filter_(std::move(filter)), filter_contexts_(contexts) {
  if (!filter_) throw Error(ErrorCode::internal, "reference contexts from a null filter");
}

std::vector<std::uint64_t> ReferenceContexts::fingerprints() const {
  std::vector<std::uint64_t> out;
  out.reserve(counts_.size());
  for (const auto& [fingerprint, count] : counts_) out.push_back(fingerprint);
  std::sort(out.begin(), out.end());
  return out;
}

void ReferenceContexts::add_response(std::span<const std::uint32_t> tokens) {
  if (filter_) throw Error(ErrorCode::internal, "contexts added to a loaded filter");
  ++responses_;
  for (std::size_t i = width_; i < tokens.size(); ++i) {
    ++counts_[context_fingerprint(tokens.subspan(i - width_, width_))];
  }
}

void ReferenceContexts::add_response(std::span<const std::uint32_t> tokens, std::span<const float> entropy,
                                     double threshold) {
  if (filter_) throw Error(ErrorCode::internal, "contexts added to a loaded filter");
  if (entropy.size() != tokens.size()) {
    throw Error(ErrorCode::invalid_input, "the per-step entropy has " + std::to_string(entropy.size()) + " values for " +
                                              std::to_string(tokens.size()) + " tokens");
  }
  ++responses_;
  for (std::size_t i = width_; i < tokens.size(); ++i) {
    if (static_cast<double>(entropy[i]) >= threshold) ++counts_[context_fingerprint(tokens.subspan(i - width_, width_))];
  }
}

void ReferenceContexts::keep_most_frequent(std::size_t n) {
  if (n == 0 || n >= counts_.size()) return;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranked(counts_.begin(), counts_.end());
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  ranked.resize(n);
  counts_ = std::unordered_map<std::uint64_t, std::uint64_t>(ranked.begin(), ranked.end());
}

std::uint64_t ReferenceContexts::remove_contexts_of(const ReferenceContexts& others) {
  if (filter_ || others.filter_) throw Error(ErrorCode::invalid_argument, "contexts can only be removed from exact filters");
  return std::erase_if(counts_, [&](const auto& entry) { return others.counts_.contains(entry.first); });
}

bool ReferenceContexts::contains(std::span<const std::uint32_t> context) const {
  if (filter_) return filter_->contains(context_fingerprint(context));
  return counts_.contains(context_fingerprint(context));
}

DistillationScan::DistillationScan(std::vector<KeyEntry> keys) {
  if (keys.empty()) throw Error(ErrorCode::invalid_argument, "a scan needs at least one key");
  smallest_vocab_ = std::numeric_limits<std::uint32_t>::max();
  for (KeyEntry& key : keys) {
    if (int{key.scheme != nullptr} + int{key.gumbel != nullptr} + int{key.tournament != nullptr} != 1) {
      throw Error(ErrorCode::invalid_argument, "scan key needs exactly one scheme");
    }
    if (key.filter && key.filter->context_width() != key.context_width()) {
      throw Error(ErrorCode::invalid_argument, "reference contexts of width " +
                                                   std::to_string(key.filter->context_width()) + " for key " +
                                                   key.key_id + " of context width " +
                                                   std::to_string(key.context_width()));
    }
    smallest_vocab_ = std::min(smallest_vocab_, key.vocab_size());
    // Every rule but the colour reads only the width, the entropy threshold and the filter.
    const std::uint32_t width = key.context_width();
    auto same_rules = [&](const Group& group) {
      return group.context_width == width && group.entropy_threshold == key.entropy_threshold &&
             group.filter == key.filter.get();
    };
    auto group = std::find_if(groups_.begin(), groups_.end(), same_rules);
    if (group == groups_.end()) {
      groups_.push_back(Group{width, key.entropy_threshold, key.filter.get(), {}, std::vector<TupleSet>(kShards)});
      group = std::prev(groups_.end());
    }
    group->keys.push_back(states_.size());
    states_.push_back(KeyState{std::move(key), static_cast<std::size_t>(group - groups_.begin()), {}});
  }
}

std::size_t DistillationScan::dedup_memory_bytes() const noexcept {
  std::size_t bytes = 0;
  for (const Group& group : groups_) {
    for (const TupleSet& shard : group.shards) bytes += shard.memory_bytes();
  }
  return bytes;
}

const char* token_status_name(TokenStatus status) noexcept {
  switch (status) {
    case TokenStatus::prefix: return "prefix";
    case TokenStatus::prompt_window: return "prompt_window";
    case TokenStatus::filtered: return "filtered";
    case TokenStatus::low_entropy: return "low_entropy";
    case TokenStatus::syntax: return "syntax";
    case TokenStatus::repeated: return "repeated";
    case TokenStatus::green: return "green";
    case TokenStatus::red: return "red";
  }
  return "unknown";
}

void DistillationScan::check_vocabulary(std::size_t k, std::span<const std::uint32_t> response) const {
  const KeyState& state = states_.at(k);
  const std::uint32_t vocab = state.entry.vocab_size();
  for (std::size_t i = 0; i < response.size(); ++i) {
    if (response[i] >= vocab) {
      throw Error(ErrorCode::invalid_input, "token id " + std::to_string(response[i]) + " at position " +
                                                std::to_string(i) + " is outside the vocabulary of key " +
                                                state.entry.key_id + " (size " + std::to_string(vocab) + ")");
    }
  }
}

template <typename Visit>
void DistillationScan::walk_response(std::size_t g, std::span<const std::uint32_t> response,
                                     std::span<const std::uint32_t> prompt, const ResponseSteps& steps,
                                     Visit&& visit) const {
  const Group& group = groups_.at(g);
  if ((!steps.entropy.empty() && steps.entropy.size() != response.size()) ||
      (!steps.free.empty() && steps.free.size() != response.size())) {
    throw Error(ErrorCode::internal, "per-step entropy or syntax classes do not match the response's length");
  }
  const bool entropy_rule = !steps.entropy.empty() && group.entropy_threshold > 0.0;
  const std::size_t width = group.context_width;
  // The prompt's windows of h + 1 tokens: a response tuple equal to one of them is not scored.
  std::unordered_set<std::uint64_t> prompt_windows;
  for (std::size_t i = width; i < prompt.size(); ++i) {
    prompt_windows.insert(tuple_fingerprint(prompt.subspan(i - width, width), prompt[i]));
  }
  const std::size_t prefix = std::min(width, response.size());
  for (std::size_t i = 0; i < prefix; ++i) visit(i, TokenStatus::prefix, std::uint64_t{0});
  for (std::size_t i = prefix; i < response.size(); ++i) {
    const auto context = response.subspan(i - width, width);
    const std::uint64_t fingerprint = window_fingerprint(response.subspan(i - width, width + 1));
    if (!prompt_windows.empty() && prompt_windows.contains(fingerprint)) {
      visit(i, TokenStatus::prompt_window, fingerprint);
    } else if (group.filter && !group.filter->contains(context)) {
      visit(i, TokenStatus::filtered, fingerprint);
    } else if (entropy_rule && static_cast<double>(steps.entropy[i]) < group.entropy_threshold) {
      visit(i, TokenStatus::low_entropy, fingerprint);
    } else if (!steps.free.empty() && steps.free[i] == 0) {
      visit(i, TokenStatus::syntax, fingerprint);
    } else {
      visit(i, TokenStatus::green, fingerprint);  // a candidate: coloured by the caller
    }
  }
}

PreparedResponse DistillationScan::prepare(std::span<const std::uint32_t> response,
                                           std::span<const std::uint32_t> prompt, const ResponseSteps& steps) const {
  // The first key (in the scan's order) whose vocabulary an id is outside of is the one named.
  if (!response.empty() && *std::max_element(response.begin(), response.end()) >= smallest_vocab_) {
    for (std::size_t k = 0; k < states_.size(); ++k) check_vocabulary(k, response);
  }
  PreparedResponse prepared;
  prepared.tokens.assign(response.begin(), response.end());
  prepared.parts.resize(groups_.size());
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    PreparedResponse::GroupPart& part = prepared.parts[g];
    part.fingerprints.reserve(response.size());
    part.positions.reserve(response.size());
    walk_response(g, response, prompt, steps, [&](std::size_t i, TokenStatus status, std::uint64_t fingerprint) {
      switch (status) {
        case TokenStatus::prefix: ++part.skipped_prefix; break;
        case TokenStatus::prompt_window: ++part.skipped_prompt_window; break;
        case TokenStatus::filtered: ++part.skipped_filter; break;
        case TokenStatus::low_entropy: ++part.skipped_low_entropy; break;
        case TokenStatus::syntax: ++part.skipped_syntax; break;
        case TokenStatus::green:
        case TokenStatus::red:
          part.fingerprints.push_back(fingerprint);
          part.positions.push_back(static_cast<std::uint32_t>(i));
          break;
        case TokenStatus::repeated: break;  // never produced by walk_response
      }
    });
  }
  return prepared;
}

std::vector<TokenStatus> DistillationScan::token_statuses(std::size_t k, std::span<const std::uint32_t> response,
                                                          std::span<const std::uint32_t> prompt, TupleSet& scored,
                                                          const ResponseSteps& steps) const {
  check_vocabulary(k, response);
  const KeyEntry& entry = states_.at(k).entry;
  const std::size_t width = entry.context_width();
  // Green list: green or red. Gumbel-max and tournament (display only; their tests use the scores):
  // "green" for r > 1/2, or for more than half of the m g-values 1.
  auto hit = [&](std::span<const std::uint32_t> context, std::uint32_t token) {
    if (entry.scheme) return entry.scheme->is_green(entry.scheme->context_seed(context), token);
    if (entry.gumbel) return entry.gumbel->uniform(entry.gumbel->context_seed(context), token) > 0.5;
    return 2 * entry.tournament->score(entry.tournament->context_seed(context), token) > entry.tournament->layers();
  };
  std::vector<TokenStatus> statuses(response.size(), TokenStatus::prefix);
  walk_response(states_.at(k).group, response, prompt, steps, [&](std::size_t i, TokenStatus status, std::uint64_t fingerprint) {
    if (status == TokenStatus::green) {
      if (!scored.insert(fingerprint)) {
        status = TokenStatus::repeated;
      } else if (!hit(response.subspan(i - width, width), response[i])) {
        status = TokenStatus::red;
      }
    }
    statuses[i] = status;
  });
  return statuses;
}

void DistillationScan::merge_batch(std::span<const PreparedResponse> batch, unsigned threads,
                                   std::vector<std::vector<ResponseTally>>* tallies) {
  const std::size_t groups = groups_.size();
  for (const PreparedResponse& prepared : batch) {
    if (prepared.parts.size() != groups) throw Error(ErrorCode::internal, "prepared response was made for another scan");
  }
  // The counts that do not depend on deduplication, per group, then given to each of its keys.
  std::vector<ScanCounts> group_counts(groups);
  for (const PreparedResponse& prepared : batch) {
    for (std::size_t g = 0; g < groups; ++g) add_undeduplicated_counts(group_counts[g], prepared, g);
  }
  // Deduplication, once per group, radix-partitioned by shard: the batch's candidates are split
  // into one list per shard (each in input order), and each shard's list is then inserted into
  // that shard's table by whichever thread takes it. A shard sees its tuples in input order whatever
  // the number of threads, so the tuples new to the scan are the same; they are listed per shard as
  // (response, position). No thread walks tuples of shards it does not own, and a thread the system
  // leaves waiting holds up only the shard it is on.
  std::size_t tuples = 0;
  for (const PreparedResponse& prepared : batch) {
    for (const auto& part : prepared.parts) tuples += part.fingerprints.size();
  }
  const unsigned workers = tuples < 4096 ? 1u : std::max(1u, threads);
  struct NewTuple {
    std::uint32_t response;
    std::uint32_t position;
  };
  // Per group, per shard: the new tuples, and how many candidates were repeats.
  std::vector<std::array<std::vector<NewTuple>, kShards>> fresh(groups);
  std::vector<std::array<std::uint64_t, kShards>> repeated(groups);
  std::array<std::vector<Candidate>, kShards>& lists = candidate_scratch_;
  // How far ahead a tuple's slot is prefetched: the table is far larger than the cache, so each
  // probe is a memory access, and only overlapping them hides their latency.
  constexpr std::size_t kAhead = 16;
  for (std::size_t g = 0; g < groups; ++g) {
    std::vector<TupleSet>& shards = groups_[g].shards;
    if (workers == 1) {
      // One thread: straight from the prepared responses, without the lists' copy (which cost
      // about 5% of a one-thread scan of a large batch); the new tuples are listed in input order
      // under shard 0. A second cursor runs kAhead candidates ahead, across responses, to prefetch.
      std::array<std::size_t, kShards> per_shard{};
      for (const PreparedResponse& prepared : batch) {
        for (std::uint64_t fingerprint : prepared.parts[g].fingerprints) ++per_shard[fingerprint % kShards];
      }
      for (std::size_t shard = 0; shard < kShards; ++shard) shards[shard].reserve_more(per_shard[shard]);
      std::size_t ahead_r = 0, ahead_j = 0;
      auto skip_empty = [&] {
        while (ahead_r < batch.size() && ahead_j >= batch[ahead_r].parts[g].fingerprints.size()) {
          ++ahead_r;
          ahead_j = 0;
        }
      };
      skip_empty();
      for (std::size_t n = 0; n < kAhead && ahead_r < batch.size(); ++n) {
        ++ahead_j;
        skip_empty();
      }
      std::vector<NewTuple>& found = fresh[g][0];
      std::uint64_t repeats = 0;
      for (std::size_t r = 0; r < batch.size(); ++r) {
        const PreparedResponse::GroupPart& part = batch[r].parts[g];
        for (std::size_t j = 0; j < part.fingerprints.size(); ++j) {
          if (ahead_r < batch.size()) {
            const std::uint64_t ahead = batch[ahead_r].parts[g].fingerprints[ahead_j];
            shards[ahead % kShards].prefetch(ahead);
            ++ahead_j;
            skip_empty();
          }
          const std::uint64_t fingerprint = part.fingerprints[j];
          if (shards[fingerprint % kShards].insert(fingerprint)) {
            found.push_back({static_cast<std::uint32_t>(r), part.positions[j]});
          } else {
            ++repeats;
          }
        }
      }
      repeated[g][0] = repeats;
      continue;
    }
    for (std::vector<Candidate>& list : lists) list.clear();
    for (std::size_t r = 0; r < batch.size(); ++r) {
      const PreparedResponse::GroupPart& part = batch[r].parts[g];
      for (std::size_t j = 0; j < part.fingerprints.size(); ++j) {
        const std::uint64_t fingerprint = part.fingerprints[j];
        lists[fingerprint % kShards].push_back({fingerprint, static_cast<std::uint32_t>(r), part.positions[j]});
      }
    }
    parallel_for(kShards, workers, [&](std::size_t shard) {
      const std::vector<Candidate>& list = lists[shard];
      TupleSet& set = shards[shard];
      // Sized once for the list, so the table does not grow while it goes in.
      set.reserve_more(list.size());
      std::vector<NewTuple>& found = fresh[g][shard];
      std::uint64_t repeats = 0;
      const std::size_t count = list.size();
      for (std::size_t j = 0; j < count; ++j) {
        if (j + kAhead < count) set.prefetch(list[j + kAhead].fingerprint);
        if (set.insert(list[j].fingerprint)) {
          found.push_back({list[j].response, list[j].position});
        } else {
          ++repeats;
        }
      }
      repeated[g][shard] = repeats;
    });
  }
  // The counts every key of a group shares.
  for (std::size_t g = 0; g < groups; ++g) {
    for (std::size_t shard = 0; shard < kShards; ++shard) {
      group_counts[g].scored += fresh[g][shard].size();
      group_counts[g].skipped_repeated_tuple += repeated[g][shard];
    }
  }
  if (tallies) {
    tallies->assign(states_.size(), std::vector<ResponseTally>(batch.size()));
    for (std::size_t g = 0; g < groups; ++g) {
      std::vector<std::uint32_t> scored(batch.size(), 0);
      for (const std::vector<NewTuple>& found : fresh[g]) {
        for (const NewTuple& tuple : found) ++scored[tuple.response];
      }
      for (std::size_t k : groups_[g].keys) {
        for (std::size_t r = 0; r < batch.size(); ++r) {
          (*tallies)[k][r].tokens = batch[r].tokens.size();
          (*tallies)[k][r].scored = scored[r];
        }
      }
    }
  }
  for (std::size_t k = 0; k < states_.size(); ++k) {
    ScanCounts& counts = states_[k].counts;
    const ScanCounts& shared = group_counts[states_[k].group];
    counts.responses += shared.responses;
    counts.tokens += shared.tokens;
    counts.skipped_prefix += shared.skipped_prefix;
    counts.skipped_prompt_window += shared.skipped_prompt_window;
    counts.skipped_filter += shared.skipped_filter;
    counts.skipped_low_entropy += shared.skipped_low_entropy;
    counts.skipped_syntax += shared.skipped_syntax;
    counts.skipped_repeated_tuple += shared.skipped_repeated_tuple;
    counts.scored += shared.scored;
  }
  // Colouring: each key tests its colour on its group's new tuples only. The tuples go in chunks
  // (contexts, tokens and responses side by side, read sequentially), and every key of the group
  // colours a chunk before the next is gathered, so memory does not grow with the batch or the keys.
  // A chunk is long (2^18 tuples, 3 to 4 MB) because each key's own tables (its 192-byte hash secret
  // and, in version 2, 4 bytes per vocabulary id) must be brought back into the cache for every
  // chunk: 4096-tuple chunks made 256 keys 2.5x slower. Each key writes only its own figures, so
  // keys may run in parallel; only sums are kept, so the order of the tuples does not matter.
  constexpr std::size_t kChunk = std::size_t{1} << 18;
  std::vector<std::uint32_t> contexts, tokens, responses;
  std::vector<std::vector<std::uint8_t>> green(threads > 1 ? states_.size() : 1);
  for (std::size_t g = 0; g < groups; ++g) {
    const Group& group = groups_[g];
    const std::size_t width = group.context_width;
    // Fewer keys than threads (one key, typically): each key's chunk is cut into slices (four a
    // thread) instead, so colouring is not left to one thread; only sums are kept, so the figures
    // are the same.
    // (Green-list keys only: a gumbel-max or tournament key colours its whole chunk on one thread.)
    const bool slice_tuples = threads > 1 && group.keys.size() < threads &&
                              std::all_of(group.keys.begin(), group.keys.end(),
                                          [&](std::size_t k) { return states_[k].entry.scheme != nullptr; });
    auto colour_chunk = [&] {
      if (slice_tuples) {
        for (std::size_t k : group.keys) {
          std::vector<std::uint8_t>& flags = green[green.size() == 1 ? 0 : k];
          flags.resize(tokens.size());
          // Four slices a thread, so that a thread the system leaves waiting holds up little.
          const std::size_t slices = 4 * std::size_t{threads};
          const std::size_t slice = (tokens.size() + slices - 1) / slices;
          std::vector<std::size_t> found(slices, 0);
          parallel_for(slices, threads, [&](std::size_t t) {
            const std::size_t begin = std::min(tokens.size(), t * slice), end = std::min(tokens.size(), begin + slice);
            found[t] = states_[k].entry.scheme->green_flags(
                std::span(contexts).subspan(begin * width, (end - begin) * width),
                std::span(tokens).subspan(begin, end - begin), std::span(flags).subspan(begin, end - begin));
          });
          for (std::size_t n : found) states_[k].counts.green += n;
          if (!tallies) continue;
          std::vector<ResponseTally>& tally = (*tallies)[k];
          for (std::size_t j = 0; j < flags.size(); ++j) tally[responses[j]].green += flags[j];
        }
      } else {
        const unsigned workers_here = group.keys.size() > 1 ? threads : 1u;
        parallel_for(group.keys.size(), workers_here, [&](std::size_t i) {
          const std::size_t k = group.keys[i];
          std::vector<std::uint8_t>& flags = green[green.size() == 1 ? 0 : k];
          flags.resize(tokens.size());
          const KeyEntry& entry = states_[k].entry;
          if (entry.scheme) {
            states_[k].counts.green += entry.scheme->green_flags(contexts, tokens, flags);
            if (!tallies) return;
            std::vector<ResponseTally>& tally = (*tallies)[k];
            for (std::size_t j = 0; j < flags.size(); ++j) tally[responses[j]].green += flags[j];
            return;
          }
          // Gumbel-max and tournament: seeds 1024 tuples at a time through the batched PRF (a stack
          // buffer: fresh heap memory per chunk costs page faults), then one score per tuple.
          constexpr std::size_t kBlock = 1024;
          std::array<std::uint64_t, kBlock> seeds;
          if (entry.tournament) {
            const TournamentScheme& tournament = *entry.tournament;
            std::uint64_t ones_sum = 0, above_half = 0;
            for (std::size_t start = 0; start < tokens.size(); start += kBlock) {
              const std::size_t block = std::min(kBlock, tokens.size() - start);
              tournament.context_seeds(std::span<const std::uint32_t>(contexts).subspan(start * width, block * width),
                                       std::span<std::uint64_t>(seeds.data(), block));
              for (std::size_t j = start; j < start + block; ++j) {
                const std::uint32_t ones = tournament.score(seeds[j - start], tokens[j]);
                const bool above = 2 * ones > tournament.layers();
                ones_sum += ones;
                above_half += above;
                if (tallies) {
                  (*tallies)[k][responses[j]].g_ones += ones;
                  (*tallies)[k][responses[j]].green += above;
                }
              }
            }
            states_[k].counts.g_ones += ones_sum;
            states_[k].counts.green += above_half;
            return;
          }
          double sum = 0;
          std::uint64_t above_half = 0;
          for (std::size_t start = 0; start < tokens.size(); start += kBlock) {
            const std::size_t block = std::min(kBlock, tokens.size() - start);
            entry.gumbel->context_seeds(std::span<const std::uint32_t>(contexts).subspan(start * width, block * width),
                                        std::span<std::uint64_t>(seeds.data(), block));
            for (std::size_t j = start; j < start + block; ++j) {
              const double score = entry.gumbel->score(seeds[j - start], tokens[j]);
              sum += score;
              above_half += score > std::numbers::ln2;  // r > 1/2
              if (tallies) {
                (*tallies)[k][responses[j]].score += score;
                (*tallies)[k][responses[j]].green += score > std::numbers::ln2;
              }
            }
          }
          states_[k].counts.score += sum;
          states_[k].counts.green += above_half;
        });
      }
      contexts.clear();
      tokens.clear();
      responses.clear();
    };
    for (const std::vector<NewTuple>& found : fresh[g]) {
      for (const NewTuple& tuple : found) {
        const std::uint32_t* ids = batch[tuple.response].tokens.data();
        contexts.insert(contexts.end(), ids + (tuple.position - width), ids + tuple.position);
        tokens.push_back(ids[tuple.position]);
        responses.push_back(tuple.response);
        if (tokens.size() == kChunk) colour_chunk();
      }
    }
    if (!tokens.empty()) colour_chunk();
  }
}

std::vector<KeyScanResult> DistillationScan::results(const ScanSettings& settings) const {
  std::vector<std::string> ids;
  std::vector<double> gammas;
  std::vector<KeyStatistic> statistics;
  std::vector<ScanCounts> counts;
  for (const KeyState& state : states_) {
    ids.push_back(state.entry.key_id);
    gammas.push_back(state.entry.scheme ? state.entry.scheme->null_green_probability() : 0.0);
    statistics.push_back({state.entry.kind(), state.entry.tournament ? state.entry.tournament->layers() : 0u});
    counts.push_back(state.counts);
  }
  return key_scan_results(ids, gammas, counts, settings, statistics);
}

void add_undeduplicated_counts(ScanCounts& counts, const PreparedResponse& prepared, std::size_t group) {
  const PreparedResponse::GroupPart& part = prepared.parts[group];
  ++counts.responses;
  counts.tokens += prepared.tokens.size();
  counts.skipped_prefix += part.skipped_prefix;
  counts.skipped_prompt_window += part.skipped_prompt_window;
  counts.skipped_filter += part.skipped_filter;
  counts.skipped_low_entropy += part.skipped_low_entropy;
  counts.skipped_syntax += part.skipped_syntax;
}

double pooled_log10_p(const KeyStatistic& statistic, const ScanCounts& counts, double gamma) {
  switch (statistic.scheme) {
    case SchemeKind::green_list: return binomial_test(counts.green, counts.scored, gamma).log10_p;
    case SchemeKind::gumbel_max: return gamma_test(counts.score, counts.scored).log10_p;
    case SchemeKind::tournament: return tournament_test(counts.g_ones, counts.scored, statistic.tournament_layers).log10_p;
  }
  throw Error(ErrorCode::internal, "pooled_log10_p: an unknown scheme");
}

std::vector<KeyScanResult> key_scan_results(std::span<const std::string> key_ids, std::span<const double> gammas,
                                            std::span<const ScanCounts> counts, const ScanSettings& settings,
                                            std::span<const KeyStatistic> statistics) {
  if (gammas.size() != key_ids.size() || counts.size() != key_ids.size() ||
      (!statistics.empty() && statistics.size() != key_ids.size())) {
    throw Error(ErrorCode::internal, "key_scan_results: key ids, gammas and counts differ in length");
  }
  std::vector<KeyScanResult> results;
  std::vector<double> log_p;
  for (std::size_t k = 0; k < key_ids.size(); ++k) {
    const ScanCounts& state_counts = counts[k];
    KeyScanResult result;
    result.key_id = key_ids[k];
    result.counts = state_counts;
    const KeyStatistic statistic = statistics.empty() ? KeyStatistic{} : statistics[k];
    result.scheme = statistic.scheme;
    if (statistic.scheme == SchemeKind::tournament) {
      // Tournament: the m g-values of each scored tuple are fair coins under the null, so their
      // total is Binomial(n m, 1/2); the effect is mean g - 1/2.
      const std::uint32_t m = statistic.tournament_layers;
      if (m < 1) throw Error(ErrorCode::internal, "key_scan_results: a tournament key without layers");
      result.tournament_layers = m;
      result.test = tournament_test(state_counts.g_ones, state_counts.scored, m);
      if (state_counts.scored > 0) {
        result.green_rate = tournament_mean_g(state_counts.g_ones, state_counts.scored, m);
        result.effect = result.green_rate - 0.5;
        // Tokens to reach the target at the observed mean g: the binomial's trials are g-values.
        if (auto needed = tuples_needed_for(result.green_rate, 0.5, settings.target_p)) {
          const double scored_per_token =
              static_cast<double>(state_counts.scored) / static_cast<double>(std::max<std::uint64_t>(1, state_counts.tokens));
          const double more_tuples = static_cast<double>(*needed) / m - static_cast<double>(state_counts.scored);
          result.further_tokens_needed =
              more_tuples <= 0 ? 0 : static_cast<std::uint64_t>(std::ceil(more_tuples / scored_per_token));
        }
      }
      log_p.push_back(result.test.log_p);
      results.push_back(result);
      continue;
    }
    if (statistic.scheme == SchemeKind::gumbel_max) {
      // Gumbel-max: the sum of -ln(1 - r) over the scored tuples is Gamma(n, 1) under the null.
      const GammaTest gamma = gamma_test(state_counts.score, state_counts.scored);
      result.test.scored = gamma.scored;
      result.test.green = state_counts.green;
      result.test.log_p = gamma.log_p;
      result.test.log10_p = gamma.log10_p;
      result.test.p_value = gamma.p_value;
      if (state_counts.scored > 0) {
        result.green_rate = state_counts.score / static_cast<double>(state_counts.scored);
        result.effect = result.green_rate - 1.0;
      }
      log_p.push_back(result.test.log_p);
      results.push_back(result);
      continue;
    }
    const double gamma = gammas[k];
    result.test = binomial_test(state_counts.green, state_counts.scored, gamma);
    if (state_counts.scored > 0) {
      result.green_rate = static_cast<double>(state_counts.green) / static_cast<double>(state_counts.scored);
      result.effect = result.green_rate - gamma;
      const RateInterval rate = clopper_pearson_interval(state_counts.green, state_counts.scored, settings.confidence);
      result.effect_interval = {rate.lower - gamma, rate.upper - gamma};
      if (auto needed = tuples_needed_for(result.green_rate, gamma, settings.target_p)) {
        const double scored_per_token =
            static_cast<double>(state_counts.scored) / static_cast<double>(std::max<std::uint64_t>(1, state_counts.tokens));
        const double more_tuples = static_cast<double>(*needed) - static_cast<double>(state_counts.scored);
        result.further_tokens_needed =
            more_tuples <= 0 ? 0 : static_cast<std::uint64_t>(std::ceil(more_tuples / scored_per_token));
      }
    } else {
      result.effect_interval = {-gamma, 1.0 - gamma};
    }
    log_p.push_back(result.test.log_p);
    results.push_back(result);
  }
  const std::vector<double> adjusted = holm_adjust_log_p(log_p);
  for (std::size_t i = 0; i < results.size(); ++i) results[i].holm_log10_p = adjusted[i] / std::numbers::ln10;
  return results;
}

}  // namespace tracemark
