// The leaf of one label in a keyring's Merkle tree, shared by the ring (which builds the tree) and
// the proof (which checks a path). Private to embed/.
#pragma once

#include <optional>
#include <string_view>

#include "tracemark/sha256.hpp"

namespace tracemark {

// merkle::leaf_hash of: "tracemark/v1/keyring-leaf" 0x00, the label's length (u32, big-endian), the
// label's bytes, the 32 bytes of the subkey's commitment. nullopt when `commitment` is not
// "sha256:" followed by 64 hex digits.
std::optional<Sha256Digest> keyring_leaf_hash(std::string_view label, std::string_view commitment);

}  // namespace tracemark
