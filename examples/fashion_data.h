// Fashion-MNIST for the examples: pixels as float32 in [0, 1], flattened to (N, 784), and
// int64 labels, read by nabla::io::read_mnist from Debian's dataset-fashion-mnist.
#pragma once

#include "nabla/nabla.h"

namespace examples {

struct FashionSplit {
  nabla::Tensor x;  // (N, 784) float32
  nabla::Tensor y;  // (N) int64
};

inline FashionSplit load_fashion(bool train) {
  const nabla::io::MnistSplit s = nabla::io::read_mnist(nabla::io::kFashionMnistDir, train);
  const int64_t n = s.images.size(0);
  return {s.images.reshape({n, 784}).to(nabla::kFloat32) / 255.0, s.labels};
}

/// Correct predictions of logits (N, 10) against labels (N).
inline int64_t count_correct(const nabla::Tensor& logits, const nabla::Tensor& labels) {
  return static_cast<int64_t>(logits.argmax(1).eq(labels).sum().item());
}

}  // namespace examples
