// Printing tensors in PyTorch's layout (torch/_tensor_str.py, torch 1.13, default options:
// precision 4, threshold 1000, edgeitems 3, linewidth 80). The functions mirror that file's
// _Formatter, _vector_str, _tensor_str_with_formatter and _add_suffixes, so the output matches
// str(t) character for character (tests/core/print_test.cpp checks this against torch). It sits
// in autograd, the lowest layer that can read grad_fn()->name.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "nabla/autograd/node.h"
#include "nabla/core/tensor.h"

namespace nabla {

namespace {

constexpr int kPrecision = 4;
constexpr int64_t kThreshold = 1000;
constexpr int64_t kEdgeItems = 3;
constexpr int64_t kLineWidth = 80;

// One element: its value as double (floating, bf16 widened to f32 first) or exact integer.
struct Value {
  double d = 0;
  int64_t i = 0;
};

Value load(const Tensor& t, int64_t offset) {
  const void* base = t.raw_data();
  Value v;
  switch (t.dtype()) {
    case DType::F32: v.d = static_cast<const float*>(base)[offset]; break;
    case DType::F64: v.d = static_cast<const double*>(base)[offset]; break;
    case DType::BF16: v.d = static_cast<float>(static_cast<const BFloat16*>(base)[offset]); break;
    case DType::I32: v.i = static_cast<const int32_t*>(base)[offset]; break;
    case DType::I64: v.i = static_cast<const int64_t*>(base)[offset]; break;
    case DType::U8: v.i = static_cast<const uint8_t*>(base)[offset]; break;
    case DType::Bool: v.i = static_cast<const uint8_t*>(base)[offset] != 0 ? 1 : 0; break;
  }
  return v;
}

// The indices printed along a dim of this size: all, or edgeitems at each end.
std::vector<int64_t> shown(int64_t size, bool summarize) {
  std::vector<int64_t> idx;
  if (summarize && size > 2 * kEdgeItems) {
    for (int64_t i = 0; i < kEdgeItems; ++i) idx.push_back(i);
    for (int64_t i = size - kEdgeItems; i < size; ++i) idx.push_back(i);
  } else {
    for (int64_t i = 0; i < size; ++i) idx.push_back(i);
  }
  return idx;
}

void collect(const Tensor& t, int64_t dim, int64_t offset, bool summarize, std::vector<Value>& out) {
  if (dim == t.dim()) {
    out.push_back(load(t, offset));
    return;
  }
  for (int64_t i : shown(t.shape()[dim], summarize)) {
    collect(t, dim + 1, offset + i * t.strides()[dim], summarize, out);
  }
}

std::string printf_str(const char* fmt, int width, double v) {
  if (std::isnan(v)) return std::string(std::max(0, width - 3), ' ') + "nan";  // never "-nan"
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, width, kPrecision, v);
  return buf;
}

std::string fixed_str(double v) { return printf_str("%*.*f", 0, v); }
std::string sci_str(double v, int width = 0) { return printf_str("%*.*e", width, v); }
std::string int_mode_str(double v) {
  if (std::isnan(v)) return "nan";
  char buf[400];
  std::snprintf(buf, sizeof(buf), "%.0f", v);
  return std::isinf(v) ? std::string(buf) : std::string(buf) + ".";
}

// torch's _Formatter: picks integer, fixed or scientific notation and the column width.
class Formatter {
 public:
  Formatter(const std::vector<Value>& values, DType dtype)
      : floating_(is_floating(dtype)), bool_(dtype == DType::Bool) {
    if (!floating_) {
      for (const Value& v : values) width_ = std::max(width_, plain(v).size());
      return;
    }
    std::vector<double> nz;
    for (const Value& v : values) {
      if (std::isfinite(v.d) && v.d != 0) nz.push_back(v.d);
    }
    if (nz.empty()) return;
    double lo = std::abs(nz[0]), hi = lo;
    for (double v : nz) {
      lo = std::min(lo, std::abs(v));
      hi = std::max(hi, std::abs(v));
      if (v != std::ceil(v)) int_mode_ = false;
    }
    if (int_mode_) {
      sci_ = hi / lo > 1000.0 || hi > 1.0e8;
      for (double v : nz) width_ = std::max(width_, sci_ ? sci_str(v).size() : int_mode_str(v).size());
    } else {
      sci_ = hi / lo > 1000.0 || hi > 1.0e8 || lo < 1.0e-4;
      for (double v : nz) width_ = std::max(width_, sci_ ? sci_str(v).size() : fixed_str(v).size());
    }
  }

  size_t width() const { return width_; }

  std::string format(const Value& v) const {
    std::string s;
    if (!floating_) {
      s = plain(v);
    } else if (sci_) {
      s = sci_str(v.d, static_cast<int>(width_));
    } else if (int_mode_) {
      s = int_mode_str(v.d);
    } else {
      s = fixed_str(v.d);
    }
    return std::string(width_ > s.size() ? width_ - s.size() : 0, ' ') + s;
  }

 private:
  std::string plain(const Value& v) const {
    if (bool_) return v.i != 0 ? "True" : "False";
    return std::to_string(v.i);
  }

