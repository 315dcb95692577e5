// Element-wise ops at GPT-2 124M sizes (B*T = 256 rows, C = 768, 4C = 3072), f32:
// add (same shape and bias row-broadcast), GELU forward/backward, and sum_to (bias grad).
#include <benchmark/benchmark.h>

#include <random>

#include "nabla/autograd/grad_mode.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/reduce.h"

namespace {

using nabla::Tensor;

Tensor random_tensor(const nabla::Shape& shape, uint64_t seed) {
  Tensor t = Tensor::empty(shape, nabla::kFloat32);
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

void set_bytes(benchmark::State& state, int64_t bytes_per_iter) {
  state.SetBytesProcessed(state.iterations() * bytes_per_iter);
}

// (N, C) + (N, C)
void BM_add(benchmark::State& state) {
  const int64_t n = state.range(0), c = state.range(1);
  const Tensor a = random_tensor({n, c}, 1), b = random_tensor({n, c}, 2);
  for (auto _ : state) benchmark::DoNotOptimize(a + b);
  set_bytes(state, 3 * n * c * 4);
}
BENCHMARK(BM_add)->Args({256, 768})->Args({256, 3072})->UseRealTime();

// (N, C) + (C): the bias add of a linear layer
void BM_add_bias(benchmark::State& state) {
  const int64_t n = state.range(0), c = state.range(1);
  const Tensor a = random_tensor({n, c}, 1), b = random_tensor({c}, 2);
  for (auto _ : state) benchmark::DoNotOptimize(a + b);
  set_bytes(state, 2 * n * c * 4);
}
BENCHMARK(BM_add_bias)->Args({256, 3072})->UseRealTime();

// x * scalar
void BM_mul_scalar(benchmark::State& state) {
  const Tensor a = random_tensor({state.range(0), state.range(1)}, 1);
  for (auto _ : state) benchmark::DoNotOptimize(a * 0.5);
  set_bytes(state, 2 * a.numel() * 4);
}
BENCHMARK(BM_mul_scalar)->Args({256, 3072})->UseRealTime();

// GPT-2's MLP activation: gelu(x, "tanh") on (B*T, 4C)
void BM_gelu_forward(benchmark::State& state) {
  const Tensor x = random_tensor({state.range(0), state.range(1)}, 3);
  const std::string approximate = state.range(2) ? "tanh" : "none";
  for (auto _ : state) benchmark::DoNotOptimize(x.gelu(approximate));
  set_bytes(state, 2 * x.numel() * 4);
}
BENCHMARK(BM_gelu_forward)->Args({256, 3072, 1})->Args({256, 3072, 0})->UseRealTime();

void BM_gelu_backward(benchmark::State& state) {
  Tensor x = random_tensor({state.range(0), state.range(1)}, 4);
  x.requires_grad_();
  const Tensor dy = random_tensor({state.range(0), state.range(1)}, 5);
  for (auto _ : state) {
    x.set_grad(Tensor());
    x.gelu("tanh").backward(dy);
    benchmark::DoNotOptimize(x.grad());
  }
  set_bytes(state, 5 * x.numel() * 4);
}
BENCHMARK(BM_gelu_backward)->Args({256, 3072})->UseRealTime();

// The bias gradient: (N, C) summed to (C)
void BM_sum_to(benchmark::State& state) {
  const Tensor g = random_tensor({state.range(0), state.range(1)}, 6);
  for (auto _ : state) benchmark::DoNotOptimize(nabla::sum_to(g, {state.range(1)}));
  set_bytes(state, g.numel() * 4);
}
BENCHMARK(BM_sum_to)->Args({256, 3072})->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
