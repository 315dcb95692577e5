// Views: reshape/view, transpose, permute, (un)squeeze, flatten, expand, narrow, select, slice,
// split/chunk. A view shares its input's storage (new sizes/strides/offset); each records a
// backward that maps the output's gradient back onto the input's shape.
#include "nabla/ops/view.h"

#include <algorithm>
#include <optional>

#include "nabla/autograd/node.h"
#include "nabla/ops/creation.h"
#include "nabla/ops/reduce.h"
#include "ops/internal.h"

namespace nabla {

using autograd::Grads;

namespace {

Tensor view_of(const Tensor& a, const Shape& sizes, const Shape& strides, int64_t offset) {
  return Tensor::make_view(a.storage(), sizes, strides, offset, a.dtype());
}

// The view's gradient for the input: zeros of the input's shape with dy written through the
// same view (narrow, select, slice).
template <typename ViewFn>
Tensor grad_through_view(const Shape& in_shape, DType dtype, const Tensor& dy, ViewFn view) {
  Tensor g = zeros(in_shape, dtype);
  view(g).copy_(dy);
  return g;
}

// Strides for viewing (sizes, strides) as new_sizes without copying; nullopt when impossible
// (PyTorch's computeStride).
std::optional<Shape> view_strides(const Shape& sizes, const Shape& strides, const Shape& new_sizes) {
  Shape out(new_sizes.size(), 1);
  if (sizes.empty()) return out;
  const int64_t numel = numel_of(sizes);
  if (numel == 0) {
    if (sizes == new_sizes) return strides;
    return contiguous_strides(new_sizes);
  }
  auto view_d = static_cast<int64_t>(new_sizes.size()) - 1;
  int64_t chunk_base_stride = strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (auto d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    tensor_numel *= sizes[d];
    if (d == 0 || (sizes[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_sizes[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_sizes[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

// Resolves one -1 and checks the element count.
Shape infer_size(const char* op, const Shape& sizes, int64_t numel) {
  Shape out = sizes;
  int64_t known = 1;
  std::optional<size_t> infer;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == -1) {
      NABLA_CHECK_SHAPE(!infer.has_value(), op, ": only one dimension can be inferred (shape ",
                        sizes, ")");
      infer = i;
    } else {
      NABLA_CHECK_SHAPE(sizes[i] >= 0, op, ": invalid shape dimension ", sizes[i], " in ", sizes);
      known *= sizes[i];
    }
  }
  const bool ok = infer.has_value() ? (known != 0 && numel % known == 0) : known == numel;
  NABLA_CHECK_SHAPE(ok, op, ": shape '", sizes, "' is invalid for input of size ", numel);
  if (infer.has_value()) out[*infer] = numel / known;
  return out;
}

Tensor record_reshape(const char* op, const Tensor& a, Tensor out) {
  const Shape in_shape = a.shape();
  return autograd::record(op, std::move(out), {a}, [in_shape](const Tensor& dy, Grads& g) {
    g.add(0, dy.reshape(in_shape));
  });
}

// Python slice bounds on a dim of the given size.
int64_t clamp_slice_index(std::optional<int64_t> v, int64_t size, int64_t dflt) {
  if (!v.has_value()) return dflt;
  int64_t i = *v < 0 ? *v + size : *v;
  return std::clamp<int64_t>(i, 0, size);
}

}  // namespace

// ---- reshape family ----------------------------------------------------------------------

Tensor Tensor::reshape(const Shape& sizes) const {
  const Shape shape = infer_size("reshape", sizes, numel());
  if (auto st = view_strides(this->shape(), strides(), shape)) {
    return record_reshape("reshape", *this, view_of(*this, shape, *st, offset()));
  }
  Tensor dense = ops_detail::dense_copy(*this);
  return record_reshape("reshape", *this, view_of(dense, shape, contiguous_strides(shape), 0));
}

Tensor Tensor::view(const Shape& sizes) const {
  const Shape shape = infer_size("view", sizes, numel());
  auto st = view_strides(this->shape(), strides(), shape);
  NABLA_CHECK_SHAPE(st.has_value(), "view: size ", shape,
                    " is not compatible with input tensor's size and stride (", this->shape(),
                    " with strides ", strides(), "): at least one dimension spans across two "
                    "contiguous subspaces. Use .reshape(...) instead");
  return record_reshape("view", *this, view_of(*this, shape, *st, offset()));
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  const int64_t s = wrap_dim(start_dim, dim(), "flatten");
  const int64_t e = wrap_dim(end_dim, dim(), "flatten");
  NABLA_CHECK_SHAPE(s <= e, "flatten: start_dim (", start_dim, ") cannot come after end_dim (",
                    end_dim, ")");
  if (s == e) return *this;
  Shape shape(this->shape().begin(), this->shape().begin() + s);
  int64_t merged = 1;
  for (int64_t i = s; i <= e; ++i) merged *= this->shape()[i];
  shape.push_back(merged);
  shape.insert(shape.end(), this->shape().begin() + e + 1, this->shape().end());
  return reshape(shape);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  const int64_t dd = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape sizes = shape(), st = strides();
  const int64_t stride = dd < dim() ? sizes[dd] * st[dd] : 1;
  sizes.insert(sizes.begin() + dd, 1);
  st.insert(st.begin() + dd, stride);
  return record_reshape("unsqueeze", *this, view_of(*this, sizes, st, offset()));
}

Tensor Tensor::squeeze() const {
  Shape sizes, st;
  for (int64_t i = 0; i < dim(); ++i) {
    if (shape()[i] == 1) continue;
    sizes.push_back(shape()[i]);
    st.push_back(strides()[i]);
  }
  return record_reshape("squeeze", *this, view_of(*this, sizes, st, offset()));
}

Tensor Tensor::squeeze(int64_t d) const {
  Shape sizes = shape(), st = strides();
  if (dim() > 0) {
    const int64_t dd = wrap_dim(d, dim(), "squeeze");
    if (sizes[dd] == 1) {
      sizes.erase(sizes.begin() + dd);
      st.erase(st.begin() + dd);
    }
  } else {
    wrap_dim(d, 1, "squeeze");  // a 0-d tensor accepts dim 0 and -1, like PyTorch
  }
  return record_reshape("squeeze", *this, view_of(*this, sizes, st, offset()));
}

// ---- transposes --------------------------------------------------------------------------

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  const int64_t n = std::max<int64_t>(dim(), 1);
  const int64_t a = wrap_dim(dim0, n, "transpose"), b = wrap_dim(dim1, n, "transpose");
  Shape sizes = shape(), st = strides();
  if (dim() > 0) {
    std::swap(sizes[a], sizes[b]);
    std::swap(st[a], st[b]);
  }
  return autograd::record("transpose", view_of(*this, sizes, st, offset()), {*this},
                          [a, b](const Tensor& dy, Grads& g) { g.add(0, dy.transpose(a, b)); });
}

Tensor Tensor::t() const {
  NABLA_CHECK_SHAPE(dim() <= 2, "t: expects a tensor with <= 2 dimensions, but self is ", dim(),
                    "D (shape ", shape(), ")");
  return dim() < 2 ? transpose(0, 0) : transpose(0, 1);
}

Tensor Tensor::T() const {
  Shape dims;
  for (int64_t i = dim() - 1; i >= 0; --i) dims.push_back(i);
  return permute(dims);
}

Tensor Tensor::mT() const {
  NABLA_CHECK_SHAPE(dim() >= 2, "mT: tensor.mT is only supported on matrices or batches of "
                    "matrices. Got ", dim(), "-D tensor (shape ", shape(), ")");
  return transpose(-2, -1);
}

Tensor Tensor::permute(const Shape& dims) const {
  NABLA_CHECK_SHAPE(static_cast<int64_t>(dims.size()) == dim(), "permute: number of dims ", dims,
                    " don't match the tensor's ", dim(), " dims (shape ", shape(), ")");
  Shape sizes(dims.size()), st(dims.size()), inverse(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], dim(), "permute");
    NABLA_CHECK_SHAPE(!seen[d], "permute: repeated dim ", dims[i], " in ", dims);
    seen[d] = true;
    sizes[i] = shape()[d];
    st[i] = strides()[d];
    inverse[d] = static_cast<int64_t>(i);
  }
  return autograd::record("permute", view_of(*this, sizes, st, offset()), {*this},
                          [inverse](const Tensor& dy, Grads& g) { g.add(0, dy.permute(inverse)); });
}

// ---- expand ------------------------------------------------------------------------------

Tensor Tensor::expand(const Shape& sizes) const {
  const auto nd = static_cast<int64_t>(sizes.size());
  NABLA_CHECK_SHAPE(nd >= dim(), "expand: the number of sizes provided (", nd,
                    ") must be greater or equal to the number of dimensions in the tensor (", dim(),
                    ")");
  Shape out(sizes.size()), st(sizes.size());
  for (int64_t i = nd - 1; i >= 0; --i) {
    const int64_t j = i - (nd - dim());  // matching dim of self, < 0 for new leading dims
    if (j < 0) {
      NABLA_CHECK_SHAPE(sizes[i] >= 0, "expand: the expanded size of the tensor (", sizes[i],
                        ") isn't allowed in a leading, non-existing dimension ", i);
      out[i] = sizes[i];
      st[i] = 0;
      continue;
    }
    const int64_t have = shape()[j];
    const int64_t want = sizes[i] == -1 ? have : sizes[i];
    NABLA_CHECK_SHAPE(want == have || have == 1, "expand: the expanded size of the tensor (", want,
                      ") must match the existing size (", have, ") at non-singleton dimension ", i,
                      ".  Target sizes: ", sizes, ".  Tensor sizes: ", shape());
    out[i] = want;
    st[i] = want == have ? strides()[j] : 0;
  }
  const Shape in_shape = shape();
  return autograd::record("expand", view_of(*this, out, st, offset()), {*this},
                          [in_shape](const Tensor& dy, Grads& g) {
                            g.add(0, sum_to(dy, in_shape));
                          });
}

Tensor Tensor::expand_as(const Tensor& other) const { return expand(other.shape()); }

// ---- narrow, select, slice ---------------------------------------------------------------

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  NABLA_CHECK_SHAPE(dim() > 0, "narrow: cannot be applied to a 0-dim tensor");
  const int64_t dd = wrap_dim(d, dim(), "narrow");
  const int64_t size = shape()[dd];
  NABLA_CHECK_SHAPE(start >= -size && start <= size, "narrow: start ", start,
                    " is out of range for dimension ", dd, " with size ", size);
  if (start < 0) start += size;
  NABLA_CHECK_SHAPE(length >= 0 && start + length <= size, "narrow: start (", start,
                    ") + length (", length, ") exceeds dimension size (", size, ")");
  Shape sizes = shape();
  sizes[dd] = length;
  const Shape in_shape = shape();
  Tensor out = view_of(*this, sizes, strides(), offset() + start * strides()[dd]);
  return autograd::record("narrow", out, {*this}, [=](const Tensor& dy, Grads& g) {
    g.add(0, grad_through_view(in_shape, dy.dtype(), dy,
                               [&](const Tensor& z) { return z.narrow(dd, start, length); }));
  });
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  NABLA_CHECK_SHAPE(dim() > 0, "select: cannot be applied to a 0-dim tensor");
  const int64_t dd = wrap_dim(d, dim(), "select");
  const int64_t size = shape()[dd];
  NABLA_CHECK_SHAPE(index >= -size && index < size, "select: index ", index,
                    " is out of bounds for dimension ", dd, " with size ", size);
  if (index < 0) index += size;
  Shape sizes = shape(), st = strides();
  sizes.erase(sizes.begin() + dd);
  st.erase(st.begin() + dd);
  const Shape in_shape = shape();
  Tensor out = view_of(*this, sizes, st, offset() + index * strides()[dd]);
  return autograd::record("select", out, {*this}, [=](const Tensor& dy, Grads& g) {
    g.add(0, grad_through_view(in_shape, dy.dtype(), dy,
                               [&](const Tensor& z) { return z.select(dd, index); }));
  });
}

Tensor Tensor::slice(int64_t d, std::optional<int64_t> start, std::optional<int64_t> end,
                     int64_t step) const {
  NABLA_CHECK_SHAPE(dim() > 0, "slice: cannot be applied to a 0-dim tensor");
  NABLA_CHECK_SHAPE(step > 0, "slice: step must be positive, got ", step);
  const int64_t dd = wrap_dim(d, dim(), "slice");
  const int64_t size = shape()[dd];
  const int64_t s = clamp_slice_index(start, size, 0);
  const int64_t e = std::max(s, clamp_slice_index(end, size, size));
  Shape sizes = shape(), st = strides();
  sizes[dd] = (e - s + step - 1) / step;
  st[dd] *= step;
  const Shape in_shape = shape();
  Tensor out = view_of(*this, sizes, st, offset() + s * strides()[dd]);
  return autograd::record("slice", out, {*this}, [=](const Tensor& dy, Grads& g) {
    g.add(0, grad_through_view(in_shape, dy.dtype(), dy,
                               [&](const Tensor& z) { return z.slice(dd, s, e, step); }));
  });
}

// ---- split, chunk ------------------------------------------------------------------------

std::vector<Tensor> Tensor::split(int64_t split_size, int64_t d) const {
  NABLA_CHECK_SHAPE(dim() > 0, "split: cannot be applied to a 0-dim tensor");
  const int64_t dd = wrap_dim(d, dim(), "split");
  const int64_t size = shape()[dd];
  NABLA_CHECK_SHAPE(split_size > 0 || (split_size == 0 && size == 0),
                    "split: split_size must be positive, got ", split_size);
  std::vector<Tensor> out;
  if (size == 0) return {narrow(dd, 0, 0)};
  for (int64_t start = 0; start < size; start += split_size) {
    out.push_back(narrow(dd, start, std::min(split_size, size - start)));
  }
  return out;
}

std::vector<Tensor> Tensor::split(const std::vector<int64_t>& sizes, int64_t d) const {
  NABLA_CHECK_SHAPE(dim() > 0, "split: cannot be applied to a 0-dim tensor");
  const int64_t dd = wrap_dim(d, dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    NABLA_CHECK_SHAPE(s >= 0, "split: split_sizes must be non-negative, got ", Shape(sizes));
    total += s;
  }
  NABLA_CHECK_SHAPE(total == shape()[dd], "split: split_with_sizes expects split_sizes to sum "
                    "exactly to ", shape()[dd], " (input tensor's size at dimension ", dd,
                    "), but got split_sizes=", Shape(sizes));
  std::vector<Tensor> out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(narrow(dd, start, s));
    start += s;
  }
  return out;
}

std::vector<Tensor> Tensor::chunk(int64_t chunks, int64_t d) const {
  NABLA_CHECK_SHAPE(chunks > 0, "chunk: number of chunks must be positive, got ", chunks);
  NABLA_CHECK_SHAPE(dim() > 0, "chunk: cannot be applied to a 0-dim tensor");
  const int64_t size = shape()[wrap_dim(d, dim(), "chunk")];
  return split((size + chunks - 1) / chunks, d);
}

// ---- free functions ----------------------------------------------------------------------

Tensor reshape(const Tensor& a, const Shape& sizes) { return a.reshape(sizes); }
Tensor transpose(const Tensor& a, int64_t dim0, int64_t dim1) { return a.transpose(dim0, dim1); }
Tensor permute(const Tensor& a, const Shape& dims) { return a.permute(dims); }
Tensor unsqueeze(const Tensor& a, int64_t dim) { return a.unsqueeze(dim); }
Tensor squeeze(const Tensor& a, int64_t dim) { return a.squeeze(dim); }
Tensor flatten(const Tensor& a, int64_t start_dim, int64_t end_dim) {
  return a.flatten(start_dim, end_dim);
}
Tensor narrow(const Tensor& a, int64_t dim, int64_t start, int64_t length) {
  return a.narrow(dim, start, length);
}
Tensor select(const Tensor& a, int64_t dim, int64_t index) { return a.select(dim, index); }
std::vector<Tensor> split(const Tensor& a, int64_t split_size, int64_t dim) {
  return a.split(split_size, dim);
}
std::vector<Tensor> chunk(const Tensor& a, int64_t chunks, int64_t dim) {
  return a.chunk(chunks, dim);
}

}  // namespace nabla