  bool floating_;
  bool bool_;
  bool int_mode_ = true;
  bool sci_ = false;
  size_t width_ = 1;
};

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

// "[" + s + "]", spelled out: GCC 12 warns falsely (-Wrestrict) on literal + string.
std::string bracket(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('[');
  out.append(s);
  out.push_back(']');
  return out;
}

std::string vector_str(const Tensor& t, int64_t offset, int64_t indent, bool summarize,
                       const Formatter& f) {
  const auto element_length = static_cast<int64_t>(f.width()) + 2;
  const int64_t per_line = std::max<int64_t>(1, (kLineWidth - indent) / element_length);
  const int64_t size = t.shape().back(), stride = t.strides().back();
  std::vector<std::string> data;
  const bool cut = summarize && size > 2 * kEdgeItems;
  for (int64_t i : shown(size, summarize)) {
    if (cut && i == size - kEdgeItems) data.emplace_back(" ...");
    data.push_back(f.format(load(t, offset + i * stride)));
  }
  std::vector<std::string> lines;
  for (size_t i = 0; i < data.size(); i += static_cast<size_t>(per_line)) {
    const size_t end = std::min(data.size(), i + static_cast<size_t>(per_line));
    lines.push_back(join(std::vector<std::string>(data.begin() + static_cast<int64_t>(i),
                                                  data.begin() + static_cast<int64_t>(end)),
                         ", "));
  }
  std::string sep = ",\n";
  sep.append(static_cast<size_t>(indent) + 1, ' ');
  return bracket(join(lines, sep));
}

std::string tensor_str(const Tensor& t, int64_t dim, int64_t offset, int64_t indent, bool summarize,
                       const Formatter& f) {
  const int64_t remaining = t.dim() - dim;
  if (remaining == 0) return f.format(load(t, offset));
  if (remaining == 1) return vector_str(t, offset, indent, summarize, f);
  const int64_t size = t.shape()[dim];
  const bool cut = summarize && size > 2 * kEdgeItems;
  std::vector<std::string> slices;
  for (int64_t i : shown(size, summarize)) {
    if (cut && i == size - kEdgeItems) slices.emplace_back("...");
    slices.push_back(tensor_str(t, dim + 1, offset + i * t.strides()[dim], indent + 1, summarize, f));
  }
  std::string sep = ",";
  sep.append(static_cast<size_t>(remaining - 1), '\n');
  sep.append(static_cast<size_t>(indent) + 1, ' ');
  return bracket(join(slices, sep));
}

// "index_select" -> "IndexSelectBackward0", as torch names its grad_fn classes.
std::string backward_name(const std::string& op) {
  std::string out;
  bool upper = true;
  for (char c : op) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out + "Backward0";
}

std::string add_suffixes(std::string s, const std::vector<std::string>& suffixes, int64_t indent) {
  const size_t nl = s.rfind('\n');
  // torch: len(s) - s.rfind('\n') + 1, where rfind gives -1 when there is no newline.
  auto last_line = static_cast<int64_t>(s.size()) - (nl == std::string::npos ? -1 : static_cast<int64_t>(nl)) + 1;
  for (const std::string& suffix : suffixes) {
    const auto len = static_cast<int64_t>(suffix.size());
    if (last_line + len + 2 > kLineWidth) {
      s += ",\n" + std::string(static_cast<size_t>(indent), ' ') + suffix;
      last_line = indent + len;
    } else {
      s += ", " + suffix;
      last_line += len + 2;
    }
  }
  return s + ")";
}

std::string size_tuple(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i > 0 ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

}  // namespace

std::string to_string(const Tensor& t) {
  if (!t.defined()) return "tensor(undefined)";
  const std::string prefix = "tensor(";
  const auto indent = static_cast<int64_t>(prefix.size());
  std::vector<std::string> suffixes;
  if (!t.device().is_cpu()) suffixes.push_back("device='" + t.device().str() + "'");
  std::string body;
  const std::string dtype_suffix = "dtype=" + std::string(dtype_name(t.dtype()));
  if (t.numel() == 0) {
    body = "[]";
    if (t.dim() != 1) suffixes.push_back("size=" + size_tuple(t.shape()));
    if (t.dtype() != kFloat32) suffixes.push_back(dtype_suffix);
  } else {
    if (t.dtype() != kFloat32 && t.dtype() != kInt64 && t.dtype() != kBool) {
      suffixes.push_back(dtype_suffix);
    }
    const bool summarize = t.numel() > kThreshold;
    std::vector<Value> values;
    collect(t, 0, 0, summarize, values);
    const Formatter f(values, t.dtype());
    body = tensor_str(t, 0, 0, indent, summarize, f);
  }
  if (t.grad_fn() != nullptr) {
    suffixes.push_back("grad_fn=<" + backward_name(t.grad_fn()->name) + ">");
  } else if (t.requires_grad()) {
    suffixes.push_back("requires_grad=True");
  }
  return add_suffixes(prefix + body, suffixes, indent);
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << to_string(t); }

}  // namespace nabla
