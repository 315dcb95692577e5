// LoRA against full fine-tuning of llama2.c's stories260K, and the PyTorch twin
// bench/lora_torch.py: the same model, windows (16 x 128 tokens of a `nabla prepare` dataset),
// initial lora_A (splitmix64 streams both programs implement) and AdamW recipe (lr 3e-3,
// betas 0.9/0.999, no decay or clipping), so losses agree step for step and only time and memory
// differ. Prints one JSON line: wall and CPU ms/step (steps 6.. when there are more than 10),
// peak RSS, trainable parameters, first/final train loss, val loss over every window of val.bin.
// Usage: OMP_NUM_THREADS=2 ./build/bench/lora_bench MODEL DATA_DIR lora|full STEPS
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/rng.h"
#include "nabla/core/threads.h"
#include "nabla/data/shard.h"
#include "nabla/lora/lora.h"
#include "nabla/models/llama.h"
#include "nabla/ops/ops.h"
#include "nabla/optim/adam.h"

namespace {

using namespace nabla;  // NOLINT(google-build-using-namespace): a stand-alone program

constexpr int64_t kBatch = 16, kBlock = 128, kRank = 8;
constexpr double kAlpha = 16.0, kLr = 3e-3;

struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

// Windows of kBlock + 1 tokens starting at starts: (B, kBlock + 1) int64.
Tensor windows(const data::Shard& shard, const std::vector<int64_t>& starts) {
  std::vector<int64_t> ids(starts.size() * (kBlock + 1));
  for (size_t b = 0; b < starts.size(); ++b)
    shard.read(starts[b], kBlock + 1, &ids[b * (kBlock + 1)]);
  return tensor(ids).reshape({static_cast<int64_t>(starts.size()), kBlock + 1});
}

Tensor loss_of(models::Llama& model, const Tensor& w, Reduction reduction = Reduction::Mean) {
  const Tensor x = w.narrow(1, 0, kBlock).contiguous(), y = w.narrow(1, 1, kBlock).contiguous();
  const Tensor logits = model.forward(x, 0, nullptr);  // (B, T, V)
  return cross_entropy(logits.reshape({-1, logits.size(-1)}), y.reshape({-1}), reduction);
}

// Mean loss over every whole window of val, in batches of kBatch.
double evaluate(models::Llama& model, const data::Shard& val) {
  NoGradGuard no_grad;
  model.eval();
  const int64_t n = (val.size() - 1) / kBlock;
  double total = 0;
  for (int64_t s = 0; s < n; s += kBatch) {
    std::vector<int64_t> starts;
    for (int64_t i = s; i < std::min(s + kBatch, n); ++i) starts.push_back(i * kBlock);
    total += loss_of(model, windows(val, starts), Reduction::Sum).item();
  }
  model.train();
  return total / static_cast<double>(n * kBlock);
}

// lora_A of every adapter from the shared stream: U(-1/sqrt(in), 1/sqrt(in)), PEFT's
// kaiming_uniform_(a = sqrt(5)), row-major, adapters in module order.
void init_lora_a(nn::Module& model) {
  SplitMix64 stream{1};
  NoGradGuard no_grad;
  for (const auto& [n, a] : lora::lora_adapters(model)) {
    Tensor& w = a->lora_A->weight;
    const double bound = 1.0 / std::sqrt(static_cast<double>(w.size(1)));
    std::vector<float> v(static_cast<size_t>(w.numel()));
    for (float& e : v) e = static_cast<float>((2.0 * stream.uniform() - 1.0) * bound);
    w.copy_(tensor(v).reshape(w.shape()));
  }
}

// CPU seconds of the whole process (all threads): less sensitive than wall time to other
// programs on a shared machine.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double rss_mib() {
  std::ifstream in("/proc/self/statm");
  int64_t size = 0, resident = 0;
  in >> size >> resident;
  return static_cast<double>(resident * sysconf(_SC_PAGESIZE)) / (1 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 || std::stoll(argv[4]) <= 0) {
    std::cerr << "usage: lora_bench MODEL DATA_DIR lora|full STEPS\n";
    return 2;
  }
  const std::string model_path = argv[1], dir = argv[2], mode = argv[3];
  const int64_t steps = std::stoll(argv[4]);
  try {
    manual_seed(0);
    auto model = models::Llama::from_llama2c(model_path);
    if (mode == "lora") {
      lora::apply_lora(*model, {.r = kRank, .alpha = kAlpha, .target_modules = "wq,wv"});
      init_lora_a(*model);
    }
    std::vector<Tensor> params;
    for (const auto& [n, p] : model->named_parameters()) {
      if (p.requires_grad())
        params.push_back(p);
    }
    optim::AdamW opt(params, {.lr = kLr, .betas = {0.9, 0.999}, .eps = 1e-8, .weight_decay = 0.0});
    const data::Shard train = data::Shard::open(dir + "/train.bin");
    const data::Shard val = data::Shard::open(dir + "/val.bin");
    const double val_before = evaluate(*model, val);
    const double rss_setup = rss_mib();
    SplitMix64 stream{2};
    std::vector<double> losses, times, cpu;
    for (int64_t s = 0; s < steps; ++s) {
      const double c0 = cpu_seconds();
      const auto t0 = std::chrono::steady_clock::now();
      std::vector<int64_t> starts;
      for (int64_t b = 0; b < kBatch; ++b)
        starts.push_back(
            static_cast<int64_t>(stream.next() % static_cast<uint64_t>(train.size() - kBlock)));
      const Tensor loss = loss_of(*model, windows(train, starts));
      opt.zero_grad(true);
      loss.backward();
      opt.step();
      losses.push_back(loss.item());
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      cpu.push_back(cpu_seconds() - c0);
    }
    const size_t skip = times.size() > 10 ? 5 : 0;
    double sum = 0, cpu_sum = 0;
    for (size_t i = skip; i < times.size(); ++i) {
      sum += times[i];
      cpu_sum += cpu[i];
    }
    const auto timed = static_cast<double>(times.size() - skip);
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const lora::TrainableParameters tp = lora::trainable_parameters(*model);
    std::printf(
        "{\"impl\": \"nabla\", \"mode\": \"%s\", \"threads\": %d, \"steps\": %lld, "
        "\"ms_per_step\": %.3f, \"cpu_ms_per_step\": %.3f, \"trainable_params\": %lld, "
        "\"all_params\": %lld, "
        "\"first_loss\": %.6f, \"final_loss\": %.6f, \"val_before\": %.6f, \"val_after\": %.6f, "
        "\"rss_setup_mib\": %.1f, \"peak_rss_mib\": %.1f}\n",
        mode.c_str(), get_num_threads(), static_cast<long long>(steps), 1e3 * sum / timed,
        1e3 * cpu_sum / timed, static_cast<long long>(tp.trainable),
        static_cast<long long>(tp.total), losses.front(), losses.back(), val_before,
        evaluate(*model, val), rss_setup, static_cast<double>(ru.ru_maxrss) / 1024.0);
  } catch (const std::exception& e) {
    std::cerr << "lora_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
