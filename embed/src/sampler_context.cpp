#include "tracemark/embed/sampler_context.hpp"

#include <array>

#include "crypto.hpp"

namespace tracemark {

std::uint64_t csprng_seed() {
  std::array<std::uint8_t, 8> bytes{};
  crypto::random_bytes(bytes);
  std::uint64_t seed = 0;
  for (std::uint8_t byte : bytes) seed = seed << 8 | byte;
  return seed;
}

}  // namespace tracemark
