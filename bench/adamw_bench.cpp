// AdamW update throughput on GPT-2 124M's parameter tensors (f32): the fused kernel alone and
// the full optim::AdamW::step(). Bytes per element: read p, g, m, v and write p, m, v = 28, so
// GB/s = 28 * numel / time; the update is memory-bound and this is the number to watch.
// Run briefly: ./build/bench/adamw_bench --benchmark_min_time=1 (the first step allocates).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "nabla/kernels/cpu/adamw.h"
#include "nabla/kernels/cpu/copy.h"
#include "nabla/optim/adam.h"

namespace {

// GPT-2 124M (n_layer 12, n_embd 768, vocab 50257, block 1024, lm_head tied to wte):
// 124,439,808 parameters in 148 tensors.
std::vector<nabla::Shape> gpt2_124m_shapes() {
  const int64_t C = 768, V = 50257, T = 1024;
  std::vector<nabla::Shape> shapes{{V, C}, {T, C}};
  for (int l = 0; l < 12; ++l) {
    for (const nabla::Shape& s : std::vector<nabla::Shape>{
             {C}, {C}, {C, 3 * C}, {3 * C}, {C, C}, {C}, {C}, {C}, {C, 4 * C}, {4 * C},
             {4 * C, C}, {C}}) {
      shapes.push_back(s);
    }
  }
  shapes.push_back({C});
  shapes.push_back({C});
  return shapes;
}

nabla::Tensor filled(const nabla::Shape& shape, double value) {
  nabla::Tensor t = nabla::Tensor::empty(shape);
  nabla::kernels::cpu::fill(t.raw_data(), t.dtype(), value, t.numel());
  return t;
}

struct Buffers {
  std::vector<nabla::Tensor> p, g, m, v;
  int64_t numel = 0;
  Buffers() {
    for (const nabla::Shape& s : gpt2_124m_shapes()) {
      p.push_back(filled(s, 0.02));
      g.push_back(filled(s, 1e-3));
      m.push_back(filled(s, 0.0));
      v.push_back(filled(s, 0.0));
      numel += p.back().numel();
    }
  }
};

void report(benchmark::State& state, int64_t numel) {
  state.SetBytesProcessed(state.iterations() * numel * 28);
  state.counters["params"] = static_cast<double>(numel);
}

// One kernel call (and one parallel region) per tensor.
void BM_adamw_update(benchmark::State& state) {
  Buffers b;
  int64_t step = 0;
  for (auto _ : state) {
    ++step;
    for (size_t i = 0; i < b.p.size(); ++i) {
      nabla::kernels::cpu::adamw_update(b.p[i].data<float>(), b.g[i].data<float>(),
                                        b.m[i].data<float>(), b.v[i].data<float>(),
                                        b.p[i].numel(), 6e-4, 0.9, 0.95, 1e-8, 0.1, step);
    }
    benchmark::ClobberMemory();
  }
  report(state, b.numel);
}
BENCHMARK(BM_adamw_update)->Unit(benchmark::kMillisecond)->UseRealTime();

// All tensors in one multi-tensor call, as optim::AdamW::step() makes it.
void BM_adam_update_multi(benchmark::State& state) {
  Buffers b;
  std::vector<nabla::kernels::cpu::AdamTensor<float>> list;
  for (size_t i = 0; i < b.p.size(); ++i) {
    list.push_back({b.p[i].data<float>(), b.g[i].data<float>(), b.m[i].data<float>(),
                    b.v[i].data<float>(), b.p[i].numel(),
                    {.lr = 6e-4, .beta1 = 0.9, .beta2 = 0.95, .weight_decay = 0.1, .step = 0}});
  }
  for (auto _ : state) {
    for (auto& x : list) ++x.h.step;
    nabla::kernels::cpu::adam_update_multi(
        std::span<const nabla::kernels::cpu::AdamTensor<float>>(list), /*decoupled=*/true);
    benchmark::ClobberMemory();
  }
  report(state, b.numel);
}
BENCHMARK(BM_adam_update_multi)->Unit(benchmark::kMillisecond)->UseRealTime();

// The optimizer: per-parameter dispatch, state lookup and version bumps on top of the kernel.
void BM_adamw_step(benchmark::State& state) {
  Buffers b;
  for (size_t i = 0; i < b.p.size(); ++i) {
    b.p[i].requires_grad_();
    b.p[i].set_grad(b.g[i]);
  }
  b.m.clear();
  b.v.clear();
  nabla::optim::AdamW opt(b.p, {.lr = 6e-4, .betas = {0.9, 0.95}, .weight_decay = 0.1});
  opt.step();  // allocates the moments
  for (auto _ : state) {
    opt.step();
    benchmark::ClobberMemory();
  }
  report(state, b.numel);
}
BENCHMARK(BM_adamw_step)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
