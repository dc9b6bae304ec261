// A Merkle tree over a list of leaves, in RFC 6962's shape (section 2.1): leaf hashes
// SHA-256(0x00 || leaf), node hashes SHA-256(0x01 || left || right), the list split at the largest
// power of two below its length. The 0x00/0x01 prefixes keep a leaf from ever being read as a node
// (second-preimage attacks on the tree). Private to embed/ (the keyring's commitment).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "tracemark/sha256.hpp"

namespace tracemark::merkle {

Sha256Digest leaf_hash(std::span<const std::uint8_t> leaf);
Sha256Digest node_hash(const Sha256Digest& left, const Sha256Digest& right);

// The root over leaf hashes (at least one). Throws Error(internal) for an empty list.
Sha256Digest root(std::span<const Sha256Digest> leaves);

// The audit path of leaf `index` (RFC 6962 section 2.1.1): the sibling hashes from the leaf up.
std::vector<Sha256Digest> inclusion_path(std::span<const Sha256Digest> leaves, std::size_t index);

// The root that `leaf` at `index` of a tree of `count` leaves and `path` lead to (RFC 9162 section
// 2.1.3.2), or nothing when the path has the wrong length for that index and count.
std::optional<Sha256Digest> root_from_path(const Sha256Digest& leaf, std::size_t index, std::size_t count,
                                           std::span<const Sha256Digest> path);

}  // namespace tracemark::merkle
