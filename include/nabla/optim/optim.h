// The optim layer: SGD, Adam, AdamW, parameter groups, schedules and gradient clipping.
#pragma once

#include "nabla/optim/adam.h"
#include "nabla/optim/clip.h"
#include "nabla/optim/optimizer.h"
#include "nabla/optim/schedule.h"
#include "nabla/optim/sgd.h"
