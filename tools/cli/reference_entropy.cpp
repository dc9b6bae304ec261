#include "reference_entropy.hpp"

#include "tracemark/error.hpp"
#include "tracemark/refmodel/reference_model_entropy.hpp"

namespace tracemark::cli {

std::shared_ptr<const StepEntropySource> load_reference_entropy(const std::string& model_path, std::size_t top_k,
                                                                std::span<const WatermarkKey> keys) {
  if (model_path.empty()) return nullptr;
  auto model = std::make_shared<const NgramModel>(NgramModel::load(model_path));
  for (const WatermarkKey& key : keys) {
    const SchemeParams& params = key.params();
    if (params.vocab_size != model->vocab_size()) {
      throw Error(ErrorCode::invalid_input, "--reference-model " + model_path + " has a vocabulary of " +
                                                std::to_string(model->vocab_size()) + " ids, key " + key.key_id() + " one of " +
                                                std::to_string(params.vocab_size) +
                                                "; give a reference model of the protected model");
    }
    if (params.tokenizer) {
      require_model_tokenizer(*model, "--reference-model " + model_path,
                              ModelTokenizerRecord{params.tokenizer->name, "", params.tokenizer->vocab_sha256});
    }
  }
  return std::make_shared<const ReferenceModelEntropy>(model, model_path, top_k);
}

void add_step_rule_options(CLI::App& command, StepRuleOptions& options) {
  command.add_option("--reference-model", options.reference_model,
                     "for keys with an entropy threshold: a reference model of the protected model, to recompute each "
                     "step's entropy where the input does not carry it; only steps at or above the threshold are scored");
  command.add_option("--reference-top-k", options.reference_top_k,
                     "with --reference-model: the entropy of its k most probable tokens (as serving with --top-k measured "
                     "it); 0: the whole distribution")
      ->capture_default_str();
  command.add_flag("--syntax-aware", options.syntax_aware,
                   "score only free tokens (identifiers, values, comments, prose), never syntax; needs keys that name "
                   "their tokenizer");
}

}  // namespace tracemark::cli
