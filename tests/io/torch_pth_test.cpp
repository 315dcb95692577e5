// torch.save zip checkpoints: files written by PyTorch (tools/fixtures/llama.py) read back
// exactly; hostile or broken files (foreign globals, compressed entries, truncation, wrong
// magic, absurd sizes) are IoErrors naming the file.
#include "nabla/io/torch_pth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "../testing/fixture.h"
#include "nabla/io/llama2c.h"

namespace nabla::io {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

std::string fixture(const std::string& rel) {
  return std::string(NABLA_FIXTURE_DIR) + "/llama/" + rel;
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::shared_ptr<Storage> buffer(const std::string& bytes) {
  auto s = std::make_shared<Storage>(bytes.size(), Device());
  if (!bytes.empty()) std::memcpy(s->data(), bytes.data(), bytes.size());
  return s;
}

// The shard holds the same values as the llama2.c file written from the same model (both
// come from one PyTorch state dict; bf16 there is exact by construction).
TEST(TorchPth, ReadsTorchSaveShardLikeTheOtherFormats) {
  const Weights w = load_torch_pth(fixture("meta/consolidated.00.pth"));
  EXPECT_EQ(w.format(), "torch.save");
  EXPECT_EQ(w.names().front(), "tok_embeddings.weight");
  EXPECT_TRUE(w.contains("rope.freqs"));
  const Tensor& wq = w.at("layers.0.attention.wq.weight");
  EXPECT_EQ(wq.shape(), (Shape{16, 32}));  // first half of the rows of a (32, 32) matrix
  EXPECT_EQ(wq.dtype(), kBFloat16);
  const Weights ref = load_llama2c(fixture("tiny_v1.bin")).weights;
  const Tensor full = ref.at("layers.0.attention.wq.weight");
  for (int64_t i = 0; i < 16; ++i) {
    for (int64_t j = 0; j < 32; ++j) ASSERT_EQ(wq.at({i, j}), full.at({i, j})) << i << "," << j;
  }
  const Tensor& norm = w.at("norm.weight");
  const Tensor& ref_norm = ref.at("norm.weight");
  for (int64_t i = 0; i < 32; ++i) EXPECT_EQ(norm.at({i}), ref_norm.at({i}));
}

// f16 is widened to f32, bf16 kept, non-contiguous views made dense, views of one storage
// share it, parameters unwrapped: every value as PyTorch saved it.
TEST(TorchPth, ReadsEveryTensorKindAsSaved) {
  const Weights w = load_torch_pth(fixture("kinds.pth"));
  const auto fx = testing::load_fixture("torch_pth");
  ASSERT_EQ(w.size(), fx.tensors.size());
  for (const auto& [name, expected] : fx.tensors) {
    const Tensor& t = w.at(name);
    EXPECT_TRUE(t.is_contiguous()) << name;
    EXPECT_TRUE(testing::all_close(t.to(expected.dtype()), expected, 0, 0)) << name;
  }
  EXPECT_EQ(w.at("f16").dtype(), kFloat32);
  EXPECT_EQ(w.at("bf16_t").dtype(), kBFloat16);
  EXPECT_EQ(w.at("scalar").dim(), 0);
}

TEST(TorchPth, RefusesForeignGlobals) {
  EXPECT_THAT([] { load_torch_pth(fixture("bad/evil_global.pth")); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("global posix.system is not allowed"),
                                           HasSubstr("evil_global.pth"))));
}

TEST(TorchPth, RefusesCompressedEntries) {
  EXPECT_THAT([] { load_torch_pth(fixture("bad/compressed.pth")); },
              ThrowsMessage<IoError>(HasSubstr("is compressed (method 8)")));
}

TEST(TorchPth, TruncatedAndWrongMagicAreErrors) {
  const std::string bytes = read_all(fixture("meta/consolidated.00.pth"));
  for (size_t cut : {size_t{0}, size_t{10}, bytes.size() / 2, bytes.size() - 30}) {
    EXPECT_THROW(parse_torch_pth(buffer(bytes.substr(0, cut)), "cut.pth"), IoError) << cut;
  }
  std::string garbage(4096, 'x');
  EXPECT_THAT([&] { parse_torch_pth(buffer(garbage), "garbage.pth"); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("no zip end-of-central-directory"),
                                           HasSubstr("garbage.pth"))));
}

// Every single-byte corruption of the archive either loads or throws nabla::Error (the fuzz
// target explores far more; this keeps a quick guard in the fast tests).
TEST(TorchPth, CorruptBytesNeverCrash) {
  const std::string bytes = read_all(fixture("meta/consolidated.00.pth"));
  for (size_t at = 0; at < bytes.size(); at += 97) {
    std::string b = bytes;
    b[at] = static_cast<char>(b[at] ^ 0xA5);
    try {
      const Weights w = parse_torch_pth(buffer(b), "corrupt.pth");
      for (const auto& e : w.entries()) (void)e.tensor.contiguous();
    } catch (const Error&) {
    }
  }
}

TEST(TorchPth, AbsurdStorageSizeIsRefused) {
  // Change BININT2 1536 (the embedding storage's numel) into a far larger claim.
  std::string bytes = read_all(fixture("meta/consolidated.00.pth"));
  const std::string pattern = std::string("cpu") + "q\x06M";
  const size_t at = bytes.find(pattern);
  ASSERT_NE(at, std::string::npos);
  bytes[at + pattern.size() + 1] = '\x7f';  // 1536 -> 0x7f00
  EXPECT_THAT([&] { parse_torch_pth(buffer(bytes), "big.pth"); },
              ThrowsMessage<IoError>(HasSubstr("claims 32512 elements but holds 3072 bytes")));
}

}  // namespace
}  // namespace nabla::io
