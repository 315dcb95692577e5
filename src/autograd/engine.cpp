// backward(): counts how many consumers each node has, then runs nodes once all their
// consumers have delivered gradient, latest-created first (a deterministic order), and
// accumulates into leaves' .grad, calling a leaf's post-accumulate-grad hooks once its last
// contribution is in.
#include <queue>
#include <unordered_map>

#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/autograd/owned.h"
#include "nabla/kernels/cpu/copy.h"

namespace nabla::autograd {

namespace {

void accumulate_leaf(TensorImpl& leaf, const Tensor& g) {
  if (!leaf.grad) {
    leaf.grad = owned_contiguous(g).impl_ptr();
    return;
  }
  Tensor acc(leaf.grad);
  if (acc.is_contiguous()) {  // in place, as PyTorch does: handles to .grad see the sum
    Tensor src = g.is_contiguous() ? g : owned_contiguous(g);
    kernels::cpu::add_inplace(acc.raw_data(), src.raw_data(), acc.dtype(), acc.numel());
  } else {
    accumulate_into(acc, g);
    leaf.grad = acc.impl_ptr();
  }
}

// How many graph edges feed each node, and each hooked leaf (its hooks run after the last).
struct Consumers {
  std::unordered_map<Node*, int> nodes;
  std::unordered_map<TensorImpl*, int> hooked_leaves;
};

Consumers count_consumers(Node* root) {
  Consumers c;
  std::vector<Node*> stack{root};
  c.nodes[root] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next) {
      if (e.leaf && !e.leaf->grad_hooks.empty()) ++c.hooked_leaves[e.leaf.get()];
      if (!e.node) continue;
      auto [it, inserted] = c.nodes.try_emplace(e.node.get(), 0);
      ++it->second;
      if (inserted) stack.push_back(e.node.get());
    }
  }
  return c;
}

void run_grad_hooks(const std::shared_ptr<TensorImpl>& leaf) {
  if (leaf->grad_hooks.empty()) return;
  const Tensor t(leaf);
  const auto hooks = leaf->grad_hooks;  // a hook may remove itself
  for (const auto& [id, hook] : hooks) hook(t);
}

struct LaterFirst {
  bool operator()(const Node* a, const Node* b) const { return a->sequence_nr < b->sequence_nr; }
};

}  // namespace

void run_backward(const Tensor& root, const Tensor& gradient, bool retain_graph) {
  NABLA_CHECK(root.requires_grad(),
              "backward: the tensor does not require grad and has no grad_fn (did you forget "
              "requires_grad_() on an input, or run the forward pass under NoGradGuard?)");
  Tensor g = gradient;
  if (!g.defined()) {
    NABLA_CHECK_SHAPE(root.numel() == 1,
                      "backward: grad can be implicitly created only for scalar outputs, got shape ",
                      root.shape(), "; pass a gradient of that shape");
    g = Tensor::empty(root.shape(), root.dtype());
    kernels::cpu::fill(g.raw_data(), g.dtype(), 1.0, 1);
  } else {
    NABLA_CHECK_SHAPE(g.shape() == root.shape(), "backward: gradient has shape ", g.shape(),
                      " but the tensor has shape ", root.shape());
    NABLA_CHECK_DTYPE(g.dtype() == root.dtype(), "backward: gradient has dtype ", g.dtype(),
                      " but the tensor has dtype ", root.dtype());
  }
  NoGradGuard no_grad;
  if (root.is_leaf()) {
    accumulate_leaf(root.impl(), g);
    run_grad_hooks(root.impl_ptr());
    return;
  }
  Node* start = root.grad_fn().get();
  Consumers consumers = count_consumers(start);
  auto& deps = consumers.nodes;
  std::unordered_map<Node*, Tensor> pending;
  pending[start] = g;
  std::priority_queue<Node*, std::vector<Node*>, LaterFirst> ready;
  ready.push(start);
  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    Tensor dy;
    if (auto it = pending.find(node); it != pending.end()) {
      dy = owned_contiguous(it->second);
      pending.erase(it);
    }
    Grads grads(node->next);
    if (dy.defined()) {
      if (auto out = node->retained.lock()) accumulate_leaf(*out, dy);
      NABLA_CHECK(node->fn != nullptr, "backward: trying to backward through the graph of '",
                  node->name, "' a second time; its saved tensors were freed after the first "
                  "backward. Pass retain_graph = true to the first backward to keep them");
      node->fn(dy, grads);
      if (!retain_graph) node->fn = nullptr;
    }
    for (size_t i = 0; i < node->next.size(); ++i) {
      const Edge& e = node->next[i];
      Tensor gi = e.needed() ? grads.take(i) : Tensor();
      if (e.leaf && gi.defined() && !grads.in_place(i)) accumulate_leaf(*e.leaf, gi);
      if (e.leaf && !e.leaf->grad_hooks.empty()) {
        // Every edge into the leaf counts, with or without a gradient, so hooks run once.
        if (--consumers.hooked_leaves[e.leaf.get()] == 0) run_grad_hooks(e.leaf);
      }
      if (!e.node) continue;
      if (gi.defined()) {
        auto [it, inserted] = pending.try_emplace(e.node.get(), gi);
        if (!inserted) accumulate_into(it->second, gi);
      }
      if (--deps[e.node.get()] == 0) ready.push(e.node.get());
    }
  }
}

}  // namespace nabla::autograd
