// Decode speed of generation::generate (greedy, KV cache) in tokens/s, batch 1 and 8: the
// real stories260K checkpoint when ../shared/data has it, and random-weight Llamas of the
// stories15M shape (dim 288, 6 layers, 6 heads, vocab 32000) and stories110M shape (dim 768,
// 12 layers, 12 heads). Counter "tok/s" = rows * generated tokens / time.
// Run on an idle machine: OMP_NUM_THREADS=2 NABLA_DATA_DIR=../shared/data
//   ./build/bench/decode_bench --benchmark_min_time=1   (wall-clock rates)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <memory>
#include <vector>

#include "nabla/core/threads.h"
#include "nabla/generate/generate.h"
#include "nabla/generate/load.h"
#include "nabla/models/llama.h"
#include "nabla/ops/creation.h"

namespace {

using nabla::generation::GenerateOptions;

constexpr int64_t kGenLen = 128;

std::shared_ptr<nabla::models::Llama> random_llama(int64_t dim, int64_t hidden, int64_t layers,
                                                   int64_t heads) {
  nabla::manual_seed(0);
  return std::make_shared<nabla::models::Llama>(nabla::models::LlamaConfig{
      .dim = dim, .n_layers = layers, .n_heads = heads, .n_kv_heads = heads,
      .vocab_size = 32000, .hidden_dim = hidden, .max_seq_len = 256, .tie_embeddings = true});
}

void run_decode(benchmark::State& state, nabla::models::CausalLM& model) {
  const int64_t B = state.range(0);
  const std::vector<std::vector<int64_t>> prompts(static_cast<size_t>(B), {1});
  const GenerateOptions o{.max_gen_len = kGenLen, .temperature = 0.0};
  int64_t tokens = 0;
  for (auto _ : state) {
    const auto r = nabla::generation::generate(model, prompts, o);
    for (const auto& row : r.tokens) tokens += static_cast<int64_t>(row.size());
  }
  state.counters["tok/s"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
  state.counters["threads"] = nabla::get_num_threads();
}

void BM_decode_stories260k(benchmark::State& state) {
  const char* dir = std::getenv("NABLA_DATA_DIR");
  const std::string path = std::string(dir ? dir : "../shared/data") + "/stories260K.bin";
  if (!std::filesystem::exists(path)) {
    state.SkipWithError("stories260K.bin not found (set NABLA_DATA_DIR)");
    return;
  }
  static const auto model = nabla::generation::load_causal_lm(path);
  run_decode(state, *model);
}

void BM_decode_stories15m_shape(benchmark::State& state) {
  static const auto model = random_llama(288, 768, 6, 6);
  run_decode(state, *model);
}

void BM_decode_stories110m_shape(benchmark::State& state) {
  static const auto model = random_llama(768, 2048, 12, 12);
  run_decode(state, *model);
}

BENCHMARK(BM_decode_stories260k)->Arg(1)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_decode_stories15m_shape)->Arg(1)->Arg(8)->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_decode_stories110m_shape)->Arg(1)->Arg(8)->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// One sampling step over [B, 32000] logits (temperature 0.6, top-p 0.9): the per-token cost
// that generate() adds to the model's forward when sampling.
void BM_sample_top_p(benchmark::State& state) {
  const int64_t B = state.range(0);
  nabla::Generator gen(0);
  const nabla::Tensor logits = nabla::randn({B, 32000}, {}, &gen).mul_(3.0);
  const nabla::generation::SamplingOptions o{.temperature = 0.6, .top_p = 0.9};
  for (auto _ : state) benchmark::DoNotOptimize(nabla::generation::sample(logits, o, gen));
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(state.iterations() * B),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_sample_top_p)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
