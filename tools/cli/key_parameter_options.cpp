#include "key_parameter_options.hpp"

#include "shared_options.hpp"
#include "tracemark/embed/scheme_catalog.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace tracemark::cli {

void add_key_parameter_options(CLI::App& command, KeyParameterOptions& options) {
  command.add_option("--scheme", options.params.scheme,
                     "the watermark scheme: kgw-green-list (biases logits; tunable strength), gumbel-max "
                     "(distortion-free sampling) or synthid-tournament (tournament sampling, distortion-free in "
                     "expectation over keys); docs/METHOD.md says which to use when")
      ->capture_default_str();
  options.gamma = command.add_option("--gamma", options.params.gamma, "green fraction of the vocabulary, in (0, 1) (green list only)")
                      ->capture_default_str();
  options.delta = command.add_option("--delta", options.params.delta, "logit bias added to green tokens, in [0, 64] (green list only)")
                      ->capture_default_str();
  command.add_option("--context-width", options.params.context_width,
                     "previous tokens that seed the green list (0 = one fixed list), 0..16")
      ->capture_default_str();
  options.entropy_threshold = command.add_option("--entropy-threshold", options.params.entropy_threshold,
                     "entropy-aware embedding: bias (and score) only steps whose distribution has at least this entropy, "
                     "in nats, 0..64; 0 biases every step. Detection then needs the entropy: a reference model of the "
                     "protected model, or logs that recorded it")
      ->capture_default_str();
  options.scheme_version = command.add_option("--scheme-version", options.params.scheme_version,
                     "scheme version. Green list: 2 (fast full-vocabulary path, at most 2^24 ids), 3 (version 2 with "
                     "context seeds from a keyed PRF) or 1. Gumbel-max and synthid-tournament: 1 (the default for those schemes)")
      ->capture_default_str();
  options.layers = command.add_option("--layers", options.params.tournament_layers,
                                      "synthid-tournament only: tournament layers m (g-values per step), 1..64; "
                                      "default " + std::to_string(kTournamentDefaultLayers) + " as in SynthID-Text");
  options.vocab_size = add_vocab_size_option(command, options.params.vocab_size,
                                             "number of token ids of the protected model (required without --tokenizer)");
  add_tokenizer_option(command, options.tokenizer,
                       "the protected model's tokenizer (the key records its name and vocabulary SHA-256 and takes its "
                       "vocabulary size)");
}

SchemeParams resolve_key_parameters(const KeyParameterOptions& options) {
  SchemeParams params = options.params;
  const SchemeKind kind = scheme_kind(params.scheme);
  const bool layers_given = options.layers != nullptr && options.layers->count() > 0;
  if (kind != SchemeKind::tournament && layers_given) {
    throw Error(ErrorCode::invalid_argument, "--layers belongs to the synthid-tournament scheme; a '" + params.scheme +
                                                 "' key has no such parameter (leave it out)");
  }
  if (kind != SchemeKind::green_list) {
    for (const CLI::Option* option : {options.gamma, options.delta, options.entropy_threshold}) {
      if (option != nullptr && option->count() > 0) {
        throw Error(ErrorCode::invalid_argument, option->get_name() + " belongs to the green list; a " + params.scheme +
                                                     " key has no such parameter (leave it out)");
      }
    }
    params.gamma = 0.0;
    params.delta = 0.0;
    params.entropy_threshold = 0.0;
    if (options.scheme_version == nullptr || options.scheme_version->count() == 0) {
      params.scheme_version = latest_scheme_version(params.scheme);
    }
  }
  if (kind == SchemeKind::tournament && !layers_given) params.tournament_layers = kTournamentDefaultLayers;
  const bool vocab_size_given = options.vocab_size != nullptr && options.vocab_size->count() > 0;
  if (!options.tokenizer.empty()) {
    const auto tokenizer = Tokenizer::load(options.tokenizer);
    if (vocab_size_given && params.vocab_size != tokenizer->vocab_size()) {
      throw Error(ErrorCode::invalid_argument, "--vocab-size " + std::to_string(params.vocab_size) + " differs from tokenizer " +
                                                   tokenizer->name() + "'s " + std::to_string(tokenizer->vocab_size()) +
                                                   " ids; leave --vocab-size out to take the tokenizer's");
    }
    params.vocab_size = tokenizer->vocab_size();
    params.tokenizer = TokenizerBinding{tokenizer->name(), tokenizer->vocab_sha256()};
  } else if (!vocab_size_given) {
    throw Error(ErrorCode::invalid_argument, "--vocab-size is required unless --tokenizer names the protected model's tokenizer");
  }
  return params;
}

}  // namespace tracemark::cli
