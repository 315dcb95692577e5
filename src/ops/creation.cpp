// Making tensors: from nested lists and vectors, filled, ranges, identity, random. Random fills
// draw element i from Philox counter (offset + i / k) word (i % k), so values depend only on
// (seed, offset, i), never on the thread count.
#include "nabla/ops/creation.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/copy.h"
#include "ops/internal.h"

namespace nabla {

namespace {

constexpr int64_t kParallelThreshold = 1 << 15;

// ---- nested lists ------------------------------------------------------------------------

// Shape of a nested list; throws on ragged lists as torch.tensor does.
Shape nested_shape(const NestedList& l) {
  if (!l.is_list()) return {};
  Shape s{static_cast<int64_t>(l.items().size())};
  if (l.items().empty()) return s;
  const Shape inner = nested_shape(l.items()[0]);
  s.insert(s.end(), inner.begin(), inner.end());
  return s;
}

void flatten_nested(const NestedList& l, const Shape& shape, size_t depth, std::vector<double>& out,
                    NestedList::Kind& kind) {
  if (!l.is_list()) {
    NABLA_CHECK_SHAPE(depth == shape.size(), "tensor: expected a sequence at dim ", depth,
                      " but got a number (the nested list is ragged; expected shape ", shape, ")");
    out.push_back(l.value());
    kind = std::max(kind, l.kind());
    return;
  }
  NABLA_CHECK_SHAPE(depth < shape.size(), "tensor: expected a number at dim ", depth,
                    " but got a sequence (the nested list is ragged; expected shape ", shape, ")");
  NABLA_CHECK_SHAPE(static_cast<int64_t>(l.items().size()) == shape[depth],
                    "tensor: expected sequence of length ", shape[depth], " at dim ", depth, " (got ",
                    l.items().size(), ")");
  for (const NestedList& item : l.items()) flatten_nested(item, shape, depth + 1, out, kind);
}

// Writes n doubles into dst converted to dtype.
void store_doubles(const Tensor& dst, const double* src, int64_t n) {
  kernels::cpu::convert(dst.raw_data(), dst.dtype(), src, kFloat64, n);
}

Tensor finish(Tensor t, const TensorOptions& opts) {
  if (opts.requires_grad_) t.requires_grad_(true);
  return t;
}

Tensor alloc(const Shape& sizes, const TensorOptions& opts) {
  TensorOptions o = opts;
  o.requires_grad_ = false;
  return Tensor::empty(sizes, o);
}

// ---- random ------------------------------------------------------------------------------

// Fills n elements; fn(words, j) makes element j of a counter's 4 words, per elements per
// counter. Element i uses counter first + i / per.
template <typename T, typename Fn>
void philox_fill(T* out, int64_t n, uint64_t seed, uint64_t first, int64_t per, Fn fn) {
  const int64_t counters = (n + per - 1) / per;
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
  for (int64_t c = 0; c < counters; ++c) {
    const auto w = philox4x32(seed, first + static_cast<uint64_t>(c));
    const int64_t base = c * per;
    for (int64_t j = 0; j < per && base + j < n; ++j) out[base + j] = fn(w, j);
  }
}

Generator& gen_or_default(Generator* gen) { return gen != nullptr ? *gen : default_generator(); }

uint64_t reserve(Generator& g, int64_t n, int64_t per) {
  return g.advance(static_cast<uint64_t>((n + per - 1) / per));
}

// Uniform [low, high) into a contiguous floating tensor.
void fill_uniform(const Tensor& t, double low, double high, Generator& gen) {
  const int64_t n = t.numel();
  dispatch_floating(t.dtype(), "uniform_", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if constexpr (std::is_same_v<T, double>) {
      const uint64_t first = reserve(gen, n, 2);
      philox_fill(t.data<T>(), n, gen.seed(), first, 2, [=](const auto& w, int64_t j) {
        return low + (high - low) * uniform01_double(w[2 * j], w[2 * j + 1]);
      });
    } else {
      const uint64_t first = reserve(gen, n, 4);
      const auto lo = static_cast<float>(low), span = static_cast<float>(high - low);
      philox_fill(t.data<T>(), n, gen.seed(), first, 4, [=](const auto& w, int64_t j) {
        const float u = lo + span * uniform01(w[j]);
        // Rounding (f32 or bf16) can reach high; keep the interval half-open.
        const auto v = static_cast<T>(u);
        return static_cast<float>(v) < static_cast<float>(high) || high <= low ? v
                                                                               : static_cast<T>(lo);
      });
    }
  });
}

// Normal(mean, std) into a contiguous floating tensor: Box-Muller turns the two word pairs of
// a counter into four normals (cos and sin of each pair), computed in f32 for f32/bf16.
void fill_normal(const Tensor& t, double mean, double std, Generator& gen) {
  const int64_t n = t.numel();
  dispatch_floating(t.dtype(), "normal_", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    using C = compute_t<T>;
    const uint64_t first = reserve(gen, n, 4);
    const uint64_t seed = gen.seed();
    T* out = t.data<T>();
    const int64_t counters = (n + 3) / 4;
    const auto m = static_cast<C>(mean), s = static_cast<C>(std);
    constexpr C kInv32 = C(1) / C(4294967296.0);
    constexpr C kTwoPi = C(2) * std::numbers::pi_v<C>;
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t c = 0; c < counters; ++c) {
      const auto w = philox4x32(seed, first + static_cast<uint64_t>(c));
      C z[4];
      for (int p = 0; p < 2; ++p) {
        // u1 in (0, 1] so log(u1) is finite; u2 in [0, 1).
        const C u1 = (static_cast<C>(w[2 * p]) + C(1)) * kInv32;
        const C u2 = static_cast<C>(w[2 * p + 1]) * kInv32;
        const C r = std::sqrt(C(-2) * std::log(std::min(u1, C(1))));
        z[2 * p] = r * std::cos(kTwoPi * u2);
        z[2 * p + 1] = r * std::sin(kTwoPi * u2);
      }
      const int64_t base = c * 4;
      for (int64_t j = 0; j < 4 && base + j < n; ++j) out[base + j] = static_cast<T>(m + s * z[j]);
    }
  });
}

}  // namespace

