// The on-disk layout of a reference model file (format "tracemark-ngram", version 1). Private to
// tools/refmodel: NgramModelWriter writes it, NgramModel maps and checks it.
//
// Layout (little-endian; the file is mapped and read in place, so only little-endian hosts are
// supported, which a static_assert enforces):
//   NgramFileHeader                      (fixed size, 8-byte aligned)
//   for depth j = 0 .. order-1:
//     NgramNode[nodes[j].count]          contexts of j tokens, sorted by reversed context
//     NgramFollower[followers[j].count]  for each node, the tokens seen after it, sorted by id
//   u32[unpredictable.count]             ids outside the uniform floor (sorted; see below)
// Sections start at 8-byte aligned offsets; checksum_xxh3 covers the whole file (header included).
//
// A context (h_1 .. h_j), h_j the most recent token, is stored as the trie path root -> h_j ->
// h_{j-1} -> ... -> h_1, so the parent of a context is the context without its oldest token: the
// one Kneser-Ney backs off to. Token id vocab_size is the begin-of-document marker that pads
// contexts before the first token; it appears in contexts only and is never predicted.
#pragma once

#include <bit>
#include <cstdint>
#include <type_traits>

namespace tracemark::ngram_format {

static_assert(std::endian::native == std::endian::little, "the reference model format is little-endian");

inline constexpr char kMagic[8] = {'T', 'M', 'N', 'G', 'R', 'A', 'M', '\n'};
inline constexpr std::uint32_t kFormatVersion = 1;
inline constexpr std::uint32_t kMaxOrder = 5;
inline constexpr std::uint32_t kMinOrder = 2;

struct Section {
  std::uint64_t offset;  // bytes from the start of the file
  std::uint64_t count;   // elements
};

struct Header {
  char magic[8];
  std::uint32_t format_version;
  std::uint32_t header_bytes;  // sizeof(Header), for a reader to reject a mismatched layout
  std::uint32_t order;         // n of the n-gram model, kMinOrder..kMaxOrder
  std::uint32_t vocab_size;    // predicted ids are 0..vocab_size-1; vocab_size itself is begin-of-document
  std::uint64_t token_count;     // training tokens (begin-of-document padding excluded)
  std::uint64_t document_count;  // training documents
  double discounts[kMaxOrder];   // Kneser-Ney discount of order k at index k-1, in (0, 1]
  char tokenizer_name[128];      // NUL-padded UTF-8; empty: the model reads token ids, no tokenizer
  char tokenizer_spec[256];      // how to load the tokenizer again (NUL-padded), empty without one
  char vocab_sha256[64];         // lowercase hex digest of the tokenizer's vocabulary, NUL without one
  Section nodes[kMaxOrder];      // per context depth j (index j)
  Section followers[kMaxOrder];  // per context depth j (index j)
  // Ids that are no ordinary token of the tokenizer (gaps in its id range, special tokens): they
  // get no share of the uniform floor, so the model never generates them unless trained on them.
  Section unpredictable;
  std::uint64_t file_bytes;      // total file size
  std::uint64_t checksum_xxh3;   // XXH3-64 (seed 0) of the header with this field 0, then the rest of the file
};
static_assert(std::is_trivially_copyable_v<Header> && sizeof(Header) % 8 == 0);

// A context: the token that extends its parent's context one step into the past, its children
// (contexts one token longer) and the tokens seen after it. total = sum of followers' counts.
struct Node {
  std::uint32_t token;
  std::uint32_t children_begin;  // index into the nodes of depth j+1
  std::uint32_t children_count;
  std::uint32_t followers_begin;  // index into the followers of depth j
  std::uint32_t followers_count;
  std::uint32_t total;
};
static_assert(std::is_trivially_copyable_v<Node> && sizeof(Node) == 24);

// A token seen after a context. count: the raw count at the highest order, the Kneser-Ney
// continuation count (distinct tokens seen before context+token) at lower orders.
struct Follower {
  std::uint32_t token;
  std::uint32_t count;
};
static_assert(std::is_trivially_copyable_v<Follower> && sizeof(Follower) == 8);

}  // namespace tracemark::ngram_format
