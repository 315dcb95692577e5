// PyTorch fixtures: JSON files under tests/fixtures written by tools/make_fixtures.py.
// Layout: {"tensors": {name: {"shape": [...], "dtype": "f32|f64|i64|bool", "data": [...]}},
//          "meta": {...}}
#pragma once

#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "nabla/core/tensor.h"

namespace nabla::testing {

struct Fixture {
  std::map<std::string, Tensor> tensors;
  nlohmann::json meta;
  /// The tensor called name; throws when the fixture has none.
  const Tensor& operator[](const std::string& name) const;
};

/// Loads tests/fixtures/<name>.json.
Fixture load_fixture(const std::string& name);

/// Every element of actual within atol + rtol * |expected|, same shape; the failure message
/// gives the worst element.
::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double rtol,
                                     double atol);

/// Path of a file in ../shared/data (or $NABLA_DATA_DIR), empty when absent.
std::string shared_data_file(const std::string& name);

}  // namespace nabla::testing

/// Declares `std::string var` holding the shared data file's path, or skips the test with a
/// message saying the file is absent (as in a user's clone without ../shared).
#define NABLA_REQUIRE_SHARED_DATA(var, name)                                                  \
  const std::string var = ::nabla::testing::shared_data_file(name);                           \
  if (var.empty()) {                                                                          \
    GTEST_SKIP() << "shared data file " << (name)                                             \
                 << " not found (set NABLA_DATA_DIR or place ../shared/data beside the repo)"; \
  }
