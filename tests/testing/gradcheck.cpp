// gradcheck implementation, on raw element access so it depends on core + autograd only.
#include "tests/testing/gradcheck.h"

#include <cmath>
#include <random>
#include <sstream>

#include "nabla/autograd/grad_mode.h"

namespace nabla::testing {

namespace {

double dot(const Tensor& y, const std::vector<double>& v) {
  const std::vector<double> yv = y.to_vector();
  double s = 0;
  for (size_t i = 0; i < yv.size(); ++i) s += yv[i] * v[i];
  return s;
}

}  // namespace

Tensor random_input(const Shape& shape, uint64_t seed, double lo, double hi, bool requires_grad) {
  Tensor t = Tensor::empty(shape, kFloat64);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  if (requires_grad) t.requires_grad_(true);
  return t;
}

::testing::AssertionResult gradcheck(const std::string& op, const GradFn& f,
                                     const std::vector<Tensor>& inputs, GradcheckOptions opts) {
  for (const Tensor& x : inputs) {
    if (!x.requires_grad()) continue;
    if (x.dtype() != kFloat64 || !x.is_contiguous() || !x.is_leaf()) {
      return ::testing::AssertionFailure()
             << op << ": gradcheck inputs must be contiguous f64 leaves, got " << x.describe();
    }
    x.set_grad(Tensor());
  }
  Tensor y = f(inputs);
  if (!y.requires_grad()) {
    return ::testing::AssertionFailure() << op << ": output does not require grad";
  }
  std::mt19937_64 rng(opts.seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<double> v(static_cast<size_t>(y.numel()));
  for (double& e : v) e = dist(rng);
  Tensor vt = Tensor::empty(y.shape(), y.dtype());
  if (y.dtype() != kFloat64) {
    return ::testing::AssertionFailure() << op << ": output is " << y.dtype() << ", expected f64";
  }
  std::copy(v.begin(), v.end(), vt.data<double>());
  y.backward(vt);

  std::ostringstream failures;
  int n_fail = 0;
  NoGradGuard no_grad;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    const Tensor g = x.grad();
    const std::vector<double> analytic =
        g.defined() ? g.to_vector() : std::vector<double>(static_cast<size_t>(x.numel()), 0.0);
    double* p = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double orig = p[i];
      p[i] = orig + opts.eps;
      const double fp = dot(f(inputs), v);
      p[i] = orig - opts.eps;
      const double fm = dot(f(inputs), v);
      p[i] = orig;
      const double numeric = (fp - fm) / (2 * opts.eps);
      const double a = analytic[static_cast<size_t>(i)];
      if (!(std::abs(a - numeric) <= opts.atol + opts.rtol * std::abs(numeric))) {
        if (++n_fail <= 5) {
          failures << "\n  input " << k << " element " << i << ": backward " << a
                   << ", finite differences " << numeric;
        }
      }
    }
  }
  if (n_fail > 0) {
    return ::testing::AssertionFailure()
           << op << ": " << n_fail << " gradient elements disagree" << failures.str();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace nabla::testing
