// The transformer plug-in's model state (libtracemark_torch.so), shared by the files that train,
// store and run it. Only the plug-in sees libtorch; the rest of tracemark reaches it through
// transformer_engine.hpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "transformer_network.hpp"
#include "tracemark/refmodel/transformer_model.hpp"

namespace tracemark {

struct TransformerState {
  // Compact ids 0 and 1 are the begin-of-document separator and the stand-in for prompt ids the
  // model never saw; neither is ever a prediction. Ids from 2 on are vocabulary[compact - 2].
  static constexpr std::int64_t kBeginDocument = 0;
  static constexpr std::int64_t kUnknown = 1;
  static constexpr std::int64_t kFirstToken = 2;

  TransformerShape shape;
  ModelTokenizerRecord tokenizer;
  TransformerProvenance provenance;
  std::uint32_t vocab_size = 0;                    // the tokenizer's
  std::vector<std::uint32_t> vocabulary;           // sorted ids the model can produce
  std::vector<std::uint32_t> unpredictable;        // sorted, never produced, probability 0
  neural::TransformerNetwork network{nullptr};

  // Derived by finish(): compact id of each full id (kUnknown when absent), and the log-probability
  // of an id the network cannot produce (ln(eps / V_ordinary), -infinity when unpredictable).
  std::vector<std::int32_t> compact_of;
  std::vector<float> floor_log_probability;
  double floor_probability = 0;  // eps / V_ordinary

  std::int64_t compact_size() const { return static_cast<std::int64_t>(vocabulary.size()) + kFirstToken; }
  // Checks the fields and builds the derived tables; Error(invalid_input) prefixed by `where`.
  void finish(const std::string& where);
  // [1, n] compact ids: the separator, then history mapped (unknown ids to kUnknown).
  torch::Tensor input_ids(std::span<const std::uint32_t> history) const;
  // Smoothed log-probability of each compact token id from the network's logits over the compact
  // vocabulary ([compact_size]); entry k is for vocabulary[k].
  std::vector<float> token_log_probabilities(const torch::Tensor& logits) const;
  // Fills out (vocab_size entries) from the compact log-probabilities.
  void scatter(const std::vector<float>& compact, std::span<float> out) const;
};

// transformer_training.cpp: a new model trained on documents; further training of one.
std::unique_ptr<TransformerState> train_state(const TokenDocuments& documents, std::uint32_t vocab_size,
                                              std::span<const std::uint32_t> unpredictable_ids,
                                              const ModelTokenizerRecord& tokenizer, const TransformerShape& shape,
                                              const TransformerTraining& training);
void fine_tune_state(std::unique_ptr<TransformerState>& state, const TokenDocuments& documents,
                     const TransformerTraining& training);
// transformer_file.cpp
void save_state(const TransformerState& state, const std::filesystem::path& path, bool overwrite);
std::unique_ptr<TransformerState> load_state(const std::filesystem::path& path);
// transformer_model.cpp
std::unique_ptr<DecodingSession> start_session(TransformerState& state, std::span<const std::uint32_t> prompt);
double state_sequence_nats(TransformerState& state, std::span<const std::uint32_t> context,
                           std::span<const std::uint32_t> tokens);
void state_log_probabilities(TransformerState& state, std::span<const std::uint32_t> history, std::span<float> out);
std::uint64_t parameter_count(const TransformerState& state);

}  // namespace tracemark
