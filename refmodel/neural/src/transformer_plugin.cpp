// The plug-in's side of transformer_engine.hpp: TransformerState behind the engine interface.
#include "transformer_engine.hpp"
#include "transformer_impl.hpp"

namespace tracemark {
namespace {

class TorchEngine final : public TransformerEngine {
 public:
  explicit TorchEngine(std::unique_ptr<TransformerState> state) : state_(std::move(state)) {}
  void fine_tune(const TokenDocuments& documents, const TransformerTraining& training) override {
    fine_tune_state(state_, documents, training);
  }
  void save(const std::filesystem::path& path, bool overwrite) const override { save_state(*state_, path, overwrite); }
  std::uint32_t vocab_size() const noexcept override { return state_->vocab_size; }
  std::uint32_t compact_vocab_size() const noexcept override {
    return static_cast<std::uint32_t>(state_->vocabulary.size());
  }
  std::uint64_t parameter_count() const override { return tracemark::parameter_count(*state_); }
  const TransformerShape& shape() const noexcept override { return state_->shape; }
  const ModelTokenizerRecord& tokenizer() const noexcept override { return state_->tokenizer; }
  const TransformerProvenance& provenance() const noexcept override { return state_->provenance; }
  std::span<const std::uint32_t> unpredictable_ids() const noexcept override { return state_->unpredictable; }
  std::unique_ptr<DecodingSession> start(std::span<const std::uint32_t> prompt) const override {
    return start_session(*state_, prompt);
  }
  double sequence_nats(std::span<const std::uint32_t> context, std::span<const std::uint32_t> tokens) const override {
    return state_sequence_nats(*state_, context, tokens);
  }
  void log_probabilities(std::span<const std::uint32_t> history, std::span<float> out) const override {
    state_log_probabilities(*state_, history, out);
  }

 private:
  std::unique_ptr<TransformerState> state_;
};

class TorchPlugin final : public TransformerPlugin {
 public:
  std::unique_ptr<TransformerEngine> train(const TokenDocuments& documents, std::uint32_t vocab_size,
                                           std::span<const std::uint32_t> unpredictable_ids,
                                           const ModelTokenizerRecord& tokenizer, const TransformerShape& shape,
                                           const TransformerTraining& training) const override {
    return std::make_unique<TorchEngine>(train_state(documents, vocab_size, unpredictable_ids, tokenizer, shape, training));
  }
  std::unique_ptr<TransformerEngine> load(const std::filesystem::path& path) const override {
    return std::make_unique<TorchEngine>(load_state(path));
  }
  void set_threads(unsigned threads) const override {
    if (threads > 0) torch::set_num_threads(static_cast<int>(threads));
  }
};

}  // namespace
}  // namespace tracemark

extern "C" __attribute__((visibility("default"))) const tracemark::TransformerPlugin* tracemark_transformer_plugin() {
  static const tracemark::TorchPlugin plugin;
  return &plugin;
}
