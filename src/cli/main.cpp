// The nabla program: dispatches to cmd_<name>.cpp; the one place that turns an Error into a
// message and an exit code.
#include <iostream>
#include <string>

#include "nabla/core/error.h"

int main(int argc, char** argv) {
  try {
    if (argc < 2) {
      std::cerr << "usage: nabla <command> [options]\n";
      return 2;
    }
    std::cerr << "nabla: unknown command '" << argv[1] << "'\n";
    return 2;
  } catch (const nabla::Error& e) {
    std::cerr << "nabla: error: " << e.what() << "\n";
    return 1;
  }
}
