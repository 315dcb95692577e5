// nn::Sequential: children "0", "1", ... applied in order (torch.nn.Sequential).
#pragma once

#include <memory>
#include <vector>

#include "nabla/nn/module.h"

namespace nabla::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  /// nn::Sequential({std::make_shared<nn::Linear>(10, 5), std::make_shared<nn::ReLU>()})
  explicit Sequential(std::vector<std::shared_ptr<Module>> modules);
  /// Appends a module named by its position.
  void push_back(std::shared_ptr<Module> module);
  /// Each module's output feeds the next; an empty Sequential returns its input.
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Sequential"; }

  size_t size() const { return modules_.size(); }
  bool empty() const { return modules_.empty(); }
  /// The i-th module; throws when i is out of range.
  const std::shared_ptr<Module>& operator[](size_t i) const;
  /// The i-th module as type M; throws when it is not one.
  template <typename M>
  std::shared_ptr<M> at(size_t i) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[i]);
    NABLA_CHECK(m != nullptr, "Sequential: module ", i, " is a ", (*this)[i]->name(),
                ", not the requested type");
    return m;
  }
  std::vector<std::shared_ptr<Module>>::const_iterator begin() const { return modules_.begin(); }
  std::vector<std::shared_ptr<Module>>::const_iterator end() const { return modules_.end(); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace nabla::nn
