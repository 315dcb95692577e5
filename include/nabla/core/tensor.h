// Tensor: a handle to shared storage plus sizes, strides, an element offset, a dtype and a
// device, with autograd metadata. Copying a Tensor copies the handle (like torch::Tensor).
// Methods that compute are declared here and defined in the ops layer (src/ops), so that
// `x.matmul(w).relu().sum().backward()` reads as it does in PyTorch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "nabla/core/device.h"
#include "nabla/core/dtype.h"
#include "nabla/core/error.h"
#include "nabla/core/scalar.h"
#include "nabla/core/shape.h"
#include "nabla/core/storage.h"

namespace nabla {

class Tensor;

namespace autograd {
class Node;
}

/// A hook called with a leaf once backward() has accumulated all of its gradient.
using PostAccumulateGradHook = std::function<void(const Tensor&)>;

/// What a new tensor is made with: dtype, device, requires_grad. A DType converts to it, so
/// zeros({2, 3}, kInt64) works, and so does zeros({2, 3}, TensorOptions().requires_grad()).
struct TensorOptions {
  DType dtype_ = DType::F32;
  Device device_;
  bool requires_grad_ = false;

  TensorOptions() = default;
  TensorOptions(DType t) : dtype_(t) {}     // NOLINT(google-explicit-constructor)
  TensorOptions(Device d) : device_(d) {}   // NOLINT(google-explicit-constructor)
  TensorOptions dtype(DType t) const { auto o = *this; o.dtype_ = t; return o; }
  TensorOptions device(Device d) const { auto o = *this; o.device_ = d; return o; }
  TensorOptions requires_grad(bool r = true) const { auto o = *this; o.requires_grad_ = r; return o; }
};

/// The state behind a Tensor handle. Views share `storage`.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape sizes;
  Shape strides;   // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::F32;
  bool requires_grad = false;
  bool retains_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;  // null for leaves
  std::vector<std::pair<uint64_t, PostAccumulateGradHook>> grad_hooks;  // (id, hook), leaves
};

class Tensor {
 public:
  Tensor() = default;  ///< undefined tensor (like a default torch::Tensor)
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  /// A new contiguous tensor with uninitialised memory.
  static Tensor empty(const Shape& sizes, TensorOptions opts = {});
  /// A view of `storage` with the given geometry (checked against the storage's size).
  static Tensor make_view(std::shared_ptr<Storage> storage, const Shape& sizes, const Shape& strides,
                          int64_t offset, DType dtype);

  // ---- metadata -------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().sizes; }
  const Shape& sizes() const { return impl().sizes; }
  const Shape& strides() const { return impl().strides; }
  /// Size of dim i; negative i counts from the end.
  int64_t size(int64_t i) const;
  int64_t stride(int64_t i) const;
  int64_t dim() const { return static_cast<int64_t>(impl().sizes.size()); }
  int64_t numel() const;
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  TensorOptions options() const { return TensorOptions(dtype()).device(device()); }
  size_t element_size() const { return nabla::element_size(dtype()); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * element_size(); }
  bool is_contiguous() const;
  bool is_floating_point() const { return is_floating(dtype()); }
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  /// True when both tensors view the same storage.
  bool is_alias_of(const Tensor& other) const;
  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  /// "[2, 3] torch.float32 cpu": for error messages.
  std::string describe() const;

  // ---- raw data -------------------------------------------------------------------------
  /// Pointer to the first element (storage + offset). Checks that T matches dtype(); the
  /// layout is given by strides(), so call contiguous() first when you need a flat buffer.
  template <typename T>
  T* data() const {
    check_dtype_for_data(dtype_of<T>());
    return static_cast<T*>(impl().storage->data()) + impl().offset;
  }
  void* raw_data() const;
  /// The value of a one-element tensor.
  template <typename T>
  T item() const;
  double item() const { return item<double>(); }
  /// Element at a multi-index, converted to double (slow; for tests and printing).
  double at(const Shape& index) const;
  /// All elements in row-major order as doubles (slow; for tests and printing).
  std::vector<double> to_vector() const;

