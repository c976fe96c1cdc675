/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * step.h: one DINO training iteration, in the reference's order (DINO.md 5.3):
 * schedules at the global iteration, teacher forward on the two global crops, student
 * forward on all crops, the loss and its diagnostics, backward, per-tensor clipping,
 * freeze_last_layer, the optimizer step, the EMA teacher and the center update.
 *
 * A DinolabStepper owns everything a step needs (activations of both networks, the
 * loss buffers, the optimizer state and the center), sized once for a batch and crop
 * sizes, so a step allocates nothing. The two halves are exposed separately so a
 * caller can look at the raw gradients between them (dinolab-cli step writes them).
 *
 * Threads: hp->threads (0 = every core) splits the batch into that many lanes that
 * run concurrently, each with single-threaded BLAS (the stepper sets the BLAS thread
 * count to 1 when it has more than one lane). The same thread count gives the same
 * bits; another thread count changes only the order of float sums. Drop path draws
 * from (seed, iteration, crop), so it does not depend on the thread count.
 */
#pragma once

#include <glib.h>

#include "dinolab/hparams.h"
#include "dinolab/model.h"
#include "dinolab/optim.h"
#include "dinolab/rng.h"

G_BEGIN_DECLS

typedef struct {
    gint64 iteration;        /* global iteration it = epoch * niter_per_epoch + i */
    int    epoch;
    double loss;             /* DINO loss (DINO.md 4) */
    double teacher_entropy;  /* mean h(P_t) over the 2 global views and the batch */
    double kl;               /* loss - teacher_entropy = mean KL(P_t || P_s) over the pairs */
    double student_entropy;  /* mean h(P_s) over all views and the batch */
    double lr;               /* learning rate used (already scaled by batch / 256) */
    double weight_decay;
    double momentum;         /* EMA momentum used (0 when use_momentum is off) */
    double teacher_temp;     /* teacher temperature used (student_temp without sharpening) */
    double grad_norm;        /* global gradient norm before clipping */
    double center_norm;      /* L2 norm of the center after its update */
    /* wall time of the phases, in seconds (for benchmarks) */
    double time_teacher;     /* teacher forward on the globals */
    double time_student;     /* student forward on all crops, head and loss */
    double time_backward;    /* head and backbone backward */
    double time_update;      /* clipping, optimizer, EMA, center */
} DinolabStepMetrics;

typedef struct DinolabStepper DinolabStepper;

/* dinolab_stepper_new:
 * @hp: schedules, temperatures and the ablation switches (copied).
 * @student: must have a head; its gradient block is enabled here. @teacher: same
 * table as the student. Both are borrowed and must outlive the stepper.
 * @batch images per crop; @n_local local crops per image (0 allowed);
 * @global_size / @local_size: square crop sides (multiples of the patch size).
 * The center starts at zero and the optimizer state is fresh.
 * Returns NULL with DINOLAB_ERROR_INVALID_INPUT for sizes the models cannot take. */
DinolabStepper *dinolab_stepper_new   (const DinolabHparams *hp,
                                       DinolabModel         *student,
                                       DinolabModel         *teacher,
                                       int                   batch,
                                       int                   n_local,
                                       int                   global_size,
                                       int                   local_size,
                                       GError              **error);
void            dinolab_stepper_free  (DinolabStepper       *stepper);

/* The center [out_dim], owned by the stepper; write it to restore a checkpoint. */
float            *dinolab_stepper_get_center    (DinolabStepper *stepper);
/* Lanes the batch is split into (the threads a step uses). */
int               dinolab_stepper_get_n_threads (const DinolabStepper *stepper);
DinolabOptimizer *dinolab_stepper_get_optimizer (DinolabStepper *stepper);

/* dinolab_stepper_forward_backward:
 * @globals [2, B, C, Hg, Wg] and @locals [n_local, B, C, Hl, Wl] (NULL when n_local
 * is 0), normalised floats. @it: the global iteration; @niter_per_epoch: iterations
 * per epoch (schedules and epoch = it / niter_per_epoch). Drop path (when
 * drop_path_rate > 0) is a function of (hp->seed, @it). Fills the loss, diagnostics
 * and schedule values of @metrics and leaves the raw gradient in the student's
 * gradient block.
 * Returns FALSE with DINOLAB_ERROR_DIVERGED when the loss is not finite (the
 * parameters are untouched then). */
gboolean dinolab_stepper_forward_backward (DinolabStepper     *stepper,
                                           const float        *globals,
                                           const float        *locals,
                                           gint64              it,
                                           int                 niter_per_epoch,
                                           DinolabStepMetrics *metrics,
                                           GError            **error);

/* dinolab_stepper_update:
 * The second half, after a successful forward_backward with the same @metrics:
 * clipping (fills grad_norm), freeze_last_layer, optimizer step, EMA teacher
 * update, center update (fills center_norm). */
void     dinolab_stepper_update           (DinolabStepper     *stepper,
                                           DinolabStepMetrics *metrics);

/* Both halves. */
gboolean dinolab_stepper_run              (DinolabStepper     *stepper,
                                           const float        *globals,
                                           const float        *locals,
                                           gint64              it,
                                           int                 niter_per_epoch,
                                           DinolabStepMetrics *metrics,
                                           GError            **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabStepper, dinolab_stepper_free)

G_END_DECLS
