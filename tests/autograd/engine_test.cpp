// The backward engine on hand-recorded ops (no ops layer): accumulation (in place into an
// existing .grad), ordering, errors, post-accumulate-grad hooks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;

Tensor scalar(double v, bool requires_grad = false) {
  Tensor t = Tensor::empty({}, kFloat64);
  t.data<double>()[0] = v;
  if (requires_grad) t.requires_grad_();
  return t;
}

// y = a * b on 0-d f64 tensors, recorded with its backward.
Tensor times(const Tensor& a, const Tensor& b) {
  Tensor y = scalar(a.item() * b.item());
  Tensor ad = a.detach(), bd = b.detach();
  return autograd::record("times", y, {a, b}, [ad, bd](const Tensor& dy, autograd::Grads& g) {
    if (g.needs(0)) *g.ptr<double>(0) += dy.item() * bd.item();
    if (g.needs(1)) *g.ptr<double>(1) += dy.item() * ad.item();
  });
}

TEST(Engine, ChainRuleThroughSharedInput) {
  Tensor x = scalar(3.0, true);
  Tensor y = times(x, x);       // x^2
  Tensor z = times(y, x);       // x^3
  z.backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 27.0);  // 3 x^2
}

TEST(Engine, GradientsAccumulateAcrossCalls) {
  Tensor x = scalar(2.0, true);
  times(x, scalar(5.0)).backward();
  times(x, scalar(5.0)).backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 10.0);
}

TEST(Engine, NoGradGuardRecordsNothing) {
  Tensor x = scalar(2.0, true);
  NoGradGuard guard;
  Tensor y = times(x, x);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_THAT([&] { y.backward(); }, ::testing::ThrowsMessage<Error>(HasSubstr("does not require grad")));
}

TEST(Engine, SecondBackwardWithoutRetainGraphThrows) {
  Tensor x = scalar(2.0, true);
  Tensor y = times(x, x);
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 8.0);
  EXPECT_THAT([&] { y.backward(); }, ::testing::ThrowsMessage<Error>(HasSubstr("second time")));
}

TEST(Engine, NonScalarNeedsGradient) {
  Tensor x = Tensor::empty({2}, kFloat64).requires_grad_();
  EXPECT_THAT([&] { x.backward(); }, ::testing::ThrowsMessage<ShapeError>(HasSubstr("scalar outputs")));
}

TEST(Engine, RetainGradKeepsNonLeafGradient) {
  Tensor x = scalar(3.0, true);
  Tensor y = times(x, x);
  y.retain_grad();
  times(y, scalar(2.0)).backward();
  EXPECT_DOUBLE_EQ(y.grad().item(), 2.0);
  EXPECT_DOUBLE_EQ(x.grad().item(), 12.0);
}

TEST(Engine, IntegerTensorCannotRequireGrad) {
  Tensor i = Tensor::empty({2}, kInt64);
  EXPECT_THROW(i.requires_grad_(), DTypeError);
}

TEST(Engine, FrozenInputGetsNoGradient) {
  Tensor w = scalar(2.0, true);
  Tensor frozen = scalar(4.0);
  times(w, frozen).backward();
  EXPECT_FALSE(frozen.grad().defined());
  EXPECT_DOUBLE_EQ(w.grad().item(), 4.0);
}

// A leaf reached through several edges: its hook runs once, after the last contribution, with
// .grad() already holding the whole pass's gradient (what DDP needs to start a bucket).
TEST(Engine, GradHookRunsOnceWhenTheGradientIsFinal) {
  Tensor x = scalar(3.0, true);
  Tensor unused = scalar(1.0, true);
  std::vector<double> seen;
  x.register_post_accumulate_grad_hook(
      [&](const Tensor& t) { seen.push_back(t.grad().item()); });
  unused.register_post_accumulate_grad_hook([&](const Tensor& /*t*/) { seen.push_back(-1); });
  times(times(x, x), x).backward();  // x^3
  EXPECT_EQ(seen, (std::vector<double>{27.0}));  // the unreached leaf's hook never ran
  times(x, scalar(2.0)).backward();  // accumulates: 27 + 2
  EXPECT_EQ(seen, (std::vector<double>{27.0, 29.0}));
  x.backward(scalar(1.0));  // the root itself is the leaf
  EXPECT_EQ(seen, (std::vector<double>{27.0, 29.0, 30.0}));
}

