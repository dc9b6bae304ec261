// TransformerModel: the vocabulary map, the smoothed distribution, sessions and scoring.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "transformer_impl.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();
// Pieces of a long sequence fed to the network at once: bounds the attention matrices' memory
// (pieces are exact, see TransformerNetworkImpl::extend).
constexpr std::int64_t kPieceLength = 512;

void require_range(const char* option, double value, double low, double high) {
  if (!(value >= low && value <= high)) {
    throw Error(ErrorCode::invalid_argument, std::string(option) + " " + std::to_string(value) +
                                                 " is out of range; use " + std::to_string(low) + " to " +
                                                 std::to_string(high));
  }
}

// The last row of the compact log-probabilities after feeding `history` (chunked, exact).
torch::Tensor run_pieces(TransformerModel::Impl& impl, const torch::Tensor& ids, std::vector<neural::LayerCache>& caches) {
  std::vector<torch::Tensor> rows;
  for (std::int64_t start = 0; start < ids.size(1); start += kPieceLength) {
    const std::int64_t length = std::min(kPieceLength, ids.size(1) - start);
    rows.push_back(impl.network->extend(ids.narrow(1, start, length), caches));
  }
  return torch::cat(rows, 0);
}

class TransformerSession final : public DecodingSession {
 public:
  TransformerSession(TransformerModel::Impl& impl, std::span<const std::uint32_t> prompt) : impl_(impl) {
    const torch::NoGradGuard no_gradients;
    const torch::Tensor logits = run_pieces(impl_, impl_.input_ids(prompt), caches_);
    current_ = impl_.token_log_probabilities(logits[logits.size(0) - 1]);
  }

  std::uint32_t vocab_size() const override { return impl_.vocab_size; }

  void log_probabilities(std::span<float> out) override {
    if (out.size() != impl_.vocab_size) {
      throw Error(ErrorCode::internal, "transformer session: logits buffer of the wrong size");
    }
    impl_.scatter(current_, out);
  }

  void top_candidates(std::size_t k, std::vector<Candidate>& out) override {
    order_.resize(current_.size());
    for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<std::uint32_t>(i);
    // Compact order is id order, so ties go to the lower id.
    auto more_probable = [this](std::uint32_t a, std::uint32_t b) {
      return current_[a] > current_[b] || (current_[a] == current_[b] && a < b);
    };
    const std::size_t keep = std::min(k, order_.size());
    std::partial_sort(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(keep), order_.end(), more_probable);
    out.clear();
    for (std::size_t i = 0; i < keep && current_[order_[i]] != kMinusInfinity; ++i) {
      out.push_back({impl_.vocabulary[order_[i]], current_[order_[i]]});
    }
  }

  void accept(std::uint32_t token) override {
    if (token >= impl_.vocab_size) {
      throw Error(ErrorCode::invalid_argument, "token id " + std::to_string(token) + " is outside the model's vocabulary");
    }
    const torch::NoGradGuard no_gradients;
    const torch::Tensor ids = torch::full({1, 1}, static_cast<std::int64_t>(impl_.compact_of[token]), torch::kInt64);
    current_ = impl_.token_log_probabilities(impl_.network->extend(ids, caches_)[0]);
  }

 private:
  TransformerModel::Impl& impl_;
  std::vector<neural::LayerCache> caches_;
  std::vector<float> current_;  // smoothed log-probability of each vocabulary entry
  std::vector<std::uint32_t> order_;
};

}  // namespace

void TransformerShape::validate() const {
  require_range("--layers", layers, 1, 48);
  require_range("--heads", heads, 1, 64);
  require_range("--width", width, 8, 4096);
  require_range("--context-length", context_length, 2, 4096);
  if (width % heads != 0) {
    throw Error(ErrorCode::invalid_argument, "--width " + std::to_string(width) + " is not a multiple of --heads " +
                                                 std::to_string(heads) + "; each head gets width / heads dimensions");
  }
}

void TransformerTraining::validate() const {
  require_range("--steps", steps, 1, 10'000'000);
  require_range("--batch-size", batch_size, 1, 65'536);
  if (!(learning_rate > 0 && learning_rate <= 10)) {
    throw Error(ErrorCode::invalid_argument, "--learning-rate " + std::to_string(learning_rate) +
                                                 " is out of range; use a value in (0, 10] (the default is 0.002)");
  }
  require_range("--warmup-steps", warmup_steps, 0, 10'000'000);
  require_range("--weight-decay", weight_decay, 0, 1);
}

void TransformerModel::Impl::finish(const std::string& where) {
  shape.validate();
  if (vocab_size == 0) throw Error(ErrorCode::invalid_input, where + ": vocabulary size 0");
  auto sorted_below = [&](const std::vector<std::uint32_t>& ids) {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] >= vocab_size || (i > 0 && ids[i] <= ids[i - 1])) return false;
    }
    return true;
  };
  if (vocabulary.empty() || !sorted_below(vocabulary)) {
    throw Error(ErrorCode::invalid_input, where + ": the model's vocabulary must be sorted, unique ids below " +
                                              std::to_string(vocab_size));
  }
  if (!sorted_below(unpredictable) || unpredictable.size() >= vocab_size) {
    throw Error(ErrorCode::invalid_input, where + ": the unpredictable ids must be sorted, unique ids below " +
                                              std::to_string(vocab_size) + ", fewer than the vocabulary");
  }
  compact_of.assign(vocab_size, static_cast<std::int32_t>(kUnknown));
  for (std::size_t k = 0; k < vocabulary.size(); ++k) {
    compact_of[vocabulary[k]] = static_cast<std::int32_t>(k + kFirstToken);
  }
  const double ordinary = static_cast<double>(vocab_size - unpredictable.size());
  floor_probability = kUnseenMass / ordinary;
  floor_log_probability.assign(vocab_size, static_cast<float>(std::log(floor_probability)));
  for (std::uint32_t id : unpredictable) floor_log_probability[id] = kMinusInfinity;
}

