// The network of TransformerModel (transformer_model.hpp explains the architecture): libtorch
// modules, internal to refmodel/neural.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "tracemark/refmodel/transformer_model.hpp"

namespace tracemark::neural {

// Keys and values of one layer for the positions a decoding step may still attend to:
// [1, heads, n, head_width] each, n < context_length after trimming.
struct LayerCache {
  torch::Tensor keys;
  torch::Tensor values;
};

class AttentionBlockImpl : public torch::nn::Module {
 public:
  AttentionBlockImpl(std::int64_t width, std::int64_t heads);
  // x: [batch, new positions, width]; bias: [heads, new, past + new] (additive: ALiBi and the
  // window mask). cache: when not null, its keys/values are the past positions and are replaced by
  // past + new (the caller trims them).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& bias, LayerCache* cache);

 private:
  std::int64_t heads_, head_width_;
  torch::nn::LayerNorm attention_norm_{nullptr}, mlp_norm_{nullptr};
  torch::nn::Linear query_key_value_{nullptr}, output_{nullptr}, expand_{nullptr}, contract_{nullptr};
};
TORCH_MODULE(AttentionBlock);

class TransformerNetworkImpl : public torch::nn::Module {
 public:
  TransformerNetworkImpl(const TransformerShape& shape, std::int64_t vocabulary);
  // tokens: [batch, positions] compact ids, no cache: logits [batch, positions, vocabulary].
  torch::Tensor forward(const torch::Tensor& tokens);
  // Decoding: tokens [1, new] after the positions held in caches (one per layer, empty at first);
  // returns the logits of the new positions, [new, vocabulary], and leaves in each cache the last
  // context_length - 1 positions. Feeding a sequence in pieces gives exactly forward()'s logits.
  torch::Tensor extend(const torch::Tensor& tokens, std::vector<LayerCache>& caches);

  const TransformerShape& shape() const { return shape_; }

 private:
  // Additive attention bias for `fresh` queries that follow `past` cached positions:
  // [heads, fresh, past + fresh]; -slope_h * distance inside the window, -infinity outside it
  // and for future positions.
  torch::Tensor attention_bias(std::int64_t past, std::int64_t fresh) const;

  TransformerShape shape_;
  torch::Tensor slopes_;  // [heads], ALiBi: 2^(-8 (h + 1) / heads)
  torch::nn::Embedding embedding_{nullptr};
  torch::nn::ModuleList blocks_;
  torch::nn::LayerNorm final_norm_{nullptr};
};
TORCH_MODULE(TransformerNetwork);

}  // namespace tracemark::neural
