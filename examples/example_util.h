// Shared by the examples: --flag value parsing and the main() wrapper that prints a
// nabla::Error to stderr and exits 1 (the examples are programs, like the CLI).
#pragma once

#include <cstdint>
#include <exception>
#include <iostream>
#include <map>
#include <set>
#include <string>

#include "nabla/core/error.h"

namespace examples {

/// "--name value" pairs and "--switch" flags; unknown names and missing values are errors
/// that list the known flags.
class Args {
 public:
  Args(int argc, char** argv, const std::set<std::string>& known,
       const std::set<std::string>& switches = {}) {
    std::string names;
    for (const auto& k : known) names.append(" --").append(k);
    for (const auto& k : switches) names.append(" --").append(k);
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      const std::string name = a.rfind("--", 0) == 0 ? a.substr(2) : "";
      if (switches.count(name) == 1) {
        values_.emplace(name, "1");  // assigning a literal trips GCC 12 -Wrestrict
        continue;
      }
      NABLA_CHECK(known.count(name) == 1, "unknown argument '", a, "'; known flags:", names);
      NABLA_CHECK(i + 1 < argc, "flag ", a, " needs a value");
      values_[name] = argv[++i];
    }
  }
  bool has(const std::string& name) const { return values_.count(name) == 1; }
  int64_t get_int(const std::string& name, int64_t fallback) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    try {
      size_t used = 0;
      const int64_t v = std::stoll(it->second, &used);
      if (used == it->second.size()) return v;
    } catch (const std::exception&) {
    }
    throw nabla::Error(nabla::detail::concat("--", name, " expects an integer, got '", it->second, "'"));
  }
  double get_double(const std::string& name, double fallback) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    try {
      size_t used = 0;
      const double v = std::stod(it->second, &used);
      if (used == it->second.size()) return v;
    } catch (const std::exception&) {
    }
    throw nabla::Error(nabla::detail::concat("--", name, " expects a number, got '", it->second, "'"));
  }
  std::string get_string(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }

 private:
  std::map<std::string, std::string> values_;
};

/// Runs body(); a nabla::Error becomes "<program>: error: <message>" on stderr and exit code 1.
template <typename Body>
int run(const char* program, Body&& body) {
  try {
    body();
    return 0;
  } catch (const nabla::Error& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace examples
