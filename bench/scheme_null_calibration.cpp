// Fresh-key calibration of a scheme's detector on one fixed text (issue 18): for K keys generated
// in-process, the pooled test over every document of a token file, and the summary a validity claim
// needs: fractions of p under 0.05 and 0.01, the mean and standard deviation of the standardised
// excess z (0 and 1 under the null), and the standard error of the mean. In-process keys make
// thousands of keys cheap (the `scan` route needs a key file each).
//
// Usage: scheme_null_calibration TOKENS.jsonl green-v2|green-v3|gumbel|gumbel-v2 KEYS [VOCAB=100277] [WIDTH=2]
//   TOKENS.jsonl: one {"tokens": [ids]} per line (for example `tracemark tokenize` output).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tracemark/embed/green_list_scheme.hpp"
#include "tracemark/embed/gumbel_max_scheme.hpp"
#include "tracemark/verify/green_list_detector.hpp"
#include "tracemark/verify/gumbel_max_detector.hpp"

namespace {

struct Outcome {
  double z = 0;
  double p = 1;
};

tracemark::SchemeParams params_for(const std::string& scheme, std::uint32_t vocab, std::uint32_t width) {
  tracemark::SchemeParams params;
  params.vocab_size = vocab;
  params.context_width = width;
  if (scheme == "gumbel" || scheme == "gumbel-v2") {
    params.scheme = std::string(tracemark::kGumbelMaxSchemeName);
    params.scheme_version = scheme == "gumbel-v2" ? 2 : 1;
    params.gamma = params.delta = 0.0;
  } else {
    params.scheme_version = scheme == "green-v3" ? 3 : 2;
    params.gamma = 0.25;
    params.delta = 2.0;
  }
  return params;
}

Outcome one_key(const tracemark::SchemeParams& params,
                const std::vector<std::vector<std::uint32_t>>& documents) {
  const tracemark::WatermarkKey key = tracemark::WatermarkKey::generate(params);
  if (params.scheme == tracemark::kGumbelMaxSchemeName) {
    tracemark::GumbelMaxDetector detector(std::make_shared<const tracemark::GumbelMaxScheme>(key));
    for (const auto& document : documents) detector.add_document(document);
    const auto& counts = detector.pooled();
    const double n = static_cast<double>(counts.scored);
    return {(counts.score - n) / std::sqrt(n), tracemark::GumbelMaxDetector::test(counts).p_value};
  }
  tracemark::GreenListDetector detector(std::make_shared<const tracemark::GreenListScheme>(key));
  for (const auto& document : documents) detector.add_document(document);
  const auto& counts = detector.pooled();
  const double n = static_cast<double>(counts.scored), gamma = params.gamma;
  return {(static_cast<double>(counts.green) - gamma * n) / std::sqrt(gamma * (1 - gamma) * n), detector.test(counts).p_value};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s TOKENS.jsonl green-v2|green-v3|gumbel|gumbel-v2 KEYS [VOCAB] [WIDTH]\n", argv[0]);
    return 2;
  }
  const std::string scheme = argv[2];
  if (scheme != "green-v2" && scheme != "green-v3" && scheme != "gumbel" && scheme != "gumbel-v2") {
    std::fprintf(stderr, "unknown scheme %s; use green-v2, green-v3, gumbel or gumbel-v2\n", scheme.c_str());
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", argv[1]);
    return 2;
  }
  std::vector<std::vector<std::uint32_t>> documents;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) documents.push_back(nlohmann::json::parse(line).at("tokens").get<std::vector<std::uint32_t>>());
  }
  const int keys = std::stoi(argv[3]);
  const auto vocab = static_cast<std::uint32_t>(argc > 4 ? std::stoul(argv[4]) : 100277);
  const auto width = static_cast<std::uint32_t>(argc > 5 ? std::stoul(argv[5]) : 2);
  const tracemark::SchemeParams params = params_for(scheme, vocab, width);
  double sum = 0, squares = 0;
  int under_05 = 0, under_01 = 0;
  for (int k = 0; k < keys; ++k) {
    const Outcome outcome = one_key(params, documents);
    sum += outcome.z;
    squares += outcome.z * outcome.z;
    under_05 += outcome.p < 0.05;
    under_01 += outcome.p < 0.01;
  }
  const double mean = sum / keys, sd = std::sqrt(squares / keys - mean * mean);
  std::printf("| %s | %d | %.4f | %.4f | %.4f (se %.4f) | %.4f |\n", scheme.c_str(), keys, static_cast<double>(under_05) / keys,
              static_cast<double>(under_01) / keys, mean, sd / std::sqrt(keys), sd);
}