// ---- from data ---------------------------------------------------------------------------

Tensor tensor(const NestedList& data, std::optional<TensorOptions> opts) {
  const Shape shape = nested_shape(data);
  std::vector<double> values;
  values.reserve(static_cast<size_t>(numel_of(shape)));
  NestedList::Kind kind = NestedList::Kind::Bool;
  flatten_nested(data, shape, 0, values, kind);
  TensorOptions o = opts.value_or(TensorOptions());
  if (!opts.has_value()) {
    // torch.tensor: any float gives the default dtype, else ints give int64, else bool.
    o.dtype_ = values.empty() || kind == NestedList::Kind::Float ? kFloat32
               : kind == NestedList::Kind::Int                   ? kInt64
                                                                 : kBool;
  }
  Tensor t = alloc(shape, o);
  store_doubles(t, values.data(), static_cast<int64_t>(values.size()));
  return finish(t, o);
}

template <typename T>
Tensor tensor(const std::vector<T>& data, TensorOptions opts) {
  Tensor t = alloc({static_cast<int64_t>(data.size())}, opts);
  kernels::cpu::convert(t.raw_data(), t.dtype(), data.data(), dtype_of<T>(),
                        static_cast<int64_t>(data.size()));
  return finish(t, opts);
}
template Tensor tensor<float>(const std::vector<float>&, TensorOptions);
template Tensor tensor<double>(const std::vector<double>&, TensorOptions);
template Tensor tensor<int64_t>(const std::vector<int64_t>&, TensorOptions);
template Tensor tensor<int32_t>(const std::vector<int32_t>&, TensorOptions);

