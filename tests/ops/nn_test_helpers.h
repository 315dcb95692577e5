// Helpers for the nn functional op tests: element-wise comparison of flat double vectors
// (references are naive double loops over to_vector() values), and typed leaf copies.
#pragma once

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "nabla/core/tensor.h"

namespace nabla::testing {

/// Every actual[i] within atol + rtol * |expected[i]|; the message gives the first failure.
inline ::testing::AssertionResult vectors_near(const std::vector<double>& actual,
                                               const std::vector<double>& expected, double rtol,
                                               double atol) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure()
           << "size " << actual.size() << " != expected " << expected.size();
  }
  for (size_t i = 0; i < actual.size(); ++i) {
    if (!(std::abs(actual[i] - expected[i]) <= atol + rtol * std::abs(expected[i]))) {
      return ::testing::AssertionFailure() << "element " << i << " is " << actual[i]
                                           << ", expected " << expected[i];
    }
  }
  return ::testing::AssertionSuccess();
}

/// A detached copy of t in dtype that requires grad (a fresh leaf).
inline Tensor leaf(const Tensor& t, DType dtype) {
  Tensor c = t.to(dtype).detach().clone();
  c.requires_grad_(true);
  return c;
}

}  // namespace nabla::testing
