// Grad mode: whether ops record the graph. Thread-local, like PyTorch's.
#pragma once

namespace nabla {

namespace autograd {
/// Whether new ops record graph nodes on this thread.
bool is_grad_enabled();
void set_grad_enabled(bool enabled);
}  // namespace autograd

/// RAII: no graph is recorded while it lives (torch.no_grad()).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(autograd::is_grad_enabled()) { autograd::set_grad_enabled(false); }
  ~NoGradGuard() { autograd::set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

/// RAII: graph recording on while it lives (torch.enable_grad()).
class EnableGradGuard {
 public:
  EnableGradGuard() : prev_(autograd::is_grad_enabled()) { autograd::set_grad_enabled(true); }
  ~EnableGradGuard() { autograd::set_grad_enabled(prev_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace nabla
