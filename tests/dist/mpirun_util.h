// Runs a command under `mpirun -np N` for the tests that need several ranks: finds mpirun,
// sets what Open MPI needs here (CI runs as root on 2 cores) and bounds the time.
#pragma once

#include <cstdlib>
#include <string>

#include "tests/cli/run_command.h"

namespace nabla::dist::testing {

using MpiRun = nabla::testing::CliResult;  // out: stdout and stderr of all ranks

/// The value of variable name (colon-separated options) with entry appended unless key is
/// set there already.
inline std::string with_option(const char* name, const std::string& key,
                               const std::string& entry) {
  const char* old = std::getenv(name);
  std::string v = old != nullptr ? old : "";
  if (v.find(key) != std::string::npos) return v;
  return v + (v.empty() ? "" : ":") + entry;
}

/// Whether mpirun is on the PATH (tests skip with a message when it is not).
inline bool have_mpirun() { return std::system("command -v mpirun > /dev/null 2>&1") == 0; }

/// Runs `mpirun -np np cmd` (cmd: a program and its arguments), killed after timeout_s.
inline MpiRun mpirun(int np, const std::string& cmd, int timeout_s = 120) {
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  // Open MPI keeps some allocations until exit; under ASan the ranks would report them:
  // tools/lsan_mpi.supp suppresses Open MPI's libraries (leak checking of nabla's code stays
  // on). Their stacks pass through Open MPI's plugins, built without frame pointers, so only
  // the slow unwinder reaches the suppressed libraries, within 16 frames (measured; 12 is
  // not enough). Set for the ranks only: an ASan rank runs about 3x slower with it.
  const std::string lsan = with_option("LSAN_OPTIONS", "suppressions",
                                       std::string("suppressions=") + NABLA_SOURCE_DIR +
                                           "/tools/lsan_mpi.supp:print_suppressions=0");
  const std::string asan = with_option("ASAN_OPTIONS", "fast_unwind_on_malloc",
                                       "fast_unwind_on_malloc=0:malloc_context_size=16");
  // --oversubscribe: more ranks than cores; --bind-to none: ranks share the cores freely.
  // One machine: shared memory only, so the network plugins (UCX, libfabric), whose
  // initialisers leak too, are never loaded.
  // The ranks run whole test binaries: a gtest shard setting of the parent must not reach them.
  const std::string line = "LSAN_OPTIONS='" + lsan + "' ASAN_OPTIONS='" + asan +
                           "' env -u GTEST_TOTAL_SHARDS -u GTEST_SHARD_INDEX timeout -k 5 " + std::to_string(timeout_s) + " mpirun -np " +
                           std::to_string(np) +
                           " --oversubscribe --bind-to none --mca pml ob1 --mca btl self,vader "
                           "--mca osc ^ucx " + cmd + " 2>&1";
  return nabla::testing::run_command(line);
}

}  // namespace nabla::dist::testing