TEST(Engine, GradHooksRunInOrderAndCanBeRemoved) {
  Tensor x = scalar(2.0, true);
  std::string order;
  const uint64_t a = x.register_post_accumulate_grad_hook([&](const Tensor&) { order += "a"; });
  x.register_post_accumulate_grad_hook([&](const Tensor&) { order += "b"; });
  times(x, scalar(5.0)).backward();
  x.remove_post_accumulate_grad_hook(a);
  times(x, scalar(5.0)).backward();
  EXPECT_EQ(order, "abb");
  EXPECT_THAT([&] { x.remove_post_accumulate_grad_hook(a); },
              ::testing::ThrowsMessage<Error>(HasSubstr("no hook with id")));
}

TEST(Engine, GradHooksOnlyOnLeavesThatRequireGrad) {
  Tensor x = scalar(2.0, true);
  const Tensor y = times(x, x);
  auto noop = [](const Tensor&) {};
  EXPECT_THAT([&] { y.register_post_accumulate_grad_hook(noop); },
              ::testing::ThrowsMessage<Error>(HasSubstr("got a non-leaf tensor")));
  EXPECT_THAT(
      [&] { scalar(1.0).register_post_accumulate_grad_hook(noop); },
      ::testing::ThrowsMessage<Error>(HasSubstr("shape [] with requires_grad=False")));
  EXPECT_THAT([&] { x.register_post_accumulate_grad_hook(nullptr); },
              ::testing::ThrowsMessage<Error>(HasSubstr("the hook is empty")));
}

// y = sum(x) over a 1-D f64 tensor; its backward adds dy through ptr() and then `extra`
// through add(), the two ways a closure hands in a gradient.
Tensor sum_plus(const Tensor& x, double extra) {
  Tensor y = scalar(0.0);
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) y.data<double>()[0] += x.at({i});
  return autograd::record("sum_plus", y, {x}, [n, extra](const Tensor& dy, autograd::Grads& g) {
    double* dx = g.ptr<double>(0);
    for (int64_t i = 0; i < n; ++i) dx[i] += dy.item();
    Tensor e = Tensor::empty({n}, kFloat64);
    for (int64_t i = 0; i < n; ++i) e.data<double>()[i] = extra;
    g.add(0, e);
  });
}

Tensor vector_of(std::vector<double> v) {
  Tensor t = Tensor::empty({static_cast<int64_t>(v.size())}, kFloat64);
  for (size_t i = 0; i < v.size(); ++i) t.data<double>()[i] = v[i];
  return t;
}

// A leaf that already has a contiguous .grad: ptr() hands out that .grad and the closure adds
// into it, with no second buffer; add() then adds in place too. Handles to .grad see the sum,
// as with PyTorch's in-place accumulation, and the hook runs once, on the final value.
TEST(Engine, KernelsAddIntoAnExistingGradInPlace) {
  Tensor x = vector_of({1, 2, 3}).requires_grad_();
  std::vector<std::vector<double>> seen;
  x.register_post_accumulate_grad_hook([&](const Tensor& t) { seen.push_back(t.grad().to_vector()); });
  sum_plus(x, 0.5).backward();  // no .grad yet: a zeroed buffer, then .grad
  const Tensor held = x.grad();
  const void* storage = held.raw_data();
  sum_plus(x, 0.25).backward(scalar(2.0));
  EXPECT_EQ(x.grad().raw_data(), storage) << "accumulated in place";
  EXPECT_EQ(held.to_vector(), (std::vector<double>{3.75, 3.75, 3.75}));  // 1.5 + 2 + 0.25
  EXPECT_EQ(seen, (std::vector<std::vector<double>>{{1.5, 1.5, 1.5}, {3.75, 3.75, 3.75}}));
}

// A non-contiguous .grad (set by hand) is not handed out: the gradient is summed on its own and
// accumulated after, as before.
TEST(Engine, NonContiguousGradIsNotHandedOut) {
  Tensor x = vector_of({1, 2}).requires_grad_();
  const Tensor wide = vector_of({10, 0, 20, 0});
  x.set_grad(Tensor::make_view(wide.storage(), {2}, {2}, 0, kFloat64));  // stride 2
  sum_plus(x, 1.0).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{12, 22}));
}

}  // namespace
}  // namespace nabla
