#include "transformer_network.hpp"

#include <cmath>
#include <limits>

namespace tracemark::neural {

AttentionBlockImpl::AttentionBlockImpl(std::int64_t width, std::int64_t heads)
    : heads_(heads), head_width_(width / heads) {
  attention_norm_ = register_module("attention_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  query_key_value_ = register_module("query_key_value", torch::nn::Linear(width, 3 * width));
  output_ = register_module("output", torch::nn::Linear(width, width));
  mlp_norm_ = register_module("mlp_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  expand_ = register_module("expand", torch::nn::Linear(width, 4 * width));
  contract_ = register_module("contract", torch::nn::Linear(4 * width, width));
}

torch::Tensor AttentionBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& bias, LayerCache* cache) {
  const std::int64_t batch = x.size(0), fresh = x.size(1), width = x.size(2);
  // [3, batch, heads, fresh, head_width]
  const torch::Tensor qkv =
      query_key_value_(attention_norm_(x)).view({batch, fresh, 3, heads_, head_width_}).permute({2, 0, 3, 1, 4});
  const torch::Tensor queries = qkv[0];
  torch::Tensor keys = qkv[1], values = qkv[2];
  if (cache) {
    if (cache->keys.defined()) {
      keys = torch::cat({cache->keys, keys}, 2);
      values = torch::cat({cache->values, values}, 2);
    }
    cache->keys = keys;
    cache->values = values;
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_width_));
  const torch::Tensor scores = torch::matmul(queries, keys.transpose(-2, -1)) * scale + bias;
  const torch::Tensor attended = torch::matmul(torch::softmax(scores, -1), values);
  const torch::Tensor merged = attended.transpose(1, 2).reshape({batch, fresh, width});
  const torch::Tensor h = x + output_(merged);
  return h + contract_(torch::gelu(expand_(mlp_norm_(h))));
}

TransformerNetworkImpl::TransformerNetworkImpl(const TransformerShape& shape, std::int64_t vocabulary) : shape_(shape) {
  const std::int64_t width = shape.width;
  embedding_ = register_module("embedding", torch::nn::Embedding(vocabulary, width));
  torch::nn::init::normal_(embedding_->weight, 0.0, 0.02);
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (std::uint32_t i = 0; i < shape.layers; ++i) blocks_->push_back(AttentionBlock(width, shape.heads));
  final_norm_ = register_module("final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  std::vector<float> slopes(shape.heads);
  for (std::uint32_t h = 0; h < shape.heads; ++h) {
    slopes[h] = static_cast<float>(std::pow(2.0, -8.0 * (h + 1) / shape.heads));
  }
  // A buffer, not a parameter: saved with the weights, never trained.
  slopes_ = register_buffer("alibi_slopes", torch::tensor(slopes));
}

torch::Tensor TransformerNetworkImpl::attention_bias(std::int64_t past, std::int64_t fresh) const {
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(slopes_.device());
  // distance[i][j] = (past + i) - j for query i and key j
  const torch::Tensor query_position = torch::arange(past, past + fresh, options).unsqueeze(1);
  const torch::Tensor key_position = torch::arange(0, past + fresh, options).unsqueeze(0);
  const torch::Tensor distance = query_position - key_position;
  const torch::Tensor outside = (distance < 0).logical_or(distance >= static_cast<double>(shape_.context_length));
  torch::Tensor bias = -slopes_.view({-1, 1, 1}) * distance.unsqueeze(0);
  return bias.masked_fill(outside.unsqueeze(0), -std::numeric_limits<float>::infinity());
}

torch::Tensor TransformerNetworkImpl::forward(const torch::Tensor& tokens) {
  torch::Tensor x = embedding_(tokens);
  const torch::Tensor bias = attention_bias(0, tokens.size(1));
  for (const auto& block : *blocks_) x = block->as<AttentionBlock>()->forward(x, bias, nullptr);
  return torch::matmul(final_norm_(x), embedding_->weight.t());
}

torch::Tensor TransformerNetworkImpl::extend(const torch::Tensor& tokens, std::vector<LayerCache>& caches) {
  caches.resize(shape_.layers);
  const std::int64_t past = caches[0].keys.defined() ? caches[0].keys.size(2) : 0;
  torch::Tensor x = embedding_(tokens);
  const torch::Tensor bias = attention_bias(past, tokens.size(1));
  std::size_t layer = 0;
  for (const auto& block : *blocks_) x = block->as<AttentionBlock>()->forward(x, bias, &caches[layer++]);
  // The next position attends to itself and context_length - 1 earlier ones: older keys go.
  const std::int64_t keep = static_cast<std::int64_t>(shape_.context_length) - 1;
  for (LayerCache& cache : caches) {
    const std::int64_t held = cache.keys.size(2);
    if (held > keep) {
      cache.keys = cache.keys.narrow(2, held - keep, keep).contiguous();
      cache.values = cache.values.narrow(2, held - keep, keep).contiguous();
    }
  }
  return torch::matmul(final_norm_(x.squeeze(0)), embedding_->weight.t());
}

}  // namespace tracemark::neural
