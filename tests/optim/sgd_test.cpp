// SGD against PyTorch fixtures and a double-precision reference; groups, zero_grad, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/optim/optim_testing.h"

namespace nabla::optim {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using namespace nabla::optim::testing;  // NOLINT(google-build-using-namespace)

std::unique_ptr<Optimizer> sgd(Tensor w, Tensor b, SGDOptions o) {
  return std::make_unique<SGD>(std::vector<Tensor>{w, b}, o);
}

TEST(SGD, MatchesTorchPlain) {
  expect_matches_fixture("optim_sgd", "plain",
                         [](Tensor w, Tensor b) { return sgd(w, b, {.lr = 0.1}); });
}

TEST(SGD, MatchesTorchMomentum) {
  expect_matches_fixture("optim_sgd", "momentum", [](Tensor w, Tensor b) {
    return sgd(w, b, {.lr = 0.1, .momentum = 0.9});
  });
}

TEST(SGD, MatchesTorchDampeningWeightDecay) {
  expect_matches_fixture("optim_sgd", "dampening_wd", [](Tensor w, Tensor b) {
    return sgd(w, b, {.lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01});
  });
}

TEST(SGD, MatchesTorchNesterov) {
  expect_matches_fixture("optim_sgd", "nesterov", [](Tensor w, Tensor b) {
    return sgd(w, b, {.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
  });
}

TEST(SGD, MatchesTorchTwoParamGroups) {
  expect_matches_fixture("optim_sgd", "groups", [](Tensor w, Tensor b) {
    return std::make_unique<SGD>(
        std::vector<ParamGroup>{{.params = {w}, .momentum = 0.9}, {.params = {b}, .lr = 0.2}},
        SGDOptions{.lr = 0.1});
  });
}

// torch.optim.SGD's update written out on doubles (sgd.py, _single_tensor_sgd).
struct ReferenceSGD {
  SGDOptions o;
  std::vector<double> buf;
  void step(std::vector<double>& p, const std::vector<double>& grad) {
    const bool first = buf.empty();
    if (o.momentum != 0 && first) buf.resize(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grad[i] + o.weight_decay * p[i];
      if (o.momentum != 0) {
        buf[i] = first ? g : o.momentum * buf[i] + (1 - o.dampening) * g;
        g = o.nesterov ? g + o.momentum * buf[i] : buf[i];
      }
      p[i] -= o.lr * g;
    }
  }
};

// In f64 (exact up to rounding), f32 and bf16.
void expect_matches_reference(SGDOptions o, DType dtype, double rtol, size_t n = 1001) {
  std::vector<double> ref = random_values(n, 1);
  Tensor p = make_param(from_values(ref, kFloat64), dtype);
  SGD opt({p}, o);
  ReferenceSGD reference{o, {}};
  for (unsigned k = 0; k < 4; ++k) {
    const std::vector<double> g = random_values(n, 100 + k);
    p.set_grad(from_values(g, dtype));
    opt.step();
    reference.step(ref, g);
  }
  EXPECT_TRUE(nabla::testing::all_close(p, from_values(ref, kFloat64), rtol, rtol));
}

TEST(SGD, MatchesDoubleReference) {
  for (const SGDOptions& o :
       {SGDOptions{.lr = 0.1}, SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01},
        SGDOptions{.lr = 0.05, .momentum = 0.8, .dampening = 0.3},
        SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true}}) {
    expect_matches_reference(o, kFloat64, 1e-13);
    expect_matches_reference(o, kFloat32, 1e-5);  // f32 rounding over 4 steps
  }
  // Above the kernel's parallel threshold (32K), odd size.
  const SGDOptions nesterov{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true};
  expect_matches_reference(nesterov, kFloat32, 1e-5, 40'003);
  expect_matches_reference(nesterov, kFloat64, 1e-13, 40'003);
}

TEST(SGD, BFloat16ParamsKeepF32MomentumAndTrackReference) {
  SGDOptions o{.lr = 0.1, .momentum = 0.9};
  expect_matches_reference(o, kBFloat16, 2e-2);  // bf16 stores ~3 significant digits
  Tensor p = make_param(from_values({1, 2}, kFloat64), kBFloat16);
  SGD opt({p}, o);
  p.set_grad(from_values({1, 1}, kBFloat16));
  opt.step();
  EXPECT_EQ(opt.state(0).momentum_buffer.dtype(), kFloat32);
}

// Nielsen's network.py: w <- w - (eta / m) * nw with nw the summed gradient equals SGD with
// lr = eta on the batch-mean gradient nw / m.
TEST(SGD, NielsenMiniBatchUpdateIsLrEtaOnMeanGradient) {
  const double eta = 3.0;
  const int m = 10;
  const std::vector<double> w0 = random_values(7, 3), nw = random_values(7, 4);
  Tensor w = make_param(from_values(w0, kFloat64), kFloat64);
  SGD opt({w}, {.lr = eta});
  std::vector<double> mean(nw.size()), expected(nw.size());
  for (size_t i = 0; i < nw.size(); ++i) {
    mean[i] = nw[i] / m;
    expected[i] = w0[i] - (eta / m) * nw[i];
  }
  w.set_grad(from_values(mean, kFloat64));
  opt.step();
  EXPECT_TRUE(nabla::testing::all_close(w, from_values(expected, kFloat64), 1e-15, 1e-15));
}

TEST(SGD, StateDictRoundTripContinuesBitwise) {
  const auto f = nabla::testing::load_fixture("optim_sgd");
  SGDOptions o{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true};
  Tensor w = make_param(f["w0"]), b = make_param(f["b0"]);
  SGD opt({w, b}, o);
  for (int k = 0; k < 3; ++k) {
    w.set_grad(copy_tensor(f["gw." + std::to_string(k)]));
    b.set_grad(copy_tensor(f["gb." + std::to_string(k)]));
    opt.step();
  }
  Tensor w2 = make_param(w), b2 = make_param(b);
  SGD resumed({w2, b2}, {.lr = 1.0});  // options come from the state dict
  resumed.load_state_dict(opt.state_dict());
  EXPECT_EQ(*resumed.param_groups()[0].lr, 0.1);
  EXPECT_TRUE(*resumed.param_groups()[0].nesterov);
  for (int k = 3; k < 5; ++k) {
    w.set_grad(copy_tensor(f["gw." + std::to_string(k)]));
    b.set_grad(copy_tensor(f["gb." + std::to_string(k)]));
    w2.set_grad(copy_tensor(f["gw." + std::to_string(k)]));
    b2.set_grad(copy_tensor(f["gb." + std::to_string(k)]));
    opt.step();
    resumed.step();
    EXPECT_TRUE(bitwise_equal(w, w2));
    EXPECT_TRUE(bitwise_equal(b, b2));
  }
}

TEST(SGD, StateDictKeys) {
  Tensor w = make_param(from_values({1, 2, 3}, kFloat32));
  Tensor b = make_param(from_values({1}, kFloat32));
  SGD opt({w, b}, {.lr = 0.1, .momentum = 0.5});
  b.set_grad(from_values({1}, kFloat32));
  opt.step();  // only b gets state
  std::vector<std::string> keys;
  for (const auto& [key, t] : opt.state_dict()) keys.push_back(key);
  EXPECT_THAT(keys, ::testing::ElementsAre("state.1.momentum_buffer", "param_groups.0.params",
                                           "param_groups.0.lr", "param_groups.0.weight_decay",
                                           "param_groups.0.momentum", "param_groups.0.dampening",
                                           "param_groups.0.nesterov"));
}

TEST(SGD, SkipsParametersWithoutGradient) {
  Tensor w = make_param(from_values({1, 2}, kFloat32));
  Tensor b = make_param(from_values({3}, kFloat32));
  SGD opt({w, b}, {.lr = 0.1, .momentum = 0.9});
  w.set_grad(from_values({1, 1}, kFloat32));
  const uint64_t b_version = b.storage()->version();
  const uint64_t w_version = w.storage()->version();
  opt.step();
  EXPECT_EQ(b.to_vector(), std::vector<double>{3});
  EXPECT_TRUE(opt.state(1).empty());
  EXPECT_EQ(b.storage()->version(), b_version);
  EXPECT_GT(w.storage()->version(), w_version);  // in-place update bumps the version
}

TEST(SGD, ZeroGrad) {
  Tensor w = make_param(from_values({1, 2}, kFloat32));
  SGD opt({w}, {.lr = 0.1});
  Tensor g = from_values({5, 6}, kFloat32);
  w.set_grad(g);
  opt.zero_grad(/*set_to_none=*/false);
  EXPECT_TRUE(w.grad().is_alias_of(g));
  EXPECT_EQ(w.grad().to_vector(), (std::vector<double>{0, 0}));
  opt.zero_grad();
  EXPECT_FALSE(w.grad().defined());
}

TEST(SGD, InvalidOptionsThrow) {
  Tensor w = make_param(from_values({1}, kFloat32));
  EXPECT_THAT([&] { SGD({w}, SGDOptions{}); }, ThrowsMessage<Error>(HasSubstr("lr is required")));
  EXPECT_THAT([&] { SGD({w}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
              ThrowsMessage<Error>(HasSubstr("Nesterov momentum requires")));
  EXPECT_THAT([&] { SGD({w}, {.lr = -1}); }, ThrowsMessage<Error>(HasSubstr("invalid learning rate")));
  EXPECT_THAT(
      [&] { SGD(std::vector<ParamGroup>{{.params = {w}}, {.params = {w}}}, {.lr = 0.1}); },
      ThrowsMessage<Error>(HasSubstr("more than one parameter group")));
  EXPECT_THAT([&] { SGD(std::vector<ParamGroup>{{.params = {w}, .eps = 1e-3}}, {.lr = 0.1}); },
              ThrowsMessage<Error>(HasSubstr("SGD does not use")));
  Tensor i = Tensor::empty({2}, kInt64);
  EXPECT_THAT([&] { SGD({i}, {.lr = 0.1}); }, ThrowsMessage<DTypeError>(HasSubstr("floating")));
}

}  // namespace
}  // namespace nabla::optim
