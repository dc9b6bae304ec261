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

// The last row of the compact log-probabilities after feeding `history` (chunked, exact).
torch::Tensor run_pieces(TransformerState& impl, const torch::Tensor& ids, std::vector<neural::LayerCache>& caches) {
  std::vector<torch::Tensor> rows;
  for (std::int64_t start = 0; start < ids.size(1); start += kPieceLength) {
    const std::int64_t length = std::min(kPieceLength, ids.size(1) - start);
    rows.push_back(impl.network->extend(ids.narrow(1, start, length), caches));
  }
  return torch::cat(rows, 0);
}

class TransformerSession final : public DecodingSession {
 public:
  TransformerSession(TransformerState& impl, std::span<const std::uint32_t> prompt) : impl_(impl) {
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
  TransformerState& impl_;
  std::vector<neural::LayerCache> caches_;
  std::vector<float> current_;  // smoothed log-probability of each vocabulary entry
  std::vector<std::uint32_t> order_;
};

}  // namespace

void TransformerState::finish(const std::string& where) {
  try {
    shape.validate();
  } catch (const Error& e) {
    throw Error(ErrorCode::invalid_input, where + ": " + e.what());
  }
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

torch::Tensor TransformerState::input_ids(std::span<const std::uint32_t> history) const {
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

std::vector<float> TransformerState::token_log_probabilities(const torch::Tensor& logits) const {
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

void TransformerState::scatter(const std::vector<float>& compact, std::span<float> out) const {
  std::copy(floor_log_probability.begin(), floor_log_probability.end(), out.begin());
  for (std::size_t k = 0; k < compact.size(); ++k) out[vocabulary[k]] = compact[k];
}

std::uint64_t parameter_count(const TransformerState& state) {
  std::uint64_t count = 0;
  for (const auto& parameter : state.network->parameters()) count += static_cast<std::uint64_t>(parameter.numel());
  return count;
}

std::unique_ptr<DecodingSession> start_session(TransformerState& state, std::span<const std::uint32_t> prompt) {
  return std::make_unique<TransformerSession>(state, prompt);
}

double state_sequence_nats(TransformerState& state, std::span<const std::uint32_t> context,
                           std::span<const std::uint32_t> tokens) {
  if (tokens.empty()) return 0;
  std::vector<std::uint32_t> history(context.begin(), context.end());
  history.insert(history.end(), tokens.begin(), tokens.end());
  const torch::NoGradGuard no_gradients;
  std::vector<neural::LayerCache> caches;
  // Row r predicts history[r] (row 0 follows the separator); the scored rows start at the context.
  const torch::Tensor logits = run_pieces(state, state.input_ids(history), caches);
  double nats = 0;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::int32_t compact = state.compact_of[tokens[i]];
    if (compact == TransformerState::kUnknown) {
      nats -= static_cast<double>(state.floor_log_probability[tokens[i]]);  // +infinity for an unpredictable id
      continue;
    }
    const std::vector<float> row = state.token_log_probabilities(logits[static_cast<std::int64_t>(context.size() + i)]);
    nats -= static_cast<double>(row[static_cast<std::size_t>(compact - TransformerState::kFirstToken)]);
  }
  return nats;
}

void state_log_probabilities(TransformerState& state, std::span<const std::uint32_t> history, std::span<float> out) {
  if (out.size() != state.vocab_size) {
    throw Error(ErrorCode::invalid_argument, "log_probabilities: out must hold vocab_size() entries");
  }
  const torch::NoGradGuard no_gradients;
  const torch::Tensor logits = state.network->forward(state.input_ids(history))[0];
  state.scatter(state.token_log_probabilities(logits[logits.size(0) - 1]), out);
}

}  // namespace tracemark
