// PyTorch checkpoints written by torch.save (zip format, PyTorch >= 1.6), as Meta ships
// Llama's consolidated.NN.pth: a zip of stored (uncompressed) entries "<name>/data.pkl" (a
// pickle) and "<name>/data/<key>" (raw little-endian storages). Only the pickle subset that
// torch.save writes for a dict of tensors is read: a fixed opcode set and the globals
// torch._utils._rebuild_tensor_v2 / _rebuild_parameter, collections.OrderedDict and
// torch.*Storage. Anything else is an error; nothing is executed.
#pragma once

#include <memory>
#include <string>

#include "nabla/core/storage.h"
#include "nabla/io/weights.h"

namespace nabla::io {

/// Loads a torch.save()d dict of tensors (memory-mapped; f32/bf16/f64/integer tensors view
/// the file, f16 is widened to f32). Errors name the file, the byte offset and the tensor.
Weights load_torch_pth(const std::string& path);
/// The same from a whole file held in buffer; source names it in messages.
Weights parse_torch_pth(std::shared_ptr<Storage> buffer, const std::string& source = "<memory>");

}  // namespace nabla::io
