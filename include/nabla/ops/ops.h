// All ops.
#pragma once

#include "nabla/ops/creation.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/nn_functional.h"
#include "nabla/ops/reduce.h"
#include "nabla/ops/view.h"
