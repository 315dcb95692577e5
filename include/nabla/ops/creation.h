// Making tensors: from nested lists (like torch.tensor), filled, ranges, random.
#pragma once

#include <initializer_list>
#include <optional>
#include <variant>
#include <vector>

#include "nabla/core/rng.h"
#include "nabla/core/tensor.h"

namespace nabla {

/// A nested list of numbers: 3, {1, 2}, {{1.5, 2}, {3, 4}}. Integers only give int64;
/// any floating value gives float32 (torch.tensor's inference); bools only give bool.
class NestedList {
 public:
  template <typename T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
  NestedList(T v)  // NOLINT(google-explicit-constructor)
      : value_(static_cast<double>(v)),
        kind_(std::is_same_v<T, bool> ? Kind::Bool
                                      : (std::is_integral_v<T> ? Kind::Int : Kind::Float)) {}
  NestedList(std::initializer_list<NestedList> items)  // NOLINT(google-explicit-constructor)
      : items_(items), is_list_(true) {}

  enum class Kind { Bool, Int, Float };
  bool is_list() const { return is_list_; }
  double value() const { return value_; }
  Kind kind() const { return kind_; }
  const std::vector<NestedList>& items() const { return items_; }

 private:
  std::vector<NestedList> items_;
  double value_ = 0;
  Kind kind_ = Kind::Int;
  bool is_list_ = false;
};

/// torch.tensor: tensor({{1, 2}, {3, 4}}) is int64 [2, 2]; ragged lists throw.
Tensor tensor(const NestedList& data, std::optional<TensorOptions> opts = std::nullopt);
/// A 1-D tensor copied from a std::vector of float, double, int64_t or int32_t, with that
/// dtype unless opts say otherwise. A template so that a braced list (which cannot deduce T),
/// like tensor({{1, 2}}), always means a NestedList.
template <typename T>
Tensor tensor(const std::vector<T>& data, TensorOptions opts = TensorOptions(dtype_of<T>()));
/// A tensor that views caller-owned memory (no copy); the memory must outlive it.
Tensor from_blob(void* data, const Shape& sizes, DType dtype);

Tensor empty(const Shape& sizes, TensorOptions opts = {});
Tensor zeros(const Shape& sizes, TensorOptions opts = {});
Tensor ones(const Shape& sizes, TensorOptions opts = {});
Tensor full(const Shape& sizes, Scalar value, TensorOptions opts = {});
/// Values start, start+step, ... below end. Integer arguments give int64 unless opts say
/// otherwise; floating ones give float32.
Tensor arange(Scalar end, std::optional<TensorOptions> opts = std::nullopt);
Tensor arange(Scalar start, Scalar end, Scalar step = 1,
              std::optional<TensorOptions> opts = std::nullopt);
Tensor linspace(double start, double end, int64_t steps, TensorOptions opts = {});
/// Identity matrix n x n.
Tensor eye(int64_t n, TensorOptions opts = {});

/// Uniform in [0, 1), standard normal, and integers in [low, high); from gen, or the default
/// generator when none is given.
Tensor rand(const Shape& sizes, TensorOptions opts = {}, Generator* gen = nullptr);
Tensor randn(const Shape& sizes, TensorOptions opts = {}, Generator* gen = nullptr);
Tensor randint(int64_t low, int64_t high, const Shape& sizes, TensorOptions opts = kInt64,
               Generator* gen = nullptr);
/// A random permutation of 0..n-1 (int64).
Tensor randperm(int64_t n, Generator* gen = nullptr);

Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, Scalar value);
Tensor rand_like(const Tensor& t, Generator* gen = nullptr);
Tensor randn_like(const Tensor& t, Generator* gen = nullptr);
/// Same, with another dtype.
Tensor zeros_like(const Tensor& t, TensorOptions opts);
Tensor ones_like(const Tensor& t, TensorOptions opts);

}  // namespace nabla
