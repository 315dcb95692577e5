// llama2.c checkpoints: the real stories260K.bin, round trips of versions 0 and 1, a
// hand-quantized version-2 file, and every header and size check.
#include "nabla/io/llama2c.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "tests/io/io_test_util.h"
#include "tests/testing/fixture.h"

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

const Llama2cConfig kTiny{.dim = 8, .hidden_dim = 12, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                          .vocab_size = 11, .seq_len = 6, .shared_classifier = true};

Weights random_weights(const Llama2cConfig& c) {
  Weights w("test", "<memory>");
  uint32_t seed = 1;
  for (const auto& [name, shape] : llama2c_tensor_shapes(c)) {
    w.add(name, testing::random_tensor(shape, kFloat32, seed++));
  }
  return w;
}

std::vector<uint8_t> legacy_header(std::vector<int32_t> fields) {
  std::vector<uint8_t> out;
  for (int32_t f : fields) testing::append(&out, f);
  return out;
}

TEST(Llama2c, ReadsStories260K) {
  NABLA_REQUIRE_SHARED_DATA(path, "stories260K.bin");
  const Llama2cCheckpoint ck = load_llama2c(path);
  EXPECT_EQ(ck.version, 0);
  EXPECT_EQ(ck.config, (Llama2cConfig{64, 172, 5, 8, 4, 512, 512, true}));
  EXPECT_EQ(ck.config.kv_dim(), 32);
  EXPECT_EQ(llama2c_file_size(ck.config, 0), 28 + 4 * 264128);
  EXPECT_EQ(ck.weights.size(), 1u + 5 * 9 + 1);  // shared classifier: no output.weight
  EXPECT_FALSE(ck.weights.contains("output.weight"));
  EXPECT_EQ(ck.weights.at("layers.4.attention.wk.weight").shape(), (Shape{32, 64}));
  EXPECT_EQ(ck.weights.at("layers.0.feed_forward.w2.weight").shape(), (Shape{64, 172}));
  // The values are the file's bytes at the documented offsets (README.md order).
  const auto bytes = testing::read_bytes(path);
  auto file_float = [&](int64_t index) {
    float f = 0;
    std::memcpy(&f, bytes.data() + 28 + 4 * index, 4);
    return f;
  };
  EXPECT_EQ(ck.weights.at("tok_embeddings.weight").data<float>()[0], file_float(0));
  const int64_t attn_norm1 = 512 * 64 + 64;  // after the embeddings and layer 0's norm
  EXPECT_EQ(ck.weights.at("layers.1.attention_norm.weight").data<float>()[3], file_float(attn_norm1 + 3));
  EXPECT_EQ(ck.weights.entries()[2].offset, 28 + 4 * attn_norm1);
}

// Writing stories260K back as version 0 reproduces the file: all weights bitwise, the RoPE
// tables (recomputed in f32 like export.py) to float rounding.
TEST(Llama2c, RewritingStories260KReproducesTheFile) {
  NABLA_REQUIRE_SHARED_DATA(path, "stories260K.bin");
  TempDir dir;
  const Llama2cCheckpoint ck = load_llama2c(path);
  save_llama2c(dir.file("copy.bin"), ck.config, ck.weights, 0);
  const auto a = testing::read_bytes(path);
  const auto b = testing::read_bytes(dir.file("copy.bin"));
  ASSERT_EQ(a.size(), b.size());
  // Per layer: attention_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3 (README.md order).
  const int64_t per_layer = 64 + 64 * 64 + 2 * 32 * 64 + 64 * 64 + 64 + 3 * 172 * 64;
  const auto rope_begin = static_cast<size_t>(28 + 4 * (512 * 64 + 5 * per_layer + 64));
  const size_t rope_end = rope_begin + 4 * 2 * 512 * 4;
  ASSERT_EQ(rope_end, a.size());
  EXPECT_TRUE(std::equal(a.begin(), a.begin() + static_cast<int64_t>(rope_begin), b.begin()));
  for (size_t off = rope_begin; off < rope_end; off += 4) {
    float x = 0, y = 0;
    std::memcpy(&x, &a[off], 4);
    std::memcpy(&y, &b[off], 4);
    ASSERT_NEAR(x, y, 2e-4) << "at " << off;  // cos/sin of angles up to 511 rad in f32
  }
}

