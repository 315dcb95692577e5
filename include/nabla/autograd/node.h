// Graph nodes and how an op records one. An op computes its output, then calls record() with
// its inputs and a backward closure; the closure receives the output's gradient (always
// contiguous, same dtype as the output) and writes the inputs' gradients into Grads.
//
// A closure must not capture the op's own output Tensor by value: that output points at the
// node, and the node would keep itself alive. Capture out.detach() instead (it shares the
// storage but not the graph).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "nabla/core/tensor.h"

namespace nabla::autograd {

class Node;

/// Where an input's gradient goes: to the node that produced it, or into a leaf's .grad.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
  Shape shape;  // the input's shape and dtype: its gradient must have the same
  DType dtype = DType::F32;
  bool needed() const { return node != nullptr || leaf != nullptr; }
};

/// The inputs' gradients being computed by one backward closure.
class Grads {
 public:
  explicit Grads(const std::vector<Edge>& edges);
  size_t size() const { return grads_.size(); }
  /// Whether input i needs a gradient; skip the work when it doesn't.
  bool needs(size_t i) const;
  /// A contiguous buffer for input i's gradient, for kernels that accumulate into it with +=;
  /// nullptr when input i needs no gradient. Zero-filled, except where input i is a leaf that
  /// already holds a contiguous .grad: then it is that .grad, and the kernel adds straight into
  /// it (no buffer to zero and add afterwards: a tied embedding's 154 MB in GPT-2's step).
  template <typename T>
  T* ptr(size_t i) {
    Tensor& g = zeroed(i);
    return g.defined() ? g.data<T>() : nullptr;
  }
  /// Adds grad (broadcast-reduced to the input's shape by the caller) to input i's gradient.
  void add(size_t i, const Tensor& grad);
  /// The gradient for input i (undefined if none was produced).
  Tensor take(size_t i);
  /// Whether input i's gradient was accumulated into its leaf's .grad already (see ptr).
  bool in_place(size_t i) const { return in_place_[i]; }

 private:
  Tensor& zeroed(size_t i);
  const std::vector<Edge>& edges_;
  std::vector<Tensor> grads_;
  std::vector<bool> in_place_;
};

using BackwardFn = std::function<void(const Tensor& grad_output, Grads& grads)>;

class Node {
 public:
  std::string name;          // the op's name, e.g. "matmul"
  std::vector<Edge> next;    // one per input
  BackwardFn fn;             // cleared after use unless the graph is retained
  uint64_t sequence_nr = 0;  // creation order: later nodes run first in backward
  Shape out_shape;
  DType out_dtype = DType::F32;
  std::weak_ptr<TensorImpl> retained;  // the output, when retain_grad() asked to keep its grad
};

/// True when grad mode is on and any input requires a gradient.
bool needs_graph(std::initializer_list<Tensor> inputs);
bool needs_graph(const std::vector<Tensor>& inputs);

/// Makes `out` the result of op(inputs) in the graph when needs_graph(inputs); returns out.
Tensor record(const char* op, Tensor out, std::initializer_list<Tensor> inputs, BackwardFn fn);
Tensor record(const char* op, Tensor out, const std::vector<Tensor>& inputs, BackwardFn fn);

/// Runs backward from root (see Tensor::backward).
void run_backward(const Tensor& root, const Tensor& gradient, bool retain_graph);

}  // namespace nabla::autograd
