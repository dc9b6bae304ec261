#include "tracemark/attacks/green_list_stealing.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <xxhash.h>

#include "tracemark/error.hpp"
#include "tracemark/verify/binomial.hpp"

namespace tracemark {
namespace {

// (context ids padded with zeros to 3, token): the exact pair, no hashing collisions.
using Pair = std::array<std::uint32_t, 4>;
struct PairHash {
  std::size_t operator()(const Pair& pair) const noexcept { return XXH3_64bits(pair.data(), sizeof(pair)); }
};

void check_ids(const TokenDocuments& documents, std::uint32_t vocab_size, const char* what) {
  for (std::size_t d = 0; d < documents.size(); ++d) {
    for (std::uint32_t id : documents[d]) {
      if (id >= vocab_size) {
        throw Error(ErrorCode::invalid_argument, std::string(what) + " document " + std::to_string(d) + ": token id " +
                                                     std::to_string(id) + " is outside the vocabulary (size " +
                                                     std::to_string(vocab_size) + ")");
      }
    }
  }
}

// Calls visit(pair) for every position with at least h earlier tokens in its document.
template <typename Visit>
void for_each_pair(const TokenDocuments& documents, std::uint32_t h, Visit&& visit) {
  for (const auto& document : documents) {
    for (std::size_t i = h; i < document.size(); ++i) {
      Pair pair{0, 0, 0, document[i]};
      for (std::uint32_t j = 0; j < h; ++j) pair[j] = document[i - h + j];
      visit(pair);
    }
  }
}

std::array<std::uint32_t, 3> context_of(const Pair& pair) { return {pair[0], pair[1], pair[2]}; }

}  // namespace

void StealingOptions::validate() const {
  if (context_width > 3) {
    throw Error(ErrorCode::invalid_argument, "stealing context width " + std::to_string(context_width) +
                                                 " is out of range; use 0 to 3");
  }
  if (min_count < 1) throw Error(ErrorCode::invalid_argument, "stealing minimum count must be at least 1");
  if (!(min_ratio > 1.0)) {
    throw Error(ErrorCode::invalid_argument, "stealing ratio " + std::to_string(min_ratio) + " is out of range; use a value above 1");
  }
  if (!(max_p > 0.0 && max_p <= 1.0)) {
    throw Error(ErrorCode::invalid_argument, "stealing significance level " + std::to_string(max_p) +
                                                 " is out of range; use a value in (0, 1]");
  }
}

void ScrubCounts::add(const ScrubCounts& other) {
  tokens += other.tokens;
  flagged += other.flagged;
  replaced += other.replaced;
  deleted += other.deleted;
}

std::size_t GreenListEstimate::ContextHash::operator()(const Context& context) const noexcept {
  return XXH3_64bits(context.data(), sizeof(context));
}

GreenListEstimate::Context GreenListEstimate::key(std::span<const std::uint32_t> context) const {
  if (context.size() != context_width_) {
    throw Error(ErrorCode::invalid_argument, "a context of " + std::to_string(context.size()) + " ids for an estimate of width " +
                                                 std::to_string(context_width_));
  }
  Context key{0, 0, 0};
  std::copy(context.begin(), context.end(), key.begin());
  return key;
}

GreenListEstimate GreenListEstimate::estimate(const TokenDocuments& harvest, const TokenDocuments& reference,
                                              std::uint32_t vocab_size, const StealingOptions& options) {
  options.validate();
  check_ids(harvest, vocab_size, "harvest");
  check_ids(reference, vocab_size, "reference");
  const std::uint32_t h = options.context_width;
  std::unordered_map<Pair, std::uint32_t, PairHash> harvest_pairs;
  std::unordered_map<Context, std::uint64_t, ContextHash> harvest_contexts;
  for_each_pair(harvest, h, [&](const Pair& pair) {
    ++harvest_pairs[pair];
    ++harvest_contexts[context_of(pair)];
  });
  // The reference is counted only after contexts the harvest holds (all the estimate needs).
  std::unordered_map<Pair, std::uint32_t, PairHash> reference_pairs;
  std::unordered_map<Context, std::uint64_t, ContextHash> reference_contexts;
  for_each_pair(reference, h, [&](const Pair& pair) {
    const Context context = context_of(pair);
    if (!harvest_contexts.contains(context)) return;
    ++reference_pairs[pair];
    ++reference_contexts[context];
  });

  GreenListEstimate estimate;
  estimate.context_width_ = h;
  const double log_max_p = std::log(options.max_p);
  for (const auto& [pair, count] : harvest_pairs) {
    if (count < options.min_count) continue;
    ++estimate.judged_pairs_;
    const Context context = context_of(pair);
    const auto in_reference = reference_pairs.find(pair);
    const auto context_in_reference = reference_contexts.find(context);
    if (context_in_reference == reference_contexts.end()) continue;
    const std::uint64_t harvest_context = harvest_contexts[context];
    const std::uint64_t reference_pair = in_reference == reference_pairs.end() ? 0 : in_reference->second;
    const std::uint64_t reference_context = context_in_reference->second;
    // Add-half smoothing keeps a pair the reference never holds finite.
    const double harvest_frequency = (count + 0.5) / static_cast<double>(harvest_context);
    const double reference_frequency = (static_cast<double>(reference_pair) + 0.5) / (static_cast<double>(reference_context) + 0.5);
    if (harvest_frequency < options.min_ratio * reference_frequency) continue;
    const double harvest_share = static_cast<double>(harvest_context) / static_cast<double>(harvest_context + reference_context);
    if (log_binomial_upper_tail(count, count + reference_pair, harvest_share) > log_max_p) continue;
    estimate.entries_[context].flagged.push_back(pair[3]);
    ++estimate.flagged_pairs_;
  }
  for (auto& [context, entry] : estimate.entries_) std::sort(entry.flagged.begin(), entry.flagged.end());
  // Replacements: the reference's continuations of each flagged context that are not flagged,
  // sorted by token so that the draw depends only on the seed.
  for (const auto& [pair, count] : reference_pairs) {
    const auto entry = estimate.entries_.find(context_of(pair));
    if (entry == estimate.entries_.end() ||
        std::binary_search(entry->second.flagged.begin(), entry->second.flagged.end(), pair[3])) {
      continue;
    }
    entry->second.replacements.emplace_back(pair[3], count);
    entry->second.replacement_total += count;
  }
  for (auto& [context, entry] : estimate.entries_) std::sort(entry.replacements.begin(), entry.replacements.end());
  return estimate;
}

bool GreenListEstimate::is_flagged(std::span<const std::uint32_t> context, std::uint32_t token) const {
  const auto entry = entries_.find(key(context));
  return entry != entries_.end() && std::binary_search(entry->second.flagged.begin(), entry->second.flagged.end(), token);
}

std::span<const std::uint32_t> GreenListEstimate::flagged_after(std::span<const std::uint32_t> context) const {
  const auto entry = entries_.find(key(context));
  if (entry == entries_.end()) return {};
  return entry->second.flagged;
}

std::vector<std::pair<std::vector<std::uint32_t>, std::uint32_t>> GreenListEstimate::flagged() const {
  std::vector<std::pair<std::vector<std::uint32_t>, std::uint32_t>> pairs;
  for (const auto& [context, entry] : entries_) {
    for (std::uint32_t token : entry.flagged) {
      pairs.emplace_back(std::vector<std::uint32_t>(context.begin(), context.begin() + context_width_), token);
    }
  }
  return pairs;
}

std::vector<std::uint32_t> scrub_document(std::span<const std::uint32_t> document, const GreenListEstimate& estimate,
                                          double strength, SplitMix64& rng, ScrubCounts& counts) {
  if (!(strength >= 0.0 && strength <= 1.0)) {
    throw Error(ErrorCode::invalid_argument, "scrub strength " + std::to_string(strength) + " is out of range; use a value in [0, 1]");
  }
  const std::uint32_t h = estimate.context_width_;
  std::vector<std::uint32_t> out;
  out.reserve(document.size());
  counts.tokens += document.size();
  for (std::uint32_t token : document) {
    if (out.size() < h) {
      out.push_back(token);
      continue;
    }
    const std::span<const std::uint32_t> context(out.data() + out.size() - h, h);
    const auto entry = estimate.entries_.find(estimate.key(context));
    if (entry == estimate.entries_.end() ||
        !std::binary_search(entry->second.flagged.begin(), entry->second.flagged.end(), token)) {
      out.push_back(token);
      continue;
    }
    ++counts.flagged;
    if (rng.uniform() >= strength) {
      out.push_back(token);
      continue;
    }
    const auto& replacements = entry->second.replacements;
    if (replacements.empty()) {
      ++counts.deleted;
      continue;
    }
    std::uint64_t draw = rng.next() % entry->second.replacement_total;
    std::size_t chosen = 0;
    while (draw >= replacements[chosen].second) draw -= replacements[chosen++].second;
    out.push_back(replacements[chosen].first);
    ++counts.replaced;
  }
  return out;
}

}  // namespace tracemark
