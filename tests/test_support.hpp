// Helpers shared by the unit tests: fixed keys, golden files and temporary folders.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "tracemark/embed/key.hpp"
#include "tracemark/error.hpp"

namespace tracemark::testing {

inline nlohmann::json load_golden(const std::string& name) {
  std::ifstream file(std::filesystem::path(TRACEMARK_TEST_DATA) / name);
  EXPECT_TRUE(file.good()) << "missing golden file " << name;
  return nlohmann::json::parse(file);
}

// The key of the golden vectors: secret bytes 0x00..0x1f.
inline WatermarkKey golden_key(SchemeParams params) {
  SecretBytes secret{};
  for (std::size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<std::uint8_t>(i);
  return WatermarkKey::from_secret(secret, params, "2026-01-01T00:00:00Z");
}

// The tests written for scheme version 1 keep pinning it (new keys default to version 2, which has its
// own tests in green_list_scheme_v2_test.cpp).
inline SchemeParams params_with(double gamma, double delta, std::uint32_t width, std::uint32_t vocab,
                                std::uint32_t scheme_version = 1) {
  SchemeParams params;
  params.scheme_version = scheme_version;
  params.gamma = gamma;
  params.delta = delta;
  params.context_width = width;
  params.vocab_size = vocab;
  return params;
}

// A sampling scheme's parameters (no gamma, delta or entropy threshold): gumbel-max v1, and the
// SynthID tournament v1 with m layers.
inline SchemeParams tournament_params(std::uint32_t width, std::uint32_t vocab, std::uint32_t layers) {
  SchemeParams params;
  params.scheme = std::string(kTournamentSchemeName);
  params.scheme_version = 1;
  params.gamma = 0.0;
  params.delta = 0.0;
  params.context_width = width;
  params.vocab_size = vocab;
  params.tournament_layers = layers;
  return params;
}

inline SchemeParams gumbel_params(std::uint32_t width, std::uint32_t vocab, std::uint32_t version = 1) {
  SchemeParams params = tournament_params(width, vocab, 0);
  params.scheme = std::string(kGumbelMaxSchemeName);
  params.scheme_version = version;
  return params;
}

// Parses an edited key file named edited.json and expects it refused with a message holding both
// `expected` and the file's name.
inline void expect_key_file_refused(const nlohmann::json& edited, const std::string& expected) {
  try {
    WatermarkKey::parse(edited.dump(), "edited.json");
    ADD_FAILURE() << "accepted: " << expected;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("edited.json"), std::string::npos) << e.what();
  }
}

// A fresh folder under the system temp dir, removed at the end of the test.
class TemporaryFolder {
 public:
  TemporaryFolder() {
    std::random_device device;
    path_ = std::filesystem::temp_directory_path() / ("tracemark-test-" + std::to_string(device()) + std::to_string(device()));
    std::filesystem::create_directories(path_);
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Every randomized test prints its seed, so a failure can be replayed.
inline std::uint64_t announce_seed(std::uint64_t seed) {
  std::cout << "[ seed ] " << seed << "\n";
  return seed;
}

}  // namespace tracemark::testing