Tensor from_blob(void* data, const Shape& sizes, DType dtype) {
  NABLA_CHECK(data != nullptr || numel_of(sizes) == 0, "from_blob: data is a null pointer");
  const size_t nbytes = static_cast<size_t>(numel_of(sizes)) * element_size(dtype);
  auto storage = std::make_shared<Storage>(data, nbytes, Device(), [](void*) {});
  return Tensor::make_view(std::move(storage), sizes, contiguous_strides(sizes), 0, dtype);
}

// ---- filled ------------------------------------------------------------------------------

Tensor empty(const Shape& sizes, TensorOptions opts) { return Tensor::empty(sizes, opts); }

Tensor zeros(const Shape& sizes, TensorOptions opts) { return full(sizes, 0, opts); }

Tensor ones(const Shape& sizes, TensorOptions opts) { return full(sizes, 1, opts); }

Tensor full(const Shape& sizes, Scalar value, TensorOptions opts) {
  Tensor t = alloc(sizes, opts);
  if (value.is_integral() && t.dtype() == kInt64) {
    const int64_t v = value.to_int();
    int64_t* p = t.data<int64_t>();
    const int64_t n = t.numel();
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) p[i] = v;
  } else {
    kernels::cpu::fill(t.raw_data(), t.dtype(), value.to_double(), t.numel());
  }
  return finish(t, opts);
}

// ---- ranges ------------------------------------------------------------------------------

Tensor arange(Scalar end, std::optional<TensorOptions> opts) { return arange(0, end, 1, opts); }

Tensor arange(Scalar start, Scalar end, Scalar step, std::optional<TensorOptions> opts) {
  const bool all_int = start.is_integral() && end.is_integral() && step.is_integral();
  TensorOptions o = opts.value_or(TensorOptions(all_int ? kInt64 : kFloat32));
  const double s = start.to_double(), e = end.to_double(), st = step.to_double();
  NABLA_CHECK(st != 0.0, "arange: step must be nonzero");
  NABLA_CHECK(std::isfinite(s) && std::isfinite(e), "arange: unsupported range: ", s, " -> ", e);
  NABLA_CHECK((st > 0 && e >= s) || (st < 0 && e <= s),
              "arange: upper bound and larger bound inconsistent with step sign (start ", s,
              ", end ", e, ", step ", st, ")");
  int64_t n = 0;
  if (all_int) {
    const int64_t si = start.to_int(), ei = end.to_int(), sti = step.to_int();
    n = sti > 0 ? (ei - si + sti - 1) / sti : (si - ei + (-sti) - 1) / (-sti);
  } else {
    n = static_cast<int64_t>(std::ceil((e - s) / st));
  }
  Tensor t = alloc({n}, o);
  dispatch_dtype(t.dtype(), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    T* p = t.data<T>();
    if constexpr (std::is_same_v<T, int64_t>) {
      if (all_int) {
        for (int64_t i = 0; i < n; ++i) p[i] = start.to_int() + i * step.to_int();
        return;
      }
    }
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(s + st * static_cast<double>(i));
  });
  return finish(t, o);
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions opts) {
  NABLA_CHECK(steps >= 0, "linspace: number of steps must be non-negative, got ", steps);
  Tensor t = alloc({steps}, opts);
  dispatch_dtype(t.dtype(), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    T* p = t.data<T>();
    // PyTorch's kernel: step in the output's precision, filled from both ends towards the
    // middle so the last value is exactly end.
    using S = std::conditional_t<std::is_floating_point_v<compute_t<T>>, compute_t<T>, double>;
    const S a = static_cast<S>(start), b = static_cast<S>(end);
    const S step = steps > 1 ? (b - a) / static_cast<S>(steps - 1) : S(0);
    const int64_t half = steps / 2;
    for (int64_t i = 0; i < steps; ++i) {
      // Explicit fma: the compiler contracts these in optimised builds (and torch's kernel
      // matches that), so spell it out to get the same values in every build.
      const S v = i < half ? std::fma(step, static_cast<S>(i), a)
                           : std::fma(-step, static_cast<S>(steps - i - 1), b);
      p[i] = static_cast<T>(v);
    }
    if (steps == 1) p[0] = static_cast<T>(a);  // torch fills start
  });
  return finish(t, opts);
}

