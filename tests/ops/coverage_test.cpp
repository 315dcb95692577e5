// Every differentiable op in op_list.h has a gradcheck case: a `gradcheck("name", ...)` call in
// some test under tests/ (ggml's test-backend-ops rule); whitespace is ignored.
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "nabla/ops/op_list.h"

namespace nabla {
namespace {

std::string all_test_sources() {
  std::string text;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(std::string(NABLA_SOURCE_DIR) + "/tests")) {
    if (entry.path().extension() != ".cpp") continue;
    std::ifstream in(entry.path());
    std::stringstream ss;
    ss << in.rdbuf();
    for (char c : ss.str()) {
      if (!std::isspace(static_cast<unsigned char>(c))) text += c;  // calls may wrap lines
    }
  }
  return text;
}

TEST(OpCoverage, EveryDifferentiableOpHasAGradcheck) {
#define NABLA_OP_NAME(name) #name,
  const std::vector<std::string> ops = {NABLA_DIFFERENTIABLE_OPS(NABLA_OP_NAME)};
#undef NABLA_OP_NAME
  const std::string tests = all_test_sources();
  ASSERT_FALSE(tests.empty()) << "no test sources found under " << NABLA_SOURCE_DIR;
  std::string missing;
  int n_missing = 0;
  for (const std::string& op : ops) {
    if (tests.find("gradcheck(\"" + op + "\"") == std::string::npos) {
      missing += " " + op;
      ++n_missing;
    }
  }
  EXPECT_EQ(n_missing, 0) << n_missing << " of " << ops.size()
                          << " differentiable ops have no gradcheck case:" << missing;
}

}  // namespace
}  // namespace nabla
