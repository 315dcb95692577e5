// Shapes and strides, and the dimension letters used in shape comments everywhere:
// B batch, T time (sequence), C channels (width), V vocabulary, NH heads, HS head size,
// L layers, OC output channels.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

namespace nabla {

constexpr int64_t kMaxDims = 16;

/// A list of sizes (or strides); prints like PyTorch's torch.Size without the name: [2, 3].
struct Shape : std::vector<int64_t> {
  using std::vector<int64_t>::vector;
  Shape(std::vector<int64_t> v) : std::vector<int64_t>(std::move(v)) {}  // NOLINT
  std::string str() const;
};

std::ostream& operator<<(std::ostream& os, const Shape& s);

/// Product of sizes; throws nabla::ShapeError for negative sizes or int64 overflow.
int64_t numel_of(const Shape& sizes);
/// Row-major (C-contiguous) strides for these sizes.
Shape contiguous_strides(const Shape& sizes);
/// Maps dim in [-ndim, ndim) to [0, ndim); throws naming op when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
/// The broadcast of two shapes (NumPy rules); throws naming op and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace nabla
