// Parameter broadcast and bucketed gradient averaging, overlapped with the backward pass, for
// data-parallel training.
#include "nabla/dist/data_parallel.h"

#include <algorithm>
#include <chrono>
#include <unordered_set>

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

namespace {
double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

GradReducer::GradReducer(Communicator& comm, std::vector<Tensor> params, int64_t bucket_bytes)
    : comm_(comm), params_(std::move(params)) {
  NABLA_CHECK(bucket_bytes > 0, "GradReducer: bucket_bytes must be positive, got ", bucket_bytes);
  std::unordered_set<const TensorImpl*> seen;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    NABLA_CHECK(p.defined(), "GradReducer: parameter ", i, " is undefined");
    NABLA_CHECK_DTYPE(p.dtype() == DType::F32 || p.dtype() == DType::F64,
                      "GradReducer: parameter ", i, " of shape ", p.shape(), " is ", p.dtype(),
                      "; gradients are averaged in f32 or f64 only");
    NABLA_CHECK(seen.insert(&p.impl()).second, "GradReducer: parameter ", i, " of shape ",
                p.shape(), " is in the list twice");
  }
  // Reverse order (DDP): the backward pass makes the last parameters' gradients first, so
  // the first buckets fill, and start, while it is still running; the first is small so
  // that it starts early.
  bucket_of_.resize(params_.size());
  int64_t used = 0;
  for (size_t i = params_.size(); i-- > 0;) {
    const Tensor& p = params_[i];
    const auto bytes = static_cast<int64_t>(p.nbytes());
    const int64_t cap = buckets_.size() == 1 ? std::min(bucket_bytes, kFirstBucketBytes)
                                              : bucket_bytes;
    const bool fits = !buckets_.empty() && used + bytes <= cap &&
                      params_[buckets_.back().params.front()].dtype() == p.dtype();
    if (!fits) {
      buckets_.emplace_back();
      used = 0;
    }
    Bucket& b = buckets_.back();
    b.offsets.push_back(used / static_cast<int64_t>(p.element_size()));
    b.params.push_back(i);
    bucket_of_[i] = buckets_.size() - 1;
    used += bytes;
  }
  if (!comm_.is_distributed()) return;  // no buffers or hooks needed
  for (Bucket& b : buckets_) {
    const Tensor& last = params_[b.params.back()];
    b.buffer = Tensor::empty({b.offsets.back() + last.numel()}, last.dtype());
  }
  ready_.assign(params_.size(), 0);
  for (size_t i = 0; i < params_.size(); ++i) {
    NABLA_CHECK(params_[i].is_leaf() && params_[i].requires_grad(), "GradReducer: parameter ",
                i, " of shape ", params_[i].shape(), " is not a leaf that requires grad");
    hooks_.push_back(params_[i].register_post_accumulate_grad_hook(
        [this, i](const Tensor& /*param*/) { on_grad_ready(i); }));
  }
}

GradReducer::~GradReducer() {
  for (size_t i = 0; i < hooks_.size(); ++i) {
    params_[i].remove_post_accumulate_grad_hook(hooks_[i]);
  }
}

const std::vector<size_t>& GradReducer::bucket_params(int64_t b) const {
  NABLA_CHECK(b >= 0 && b < num_buckets(), "GradReducer::bucket_params: bucket ", b,
              " is out of range for ", num_buckets(), " buckets");
  return buckets_[static_cast<size_t>(b)].params;
}

void GradReducer::prepare_for_backward() {
  if (!comm_.is_distributed()) return;
  NABLA_CHECK(!armed_, "GradReducer::prepare_for_backward: called twice without "
              "all_reduce_grads in between");
  armed_ = true;
  next_start_ = 0;
  std::fill(ready_.begin(), ready_.end(), 0);
  for (Bucket& b : buckets_) b.pending = static_cast<int64_t>(b.params.size());
}

void GradReducer::on_grad_ready(size_t param) {
  if (!armed_) return;  // a backward of an accumulation micro-step, or outside training
  const auto t0 = std::chrono::steady_clock::now();
  NABLA_CHECK(ready_[param] == 0, "GradReducer: the gradient of parameter ", param, " (shape ",
              params_[param].shape(), ") became ready twice after prepare_for_backward; its "
              "bucket may already be averaging\n---> HINT: call prepare_for_backward before each "
              "backward whose gradients are averaged, and all_reduce_grads after it");
  ready_[param] = 1;
  --buckets_[bucket_of_[param]].pending;
  start_ready_buckets();
  // Open MPI moves a non-blocking collective on only inside MPI calls: poll the started ones.
  for (size_t b = 0; b < next_start_; ++b) {
    if (!buckets_[b].work.is_completed()) break;
  }
  seconds_ += since(t0);
}

void GradReducer::start_ready_buckets() {
  while (next_start_ < buckets_.size() && buckets_[next_start_].pending == 0) {
    start(buckets_[next_start_++]);
  }
}

void GradReducer::start(Bucket& b) {
  for (size_t k = 0; k < b.params.size(); ++k) {
    const Tensor& p = params_[b.params[k]];
    Tensor slot = b.buffer.narrow(0, b.offsets[k], p.numel()).view(p.shape());
    const Tensor g = p.grad();
    if (g.defined()) slot.copy_(g);
    else slot.zero_();
  }
  b.work = comm_.all_reduce_async(b.buffer, ReduceOp::Avg);
}

void GradReducer::all_reduce_grads() {
  if (!comm_.is_distributed()) return;
  const auto t0 = std::chrono::steady_clock::now();
  armed_ = false;
  // Parameters the backward pass never reached (or no hooks at all): their buckets start now.
  while (next_start_ < buckets_.size()) start(buckets_[next_start_++]);
  next_start_ = 0;
  for (Bucket& b : buckets_) {
    b.work.wait();
    for (size_t k = 0; k < b.params.size(); ++k) {
      const Tensor& p = params_[b.params[k]];
      const Tensor slot = b.buffer.narrow(0, b.offsets[k], p.numel()).view(p.shape());
      Tensor g = p.grad();
      if (g.defined()) g.copy_(slot);
      else p.set_grad(slot.clone());
    }
  }
  const double s = since(t0);
  seconds_ += s;
  wait_seconds_ += s;
}

}  // namespace nabla::dist
