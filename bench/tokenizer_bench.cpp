// Tokenizer throughput on tinyshakespeare.txt (1.1 MB), one thread, in bytes/s: GPT-2 BPE with
// a warm and a cold per-piece cache, and llama2.c's tok512. Data: $NABLA_DATA_DIR or
// ../shared/data beside the repository.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "nabla/tokenizers/gpt2_bpe.h"
#include "nabla/tokenizers/llama2c_tokenizer.h"

namespace {

std::string data_file(const std::string& name) {
  const char* env = std::getenv("NABLA_DATA_DIR");
  const std::filesystem::path dir =
      env ? std::filesystem::path(env)
          : std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "shared" / "data";
  const std::filesystem::path p = dir / name;
  return std::filesystem::exists(p) ? p.string() : std::string();
}

const std::string& corpus() {
  static const std::string text = [] {
    std::ifstream in(data_file("tinyshakespeare.txt"), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }();
  return text;
}

const nabla::tokenizers::GPT2Tokenizer* gpt2() {
  static const auto tok = [] {
    const std::string enc = data_file("gpt2_encoder.json"), bpe = data_file("gpt2_vocab.bpe");
    return enc.empty() || bpe.empty()
               ? nullptr
               : std::make_unique<nabla::tokenizers::GPT2Tokenizer>(enc, bpe);
  }();
  return tok.get();
}

void BM_gpt2_encode(benchmark::State& state) {
  const bool cold = state.range(0) != 0;
  const auto* tok = gpt2();
  if (tok == nullptr || corpus().empty()) {
    state.SkipWithError("GPT-2 files or tinyshakespeare.txt not found (set NABLA_DATA_DIR)");
    return;
  }
  size_t n = 0;
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      tok->clear_cache();
      state.ResumeTiming();
    }
    const std::vector<int32_t> ids = tok->encode(corpus());
    n = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus().size()));
  state.counters["tokens"] = static_cast<double>(n);
}
BENCHMARK(BM_gpt2_encode)->ArgName("cold")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_gpt2_decode(benchmark::State& state) {
  const auto* tok = gpt2();
  if (tok == nullptr || corpus().empty()) {
    state.SkipWithError("GPT-2 files or tinyshakespeare.txt not found (set NABLA_DATA_DIR)");
    return;
  }
  const std::vector<int32_t> ids = tok->encode(corpus());
  for (auto _ : state) {
    const std::string text = tok->decode(ids);
    benchmark::DoNotOptimize(text.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus().size()));
}
BENCHMARK(BM_gpt2_decode)->Unit(benchmark::kMillisecond);

void BM_llama2c_encode(benchmark::State& state) {
  const std::string path = data_file("tok512.bin");
  if (path.empty() || corpus().empty()) {
    state.SkipWithError("tok512.bin or tinyshakespeare.txt not found (set NABLA_DATA_DIR)");
    return;
  }
  const auto tok = nabla::tokenizers::Llama2cTokenizer::load(path, 512);
  for (auto _ : state) {
    const std::vector<int32_t> ids = tok.encode(corpus());
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus().size()));
}
BENCHMARK(BM_llama2c_encode)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
