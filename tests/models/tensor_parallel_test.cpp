// Tensor-parallel inference. On one process: column and row shards add up to the whole
// Linear, the head's vocabulary blocks, the checks that name an impossible split. On two
// ranks (TensorParallelMpirun.TwoRanksMatchOneProcess starts this binary under mpirun -np 2
// with --gtest_filter='TensorParallelOnTwoRanks.*'; in a plain run those tests skip): greedy
// tokens and every step's logits of stories260K, a tiny GQA Llama and a tiny GPT-2, split
// over the ranks, against the same model unsplit in the same process; and the checkpoint
// shards the ranks write, against those one process writes.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/rng.h"
#include "nabla/dist/communicator.h"
#include "nabla/generate/generate.h"
#include "nabla/models/gpt2.h"
#include "nabla/models/llama.h"
#include "nabla/models/tensor_parallel.h"
#include "nabla/models/tp_checkpoint.h"
#include "nabla/nn/init.h"
#include "nabla/ops/ops.h"
#include "tests/dist/mpirun_util.h"
#include "tests/testing/fixture.h"

namespace nabla::models {
namespace {

namespace tp = tensor_parallel;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::ThrowsMessage;

// A split sums each row-parallel matmul in N pieces instead of one: the logits move by
// rounding. Measured: at most 7e-7 of the logits' scale (stories260K: 1.3e-5 on logits up to
// 22; the tiny models 4e-7 and 2e-7).
constexpr double kRelTol = 1e-5;

// max |a - b| relative to max |a|: the logits' scale (an element's own relative error means
// nothing for logits near 0).
double max_rel_diff(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = a.to_vector(), y = b.to_vector();
  EXPECT_EQ(x.size(), y.size());
  double worst = 0, scale = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    worst = std::max(worst, std::abs(x[i] - y[i]));
    scale = std::max(scale, std::abs(x[i]));
  }
  return worst / std::max(scale, 1e-30);
}

LlamaConfig tiny_gqa_llama() {
  // 4 query heads sharing 2 key/value heads; an odd vocabulary (padded head blocks), an odd
  // hidden width (ranks hold 22 and 23 units) and an untied head (stories260K's is tied).
  return {.dim = 32, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .vocab_size = 67,
          .hidden_dim = 45, .max_seq_len = 32};
}

std::shared_ptr<Gpt2> tiny_gpt2() {
  Gpt2Config c = Gpt2Config::preset("gpt2-tiny");
  c.vocab_size = 127;  // odd: 64 + 63 rows of the tied head
  auto model = std::make_shared<Gpt2>(c);
  NoGradGuard no_grad;
  // GPT-2 starts with zero biases: non-zero ones check where each shard's bias goes.
  for (auto& [name, p] : model->named_parameters()) {
    if (name.ends_with(".bias")) nn::init::normal_(p, 0.0, 0.1);
  }
  model->eval();
  return model;
}

// ---- one process ------------------------------------------------------------------------

TEST(TensorParallel, ShardRangesCoverInOrder) {
  EXPECT_EQ(tp::shard_range(8, 0, 2), (std::pair<int64_t, int64_t>{0, 4}));
  EXPECT_EQ(tp::shard_range(8, 1, 2), (std::pair<int64_t, int64_t>{4, 4}));
  EXPECT_EQ(tp::shard_range(45, 0, 2), (std::pair<int64_t, int64_t>{0, 22}));
  EXPECT_EQ(tp::shard_range(45, 1, 2), (std::pair<int64_t, int64_t>{22, 23}));
  EXPECT_THROW(tp::shard_range(8, 2, 2), Error);
}

// What the ranks compute, done here one shard after another: the column shards' outputs
// side by side, and the row shards' partial outputs summed, are the whole Linear's output.
TEST(TensorParallel, ColumnAndRowShardsMakeTheWholeLinear) {
  manual_seed(3);
  const int N = 3;
  nn::Linear qkv(8, 3 * 6), proj(10, 5);  // c_attn-like: q | k | v of width 6
  const Tensor x = randn({2, 4, 8}), z = randn({2, 4, 10});
  std::vector<std::vector<Tensor>> cols(3);  // per part (q, k, v), per rank
  Tensor sum = zeros({2, 4, 5});
  for (int r = 0; r < N; ++r) {
    const auto c = tp::column_shard(qkv, r, N, /*parts=*/3);
    EXPECT_EQ(c->weight.shape(), (Shape{6, 8}));
    const std::vector<Tensor> parts = c->forward(x).split(2, 2);
    for (size_t p = 0; p < 3; ++p) cols[p].push_back(parts[p]);
    const auto row = tp::row_shard(proj, r, N);
    const Tensor z_r = z.narrow(2, tp::shard_range(10, r, N).first, row->in_features);
    sum = sum + linear(z_r, row->weight);
  }
  std::vector<Tensor> all;
  for (auto& part : cols) all.push_back(cat(part, 2));
  EXPECT_LE(max_rel_diff(qkv.forward(x), cat(all, 2)), 1e-6);
  EXPECT_LE(max_rel_diff(proj.forward(z), sum + proj.bias), 1e-6);
}

TEST(TensorParallel, VocabShardsArePaddedBlocks) {
  const Tensor w = arange(10, kFloat32).view({5, 2});  // V = 5 over 2 ranks: 3 + 2 rows
  EXPECT_EQ(tp::vocab_shard(w, 0, 2).to_vector(), (std::vector<double>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(tp::vocab_shard(w, 1, 2).to_vector(), (std::vector<double>{6, 7, 8, 9, 0, 0}));
}

TEST(TensorParallel, ImpossibleSplitsNameModelHeadsAndRanks) {
  const LlamaConfig llama = tiny_gqa_llama();
  EXPECT_NO_THROW(llama.check_tensor_parallel(1));
  EXPECT_NO_THROW(llama.check_tensor_parallel(2));
  EXPECT_THAT([&] { llama.check_tensor_parallel(3); },
              ThrowsMessage<Error>(AllOf(HasSubstr("Llama: cannot split the model over 3 ranks"),
                                         HasSubstr("n_kv_heads 2 (n_heads 4)"))));
  EXPECT_THAT([&] { llama.check_tensor_parallel(4); },
              ThrowsMessage<Error>(HasSubstr("n_kv_heads 2 (n_heads 4) is not divisible by 4")));
  const Gpt2Config gpt2 = Gpt2Config::preset("gpt2-tiny");
  EXPECT_NO_THROW(gpt2.check_tensor_parallel(4));
  EXPECT_THAT([&] { gpt2.check_tensor_parallel(3); },
              ThrowsMessage<Error>(AllOf(HasSubstr("GPT2: cannot split the model over 3 ranks"),
                                         HasSubstr("n_head 4 is not divisible by 3"))));
}

TEST(TensorParallel, WorldOfOneLeavesTheModelAlone) {
  if (dist::launched_by_mpi()) GTEST_SKIP() << "checks a plain run";
  manual_seed(1);
  Llama model(tiny_gqa_llama());
  const Tensor tokens = tensor(std::vector<int64_t>{1, 5, 9}).view({1, 3});
  NoGradGuard no_grad;
  const Tensor before = model.forward(tokens);
  model.shard_for_tensor_parallel(dist::Communicator::world());
  EXPECT_EQ(model.forward(tokens).to_vector(), before.to_vector());
  EXPECT_EQ(model.make_cache(1, 4).k[0].size(1), 2);
}

// ---- two ranks --------------------------------------------------------------------------

// Greedy decoding with a KV cache: the prompt's logits (B, T, V) in one pass, then each
// step's (B, 1, V).
struct Trace {
  std::vector<std::vector<double>> tokens;  // per step, (B)
  std::vector<Tensor> logits;
};

Trace greedy_trace(CausalLM& model, const Tensor& prompt /* (B, T) */, int64_t steps) {
  NoGradGuard no_grad;
  const int64_t B = prompt.size(0), T = prompt.size(1);
  KVCache cache = model.make_cache(B, T + steps);
  Trace trace;
  trace.logits.push_back(model.forward(prompt, 0, &cache));
  for (int64_t s = 0; s < steps; ++s) {
    const Tensor last = trace.logits.back();
    const Tensor next = last.select(1, last.size(1) - 1).argmax(-1).view({B, 1});  // (B, 1)
    trace.tokens.push_back(next.to_vector());
    trace.logits.push_back(model.forward(next, T + s, &cache));
  }
  return trace;
}

class TensorParallelOnTwoRanks : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!dist::launched_by_mpi() || dist::Communicator::world().world_size() != 2) {
      GTEST_SKIP() << "runs under mpirun -np 2 (TensorParallelMpirun.TwoRanksMatchOneProcess "
                      "starts it)";
    }
  }

