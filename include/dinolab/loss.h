/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * loss.h: the DINO self-distillation loss (DINO.md section 4) with the collapse
 * diagnostics of DINO.md 8.1, computed in the same pass, and the teacher centre EMA.
 *
 * Layout, as the model produces it (crop-major, DINO.md 3):
 *   student  [V*B, K]  rows [global1 batch, global2 batch, local1 batch, ...], V = 2 + n_local
 *   teacher  [2*B, K]  rows [global1 batch, global2 batch]
 *   center   [K]
 * The loss is the mean over the 2(V-1) pairs (teacher view i in {0,1}, student view v != i)
 * and over the batch of H(q_i, p_v) = -sum_k q_i[k] ln p_v[k], with
 *   q_i = softmax((t_i - c) / teacher_temp)    (no gradient flows into the teacher)
 *   p_v = softmax(s_v / student_temp).
 *
 * This module is not the trainer: it neither schedules the temperatures nor decides when the
 * centre is updated; the caller passes the effective temperature of the epoch and calls
 * dinolab_center_update() after the loss (DINO.md 5.3).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* All values are means, in nats (natural log).
 *   loss             the DINO loss (DINO.md 4)
 *   teacher_entropy  mean over the 2 teacher views and the batch of h(q_i); ln K when uniform
 *   kl               loss - teacher_entropy = mean over the pairs of KL(q_i || p_v)
 *   student_entropy  mean over all V student views and the batch of h(p_v) */
typedef struct {
    double loss;
    double teacher_entropy;
    double kl;
    double student_entropy;
} DinolabLossStats;

typedef struct DinolabLoss DinolabLoss;

/* dinolab_loss_new:
 * Allocates the working buffers for @n_views student views (V = 2 + n_local, at least 2)
 * of @batch rows each (B >= 1) and @out_dim logits per row (K >= 1): about 2*B*K floats for
 * the teacher targets. dinolab_loss_compute() then never allocates.
 * Returns a new object; free it with dinolab_loss_free(). NULL on invalid sizes. */
DinolabLoss *dinolab_loss_new          (int n_views,
                                        int batch,
                                        int out_dim);

/* dinolab_loss_free:
 * Frees @loss and its buffers. NULL is accepted. */
void         dinolab_loss_free         (DinolabLoss *loss);

/* dinolab_loss_compute:
 * Computes the loss and its diagnostics and writes the gradient of the loss w.r.t. the
 * student logits.
 *   @stats        out: loss, teacher_entropy, kl, student_entropy (may be NULL)
 *   @dstudent     out [V*B, K]: d loss / d student; OVERWRITTEN, not accumulated. For row b of
 *                 view v: (n_v * p_v - sum_{i in {0,1}, i != v} q_i) / (2(V-1) * B * student_temp),
 *                 n_v = 1 for the two global views, 2 for local views.
 *   @student      [V*B, K] student head outputs (crop-major)
 *   @teacher      [2*B, K] teacher head outputs of the two global views
 *   @center       [K] centre subtracted from the teacher, or NULL when centering is off
 *   @student_temp tau_s (> 0, DINO uses 0.1)
 *   @teacher_temp the effective teacher temperature of this epoch (> 0); the caller passes
 *                 @student_temp when sharpening is off
 * Softmax sums, log-sum-exps and the accumulations are done in double. Does not touch the
 * centre. All pointers are borrowed. Returns FALSE when the loss is not finite (the stats are
 * still filled and @dstudent then holds garbage); the trainer turns that into
 * DINOLAB_ERROR_DIVERGED. */
gboolean     dinolab_loss_compute      (DinolabLoss      *loss,
                                        DinolabLossStats *stats,
                                        float            *dstudent,
                                        const float      *student,
                                        const float      *teacher,
                                        const float      *center,
                                        float             student_temp,
                                        float             teacher_temp);

/* dinolab_loss_get_n_views / _get_batch / _get_out_dim:
 * The sizes @loss was created for. */
int          dinolab_loss_get_n_views  (const DinolabLoss *loss);
int          dinolab_loss_get_batch    (const DinolabLoss *loss);
int          dinolab_loss_get_out_dim  (const DinolabLoss *loss);

/* dinolab_center_update:
 * center[K] <- momentum * center + (1 - momentum) * mean over @rows rows of teacher[rows, K]
 * (the raw teacher outputs, before centring or temperature; DINO.md 4). The mean is
 * accumulated in double. Call it after dinolab_loss_compute(), with rows = 2*B and
 * momentum = center_momentum (0.9). Does not allocate. */
void         dinolab_center_update     (float       *center,
                                        const float *teacher,
                                        int          rows,
                                        int          K,
                                        float        momentum);

G_END_DECLS
