// `nabla bench` end to end on tiny models: the JSON fields exist and agree with each other
// (tokens/s from ms/step, the parameter count of the model built), and bad flags fail with a
// message. Speed itself is measured by bench/compare.py, never asserted here.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "nabla/models/gpt2.h"
#include "tests/cli/run_command.h"
#include "tests/testing/fixture.h"
#include "tests/tokenizers/helpers.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;

using testing::CliResult;

CliResult run_nabla(const std::string& args) {
  return testing::run_command("OMP_NUM_THREADS=1 " + testing::nabla_program() + " " + args +
                              " < /dev/null 2>&1");
}

// One JSON object per line of out.
std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::istringstream lines(out);
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

class CmdBench : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(std::string(NABLA_BINARY_DIR) + "/nabla")) {
      GTEST_SKIP() << "the nabla binary is not built";
    }
  }
};

TEST_F(CmdBench, TrainReportsConsistentJson) {
  const CliResult r = run_nabla(
      "bench train --model gpt2-tiny --batch-size 3 --seq-len 16 --steps 3 --warmup 1 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["bench"], "train");
  EXPECT_EQ(j["model"], "gpt2-tiny");
  EXPECT_EQ(j["params"].get<int64_t>(),
            models::Gpt2(models::Gpt2Config::preset("gpt2-tiny")).num_parameters());
  EXPECT_EQ(j["batch"], 3);
  EXPECT_EQ(j["seq_len"], 16);
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["steps"], 3);
  const double ms = j["ms_per_step"].get<double>();
  ASSERT_GT(ms, 0.0);
  EXPECT_LE(j["ms_min"].get<double>(), ms);
  EXPECT_NEAR(j["tokens_per_s"].get<double>(), 3 * 16 / (ms / 1e3), 1e-3 * 3 * 16 / (ms / 1e3));
  // Random tokens over 128 ids: the loss stays near ln(128) = 4.85 in 4 steps.
  EXPECT_NEAR(j["loss"].get<double>(), std::log(128.0), 0.3);
  EXPECT_GT(j["peak_rss_mb"].get<double>(), 1.0);
}

TEST_F(CmdBench, DecodeReportsConsistentJson) {
  const CliResult r = run_nabla(
      "bench decode --model gpt2-tiny --batch-size 2 --steps 5 --warmup 2 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["bench"], "decode");
  EXPECT_EQ(j["batch"], 2);
  EXPECT_EQ(j["steps"], 5);
  const double ms = j["ms_per_step"].get<double>();
  ASSERT_GT(ms, 0.0);
  EXPECT_NEAR(j["tokens_per_s"].get<double>(), 2 / (ms / 1e3), 1e-3 * 2 / (ms / 1e3));
  EXPECT_GT(j["peak_rss_mb"].get<double>(), 1.0);
}

TEST_F(CmdBench, PlainOutputIsOneLine) {
  const CliResult r = run_nabla("bench decode --model gpt2-tiny --steps 2 --warmup 0");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("bench=decode  model=gpt2-tiny"));
  EXPECT_THAT(r.out, HasSubstr("tokens_per_s="));
}

