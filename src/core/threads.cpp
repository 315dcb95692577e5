// Thread count, set on the OpenMP pool that every kernel and library shares.
#include "nabla/core/threads.h"

#include <omp.h>

#include "nabla/core/error.h"

namespace nabla {

void set_num_threads(int n) {
  NABLA_CHECK(n >= 1, "set_num_threads: expected a positive thread count, got ", n);
  omp_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

}  // namespace nabla
