// Printing tensors exactly as torch 1.13 prints them (torch/_tensor_str.py, default print
// options: precision 4, linewidth 80, threshold 1000, edgeitems 3), so an example's output
// can be compared line for line with its PyTorch twin's.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "nabla/autograd/node.h"
#include "nabla/core/tensor.h"

namespace nabla {
namespace {

constexpr int kPrecision = 4;
constexpr size_t kLinewidth = 80;
constexpr int64_t kThreshold = 1000;
constexpr int64_t kEdgeItems = 3;

std::string format_fixed(double v, int precision) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "%.*f", precision, v);
  return buf;
}
std::string format_sci(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*e", kPrecision, v);
  return buf;
}
// Python's str() of an int, and of inf/nan in the float formats.
std::string format_nonfinite(double v) {
  if (std::isnan(v)) return "nan";
  return v > 0 ? "inf" : "-inf";
}

// torch's _Formatter: one width and one mode (int, fixed or scientific) for the whole tensor,
// chosen from the values that will be shown.
class Formatter {
 public:
  Formatter(const std::vector<double>& values, DType dtype) : floating_(is_floating(dtype)) {
    bool_ = dtype == DType::Bool;
    if (!floating_) {
      for (double v : values) width_ = std::max(width_, raw(v).size());
      return;
    }
    std::vector<double> finite;
    for (double v : values) {
      if (std::isfinite(v) && v != 0) finite.push_back(v);
    }
    if (finite.empty()) return;
    double lo = INFINITY, hi = 0;
    for (double v : finite) {
      lo = std::min(lo, std::fabs(v));
      hi = std::max(hi, std::fabs(v));
      int_mode_ = int_mode_ && v == std::ceil(v);
    }
    sci_ = hi / lo > 1000.0 || hi > 1e8 || (!int_mode_ && lo < 1e-4);
    for (double v : finite) {
      const size_t w = sci_ ? format_sci(v).size()
                            : int_mode_ ? format_fixed(v, 0).size() + 1 : format_fixed(v, kPrecision).size();
      width_ = std::max(width_, w);
    }
  }
  size_t width() const { return width_; }
  std::string format(double v) const {
    const std::string s = raw(v);
    return std::string(width_ > s.size() ? width_ - s.size() : 0, ' ') + s;
  }

 private:
  std::string raw(double v) const {
    if (bool_) return v != 0 ? "True" : "False";
    if (!floating_) return format_fixed(v, 0);
    if (!std::isfinite(v)) return format_nonfinite(v);
    if (sci_) return format_sci(v);
    if (int_mode_) return format_fixed(v, 0) + ".";
    return format_fixed(v, kPrecision);
  }
  bool floating_;
  bool bool_ = false;
  bool int_mode_ = true;
  bool sci_ = false;
  size_t width_ = 1;
};

// Row-major values of t, reading only the edge items of each dim when summarizing.
struct Printer {
  const Tensor& t;
  std::vector<double> values;  // t.to_vector()
  bool summarize;

