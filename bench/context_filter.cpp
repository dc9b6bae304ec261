// The reference-context filter (issue 20): for n distinct random context fingerprints, the xor
// filter's build time, bytes per context, false-positive rate on 10 million fingerprints that were
// not added, and query time; and the exact set it replaces (std::unordered_map<fingerprint, count>,
// what ReferenceContexts holds while building) for memory per context. One thread.
// Usage: context_filter [n ...]   (default: 1000000 10000000 50000000)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <unordered_map>
#include <vector>

#include "tracemark/verify/context_xor_filter.hpp"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::strtoull(argv[i], nullptr, 10));
  if (sizes.empty()) sizes = {1'000'000, 10'000'000, 50'000'000};
  std::printf("| contexts | build (s) | build (M contexts/s) | bytes per context | false-positive rate (10M others) | query (ns) |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (std::size_t n : sizes) {
    std::mt19937_64 rng(n);
    std::vector<std::uint64_t> held(n);
    for (auto& value : held) value = rng();
    std::sort(held.begin(), held.end());
    held.erase(std::unique(held.begin(), held.end()), held.end());
    const auto start = std::chrono::steady_clock::now();
    const tracemark::ContextXorFilter filter = tracemark::ContextXorFilter::build(held);
    const double build = seconds_since(start);
    std::size_t missed = 0;
    for (std::uint64_t value : held) missed += !filter.contains(value);
    if (missed != 0) {
      std::fprintf(stderr, "false negatives: %zu\n", missed);
      return 1;
    }
    constexpr std::size_t kOthers = 10'000'000;
    std::mt19937_64 others(~n);
    std::size_t admitted = 0;
    const auto query_start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < kOthers; ++i) admitted += filter.contains(others());
    const double query = seconds_since(query_start);
    std::printf("| %zu | %.2f | %.1f | %.3f | %.5f (1/256 = 0.00391) | %.1f |\n", held.size(), build,
                static_cast<double>(held.size()) / build / 1e6,
                static_cast<double>(filter.memory_bytes()) / static_cast<double>(held.size()),
                static_cast<double>(admitted) / kOthers, query / kOthers * 1e9);
  }
  // The exact set it replaces, at the smallest size: bytes per context from the allocator's view is
  // not portable; count buckets and nodes instead (libstdc++: a node is a next pointer and the pair,
  // 24 bytes, 32 with malloc's header; plus 8 bytes per bucket).
  std::unordered_map<std::uint64_t, std::uint64_t> exact;
  std::mt19937_64 rng(sizes.front());
  for (std::size_t i = 0; i < sizes.front(); ++i) ++exact[rng()];
  std::printf("\nexact set (std::unordered_map, libstdc++): %zu contexts, %zu buckets: about %.1f bytes per context\n",
              exact.size(), exact.bucket_count(),
              (32.0 * static_cast<double>(exact.size()) + 8.0 * static_cast<double>(exact.bucket_count())) /
                  static_cast<double>(exact.size()));
  return 0;
}
