// llm.c GPT-2 checkpoints: round trips (f32 and bf16), the llm.c layout of the written file
// (transposes, padding rows), and header/size checks.
#include "nabla/io/llmc.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/io/io_test_util.h"

namespace nabla::io {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using testing::bitwise_equal;
using testing::TempDir;

auto throws(const std::string& text) { return ThrowsMessage<IoError>(HasSubstr(text)); }

std::shared_ptr<Storage> to_storage(const std::vector<uint8_t>& bytes) {
  auto s = std::make_shared<Storage>(bytes.size(), Device());
  if (!bytes.empty()) std::memcpy(s->data(), bytes.data(), bytes.size());
  return s;
}

const LlmcConfig kTiny{.max_seq_len = 5, .vocab_size = 7, .num_layers = 2, .num_heads = 2,
                       .channels = 4, .padded_vocab_size = 9, .dtype = kFloat32};

// HF-named random weights for c, in dtype.
Weights random_weights(const LlmcConfig& c, DType dtype) {
  const int64_t C = c.channels;
  Weights w("test", "<memory>");
  uint32_t seed = 1;
  auto add = [&](const std::string& name, Shape s) { w.add(name, testing::random_tensor(s, dtype, seed++)); };
  add("wte.weight", {c.vocab_size, C});
  add("wpe.weight", {c.max_seq_len, C});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    add(h + "ln_1.weight", {C});
    add(h + "ln_1.bias", {C});
    add(h + "attn.c_attn.weight", {C, 3 * C});
    add(h + "attn.c_attn.bias", {3 * C});
    add(h + "attn.c_proj.weight", {C, C});
    add(h + "attn.c_proj.bias", {C});
    add(h + "ln_2.weight", {C});
    add(h + "ln_2.bias", {C});
    add(h + "mlp.c_fc.weight", {C, 4 * C});
    add(h + "mlp.c_fc.bias", {4 * C});
    add(h + "mlp.c_proj.weight", {4 * C, C});
    add(h + "mlp.c_proj.bias", {C});
  }
  add("ln_f.weight", {C});
  add("ln_f.bias", {C});
  return w;
}

TEST(Llmc, RoundTripsF32Bitwise) {
  TempDir dir;
  const Weights w = random_weights(kTiny, kFloat32);
  save_llmc(dir.file("gpt2.bin"), kTiny, w);
  const LlmcCheckpoint ck = load_llmc(dir.file("gpt2.bin"));
  EXPECT_EQ(ck.config, kTiny);
  EXPECT_EQ(ck.weights.names(), w.names());  // Hugging Face order
  for (const auto& e : w.entries()) EXPECT_TRUE(bitwise_equal(ck.weights.at(e.name), e.tensor)) << e.name;
}

TEST(Llmc, RoundTripsBF16Version5) {
  TempDir dir;
  LlmcConfig c = kTiny;
  c.dtype = kBFloat16;
  const Weights w = random_weights(c, kBFloat16);
  save_llmc(dir.file("gpt2.bin"), c, w);
  const auto bytes = testing::read_bytes(dir.file("gpt2.bin"));
  int32_t version = 0;
  std::memcpy(&version, bytes.data() + 4, 4);
  EXPECT_EQ(version, 5);
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), llmc_file_size(c));
  const LlmcCheckpoint ck = load_llmc(dir.file("gpt2.bin"));
  EXPECT_EQ(ck.config, c);
  for (const auto& e : w.entries()) EXPECT_TRUE(bitwise_equal(ck.weights.at(e.name), e.tensor)) << e.name;
}

// The file follows llm.c's layout: header fields, wte padded with zero rows, stacked layers,
// and qkvw stored (3C, C), i.e. transposed relative to HF's c_attn.weight [C, 3C].
TEST(Llmc, WritesTheLlmcLayout) {
  TempDir dir;
  const Weights w = random_weights(kTiny, kFloat32);
  save_llmc(dir.file("gpt2.bin"), kTiny, w);
  const auto bytes = testing::read_bytes(dir.file("gpt2.bin"));
  auto i32 = [&](int i) { int32_t v = 0; std::memcpy(&v, bytes.data() + 4 * i, 4); return v; };
  auto f32 = [&](int64_t index) { float v = 0; std::memcpy(&v, bytes.data() + 1024 + 4 * index, 4); return v; };
  EXPECT_EQ((std::vector<int32_t>{i32(0), i32(1), i32(2), i32(3), i32(4), i32(5), i32(6), i32(7)}),
            (std::vector<int32_t>{20240326, 3, 5, 7, 2, 2, 4, 9}));
  const int64_t C = 4, L = 2, V = 7, Vp = 9, T = 5;
  EXPECT_EQ(f32(1 * C + 2), w.at("wte.weight").data<float>()[1 * C + 2]);
  for (int64_t i = V * C; i < Vp * C; ++i) EXPECT_EQ(f32(i), 0.0f) << "padding row element " << i;
  const int64_t qkvw = Vp * C + T * C + 2 * L * C;  // after wte, wpe, ln1w, ln1b
  const float* hf = w.at("h.1.attn.c_attn.weight").data<float>();  // [C, 3C]
  for (int64_t r = 0; r < 3 * C; ++r) {
    for (int64_t c = 0; c < C; ++c) EXPECT_EQ(f32(qkvw + 3 * C * C + r * C + c), hf[c * 3 * C + r]);
  }
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), llmc_file_size(kTiny));
}

