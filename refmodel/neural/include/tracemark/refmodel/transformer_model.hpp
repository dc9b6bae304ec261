// A small decoder-only transformer as a reference model: the neural teacher and the neural
// student of the distillation experiments (issue 17). Built on libtorch (Debian's libtorch-dev),
// which lives in a plug-in loaded on first use (transformer_engine.hpp says why); this header hides
// both, so users of the model compile without torch's headers and commands that never touch a
// transformer never load libtorch.
//
// Architecture (docs/METHOD.md, "Neural reference models"): token embedding tied to the output
// layer, pre-norm blocks of multi-head self-attention and a 4x GELU MLP, no position embedding but
// ALiBi distance biases (Press et al. 2022) and sliding-window attention: each position attends to
// itself and the context_length - 1 positions before it. Because the biases depend only on
// distances and the window is fixed, decoding with a rolling key/value cache computes exactly what
// one forward pass over the whole sequence computes (tested), at any length.
//
// Vocabulary: a compact one, the ids that occur in the training documents, mapped back to the
// tokenizer's ids. The network's distribution p over those ids is smoothed so that every ordinary
// id of the tokenizer keeps a probability above zero:
//   P(w) = (1 - eps) p(w) + eps / V_ordinary   with eps = kUnseenMass,
// where V_ordinary counts the ids that are not marked unpredictable (gaps and special tokens, which
// get probability 0 as in the n-gram model). Prompt ids the model never saw are read as one
// shared "unknown" input token.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tracemark/refmodel/decoding_session.hpp"
#include "tracemark/refmodel/ngram_tables.hpp"       // ModelTokenizerRecord
#include "tracemark/refmodel/training_corpus.hpp"    // TokenDocuments

namespace tracemark {

inline constexpr double kUnseenMass = 1e-4;

struct TransformerShape {
  std::uint32_t layers = 3;           // 1..48
  std::uint32_t width = 192;          // model dimension; a multiple of heads, 8..4096
  std::uint32_t heads = 4;            // 1..64
  std::uint32_t context_length = 64;  // attention window in tokens, 2..4096

  // Throws Error(invalid_argument) naming the option (--layers, --width, ...) and its range.
  void validate() const;
};

struct TransformerTraining {
  std::uint32_t steps = 600;          // optimiser steps, 1..10,000,000
  std::uint32_t batch_size = 16;      // sequences per step; each is 2 x context_length tokens long
  double learning_rate = 2e-3;        // AdamW peak rate after warm-up, (0, 10]
  std::uint32_t warmup_steps = 50;    // linear warm-up, then cosine decay to 10% of the peak
  double weight_decay = 0.01;
  std::uint64_t seed = 1;             // initial weights and the order of training windows
  // Called every few steps and after the last; may print. Never called with a non-finite loss.
  struct Progress {
    std::uint32_t step = 0, steps = 0;
    double loss = 0;                  // mean cross-entropy (nats per token) of the recent steps
    double tokens_per_second = 0;
    double seconds_left = 0;
  };
  std::function<void(const Progress&)> on_progress;

  void validate() const;  // Error(invalid_argument) naming the option
};

// What a model file records about how the model was made (reports and reproducibility).
struct TransformerProvenance {
  std::uint64_t training_tokens = 0;   // tokens in the training stream (documents and separators)
  std::uint64_t training_documents = 0;
  std::uint32_t steps = 0;
  double final_loss = 0;
  double epochs = 0;                   // tokens processed / training tokens
  std::uint64_t seed = 0;
  std::uint32_t fine_tuning_steps = 0;  // steps of fine_tune() after training, all runs together
};

class TransformerModel {
 public:
  // Every static function loads the plug-in on first use: Error(unsupported) saying what to do when
  // it cannot be loaded (a build without libtorch, a missing or broken plug-in file).
  // Trains a new model on `documents` (ids < vocab_size; at least one non-empty document).
  // Throws Error(invalid_argument) for bad options or when training diverges (a non-finite loss,
  // or one above 4 ln(vocabulary) + 10, far worse than guessing: the message names the step and
  // says to lower the learning rate); nothing is kept then.
  static TransformerModel train(const TokenDocuments& documents, std::uint32_t vocab_size,
                                std::span<const std::uint32_t> unpredictable_ids, const ModelTokenizerRecord& tokenizer,
                                const TransformerShape& shape, const TransformerTraining& training);

  // Continues training this model on other documents (the attack "fine-tune the student on clean
  // text"): same vocabulary (ids it never saw are read as unknown and never predicted), fresh
  // optimiser state, training's schedule. On error (divergence included) the model is unchanged.
  void fine_tune(const TokenDocuments& documents, const TransformerTraining& training);

  // Reads and checks a model file (magic, format version, sizes, SHA-256 checksum, metadata,
  // weights). Error(invalid_input) naming the file for a damaged file or one of another kind (an
  // n-gram model file is named as such), Error(unsupported) for another format version, Error(io)
  // when unreadable.
  static TransformerModel load(const std::filesystem::path& path);

  // Writes the model file through a temporary file (nothing half-written is left). With
  // overwrite = false an existing file is an error.
  void save(const std::filesystem::path& path, bool overwrite) const;

  TransformerModel(TransformerModel&&) noexcept;
  TransformerModel& operator=(TransformerModel&&) noexcept;
  ~TransformerModel();

  std::uint32_t vocab_size() const noexcept;  // the tokenizer's (full) vocabulary
  std::uint32_t compact_vocab_size() const noexcept;  // ids the model can produce
  std::uint64_t parameter_count() const;
  const TransformerShape& shape() const noexcept;
  const ModelTokenizerRecord& tokenizer() const noexcept;
  const TransformerProvenance& provenance() const noexcept;
  std::span<const std::uint32_t> unpredictable_ids() const noexcept;

  // A decoding session after `prompt` (ids < vocab_size(); a begin-of-document token precedes
  // it). Sessions of one model may run on many threads at once; each session on one.
  std::unique_ptr<DecodingSession> start(std::span<const std::uint32_t> prompt) const;

  // -ln P(tokens | context) summed over tokens (context conditions, is not scored), by one
  // forward pass. Infinity when a token has probability 0 (an unpredictable id).
  double sequence_nats(std::span<const std::uint32_t> context, std::span<const std::uint32_t> tokens) const;

  // Natural-log probabilities of every token after `history` by one forward pass over it (the
  // reference the cached decoding is tested against); out.size() == vocab_size().
  void log_probabilities(std::span<const std::uint32_t> history, std::span<float> out) const;

  explicit TransformerModel(std::unique_ptr<class TransformerEngine> engine);

 private:
  std::unique_ptr<TransformerEngine> engine_;
};

// Threads libtorch uses inside one operation (matrix products). Callers that run several
// sessions on their own threads set 1. 0: libtorch's default (the cores).
void set_neural_threads(unsigned threads);

// True when the transformer plug-in can be loaded (this build has libtorch and the plug-in file is
// where the build put it, or where TRACEMARK_TORCH_PLUGIN names it).
bool neural_models_available() noexcept;

}  // namespace tracemark
