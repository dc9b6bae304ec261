// The cost of PRF context seeds and of Gumbel-max sampling, against peers measured in the same run:
//   1. one context seed: keyed XXH3 (green list v2) vs the AES-128 PRF (green list v3, gumbel-max);
//   2. the scan's batched colouring (GreenListScheme::green_flags) with v2 vs v3 keys, tuples/s;
//   3. a serving step on the full vocabulary: memset floor, green list v2 and v3 (bias + accept), and
//      gumbel-max (choose + accept); and on top-40 / top-1024 candidate arrays;
//   4. the same steps with the synthid-tournament sampler (m = 30 and m = 8 layers);
//   5. gumbel-max version 2 (the 32-bit value and the screen) beside version 1 and the green list,
//      on rows of three shapes: a model-like row (Zipf), the normal(0, 2) row above, a near-flat row.
// Times are the thread's CPU time (median of repetitions). Usage: prf_schemes_overhead [--quick | --gumbel-v2]
// (--gumbel-v2 [SHAPE]: section 5 only).
#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tracemark/embed/gumbel_max_sampler.hpp"
#include "tracemark/embed/tournament_sampler.hpp"
#include "tracemark/embed/watermark_processor.hpp"

namespace {

// The thread's CPU time, not wall time: the build machine is shared, and CPU time is what the
// work costs whatever else runs (cache contention still counts).
double cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

template <typename F>
double median_seconds(F&& work, int repetitions) {
  std::vector<double> samples;
  for (int r = 0; r < repetitions; ++r) {
    const double start = cpu_seconds();
    work();
    samples.push_back(cpu_seconds() - start);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

tracemark::SchemeParams green(std::uint32_t version, std::uint32_t vocab) {
  tracemark::SchemeParams params;
  params.scheme_version = version;
  params.vocab_size = vocab;
  return params;
}

tracemark::SchemeParams gumbel(std::uint32_t vocab) {
  tracemark::SchemeParams params;
  params.scheme = std::string(tracemark::kGumbelMaxSchemeName);
  params.scheme_version = 1;
  params.gamma = params.delta = 0.0;
  params.vocab_size = vocab;
  return params;
}

tracemark::SchemeParams gumbel_v2(std::uint32_t vocab) {
  tracemark::SchemeParams params = gumbel(vocab);
  params.scheme_version = 2;
  return params;
}

tracemark::SchemeParams tournament(std::uint32_t vocab, std::uint32_t layers) {
  tracemark::SchemeParams params = gumbel(vocab);
  params.scheme = std::string(tracemark::kTournamentSchemeName);
  params.tournament_layers = layers;
  return params;
}

// A token stream that (almost) never repeats a context, so every step is keyed.
std::uint32_t token_at(std::uint64_t step, std::uint32_t vocab) {
  std::uint64_t z = (step + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<std::uint32_t>((z ^ (z >> 31)) % vocab);
}

// Steps a timing repetition runs for a row of v ids: about 8M (1M with --quick) ids touched.
int steps_for(std::uint32_t v, bool quick) {
  return static_cast<int>(std::max<std::uint32_t>(50, (quick ? 1'000'000u : 8'000'000u) / v));
}

// Microseconds per call of `one`: median over repetitions of `steps` calls.
template <typename Step>
double per_step_us(int steps, int repetitions, Step&& one) {
  return median_seconds([&] { for (int i = 0; i < steps; ++i) one(); }, repetitions) / steps * 1e6;
}

// The floor every serving step is compared with: a memset of the row.
double memset_floor_us(std::vector<float>& logits, int steps, int repetitions) {
  return per_step_us(steps, repetitions, [&] {
    std::memset(logits.data(), 0, logits.size() * sizeof(float));
    asm volatile("" : : "r"(logits.data()) : "memory");
  });
}

// 5: one row of the version-2 table. The row's shape decides how many ids pass the screen (about
// 1 / p_max): a model's row is peaked, a near-flat row is the worst case.
std::string gumbel_v2_row(std::uint32_t v, const char* shape, int repetitions, bool quick, std::uint64_t& sink) {
  using tracemark::WatermarkKey;
  std::vector<float> logits(v);
  std::mt19937 random(2);  // fixed seed: 2
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::uint32_t> order(v);
  for (std::uint32_t t = 0; t < v; ++t) order[t] = t;
  std::shuffle(order.begin(), order.end(), random);
  for (std::uint32_t t = 0; t < v; ++t) {
    if (std::string(shape) == "zipf") logits[order[t]] = -1.1f * std::log(static_cast<float>(t + 1));  // rank t + 1
    else if (std::string(shape) == "normal(0, 2)") logits[t] = 2.0f * normal(random);
    else logits[t] = 0.1f * normal(random);  // near-flat
  }
  const std::vector<float> pristine = logits;
  tracemark::WatermarkProcessor green_list(std::make_shared<const tracemark::GreenListScheme>(WatermarkKey::generate(green(2, v))));
  tracemark::GumbelMaxSampler first(std::make_shared<const tracemark::GumbelMaxScheme>(WatermarkKey::generate(gumbel(v))));
  tracemark::GumbelMaxSampler second(std::make_shared<const tracemark::GumbelMaxScheme>(WatermarkKey::generate(gumbel_v2(v))));
  const std::uint32_t prompt[] = {1, 2};
  green_list.reset(prompt);
  first.reset(prompt, 5);
  second.reset(prompt, 5);
  const int steps = steps_for(v, quick);
  std::uint64_t step = 1000;
  auto per_step = [&](auto&& one) { return per_step_us(steps, repetitions, one); };
  const double floor = memset_floor_us(logits, steps, repetitions);
  logits = pristine;
  const double g2 = per_step([&] {
    green_list.apply(std::span<float>(logits));
    green_list.accept(token_at(step++, v));
    asm volatile("" : : "r"(logits.data()) : "memory");
  });
  logits = pristine;
  auto choose_with = [&](tracemark::GumbelMaxSampler& sampler) {
    return per_step([&] {
      sink += sampler.choose(std::span<const float>(logits));
      sampler.accept(token_at(step++, v));
    });
  };
  const double v1 = choose_with(first), v2 = choose_with(second);
  char row[256];
  std::snprintf(row, sizeof row, "| %u | %s | %.2f | %.2f | %.1f | %.2f | %.1fx | %.1fx | %.1fx |\n", v, shape, floor, g2, v1, v2,
                v2 / floor, v2 / g2, v1 / v2);
  return row;
}

}  // namespace

void print_gumbel_v2_table(int repetitions, bool quick, std::uint64_t& sink, const std::string& only = "") {
  std::printf("\n| vocab | row | memset floor (us/step) | green v2 (us/step) | gumbel v1 two-pass (us/step) "
              "| gumbel v2 screen (us/step) | v2 / floor | v2 / green v2 | v1 / v2 |\n|---|---|---|---|---|---|---|---|---|\n");
  for (std::uint32_t v : {32768u, 131072u}) {
    for (const char* shape : {"zipf", "normal(0, 2)", "near-flat"}) {
      if (!only.empty() && only != shape) continue;
      std::printf("%s", gumbel_v2_row(v, shape, repetitions, quick, sink).c_str());
      std::fflush(stdout);
    }
  }
}

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  const bool quick = mode == "--quick";
  const int repetitions = quick ? 3 : 7;
  if (mode == "--gumbel-v2") {  // section 5 alone (optionally one row shape: zipf, normal(0, 2), near-flat)
    std::uint64_t sink = 0;
    print_gumbel_v2_table(repetitions, false, sink, argc > 2 ? argv[2] : "");
    if (sink == 42) std::printf("\n");
    return 0;
  }
  using tracemark::GreenListScheme;
  using tracemark::WatermarkKey;

  // 1 and 2: seeds and the scan's colouring.
  const std::uint32_t vocab = 50257;
  const auto v2 = std::make_shared<const GreenListScheme>(WatermarkKey::generate(green(2, vocab)));
  const auto v3 = std::make_shared<const GreenListScheme>(WatermarkKey::generate(green(3, vocab)));
  const std::size_t tuples = quick ? 200'000 : 2'000'000;
  std::vector<std::uint32_t> contexts(2 * tuples), tokens(tuples);
  for (std::size_t i = 0; i < tuples; ++i) {
    contexts[2 * i] = token_at(3 * i, vocab);
    contexts[2 * i + 1] = token_at(3 * i + 1, vocab);
    tokens[i] = token_at(3 * i + 2, vocab);
  }
  std::vector<std::uint8_t> flags(tuples);
  std::uint64_t sink = 0;
  auto single = [&](const GreenListScheme& scheme) {
    return median_seconds([&] {
      for (std::size_t i = 0; i < tuples; ++i) sink += scheme.context_seed(std::span<const std::uint32_t>(contexts).subspan(2 * i, 2));
    }, repetitions) / static_cast<double>(tuples) * 1e9;
  };
  auto batched = [&](const GreenListScheme& scheme) {
    return static_cast<double>(tuples) / median_seconds([&] { sink += scheme.green_flags(contexts, tokens, flags); }, repetitions);
  };
  const double seed_v2 = single(*v2), seed_v3 = single(*v3);
  const double colour_v2 = batched(*v2), colour_v3 = batched(*v3);
  std::printf("| one context seed, XXH3 (v2) ns | one context seed, AES PRF (v3) ns | v3 / v2 | batched colouring v2 (M tuples/s) "
              "| batched colouring v3 (M tuples/s) | v3 / v2 |\n|---|---|---|---|---|---|\n");
  std::printf("| %.1f | %.1f | %.2fx | %.1f | %.1f | %.2fx |\n\n", seed_v2, seed_v3, seed_v3 / seed_v2, colour_v2 / 1e6,
              colour_v3 / 1e6, colour_v3 / colour_v2);

  // 3: serving steps.
  std::printf("| vocab | memset floor (us/step) | green v2 (us/step) | green v3 (us/step) | v3 / v2 | gumbel full (us/step) "
              "| gumbel / floor | gumbel / green v2 | gumbel, definition's scalar loop (us/step) | scalar / two-pass "
              "| gumbel top-40 (us/step) | gumbel top-1024 (us/step) | green v2 top-40 (us/step) |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::string tournament_rows;
  for (std::uint32_t v : {32768u, 131072u}) {
    std::vector<float> logits(v);
    std::mt19937 random(1);  // fixed seed: 1
    std::normal_distribution<float> normal(0.0f, 2.0f);
    for (float& logit : logits) logit = normal(random);
    const std::vector<float> pristine = logits;
    tracemark::WatermarkProcessor p2(std::make_shared<const GreenListScheme>(WatermarkKey::generate(green(2, v))));
    tracemark::WatermarkProcessor p3(std::make_shared<const GreenListScheme>(WatermarkKey::generate(green(3, v))));
    tracemark::GumbelMaxSampler sampler(std::make_shared<const tracemark::GumbelMaxScheme>(WatermarkKey::generate(gumbel(v))));
    const std::uint32_t prompt[] = {1, 2};
    p2.reset(prompt);
    p3.reset(prompt);
    sampler.reset(prompt, 5);
    const int steps = steps_for(v, quick);
    std::uint64_t step = 1000;
    auto per_step = [&](auto&& one) { return per_step_us(steps, repetitions, one); };
    const double floor = memset_floor_us(logits, steps, repetitions);
    auto green_step = [&](tracemark::WatermarkProcessor& processor) {
      return per_step([&] {
        processor.apply(std::span<float>(logits));
        processor.accept(token_at(step++, v));
        asm volatile("" : : "r"(logits.data()) : "memory");
      });
    };
    const double g2 = green_step(p2), g3 = green_step(p3);
    logits = pristine;
    const double gumbel_full = per_step([&] {
      sink += sampler.choose(std::span<const float>(logits));
      sampler.accept(token_at(step++, v));
    });
    // The definition's scalar loop (two double logarithms per id), what the two-pass choice replaced.
    const double gumbel_scalar = per_step([&] {
      const std::uint64_t seed = tracemark::GumbelMaxScheme::mix64(step++);
      double best = -1e300;
      std::uint32_t chosen = 0;
      for (std::uint32_t t = 0; t < v; ++t) {
        const double key = static_cast<double>(logits[t]) - std::log(-std::log(sampler.scheme().uniform(seed, t)));
        if (key > best) {
          best = key;
          chosen = t;
        }
      }
      sink += chosen;
    });
    auto candidates_of = [&](std::size_t k) {
      std::vector<tracemark::Candidate> candidates(k);
      for (std::size_t i = 0; i < k; ++i) candidates[i] = {static_cast<std::uint32_t>((i * 2654435761u) % v), pristine[i]};
      return candidates;
    };
    const auto top40 = candidates_of(40), top1024 = candidates_of(1024);
    const double gumbel40 = per_step([&] {
      sink += sampler.choose(std::span<const tracemark::Candidate>(top40));
      sampler.accept(token_at(step++, v));
    });
    const double gumbel1024 = per_step([&] {
      sink += sampler.choose(std::span<const tracemark::Candidate>(top1024));
      sampler.accept(token_at(step++, v));
    });
    std::vector<tracemark::Candidate> scratch = top40;
    const double green40 = per_step([&] {
      p2.apply(std::span<tracemark::Candidate>(scratch));
      p2.accept(token_at(step++, v));
    });
    std::printf("| %u | %.2f | %.2f | %.2f | %.2fx | %.1f | %.1fx | %.1fx | %.1f | %.1fx | %.3f | %.2f | %.3f |\n", v, floor, g2,
                g3, g3 / g2, gumbel_full, gumbel_full / floor, gumbel_full / g2, gumbel_scalar, gumbel_scalar / gumbel_full,
                gumbel40, gumbel1024, green40);
    std::fflush(stdout);
    // 4: the tournament sampler, same logits and candidate arrays.
    char row[512];
    double full[2] = {0, 0}, top40_time = 0, top1024_time = 0;
    for (int which = 0; which < 2; ++which) {
      tracemark::TournamentSampler tournament_sampler(std::make_shared<const tracemark::TournamentScheme>(
          WatermarkKey::generate(tournament(v, which == 0 ? 30 : 8))));
      tournament_sampler.reset(prompt, 5);
      full[which] = per_step([&] {
        sink += tournament_sampler.choose(std::span<const float>(logits));
        tournament_sampler.accept(token_at(step++, v));
      });
      if (which != 0) continue;
      top40_time = per_step([&] {
        sink += tournament_sampler.choose(std::span<const tracemark::Candidate>(top40));
        tournament_sampler.accept(token_at(step++, v));
      });
      top1024_time = per_step([&] {
        sink += tournament_sampler.choose(std::span<const tracemark::Candidate>(top1024));
        tournament_sampler.accept(token_at(step++, v));
      });
    }
    std::snprintf(row, sizeof row, "| %u | %.2f | %.2f | %.1f | %.1f | %.1fx | %.1fx | %.2fx | %.3f | %.2f |\n", v, floor, g2,
                  gumbel_full, full[0], full[0] / floor, full[0] / g2, full[0] / gumbel_full, top40_time, top1024_time);
    tournament_rows += row;
    std::snprintf(row, sizeof row, "| %u (m 8) | %.2f | %.2f | %.1f | %.1f | %.1fx | %.1fx | %.2fx | | |\n", v, floor, g2,
                  gumbel_full, full[1], full[1] / floor, full[1] / g2, full[1] / gumbel_full);
    tournament_rows += row;
  }
  std::printf("\n| vocab | memset floor (us/step) | green v2 (us/step) | gumbel full (us/step) | tournament m 30 full (us/step) "
              "| tournament / floor | tournament / green v2 | tournament / gumbel | tournament top-40 (us/step) "
              "| tournament top-1024 (us/step) |\n|---|---|---|---|---|---|---|---|---|---|\n%s",
              tournament_rows.c_str());
  print_gumbel_v2_table(repetitions, quick, sink);
  if (sink == 42) std::printf("\n");  // keeps the work observable
}
