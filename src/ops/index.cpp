// Indexing ops that copy: index_select, gather, cat, stack, tril, triu. Inputs are made
// contiguous and seen as (outer, dim, inner) blocks so the kernels move whole rows; backwards
// scatter-add in a fixed order (deterministic with repeated indices).
#include "nabla/autograd/node.h"
#include "nabla/kernels/cpu/index.h"
#include "nabla/ops/creation.h"
#include "nabla/ops/view.h"
#include "ops/internal.h"

namespace nabla {

using autograd::Grads;

namespace {

// A contiguous tensor with t's values, outside the graph (t itself when already contiguous).
Tensor dense(const Tensor& t) {
  return t.is_contiguous() ? t : ops_detail::dense_copy(t);
}

int64_t prod(const Shape& s, int64_t from, int64_t to) {
  int64_t p = 1;
  for (int64_t i = from; i < to; ++i) p *= s[i];
  return p;
}

// The index as contiguous int64, every value checked against [-size, size); negative ones are
// wrapped in a private copy (the caller's index is used as is when it needs no wrapping).
Tensor checked_index(const char* op, const Tensor& index, int64_t dim, int64_t size) {
  NABLA_CHECK_DTYPE(index.dtype() == kInt64 || index.dtype() == kInt32, op,
                    ": expected index of dtype torch.int64 or torch.int32, got ", index.dtype());
  Tensor idx = index.dtype() == kInt64 ? dense(index) : index.to(kInt64);
  const int64_t* p = idx.data<int64_t>();
  bool negative = false;
  for (int64_t i = 0; i < idx.numel(); ++i) {
    NABLA_CHECK_SHAPE(p[i] >= -size && p[i] < size, op, ": index ", p[i],
                      " is out of bounds for dimension ", dim, " with size ", size);
    negative |= p[i] < 0;
  }
  if (!negative) return idx;
  if (idx.is_alias_of(index)) idx = idx.clone();
  int64_t* q = idx.data<int64_t>();
  for (int64_t i = 0; i < idx.numel(); ++i) q[i] += q[i] < 0 ? size : 0;
  return idx;
}

}  // namespace

Tensor Tensor::index_select(int64_t dim, const Tensor& index) const {
  check_same_device("index_select", {{"self", *this}, {"index", index}});
  NABLA_CHECK_SHAPE(index.dim() <= 1, "index_select: index should have at most 1 dimension, got ",
                    index.shape());
  const int64_t d = wrap_dim(dim, std::max<int64_t>(this->dim(), 1), "index_select");
  const Shape in_shape = shape();
  const int64_t size = this->dim() == 0 ? 1 : in_shape[d];
  const Tensor idx = checked_index("index_select", index, d, size);
  const int64_t n = idx.numel();
  Shape out_shape = in_shape;
  if (this->dim() > 0) out_shape[d] = n;
  const int64_t outer = this->dim() == 0 ? 1 : prod(in_shape, 0, d);
  const int64_t inner = this->dim() == 0 ? 1 : prod(in_shape, d + 1, this->dim());
  Tensor out = Tensor::empty(out_shape, dtype());
  kernels::cpu::index_select_rows(out.raw_data(), dense(*this).raw_data(), idx.data<int64_t>(), n,
                                  outer, size, inner, element_size());
  if (!is_floating_point()) return out;
  return autograd::record("index_select", out, {*this}, [=](const Tensor& dy, Grads& g) {
    if (!g.needs(0)) return;
    Tensor gi = zeros(in_shape, dy.dtype());
    kernels::cpu::index_add_rows(gi.raw_data(), dy.raw_data(), idx.data<int64_t>(), n, outer, size,
                                 inner, dy.dtype());
    g.add(0, gi);
  });
}

Tensor Tensor::gather(int64_t dim, const Tensor& index) const {
  check_same_device("gather", {{"self", *this}, {"index", index}});
  const int64_t nd = std::max<int64_t>(this->dim(), 1);
  const int64_t d = wrap_dim(dim, nd, "gather");
  NABLA_CHECK_SHAPE(index.dim() == this->dim(), "gather: index ", index.shape(),
                    " must have the same number of dimensions as input ", shape());
  Shape src_shape = this->dim() == 0 ? Shape{1} : shape();
  Shape idx_shape = this->dim() == 0 ? Shape{1} : index.shape();
  for (int64_t i = 0; i < nd; ++i) {
    NABLA_CHECK_SHAPE(i == d || idx_shape[i] <= src_shape[i], "gather: size of index ",
                      index.shape(), " must not exceed the input's ", shape(),
                      " except at dimension ", d, " (dimension ", i, ")");
  }
  const Tensor idx = checked_index("gather", index, d, src_shape[d]);
  Tensor out = Tensor::empty(index.shape(), dtype());
  Shape src_strides = this->dim() == 0 ? Shape{1} : strides();
  kernels::cpu::gather(out.raw_data(), raw_data(), src_strides.data(), idx.data<int64_t>(),
                       idx_shape.data(), nd, d, element_size());
  if (!is_floating_point()) return out;
  const Shape in_shape = shape();
  return autograd::record("gather", out, {*this}, [=](const Tensor& dy, Grads& g) {
    if (!g.needs(0)) return;
    Tensor gi = zeros(in_shape, dy.dtype());
    const Shape gs = contiguous_strides(src_shape);
    kernels::cpu::scatter_add(gi.raw_data(), gs.data(), dy.raw_data(), idx.data<int64_t>(),
                              idx_shape.data(), nd, d, dy.dtype());
    g.add(0, gi);
  });
}

// ---- cat, stack --------------------------------------------------------------------------

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  NABLA_CHECK_SHAPE(!tensors.empty(), "cat: expected a non-empty list of tensors");
  // PyTorch skips 1-D empty tensors (legacy behaviour), and promotes dtypes.
  std::vector<Tensor> parts;
  DType dtype = tensors[0].dtype();
  for (size_t i = 0; i < tensors.size(); ++i) {
    check_defined("cat", tensors[i], "tensors[i]");
    check_same_device("cat", {{"tensors[0]", tensors[0]}, {"tensors[i]", tensors[i]}});
    dtype = promote_types(dtype, tensors[i].dtype());
    if (tensors[i].dim() == 1 && tensors[i].numel() == 0) continue;
    parts.push_back(tensors[i]);
  }
  if (parts.empty()) return empty({0}, dtype);
  const Tensor& ref = parts[0];
  NABLA_CHECK_SHAPE(ref.dim() > 0, "cat: zero-dimensional tensor (at position 0) cannot be concatenated");
  const int64_t d = wrap_dim(dim, ref.dim(), "cat");
  Shape out_shape = ref.shape();
  out_shape[d] = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Tensor& t = parts[i];
    bool ok = t.dim() == ref.dim();
    for (int64_t k = 0; ok && k < ref.dim(); ++k) ok = k == d || t.shape()[k] == ref.shape()[k];
    NABLA_CHECK_SHAPE(ok, "cat: sizes of tensors must match except in dimension ", d,
                      ". Expected ", ref.shape(), " but got ", t.shape(), " for tensor number ", i,
                      " in the list");
    out_shape[d] += t.shape()[d];
    if (t.dtype() != dtype) parts[i] = t.to(dtype);
  }
  const int64_t outer = prod(out_shape, 0, d);
  std::vector<Tensor> dense_parts;
  std::vector<const void*> srcs;
  std::vector<size_t> row_bytes;
  std::vector<int64_t> sizes;
  for (const Tensor& t : parts) {
    dense_parts.push_back(dense(t));
    srcs.push_back(dense_parts.back().raw_data());
    row_bytes.push_back(static_cast<size_t>(prod(t.shape(), d, t.dim())) * t.element_size());
    sizes.push_back(t.shape()[d]);
  }
  Tensor out = Tensor::empty(out_shape, dtype);
  kernels::cpu::cat_rows(out.raw_data(), srcs.data(), row_bytes.data(),
                         static_cast<int64_t>(srcs.size()), outer);
  if (!is_floating(dtype)) return out;
  return autograd::record("cat", out, parts, [d, sizes](const Tensor& dy, Grads& g) {
    int64_t start = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (g.needs(i)) g.add(i, dy.narrow(d, start, sizes[i]));
      start += sizes[i];
    }
  });
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  NABLA_CHECK_SHAPE(!tensors.empty(), "stack: expected a non-empty list of tensors");
  const int64_t d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    check_defined("stack", tensors[i], "tensors[i]");
    NABLA_CHECK_SHAPE(tensors[i].shape() == tensors[0].shape(),
                      "stack: expects each tensor to be equal size, but got ", tensors[0].shape(),
                      " at entry 0 and ", tensors[i].shape(), " at entry ", i);
    parts.push_back(tensors[i].detach().unsqueeze(d));
  }
  Tensor out = cat(parts, d);
  if (!out.is_floating_point()) return out;
  std::vector<Tensor> inputs = tensors;
  for (Tensor& t : inputs) {
    if (t.dtype() != out.dtype()) t = t.to(out.dtype());
  }
  return autograd::record("stack", out, inputs, [d](const Tensor& dy, Grads& g) {
    for (size_t i = 0; i < g.size(); ++i) {
      if (g.needs(i)) g.add(i, dy.select(d, static_cast<int64_t>(i)));
    }
  });
}

