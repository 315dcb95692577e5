// Adam and AdamW against PyTorch fixtures and a double-precision reference; groups, state
// dict round trip and load errors.
#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/kernels/cpu/adamw.h"
#include "tests/optim/optim_testing.h"

namespace nabla::optim {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using namespace nabla::optim::testing;  // NOLINT(google-build-using-namespace)

TEST(Adam, MatchesTorchDefaults) {
  expect_matches_fixture("optim_adam", "adam", [](Tensor w, Tensor b) {
    return std::make_unique<Adam>(std::vector<Tensor>{w, b}, AdamOptions{.lr = 1e-2});
  });
}

TEST(Adam, MatchesTorchL2WeightDecay) {
  expect_matches_fixture("optim_adam", "adam_wd", [](Tensor w, Tensor b) {
    return std::make_unique<Adam>(
        std::vector<Tensor>{w, b},
        AdamOptions{.lr = 1e-2, .betas = {0.8, 0.99}, .eps = 1e-6, .weight_decay = 0.1});
  });
}

TEST(AdamW, MatchesTorch) {
  expect_matches_fixture("optim_adam", "adamw", [](Tensor w, Tensor b) {
    return std::make_unique<AdamW>(std::vector<Tensor>{w, b},
                                   AdamWOptions{.lr = 1e-2, .weight_decay = 0.1});
  });
}

TEST(AdamW, MatchesTorchDecayAndNoDecayGroups) {
  expect_matches_fixture("optim_adam", "adamw_groups", [](Tensor w, Tensor b) {
    return std::make_unique<AdamW>(
        std::vector<ParamGroup>{{.params = {w}}, {.params = {b}, .lr = 3e-2, .weight_decay = 0.0}},
        AdamWOptions{.lr = 1e-2, .weight_decay = 0.1});
  });
}

TEST(AdamW, DefaultsAreTorchs) {
  Tensor w = make_param(from_values({1}, kFloat32));
  AdamW opt({w});
  EXPECT_EQ(opt.name(), "AdamW");
  EXPECT_EQ(*opt.param_groups()[0].weight_decay, 1e-2);
  EXPECT_EQ(*opt.param_groups()[0].lr, 1e-3);
  EXPECT_EQ(opt.param_groups()[0].betas->second, 0.999);
  Adam adam({make_param(from_values({1}, kFloat32))});
  EXPECT_EQ(*adam.param_groups()[0].weight_decay, 0.0);
}

// torch.optim.Adam / AdamW written out on doubles (adam.py, adamw.py single-tensor paths).
struct ReferenceAdam {
  AdamOptions o;
  bool decoupled;
  std::vector<double> m, v;
  int64_t t = 0;
  void step(std::vector<double>& p, const std::vector<double>& grad) {
    if (m.empty()) m.assign(p.size(), 0.0), v.assign(p.size(), 0.0);
    ++t;
    const auto [beta1, beta2] = o.betas;
    const double bc1 = 1 - std::pow(beta1, static_cast<double>(t));
    const double bc2 = 1 - std::pow(beta2, static_cast<double>(t));
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grad[i];
      if (decoupled) {
        p[i] *= 1 - o.lr * o.weight_decay;
      } else {
        g += o.weight_decay * p[i];
      }
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      p[i] -= o.lr / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + o.eps);
    }
  }
};

std::unique_ptr<Optimizer> make_adam(Tensor p, AdamOptions o, bool decoupled) {
  if (!decoupled) return std::make_unique<Adam>(std::vector<Tensor>{p}, o);
  return std::make_unique<AdamW>(std::vector<Tensor>{p},
                                 AdamWOptions{.lr = o.lr, .betas = o.betas, .eps = o.eps,
                                              .weight_decay = o.weight_decay});
}

void expect_matches_reference(AdamOptions o, bool decoupled, DType dtype, double rtol,
                              size_t n = 1001) {
  std::vector<double> ref = random_values(n, 7);
  Tensor p = make_param(from_values(ref, kFloat64), dtype);
  auto opt = make_adam(p, o, decoupled);
  ReferenceAdam reference{o, decoupled, {}, {}};
  for (unsigned k = 0; k < 5; ++k) {
    const std::vector<double> g = random_values(n, 200 + k);
    p.set_grad(from_values(g, dtype));
    opt->step();
    reference.step(ref, g);
  }
  EXPECT_TRUE(nabla::testing::all_close(p, from_values(ref, kFloat64), rtol, rtol))
      << opt->name() << " " << dtype;
}

