#include "tracemark/campaigns/prompt_shingles.hpp"

#include <algorithm>
#include <xxhash.h>

namespace tracemark::campaigns {
namespace {

constexpr std::size_t kMaxPromptBytes = 16 * 1024;

// SplitMix64's finaliser: a bijective 64-bit mix.
constexpr std::uint64_t mix(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr std::uint64_t rotate(std::uint64_t x, unsigned bits) noexcept { return (x << bits) | (x >> (64 - bits)); }

bool word_byte(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

}  // namespace

void prompt_shingles(std::string_view prompt, std::vector<std::uint64_t>& out) {
  out.clear();
  prompt = prompt.substr(0, kMaxPromptBytes);
  std::array<std::uint64_t, kShingleWords> window{};
  std::size_t words = 0;
  char word[64];
  std::size_t at = 0;
  while (at < prompt.size()) {
    while (at < prompt.size() && !word_byte(static_cast<unsigned char>(prompt[at]))) ++at;
    std::size_t length = 0;
    while (at < prompt.size() && word_byte(static_cast<unsigned char>(prompt[at]))) {
      char c = prompt[at++];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c >= '0' && c <= '9') c = '0';
      if (length < sizeof word) word[length++] = c;  // very long words are cut: still one word
    }
    if (length == 0) break;
    window[words % kShingleWords] = XXH3_64bits(word, length);
    ++words;
    if (words < kShingleWords) continue;
    std::uint64_t shingle = 0;
    for (std::size_t i = 0; i < kShingleWords; ++i) {
      shingle ^= rotate(window[(words - kShingleWords + i) % kShingleWords], static_cast<unsigned>(17 * i + 1));
    }
    shingle = mix(shingle);
    if ((shingle >> 62) == 0) out.push_back(shingle);  // the kept quarter
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

MinHashSignature minhash_signature(std::span<const std::uint64_t> shingles) {
  MinHashSignature signature;
  signature.fill(0xFFFFFFFFu);
  for (const std::uint64_t shingle : shingles) {
    for (std::size_t k = 0; k < kMinHashSize; ++k) {
      const auto value = static_cast<std::uint32_t>(mix(shingle ^ (0x9e3779b97f4a7c15ULL * (k + 1))) >> 32);
      signature[k] = std::min(signature[k], value);
    }
  }
  return signature;
}

double estimated_jaccard(const MinHashSignature& a, const MinHashSignature& b) {
  std::size_t same = 0;
  for (std::size_t k = 0; k < kMinHashSize; ++k) same += a[k] == b[k];
  return static_cast<double>(same) / static_cast<double>(kMinHashSize);
}

std::array<std::uint64_t, kMinHashBands> lsh_band_keys(const MinHashSignature& signature) {
  std::array<std::uint64_t, kMinHashBands> keys{};
  for (std::size_t band = 0; band < kMinHashBands; ++band) {
    std::array<std::uint32_t, kMinHashRows + 1> values{};
    values[0] = static_cast<std::uint32_t>(band);
    for (std::size_t row = 0; row < kMinHashRows; ++row) values[row + 1] = signature[band * kMinHashRows + row];
    keys[band] = XXH3_64bits(values.data(), sizeof values);
  }
  return keys;
}

}  // namespace tracemark::campaigns
