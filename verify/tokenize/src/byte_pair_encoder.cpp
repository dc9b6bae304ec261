#include "byte_pair_encoder.hpp"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>
#include <queue>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

// Pieces up to this many bytes merge in fixed-size arrays by the quadratic scan (fastest for the
// short pieces that make up almost all text); longer ones use a linked list and a heap, n log n.
constexpr std::size_t kShortPiece = 96;

std::uint64_t hash_bytes(std::string_view bytes) noexcept { return XXH3_64bits(bytes.data(), bytes.size()); }

std::uint64_t mix_pair(std::uint64_t key) noexcept {
  // splitmix64's finaliser: pair keys are dense small integers, so they need mixing before masking.
  key ^= key >> 30;
  key *= 0xbf58476d1ce4e5b9ull;
  key ^= key >> 27;
  key *= 0x94d049bb133111ebull;
  return key ^ (key >> 31);
}

std::uint64_t table_size_for(std::size_t count) { return std::bit_ceil(std::max<std::uint64_t>(16, 2 * count)); }

}  // namespace

TokenTable::TokenTable(const std::vector<std::pair<std::string, std::uint32_t>>& tokens) {
  std::size_t total = 0;
  for (const auto& token : tokens) total += token.first.size();
  arena_.reserve(total);
  entries_.reserve(tokens.size());
  slots_.assign(table_size_for(tokens.size()), Slot{});
  mask_ = slots_.size() - 1;
  for (const auto& [bytes, id] : tokens) {
    const std::uint64_t hash = hash_bytes(bytes);
    std::uint64_t at = hash & mask_;
    while (slots_[at].entry != 0) at = (at + 1) & mask_;
    entries_.push_back({static_cast<std::uint32_t>(arena_.size()), static_cast<std::uint32_t>(bytes.size()), id});
    arena_ += bytes;
    slots_[at] = {static_cast<std::uint32_t>(hash >> 32), static_cast<std::uint32_t>(entries_.size())};
  }
}

std::uint32_t TokenTable::find(std::string_view bytes) const noexcept {
  const std::uint64_t hash = hash_bytes(bytes);
  const auto tag = static_cast<std::uint32_t>(hash >> 32);
  for (std::uint64_t at = hash & mask_;; at = (at + 1) & mask_) {
    const Slot& slot = slots_[at];
    if (slot.entry == 0) return kNoToken;
    if (slot.tag != tag) continue;
    const Entry& entry = entries_[slot.entry - 1];
    if (entry.length == bytes.size() && std::memcmp(arena_.data() + entry.offset, bytes.data(), bytes.size()) == 0) {
      return entry.id;
    }
  }
}