TEST(Llama2c, RoundTripsVersions0And1BothClassifierModes) {
  TempDir dir;
  for (int version : {0, 1}) {
    for (bool shared : {true, false}) {
      Llama2cConfig c = kTiny;
      c.shared_classifier = shared;
      const Weights w = random_weights(c);
      const std::string path = dir.file(shared ? "shared.bin" : "separate.bin");
      save_llama2c(path, c, w, version);
      EXPECT_EQ(static_cast<int64_t>(testing::read_bytes(path).size()), llama2c_file_size(c, version));
      const Llama2cCheckpoint ck = load_llama2c(path);
      EXPECT_EQ(ck.version, version);
      EXPECT_EQ(ck.config, c);
      ASSERT_EQ(ck.weights.size(), w.size());
      for (const auto& e : w.entries()) EXPECT_TRUE(bitwise_equal(ck.weights.at(e.name), e.tensor)) << e.name;
    }
  }
}

// Version 2 written here as export.py does: norms f32, then all int8 matrices, then all scales.
TEST(Llama2c, ReadsQ80Version2Dequantized) {
  const Llama2cConfig c = kTiny;
  const int32_t group = 4;
  std::vector<uint8_t> f;
  testing::append<uint32_t>(&f, 0x616b3432);
  testing::append<int32_t>(&f, 2);
  for (int64_t v : {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len}) {
    testing::append(&f, static_cast<int32_t>(v));
  }
  f.push_back(1);
  testing::append(&f, group);
  f.resize(256, 0);
  std::vector<std::pair<std::string, Shape>> norms, mats;
  for (const auto& [name, shape] : llama2c_tensor_shapes(c)) {
    (shape.size() == 1 ? norms : mats).emplace_back(name, shape);
  }
  // llama2c_tensor_shapes lists the matrices in file order: tok_embeddings, wq.., wk.., ...
  std::map<std::string, std::vector<float>> expected;
  std::mt19937 gen(5);
  for (const auto& [name, shape] : norms) {
    for (int64_t i = 0; i < numel_of(shape); ++i) {
      const float v = static_cast<float>(gen() % 100) / 10.0f;
      testing::append(&f, v);
      expected[name].push_back(v);
    }
  }
  std::vector<float> scales;
  for (const auto& [name, shape] : mats) {
    const int64_t n = numel_of(shape);
    std::vector<int8_t> q(static_cast<size_t>(n));
    for (auto& x : q) x = static_cast<int8_t>(static_cast<int>(gen() % 255) - 127);
    f.insert(f.end(), reinterpret_cast<uint8_t*>(q.data()), reinterpret_cast<uint8_t*>(q.data()) + n);
    for (int64_t g = 0; g < n / group; ++g) scales.push_back(0.01f * static_cast<float>(g + 1));
    for (int64_t i = 0; i < n; ++i) {
      expected[name].push_back(static_cast<float>(q[i]) * scales[scales.size() - n / group + i / group]);
    }
  }
  for (float s : scales) testing::append(&f, s);
  const Llama2cCheckpoint ck = parse_llama2c(to_storage(f), "q80.bin");
  EXPECT_EQ(ck.version, 2);
  EXPECT_EQ(ck.group_size, 4);
  EXPECT_EQ(ck.config, c);
  ASSERT_EQ(ck.weights.size(), expected.size());
  for (const auto& [name, values] : expected) {
    const Tensor& t = ck.weights.at(name);
    ASSERT_EQ(t.numel(), static_cast<int64_t>(values.size())) << name;
    for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(t.data<float>()[i], values[i]) << name << " " << i;
  }
}

TEST(Llama2c, TruncatedFileReportsBothSizesAndAHint) {
  auto f = legacy_header({64, 172, 5, 8, 4, 512, 512});
  f.resize(1000, 0);
  EXPECT_THAT([&] { parse_llama2c(to_storage(f), "s.bin"); },
              throws("llama2.c: file is 1000 bytes, but a version-0 checkpoint with dim=64, hidden_dim=172, "
                     "n_layers=5, n_heads=8, n_kv_heads=4, vocab_size=512, seq_len=512 (shared classifier) "
                     "is 1056540 bytes (s.bin, offset 1000)\n---> HINT: the file is truncated"));
  f.resize(1056544, 0);
  EXPECT_THAT([&] { parse_llama2c(to_storage(f), "s.bin"); }, throws("the header does not describe this file"));
}