  // The model's greedy trace whole, then split over the two ranks; plus sampled generation
  // with one seed, which must pick the same tokens on both ranks and as the whole model.
  void expect_split_matches_whole(CausalLM& model, const Tensor& prompt, int64_t steps) {
    const Trace whole = greedy_trace(model, prompt, steps);
    const generation::GenerateOptions sampled{.max_gen_len = steps, .temperature = 0.8,
                                              .top_p = 0.95, .seed = 7};
    std::vector<std::vector<int64_t>> rows;
    for (int64_t b = 0; b < prompt.size(0); ++b) {
      std::vector<int64_t> row;
      for (const double id : prompt.select(0, b).to_vector()) {
        row.push_back(static_cast<int64_t>(id));
      }
      rows.push_back(row);
    }
    const auto whole_sampled = generation::generate(model, rows, sampled).tokens;

    model.shard_for_tensor_parallel(comm_);
    const Trace split = greedy_trace(model, prompt, steps);
    EXPECT_EQ(split.tokens, whole.tokens);
    ASSERT_EQ(split.logits.size(), whole.logits.size());
    for (size_t i = 0; i < whole.logits.size(); ++i) {
      ASSERT_EQ(split.logits[i].shape(), whole.logits[i].shape()) << "step " << i;
      EXPECT_LE(max_rel_diff(whole.logits[i], split.logits[i]), kRelTol) << "step " << i;
    }
    const auto split_sampled = generation::generate(model, rows, sampled).tokens;
    EXPECT_EQ(split_sampled, whole_sampled);
    // Both ranks hold the same logits bit for bit (the all-gather hands out the same bytes).
    const Tensor both = comm_.all_gather(split.logits.back().unsqueeze(0));
    EXPECT_EQ(both.select(0, 0).to_vector(), both.select(0, 1).to_vector());
  }

