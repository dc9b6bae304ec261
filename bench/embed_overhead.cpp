// Embed overhead per decoding step, against the memory floor measured in the same run: a memset
// of the same logits array. Paths: full-vocabulary logits and top-k candidate arrays (k = 40,
// 1024); batch 1 and 64 (one processor per sequence, rows of one matrix).
// Usage: embed_overhead [--quick]   (prints a Markdown table)
#include <algorithm>
#include <chrono>
#include <cstring>
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
  std::cout << "| vocab | batch | memset floor (us/step) | full vocab (us/step) | ratio | top-40 (us/step) | top-1024 (us/step) |\n"
            << "|---|---|---|---|---|---|---|\n";
  for (std::uint32_t vocab : {32768u, 65536u, 131072u, 262144u}) {
    tracemark::SchemeParams params;
    params.vocab_size = vocab;
    auto scheme = std::make_shared<const tracemark::GreenListScheme>(tracemark::WatermarkKey::generate(params));
    for (std::size_t batch : {1u, 64u}) {
      std::vector<float> logits(vocab * batch, 0.5f);
      std::vector<tracemark::WatermarkProcessor> processors(batch, tracemark::WatermarkProcessor(scheme));
      const std::uint32_t prompt[] = {1, 2};
      for (auto& processor : processors) processor.reset(prompt);
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
      const double full = median_microseconds(
          [&](int) {
            for (std::size_t b = 0; b < batch; ++b) {
              processors[b].apply(std::span<float>(logits.data() + b * vocab, vocab));
              processors[b].accept(next_token(b));
            }
            ++step_counter;
            asm volatile("" : : "r"(logits.data()) : "memory");
          },
          calls, repetitions);
      double top[2];
      const std::size_t ks[2] = {40, 1024};
      for (int which = 0; which < 2; ++which) {
        std::vector<tracemark::Candidate> candidates(ks[which] * batch);
        for (std::size_t i = 0; i < candidates.size(); ++i) {
          candidates[i] = {static_cast<std::uint32_t>((i * 2654435761u) % vocab), 0.0f};
        }
        top[which] = median_microseconds(
            [&](int) {
              for (std::size_t b = 0; b < batch; ++b) {
                processors[b].apply(std::span<tracemark::Candidate>(candidates.data() + b * ks[which], ks[which]));
                processors[b].accept(next_token(b));
              }
              ++step_counter;
              asm volatile("" : : "r"(candidates.data()) : "memory");
            },
            std::max(calls, 2000), repetitions);
      }
      std::printf("| %u | %zu | %.2f | %.2f | %.2fx | %.3f | %.2f |\n", vocab, batch, floor, full, full / floor, top[0], top[1]);
    }
  }
}
