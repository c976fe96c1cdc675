/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * optim.h: updates of the flat parameter block (DINO.md 5): AdamW and SGD exactly as
 * torch.optim implements them, per-tensor gradient clipping, the EMA teacher update, and the
 * schedules (lr, weight decay, teacher momentum, teacher temperature) as pure functions.
 *
 * Every block (params, grads, moments, teacher) has the layout of one DinolabParamTable
 * (params.h); the table's flags choose what happens to each tensor:
 *   DINOLAB_PARAM_DECAY       weight decay applies (group 0 of the reference)
 *   DINOLAB_PARAM_FROZEN      never updated, not clipped, not counted in the gradient norm
 *   DINOLAB_PARAM_LAST_LAYER  skipped entirely by a step with freeze_last_layer
 * One training iteration, in the reference order (DINO.md 5.3):
 *   lr = dinolab_schedule_cosine (...), wd = ..., m = ...;        (per iteration)
 *   ... loss, backward into grads ...
 *   grad_norm = dinolab_clip_gradients (grads, table, clip_grad, NULL);
 *   dinolab_optimizer_step (opt, params, grads, lr, wd, epoch < freeze_last_layer);
 *   dinolab_ema_update (teacher, params, table->total, m);
 * Nothing here allocates except dinolab_optimizer_new(). Nothing here knows about epochs,
 * data or the model; the trainer owns those.
 */
#pragma once

#include <glib.h>
#include <stddef.h>

#include "dinolab/params.h"

G_BEGIN_DECLS

/* Same order as the optimizer enum of hparams.h, so a cast between the two is valid. */
typedef enum {
    DINOLAB_OPTIM_ADAMW,
    DINOLAB_OPTIM_SGD,
} DinolabOptimKind;

typedef struct DinolabOptimizer DinolabOptimizer;

// ----------------------------------------------------------------------------
// optimizer

/* dinolab_optimizer_new:
 * Creates zeroed optimizer state for parameters laid out by @table (borrowed: it must
 * outlive the optimizer): a first-moment block of table->total floats (AdamW exp_avg, SGD
 * momentum_buffer), for AdamW a second-moment block (exp_avg_sq), and one step count per
 * tensor. Returns a new object; free it with dinolab_optimizer_free(). */
DinolabOptimizer *dinolab_optimizer_new        (DinolabOptimKind         kind,
                                                const DinolabParamTable *table);

/* dinolab_optimizer_free: frees @opt and its state. NULL is accepted. */
void              dinolab_optimizer_free       (DinolabOptimizer *opt);

/* dinolab_optimizer_reset: zeroes the moments and the step counts (a fresh optimizer). */
void              dinolab_optimizer_reset      (DinolabOptimizer *opt);

/* dinolab_optimizer_get_kind: the kind @opt was created with. */
DinolabOptimKind  dinolab_optimizer_get_kind   (const DinolabOptimizer *opt);

/* dinolab_optimizer_step:
 * One update of @params [table->total] from @grads [table->total] with learning rate @lr
 * and weight decay @weight_decay (applied only to DINOLAB_PARAM_DECAY tensors, as the
 * reference writes wd into group 0 only). Tensors flagged FROZEN are never touched; when
 * @freeze_last_layer is TRUE the LAST_LAYER tensors are skipped entirely too (no step count,
 * no moment update, no decay: torch skips parameters whose .grad is None).
 * The step count t is per tensor and starts at 1 on a tensor's first update.
 *   AdamW (torch.optim.AdamW, beta 0.9/0.999, eps 1e-8):
 *     p *= 1 - lr*wd;  m = 0.9 m + 0.1 g;  v = 0.999 v + 0.001 g^2;
 *     p -= lr/(1 - 0.9^t) * m / (sqrt(v)/sqrt(1 - 0.999^t) + 1e-8)
 *   SGD (torch.optim.SGD, momentum 0.9, dampening 0, no Nesterov, coupled decay):
 *     d = g + wd*p;  buf = d (t = 1) or 0.9 buf + d;  p -= lr * buf
 * Does not allocate. All pointers are borrowed. */