BytePairEncoder::BytePairEncoder(const TokenizerDefinition& definition, const std::string& source)
    : rule_(definition.merge_rule), whole_piece_first_(definition.whole_piece_first), table_(definition.tokens) {
  for (const auto& [bytes, id] : definition.tokens) max_id_ = std::max(max_id_, id);
  std::vector<std::uint32_t> lengths(std::size_t{max_id_} + 1, 0);
  std::vector<bool> seen(std::size_t{max_id_} + 1, false);
  for (const auto& [bytes, id] : definition.tokens) {
    if (bytes.empty()) throw Error(ErrorCode::invalid_input, source + ": token " + std::to_string(id) + " has no bytes");
    if (seen[id]) throw Error(ErrorCode::invalid_input, source + ": token id " + std::to_string(id) + " appears twice");
    if (table_.find(bytes) != id) {
      throw Error(ErrorCode::invalid_input, source + ": token " + std::to_string(id) + " repeats the bytes of token " +
                                                std::to_string(table_.find(bytes)));
    }
    seen[id] = true;
    lengths[id] = static_cast<std::uint32_t>(bytes.size());
  }
  token_offsets_.assign(lengths.size() + 1, 0);
  for (std::size_t id = 0; id < lengths.size(); ++id) token_offsets_[id + 1] = token_offsets_[id] + lengths[id];
  token_bytes_.resize(token_offsets_.back());
  for (const auto& [bytes, id] : definition.tokens) std::memcpy(token_bytes_.data() + token_offsets_[id], bytes.data(), bytes.size());

  for (unsigned byte = 0; byte < 256; ++byte) {
    const char c = static_cast<char>(byte);
    byte_ids_[byte] = table_.find(std::string_view(&c, 1));
    if (byte_ids_[byte] == kNoToken) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", byte);
      throw Error(ErrorCode::invalid_input, source + ": no token for the single byte " + std::string(hex) +
                                                "; a byte-level BPE vocabulary must cover all 256 bytes");
    }
  }

  if (rule_ != MergeRule::merge_list) return;
  merges_.assign(table_size_for(definition.merges.size()), MergeSlot{});
  merge_mask_ = merges_.size() - 1;
  for (std::size_t rank = 0; rank < definition.merges.size(); ++rank) {
    const auto [left, right] = definition.merges[rank];
    const std::string_view left_bytes = token_bytes(left), right_bytes = token_bytes(right);
    if (left_bytes.empty() || right_bytes.empty()) {
      throw Error(ErrorCode::invalid_input, source + ": merge " + std::to_string(rank + 1) + " names a token id that is not in the vocabulary");
    }
    const std::uint32_t merged = table_.find(std::string(left_bytes) + std::string(right_bytes));
    if (merged == kNoToken) {
      throw Error(ErrorCode::invalid_input, source + ": merge " + std::to_string(rank + 1) + " (tokens " +
                                                std::to_string(left) + " and " + std::to_string(right) +
                                                ") makes bytes that are not a token");
    }
    const std::uint64_t key = (std::uint64_t{left} << 32) | right;
    std::uint64_t at = mix_pair(key) & merge_mask_;
    while (merges_[at].key != ~std::uint64_t{0} && merges_[at].key != key) at = (at + 1) & merge_mask_;
    // A repeated pair keeps its first (highest-priority) rank, as a rank lookup built in order does.
    if (merges_[at].key == key) continue;
    merges_[at] = {key, {static_cast<std::uint32_t>(rank), merged}};
  }
  if (!whole_piece_first_) {
    self_merging_.assign(std::size_t{max_id_} + 1, false);
    std::vector<std::uint32_t> ids;
    for (const auto& [bytes, id] : definition.tokens) {
      ids.clear();
      if (bytes.size() <= kShortPiece) {
        merge_short(bytes, ids);
      } else {
        merge_long(bytes, ids);
      }
      self_merging_[id] = ids.size() == 1 && ids[0] == id;
    }
  }
}

std::string_view BytePairEncoder::token_bytes(std::uint32_t id) const noexcept {
  if (id + std::size_t{1} >= token_offsets_.size()) return {};
  return std::string_view(token_bytes_).substr(token_offsets_[id], token_offsets_[id + 1] - token_offsets_[id]);
}

BytePairEncoder::PairResult BytePairEncoder::pair(std::string_view piece, const Part& left, const Part& right,
                                                  std::uint32_t right_end) const noexcept {
  if (rule_ == MergeRule::token_ranks) {
    const std::uint32_t id = table_.find(piece.substr(left.start, right_end - left.start));
    return {id, id};
  }
  const std::uint64_t key = (std::uint64_t{left.id} << 32) | right.id;
  for (std::uint64_t at = mix_pair(key) & merge_mask_;; at = (at + 1) & merge_mask_) {
    if (merges_[at].key == key) return merges_[at].result;
    if (merges_[at].key == ~std::uint64_t{0}) return {};
  }
}

