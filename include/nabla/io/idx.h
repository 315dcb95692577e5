// IDX files (LeCun's MNIST format, also Fashion-MNIST), raw or gzip-compressed.
// Layout: magic 00 00 <type> <ndim>, ndim big-endian u32 sizes, then row-major big-endian data.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "nabla/core/tensor.h"

namespace nabla::io {

/// Parses the bytes of an IDX file held in memory; gzip-compressed bytes (1f 8b) are inflated
/// first. Type codes map to dtypes: 0x08 u8 -> uint8, 0x09 i8 / 0x0B i16 / 0x0C i32 -> int32
/// (nabla has no 8/16-bit signed types), 0x0D f32 -> float32, 0x0E f64 -> float64.
/// Bad magic, unknown type codes, sizes that overflow or exceed the data present, truncated or
/// trailing data and corrupt gzip streams throw nabla::IoError naming `name` and the byte
/// offset (into the decompressed IDX bytes, or into the gzip stream for gzip errors). Nothing
/// larger than the data actually present is allocated.
Tensor parse_idx(std::span<const uint8_t> bytes, const std::string& name = "<memory>");

/// Reads an IDX file (raw or .gz) as parse_idx does; a missing file throws nabla::IoError.
Tensor read_idx(const std::string& path);

/// One split of an MNIST-style data set.
struct MnistSplit {
  Tensor images;  ///< (N, 28, 28) uint8
  Tensor labels;  ///< (N) int64, ready for cross_entropy
};

/// Reads <dir>/{train,t10k}-images-idx3-ubyte[.gz] and the matching labels file; checks that
/// the images are (N, 28, 28) uint8, the labels (N) uint8 below 10, and converts the labels to
/// int64. `train` picks the training split (60000) over the test split (10000).
MnistSplit read_mnist(const std::string& dir, bool train);

/// Where Debian's dataset-fashion-mnist package installs Fashion-MNIST.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

}  // namespace nabla::io