TEST(Adam, MatchesDoubleReference) {
  const AdamOptions plain{.lr = 1e-2};
  const AdamOptions decay{.lr = 3e-3, .betas = {0.8, 0.95}, .eps = 1e-6, .weight_decay = 0.1};
  for (const bool decoupled : {false, true}) {
    for (const AdamOptions& o : {plain, decay}) {
      expect_matches_reference(o, decoupled, kFloat64, 1e-12);
      expect_matches_reference(o, decoupled, kFloat32, 1e-5);  // f32 rounding over 5 steps
      expect_matches_reference(o, decoupled, kBFloat16, 1e-2);  // bf16 parameter storage
    }
  }
  // Above the kernel's parallel threshold (32K), odd size.
  expect_matches_reference(decay, true, kFloat32, 1e-5, 33'333);
  expect_matches_reference(decay, false, kFloat64, 1e-12, 33'333);
}

TEST(AdamW, FlatKernelFormMatchesStruct) {
  const std::vector<double> v0 = random_values(9, 11), g0 = random_values(9, 12);
  std::vector<float> p1(v0.begin(), v0.end()), p2 = p1, g(g0.begin(), g0.end());
  std::vector<float> m1(9, 0.1f), m2 = m1, s1(9, 0.2f), s2 = s1;
  kernels::cpu::adamw_update(p1.data(), g.data(), m1.data(), s1.data(), 9, 1e-3, 0.9, 0.95, 1e-8,
                             0.1, 3);
  kernels::cpu::adamw_update(p2.data(), g.data(), m2.data(), s2.data(), 9,
                             {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8,
                              .weight_decay = 0.1, .step = 3});
  EXPECT_EQ(p1, p2);
  EXPECT_EQ(m1, m2);
  EXPECT_EQ(s1, s2);
}

// The multi-tensor kernel (chunks shared by threads) gives the same bits as one call per
// tensor, for tensors smaller and larger than a chunk with their own hyperparameters.
TEST(AdamW, MultiTensorKernelMatchesPerTensorCalls) {
  const std::vector<int64_t> sizes{7, 768, 40'000, 1};
  std::vector<std::vector<float>> p1, p2, g, m1, m2, v1, v2;
  for (size_t t = 0; t < sizes.size(); ++t) {
    const auto n = static_cast<size_t>(sizes[t]);
    const std::vector<double> a = random_values(n, 30 + static_cast<unsigned>(t));
    const std::vector<double> b = random_values(n, 40 + static_cast<unsigned>(t));
    p1.emplace_back(a.begin(), a.end());
    g.emplace_back(b.begin(), b.end());
    m1.emplace_back(n, 0.01f);
    v1.emplace_back(n, 0.02f);
  }
  p2 = p1, m2 = m1, v2 = v1;
  for (const bool decoupled : {false, true}) {
    std::vector<kernels::cpu::AdamTensor<float>> list;
    for (size_t t = 0; t < sizes.size(); ++t) {
      const kernels::cpu::AdamParams h{.lr = 1e-3 * static_cast<double>(t + 1),
                                       .weight_decay = t % 2 == 0 ? 0.1 : 0.0,
                                       .step = static_cast<int64_t>(t + 2)};
      list.push_back({p1[t].data(), g[t].data(), m1[t].data(), v1[t].data(), sizes[t], h});
      if (decoupled) {
        kernels::cpu::adamw_update(p2[t].data(), g[t].data(), m2[t].data(), v2[t].data(),
                                   sizes[t], h);
      } else {
        kernels::cpu::adam_update(p2[t].data(), g[t].data(), m2[t].data(), v2[t].data(),
                                  sizes[t], h);
      }
    }
    kernels::cpu::adam_update_multi(std::span<const kernels::cpu::AdamTensor<float>>(list),
                                    decoupled);
    EXPECT_EQ(p1, p2);
    EXPECT_EQ(m1, m2);
    EXPECT_EQ(v1, v2);
  }
}

// Three steps, save, resume into fresh parameters, two more steps: bitwise equal to the
// uninterrupted run, including per-parameter step counts (b skips step 2).
TEST(AdamW, StateDictRoundTripContinuesBitwise) {
  const auto f = nabla::testing::load_fixture("optim_adam");
  auto grads = [&](Tensor& w, Tensor& b, int k) {
    w.set_grad(copy_tensor(f["gw." + std::to_string(k)]));
    b.set_grad(k == 1 ? Tensor() : copy_tensor(f["gb." + std::to_string(k)]));
  };
  Tensor w = make_param(f["w0"]), b = make_param(f["b0"]);
  AdamW opt(std::vector<ParamGroup>{{.params = {w}}, {.params = {b}, .weight_decay = 0.0}},
            {.lr = 1e-2, .weight_decay = 0.1});
  for (int k = 0; k < 3; ++k) {
    grads(w, b, k);
    opt.step();
  }
  EXPECT_EQ(opt.state(0).step, 3);
  EXPECT_EQ(opt.state(1).step, 2);
  const StateDict saved = opt.state_dict();
  Tensor w2 = make_param(w), b2 = make_param(b);
  AdamW resumed(std::vector<ParamGroup>{{.params = {w2}}, {.params = {b2}}}, {.lr = 5.0});
  resumed.load_state_dict(saved);
  EXPECT_EQ(*resumed.param_groups()[1].weight_decay, 0.0);
  EXPECT_EQ(resumed.state(1).step, 2);
  for (int k = 3; k < 5; ++k) {
    grads(w, b, k);
    grads(w2, b2, k);
    opt.step();
    resumed.step();
    EXPECT_TRUE(bitwise_equal(w, w2));
    EXPECT_TRUE(bitwise_equal(b, b2));
  }
}

StateDict replace(StateDict dict, const std::string& key, const Tensor& value) {
  for (auto& [k, t] : dict) {
    if (k == key) t = value;
  }
  return dict;
}

TEST(Adam, LoadStateDictErrorsNameTheKey) {
  Tensor w = make_param(from_values({1, 2, 3}, kFloat32));
  Adam opt({w});
  w.set_grad(from_values({1, 1, 1}, kFloat32));
  opt.step();
  const StateDict good = opt.state_dict();
  EXPECT_THAT([&] { opt.load_state_dict(replace(good, "state.0.exp_avg", from_values({1, 2}, kFloat32))); },
              ThrowsMessage<ShapeError>(HasSubstr("state.0.exp_avg has shape [2]")));
  EXPECT_THAT([&] { opt.load_state_dict(replace(good, "state.0.exp_avg", from_values({1, 2, 3}, kFloat64))); },
              ThrowsMessage<DTypeError>(HasSubstr("state.0.exp_avg has dtype")));
  StateDict extra = good;
  extra.emplace_back("state.0.momentum_buffer", from_values({1, 2, 3}, kFloat32));
  EXPECT_THAT([&] { opt.load_state_dict(extra); },
              ThrowsMessage<Error>(HasSubstr("unexpected key state.0.momentum_buffer")));
  StateDict missing(good.begin() + 1, good.end());  // drops state.0.step
  EXPECT_THAT([&] { opt.load_state_dict(missing); },
              ThrowsMessage<Error>(HasSubstr("missing key state.0.step")));
  Tensor v = make_param(from_values({1}, kFloat32));
  Adam two(std::vector<ParamGroup>{{.params = {w}}, {.params = {v}}});
  EXPECT_THAT([&] { two.load_state_dict(good); },
              ThrowsMessage<Error>(HasSubstr("missing key param_groups.1.params")));
  EXPECT_THAT([&] { opt.load_state_dict(replace(good, "param_groups.0.params", from_values({0, 1}, kFloat32))); },
              ThrowsMessage<Error>(HasSubstr("param_groups.0.params")));
  // A failed load leaves the optimizer as it was.
  EXPECT_EQ(opt.state(0).step, 1);
}

TEST(Adam, InvalidOptionsThrow) {
  Tensor w = make_param(from_values({1}, kFloat32));
  EXPECT_THAT([&] { Adam({w}, {.betas = {1.0, 0.999}}); },
              ThrowsMessage<Error>(HasSubstr("invalid beta parameter at index 0")));
  EXPECT_THAT([&] { AdamW(std::vector<ParamGroup>{{.params = {w}, .momentum = 0.9}}); },
              ThrowsMessage<Error>(HasSubstr("AdamW does not use")));
  EXPECT_THAT([&] { Adam(std::vector<Tensor>{}); }, ThrowsMessage<Error>(HasSubstr("empty")));
}

}  // namespace
}  // namespace nabla::optim