  dist::Communicator& comm_ = dist::Communicator::world();
};

TEST_F(TensorParallelOnTwoRanks, Stories260kMatchesOneProcess) {
  NABLA_REQUIRE_SHARED_DATA(path, "stories260K.bin");
  const auto model = Llama::from_llama2c(path);
  model->eval();
  // "Once upon a time" and a second row of other ids (batch 2, the cache's batch path).
  const Tensor prompt =
      tensor(std::vector<int64_t>{1, 403, 407, 261, 1, 72, 300, 41}).view({2, 4});
  expect_split_matches_whole(*model, prompt, 24);
  EXPECT_EQ(model->make_cache(1, 8).k[0].size(1), 2);  // 4 kv heads, 2 per rank
}

TEST_F(TensorParallelOnTwoRanks, TinyGqaLlamaMatchesOneProcess) {
  manual_seed(11);  // the same weights on both ranks
  Llama model(tiny_gqa_llama());
  model.eval();
  const Tensor prompt =
      tensor(std::vector<int64_t>{3, 17, 42, 8, 60, 1, 2, 33, 9, 4}).view({2, 5});
  expect_split_matches_whole(model, prompt, 12);
  EXPECT_EQ(model.layers[0]->wq->weight.shape(), (Shape{16, 32}));  // 2 of 4 heads of 8
  EXPECT_EQ(model.layers[0]->wk->weight.shape(), (Shape{8, 32}));   // 1 of 2 kv heads
  EXPECT_EQ(model.layers[0]->w2->weight.shape(), (Shape{32, 22 + comm_.rank()}));
  EXPECT_EQ(model.output->weight.shape(), (Shape{34, 32}));         // ceil(67 / 2) rows
}

