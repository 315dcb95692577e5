// Tensor metadata, raw element access and operand checks. Computing methods live in src/ops.
#include "nabla/core/tensor.h"

#include <sstream>

namespace nabla {

namespace {

double load_as_double(const void* base, int64_t index, DType t) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(base)[index];
    case DType::F64: return static_cast<const double*>(base)[index];
    case DType::BF16: return static_cast<const BFloat16*>(base)[index];
    case DType::I32: return static_cast<const int32_t*>(base)[index];
    case DType::I64: return static_cast<double>(static_cast<const int64_t*>(base)[index]);
    case DType::U8: return static_cast<const uint8_t*>(base)[index];
    case DType::Bool: return static_cast<const uint8_t*>(base)[index] != 0;
  }
  return 0;
}

}  // namespace

Tensor Tensor::empty(const Shape& sizes, TensorOptions opts) {
  const int64_t n = numel_of(sizes);
  const size_t esize = nabla::element_size(opts.dtype_);
  NABLA_CHECK(static_cast<uint64_t>(n) <= (uint64_t{1} << 62) / esize, "empty: shape ", sizes,
              " is too large to allocate");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(n) * esize, opts.device_);
  impl->sizes = sizes;
  impl->strides = contiguous_strides(sizes);
  impl->dtype = opts.dtype_;
  Tensor t(std::move(impl));
  if (opts.requires_grad_) t.requires_grad_(true);
  return t;
}

Tensor Tensor::make_view(std::shared_ptr<Storage> storage, const Shape& sizes, const Shape& strides,
                         int64_t offset, DType dtype) {
  NABLA_ASSERT(sizes.size() == strides.size(), "sizes ", sizes, " strides ", strides);
  // The nearest and furthest elements must lie inside the storage.
  if (numel_of(sizes) > 0) {
    int64_t lo = offset;
    int64_t hi = offset;
    for (size_t i = 0; i < sizes.size(); ++i) {
      (strides[i] >= 0 ? hi : lo) += (sizes[i] - 1) * strides[i];
    }
    const auto esize = static_cast<int64_t>(nabla::element_size(dtype));
    NABLA_CHECK_SHAPE(lo >= 0 && (hi + 1) * esize <= static_cast<int64_t>(storage->nbytes()),
                      "view: sizes ", sizes, " with strides ", strides, " and offset ", offset,
                      " reach outside a storage of ", storage->nbytes(), " bytes");
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->sizes = sizes;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

TensorImpl& Tensor::impl() const {
  NABLA_CHECK(impl_ != nullptr, "tensor: use of an undefined tensor");
  return *impl_;
}

int64_t Tensor::size(int64_t i) const { return shape()[wrap_dim(i, dim(), "size")]; }
int64_t Tensor::stride(int64_t i) const { return strides()[wrap_dim(i, dim(), "stride")]; }

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t s : shape()) n *= s;
  return n;
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    const int64_t s = impl().sizes[i];
    if (s == 0) return true;
    if (s != 1 && impl().strides[i] != expected) return false;
    expected *= s;
  }
  return true;
}

bool Tensor::is_alias_of(const Tensor& other) const {
  return defined() && other.defined() && storage() == other.storage();
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined";
  std::ostringstream os;
  os << shape() << ' ' << dtype() << ' ' << device();
  return os.str();
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data()) + impl().offset * static_cast<int64_t>(element_size());
}

void Tensor::check_dtype_for_data(DType requested) const {
  NABLA_CHECK_DTYPE(requested == dtype() || (requested == DType::U8 && dtype() == DType::Bool),
                    "data: requested ", requested, " elements from a ", dtype(), " tensor");
  NABLA_CHECK_T(DeviceError, device().is_cpu(), "data: tensor is on ", device(), ", not cpu");
}

double Tensor::at(const Shape& index) const {
  NABLA_CHECK_SHAPE(static_cast<int64_t>(index.size()) == dim(), "at: index ", index,
                    " does not match a tensor of shape ", shape());
  int64_t off = 0;
  for (int64_t i = 0; i < dim(); ++i) {
    NABLA_CHECK_SHAPE(index[i] >= 0 && index[i] < shape()[i], "at: index ", index,
                      " is out of bounds for shape ", shape());
    off += index[i] * strides()[i];
  }
  return load_as_double(raw_data(), off, dtype());
}

std::vector<double> Tensor::to_vector() const {
  std::vector<double> out;
  out.reserve(static_cast<size_t>(numel()));
  if (numel() == 0) return out;
  Shape idx(static_cast<size_t>(dim()), 0);
  const void* base = raw_data();
  for (int64_t n = 0; n < numel(); ++n) {
    int64_t off = 0;
    for (int64_t i = 0; i < dim(); ++i) off += idx[i] * strides()[i];
    out.push_back(load_as_double(base, off, dtype()));
    for (int64_t i = dim() - 1; i >= 0 && ++idx[i] == shape()[i]; --i) idx[i] = 0;
  }
  return out;
}

template <typename T>
T Tensor::item() const {
  NABLA_CHECK_SHAPE(numel() == 1, "item: a tensor with ", numel(),
                    " elements cannot be converted to a scalar (shape ", shape(), ")");
  const double v = load_as_double(raw_data(), 0, dtype());
  if (dtype() == DType::I64) return static_cast<T>(static_cast<const int64_t*>(raw_data())[0]);
  return static_cast<T>(v);
}
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int32_t Tensor::item<int32_t>() const;
template int64_t Tensor::item<int64_t>() const;
template bool Tensor::item<bool>() const;

void check_defined(const char* op, const Tensor& t, const char* name) {
  NABLA_CHECK(t.defined(), op, ": ", name, " is an undefined tensor");
}

void check_same_device(const char* op, std::initializer_list<Operand> operands) {
  const Operand* first = nullptr;
  for (const Operand& o : operands) {
    check_defined(op, o.tensor, o.name);
    if (first == nullptr) {
      first = &o;
    } else {
      NABLA_CHECK_T(DeviceError, o.tensor.device() == first->tensor.device(), op,
                    ": expected all tensors on the same device, got ", first->tensor.device(), " (",
                    first->name, ") and ", o.tensor.device(), " (", o.name, ")");
    }
  }
}

void check_same(const char* op, std::initializer_list<Operand> operands) {
  check_same_device(op, operands);
  const Operand* first = operands.begin();
  for (const Operand& o : operands) {
    NABLA_CHECK_DTYPE(o.tensor.dtype() == first->tensor.dtype(), op,
                      ": expected all tensors to have the same dtype, got ", first->tensor.dtype(),
                      " (", first->name, ") and ", o.tensor.dtype(), " (", o.name, ")");
  }
}

}  // namespace nabla
