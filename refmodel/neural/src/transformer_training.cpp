// train_state and fine_tune_state: next-token cross-entropy on random windows of the training stream, AdamW
// with linear warm-up and cosine decay, gradients clipped to norm 1.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>
#include <set>
#include <sstream>

#include "transformer_impl.hpp"
#include "tracemark/error.hpp"
#include "tracemark/refmodel/synthetic_model.hpp"  // SplitMix64

namespace tracemark {
namespace {

// The documents as one stream of compact ids, each document preceded by the separator: a window
// that crosses a boundary teaches the model that a document starts afresh after it.
std::vector<std::int64_t> training_stream(const TokenDocuments& documents, const TransformerState& impl) {
  std::vector<std::int64_t> stream;
  for (const auto& document : documents) {
    if (document.empty()) continue;
    stream.push_back(TransformerState::kBeginDocument);
    for (std::uint32_t id : document) stream.push_back(impl.compact_of[id]);
  }
  return stream;
}

double scheduled_rate(const TransformerTraining& training, std::uint32_t step) {
  if (step < training.warmup_steps) return training.learning_rate * (step + 1) / training.warmup_steps;
  const double done = training.steps > training.warmup_steps
                          ? static_cast<double>(step - training.warmup_steps) / (training.steps - training.warmup_steps)
                          : 1.0;
  return training.learning_rate * (0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi * done)));
}

// Trains impl.network (already built) on the documents; ids outside the model's vocabulary are
// read as the unknown input and never a target. Adds to impl.provenance.
void run_training(TransformerState& impl, const TokenDocuments& documents, const TransformerTraining& training) {
  const std::vector<std::int64_t> stream = training_stream(documents, impl);
  // Windows of two attention spans, so that the later half of each trains positions that attend
  // to a full window, as they do when decoding; shorter when the data is.
  const std::int64_t length = std::min<std::int64_t>(2 * static_cast<std::int64_t>(impl.shape.context_length),
                                                     static_cast<std::int64_t>(stream.size()) - 1);
  if (length < 1) throw Error(ErrorCode::invalid_input, "the training documents hold fewer than two tokens");

  const torch::Device device = torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  impl.network->to(device);
  impl.network->train();
  torch::optim::AdamW optimizer(impl.network->parameters(),
                                torch::optim::AdamWOptions(training.learning_rate).weight_decay(training.weight_decay));

  SplitMix64 rng(training.seed ^ 0x7472616e73666f72ULL);
  const std::int64_t batch = training.batch_size;
  const std::uint64_t window_starts = stream.size() - static_cast<std::size_t>(length);
  torch::Tensor windows = torch::empty({batch, length + 1}, torch::kInt64);
  const auto started = std::chrono::steady_clock::now();
  auto last_report = started;
  const std::uint32_t report_every = std::max<std::uint32_t>(1, training.steps / 100);
  double recent_loss = 0;
  std::uint32_t recent_steps = 0;
  for (std::uint32_t step = 0; step < training.steps; ++step) {
    auto* out = windows.data_ptr<std::int64_t>();
    for (std::int64_t b = 0; b < batch; ++b) {
      const std::size_t start = static_cast<std::size_t>(rng.next() % window_starts);
      std::copy_n(stream.begin() + static_cast<std::ptrdiff_t>(start), length + 1, out + b * (length + 1));
    }
    const torch::Tensor on_device = windows.to(device);
    const torch::Tensor inputs = on_device.narrow(1, 0, length);
    const torch::Tensor targets = on_device.narrow(1, 1, length);
    const torch::Tensor logits = impl.network->forward(inputs);
    const torch::Tensor loss =
        torch::nn::functional::cross_entropy(logits.reshape({-1, impl.compact_size()}), targets.reshape({-1}),
                                             torch::nn::functional::CrossEntropyFuncOptions().ignore_index(
                                                 TransformerState::kUnknown));
    const double value = loss.item<double>();
    // Divergence: a non-finite loss, or one far worse than guessing uniformly (ln of the
    // vocabulary), which a sane run never reaches once started and an exploding one passes.
    const double guessing = std::log(static_cast<double>(impl.compact_size()));
    if (!std::isfinite(value) || value > 4 * guessing + 10) {
      std::ostringstream message;
      message << "training diverged at step " << step + 1 << " of " << training.steps << " (the loss is " << value
              << " nats per token; guessing uniformly costs " << guessing << "); lower --learning-rate (now "
              << training.learning_rate << ") or raise --warmup-steps; no model was written";
      throw Error(ErrorCode::invalid_argument, message.str());
    }
    for (auto& group : optimizer.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(scheduled_rate(training, step));
    }
    optimizer.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(impl.network->parameters(), 1.0);
    optimizer.step();

    recent_loss += value;
    ++recent_steps;
    impl.provenance.final_loss = value;
    const auto now = std::chrono::steady_clock::now();
    const bool last = step + 1 == training.steps;
    if (training.on_progress && (last || (step + 1) % report_every == 0 ||
                                 now - last_report > std::chrono::seconds(2))) {
      const double seconds = std::chrono::duration<double>(now - started).count();
      TransformerTraining::Progress progress;
      progress.step = step + 1;
      progress.steps = training.steps;
      progress.loss = recent_loss / recent_steps;
      progress.tokens_per_second = static_cast<double>(progress.step) * static_cast<double>(batch * length) / seconds;
      progress.seconds_left = seconds / progress.step * (training.steps - progress.step);
      training.on_progress(progress);
      recent_loss = 0;
      recent_steps = 0;
      last_report = now;
    }
  }
  impl.network->to(torch::kCPU);
  impl.network->eval();
  impl.provenance.training_tokens += stream.size();
  impl.provenance.training_documents += static_cast<std::uint64_t>(
      std::count_if(documents.begin(), documents.end(), [](const auto& d) { return !d.empty(); }));
  impl.provenance.steps += training.steps;
  impl.provenance.epochs += static_cast<double>(training.steps) * static_cast<double>(batch * length) /
                            static_cast<double>(stream.size());
  impl.provenance.seed = training.seed;
}

}  // namespace

