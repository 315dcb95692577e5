// Fixture loading and tensor comparison for tests.
#include "tests/testing/fixture.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace nabla::testing {

const Tensor& Fixture::operator[](const std::string& name) const {
  auto it = tensors.find(name);
  NABLA_CHECK(it != tensors.end(), "fixture has no tensor '", name, "'");
  return it->second;
}

Fixture load_fixture(const std::string& name) {
  const std::string path = std::string(NABLA_FIXTURE_DIR) + "/" + name + ".json";
  std::ifstream in(path);
  NABLA_CHECK_IO(in.good(), "fixture ", path, " not found; regenerate with tools/make_fixtures.py");
  nlohmann::json j = nlohmann::json::parse(in);
  Fixture f;
  f.meta = j.value("meta", nlohmann::json::object());
  for (auto& [key, val] : j.at("tensors").items()) {
    Shape shape = val.at("shape").get<std::vector<int64_t>>();
    const DType dtype = dtype_from_short_name(val.at("dtype").get<std::string>());
    Tensor t = Tensor::empty(shape, dtype);
    const auto& data = val.at("data");
    NABLA_CHECK(static_cast<int64_t>(data.size()) == t.numel(), "fixture ", name, ": ", key,
                " has ", data.size(), " values for shape ", shape);
    for (int64_t i = 0; i < t.numel(); ++i) {
      const auto& d = data[static_cast<size_t>(i)];
      switch (dtype) {
        case DType::F32: t.data<float>()[i] = d.get<float>(); break;
        case DType::F64: t.data<double>()[i] = d.get<double>(); break;
        case DType::I64: t.data<int64_t>()[i] = d.get<int64_t>(); break;
        case DType::I32: t.data<int32_t>()[i] = d.get<int32_t>(); break;
        case DType::Bool: t.data<uint8_t>()[i] = d.get<bool>() ? 1 : 0; break;
        default: NABLA_CHECK(false, "fixture ", name, ": unsupported dtype ", dtype);
      }
    }
    f.tensors.emplace(key, t);
  }
  return f;
}

::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double rtol,
                                     double atol) {
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure()
           << "shape " << actual.shape() << " != expected " << expected.shape();
  }
  const auto a = actual.to_vector();
  const auto e = expected.to_vector();
  double worst = 0;
  size_t worst_i = 0;
  bool ok = true;
  for (size_t i = 0; i < a.size(); ++i) {
    const double err = std::abs(a[i] - e[i]);
    const double excess = err - (atol + rtol * std::abs(e[i]));
    if (!(excess <= 0) || std::isnan(a[i]) != std::isnan(e[i])) {
      if (ok || excess > worst) {
        worst = excess;
        worst_i = i;
      }
      ok = false;
    }
  }
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "element " << worst_i << " is " << a[worst_i]
                                       << ", expected " << e[worst_i] << " (rtol " << rtol
                                       << ", atol " << atol << ")";
}

std::string shared_data_file(const std::string& name) {
  std::string dir = NABLA_SHARED_DATA_DIR;
  if (const char* env = std::getenv("NABLA_DATA_DIR")) dir = env;
  const std::string path = dir + "/" + name;
  return std::filesystem::exists(path) ? path : std::string();
}

}  // namespace nabla::testing
