// Recording graph nodes, and the Grads buffer that backward closures write into.
#include "nabla/autograd/node.h"

#include <atomic>
#include <cstring>

#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/owned.h"
#include "nabla/kernels/cpu/copy.h"

namespace nabla::autograd {

namespace {
std::atomic<uint64_t> next_sequence_nr{0};

template <typename List>
bool any_requires_grad(const List& inputs) {
  for (const Tensor& t : inputs) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

template <typename List>
Tensor record_impl(const char* op, Tensor out, const List& inputs, BackwardFn fn) {
  if (!needs_graph(inputs)) return out;
  NABLA_CHECK_DTYPE(out.is_floating_point(), op, ": only floating-point results can require grad, got ",
                    out.dtype());
  auto node = std::make_shared<Node>();
  node->name = op;
  node->fn = std::move(fn);
  node->sequence_nr = next_sequence_nr++;
  node->out_shape = out.shape();
  node->out_dtype = out.dtype();
  node->next.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    Edge e;
    if (t.defined()) {
      e.shape = t.shape();
      e.dtype = t.dtype();
      if (t.requires_grad()) {
        if (t.is_leaf()) {
          e.leaf = t.impl_ptr();
        } else {
          e.node = t.grad_fn();
        }
      }
    }
    node->next.push_back(std::move(e));
  }
  out.impl().grad_fn = std::move(node);
  out.impl().requires_grad = true;
  return out;
}
}  // namespace

bool needs_graph(std::initializer_list<Tensor> inputs) {
  return is_grad_enabled() && any_requires_grad(inputs);
}
bool needs_graph(const std::vector<Tensor>& inputs) {
  return is_grad_enabled() && any_requires_grad(inputs);
}

Tensor record(const char* op, Tensor out, std::initializer_list<Tensor> inputs, BackwardFn fn) {
  return record_impl(op, std::move(out), inputs, std::move(fn));
}
Tensor record(const char* op, Tensor out, const std::vector<Tensor>& inputs, BackwardFn fn) {
  return record_impl(op, std::move(out), inputs, std::move(fn));
}

Grads::Grads(const std::vector<Edge>& edges)
    : edges_(edges), grads_(edges.size()), in_place_(edges.size(), false) {}

bool Grads::needs(size_t i) const {
  NABLA_ASSERT(i < edges_.size(), "input ", i, " of ", edges_.size());
  return edges_[i].needed();
}

Tensor& Grads::zeroed(size_t i) {
  if (!needs(i) || in_place_[i]) return grads_[i];  // stays undefined, or is the leaf's .grad
  const Edge& e = edges_[i];
  if (!grads_[i].defined() && e.leaf && e.leaf->grad) {
    // The engine would add this gradient into the leaf's .grad in place (accumulate_leaf):
    // the kernel's += does it directly, and the sum is the same.
    Tensor acc(e.leaf->grad);
    if (acc.is_contiguous() && acc.dtype() == e.dtype && acc.shape() == e.shape) {
      grads_[i] = acc;
      in_place_[i] = true;
      return grads_[i];
    }
  }
  if (!grads_[i].defined()) {
    Tensor z = Tensor::empty(edges_[i].shape, edges_[i].dtype);
    std::memset(z.raw_data(), 0, z.nbytes());
    grads_[i] = z;
  } else {
    grads_[i] = owned_contiguous(grads_[i]);
  }
  return grads_[i];
}

void Grads::add(size_t i, const Tensor& grad) {
  if (!needs(i) || !grad.defined()) return;
  NABLA_ASSERT(grad.shape() == edges_[i].shape, "gradient ", grad.shape(), " for input ", i,
               " of shape ", edges_[i].shape);
  NABLA_ASSERT(grad.dtype() == edges_[i].dtype, "gradient ", grad.dtype(), " for input ", i,
               " of dtype ", edges_[i].dtype);
  if (!grads_[i].defined()) {
    grads_[i] = grad;
  } else if (in_place_[i]) {  // the leaf's .grad: add in place, never into a copy
    const Tensor src = grad.is_contiguous() ? grad : owned_contiguous(grad);
    kernels::cpu::add_inplace(grads_[i].raw_data(), src.raw_data(), src.dtype(), src.numel());
  } else {
    accumulate_into(grads_[i], grad);
  }
}

Tensor Grads::take(size_t i) { return std::move(grads_[i]); }

}  // namespace nabla::autograd
