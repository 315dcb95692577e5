// nabla bench without a mode: the standard benchmark set as one table (bench_set.cpp).
#pragma once

#include <cstdint>
#include <string>

namespace nabla::cli {

/// Runs the cases of set ("standard" or "quick") with threads (0: the pool's), each in its
/// own process, and prints a Markdown table with MFU against the measured peak, or one JSON
/// object per line (json).
int bench_set(const std::string& set, int64_t threads, bool json);

}  // namespace nabla::cli
