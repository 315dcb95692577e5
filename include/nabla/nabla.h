// Everything public in nabla: #include "nabla/nabla.h".
#pragma once

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/device.h"
#include "nabla/core/dtype.h"
#include "nabla/core/error.h"
#include "nabla/core/rng.h"
#include "nabla/core/tensor.h"
#include "nabla/core/threads.h"
#include "nabla/io/idx.h"
#include "nabla/io/json_config.h"
#include "nabla/io/llama2c.h"
#include "nabla/io/llmc.h"
#include "nabla/io/safetensors.h"
#include "nabla/io/weights.h"
#include "nabla/ops/ops.h"
#include "nabla/optim/optim.h"
