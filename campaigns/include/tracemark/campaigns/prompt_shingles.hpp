// Prompt shingles and MinHash, for finding prompts made from the same template across accounts.
//
// A prompt is read as words (ASCII letters and digits, lower-cased, every digit written 0, bytes
// of other scripts kept; everything else separates words); its shingles are the hashes of each run
// of four consecutive words (XXH3-64 per word, combined order-sensitively). A fixed quarter of all
// possible shingles is kept (by a bit of the hash, the same for every account, so two accounts keep
// the same shingles of a shared phrase). MinHash (Broder 1997) over a set of shingles: signature
// value k is the minimum over the set of h_k(s), h_k a keyed 64-bit mix of s; two sets' signatures
// agree in each position with probability equal to their Jaccard similarity. LSH banding (Indyk and
// Motwani 1998): kMinHashBands bands of kMinHashRows values; two sets share a band key with
// probability 1 - (1 - J^rows)^bands, about one half at J = 0.5.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace tracemark::campaigns {

inline constexpr std::size_t kShingleWords = 4;
inline constexpr std::size_t kMinHashRows = 4;
inline constexpr std::size_t kMinHashBands = 8;
inline constexpr std::size_t kMinHashSize = kMinHashRows * kMinHashBands;

using MinHashSignature = std::array<std::uint32_t, kMinHashSize>;

// The kept shingles of `prompt`, sorted and without repeats, into `out` (cleared first). Fewer than
// kShingleWords words give none. Only the first 16 kB of a prompt are read (bounded work per line).
void prompt_shingles(std::string_view prompt, std::vector<std::uint64_t>& out);

// MinHash signature of a set of shingles (any order; repeats do not matter). An empty set gives
// all values 0xFFFFFFFF.
MinHashSignature minhash_signature(std::span<const std::uint64_t> shingles);
// The fraction of positions where two signatures agree: an estimate of the sets' Jaccard similarity.
double estimated_jaccard(const MinHashSignature& a, const MinHashSignature& b);
// One 64-bit key per band (band index included), for bucketing similar sets.
std::array<std::uint64_t, kMinHashBands> lsh_band_keys(const MinHashSignature& signature);

}  // namespace tracemark::campaigns
