// The scheme parameters a new key takes (keygen, keyring new): one set of options and one rule for
// taking the vocabulary from a tokenizer, so a single key and a ring's subkeys are made alike.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "tracemark/embed/key.hpp"

namespace tracemark::cli {

struct KeyParameterOptions {
  SchemeParams params;
  std::string tokenizer;  // empty: the key names no tokenizer and --vocab-size is required
  CLI::Option* vocab_size = nullptr;
  // Set when given on the command line (a Gumbel-max key refuses gamma, delta and the entropy threshold).
  CLI::Option* gamma = nullptr;
  CLI::Option* delta = nullptr;
  CLI::Option* entropy_threshold = nullptr;
  CLI::Option* scheme_version = nullptr;
  CLI::Option* layers = nullptr;  // --layers: synthid-tournament only (others refuse it)
};

// --scheme, --gamma, --delta, --context-width, --entropy-threshold, --scheme-version, --layers, --vocab-size,
// --tokenizer.
void add_key_parameter_options(CLI::App& command, KeyParameterOptions& options);

// The parameters with the tokenizer's name, digest and vocabulary size filled in. Throws
// Error(invalid_argument) when --vocab-size disagrees with the tokenizer or neither is given.
SchemeParams resolve_key_parameters(const KeyParameterOptions& options);

}  // namespace tracemark::cli
