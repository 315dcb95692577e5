// io::Weights: order, checked get() with the file/offset message, unused-name reports.
#include "nabla/io/weights.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/io/io_test_util.h"

namespace nabla::io {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

Weights sample() {
  Weights w("safetensors", "gpt2.safetensors");
  w.add("wte.weight", Tensor::empty({10, 4}), 64);
  w.add("h.0.attn.c_attn.weight", Tensor::empty({768, 2304}), 1024);
  w.add("ln_f.bias", Tensor::empty({4}, kBFloat16), 2048);
  return w;
}

TEST(Weights, KeepsInsertionOrder) {
  const Weights w = sample();
  EXPECT_EQ(w.names(), (std::vector<std::string>{"wte.weight", "h.0.attn.c_attn.weight", "ln_f.bias"}));
  EXPECT_EQ(w.entries()[1].offset, 1024);
  EXPECT_TRUE(w.contains("ln_f.bias"));
  EXPECT_FALSE(w.contains("ln_f.weight"));
}

TEST(Weights, GetChecksShapeNamingFileAndOffset) {
  const Weights w = sample();
  EXPECT_THAT([&] { w.get("h.0.attn.c_attn.weight", {2304, 768}); },
              ThrowsMessage<IoError>(HasSubstr(
                  "safetensors: h.0.attn.c_attn.weight is [768, 2304], model expects [2304, 768] "
                  "(gpt2.safetensors, offset 1024)\n---> HINT:")));
  EXPECT_EQ(w.get("h.0.attn.c_attn.weight", {768, 2304}).shape(), (Shape{768, 2304}));
}

TEST(Weights, GetChecksDtype) {
  const Weights w = sample();
  EXPECT_THAT([&] { w.get("ln_f.bias", {4}, kFloat32); },
              ThrowsMessage<IoError>(HasSubstr("ln_f.bias is torch.bfloat16, model expects torch.float32")));
}

TEST(Weights, MissingNameSaysSo) {
  const Weights w = sample();
  EXPECT_THAT([&] { w.get("lm_head.weight", {10, 4}); },
              ThrowsMessage<IoError>(HasSubstr("missing tensor lm_head.weight (the file has 3 tensors)")));
}

TEST(Weights, ReportsUnusedNames) {
  const Weights w = sample();
  w.get("wte.weight", {10, 4});
  EXPECT_EQ(w.unused(), (std::vector<std::string>{"h.0.attn.c_attn.weight", "ln_f.bias"}));
  EXPECT_THAT([&] { w.check_all_used(); },
              ThrowsMessage<IoError>(HasSubstr("2 tensor(s) not used by the model: h.0.attn.c_attn.weight, ln_f.bias")));
  w.get("h.0.attn.c_attn.weight", {768, 2304});
  w.get("ln_f.bias", {4}, kBFloat16);
  EXPECT_NO_THROW(w.check_all_used());
  w.reset_used();
  EXPECT_EQ(w.unused().size(), 3u);
}

TEST(Weights, RejectsDuplicateNames) {
  Weights w = sample();
  EXPECT_THAT([&] { w.add("wte.weight", Tensor::empty({1})); },
              ThrowsMessage<IoError>(HasSubstr("duplicate tensor name wte.weight")));
}

}  // namespace
}  // namespace nabla::io
