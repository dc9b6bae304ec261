// --reference-model MODEL for detect and scan: the protected model's per-step entropy, recomputed
// from a reference model of it, for keys with an entropy threshold.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include <CLI/CLI.hpp>

#include "tracemark/embed/key.hpp"
#include "tracemark/verify/step_entropy_source.hpp"

namespace tracemark::cli {

// Loads the model and checks it against every key (vocabulary size, and the tokenizer when a key
// names one): Error(invalid_input) naming the model and what differs. Empty path: null.
std::shared_ptr<const StepEntropySource> load_reference_entropy(const std::string& model_path, std::size_t top_k,
                                                                std::span<const WatermarkKey> keys);

// The options detect and scan share for the entropy and syntax rules: --reference-model,
// --reference-top-k and --syntax-aware.
struct StepRuleOptions {
  std::string reference_model;
  std::size_t reference_top_k = 0;
  bool syntax_aware = false;
};
void add_step_rule_options(CLI::App& command, StepRuleOptions& options);

}  // namespace tracemark::cli