TEST(Llmc, AcceptsNonContiguousAndF64InputsWhenWriting) {
  TempDir dir;
  Weights w = random_weights(kTiny, kFloat32);
  Weights mixed("test", "<memory>");
  for (const auto& e : w.entries()) {
    if (e.name == "h.0.attn.c_proj.weight") {  // the same values through a transposed view
      Tensor t = e.tensor;
      Tensor storage_t = Tensor::empty({4, 4});
      for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) storage_t.data<float>()[j * 4 + i] = t.data<float>()[i * 4 + j];
      }
      mixed.add(e.name, Tensor::make_view(storage_t.storage(), {4, 4}, {1, 4}, 0, kFloat32));
    } else if (e.name == "ln_f.bias") {  // f32 values widened to f64 convert back exactly
      Tensor d = Tensor::empty(e.tensor.shape(), kFloat64);
      for (int64_t i = 0; i < d.numel(); ++i) d.data<double>()[i] = e.tensor.data<float>()[i];
      mixed.add(e.name, d);
    } else {
      mixed.add(e.name, e.tensor);
    }
  }
  save_llmc(dir.file("a.bin"), kTiny, mixed);
  save_llmc(dir.file("b.bin"), kTiny, w);
  EXPECT_EQ(testing::read_bytes(dir.file("a.bin")), testing::read_bytes(dir.file("b.bin")));
}

std::vector<uint8_t> header(std::vector<int32_t> fields) {
  std::vector<uint8_t> out;
  for (int32_t f : fields) testing::append(&out, f);
  out.resize(1024, 0);
  return out;
}

TEST(Llmc, RejectsBadMagicVersionAndFields) {
  auto check = [](std::vector<int32_t> h, const std::string& msg) {
    auto f = header(std::move(h));
    EXPECT_THAT([&] { parse_llmc(to_storage(f), "g.bin"); }, throws(msg));
  };
  check({20240327, 3, 5, 7, 2, 2, 4, 9},
        "llm.c: bad magic 20240327, expected 20240326 (g.bin, offset 0)\n---> HINT: this is not an llm.c");
  check({20240326, 4, 5, 7, 2, 2, 4, 9}, "unsupported version 4 (g.bin, offset 4)");
  check({20240326, 3, 5, 7, 2, 2, 1 << 30, 9}, "header field channels = 1073741824 is outside");
  check({20240326, 3, 5, 7, 0, 2, 4, 9}, "header field num_layers = 0");
  check({20240326, 3, 5, 7, 2, 3, 4, 9}, "channels must be a multiple of num_heads");
  check({20240326, 3, 5, 7, 2, 2, 4, 6}, "padded_vocab_size >= vocab_size");
  EXPECT_THAT([] { parse_llmc(to_storage({1, 2}), "g.bin"); }, throws("smaller than the 1024-byte header"));
}

TEST(Llmc, TruncatedFileReportsBothSizes) {
  TempDir dir;
  save_llmc(dir.file("gpt2.bin"), kTiny, random_weights(kTiny, kFloat32));
  auto bytes = testing::read_bytes(dir.file("gpt2.bin"));
  const auto full = static_cast<int64_t>(bytes.size());
  bytes.resize(bytes.size() - 4);
  EXPECT_THAT([&] { parse_llmc(to_storage(bytes), "g.bin"); },
              throws("file is " + std::to_string(full - 4) + " bytes, but a checkpoint with max_seq_len=5, "
                     "vocab_size=7, num_layers=2, num_heads=2, channels=4, padded_vocab_size=9, "
                     "torch.float32 is " + std::to_string(full) + " bytes"));
  EXPECT_THAT([&] { parse_llmc(to_storage(bytes), "g.bin"); }, throws("---> HINT: the file is truncated"));
}

TEST(Llmc, WriterChecksEveryTensorFirst) {
  TempDir dir;
  Weights w = random_weights(kTiny, kFloat32);
  LlmcConfig c = kTiny;
  c.num_layers = 3;
  EXPECT_THAT([&] { save_llmc(dir.file("x.bin"), c, w); }, throws("missing tensor h.2.ln_1.weight"));
  Weights bad("test", "<memory>");
  for (const auto& e : w.entries()) {
    bad.add(e.name, e.name == "h.0.mlp.c_fc.weight" ? Tensor::empty({16, 4}) : e.tensor);
  }
  EXPECT_THAT([&] { save_llmc(dir.file("x.bin"), kTiny, bad); },
              throws("llm.c: h.0.mlp.c_fc.weight is [16, 4] torch.float32 cpu, the config"));
  EXPECT_TRUE(dir.listing().empty());
}

}  // namespace
}  // namespace nabla::io
