#include "tracemark/verify/distillation_scan.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <xxhash.h>

#include "tracemark/embed/token_bytes.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/holm.hpp"
#include "tracemark/verify/parallel_for.hpp"

namespace tracemark {

std::uint64_t context_fingerprint(std::span<const std::uint32_t> context) noexcept {
  std::uint8_t bytes[4 * kMaxHashedIds];
  const std::size_t length = encode_ids_little_endian(context.first(std::min<std::size_t>(context.size(), 16)), bytes);
  // Seeded differently from tuple fingerprints so the two families never coincide by design.
  return XXH3_64bits_withSeed(bytes, length, 0x636f6e74657874ULL /* "context" */);
}

void ReferenceContexts::add_response(std::span<const std::uint32_t> tokens) {
  ++responses_;
  for (std::size_t i = width_; i < tokens.size(); ++i) {
    ++counts_[context_fingerprint(tokens.subspan(i - width_, width_))];
  }
}

void ReferenceContexts::add_response(std::span<const std::uint32_t> tokens, std::span<const float> entropy,
                                     double threshold) {
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

bool ReferenceContexts::contains(std::span<const std::uint32_t> context) const {
  return counts_.contains(context_fingerprint(context));
}

DistillationScan::DistillationScan(std::vector<KeyEntry> keys) {
  if (keys.empty()) throw Error(ErrorCode::invalid_argument, "a scan needs at least one key");
  for (KeyEntry& key : keys) {
    if (!key.scheme) throw Error(ErrorCode::invalid_argument, "scan key without a scheme");
    if (key.filter && key.filter->context_width() != key.scheme->context_width()) {
      throw Error(ErrorCode::invalid_argument, "reference contexts of width " +
                                                   std::to_string(key.filter->context_width()) + " for key " +
                                                   key.key_id + " of context width " +
                                                   std::to_string(key.scheme->context_width()));
    }
    states_.push_back(KeyState{std::move(key), std::vector<TupleSet>(kShards), {}});
  }
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

template <typename Visit>
void DistillationScan::walk_response(std::size_t k, std::span<const std::uint32_t> response,
                                     std::span<const std::uint32_t> prompt, const ResponseSteps& steps,
                                     Visit&& visit) const {
  const KeyState& state = states_.at(k);
  if ((!steps.entropy.empty() && steps.entropy.size() != response.size()) ||
      (!steps.free.empty() && steps.free.size() != response.size())) {
    throw Error(ErrorCode::internal, "per-step entropy or syntax classes do not match the response's length");
  }
  const bool entropy_rule = !steps.entropy.empty() && state.entry.entropy_threshold > 0.0;
  const GreenListScheme& scheme = *state.entry.scheme;
  const std::size_t width = scheme.context_width();
  for (std::size_t i = 0; i < response.size(); ++i) {
    if (response[i] >= scheme.vocab_size()) {
      throw Error(ErrorCode::invalid_input, "token id " + std::to_string(response[i]) + " at position " +
                                                std::to_string(i) + " is outside the vocabulary of key " +
                                                state.entry.key_id + " (size " + std::to_string(scheme.vocab_size()) + ")");
    }
  }
  // The prompt's windows of h + 1 tokens: a response tuple equal to one of them is not scored.
  std::unordered_set<std::uint64_t> prompt_windows;
  for (std::size_t i = width; i < prompt.size(); ++i) {
    prompt_windows.insert(tuple_fingerprint(prompt.subspan(i - width, width), prompt[i]));
  }
  const std::size_t prefix = std::min(width, response.size());
  for (std::size_t i = 0; i < prefix; ++i) visit(i, TokenStatus::prefix, std::uint64_t{0});
  for (std::size_t i = prefix; i < response.size(); ++i) {
    const auto context = response.subspan(i - width, width);
    const std::uint64_t fingerprint = tuple_fingerprint(context, response[i]);
    if (prompt_windows.contains(fingerprint)) {
      visit(i, TokenStatus::prompt_window, fingerprint);
    } else if (state.entry.filter && !state.entry.filter->contains(context)) {
      visit(i, TokenStatus::filtered, fingerprint);
    } else if (entropy_rule && static_cast<double>(steps.entropy[i]) < state.entry.entropy_threshold) {
      visit(i, TokenStatus::low_entropy, fingerprint);
    } else if (!steps.free.empty() && steps.free[i] == 0) {
      visit(i, TokenStatus::syntax, fingerprint);
    } else {
      const bool green = scheme.is_green(scheme.context_seed(context), response[i]);
      visit(i, green ? TokenStatus::green : TokenStatus::red, fingerprint);
    }
  }
}

PreparedResponse DistillationScan::prepare(std::span<const std::uint32_t> response,
                                           std::span<const std::uint32_t> prompt, const ResponseSteps& steps) const {
  PreparedResponse prepared;
  prepared.parts.resize(states_.size());
  for (std::size_t k = 0; k < states_.size(); ++k) {
    PreparedResponse::KeyPart& part = prepared.parts[k];
    part.tokens = response.size();
    part.tuples.reserve(response.size());
    walk_response(k, response, prompt, steps, [&](std::size_t, TokenStatus status, std::uint64_t fingerprint) {
      switch (status) {
        case TokenStatus::prefix: ++part.skipped_prefix; break;
        case TokenStatus::prompt_window: ++part.skipped_prompt_window; break;
        case TokenStatus::filtered: ++part.skipped_filter; break;
        case TokenStatus::low_entropy: ++part.skipped_low_entropy; break;
        case TokenStatus::syntax: ++part.skipped_syntax; break;
        case TokenStatus::green:
        case TokenStatus::red: part.tuples.emplace_back(fingerprint, status == TokenStatus::green); break;
        case TokenStatus::repeated: break;  // never produced by walk_response
      }
    });
  }
  return prepared;
}

std::vector<TokenStatus> DistillationScan::token_statuses(std::size_t k, std::span<const std::uint32_t> response,
                                                          std::span<const std::uint32_t> prompt, TupleSet& scored,
                                                          const ResponseSteps& steps) const {
  std::vector<TokenStatus> statuses(response.size(), TokenStatus::prefix);
  walk_response(k, response, prompt, steps, [&](std::size_t i, TokenStatus status, std::uint64_t fingerprint) {
    if ((status == TokenStatus::green || status == TokenStatus::red) && !scored.insert(fingerprint)) {
      status = TokenStatus::repeated;
    }
    statuses[i] = status;
  });
  return statuses;
}

void DistillationScan::merge_batch(std::span<const PreparedResponse> batch, unsigned threads,
                                   std::vector<std::vector<ResponseTally>>* tallies) {
  const std::size_t keys = states_.size();
  for (const PreparedResponse& prepared : batch) {
    if (prepared.parts.size() != keys) throw Error(ErrorCode::internal, "prepared response was made for another scan");
  }
  // The counts that do not depend on deduplication.
  for (const PreparedResponse& prepared : batch) {
    for (std::size_t k = 0; k < keys; ++k) {
      const PreparedResponse::KeyPart& part = prepared.parts[k];
      ScanCounts& counts = states_[k].counts;
      ++counts.responses;
      counts.tokens += part.tokens;
      counts.skipped_prefix += part.skipped_prefix;
      counts.skipped_prompt_window += part.skipped_prompt_window;
      counts.skipped_filter += part.skipped_filter;
      counts.skipped_low_entropy += part.skipped_low_entropy;
      counts.skipped_syntax += part.skipped_syntax;
    }
  }
  // Deduplication: worker w owns the shards s with s % workers == w and walks the whole batch in
  // input order, so each shard sees its tuples in input order whatever the number of workers.
  std::size_t tuples = 0;
  for (const PreparedResponse& prepared : batch) {
    for (const auto& part : prepared.parts) tuples += part.tuples.size();
  }
  const unsigned workers = tuples < 4096 ? 1u : std::max(1u, std::min<unsigned>(threads, kShards));
  struct WorkerTotals {
    std::vector<ScanCounts> counts;                 // per key: scored, green, skipped_repeated_tuple
    std::vector<std::vector<ResponseTally>> tally;  // per key, per response
  };
  std::vector<WorkerTotals> totals(workers);
  parallel_for(workers, workers, [&](std::size_t w) {
    WorkerTotals& mine = totals[w];
    mine.counts.resize(keys);
    if (tallies) mine.tally.assign(keys, std::vector<ResponseTally>(batch.size()));
    for (std::size_t r = 0; r < batch.size(); ++r) {
      for (std::size_t k = 0; k < keys; ++k) {
        std::vector<TupleSet>& shards = states_[k].shards;
        ScanCounts& counts = mine.counts[k];
        for (const auto& [fingerprint, green] : batch[r].parts[k].tuples) {
          const std::size_t shard = fingerprint % kShards;
          if (shard % workers != w) continue;
          if (shards[shard].insert(fingerprint)) {
            ++counts.scored;
            counts.green += green;
            if (tallies) {
              ++mine.tally[k][r].scored;
              mine.tally[k][r].green += green;
            }
          } else {
            ++counts.skipped_repeated_tuple;
          }
        }
      }
    }
  });
  if (tallies) {
    tallies->assign(keys, std::vector<ResponseTally>(batch.size()));
    for (std::size_t k = 0; k < keys; ++k) {
      for (std::size_t r = 0; r < batch.size(); ++r) (*tallies)[k][r].tokens = batch[r].parts[k].tokens;
    }
  }
  for (const WorkerTotals& mine : totals) {
    for (std::size_t k = 0; k < keys; ++k) {
      ScanCounts& counts = states_[k].counts;
      counts.scored += mine.counts[k].scored;
      counts.green += mine.counts[k].green;
      counts.skipped_repeated_tuple += mine.counts[k].skipped_repeated_tuple;
      if (!tallies) continue;
      for (std::size_t r = 0; r < batch.size(); ++r) {
        (*tallies)[k][r].scored += mine.tally[k][r].scored;
        (*tallies)[k][r].green += mine.tally[k][r].green;
      }
    }
  }
}

std::vector<KeyScanResult> DistillationScan::results(const ScanSettings& settings) const {
  std::vector<KeyScanResult> results;
  std::vector<double> log_p;
  for (const KeyState& state : states_) {
    KeyScanResult result;
    result.key_id = state.entry.key_id;
    result.counts = state.counts;
    const double gamma = state.entry.scheme->null_green_probability();
    result.test = binomial_test(state.counts.green, state.counts.scored, gamma);
    if (state.counts.scored > 0) {
      result.green_rate = static_cast<double>(state.counts.green) / static_cast<double>(state.counts.scored);
      result.effect = result.green_rate - gamma;
      const RateInterval rate = clopper_pearson_interval(state.counts.green, state.counts.scored, settings.confidence);
      result.effect_interval = {rate.lower - gamma, rate.upper - gamma};
      if (auto needed = tuples_needed_for(result.green_rate, gamma, settings.target_p)) {
        const double scored_per_token =
            static_cast<double>(state.counts.scored) / static_cast<double>(std::max<std::uint64_t>(1, state.counts.tokens));
        const double more_tuples = static_cast<double>(*needed) - static_cast<double>(state.counts.scored);
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