void BytePairEncoder::encode_piece(std::string_view piece, std::vector<std::uint32_t>& out) const {
  if (piece.size() == 1) {
    out.push_back(byte_ids_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  // tiktoken looks the whole piece up first; for merge lists that is only done where it cannot
  // change the result (self_merging_) or where the model asks for it (ignore_merges).
  const std::uint32_t whole = table_.find(piece);
  if (whole != kNoToken && (rule_ == MergeRule::token_ranks || whole_piece_first_ || self_merging_[whole])) {
    out.push_back(whole);
    return;
  }
  if (piece.size() <= kShortPiece) {
    merge_short(piece, out);
  } else {
    merge_long(piece, out);
  }
}

// The rule both paths implement: repeatedly merge the adjacent pair of lowest rank, the leftmost
// one among equal ranks, until no pair merges (tiktoken's _byte_pair_merge; for a merge list this is
// also what GPT-2's encoder.py and Hugging Face's BPE give, as their lists only merge existing tokens).
void BytePairEncoder::merge_short(std::string_view piece, std::vector<std::uint32_t>& out) const {
  std::array<Part, kShortPiece> parts;
  std::array<PairResult, kShortPiece> pairs;  // pairs[i]: parts i and i+1
  std::size_t count = piece.size();
  const auto n = static_cast<std::uint32_t>(count);
  for (std::uint32_t i = 0; i < n; ++i) parts[i] = {i, byte_ids_[static_cast<unsigned char>(piece[i])]};
  auto end_of = [&](std::size_t i) { return i + 1 < count ? parts[i + 1].start : n; };
  for (std::size_t i = 0; i + 1 < count; ++i) pairs[i] = pair(piece, parts[i], parts[i + 1], end_of(i + 1));
  while (count > 1) {
    std::uint32_t best = kNoToken;
    std::size_t at = 0;
    for (std::size_t i = 0; i + 1 < count; ++i) {
      if (pairs[i].rank < best) {
        best = pairs[i].rank;
        at = i;
      }
    }
    if (best == kNoToken) break;
    parts[at].id = pairs[at].id;
    // Part at+1 is gone, and with it the pair (at+1, at+2); later parts and pairs shift down by one.
    for (std::size_t i = at + 1; i + 1 < count; ++i) parts[i] = parts[i + 1];
    for (std::size_t i = at + 1; i + 2 < count; ++i) pairs[i] = pairs[i + 1];
    --count;
    if (at + 1 < count) pairs[at] = pair(piece, parts[at], parts[at + 1], end_of(at + 1));
    if (at > 0) pairs[at - 1] = pair(piece, parts[at - 1], parts[at], end_of(at));
  }
  for (std::size_t i = 0; i < count; ++i) out.push_back(parts[i].id);
}

void BytePairEncoder::merge_long(std::string_view piece, std::vector<std::uint32_t>& out) const {
  // Parts are named by the offset of their first byte; next/prev link the live ones. The heap holds
  // (rank << 32 | left offset), so its minimum is the lowest rank and, among equal ranks, the
  // leftmost pair. Entries go stale when a neighbour merges; a popped entry is used only if its left
  // part is live, has a right neighbour and that pair still has this rank (ranks are unique to a
  // pair, so an equal rank means the same pair).
  const auto n = static_cast<std::uint32_t>(piece.size());
  constexpr std::uint32_t kNone = kNoToken;
  std::vector<std::uint32_t> ids(n), next(n), prev(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    ids[i] = byte_ids_[static_cast<unsigned char>(piece[i])];
    next[i] = i + 1 < n ? i + 1 : kNone;
    prev[i] = i > 0 ? i - 1 : kNone;
  }
  auto pair_at = [&](std::uint32_t left) -> PairResult {
    const std::uint32_t right = next[left];
    if (right == kNone) return {};
    const std::uint32_t right_end = next[right] == kNone ? n : next[right];
    return pair(piece, Part{left, ids[left]}, Part{right, ids[right]}, right_end);
  };
  std::vector<std::uint64_t> initial;
  initial.reserve(n);
  for (std::uint32_t i = 0; i + 1 < n; ++i) {
    const PairResult result = pair_at(i);
    if (result.rank != kNoToken) initial.push_back((std::uint64_t{result.rank} << 32) | i);
  }
  std::priority_queue<std::uint64_t, std::vector<std::uint64_t>, std::greater<>> heap(std::greater<>{}, std::move(initial));
  while (!heap.empty()) {
    const std::uint64_t top = heap.top();
    heap.pop();
    const auto left = static_cast<std::uint32_t>(top), rank = static_cast<std::uint32_t>(top >> 32);
    if (ids[left] == kNone) continue;  // merged into its left neighbour
    const PairResult result = pair_at(left);
    if (result.rank != rank) continue;
    const std::uint32_t right = next[left];
    ids[left] = result.id;
    ids[right] = kNone;
    next[left] = next[right];
    if (next[left] != kNone) prev[next[left]] = left;
    const PairResult with_next = pair_at(left);
    if (with_next.rank != kNoToken) heap.push((std::uint64_t{with_next.rank} << 32) | left);
    if (prev[left] != kNone) {
      const PairResult with_prev = pair_at(prev[left]);
      if (with_prev.rank != kNoToken) heap.push((std::uint64_t{with_prev.rank} << 32) | prev[left]);
    }
  }
  for (std::uint32_t i = 0; i != kNone; i = next[i]) out.push_back(ids[i]);
}

}  // namespace tracemark