// The set without a mode: the measured peak first, then one row per case, each run in its own
// process, with MFU = the case's GFLOP/s over that peak.
TEST_F(CmdBench, QuickSetReportsEachCaseWithMfu) {
  const CliResult r = run_nabla("bench --set quick --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const std::vector<nlohmann::json> rows = json_lines(r.out);
  ASSERT_EQ(rows.size(), 3u) << r.out;
  EXPECT_EQ(rows[0]["bench"], "peak");
  EXPECT_EQ(rows[0]["threads"], 1);
  const double peak = rows[0]["f32_gflop_per_s"].get<double>();
  ASSERT_GT(peak, 0.0);
  EXPECT_EQ(rows[1]["bench"], "train");
  EXPECT_EQ(rows[1]["model"], "gpt2-baby");
  EXPECT_EQ(rows[2]["bench"], "decode");
  EXPECT_EQ(rows[2]["model"], "stories15M");
  for (size_t i = 1; i < rows.size(); ++i) {
    const double gflops = rows[i]["gflop_per_s"].get<double>();
    ASSERT_GT(gflops, 0.0) << rows[i];
    EXPECT_NEAR(rows[i]["mfu"].get<double>(), gflops / peak, 1e-9) << rows[i];
    EXPECT_GT(rows[i]["peak_rss_mb"].get<double>(), 1.0);
  }
  // decoding: 2 flops per parameter per token
  EXPECT_NEAR(rows[2]["gflop_per_s"].get<double>(),
              2.0 * rows[2]["params"].get<double>() * rows[2]["tokens_per_s"].get<double>() / 1e9,
              1e-3 * rows[2]["gflop_per_s"].get<double>());

  const CliResult table = run_nabla("bench --set quick");
  ASSERT_EQ(table.status, 0) << table.out;
  EXPECT_THAT(table.out, HasSubstr("measured peak, 1 threads: f32 FMA "));
  EXPECT_THAT(table.out, HasSubstr("| bench | model | shape | ms/step | tok/s | GFLOP/s | MFU |"));
  EXPECT_THAT(table.out, HasSubstr("| train | gpt2-baby | B=12 T=64 |"));
  EXPECT_THAT(table.out, HasSubstr("| decode | stories15M | B=1 |"));
}

// bench/compare.py takes the set from --list: the cases that `nabla bench` runs, not run.
TEST_F(CmdBench, ListPrintsTheSetsCasesWithoutRunningThem) {
  const CliResult r = run_nabla("bench --list --set quick");
  ASSERT_EQ(r.status, 0) << r.out;
  const std::vector<nlohmann::json> cases = json_lines(r.out);
  ASSERT_EQ(cases.size(), 2u) << r.out;
  EXPECT_EQ(cases[0]["bench"], "train");
  EXPECT_EQ(cases[1]["bench"], "decode");
  const auto args = cases[1]["args"].get<std::vector<std::string>>();
  EXPECT_THAT(args, ::testing::ElementsAre("--model", "stories15M", "--batch-size", "1",
                                           "--steps", "16"));
  const CliResult standard = run_nabla("bench --list");
  ASSERT_EQ(standard.status, 0) << standard.out;
  EXPECT_EQ(std::count(standard.out.begin(), standard.out.end(), '\n'), 8) << standard.out;
  const CliResult bad = run_nabla("bench train --list");
  EXPECT_NE(bad.status, 0);
  EXPECT_THAT(bad.out, HasSubstr("bench: --list lists the standard set's cases; it takes no mode"));
}

// The quality side of --dtype on a real model: stories260K over the first 8 x 4 x 64 tokens of
// tinyshakespeare's validation split. bf16 and int8 weights cost little (measured: +0.02% and
// +0.1% in loss) but are not free.
TEST_F(CmdBench, PerplexityOfPackedWeightsStaysCloseToF32) {
  NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
  NABLA_REQUIRE_SHARED_DATA(text, "tinyshakespeare.txt");
  tokenizers::testing::TempDir dir("cli_bench");
  const std::string data = dir.path() + "/ts";
  ASSERT_EQ(run_nabla("prepare --input " + text + " --tokenizer " + tok + " --out " + data).status,
            0);
  double nll[3];
  const char* dtypes[3] = {"f32", "bf16", "int8"};
  for (int i = 0; i < 3; ++i) {
    const CliResult r = run_nabla("bench perplexity --model " + model + " --data " + data +
                                  " --batch-size 4 --steps 8 --dtype " + dtypes[i] + " --json");
    ASSERT_EQ(r.status, 0) << r.out;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["tokens"], 8 * 4 * 64);
    nll[i] = j["nll"].get<double>();
    EXPECT_NEAR(j["perplexity"].get<double>(), std::exp(nll[i]), 1e-4 * std::exp(nll[i]));
  }
  EXPECT_GT(nll[0], 1.0);  // out of domain: far from a perfect fit
  EXPECT_NE(nll[1], nll[0]);
  EXPECT_NEAR(nll[1], nll[0], 2e-3 * nll[0]);
  EXPECT_NEAR(nll[2], nll[0], 1e-2 * nll[0]);
}

TEST_F(CmdBench, BadFlagsFailWithAMessage) {
  struct Case {
    const char* args;
    const char* message;
  };
  const Case cases[] = {
      {"bench fly", "expected 'train', 'decode', 'perplexity' or no mode (the standard set), "
                    "got 'fly'"},
      {"bench --set huge", "--set must be standard or quick, got 'huge'"},
      {"bench perplexity --model x", "--model and --data are required"},
      {"bench train --dtype int8", "--dtype must be f32 or bf16 for training, got 'int8'"},
      {"bench decode --dtype f16", "expected f32, bf16 or int8, got 'f16'"},
      {"bench train --steps 0", "must be positive"},
      {"bench train --model gpt2-tiny --seq-len 33", "--seq-len 33 is larger than the model's "
                                                     "n_positions 32"},
      {"bench decode --model nope", "--model 'nope' is neither a file nor a preset"},
      {"bench decode --model gpt2-tiny --steps 40", "leave no room in the model's 32 positions"},
      {"bench train --batch-size x", "--batch-size expects an integer, got 'x'"},
      {"bench train --frobnicate 1", "unknown argument '--frobnicate'"},
  };
  for (const Case& c : cases) {
    const CliResult r = run_nabla(c.args);
    EXPECT_EQ(r.status, 1) << c.args << "\n" << r.out;
    EXPECT_THAT(r.out, HasSubstr(c.message)) << c.args;
  }
}

}  // namespace
}  // namespace nabla
