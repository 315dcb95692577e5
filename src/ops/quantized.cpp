// Packed inference weights (bf16, Q8) and the linear op over them.
#include "nabla/ops/quantized.h"

#include <cmath>
#include <cstring>

#include "nabla/autograd/node.h"
#include "nabla/core/error.h"
#include "nabla/kernels/cpu/gemv.h"
#include "nabla/ops/creation.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/reduce.h"

namespace nabla {

namespace cpu = kernels::cpu;

std::string_view weight_format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::F32: return "f32";
    case WeightFormat::BF16: return "bf16";
    case WeightFormat::Q8: return "int8";
  }
  return "?";
}

WeightFormat weight_format_from_name(std::string_view name) {
  if (name == "f32") return WeightFormat::F32;
  if (name == "bf16") return WeightFormat::BF16;
  if (name == "int8" || name == "q8") return WeightFormat::Q8;
  NABLA_CHECK(false, "weight format: expected f32, bf16 or int8, got '", name, "'");
  return WeightFormat::F32;
}

PackedWeight PackedWeight::pack(const Tensor& weight, WeightFormat format) {
  NABLA_CHECK(weight.defined() && weight.dim() == 2 && is_floating(weight.dtype()),
              "PackedWeight::pack: expected a 2-D floating weight, got ",
              weight.defined() ? weight.shape() : Shape{});
  NABLA_CHECK(format != WeightFormat::F32, "PackedWeight::pack: f32 is not a packed format");
  const Tensor w = weight.detach().to(DType::F32).contiguous();
  const float* p = w.data<float>();
  for (int64_t i = 0, n = w.numel(); i < n; ++i) {
    NABLA_CHECK(std::isfinite(p[i]), "PackedWeight::pack: weight ", w.shape(),
                " has a non-finite value (", p[i], ") at flat index ", i);
  }
  PackedWeight out;
  out.format_ = format;
  out.out_ = w.size(0);
  out.in_ = w.size(1);
  if (format == WeightFormat::BF16) {
    out.data_ = w.to(DType::BF16);
  } else {
    out.data_ = empty({out.out_, out.in_}, DType::U8);
    out.scales_ = empty({out.out_, cpu::q8_blocks(out.in_)}, DType::F32);
    cpu::quantize_q8(out.out_, out.in_, p, out.in_, reinterpret_cast<int8_t*>(out.data_.data<uint8_t>()),
                     out.scales_.data<float>());
  }
  return out;
}

int64_t PackedWeight::nbytes() const {
  return data_.numel() * static_cast<int64_t>(element_size(data_.dtype())) +
         (scales_.defined() ? 4 * scales_.numel() : 0);
}

Tensor PackedWeight::unpack() const {
  if (format_ == WeightFormat::BF16) return data_.to(DType::F32);
  Tensor w = empty({out_, in_}, DType::F32);
  cpu::dequantize_q8(out_, in_, reinterpret_cast<const int8_t*>(data_.data<uint8_t>()),
                     scales_.data<float>(), w.data<float>(), in_);
  return w;
}

Tensor linear(const Tensor& x, const PackedWeight& weight, const Tensor& bias) {
  NABLA_CHECK(x.defined() && x.dtype() == DType::F32, "linear: a ",
              weight_format_name(weight.format()), " packed weight takes f32 input, got ",
              x.defined() ? std::string(dtype_name(x.dtype())) : std::string("undefined"));
  const int64_t in = weight.in_features(), out_f = weight.out_features();
  NABLA_CHECK_SHAPE(x.dim() >= 1 && x.size(-1) == in, "linear: input ", x.shape(),
                    " and packed weight [", out_f, ", ", in, "] cannot be multiplied (",
                    x.dim() >= 1 ? x.size(-1) : 0, " != ", in, ")");
  if (bias.defined()) {
    NABLA_CHECK(bias.dtype() == DType::F32 && bias.device() == x.device(),
                "linear: bias must be f32 on ", x.device(), ", got ", dtype_name(bias.dtype()),
                " on ", bias.device());
    NABLA_CHECK_SHAPE(bias.dim() == 1 && bias.size(0) == out_f, "linear: bias ", bias.shape(),
                      " does not match packed weight [", out_f, ", ", in, "]");
  }
  const int64_t rows = in > 0 ? x.numel() / in : 0;
  if (rows > cpu::kGemvMaxRows || in == 0) return linear(x, weight.unpack(), bias);
  const Tensor xc = x.detach().contiguous();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Shape out_shape = x.shape();
  out_shape.back() = out_f;
  Tensor y = empty(out_shape, DType::F32);
  const float* b = bc.defined() ? bc.data<float>() : nullptr;
  if (weight.format() == WeightFormat::BF16) {
    cpu::gemv_rows_bf16(rows, out_f, in, 1.0f, xc.data<float>(), in,
                        reinterpret_cast<const uint16_t*>(weight.data().data<BFloat16>()), in,
                        0.0f, y.data<float>(), out_f, b);
  } else {
    cpu::gemv_rows_q8(rows, out_f, in, 1.0f, xc.data<float>(), in,
                      reinterpret_cast<const int8_t*>(weight.data().data<uint8_t>()),
                      weight.scales().data<float>(), 0.0f, y.data<float>(), out_f, b);
  }
  const Shape x_shape = x.shape();
  return autograd::record("linear", y, {x, bias}, [=](const Tensor& dy, autograd::Grads& g) {
    const Tensor dyf = dy.reshape({rows, out_f});
    if (g.needs(0)) g.add(0, matmul(dyf, weight.unpack()).reshape(x_shape));  // dx = dy W
    if (g.needs(1)) g.add(1, sum(dyf, {0}, false));
  });
}

}  // namespace nabla
