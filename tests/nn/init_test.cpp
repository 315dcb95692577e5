// nn::init's loader helpers: SkipInitGuard (no values written, no numbers drawn) and load_
// (a parameter shares a checkpoint tensor's storage when it can, else copies).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "nabla/core/rng.h"
#include "nabla/nn/nn.h"
#include "nabla/ops/ops.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

TEST(SkipInitGuard, LeavesTensorsAndTheGeneratorAlone) {
  Tensor t = full({4}, 7.0);
  manual_seed(5);
  {
    nn::init::SkipInitGuard skip;
    nn::init::normal_(t);
    nn::init::kaiming_uniform_(full({3, 2}, 7.0));
    nn::init::zeros_(t);
    {
      nn::init::SkipInitGuard nested;
    }
    nn::init::uniform_(t);  // still inside the outer guard
    nn::init::trunc_normal_(t);
  }
  EXPECT_EQ(t.to_vector(), std::vector<double>(4, 7.0));
  // nothing was drawn: the next draw is the seed's first
  const std::vector<double> after = randn({3}).to_vector();
  manual_seed(5);
  EXPECT_EQ(after, randn({3}).to_vector());
  nn::init::zeros_(t);  // the guard is gone
  EXPECT_EQ(t.to_vector(), std::vector<double>(4, 0.0));
}

TEST(SkipInitGuard, ModulesBuiltUnderItGetTheirValuesFromLoad) {
  manual_seed(1);
  nn::Linear reference(3, 2);
  nn::init::SkipInitGuard skip;
  nn::Linear lin(3, 2);
  nn::init::load_(lin.weight, reference.weight.detach());
  nn::init::load_(lin.bias, reference.bias.detach());
  const Tensor x = randn({5, 3});
  EXPECT_EQ(lin.forward(x).to_vector(), reference.forward(x).to_vector());
}

TEST(Load, SharesAnAlignedContiguousTensorOfTheSameDtype) {
  Tensor param = zeros({2, 3}).requires_grad_();
  const Tensor handle = param;  // another handle on the same parameter
  param.set_grad(ones({2, 3}));
  const Tensor value = arange(0, 6).to(kFloat32).reshape({2, 3});
  ASSERT_EQ(reinterpret_cast<uintptr_t>(value.raw_data()) % 64, 0u);
  nn::init::load_(param, value);
  EXPECT_TRUE(param.is_alias_of(value));
  EXPECT_EQ(handle.to_vector(), value.to_vector());  // same parameter, new values
  EXPECT_TRUE(handle.requires_grad());
  EXPECT_EQ(param.grad().to_vector(), std::vector<double>(6, 1.0));
}

TEST(Load, CopiesWhatItCannotShare) {
  const Tensor base = arange(0, 14).to(kFloat32);
  struct Case {
    const char* what;
    Tensor value;
  };
  const std::vector<Case> cases = {
      {"another dtype", arange(0, 6).reshape({2, 3})},                 // int64: converted
      {"not contiguous", base.narrow(0, 0, 6).reshape({3, 2}).t()},    // strided view
      {"misaligned", base.narrow(0, 1, 6).reshape({2, 3})},            // 4 bytes past a line
  };
  for (const Case& c : cases) {
    Tensor param = zeros({2, 3}).requires_grad_();
    nn::init::load_(param, c.value);
    EXPECT_FALSE(param.is_alias_of(c.value)) << c.what;
    EXPECT_EQ(param.dtype(), kFloat32) << c.what;
    EXPECT_EQ(param.to_vector(), c.value.to_vector()) << c.what;
    EXPECT_TRUE(param.is_contiguous()) << c.what;
  }
}

TEST(Load, RejectsAnotherShape) {
  Tensor param = zeros({2, 3});
  EXPECT_THAT([&] { nn::init::load_(param, zeros({3, 2})); },
              ThrowsMessage<ShapeError>(HasSubstr("load_: value [3, 2]")));
}

}  // namespace
}  // namespace nabla
