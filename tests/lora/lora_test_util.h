// A small model for the LoRA tests, named like llama2.c's checkpoints
// (layers.N.attention.{wq,wk,wv,wo}, layers.N.feed_forward.{w1,w2}, output), built only from
// nn::Linear so that LoRA attaches to it the way it attaches to the real models.
#pragma once

#include <memory>
#include <string>

#include "nabla/nn/nn.h"
#include "nabla/ops/ops.h"

namespace nabla::testing {

struct Attention : nn::Module {
  explicit Attention(int64_t dim) {
    for (const char* n : {"wq", "wk", "wv", "wo"}) {
      w.push_back(register_module(n, std::make_shared<nn::Linear>(dim, dim, false)));
    }
  }
  // x (B, T, dim): a gated mix standing in for attention; only the Linears matter here.
  Tensor forward(const Tensor& x) override {
    return w[3]->forward(w[0]->forward(x) * w[1]->forward(x).sigmoid() + w[2]->forward(x));
  }
  std::vector<std::shared_ptr<nn::Linear>> w;
};

struct FeedForward : nn::Module {
  FeedForward(int64_t dim, int64_t hidden) {
    w1 = register_module("w1", std::make_shared<nn::Linear>(dim, hidden, false));
    w2 = register_module("w2", std::make_shared<nn::Linear>(hidden, dim, false));
  }
  Tensor forward(const Tensor& x) override { return w2->forward(w1->forward(x).relu()); }
  std::shared_ptr<nn::Linear> w1, w2;
};

struct Layer : nn::Module {
  Layer(int64_t dim, int64_t hidden) {
    attention = register_module("attention", std::make_shared<Attention>(dim));
    feed_forward = register_module("feed_forward", std::make_shared<FeedForward>(dim, hidden));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor h = x + attention->forward(x);
    return h + feed_forward->forward(h);
  }
  std::shared_ptr<Attention> attention;
  std::shared_ptr<FeedForward> feed_forward;
};

/// x (B, T, dim) -> (B, T, vocab).
struct TinyLlama : nn::Module {
  TinyLlama(int64_t n_layers = 2, int64_t dim = 8, int64_t hidden = 12, int64_t vocab = 11) {
    layers = register_module("layers", std::make_shared<nn::Sequential>());
    for (int64_t i = 0; i < n_layers; ++i) {
      layers->push_back(std::make_shared<Layer>(dim, hidden));
    }
    norm_weight = register_parameter("norm_weight", ones({dim}));
    output = register_module("output", std::make_shared<nn::Linear>(dim, vocab, false));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = x;
    for (const auto& layer : layers->children()) h = layer->forward(h);
    return output->forward(h * norm_weight);
  }
  std::shared_ptr<nn::Sequential> layers;
  Tensor norm_weight;
  std::shared_ptr<nn::Linear> output;
};

}  // namespace nabla::testing
