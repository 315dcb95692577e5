// Atomic writes of small files (config.json, tokenizer files): temporary file, fsync, rename,
// fsync of the directory, as the checkpoint writers do.
#pragma once

#include <string>
#include <string_view>

namespace nabla::io {

/// Replaces path's contents with contents atomically: on any failure path keeps its previous
/// contents and IoError names the failing call; format names the file kind in messages.
void write_file_atomic(const std::string& path, std::string_view contents,
                       const std::string& format = "file");

}  // namespace nabla::io
