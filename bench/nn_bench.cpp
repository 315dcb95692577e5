// nn functional kernels at GPT-2 124M sizes (B*T = 4096 rows, C = 768, V = 50257), f32:
// layer_norm forward/backward, cross_entropy forward/backward on 256 rows of logits, and the
// embedding gather/scatter. Compare with PyTorch on the same machine via bench/torch_env.sh.
// Run briefly: ./build/bench/nn_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <vector>

#include "nabla/kernels/cpu/cross_entropy.h"
#include "nabla/kernels/cpu/embedding.h"
#include "nabla/kernels/cpu/layer_norm.h"

namespace {

constexpr int64_t kRows = 4096, kC = 768, kV = 50257, kLogitRows = 256;

std::vector<float> ramp(int64_t n, float scale) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = scale * static_cast<float>((i * 7919) % 1000 - 500) / 500.0f;
  return v;
}

void BM_layer_norm_forward(benchmark::State& state) {
  const auto x = ramp(kRows * kC, 2.0f), w = ramp(kC, 1.0f), b = ramp(kC, 0.5f);
  std::vector<float> y(x.size()), mean(kRows), rstd(kRows);
  for (auto _ : state) {
    nabla::kernels::cpu::layer_norm_forward<float>(y.data(), mean.data(), rstd.data(), x.data(), w.data(),
                                                   b.data(), kRows, kC, 1e-5);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * kRows * kC * 8);
}
BENCHMARK(BM_layer_norm_forward)->Unit(benchmark::kMicrosecond);

void BM_layer_norm_backward(benchmark::State& state) {
  const auto x = ramp(kRows * kC, 2.0f), w = ramp(kC, 1.0f), dy = ramp(kRows * kC, 0.1f);
  std::vector<float> y(x.size()), mean(kRows), rstd(kRows), dx(x.size()), dw(kC), db(kC);
  nabla::kernels::cpu::layer_norm_forward<float>(y.data(), mean.data(), rstd.data(), x.data(), w.data(),
                                                 nullptr, kRows, kC, 1e-5);
  for (auto _ : state) {
    nabla::kernels::cpu::layer_norm_backward<float>(dx.data(), dw.data(), db.data(), dy.data(), x.data(),
                                                    w.data(), mean.data(), rstd.data(), kRows, kC);
    benchmark::DoNotOptimize(dx.data());
  }
  state.SetBytesProcessed(state.iterations() * kRows * kC * 12);
}
BENCHMARK(BM_layer_norm_backward)->Unit(benchmark::kMicrosecond);

void BM_cross_entropy_forward(benchmark::State& state) {
  const auto logits = ramp(kLogitRows * kV, 5.0f);
  std::vector<int64_t> target(kLogitRows);
  for (int64_t i = 0; i < kLogitRows; ++i) target[static_cast<size_t>(i)] = (i * 131) % kV;
  std::vector<float> loss(kLogitRows), lse(kLogitRows);
  for (auto _ : state) {
    nabla::kernels::cpu::cross_entropy_forward<float>(loss.data(), lse.data(), logits.data(), target.data(),
                                                      kLogitRows, kV, 1, -100, 0.0);
    benchmark::DoNotOptimize(loss.data());
  }
  state.SetBytesProcessed(state.iterations() * kLogitRows * kV * 4);
}
BENCHMARK(BM_cross_entropy_forward)->Unit(benchmark::kMicrosecond);

void BM_cross_entropy_backward(benchmark::State& state) {
  const auto logits = ramp(kLogitRows * kV, 5.0f);
  std::vector<int64_t> target(kLogitRows);
  for (int64_t i = 0; i < kLogitRows; ++i) target[static_cast<size_t>(i)] = (i * 131) % kV;
  std::vector<float> loss(kLogitRows), lse(kLogitRows), dlogits(logits.size());
  nabla::kernels::cpu::cross_entropy_forward<float>(loss.data(), lse.data(), logits.data(), target.data(),
                                                    kLogitRows, kV, 1, -100, 0.0);
  const float dy = 1.0f;
  for (auto _ : state) {
    nabla::kernels::cpu::cross_entropy_backward<float>(dlogits.data(), &dy, 0, 1.0 / kLogitRows, logits.data(),
                                                       lse.data(), target.data(), kLogitRows, kV, 1, -100, 0.0);
    benchmark::DoNotOptimize(dlogits.data());
  }
  state.SetBytesProcessed(state.iterations() * kLogitRows * kV * 12);
}
BENCHMARK(BM_cross_entropy_backward)->Unit(benchmark::kMicrosecond);

void BM_embedding_backward(benchmark::State& state) {
  const auto dy = ramp(kRows * kC, 0.1f);
  std::vector<int64_t> idx(kRows);
  for (int64_t i = 0; i < kRows; ++i) idx[static_cast<size_t>(i)] = (i * 7919) % kV;
  std::vector<float> dw(static_cast<size_t>(kV * kC));
  for (auto _ : state) {
    nabla::kernels::cpu::embedding_backward<float>(dw.data(), dy.data(), idx.data(), kRows, kV, kC, -1);
    benchmark::DoNotOptimize(dw.data());
  }
}
BENCHMARK(BM_embedding_backward)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
