// Tokenizer throughput: encodes the texts of a JSON-lines file ({"text": ...} per line) with one
// tracemark tokenizer, on one thread and then on N threads (texts split statically), and prints
// MB/s (10^6 bytes of input text per second) and the total number of ids.
// Usage: tokenizer_throughput TOKENIZER TEXTS.jsonl [THREADS] [REPEATS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tracemark/json_input.hpp"
#include "tracemark/verify/parallel_for.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER TEXTS.jsonl [THREADS] [REPEATS]\n", argv[0]);
    return 2;
  }
  const unsigned threads = argc > 3 ? static_cast<unsigned>(std::stoul(argv[3])) : 2;
  const int repeats = argc > 4 ? std::stoi(argv[4]) : 5;
  std::vector<std::string> texts;
  std::ifstream file(argv[2]);
  std::string line;
  std::size_t bytes = 0;
  while (std::getline(file, line)) {
    texts.push_back(tracemark::parse_json(line, argv[2]).at("text").get<std::string>());
    bytes += texts.back().size();
  }
  const auto tokenizer = tracemark::Tokenizer::load(argv[1]);
  std::vector<std::size_t> counts(texts.size());
  for (unsigned t : {1u, threads}) {
    double best = 1e300;
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      tracemark::parallel_for(texts.size(), t, [&](std::size_t i) { counts[i] = tokenizer->encode(texts[i]).size(); });
      best = std::min(best, seconds_since(start));
    }
    std::size_t ids = 0;
    for (std::size_t count : counts) ids += count;
    std::printf("tracemark %s threads=%u: %zu bytes, %zu ids, best of %d: %.3f s, %.2f MB/s\n", argv[1], t, bytes, ids,
                repeats, best, static_cast<double>(bytes) / best / 1e6);
    if (threads == 1) break;
  }
  return 0;
}