Tensor eye(int64_t n, TensorOptions opts) {
  NABLA_CHECK(n >= 0, "eye: n must be greater or equal to 0, got ", n);
  Tensor t = zeros({n, n}, opts.requires_grad(false));
  const size_t es = t.element_size();
  Tensor one = full({}, 1, TensorOptions(t.dtype()));
  auto* base = static_cast<char*>(t.raw_data());
  for (int64_t i = 0; i < n; ++i) std::memcpy(base + (i * n + i) * es, one.raw_data(), es);
  return finish(t, opts);
}

// ---- random ------------------------------------------------------------------------------

Tensor rand(const Shape& sizes, TensorOptions opts, Generator* gen) {
  Tensor t = alloc(sizes, opts);
  fill_uniform(t, 0.0, 1.0, gen_or_default(gen));
  return finish(t, opts);
}

Tensor randn(const Shape& sizes, TensorOptions opts, Generator* gen) {
  Tensor t = alloc(sizes, opts);
  fill_normal(t, 0.0, 1.0, gen_or_default(gen));
  return finish(t, opts);
}

Tensor randint(int64_t low, int64_t high, const Shape& sizes, TensorOptions opts, Generator* gen) {
  NABLA_CHECK(low < high, "randint: expected low < high, got low ", low, " and high ", high);
  Tensor t = alloc(sizes, opts);
  Generator& g = gen_or_default(gen);
  const int64_t n = t.numel();
  const uint64_t first = reserve(g, n, 2);
  const auto range = static_cast<uint64_t>(high - low);
  dispatch_dtype(t.dtype(), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    philox_fill(t.data<T>(), n, g.seed(), first, 2, [=](const auto& w, int64_t j) {
      const uint64_t r = (uint64_t{w[2 * j]} << 32) | w[2 * j + 1];
      const auto v = low + static_cast<int64_t>(r % range);
      if constexpr (std::is_same_v<T, bool>) {
        return v != 0;
      } else {
        return static_cast<T>(static_cast<compute_t<T>>(v));
      }
    });
  });
  return finish(t, opts);
}

Tensor randperm(int64_t n, Generator* gen) {
  NABLA_CHECK(n >= 0, "randperm: n must be non-negative, got ", n);
  Tensor t = alloc({n}, kInt64);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  Generator& g = gen_or_default(gen);
  const uint64_t first = g.advance(static_cast<uint64_t>(n));
  // Fisher-Yates from the back; step i draws from counter first + i.
  for (int64_t i = n - 1; i > 0; --i) {
    const auto w = philox4x32(g.seed(), first + static_cast<uint64_t>(i));
    const uint64_t r = (uint64_t{w[0]} << 32) | w[1];
    std::swap(p[i], p[static_cast<int64_t>(r % static_cast<uint64_t>(i + 1))]);
  }
  return t;
}

// ---- *_like ------------------------------------------------------------------------------

Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.options()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.options()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.options()); }
Tensor full_like(const Tensor& t, Scalar value) { return full(t.shape(), value, t.options()); }
Tensor rand_like(const Tensor& t, Generator* gen) { return rand(t.shape(), t.options(), gen); }
Tensor randn_like(const Tensor& t, Generator* gen) { return randn(t.shape(), t.options(), gen); }
Tensor zeros_like(const Tensor& t, TensorOptions opts) { return zeros(t.shape(), opts); }
Tensor ones_like(const Tensor& t, TensorOptions opts) { return ones(t.shape(), opts); }

namespace ops_detail {
void fill_uniform_contiguous(const Tensor& t, double low, double high, Generator* gen) {
  fill_uniform(t, low, high, gen_or_default(gen));
}
void fill_normal_contiguous(const Tensor& t, double mean, double std, Generator* gen) {
  fill_normal(t, mean, std, gen_or_default(gen));
}
}  // namespace ops_detail

}  // namespace nabla
