// Byte-pair merging of one pre-tokenized piece into token ids, under either merge rule of
// tokenizer_definition.hpp. Immutable after construction; safe to share across threads.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer_definition.hpp"

namespace tracemark {

inline constexpr std::uint32_t kNoToken = 0xFFFFFFFFu;

// Open-addressing map from token bytes to id. Lookup costs one XXH3 hash and usually one compare.
class TokenTable {
 public:
  explicit TokenTable(const std::vector<std::pair<std::string, std::uint32_t>>& tokens);
  std::uint32_t find(std::string_view bytes) const noexcept;  // kNoToken when absent

 private:
  struct Slot {
    std::uint32_t tag = 0;    // high 32 bits of the hash
    std::uint32_t entry = 0;  // index into entries_ plus one; 0 = empty
  };
  struct Entry {
    std::uint32_t offset, length, id;
  };
  std::string arena_;  // all token bytes, back to back
  std::vector<Entry> entries_;
  std::vector<Slot> slots_;  // power-of-two size, at most half full
  std::uint64_t mask_ = 0;
};

class BytePairEncoder {
 public:
  // Throws Error(invalid_input) when a byte has no token, ids or bytes repeat, or a merge names an
  // unknown id or yields bytes that are not a token. `source` names the file for messages.
  BytePairEncoder(const TokenizerDefinition& definition, const std::string& source);

  // Appends the ids of one piece (non-empty bytes) to `out`.
  void encode_piece(std::string_view piece, std::vector<std::uint32_t>& out) const;

  // The bytes of an ordinary token; empty for an id that is not an ordinary token.
  std::string_view token_bytes(std::uint32_t id) const noexcept;
  std::uint32_t max_id() const noexcept { return max_id_; }

 private:
  struct PairResult {
    std::uint32_t rank = kNoToken;  // kNoToken: the pair does not merge
    std::uint32_t id = kNoToken;    // the merged token
  };
  struct Part {
    std::uint32_t start;  // byte offset of the part in the piece
    std::uint32_t id;     // token of the part
  };
  PairResult pair(std::string_view piece, const Part& left, const Part& right, std::uint32_t right_end) const noexcept;
  void merge_short(std::string_view piece, std::vector<std::uint32_t>& out) const;
  void merge_long(std::string_view piece, std::vector<std::uint32_t>& out) const;

  MergeRule rule_;
  bool whole_piece_first_;
  TokenTable table_;
  std::array<std::uint32_t, 256> byte_ids_{};
  std::vector<std::uint32_t> token_offsets_;  // by id: offset into token_bytes_, and one past the end
  std::string token_bytes_;
  std::uint32_t max_id_ = 0;
  // merge_list: (left id << 32 | right id) -> rank and merged id, open addressing.
  struct MergeSlot {
    std::uint64_t key = ~std::uint64_t{0};
    PairResult result;
  };
  std::vector<MergeSlot> merges_;
  std::uint64_t merge_mask_ = 0;
  // merge_list: by id, whether merging the token's own bytes gives exactly that token, so that a
  // piece equal to it may take the whole-piece shortcut without changing any result.
  std::vector<bool> self_merging_;
};

}  // namespace tracemark
