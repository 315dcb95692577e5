// nn::Sequential: registration by position and the chained forward.
#include "nabla/nn/sequential.h"

namespace nabla::nn {

Sequential::Sequential(std::vector<std::shared_ptr<Module>> modules) {
  for (auto& m : modules) push_back(std::move(m));
}

void Sequential::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& m : modules_) h = m->forward(h);
  return h;
}

const std::shared_ptr<Module>& Sequential::operator[](size_t i) const {
  NABLA_CHECK_SHAPE(i < modules_.size(), "Sequential: index ", i, " is out of range for ",
                    modules_.size(), " modules");
  return modules_[i];
}

}  // namespace nabla::nn
