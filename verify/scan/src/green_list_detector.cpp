#include "tracemark/verify/green_list_detector.hpp"

#include <algorithm>
#include <string>
#include <vector>

// Inlined XXH3 (the same function as the library's): the scan fingerprints every suspect token.
#define XXH_INLINE_ALL
#include <xxhash.h>
#include <bit>

#include "tracemark/embed/token_bytes.hpp"
#include "tracemark/error.hpp"

namespace tracemark {

ScoreCounts& ScoreCounts::operator+=(const ScoreCounts& other) {
  tokens += other.tokens;
  skipped_prefix += other.skipped_prefix;
  skipped_repeated_context += other.skipped_repeated_context;
  skipped_low_entropy += other.skipped_low_entropy;
  skipped_syntax += other.skipped_syntax;
  skipped_repeated_tuple += other.skipped_repeated_tuple;
  scored += other.scored;
  green += other.green;
  return *this;
}

std::uint64_t tuple_fingerprint(std::span<const std::uint32_t> context, std::uint32_t token) noexcept {
  std::uint32_t ids[kMaxHashedIds];
  const std::size_t width = std::min<std::size_t>(context.size(), kMaxHashedIds - 1);
  std::copy_n(context.begin(), width, ids);
  ids[width] = token;
  std::uint8_t bytes[4 * kMaxHashedIds];
  return XXH3_64bits(bytes, encode_ids_little_endian(std::span<const std::uint32_t>(ids, width + 1), bytes));
}

std::uint64_t window_fingerprint(std::span<const std::uint32_t> window) noexcept {
  if (window.empty()) return tuple_fingerprint({}, 0);  // not a tuple; defined for completeness
  if constexpr (std::endian::native == std::endian::little) {
    if (window.size() <= kMaxHashedIds) return XXH3_64bits(window.data(), 4 * window.size());
  }
  return tuple_fingerprint(window.first(window.size() - 1), window.back());
}

GreenListDetector::GreenListDetector(std::shared_ptr<const GreenListScheme> scheme) : scheme_(std::move(scheme)) {
  if (!scheme_) throw Error(ErrorCode::invalid_argument, "GreenListDetector needs a scheme");
}

ScoreCounts GreenListDetector::add_document(std::span<const std::uint32_t> tokens, const StepSelection& selection) {
  const std::size_t width = scheme_->context_width();
  const std::uint32_t vocab = scheme_->vocab_size();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] >= vocab) {
      throw Error(ErrorCode::invalid_input, "token id " + std::to_string(tokens[i]) + " at position " +
                                                std::to_string(i) + " is outside the key's vocabulary (size " +
                                                std::to_string(vocab) + ")");
    }
  }
  if (!selection.entropy.empty() && selection.entropy.size() != tokens.size()) {
    throw Error(ErrorCode::invalid_input, "the per-step entropy has " + std::to_string(selection.entropy.size()) +
                                              " values for " + std::to_string(tokens.size()) + " tokens");
  }
  const std::vector<bool> free = selection.syntax ? selection.syntax->free_positions(tokens) : std::vector<bool>{};
  ScoreCounts document;
  ScoreCounts pooled_delta;
  document.tokens = pooled_delta.tokens = tokens.size();
  const std::size_t prefix = std::min(width, tokens.size());
  document.skipped_prefix = pooled_delta.skipped_prefix = prefix;

  TupleSet document_tuples;
  std::unordered_set<std::uint64_t> seen_contexts;  // mirrors WatermarkProcessor's rule
  for (std::size_t i = prefix; i < tokens.size(); ++i) {
    const auto context = tokens.subspan(i - width, width);
    const std::uint64_t seed = scheme_->context_seed(context);
    if (width > 0 && !seen_contexts.insert(seed).second) {
      ++document.skipped_repeated_context;
      ++pooled_delta.skipped_repeated_context;
      continue;
    }
    if (selection.low_entropy(i)) {
      ++document.skipped_low_entropy;
      ++pooled_delta.skipped_low_entropy;
      continue;
    }
    if (!free.empty() && !free[i]) {
      ++document.skipped_syntax;
      ++pooled_delta.skipped_syntax;
      continue;
    }
    const std::uint64_t fingerprint = tuple_fingerprint(context, tokens[i]);
    const bool green = scheme_->is_green(seed, tokens[i]);
    if (document_tuples.insert(fingerprint)) {
      ++document.scored;
      document.green += green;
    } else {
      ++document.skipped_repeated_tuple;
    }
    if (pooled_tuples_.insert(fingerprint)) {
      ++pooled_delta.scored;
      pooled_delta.green += green;
    } else {
      ++pooled_delta.skipped_repeated_tuple;
    }
  }
  pooled_ += pooled_delta;
  return document;
}

}  // namespace tracemark
