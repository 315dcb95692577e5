// Tensor printing: the text of str(tensor) in torch 1.13 for each case of the print fixture
// (modes int/fixed/scientific, widths, line wrapping, summarizing, dtype and grad suffixes).
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "nabla/ops/creation.h"
#include "tests/testing/fixture.h"

namespace nabla {
namespace {

TEST(Print, MatchesTorchStrForEveryFixtureCase) {
  const testing::Fixture fx = testing::load_fixture("print");
  for (const auto& [name, t] : fx.tensors) {
    const std::string expected = fx.meta["texts"][name].get<std::string>();
    Tensor x = t;
    if (name == "requires_grad") x = t.clone().requires_grad_();
    EXPECT_EQ(to_string(x), expected) << "case " << name;
  }
}

TEST(Print, SummarizesAboveThreshold) {
  const testing::Fixture fx = testing::load_fixture("print");
  EXPECT_EQ(to_string(arange(1500)), fx.meta["texts"]["summarized_1d"].get<std::string>());
  Tensor t = Tensor::empty({2, 40, 30});
  for (int64_t i = 0; i < t.numel(); ++i) {
    t.data<float>()[i] = static_cast<float>(((i * 37) % 101) / 8.0 - 6);
  }
  EXPECT_EQ(to_string(t), fx.meta["texts"]["summarized_3d"].get<std::string>());
}

TEST(Print, NonFiniteValuesArePadded) {
  const testing::Fixture fx = testing::load_fixture("print");
  Tensor t = tensor(std::vector<float>{INFINITY, NAN, 1.5f});
  EXPECT_EQ(to_string(t), fx.meta["texts"]["nonfinite"].get<std::string>());
}

TEST(Print, StreamsTheSameText) {
  Tensor t = tensor({{1, 2}, {3, 4}});
  std::ostringstream os;
  os << t;
  EXPECT_EQ(os.str(), to_string(t));
}

}  // namespace
}  // namespace nabla
