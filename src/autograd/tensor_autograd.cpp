// The autograd methods of Tensor.
#include <algorithm>
#include <atomic>

#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"

namespace nabla {

Tensor& Tensor::requires_grad_(bool requires_grad) {
  if (requires_grad) {
    NABLA_CHECK_DTYPE(is_floating_point(), "requires_grad_: only tensors of floating point dtype "
                      "can require gradients, got ", dtype());
  } else {
    NABLA_CHECK(is_leaf(), "requires_grad_: you can only change requires_grad of leaf tensors; "
                "use detach() to get a tensor cut from the graph");
  }
  impl().requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined()) {
    NABLA_CHECK_SHAPE(g.shape() == shape(), "set_grad: gradient of shape ", g.shape(),
                      " for a tensor of shape ", shape());
    NABLA_CHECK_DTYPE(g.dtype() == dtype(), "set_grad: gradient of dtype ", g.dtype(),
                      " for a tensor of dtype ", dtype());
  }
  impl().grad = g.defined() ? g.impl_ptr() : nullptr;
}

void Tensor::retain_grad() const {
  NABLA_CHECK(requires_grad(), "retain_grad: can't retain_grad on a tensor that has requires_grad=False");
  if (is_leaf()) return;  // leaves keep their grad anyway
  impl().retains_grad = true;
  grad_fn()->retained = impl_ptr();
}

uint64_t Tensor::register_post_accumulate_grad_hook(PostAccumulateGradHook hook) const {
  static std::atomic<uint64_t> next_id{1};
  NABLA_CHECK(is_leaf() && requires_grad(),
              "register_post_accumulate_grad_hook: only leaf tensors that require grad have "
              "their gradient accumulated, got a ", is_leaf() ? "leaf" : "non-leaf",
              " tensor of shape ", shape(), " with requires_grad=",
              requires_grad() ? "True" : "False");
  NABLA_CHECK(hook != nullptr, "register_post_accumulate_grad_hook: the hook is empty");
  const uint64_t id = next_id++;
  impl().grad_hooks.emplace_back(id, std::move(hook));
  return id;
}

void Tensor::remove_post_accumulate_grad_hook(uint64_t id) const {
  auto& hooks = impl().grad_hooks;
  const auto it =
      std::find_if(hooks.begin(), hooks.end(), [&](const auto& h) { return h.first == id; });
  NABLA_CHECK(it != hooks.end(), "remove_post_accumulate_grad_hook: no hook with id ", id,
              " on this tensor of shape ", shape());
  hooks.erase(it);
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  autograd::run_backward(*this, gradient, retain_graph);
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage();
  impl->sizes = shape();
  impl->strides = strides();
  impl->offset = offset();
  impl->dtype = dtype();
  return Tensor(std::move(impl));
}

Tensor& Tensor::detach_() {
  impl().grad_fn = nullptr;
  impl().requires_grad = false;
  return *this;
}

}  // namespace nabla