TEST(Llama2c, RejectsAbsurdHeadersBeforeAllocating) {
  auto check = [](std::vector<int32_t> h, const std::string& msg) {
    auto f = legacy_header(std::move(h));
    EXPECT_THAT([&] { parse_llama2c(to_storage(f), "x.bin"); }, throws(msg));
  };
  check({1 << 30, 172, 5, 8, 4, 512, 512}, "header field dim = 1073741824 is outside [1, 65536]");
  check({64, 172, -5, 8, 4, 512, 512}, "header field n_layers = -5 is outside");
  check({64, 172, 5, 8, 0, 512, 512}, "header field n_kv_heads = 0");
  check({64, 172, 5, 8, 4, INT32_MIN, 512}, "header field vocab_size = 2147483648");
  check({64, 172, 5, 7, 7, 512, 512}, "dim must be a multiple of n_heads");
  check({64, 172, 5, 8, 3, 512, 512}, "n_heads of n_kv_heads");
  EXPECT_THAT([] { parse_llama2c(to_storage({1, 2, 3}), "x.bin"); }, throws("file is 3 bytes, smaller than any header"));
  EXPECT_THAT([] { load_llama2c("/nonexistent.bin"); }, throws("cannot open"));
}

TEST(Llama2c, RejectsBadVersionedHeaders) {
  std::vector<uint8_t> f;
  testing::append<uint32_t>(&f, 0x616b3432);
  testing::append<int32_t>(&f, 7);
  f.resize(256, 0);
  EXPECT_THAT([&] { parse_llama2c(to_storage(f), "v.bin"); },
              throws("unsupported version 7 (v.bin, offset 4)\n---> HINT: nabla reads llama2.c versions 0, 1"));
  EXPECT_THAT([&] { parse_llama2c(to_storage({f.begin(), f.begin() + 100}), "v.bin"); },
              throws("smaller than the 256-byte header"));
  TempDir dir;
  save_llama2c(dir.file("v1.bin"), kTiny, random_weights(kTiny), 1);
  auto bytes = testing::read_bytes(dir.file("v1.bin"));
  bytes[36] = 5;
  EXPECT_THAT([&] { parse_llama2c(to_storage(bytes), "v.bin"); }, throws("shared_classifier flag is 5"));
  bytes[36] = 1;
  bytes[4] = 2;  // claims Q8_0 with group_size 0
  EXPECT_THAT([&] { parse_llama2c(to_storage(bytes), "v.bin"); }, throws("Q8_0 group_size 0 is invalid"));
}

TEST(Llama2c, RejectsQ80GroupsThatDoNotTile) {
  std::vector<uint8_t> f;
  testing::append<uint32_t>(&f, 0x616b3432);
  testing::append<int32_t>(&f, 2);
  for (int32_t v : {8, 12, 1, 4, 2, 11, 6}) testing::append(&f, v);
  f.push_back(1);
  testing::append<int32_t>(&f, 7);  // 11 * 8 embeddings are not a multiple of 7
  f.resize(256, 0);
  EXPECT_THAT([&] { parse_llama2c(to_storage(f), "q.bin"); },
              throws("tok_embeddings.weight has 88 elements, not a multiple of group_size 7"));
}

TEST(Llama2c, WriterChecksTensorsBeforeCreatingTheFile) {
  TempDir dir;
  Weights w = random_weights(kTiny);
  Llama2cConfig separate = kTiny;
  separate.shared_classifier = false;
  EXPECT_THAT([&] { save_llama2c(dir.file("a.bin"), separate, w); }, throws("missing tensor output.weight"));
  Llama2cConfig wider = kTiny;
  wider.hidden_dim = 16;
  EXPECT_THAT([&] { save_llama2c(dir.file("a.bin"), wider, w); },
              throws("layers.0.feed_forward.w1.weight is [12, 8] torch.float32 cpu, the config"));
  EXPECT_THAT([&] { save_llama2c(dir.file("a.bin"), kTiny, w, 2); }, throws("can write versions 0 and 1, not 2"));
  EXPECT_TRUE(dir.listing().empty());
}

}  // namespace
}  // namespace nabla::io
