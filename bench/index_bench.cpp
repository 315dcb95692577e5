// Copies and indexing at GPT-2 sizes (f32): cat, stack, index_select (embedding rows),
// gather, contiguous() of a transposed matrix and of a (B, T, NH, HS) -> (B, NH, T, HS) permute,
// and the random fills. All are memory-bound: watch bytes/s (reported as bytes_per_second).
// Run briefly: ./build/bench/index_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include "nabla/ops/creation.h"
#include "nabla/ops/view.h"

namespace {

using nabla::Tensor;

constexpr int64_t T = 1024, C = 768, V = 50257, B = 4, NH = 12, HS = 64;

void set_bytes(benchmark::State& state, int64_t bytes) {
  state.SetBytesProcessed(state.iterations() * bytes);
}

void BM_cat(benchmark::State& state) {
  const int64_t dim = state.range(0);
  Tensor a = nabla::rand({B * T, C}), b = nabla::rand({B * T, C});
  for (auto _ : state) benchmark::DoNotOptimize(nabla::cat({a, b}, dim));
  set_bytes(state, 2 * a.nbytes() * 2);  // read both, write both
}
BENCHMARK(BM_cat)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_stack(benchmark::State& state) {
  Tensor a = nabla::rand({B * T, C}), b = nabla::rand({B * T, C});
  for (auto _ : state) benchmark::DoNotOptimize(nabla::stack({a, b}, 0));
  set_bytes(state, 2 * a.nbytes() * 2);
}
BENCHMARK(BM_stack)->Unit(benchmark::kMillisecond);

void BM_index_select(benchmark::State& state) {
  Tensor wte = nabla::rand({V, C});
  Tensor idx = nabla::randint(0, V, {B * T});
  for (auto _ : state) benchmark::DoNotOptimize(wte.index_select(0, idx));
  set_bytes(state, 2 * B * T * C * 4);
}
BENCHMARK(BM_index_select)->Unit(benchmark::kMillisecond);

void BM_gather(benchmark::State& state) {
  Tensor x = nabla::rand({B * T, C});
  Tensor idx = nabla::randint(0, C, {B * T, C});
  for (auto _ : state) benchmark::DoNotOptimize(x.gather(1, idx));
  set_bytes(state, x.nbytes() * 2 + idx.nbytes());
}
BENCHMARK(BM_gather)->Unit(benchmark::kMillisecond);

void BM_contiguous_transpose(benchmark::State& state) {
  Tensor m = nabla::rand({2048, 2048});
  for (auto _ : state) benchmark::DoNotOptimize(m.t().contiguous());
  set_bytes(state, m.nbytes() * 2);
}
BENCHMARK(BM_contiguous_transpose)->Unit(benchmark::kMillisecond);

void BM_contiguous_heads(benchmark::State& state) {
  Tensor q = nabla::rand({B, T, NH, HS});
  for (auto _ : state) benchmark::DoNotOptimize(q.transpose(1, 2).contiguous());
  set_bytes(state, q.nbytes() * 2);
}
BENCHMARK(BM_contiguous_heads)->Unit(benchmark::kMillisecond);

void BM_rand(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(nabla::rand({B * T, C}));
  set_bytes(state, B * T * C * 4);
}
BENCHMARK(BM_rand)->Unit(benchmark::kMillisecond);

void BM_randn(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(nabla::randn({B * T, C}));
  set_bytes(state, B * T * C * 4);
}
BENCHMARK(BM_randn)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
