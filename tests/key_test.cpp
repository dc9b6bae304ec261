#include "tracemark/embed/key.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "test_support.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

using testing::golden_key;
using testing::params_with;
using testing::TemporaryFolder;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

void write_text(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

ErrorCode load_error_code(const std::filesystem::path& path, std::string* message = nullptr) {
  try {
    WatermarkKey::load(path);
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  ADD_FAILURE() << "expected load to fail for " << path;
  return ErrorCode::internal;
}

TEST(WatermarkKey, MatchesGoldenKeyIdCommitmentAndSubkey) {
  const nlohmann::json golden = testing::load_golden("kgw_v1_vectors.json");
  const WatermarkKey key = golden_key(params_with(0.25, 2.0, 2, 50257));
  EXPECT_EQ(key.key_id(), golden["key_id"].get<std::string>());
  EXPECT_EQ(key.commitment_hex(), golden["commitment"].get<std::string>());
  std::vector<std::uint8_t> subkey = key.derive_subkey("tracemark/v1/kgw-green-list/context-hash", 192);
  std::string hex;
  for (std::uint8_t b : subkey) {
    char digits[3];
    std::snprintf(digits, sizeof digits, "%02x", b);
    hex += digits;
  }
  EXPECT_EQ(hex, golden["context_hash_subkey_hex"].get<std::string>());
}

TEST(WatermarkKey, SubkeysForDifferentPurposesDiffer) {
  const WatermarkKey key = golden_key(params_with(0.25, 2.0, 2, 50257));
  EXPECT_NE(key.derive_subkey("purpose-a", 32), key.derive_subkey("purpose-b", 32));
  EXPECT_EQ(key.derive_subkey("purpose-a", 32), key.derive_subkey("purpose-a", 32));
}

TEST(WatermarkKey, CommitmentBindsEveryParameter) {
  const std::string base = golden_key(params_with(0.25, 2.0, 2, 50257)).commitment_hex();
  EXPECT_NE(base, golden_key(params_with(0.5, 2.0, 2, 50257)).commitment_hex());
  EXPECT_NE(base, golden_key(params_with(0.25, 3.0, 2, 50257)).commitment_hex());
  EXPECT_NE(base, golden_key(params_with(0.25, 2.0, 1, 50257)).commitment_hex());
  EXPECT_NE(base, golden_key(params_with(0.25, 2.0, 2, 50256)).commitment_hex());
  SchemeParams with_tokenizer = params_with(0.25, 2.0, 2, 50257);
  with_tokenizer.tokenizer = TokenizerBinding{"gpt2", std::string(64, 'a')};
  EXPECT_NE(base, golden_key(with_tokenizer).commitment_hex());
}

TEST(WatermarkKey, GeneratedKeysAreFreshAndSavedWithMode0600) {
  TemporaryFolder folder;
  const WatermarkKey first = WatermarkKey::generate(params_with(0.25, 2.0, 2, 1000));
  const WatermarkKey second = WatermarkKey::generate(params_with(0.25, 2.0, 2, 1000));
  EXPECT_NE(first.key_id(), second.key_id());
  EXPECT_NE(first.commitment_hex(), second.commitment_hex());

  const auto path = folder.path() / "key.json";
  first.save(path, false);
  struct stat info{};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  const WatermarkKey loaded = WatermarkKey::load(path);
  EXPECT_EQ(loaded.key_id(), first.key_id());
  EXPECT_EQ(loaded.commitment_hex(), first.commitment_hex());
  EXPECT_EQ(loaded.params(), first.params());
  EXPECT_EQ(loaded.created_utc(), first.created_utc());
}

TEST(WatermarkKey, RefusesToOverwriteUnlessAsked) {
  TemporaryFolder folder;
  const auto path = folder.path() / "key.json";
  const WatermarkKey first = WatermarkKey::generate(params_with(0.25, 2.0, 2, 1000));
  const WatermarkKey second = WatermarkKey::generate(params_with(0.25, 2.0, 2, 1000));
  first.save(path, false);
  try {
    second.save(path, false);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io);
    EXPECT_NE(std::string(e.what()).find("--force"), std::string::npos) << e.what();
  }
  EXPECT_EQ(WatermarkKey::load(path).key_id(), first.key_id());
  second.save(path, true);
  EXPECT_EQ(WatermarkKey::load(path).key_id(), second.key_id());
  // No temporary files are left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(folder.path()), std::filesystem::directory_iterator()), 1);
}

TEST(WatermarkKey, RefusesGroupOrWorldReadableFiles) {
  TemporaryFolder folder;
  const auto path = folder.path() / "key.json";
  WatermarkKey::generate(params_with(0.25, 2.0, 2, 1000)).save(path, false);
  ::chmod(path.c_str(), 0644);
  std::string message;
  EXPECT_EQ(load_error_code(path, &message), ErrorCode::permission);
  EXPECT_NE(message.find("chmod 600"), std::string::npos) << message;
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
}

TEST(WatermarkKey, ReportsMalformedAndInconsistentFiles) {
  TemporaryFolder folder;
  const auto good_path = folder.path() / "good.json";
  const WatermarkKey key = WatermarkKey::generate(params_with(0.25, 2.0, 2, 1000));
  key.save(good_path, false);
  const std::string good = read_text(good_path);
  const nlohmann::json parsed = nlohmann::json::parse(good);
  const std::string secret = parsed["secret"].get<std::string>();
  const auto bad = folder.path() / "bad.json";
  std::string message;

  write_text(bad, "{\"format\": \"tracemark-key\",", 0600);
  EXPECT_EQ(load_error_code(bad, &message), ErrorCode::invalid_input);
  EXPECT_NE(message.find("byte"), std::string::npos) << message;

  nlohmann::json edited = parsed;
  edited["format_version"] = 99;
  write_text(bad, edited.dump(), 0600);
  EXPECT_EQ(load_error_code(bad, &message), ErrorCode::unsupported);

  edited = parsed;
  edited["scheme"]["gamma"] = 1.5;
  write_text(bad, edited.dump(), 0600);
  EXPECT_EQ(load_error_code(bad, &message), ErrorCode::invalid_argument);
  EXPECT_NE(message.find("gamma"), std::string::npos) << message;

  edited = parsed;
  edited["scheme"]["delta"] = 3.0;  // in range, but not what the commitment was made for
  write_text(bad, edited.dump(), 0600);
  EXPECT_EQ(load_error_code(bad, &message), ErrorCode::invalid_input);
  EXPECT_NE(message.find("commitment"), std::string::npos) << message;

  edited = parsed;
  edited["key_id"] = "tmk_0000000000000000";
  write_text(bad, edited.dump(), 0600);
  EXPECT_EQ(load_error_code(bad, &message), ErrorCode::invalid_input);

  edited = parsed;
  edited.erase("secret");
  write_text(bad, edited.dump(), 0600);
  EXPECT_EQ(load_error_code(bad, &message), ErrorCode::invalid_input);
  EXPECT_NE(message.find("'secret'"), std::string::npos) << message;

  edited = parsed;
  edited["secret"] = secret.substr(0, 63) + "z";
  write_text(bad, edited.dump(), 0600);
  EXPECT_EQ(load_error_code(bad, &message), ErrorCode::invalid_input);
  EXPECT_EQ(message.find(secret.substr(0, 16)), std::string::npos) << "error message leaks the secret";

  EXPECT_EQ(load_error_code(folder.path() / "missing.json", &message), ErrorCode::io);
  EXPECT_NE(message.find("tracemark keygen"), std::string::npos) << message;
}

TEST(WatermarkKey, PublicJsonNeverContainsTheSecret) {
  TemporaryFolder folder;
  const auto path = folder.path() / "key.json";
  const WatermarkKey key = WatermarkKey::generate(params_with(0.25, 2.0, 2, 1000));
  key.save(path, false);
  const std::string secret = nlohmann::json::parse(read_text(path))["secret"].get<std::string>();
  ASSERT_EQ(secret.size(), 64u);
  const std::string description = key.public_json();
  EXPECT_EQ(description.find(secret), std::string::npos);
  EXPECT_EQ(description.find("secret"), std::string::npos);
  EXPECT_NE(description.find(key.commitment_hex()), std::string::npos);
}

TEST(SchemeParams, ValidatesRanges) {
  auto code_of = [](SchemeParams params) {
    try {
      params.validate();
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::internal;  // stands for "accepted"
  };
  EXPECT_EQ(code_of(params_with(0.25, 2.0, 2, 1000)), ErrorCode::internal);
  EXPECT_EQ(code_of(params_with(0.0, 2.0, 2, 1000)), ErrorCode::invalid_argument);
  EXPECT_EQ(code_of(params_with(1.0, 2.0, 2, 1000)), ErrorCode::invalid_argument);
  EXPECT_EQ(code_of(params_with(std::nan(""), 2.0, 2, 1000)), ErrorCode::invalid_argument);
  EXPECT_EQ(code_of(params_with(0.25, -0.1, 2, 1000)), ErrorCode::invalid_argument);
  EXPECT_EQ(code_of(params_with(0.25, 64.5, 2, 1000)), ErrorCode::invalid_argument);
  EXPECT_EQ(code_of(params_with(0.25, 2.0, 17, 1000)), ErrorCode::invalid_argument);
  EXPECT_EQ(code_of(params_with(0.25, 2.0, 2, 0)), ErrorCode::invalid_argument);
  SchemeParams other_scheme = params_with(0.25, 2.0, 2, 1000);
  other_scheme.scheme = "gumbel";
  EXPECT_EQ(code_of(other_scheme), ErrorCode::unsupported);
  SchemeParams bad_tokenizer = params_with(0.25, 2.0, 2, 1000);
  bad_tokenizer.tokenizer = TokenizerBinding{"gpt2", "xyz"};
  EXPECT_EQ(code_of(bad_tokenizer), ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace tracemark