TEST_F(TensorParallelOnTwoRanks, TinyGpt2MatchesOneProcess) {
  manual_seed(5);
  const auto model = tiny_gpt2();
  const Tensor prompt = tensor(std::vector<int64_t>{0, 17, 99, 126, 5, 64, 3, 12}).view({2, 4});
  expect_split_matches_whole(*model, prompt, 12);
  EXPECT_EQ(model->h[0]->attn->c_attn->weight.shape(), (Shape{96, 64}));  // q|k|v of 2 heads
  EXPECT_EQ(model->h[0]->mlp->c_proj->weight.shape(), (Shape{64, 128}));
}

// Each rank writes its shard of the split model (models/tp_checkpoint.h): the files are byte
// for byte those one process writes from the whole model (untied head of an odd vocabulary:
// the padded row is left out; tied GPT-2 head; three-part c_attn).
TEST_F(TensorParallelOnTwoRanks, RanksWriteTheShardsOneProcessWrites) {
  // The ranks' parent is mpirun: its pid names one folder for both.
  const std::filesystem::path base = std::filesystem::temp_directory_path() /
                                     ("nabla_tp_write_" + std::to_string(::getppid()));
  auto check = [&](CausalLM& whole, CausalLM& split, const std::string& name) {
    const std::string one = (base / (name + "_one")).string();
    const std::string ranks = (base / (name + "_ranks")).string();
    if (comm_.rank() == 0) save_sharded(whole, one, 2);
    split.shard_for_tensor_parallel(comm_);
    save_sharded(split, ranks, comm_);
    if (comm_.rank() != 0) return;
    for (const std::string f : {"model-tp-00000-of-00002.safetensors",
                                "model-tp-00001-of-00002.safetensors", "config.json",
                                "model-tp.index.json"}) {
      auto bytes = [&](const std::string& dir) {
        std::ifstream in(dir + "/" + f, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
      };
      EXPECT_FALSE(bytes(one).empty()) << name << " " << f;
      EXPECT_TRUE(bytes(one) == bytes(ranks)) << name << " " << f;
    }
  };
  manual_seed(11);
  Llama llama_whole(tiny_gqa_llama());
  manual_seed(11);
  Llama llama_split(tiny_gqa_llama());
  check(llama_whole, llama_split, "llama");
  manual_seed(5);
  const auto gpt2_whole = tiny_gpt2();
  manual_seed(5);
  const auto gpt2_split = tiny_gpt2();
  check(*gpt2_whole, *gpt2_split, "gpt2");
  comm_.barrier();
  if (comm_.rank() == 0) std::filesystem::remove_all(base);
}

TEST(TensorParallelMpirun, TwoRanksMatchOneProcess) {
  if (dist::launched_by_mpi()) GTEST_SKIP() << "already under mpirun";
  if (!dist::testing::have_mpirun()) {
    GTEST_SKIP() << "mpirun is not installed (tools/setup.sh installs openmpi-bin)";
  }
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const dist::testing::MpiRun r = dist::testing::mpirun(
      2, "env OMP_NUM_THREADS=1 " + self +
             " --gtest_color=no --gtest_filter='TensorParallelOnTwoRanks.*'",
      120);
  EXPECT_EQ(r.status, 0) << r.out;
  const bool stories = !testing::shared_data_file("stories260K.bin").empty();
  EXPECT_THAT(r.out, HasSubstr(stories ? "[  PASSED  ] 4 tests." : "[  PASSED  ] 3 tests."))
      << r.out;
  if (stories) {
    EXPECT_THAT(r.out, Not(HasSubstr("SKIPPED")));
  }
}

}  // namespace
}  // namespace nabla::models