std::unique_ptr<TransformerState> train_state(const TokenDocuments& documents, std::uint32_t vocab_size,
                                              std::span<const std::uint32_t> unpredictable_ids,
                                              const ModelTokenizerRecord& tokenizer, const TransformerShape& shape,
                                              const TransformerTraining& training) {
  shape.validate();
  training.validate();
  auto impl = std::make_unique<TransformerState>();
  impl->shape = shape;
  impl->tokenizer = tokenizer;
  impl->vocab_size = vocab_size;
  std::set<std::uint32_t> seen;
  for (const auto& document : documents) {
    for (std::uint32_t id : document) {
      if (id >= vocab_size) {
        throw Error(ErrorCode::invalid_input, "training token id " + std::to_string(id) +
                                                  " is outside the vocabulary (size " + std::to_string(vocab_size) + ")");
      }
      seen.insert(id);
    }
  }
  if (seen.empty()) throw Error(ErrorCode::invalid_input, "the training documents hold no tokens");
  impl->vocabulary.assign(seen.begin(), seen.end());
  impl->unpredictable.assign(unpredictable_ids.begin(), unpredictable_ids.end());
  impl->finish("training data");

  torch::manual_seed(training.seed);
  impl->network = neural::TransformerNetwork(shape, impl->compact_size());
  run_training(*impl, documents, training);
  return impl;
}

void fine_tune_state(std::unique_ptr<TransformerState>& impl_, const TokenDocuments& documents,
                     const TransformerTraining& training) {
  training.validate();
  for (const auto& document : documents) {
    for (std::uint32_t id : document) {
      if (id >= impl_->vocab_size) {
        throw Error(ErrorCode::invalid_input, "fine-tuning token id " + std::to_string(id) +
                                                  " is outside the vocabulary (size " + std::to_string(impl_->vocab_size) + ")");
      }
    }
  }
  torch::manual_seed(training.seed);
  // Trained on a copy: a diverging run throws and leaves this model as it was.
  auto copy = std::make_unique<TransformerState>(*impl_);
  copy->network = neural::TransformerNetwork(copy->shape, copy->compact_size());
  {
    const torch::NoGradGuard no_gradients;
    const auto source = impl_->network->parameters();
    const auto target = copy->network->parameters();
    for (std::size_t i = 0; i < source.size(); ++i) target[i].copy_(source[i]);
  }
  // The provenance keeps the original training; fine-tuning is counted on its own.
  const TransformerProvenance trained = copy->provenance;
  run_training(*copy, documents, training);
  copy->provenance = trained;
  copy->provenance.fine_tuning_steps += training.steps;
  impl_ = std::move(copy);
}

}  // namespace tracemark
