// nabla bench (no mode): the standard benchmark set. Each case runs in a child process of this
// program (`nabla bench train|decode ... --json`), so each peak RSS is its own; the table adds
// the model FLOP utilisation against this machine's peak, measured first at the same thread
// count.
#include "bench_set.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "nabla/core/error.h"
#include "nabla/core/threads.h"
#include "nabla/kernels/cpu/peak.h"

extern char** environ;

namespace nabla::cli {
namespace {

struct Case {
  std::string kind;
  std::vector<std::string> flags;
};

// bench/compare.py reads these (bench --list) and adds PyTorch's side.
std::vector<Case> cases_of(const std::string& set) {
  const std::vector<std::string> t64 = {"--model", "gpt2", "--batch-size", "4", "--seq-len", "64"};
  auto with = [](std::vector<std::string> a, std::initializer_list<std::string> b) {
    a.insert(a.end(), b);
    return a;
  };
  if (set == "standard") {
    return {
        {"train", with(t64, {"--steps", "10"})},
        {"train", with(t64, {"--steps", "10", "--dtype", "bf16"})},
        {"train", {"--model", "gpt2", "--batch-size", "4", "--seq-len", "256", "--steps", "5"}},
        {"train",
         {"--model", "gpt2-baby", "--batch-size", "12", "--seq-len", "64", "--steps", "50"}},
        {"decode", {"--model", "stories15M", "--batch-size", "1"}},
        {"decode", {"--model", "stories15M", "--batch-size", "8"}},
        {"decode", {"--model", "stories110M", "--batch-size", "1"}},
        {"decode", {"--model", "stories110M", "--batch-size", "8"}},
    };
  }
  NABLA_CHECK(set == "quick", "bench: --set must be standard or quick, got '", set, "'");
  return {
      {"train", {"--model", "gpt2-baby", "--batch-size", "12", "--seq-len", "64", "--steps", "5",
                 "--warmup", "1"}},
      {"decode", {"--model", "stories15M", "--batch-size", "1", "--steps", "16"}},
  };
}

// Runs this program with args and returns the last line it printed (its JSON result).
std::string run_self(const std::vector<std::string>& args) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<char*> argv{const_cast<char*>(self.c_str())};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int fds[2];
  NABLA_CHECK(::pipe(fds) == 0, "bench: cannot create a pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, self.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n = 0;
  while (rc == 0 && (n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, n);
  ::close(fds[0]);
  int status = 0;
  if (rc == 0) ::waitpid(pid, &status, 0);
  std::string cmd = "nabla";
  for (const std::string& a : args) cmd += " " + a;
  NABLA_CHECK(rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "bench: '", cmd,
              "' failed (see its message above)");
  while (!out.empty() && out.back() == '\n') out.pop_back();
  const size_t nl = out.rfind('\n');
  return nl == std::string::npos ? out : out.substr(nl + 1);
}

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(digits);
  os << v;
  return os.str();
}

}  // namespace

int bench_list(const std::string& set) {
  for (const Case& c : cases_of(set)) {
    std::cout << nlohmann::json{{"bench", c.kind}, {"args", c.flags}}.dump() << "\n";
  }
  return 0;
}

int bench_set(const std::string& set, int64_t threads, bool json) {
  const std::vector<Case> cases = cases_of(set);
  const int64_t k = threads > 0 ? threads : get_num_threads();
  const double f32_peak = kernels::cpu::f32_fma_peak_gflops(0.5);
  const double bf16_peak = kernels::cpu::bf16_dot_peak_gflops(0.5);
  if (json) {
    std::cout << nlohmann::json{{"bench", "peak"}, {"threads", k},
                                {"f32_gflop_per_s", f32_peak}, {"bf16_gflop_per_s", bf16_peak}}
                     .dump()
              << "\n";
  } else {
    std::cout << "measured peak, " << k << " threads: f32 FMA " << fixed(f32_peak, 0)
              << " GFLOP/s, bf16 dot " << (bf16_peak > 0 ? fixed(bf16_peak, 0) : "n/a")
              << " GFLOP/s\n\n"
              << "| bench | model | shape | ms/step | tok/s | GFLOP/s | MFU | peak MB |\n"
              << "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n";
  }
  for (const Case& c : cases) {
    std::vector<std::string> args = {"bench", c.kind};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    args.insert(args.end(), {"--threads", std::to_string(k), "--json"});
    const std::string line = run_self(args);
    nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
    NABLA_CHECK(r.is_object() && r.contains("ms_per_step"), "bench: unexpected result '", line,
                "'");
    // bf16 training multiplies in bf16; decoding widens bf16 and int8 weights to f32 FMAs.
    const bool bf16 = c.kind == "train" && r.value("dtype", std::string()) == "bf16";
    const double peak = bf16 ? bf16_peak : f32_peak;
    const double gflops = r.value("gflop_per_s", 0.0);
    const double mfu = peak > 0 && gflops > 0 ? gflops / peak : 0.0;
    r["mfu"] = mfu;
    if (json) {
      std::cout << r.dump() << "\n" << std::flush;
      continue;
    }
    const std::string dtype = r.value("dtype", std::string("f32"));
    std::ostringstream shape;
    shape << "B=" << r.value("batch", 0);
    if (c.kind == "train") shape << " T=" << r.value("seq_len", 0);
    if (dtype != "f32") shape << " " << dtype;
    std::cout << "| " << c.kind << " | " << r.value("model", std::string()) << " | " << shape.str()
              << " | " << fixed(r["ms_per_step"].get<double>(), 1) << " | "
              << fixed(r.value("tokens_per_s", 0.0), 0) << " | " << fixed(gflops, 1) << " | "
              << (mfu > 0 ? fixed(100 * mfu, 1) + "%" : "n/a") << " | "
              << fixed(r.value("peak_rss_mb", 0.0), 0) << " |\n"
              << std::flush;
  }
  return 0;
}

}  // namespace nabla::cli