  // ---- autograd (defined in src/autograd) -----------------------------------------------
  bool requires_grad() const { return impl().requires_grad; }
  /// Marks a leaf as needing a gradient (throws on non-floating dtypes or non-leaves when
  /// turning it off).
  Tensor& requires_grad_(bool requires_grad = true);
  /// The accumulated gradient (undefined when none was computed yet).
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl().grad_fn; }
  /// Keeps .grad() for a non-leaf tensor after backward().
  void retain_grad() const;
  /// Calls hook(*this) in each backward() that reaches this leaf, once .grad() holds all of
  /// that pass's contributions (torch.Tensor.register_post_accumulate_grad_hook), in
  /// registration order, on the thread running backward(). Returns the id that
  /// remove_post_accumulate_grad_hook takes. Leaves that require grad only.
  uint64_t register_post_accumulate_grad_hook(PostAccumulateGradHook hook) const;
  /// Removes the hook with this id (from register_post_accumulate_grad_hook); unknown ids throw.
  void remove_post_accumulate_grad_hook(uint64_t id) const;
  /// Backpropagates from this tensor. With no gradient, the tensor must hold one element.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  /// A new tensor sharing storage, cut from the graph.
  Tensor detach() const;
  Tensor& detach_();

  // ---- conversion and copies (src/ops/copy.cpp) -----------------------------------------
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor clone() const;
  Tensor contiguous() const;
  /// Copies src into this tensor in place (broadcasting src, converting its dtype).
  Tensor& copy_(const Tensor& src);
  Tensor& zero_();
  Tensor& fill_(Scalar value);
  /// In-place random fills for initialisation (seeded by the global generator).
  Tensor& uniform_(double low = 0.0, double high = 1.0);
  Tensor& normal_(double mean = 0.0, double std = 1.0);

  // ---- views and indexing (src/ops/view.cpp, src/ops/index.cpp) --------------------------
  Tensor reshape(const Shape& sizes) const;  ///< one size may be -1; copies only when it must
  Tensor view(const Shape& sizes) const;     ///< throws when strides don't allow a view
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;   ///< 2-D transpose (<= 2 dims)
  Tensor T() const;   ///< reverses all dims
  Tensor mT() const;  ///< swaps the last two dims
  Tensor permute(const Shape& dims) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor expand(const Shape& sizes) const;  ///< -1 keeps a size
  Tensor expand_as(const Tensor& other) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;
  /// Python's t[start:end:step] along dim; start/end are clamped like Python slices.
  Tensor slice(int64_t dim, std::optional<int64_t> start = std::nullopt,
               std::optional<int64_t> end = std::nullopt, int64_t step = 1) const;
  Tensor operator[](int64_t index) const { return select(0, index); }
  Tensor index_select(int64_t dim, const Tensor& index) const;
  Tensor gather(int64_t dim, const Tensor& index) const;
  Tensor masked_fill(const Tensor& mask, Scalar value) const;
  Tensor& masked_fill_(const Tensor& mask, Scalar value);
  std::vector<Tensor> split(int64_t split_size, int64_t dim = 0) const;
  std::vector<Tensor> split(const std::vector<int64_t>& sizes, int64_t dim = 0) const;
  std::vector<Tensor> chunk(int64_t chunks, int64_t dim = 0) const;

  // ---- element-wise (src/ops/elementwise.cpp) -------------------------------------------
  Tensor add(const Tensor& other, Scalar alpha = 1) const;
  Tensor sub(const Tensor& other, Scalar alpha = 1) const;
  Tensor mul(const Tensor& other) const;
  Tensor div(const Tensor& other) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor pow(Scalar exponent) const;
  Tensor neg() const;
  Tensor abs() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  /// approximate: "none" (exact erf form) or "tanh"
  Tensor gelu(const std::string& approximate = "none") const;
  Tensor silu() const;
  Tensor clamp(std::optional<double> min, std::optional<double> max = std::nullopt) const;
  Tensor eq(const Tensor& other) const;
  Tensor ne(const Tensor& other) const;
  Tensor lt(const Tensor& other) const;
  Tensor le(const Tensor& other) const;
  Tensor gt(const Tensor& other) const;
  Tensor ge(const Tensor& other) const;
  Tensor& add_(const Tensor& other, Scalar alpha = 1);
  Tensor& add_(Scalar other);
  Tensor& sub_(const Tensor& other, Scalar alpha = 1);
  Tensor& sub_(Scalar other);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(Scalar other);
  Tensor& div_(const Tensor& other);
  Tensor& div_(Scalar other);
  Tensor& clamp_(std::optional<double> min, std::optional<double> max = std::nullopt);
  Tensor& relu_();
  Tensor& sigmoid_();
  Tensor& exp_();

  // ---- reductions (src/ops/reduce.cpp) -------------------------------------------------
  Tensor sum() const;
  Tensor sum(const Shape& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const Shape& dims, bool keepdim = false) const;
  /// correction 1 is Bessel's (unbiased, PyTorch's default), 0 the population variance;
  /// empty dims reduce over all of them (x.var(Shape{}, 0)).
  Tensor var(const Shape& dims, int64_t correction = 1, bool keepdim = false) const;
  /// Unbiased variance of all elements. (No integer overload: x.var({2}) must mean dim 2.)
  Tensor var() const;
  Tensor max() const;
  Tensor min() const;
  /// (values, indices) along dim.
  std::pair<Tensor, Tensor> max(int64_t dim, bool keepdim = false) const;
  std::pair<Tensor, Tensor> min(int64_t dim, bool keepdim = false) const;
  Tensor argmax() const;
  Tensor argmax(int64_t dim, bool keepdim = false) const;
  Tensor argmin(int64_t dim, bool keepdim = false) const;
  Tensor softmax(int64_t dim) const;
  Tensor log_softmax(int64_t dim) const;
  Tensor logsumexp(int64_t dim, bool keepdim = false) const;
  /// p-norm over all elements (p = 2 by default) or over dims.
  Tensor norm(double p = 2.0) const;
  Tensor norm(double p, const Shape& dims, bool keepdim = false) const;

  // ---- linear algebra (src/ops/matmul.cpp) ----------------------------------------------
  Tensor matmul(const Tensor& other) const;

 private:
  void check_dtype_for_data(DType requested) const;
  std::shared_ptr<TensorImpl> impl_;
};

