// Helpers shared by the optim tests: tensors from values without the ops layer, the fixture
// runner for "five steps on a fixed gradient sequence", and a random vector source.
#pragma once

#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "nabla/optim/optim.h"
#include "tests/testing/fixture.h"

namespace nabla::optim::testing {

/// A 1-d tensor of dtype (f32, f64 or bf16) holding v.
inline Tensor from_values(const std::vector<double>& v, DType dtype) {
  Tensor out = Tensor::empty({static_cast<int64_t>(v.size())}, dtype);
  for (size_t i = 0; i < v.size(); ++i) {
    if (dtype == kFloat64) {
      out.data<double>()[i] = v[i];
    } else if (dtype == kFloat32) {
      out.data<float>()[i] = static_cast<float>(v[i]);
    } else {
      out.data<BFloat16>()[i] = BFloat16(static_cast<float>(v[i]));
    }
  }
  return out;
}

/// A contiguous copy of t (any layout) with dtype, detached.
inline Tensor copy_tensor(const Tensor& t, DType dtype) {
  Tensor flat = from_values(t.to_vector(), dtype);
  return Tensor::make_view(flat.storage(), t.shape(), contiguous_strides(t.shape()), 0, dtype);
}
inline Tensor copy_tensor(const Tensor& t) { return copy_tensor(t, t.dtype()); }

/// A leaf parameter holding t's values.
inline Tensor make_param(const Tensor& t, DType dtype = kFloat32) {
  return copy_tensor(t, dtype).requires_grad_();
}

/// n values uniform in [-1, 1), the same for the same seed.
inline std::vector<double> random_values(size_t n, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<double> v(n);
  for (double& x : v) x = dist(gen);
  return v;
}

/// True when a and b hold the same bytes (same shape and dtype).
inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(Tensor w, Tensor b)>;

/// Runs tools/fixtures/optim.py's case `name`: params w (2, 3) and b (3) from "w0"/"b0",
/// five steps with gradients "gw.k"/"gb.k", b without a gradient at step 3, and compares
/// both after every step with PyTorch's values.
inline void expect_matches_fixture(const std::string& fixture_name, const std::string& name,
                                   const MakeOptimizer& make) {
  const auto f = nabla::testing::load_fixture(fixture_name);
  Tensor w = make_param(f["w0"]);
  Tensor b = make_param(f["b0"]);
  auto opt = make(w, b);
  for (int k = 0; k < 5; ++k) {
    opt->zero_grad();
    w.set_grad(copy_tensor(f["gw." + std::to_string(k)]));
    if (k != 2) b.set_grad(copy_tensor(f["gb." + std::to_string(k)]));
    opt->step();
    const std::string step = std::to_string(k + 1);
    // f32 arithmetic in the same order as torch's kernels: 1e-6 relative (atol for values
    // that cancel to near zero).
    EXPECT_TRUE(nabla::testing::all_close(w, f[name + ".w." + step], 1e-6, 1e-7))
        << name << " w after step " << step;
    EXPECT_TRUE(nabla::testing::all_close(b, f[name + ".b." + step], 1e-6, 1e-7))
        << name << " b after step " << step;
  }
}

}  // namespace nabla::optim::testing
