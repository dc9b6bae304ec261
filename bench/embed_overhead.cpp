// Embed overhead per decoding step, against the memory floor measured in the same run: a memset
// of the same logits array. Paths: full-vocabulary logits (scheme versions 1 and 2) and top-k
// candidate arrays (k = 40, 1024); batch 1 and 64 (one processor per sequence, rows of one matrix).
// Usage: embed_overhead [--quick]   (prints a Markdown table)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <iostream>
#include <string>
#include <vector>

#include "tracemark/embed/watermark_processor.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// Median over repetitions of the mean time per call, in microseconds.
template <typename F>
double median_microseconds(F&& step, int calls, int repetitions) {
  std::vector<double> samples;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = Clock::now();
    for (int i = 0; i < calls; ++i) step(i);
    const std::chrono::duration<double, std::micro> elapsed = Clock::now() - start;
    samples.push_back(elapsed.count() / calls);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  const int repetitions = quick ? 3 : 9;
  std::cout << "| vocab | batch | memset floor (us/step) | full v1 (us/step) | v1 / floor | full v2 (us/step) | v2 / floor "
               "| top-40 v2 (us/step) | top-1024 v2 (us/step) | top-40 v1 (us/step) | top-1024 v1 (us/step) |\n"
            << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (std::uint32_t vocab : {32768u, 65536u, 131072u, 262144u}) {
    std::shared_ptr<const tracemark::GreenListScheme> schemes[3];
    for (std::uint32_t version : {1u, 2u}) {
      tracemark::SchemeParams params;
      params.vocab_size = vocab;
      params.scheme_version = version;
      schemes[version] = std::make_shared<const tracemark::GreenListScheme>(tracemark::WatermarkKey::generate(params));
    }
    for (std::size_t batch : {1u, 64u}) {
      std::vector<float> logits(vocab * batch, 0.5f);
      std::vector<tracemark::WatermarkProcessor> processors[3];
      for (std::uint32_t version : {1u, 2u}) {
        processors[version].assign(batch, tracemark::WatermarkProcessor(schemes[version]));
        const std::uint32_t prompt[] = {1, 2};
        for (auto& processor : processors[version]) processor.reset(prompt);
      }
      const int calls = static_cast<int>(std::max<std::size_t>(20, 4'000'000 / (vocab * batch)));
      // Accepted tokens must (almost) never repeat a context: a repeated context skips the bias and
      // would flatter the figures. Pseudo-random tokens from a running counter: for 10^5 steps a
      // repeated pair of ids has probability about 10^10 / vocab^2 per step pair, negligible.
      std::uint64_t step_counter = 0;
      auto next_token = [&](std::size_t b) {
        std::uint64_t z = (step_counter * 64 + b + 1) * 0x9e3779b97f4a7c15ULL;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return static_cast<std::uint32_t>((z ^ (z >> 31)) % vocab);
      };

      const double floor = median_microseconds(
          [&](int) {
            std::memset(logits.data(), 0, logits.size() * sizeof(float));
            asm volatile("" : : "r"(logits.data()) : "memory");
          },
          calls, repetitions);
      // A step: bias every row, then accept a token (which computes the next context's seed).
      double full[3] = {0, 0, 0};
      for (std::uint32_t version : {1u, 2u}) {
        full[version] = median_microseconds(
            [&](int) {
              for (std::size_t b = 0; b < batch; ++b) {
                processors[version][b].apply(std::span<float>(logits.data() + b * vocab, vocab));
                processors[version][b].accept(next_token(b));
              }
              ++step_counter;
              asm volatile("" : : "r"(logits.data()) : "memory");
            },
            calls, repetitions);
      }
      // Top-k: apply on a candidate array of k ids per row, then accept.
      auto top_k = [&](std::uint32_t version, std::size_t k) {
        std::vector<tracemark::Candidate> candidates(k * batch);
        for (std::size_t i = 0; i < candidates.size(); ++i) {
          candidates[i] = {static_cast<std::uint32_t>((i * 2654435761u) % vocab), 0.0f};
        }
        return median_microseconds(
            [&](int) {
              for (std::size_t b = 0; b < batch; ++b) {
                processors[version][b].apply(std::span<tracemark::Candidate>(candidates.data() + b * k, k));
                processors[version][b].accept(next_token(b));
              }
              ++step_counter;
              asm volatile("" : : "r"(candidates.data()) : "memory");
            },
            std::max(calls, 2000), repetitions);
      };
      const double top40 = top_k(2, 40), top1024 = top_k(2, 1024), top40_v1 = top_k(1, 40), top1024_v1 = top_k(1, 1024);
      std::printf("| %u | %zu | %.2f | %.2f | %.2fx | %.2f | %.2fx | %.3f | %.2f | %.3f | %.2f |\n", vocab, batch, floor,
                  full[1], full[1] / floor, full[2], full[2] / floor, top40, top1024, top40_v1, top1024_v1);
      std::fflush(stdout);
    }
  }
}
