// Parameter broadcast and bucketed gradient averaging for data-parallel training.
#include "nabla/dist/data_parallel.h"

#include <chrono>

#include "nabla/core/error.h"

namespace nabla::dist {

void broadcast_tensors(Communicator& comm, const std::vector<Tensor>& tensors, int src) {
  for (const Tensor& t : tensors) {
    if (!t.is_contiguous()) {
      // Broadcast a contiguous copy, then write it back through t's strides.
      const Tensor c = t.contiguous();
      comm.broadcast(c, src);
      Tensor(t).copy_(c);
    } else {
      comm.broadcast(t, src);
    }
  }
}

GradReducer::GradReducer(Communicator& comm, std::vector<Tensor> params, int64_t bucket_bytes)
    : comm_(comm), params_(std::move(params)) {
  NABLA_CHECK(bucket_bytes > 0, "GradReducer: bucket_bytes must be positive, got ", bucket_bytes);
  int64_t used = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    NABLA_CHECK(p.defined(), "GradReducer: parameter ", i, " is undefined");
    NABLA_CHECK_DTYPE(p.dtype() == DType::F32 || p.dtype() == DType::F64,
                      "GradReducer: parameter ", i, " of shape ", p.shape(), " is ", p.dtype(),
                      "; gradients are averaged in f32 or f64 only");
    const auto bytes = static_cast<int64_t>(p.nbytes());
    const bool fits = !buckets_.empty() && used + bytes <= bucket_bytes &&
                      params_[buckets_.back().params.front()].dtype() == p.dtype();
    if (!fits) {
      buckets_.emplace_back();
      used = 0;
    }
    Bucket& b = buckets_.back();
    b.offsets.push_back(used / static_cast<int64_t>(p.element_size()));
    b.params.push_back(i);
    used += bytes;
  }
  if (!comm_.is_distributed()) return;  // no buffers needed
  for (Bucket& b : buckets_) {
    const Tensor& last = params_[b.params.back()];
    b.buffer = Tensor::empty({b.offsets.back() + last.numel()}, last.dtype());
  }
}

void GradReducer::all_reduce_grads() {
  if (!comm_.is_distributed()) return;
  const auto t0 = std::chrono::steady_clock::now();
  for (Bucket& b : buckets_) {
    for (size_t k = 0; k < b.params.size(); ++k) {
      const Tensor& p = params_[b.params[k]];
      Tensor slot = b.buffer.narrow(0, b.offsets[k], p.numel()).view(p.shape());
      const Tensor g = p.grad();
      if (g.defined()) slot.copy_(g);
      else slot.zero_();
    }
    comm_.all_reduce(b.buffer, ReduceOp::Avg);
    for (size_t k = 0; k < b.params.size(); ++k) {
      const Tensor& p = params_[b.params[k]];
      const Tensor slot = b.buffer.narrow(0, b.offsets[k], p.numel()).view(p.shape());
      Tensor g = p.grad();
      if (g.defined()) g.copy_(slot);
      else p.set_grad(slot.clone());
    }
  }
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace nabla::dist
