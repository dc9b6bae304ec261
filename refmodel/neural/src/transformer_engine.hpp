// The boundary between tracemark and its transformer plug-in (libtracemark_torch.so, the only
// binary that links libtorch). libtorch costs about a second and 150 MB at start-up and starts
// OpenBLAS threads that do not block serve's signals, so it is loaded with dlopen when a
// transformer is first needed, never by commands that do not use one. Both sides are built from
// this tree with the same compiler in one build, so the interface is plain C++.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>

#include "tracemark/refmodel/transformer_model.hpp"

namespace tracemark {

// One trained model inside the plug-in; TransformerModel forwards every call to it.
class TransformerEngine {
 public:
  virtual ~TransformerEngine() = default;
  virtual void fine_tune(const TokenDocuments& documents, const TransformerTraining& training) = 0;
  virtual void save(const std::filesystem::path& path, bool overwrite) const = 0;
  virtual std::uint32_t vocab_size() const noexcept = 0;
  virtual std::uint32_t compact_vocab_size() const noexcept = 0;
  virtual std::uint64_t parameter_count() const = 0;
  virtual const TransformerShape& shape() const noexcept = 0;
  virtual const ModelTokenizerRecord& tokenizer() const noexcept = 0;
  virtual const TransformerProvenance& provenance() const noexcept = 0;
  virtual std::span<const std::uint32_t> unpredictable_ids() const noexcept = 0;
  virtual std::unique_ptr<DecodingSession> start(std::span<const std::uint32_t> prompt) const = 0;
  virtual double sequence_nats(std::span<const std::uint32_t> context, std::span<const std::uint32_t> tokens) const = 0;
  virtual void log_probabilities(std::span<const std::uint32_t> history, std::span<float> out) const = 0;
};

// The plug-in's entry points (one static instance inside it).
class TransformerPlugin {
 public:
  virtual std::unique_ptr<TransformerEngine> train(const TokenDocuments& documents, std::uint32_t vocab_size,
                                                   std::span<const std::uint32_t> unpredictable_ids,
                                                   const ModelTokenizerRecord& tokenizer, const TransformerShape& shape,
                                                   const TransformerTraining& training) const = 0;
  virtual std::unique_ptr<TransformerEngine> load(const std::filesystem::path& path) const = 0;
  virtual void set_threads(unsigned threads) const = 0;

 protected:
  ~TransformerPlugin() = default;
};

// The symbol tracemark looks up in the plug-in: extern "C" const TransformerPlugin* NAME().
inline constexpr const char* kTransformerPluginSymbol = "tracemark_transformer_plugin";

}  // namespace tracemark
