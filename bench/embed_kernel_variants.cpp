// Is the scheme-version-2 full-vocabulary kernel (GreenListScheme::bias_logits, the loop of
// embed/src/green_list_scheme.cpp as the compiler vectorises it) limited by its code or by memory?
// Times, in one run, a memset of the row (the floor of bench/embed_overhead), bias_logits of a
// version-2 key, and a hand-written AVX-512 loop (two vectors per iteration, software prefetch 2 KiB
// ahead) over a table of the same size. Batch 1, best of 7 x 2,000 steps. Skips the AVX-512 variant
// on CPUs without it. Figures go to docs/BENCHMARKS.md by hand with the command
// `./build/release/bench/embed_kernel_variants`.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "tracemark/embed/green_list_scheme.hpp"
#include "tracemark/embed/key.hpp"

namespace {

__attribute__((noinline, target("avx512f"))) void avx512_loop(float* logits, const std::uint32_t* values, std::size_t count,
                                                              std::uint64_t seed, std::uint32_t threshold, float delta) {
  const std::uint32_t multiplier = static_cast<std::uint32_t>(seed) | 1u;
  const std::uint32_t high = static_cast<std::uint32_t>(seed >> 32);
  const __m512i m = _mm512_set1_epi32(static_cast<int>(multiplier));
  const __m512i h = _mm512_set1_epi32(static_cast<int>(high));
  const __m512i t = _mm512_set1_epi32(static_cast<int>(threshold));
  const __m512 d = _mm512_set1_ps(delta);
  std::size_t i = 0;
  for (; i + 32 <= count; i += 32) {
    _mm_prefetch(reinterpret_cast<const char*>(values + i + 512), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(logits + i + 512), _MM_HINT_T0);
    const __m512i v0 = _mm512_xor_si512(_mm512_mullo_epi32(_mm512_loadu_si512(values + i), m), h);
    const __m512i v1 = _mm512_xor_si512(_mm512_mullo_epi32(_mm512_loadu_si512(values + i + 16), m), h);
    const __m512 l0 = _mm512_loadu_ps(logits + i);
    const __m512 l1 = _mm512_loadu_ps(logits + i + 16);
    _mm512_storeu_ps(logits + i, _mm512_mask_add_ps(l0, _mm512_cmplt_epu32_mask(v0, t), l0, d));
    _mm512_storeu_ps(logits + i + 16, _mm512_mask_add_ps(l1, _mm512_cmplt_epu32_mask(v1, t), l1, d));
  }
  for (; i < count; ++i) logits[i] += ((values[i] * multiplier) ^ high) < threshold ? delta : 0.0f;
}

template <typename Step>
double best_microseconds_per_step(Step step) {
  double best = 1e30;
  for (int repeat = 0; repeat < 7; ++repeat) {
    const auto start = std::chrono::steady_clock::now();
    for (int k = 0; k < 2000; ++k) step(k);
    const auto end = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::micro>(end - start).count() / 2000);
  }
  return best;
}

}  // namespace

int main() {
  const bool avx512 = __builtin_cpu_supports("avx512f");
  std::printf("| vocab | memset floor (us/step) | bias_logits v2 (us/step) | bias_logits / floor | AVX-512 + prefetch (us/step) | AVX-512 / floor |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (const std::size_t vocab : {65536ul, 131072ul, 262144ul}) {
    std::vector<float> row(vocab, 0.0f);
    std::vector<std::uint32_t> values(vocab);
    std::mt19937 random(1);
    for (std::uint32_t& value : values) value = static_cast<std::uint32_t>(random());
    const auto seed_of = [](int k) { return 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(k + 1); };
    const double floor = best_microseconds_per_step([&](int k) {
      std::memset(row.data(), k & 1, vocab * sizeof(float));
      asm volatile("" ::: "memory");
    });
    tracemark::SchemeParams params;
    params.scheme_version = 2;
    params.vocab_size = static_cast<std::uint32_t>(vocab);
    const tracemark::GreenListScheme scheme(tracemark::WatermarkKey::generate(params));
    const double plain = best_microseconds_per_step([&](int k) { scheme.bias_logits(seed_of(k), row); });
    const double intrinsics = avx512 ? best_microseconds_per_step([&](int k) {
      avx512_loop(row.data(), values.data(), vocab, seed_of(k), 1u << 30, 2.0f);
    }) : 0.0;
    if (!avx512) {
      std::printf("| %zu | %.2f | %.2f | %.2fx | (no AVX-512) | |\n", vocab, floor, plain, plain / floor);
      continue;
    }
    std::printf("| %zu | %.2f | %.2f | %.2fx | %.2f | %.2fx |\n", vocab, floor, plain, plain / floor, intrinsics,
                intrinsics / floor);
  }
}