// ---- tril, triu --------------------------------------------------------------------------

namespace {

Tensor triangle(const char* op, const Tensor& a, int64_t diagonal, bool lower) {
  check_defined(op, a, "self");
  NABLA_CHECK_SHAPE(a.dim() >= 2, op, ": input tensor must have at least 2 dimensions, got ",
                    a.shape());
  Tensor out = ops_detail::dense_copy(a);
  const int64_t rows = a.size(-2), cols = a.size(-1);
  kernels::cpu::triangle_mask(out.raw_data(), a.numel() == 0 ? 0 : a.numel() / (rows * cols), rows,
                              cols, diagonal, lower, a.element_size());
  if (!a.is_floating_point()) return out;
  return autograd::record(op, out, {a}, [=](const Tensor& dy, Grads& g) {
    g.add(0, lower ? tril(dy, diagonal) : triu(dy, diagonal));
  });
}

}  // namespace

Tensor tril(const Tensor& a, int64_t diagonal) { return triangle("tril", a, diagonal, true); }
Tensor triu(const Tensor& a, int64_t diagonal) { return triangle("triu", a, diagonal, false); }

Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index) {
  return a.index_select(dim, index);
}
Tensor gather(const Tensor& a, int64_t dim, const Tensor& index) { return a.gather(dim, index); }

}  // namespace nabla
