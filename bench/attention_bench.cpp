// Causal attention forward + backward at GPT-2 124M head shapes (12 heads of 64), f32: the
// fused op (causal_attention) against the unfused ops the models used before it (matmul,
// masked_fill, softmax, matmul; grouped heads expanded). Args: B, T.
// Run briefly: OMP_NUM_THREADS=2 ./build/bench/attention_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <cmath>

#include "nabla/ops/attention.h"
#include "nabla/ops/ops.h"

namespace {

using nabla::Tensor;

Tensor unfused(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  const int64_t Tq = q.size(2), Tk = k.size(2);
  const Tensor mask = nabla::triu(nabla::ones({Tq, Tk}, nabla::kBool), Tk - Tq + 1);
  return (q.matmul(k.transpose(2, 3)) * scale).masked_fill(mask, -INFINITY).softmax(-1).matmul(v);
}

template <bool kFused>
void BM_causal_attention(benchmark::State& state) {
  const int64_t B = state.range(0), T = state.range(1), H = 12, D = 64;
  const Tensor q = nabla::randn({B, H, T, D}).requires_grad_(true);
  const Tensor k = nabla::randn({B, H, T, D}).requires_grad_(true);
  const Tensor v = nabla::randn({B, H, T, D}).requires_grad_(true);
  const Tensor dy = nabla::randn({B, H, T, D});
  for (auto _ : state) {
    const Tensor y = kFused ? nabla::causal_attention(q, k, v, 0.125) : unfused(q, k, v, 0.125);
    y.backward(dy);
    benchmark::DoNotOptimize(q.grad().data<float>());
  }
}
BENCHMARK(BM_causal_attention<true>)->Args({4, 64})->Args({4, 256})->Args({1, 1024})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_causal_attention<false>)->Args({4, 64})->Args({4, 256})->Args({1, 1024})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
