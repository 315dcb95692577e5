// The one thread pool: OpenMP's. nabla's kernels, OpenBLAS (OpenMP build) and oneDNN all run
// on it, so they never compete for the cores.
#pragma once

namespace nabla {

/// Threads used by kernels and the matrix-multiply libraries (like torch.set_num_threads).
void set_num_threads(int n);
int get_num_threads();

}  // namespace nabla
