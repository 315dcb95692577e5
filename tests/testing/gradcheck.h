// gradcheck: compares the gradient that backward() computes with central finite differences
// in float64 (flashlight's jacobianTestImpl, ggml's grad_eps). One random projection v of the
// output: analytic v^T J from one backward, numeric d(v . f)/dx_k from 2 forwards per element.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "nabla/core/tensor.h"

namespace nabla::testing {

struct GradcheckOptions {
  double eps = 1e-3;   // central-difference step; error O(eps^2) in f64
  double atol = 1e-6;
  double rtol = 1e-4;
  uint64_t seed = 1234;
};

using GradFn = std::function<Tensor(const std::vector<Tensor>&)>;

/// Checks op's gradient for every input that requires grad. inputs must be contiguous f64
/// leaves; f may build non-contiguous views from them. `op` names the op under test: the
/// coverage test finds the `gradcheck("op"` text in tests/ops.
::testing::AssertionResult gradcheck(const std::string& op, const GradFn& f,
                                     const std::vector<Tensor>& inputs,
                                     GradcheckOptions opts = {});

/// A contiguous f64 leaf of the given shape with values uniform in [lo, hi) from a seeded
/// generator; requires_grad set.
Tensor random_input(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0,
                    bool requires_grad = true);

}  // namespace nabla::testing