// Arithmetic operators (src/ops/elementwise.cpp). Comparisons are named (eq, lt, ...) rather
// than overloaded, so `a == b` keeps meaning "same handle".
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, Scalar b);
Tensor operator-(const Tensor& a, Scalar b);
Tensor operator*(const Tensor& a, Scalar b);
Tensor operator/(const Tensor& a, Scalar b);
Tensor operator+(Scalar a, const Tensor& b);
Tensor operator-(Scalar a, const Tensor& b);
Tensor operator*(Scalar a, const Tensor& b);
Tensor operator/(Scalar a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor& operator+=(Tensor& a, const Tensor& b);
Tensor& operator-=(Tensor& a, const Tensor& b);
Tensor& operator*=(Tensor& a, const Tensor& b);
Tensor& operator/=(Tensor& a, const Tensor& b);
Tensor& operator+=(Tensor& a, Scalar b);
Tensor& operator-=(Tensor& a, Scalar b);
Tensor& operator*=(Tensor& a, Scalar b);
Tensor& operator/=(Tensor& a, Scalar b);

/// Prints in PyTorch's layout: tensor([[1.0000, 2.0000], ...], dtype=..., requires_grad=True).
std::ostream& operator<<(std::ostream& os, const Tensor& t);
/// The same text as operator<<.
std::string to_string(const Tensor& t);

/// A named operand in a check: {"self", a}.
struct Operand {
  const char* name;
  const Tensor& tensor;
};
/// Checks that all operands are defined and share one device and one dtype; the message names
/// op and the operands: "add: expected all tensors on the same device, got cpu (self) and
/// cuda:0 (other)".
void check_same(const char* op, std::initializer_list<Operand> operands);
/// Checks only definedness and the device.
void check_same_device(const char* op, std::initializer_list<Operand> operands);
/// Throws naming op when t is undefined.
void check_defined(const char* op, const Tensor& t, const char* name);

}  // namespace nabla
