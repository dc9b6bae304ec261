#include "merkle_tree.hpp"

#include <bit>

#include "tracemark/error.hpp"

namespace tracemark::merkle {
namespace {

// The largest power of two strictly below n (n >= 2).
std::size_t split_point(std::size_t n) { return std::bit_floor(n - 1); }

}  // namespace

Sha256Digest leaf_hash(std::span<const std::uint8_t> leaf) {
  std::vector<std::uint8_t> message;
  message.reserve(leaf.size() + 1);
  message.push_back(0x00);
  message.insert(message.end(), leaf.begin(), leaf.end());
  return sha256(message);
}

Sha256Digest node_hash(const Sha256Digest& left, const Sha256Digest& right) {
  std::vector<std::uint8_t> message;
  message.reserve(65);
  message.push_back(0x01);
  message.insert(message.end(), left.begin(), left.end());
  message.insert(message.end(), right.begin(), right.end());
  return sha256(message);
}

Sha256Digest root(std::span<const Sha256Digest> leaves) {
  if (leaves.empty()) throw Error(ErrorCode::internal, "a Merkle tree needs at least one leaf");
  if (leaves.size() == 1) return leaves[0];
  const std::size_t k = split_point(leaves.size());
  return node_hash(root(leaves.first(k)), root(leaves.subspan(k)));
}

std::vector<Sha256Digest> inclusion_path(std::span<const Sha256Digest> leaves, std::size_t index) {
  if (index >= leaves.size()) throw Error(ErrorCode::internal, "Merkle leaf index out of range");
  if (leaves.size() == 1) return {};
  const std::size_t k = split_point(leaves.size());
  std::vector<Sha256Digest> path;
  if (index < k) {
    path = inclusion_path(leaves.first(k), index);
    path.push_back(root(leaves.subspan(k)));
  } else {
    path = inclusion_path(leaves.subspan(k), index - k);
    path.push_back(root(leaves.first(k)));
  }
  return path;
}

std::optional<Sha256Digest> root_from_path(const Sha256Digest& leaf, std::size_t index, std::size_t count,
                                           std::span<const Sha256Digest> path) {
  // RFC 9162 section 2.1.3.2, step by step.
  if (count == 0 || index >= count) return std::nullopt;
  std::size_t fn = index;
  std::size_t sn = count - 1;
  Sha256Digest r = leaf;
  for (const Sha256Digest& p : path) {
    if (sn == 0) return std::nullopt;
    if ((fn & 1u) == 1u || fn == sn) {
      r = node_hash(p, r);
      if ((fn & 1u) == 0u) {
        while ((fn & 1u) == 0u && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return std::nullopt;
  return r;
}

}  // namespace tracemark::merkle