  double value(const Shape& idx) const {
    int64_t flat = 0;
    for (size_t d = 0; d < idx.size(); ++d) flat = flat * t.size(static_cast<int64_t>(d)) + idx[d];
    return values[static_cast<size_t>(flat)];
  }
  // Indices along dim that are shown: all, or the first and last kEdgeItems.
  std::vector<int64_t> shown(int64_t dim) const {
    const int64_t n = t.size(dim);
    std::vector<int64_t> out;
    for (int64_t i = 0; i < n; ++i) {
      if (!summarize || n <= 2 * kEdgeItems || i < kEdgeItems || i >= n - kEdgeItems) out.push_back(i);
    }
    return out;
  }
  void collect(Shape& idx, std::vector<double>& out) const {
    if (static_cast<int64_t>(idx.size()) == t.dim()) {
      out.push_back(value(idx));
      return;
    }
    for (int64_t i : shown(static_cast<int64_t>(idx.size()))) {
      idx.push_back(i);
      collect(idx, out);
      idx.pop_back();
    }
  }
  // _tensor_str_with_formatter for the sub-tensor at idx.
  std::string str(Shape& idx, size_t indent, const Formatter& f) const {
    const int64_t d = static_cast<int64_t>(idx.size());
    const int64_t n = t.size(d);
    const bool cut = summarize && n > 2 * kEdgeItems;
    std::vector<std::string> parts;
    for (int64_t i : shown(d)) {
      if (cut && i == n - kEdgeItems) parts.emplace_back(d == t.dim() - 1 ? " ..." : "...");
      idx.push_back(i);
      parts.push_back(d == t.dim() - 1 ? f.format(value(idx)) : str(idx, indent + 1, f));
      idx.pop_back();
    }
    if (d == t.dim() - 1) return vector_str(parts, indent, f);
    std::string sep = ",";
    sep.append(static_cast<size_t>(t.dim() - d - 1), '\n').append(indent + 1, ' ');
    std::string s = "[";
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) s += sep;
      s += parts[i];
    }
    s += "]";
    return s;
  }
  // _vector_str: the elements wrapped to the line width.
  static std::string vector_str(const std::vector<std::string>& parts, size_t indent, const Formatter& f) {
    const size_t element_length = f.width() + 2;
    const size_t per_line = std::max<size_t>(1, (kLinewidth - std::min(indent, kLinewidth)) / element_length);
    std::string s = "[";
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) s += i % per_line == 0 ? ",\n" + std::string(indent + 1, ' ') : ", ";
      s += parts[i];
    }
    return s + "]";
  }
};

// "binary_cross_entropy" -> "BinaryCrossEntropyBackward0", torch's grad_fn class names.
std::string grad_fn_name(const std::string& op) {
  std::string out;
  bool up = true;
  for (char c : op) {
    if (c == '_') {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  return out + "Backward0";
}

std::string add_suffixes(std::string s, const std::vector<std::string>& suffixes, size_t indent) {
  // Python: len(s) - s.rfind('\n') + 1, where rfind gives -1 when there is no newline.
  const size_t nl = s.rfind('\n');
  size_t last_line_len = nl == std::string::npos ? s.size() + 2 : s.size() - nl + 1;
  for (const std::string& suffix : suffixes) {
    if (last_line_len + suffix.size() + 2 > kLinewidth) {
      s += ",\n" + std::string(indent, ' ') + suffix;
      last_line_len = indent + suffix.size();
    } else {
      s += ", " + suffix;
      last_line_len += suffix.size() + 2;
    }
  }
  return s + ")";
}

}  // namespace

std::string to_string(const Tensor& t) {
  if (!t.defined()) return "[ Tensor (undefined) ]";
  const std::string prefix = "tensor(";
  const size_t indent = prefix.size();
  const bool default_dtype = t.dtype() == DType::F32 || t.dtype() == DType::I64 || t.dtype() == DType::Bool;
  std::vector<std::string> suffixes;
  std::string body;
  if (t.numel() == 0) {
    if (t.dim() != 1) {  // Python's tuple repr: (0, 3)
      std::string size = "size=(";
      for (int64_t i = 0; i < t.dim(); ++i) size += (i > 0 ? ", " : "") + std::to_string(t.size(i));
      suffixes.push_back(size + ")");
    }
    if (t.dtype() != DType::F32) suffixes.push_back("dtype=" + std::string(dtype_name(t.dtype())));
    body = "[]";
  } else {
    if (!default_dtype) suffixes.push_back("dtype=" + std::string(dtype_name(t.dtype())));
    const Printer p{t, t.to_vector(), t.numel() > kThreshold};
    Shape idx;
    std::vector<double> shown_values;
    p.collect(idx, shown_values);
    const Formatter f(shown_values, t.dtype());
    body = t.dim() == 0 ? f.format(p.values[0]) : p.str(idx, indent, f);
  }
  if (t.grad_fn()) {
    suffixes.push_back("grad_fn=<" + grad_fn_name(t.grad_fn()->name) + ">");
  } else if (t.requires_grad()) {
    suffixes.emplace_back("requires_grad=True");
  }
  return add_suffixes(prefix + body, suffixes, indent);
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << to_string(t); }

}  // namespace nabla
