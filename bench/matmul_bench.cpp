// Matrix multiply on GPT-2 124M's linear layers at M = 256 rows (B*T), weights in nn.Linear's
// (out, in) layout: fwd y = x W^T, and the backward products dx = dy W, dW = dy^T x.
// BM_matmul_<dtype>/<pass>_<M>x<K>x<N> times nabla's op (linear / matmul on a transposed
// view); BM_lib_<library>_<dtype>/... times the GEMM kernel forced onto one library, i.e. the
// library paths nabla chooses between. Counter FLOPS = 2 M N K / time (printed as G/s).
// Run briefly (2 shared cores): bench/run_matmul.sh, or
//   ./build/bench/matmul_bench --benchmark_min_time=0.2 --benchmark_filter=f32
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nabla/core/threads.h"
#include "nabla/kernels/cpu/gemm.h"
#include "nabla/ops/creation.h"
#include "nabla/ops/matmul.h"

namespace {

using nabla::Tensor;
using nabla::kernels::cpu::GemmBackend;
using nabla::kernels::cpu::GemmLayout;

struct LinearShape {
  int64_t in, out;
};
// c_attn, mlp c_fc, mlp c_proj, lm_head (tied wte).
constexpr LinearShape kShapes[] = {{768, 2304}, {768, 3072}, {3072, 768}, {768, 50257}};
constexpr int64_t kRows = 256;

enum class Pass { Fwd, Dx, Dw };

// The GEMM (M, N, K) and operands of a pass: fwd x (M,in) W^T; dx dy (M,out) W; dW dy^T x.
struct Problem {
  int64_t M, N, K;
  bool trans_a, trans_b;
};

Problem problem(Pass p, LinearShape s) {
  switch (p) {
    case Pass::Fwd: return {kRows, s.out, s.in, false, true};
    case Pass::Dx: return {kRows, s.in, s.out, false, false};
    case Pass::Dw: return {s.out, s.in, kRows, true, false};
  }
  return {};
}

void set_gflops(benchmark::State& state, const Problem& p) {
  state.counters["FLOPS"] = benchmark::Counter(2.0 * static_cast<double>(p.M * p.N * p.K),
                                               benchmark::Counter::kIsIterationInvariantRate);
}

Tensor transposed(const Tensor& t) {
  return Tensor::make_view(t.storage(), {t.size(1), t.size(0)}, {1, t.size(1)}, t.offset(), t.dtype());
}

// nabla's op, as a model calls it.
void bm_op(benchmark::State& state, Pass pass, LinearShape s, nabla::DType dt) {
  const Tensor x = nabla::randn({kRows, s.in}).to(dt);
  const Tensor w = nabla::randn({s.out, s.in}).mul_(0.02).to(dt);
  const Tensor dy = nabla::randn({kRows, s.out}).to(dt);
  for (auto _ : state) {
    Tensor y;
    switch (pass) {
      case Pass::Fwd: y = nabla::linear(x, w); break;
      case Pass::Dx: y = nabla::matmul(dy, w); break;
      case Pass::Dw: y = nabla::matmul(transposed(dy), x); break;
    }
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_gflops(state, problem(pass, s));
}

// The GEMM kernel on one library (output buffer reused: the library's own speed).
template <typename AB, typename CT>
void bm_lib(benchmark::State& state, Pass pass, LinearShape s, GemmBackend backend) {
  const Problem p = problem(pass, s);
  GemmLayout g{.M = p.M, .N = p.N, .K = p.K, .trans_a = p.trans_a, .trans_b = p.trans_b,
               .lda = p.trans_a ? p.M : p.K, .ldb = p.trans_b ? p.K : p.N, .ldc = p.N};
  g.backend = backend;
  std::vector<AB> a(static_cast<size_t>(p.M * p.K), AB(0.01f)), b(static_cast<size_t>(p.K * p.N), AB(0.02f));
  std::vector<CT> c(static_cast<size_t>(p.M * p.N));
  for (auto _ : state) {
    nabla::kernels::cpu::gemm(g, 1.0f, a.data(), b.data(), 0.0f, c.data());
    benchmark::DoNotOptimize(c.data());
  }
  set_gflops(state, p);
}

std::string shape_name(Pass pass, LinearShape s) {
  const Problem p = problem(pass, s);
  const char* tag = pass == Pass::Fwd ? "fwd" : (pass == Pass::Dx ? "dx" : "dW");
  return std::string(tag) + "_" + std::to_string(p.M) + "x" + std::to_string(p.K) + "x" +
         std::to_string(p.N);
}

void register_all() {
  using nabla::BFloat16;
  for (Pass pass : {Pass::Fwd, Pass::Dx, Pass::Dw}) {
    for (LinearShape s : kShapes) {
      const std::string n = shape_name(pass, s);
      auto reg = [](const std::string& name, auto fn) {
        benchmark::RegisterBenchmark(name.c_str(), fn)->UseRealTime()->Unit(benchmark::kMillisecond);
      };
      reg("BM_matmul_f32/" + n, [=](benchmark::State& st) { bm_op(st, pass, s, nabla::kFloat32); });
      reg("BM_matmul_bf16/" + n, [=](benchmark::State& st) { bm_op(st, pass, s, nabla::kBFloat16); });
      reg("BM_lib_openblas_f32/" + n,
          [=](benchmark::State& st) { bm_lib<float, float>(st, pass, s, GemmBackend::OpenBlas); });
      reg("BM_lib_dnnl_f32/" + n,
          [=](benchmark::State& st) { bm_lib<float, float>(st, pass, s, GemmBackend::Dnnl); });
      reg("BM_lib_dnnl_bf16/" + n, [=](benchmark::State& st) {
        bm_lib<BFloat16, BFloat16>(st, pass, s, GemmBackend::Dnnl);
      });
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  register_all();
  benchmark::AddCustomContext("threads", std::to_string(nabla::get_num_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
