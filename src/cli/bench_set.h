// nabla bench without a mode: the standard benchmark set as one table (bench_set.cpp).
#pragma once

#include <cstdint>
#include <string>

namespace nabla::cli {

/// Runs the cases of set ("standard" or "quick") with threads (0: the pool's), each in its
/// own process, and prints a Markdown table with MFU against the measured peak, or one JSON
/// object per line (json).
int bench_set(const std::string& set, int64_t threads, bool json);

/// Prints the cases of set without running them, one JSON object per line:
/// {"bench": "train", "args": ["--model", "gpt2", ...]}. bench/compare.py runs each case and
/// its PyTorch twin from this list, so the set is written down once, here.
int bench_list(const std::string& set);

}  // namespace nabla::cli