void              dinolab_optimizer_step       (DinolabOptimizer *opt,
                                                float            *params,
                                                const float      *grads,
                                                double            lr,
                                                double            weight_decay,
                                                gboolean          freeze_last_layer);

/* dinolab_optimizer_get_m / _get_v / _get_steps:
 * The state, for checkpoints (read it to save, write into it to restore). Owned by @opt.
 *   m      [table->total] AdamW exp_avg or SGD momentum_buffer
 *   v      [table->total] AdamW exp_avg_sq; NULL for SGD, which has no second moment
 *   steps  [table->n]     updates done per tensor (0: the tensor has no state yet) */
float            *dinolab_optimizer_get_m      (DinolabOptimizer *opt);
float            *dinolab_optimizer_get_v      (DinolabOptimizer *opt);
gint64           *dinolab_optimizer_get_steps  (DinolabOptimizer *opt);

// ----------------------------------------------------------------------------
// clipping and EMA

/* dinolab_clip_gradients:
 * Per-tensor clipping in place (DINO.md 5.4, the reference's clip_gradients): for every
 * non-FROZEN tensor, n = ||g||_2 and, with coef = clip / (n + 1e-6), g *= coef when
 * coef < 1. LAST_LAYER tensors are clipped like the others (the reference clips before it
 * cancels their gradients). @clip <= 0 means no clipping (the norms are still computed).
 * @norms_out: NULL, or table->n floats that receive each tensor's norm before clipping
 * (0 for FROZEN tensors).
 * Returns the global norm before clipping: sqrt of the sum of squares over all non-FROZEN
 * tensors (logged as grad_norm). Sums are in double. Does not allocate. */
double            dinolab_clip_gradients       (float                   *grads,
                                                const DinolabParamTable *table,
                                                double                   clip,
                                                float                   *norms_out);

/* dinolab_ema_update:
 * teacher[i] = momentum * teacher[i] + (1 - momentum) * student[i] for the @n floats of the
 * WHOLE block, frozen tensors included (DINO.md 5.3 step 8). momentum 0 copies the student
 * (use_momentum = false). */
void              dinolab_ema_update           (float       *teacher,
                                                const float *student,
                                                size_t       n,
                                                double       momentum);

// ----------------------------------------------------------------------------
// schedules (schedule.c)

/* dinolab_schedule_cosine:
 * The value at global iteration @it of the reference's
 *   cosine_scheduler (base, final, epochs, niter_per_epoch, warmup_epochs, start_warmup_value)
 * without building the array of epochs*niter_per_epoch values: with W = warmup_epochs *
 * niter_per_epoch warm-up iterations and N = total - W,
 *   it < W:  linspace (start_warmup_value, base, W)[it]   (both ends included; W = 1 gives start)
 *   else:    final + 0.5 (base - final) (1 + cos (pi (it - W) / N))
 * So with start_warmup_value 0 the first lr is exactly 0. Iterations past the end are
 * clamped to the last value (it >= total gives the value at total - 1), negative ones to
 * the first. warmup_epochs > epochs (refused by the reference) is clamped to epochs.
 * Use it for lr (base already scaled by batch/256, final min_lr, warmup_epochs), weight decay
 * (weight_decay -> weight_decay_end, no warmup) and the teacher momentum (momentum_teacher -> 1,
 * no warmup). Requires epochs >= 1, niter_per_epoch >= 1. */
double            dinolab_schedule_cosine      (double base,
                                                double final,
                                                int    epochs,
                                                int    niter_per_epoch,
                                                int    warmup_epochs,
                                                double start_warmup_value,
                                                gint64 it);

/* dinolab_schedule_teacher_temp:
 * The teacher temperature of @epoch: linspace (warmup_teacher_temp, teacher_temp,
 * warmup_teacher_temp_epochs)[epoch] while epoch < warmup_teacher_temp_epochs (both ends
 * included), then teacher_temp. Epochs past the end of training keep teacher_temp;
 * negative epochs are clamped to 0. With warmup_teacher_temp_epochs = 0 it is constant. */
double            dinolab_schedule_teacher_temp (double warmup_teacher_temp,
                                                 double teacher_temp,
                                                 int    warmup_teacher_temp_epochs,
                                                 int    epoch);

G_END_DECLS
