// Tensor printing against torch's str(t): tools/fixtures/print.py stores each tensor (or a
// recipe for the big ones) with torch's string; to_string must match it exactly.
#include <gtest/gtest.h>

#include <limits>
#include <sstream>

#include "nabla/ops/creation.h"
#include "nabla/ops/view.h"
#include "tests/testing/fixture.h"

namespace nabla {
namespace {

// The big summarised tensors and those with NaN/inf, rebuilt the way print.py makes them.
Tensor from_recipe(const std::string& name) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  if (name == "nonfinite") return tensor(std::vector<float>{nan, 1.5F, inf, -inf});
  if (name == "nonfinite_int") return tensor(std::vector<float>{nan, 1.0F, -inf});
  if (name == "all_nan") return tensor(std::vector<float>{nan, nan});
  if (name == "summary_vec") return arange(1001);
  if (name == "summary_4d") return ones({10, 10, 10, 2});
  if (name == "summary_wide") return linspace(-5, 5, 1200).reshape({2, 600});
  if (name == "summary_mat") {  // torch.arange(3000.).reshape(30, 100) / 7, in f32
    Tensor t = empty({30, 100});
    for (int64_t i = 0; i < 3000; ++i) t.data<float>()[i] = static_cast<float>(i) / 7.0F;
    return t;
  }
  return Tensor();
}

Tensor rebuild(const testing::Fixture& f, const std::string& name, const nlohmann::json& meta) {
  Tensor t = from_recipe(name);
  if (t.defined()) return t;
  t = f[name].to(dtype_from_short_name(meta.at("dtype").get<std::string>()));
  if (meta.at("requires_grad").get<bool>()) t = t.clone().requires_grad_();
  if (name == "grad_select") return t.select(0, 1);
  if (name == "grad_cat") return cat({t, t}, 0);
  return t;
}

TEST(Print, MatchesTorchExactly) {
  const auto f = testing::load_fixture("print");
  int checked = 0;
  for (const auto& [name, meta] : f.meta.items()) {
    SCOPED_TRACE(name);
    const Tensor t = rebuild(f, name, meta);
    EXPECT_EQ(to_string(t), meta.at("str").get<std::string>());
    ++checked;
  }
  EXPECT_GE(checked, 35);  // the fixture holds 39 cases
}

TEST(Print, StreamAndNonContiguousViews) {
  Tensor x = tensor({{1.5, 2.0, -3.0}, {4.0, 5.25, 6.0}});
  std::ostringstream os;
  os << x;
  EXPECT_EQ(os.str(), to_string(x));
  EXPECT_EQ(to_string(x.t()), to_string(x.t().contiguous()));
  EXPECT_EQ(to_string(x.select(1, 2)), to_string(x.select(1, 2).clone()));
}

}  // namespace
}  // namespace nabla
