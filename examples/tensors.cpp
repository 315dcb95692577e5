// Tensor basics: creation from 0-d to 3-d, dtypes and conversion, shape, reshape and view,
// transpose, matrix products. Twin of tools/examples_torch/tensors.py; prints the same text.
#include <iostream>

#include "example_util.h"
#include "nabla/nabla.h"

namespace {

// a (M, K) @ b (K, N) for int64 tensors, as torch.matmul gives them: nabla's matmul runs in a
// BLAS library and takes floating dtypes only, so integers go through broadcast multiply + sum.
nabla::Tensor int_matmul(const nabla::Tensor& a, const nabla::Tensor& b) {
  return (a.unsqueeze(2) * b.unsqueeze(0)).sum({1});  // (M, K, 1) * (1, K, N) -> (M, N)
}

}  // namespace

int main(int argc, char** argv) {
  return examples::run(argv[0], [&] {
    examples::Args(argc, argv, {});
    using namespace nabla;
    Tensor tensor0d = tensor(1);
    Tensor tensor1d = tensor({1, 2, 3});
    Tensor tensor2d = tensor({{1, 2}, {3, 4}});
    Tensor tensor3d = tensor({{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}});
    std::cout << tensor0d << "\n" << tensor1d << "\n" << tensor2d << "\n" << tensor3d << "\n";

    std::cout << tensor1d.dtype() << "\n";
    Tensor floatvec = tensor({1.0, 2.0, 3.0});
    std::cout << floatvec.dtype() << "\n";
    floatvec = tensor1d.to(kFloat32);
    std::cout << floatvec.dtype() << "\n";
    std::cout << floatvec << "\n";

    tensor2d = tensor({{1, 2, 3}, {4, 5, 6}});
    std::cout << tensor2d << "\n";
    std::cout << "torch.Size(" << tensor2d.shape() << ")\n";
    std::cout << tensor2d.reshape({3, 2}) << "\n";
    std::cout << tensor2d.view({3, 2}) << "\n";
    std::cout << tensor2d.T() << "\n";
    std::cout << int_matmul(tensor2d, tensor2d.T()) << "\n";  // tensor2d.matmul(tensor2d.T)
    std::cout << int_matmul(tensor2d, tensor2d.T()) << "\n";  // tensor2d @ tensor2d.T

    Tensor a = tensor({{0.5, -1.25, 3.0}, {2.0, 0.125, -0.75}});
    std::cout << a.matmul(a.T()) << "\n";
  });
}
