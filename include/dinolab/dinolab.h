/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab.h: the engine's public API in one include. Start reading here:
 *   hparams.h  the run's hyperparameters, with DINO's reference names and defaults
 *   model.h    the ViT backbone and DINO head, forward and backward
 *   loss.h     the DINO loss with its collapse diagnostics
 *   optim.h    AdamW / SGD, per-tensor clipping, schedules, the EMA teacher
 *   step.h     one training iteration in the reference's order
 *   params.h   the one table of named tensors behind every parameter block
 *   io.h       safetensors and .npy files
 *   rng.h      reproducible random streams
 *   study.h    the collapse study's arms, shared by the CLI and the GUI
 *   error.h    the GError domain
 */
#pragma once

#include "dinolab/error.h"
#include "dinolab/hparams.h"
#include "dinolab/io.h"
#include "dinolab/loss.h"
#include "dinolab/model.h"
#include "dinolab/optim.h"
#include "dinolab/params.h"
#include "dinolab/rng.h"
#include "dinolab/step.h"
#include "dinolab/study.h"
