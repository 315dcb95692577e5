// All of nabla::nn: Module, init, layers, activations, Sequential and losses.
#pragma once

#include "nabla/nn/activation.h"
#include "nabla/nn/dropout.h"
#include "nabla/nn/embedding.h"
#include "nabla/nn/init.h"
#include "nabla/nn/linear.h"
#include "nabla/nn/loss.h"
#include "nabla/nn/module.h"
#include "nabla/nn/norm.h"
#include "nabla/nn/sequential.h"