torch::Tensor TransformerModel::Impl::input_ids(std::span<const std::uint32_t> history) const {
  torch::Tensor ids = torch::empty({1, static_cast<std::int64_t>(history.size()) + 1}, torch::kInt64);
  auto* out = ids.data_ptr<std::int64_t>();
  out[0] = kBeginDocument;
  for (std::size_t i = 0; i < history.size(); ++i) {
    if (history[i] >= vocab_size) {
      throw Error(ErrorCode::invalid_argument, "token id " + std::to_string(history[i]) + " at position " +
                                                   std::to_string(i) + " is outside the model's vocabulary (size " +
                                                   std::to_string(vocab_size) + ")");
    }
    out[i + 1] = compact_of[history[i]];
  }
  return ids;
}

std::vector<float> TransformerModel::Impl::token_log_probabilities(const torch::Tensor& logits) const {
  // The separator and the unknown stand-in are inputs only: never predicted.
  const torch::Tensor token_logits = logits.narrow(0, kFirstToken, compact_size() - kFirstToken).to(torch::kFloat64);
  const torch::Tensor p = torch::softmax(token_logits, 0).contiguous();
  const double* probability = p.data_ptr<double>();
  std::vector<float> out(vocabulary.size());
  for (std::size_t k = 0; k < out.size(); ++k) {
    const float floor = floor_log_probability[vocabulary[k]];
    const double smoothed = (1 - kUnseenMass) * probability[k] + (floor == kMinusInfinity ? 0.0 : floor_probability);
    out[k] = smoothed > 0 ? static_cast<float>(std::log(smoothed)) : kMinusInfinity;
  }
  return out;
}

void TransformerModel::Impl::scatter(const std::vector<float>& compact, std::span<float> out) const {
  std::copy(floor_log_probability.begin(), floor_log_probability.end(), out.begin());
  for (std::size_t k = 0; k < compact.size(); ++k) out[vocabulary[k]] = compact[k];
}

TransformerModel::TransformerModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TransformerModel::TransformerModel(TransformerModel&&) noexcept = default;
TransformerModel& TransformerModel::operator=(TransformerModel&&) noexcept = default;
TransformerModel::~TransformerModel() = default;

std::uint32_t TransformerModel::vocab_size() const noexcept { return impl_->vocab_size; }
std::uint32_t TransformerModel::compact_vocab_size() const noexcept {
  return static_cast<std::uint32_t>(impl_->vocabulary.size());
}
std::uint64_t TransformerModel::parameter_count() const {
  std::uint64_t count = 0;
  for (const auto& parameter : impl_->network->parameters()) count += static_cast<std::uint64_t>(parameter.numel());
  return count;
}
const TransformerShape& TransformerModel::shape() const noexcept { return impl_->shape; }
const ModelTokenizerRecord& TransformerModel::tokenizer() const noexcept { return impl_->tokenizer; }
const TransformerProvenance& TransformerModel::provenance() const noexcept { return impl_->provenance; }
std::span<const std::uint32_t> TransformerModel::unpredictable_ids() const noexcept { return impl_->unpredictable; }

std::unique_ptr<DecodingSession> TransformerModel::start(std::span<const std::uint32_t> prompt) const {
  return std::make_unique<TransformerSession>(*impl_, prompt);
}

double TransformerModel::sequence_nats(std::span<const std::uint32_t> context, std::span<const std::uint32_t> tokens) const {
  if (tokens.empty()) return 0;
  std::vector<std::uint32_t> history(context.begin(), context.end());
  history.insert(history.end(), tokens.begin(), tokens.end());
  const torch::NoGradGuard no_gradients;
  std::vector<neural::LayerCache> caches;
  // Row r predicts history[r] (row 0 follows the separator); the scored rows start at the context.
  const torch::Tensor logits = run_pieces(*impl_, impl_->input_ids(history), caches);
  double nats = 0;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::int32_t compact = impl_->compact_of[tokens[i]];
    if (compact == Impl::kUnknown) {
      nats -= static_cast<double>(impl_->floor_log_probability[tokens[i]]);  // +infinity for an unpredictable id
      continue;
    }
    const std::vector<float> row =
        impl_->token_log_probabilities(logits[static_cast<std::int64_t>(context.size() + i)]);
    nats -= static_cast<double>(row[static_cast<std::size_t>(compact - Impl::kFirstToken)]);
  }
  return nats;
}

void TransformerModel::log_probabilities(std::span<const std::uint32_t> history, std::span<float> out) const {
  if (out.size() != impl_->vocab_size) {
    throw Error(ErrorCode::invalid_argument, "log_probabilities: out must hold vocab_size() entries");
  }
  const torch::NoGradGuard no_gradients;
  const torch::Tensor ids = impl_->input_ids(history);
  const torch::Tensor logits = impl_->network->forward(ids)[0];
  impl_->scatter(impl_->token_log_probabilities(logits[logits.size(0) - 1]), out);
}

void set_neural_threads(unsigned threads) {
  if (threads > 0) torch::set_num_threads(static_cast<int>(threads));
}

bool neural_models_available() noexcept { return true; }

}  // namespace tracemark
