// Runs the deterministic examples' binaries and compares what they print with what their
// PyTorch twins print (tests/fixtures/examples.json, from tools/fixtures/examples.py).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "tests/testing/fixture.h"

namespace nabla {
namespace {

struct ExampleRun {
  std::string out;
  int status = -1;
};

// Runs build/<name> with args; stdout only (stderr is passed through for diagnosis).
ExampleRun run_example(const std::string& name, const std::string& args) {
  const std::string path = std::string(NABLA_BINARY_DIR) + "/" + name;
  ExampleRun r;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen((path + " " + args).c_str(), "r"), &pclose);
  if (!p) return r;
  char buf[4096];
  size_t k = 0;
  while ((k = fread(buf, 1, sizeof buf, p.get())) > 0) r.out.append(buf, k);
  r.status = pclose(p.release());
  return r;
}

std::string args_of(const testing::Fixture& fx, const std::string& name) {
  std::string args;
  for (const auto& a : fx.meta["args"][name]) args += a.get<std::string>() + " ";
  return args;
}

#define SKIP_UNLESS_BUILT(name)                                                              \
  if (!std::filesystem::exists(std::string(NABLA_BINARY_DIR) + "/" + (name))) {             \
    GTEST_SKIP() << "example " << (name) << " is not built (NABLA_BUILD_EXAMPLES=OFF)";      \
  }

const std::regex kNumber(R"(-?\d+\.?\d*(e[-+]\d+)?)");

// The text with every number replaced by '#', and the numbers.
std::pair<std::string, std::vector<double>> split_numbers(const std::string& s) {
  std::vector<double> numbers;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), kNumber); it != std::sregex_iterator(); ++it) {
    numbers.push_back(std::stod(it->str()));
  }
  return {std::regex_replace(s, kNumber, "#"), numbers};
}

// Same text around the numbers, and numbers within 1.5e-4: torch prints 4 decimals, and one
// unit in the last place can flip between float32 computations done in another order.
void expect_same_printout(const std::string& actual, const std::string& expected) {
  const auto [text_a, nums_a] = split_numbers(actual);
  const auto [text_e, nums_e] = split_numbers(expected);
  EXPECT_EQ(text_a, text_e) << "actual:\n" << actual << "expected:\n" << expected;
  ASSERT_EQ(nums_a.size(), nums_e.size());
  for (size_t i = 0; i < nums_a.size(); ++i) {
    EXPECT_NEAR(nums_a[i], nums_e[i], 1.5e-4) << "number " << i << "\nactual:\n" << actual;
  }
}

TEST(Examples, TensorsPrintsExactlyWhatTorchPrints) {
  SKIP_UNLESS_BUILT("tensors");
  const testing::Fixture fx = testing::load_fixture("examples");
  const ExampleRun r = run_example("tensors", args_of(fx, "tensors"));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, fx.meta["stdout"]["tensors"].get<std::string>());
}

TEST(Examples, AutogradBasicsGradientsMatchTorch) {
  SKIP_UNLESS_BUILT("autograd_basics");
  const testing::Fixture fx = testing::load_fixture("examples");
  const ExampleRun r = run_example("autograd_basics", args_of(fx, "autograd_basics"));
  EXPECT_EQ(r.status, 0);
  expect_same_printout(r.out, fx.meta["stdout"]["autograd_basics"].get<std::string>());
}

TEST(Examples, SimpleNetFixedWeightsGradientsMatchTorch) {
  SKIP_UNLESS_BUILT("simple_net");
  const testing::Fixture fx = testing::load_fixture("examples");
  const ExampleRun r = run_example("simple_net", args_of(fx, "simple_net"));
  EXPECT_EQ(r.status, 0);
  expect_same_printout(r.out, fx.meta["stdout"]["simple_net"].get<std::string>());
}

TEST(Examples, LoraToyCountsParametersAsTorch) {
  SKIP_UNLESS_BUILT("lora_toy");
  const testing::Fixture fx = testing::load_fixture("examples");
  const ExampleRun r = run_example("lora_toy", args_of(fx, "lora_toy") + "--threads 1");
  EXPECT_EQ(r.status, 0);
  const std::string counts = fx.meta["stdout"]["lora_toy"].get<std::string>();
  EXPECT_EQ(r.out.substr(0, counts.size()), counts);
  EXPECT_THAT(r.out, ::testing::HasSubstr("Epoch 1/1, Loss: "));
}

TEST(Examples, BadFlagPrintsErrorAndExits1) {
  SKIP_UNLESS_BUILT("tensors");
  const ExampleRun r = run_example("tensors", "--bogus 2>&1");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(WEXITSTATUS(r.status), 1);
  EXPECT_THAT(r.out, ::testing::HasSubstr("error: unknown argument '--bogus'"));
}

}  // namespace
}  // namespace nabla
