// The CLI tests run the built nabla program (NABLA_BINARY_DIR/nabla) end to end through a
// shell: run_command collects what a command prints and how it exits.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace nabla::testing {

struct CliResult {
  int status;       ///< exit code; -1 when the command did not exit normally
  std::string out;  ///< what it wrote to stdout (redirect stderr there with 2>&1)
};

/// Runs cmd through sh and returns its exit status and standard output.
inline CliResult run_command(const std::string& cmd) {
  CliResult r{-1, {}};
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

/// The path of the nabla program under test.
inline std::string nabla_program() { return std::string(NABLA_BINARY_DIR) + "/nabla"; }

}  // namespace nabla::testing
