/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * step.c: one DINO iteration in the reference's order (DINO.md 5.3). The stepper owns
 * the buffers of both networks, the loss and the optimizer state; the models only own
 * their parameters and the student's gradients.
 *
 * What this file is not: the epoch loop, data loading, events and checkpoints belong
 * to the trainer. This file is what one call of the reference's inner loop does.
 */
#include <math.h>
#include <string.h>

#include "dinolab/error.h"
#include "dinolab/loss.h"
#include "dinolab/step.h"

struct DinolabStepper {
    DinolabHparams hp;
    DinolabModel *student, *teacher;
    int B, n_local, V, K, D;
    DinolabBackboneWork *teacher_bb;   /* 2B globals, inference buffers */
    DinolabHeadWork *teacher_head;     /* 2B rows */
    DinolabBackboneWork *student_g;    /* 2B globals, training */
    DinolabBackboneWork *student_l;    /* n_local * B locals, training (NULL if none) */
    DinolabHeadWork *student_head;     /* V * B rows */
    float *head_in;                    /* [V*B, D] student CLS features, crop-major */
    float *dstudent;                   /* [V*B, K] */
    float *center;                     /* [K] */
    DinolabLoss *loss;
    DinolabOptimizer *opt;
};

DinolabStepper *
dinolab_stepper_new (const DinolabHparams *hp,
                     DinolabModel         *student,
                     DinolabModel         *teacher,
                     int                   batch,
                     int                   n_local,
                     int                   global_size,
                     int                   local_size,
                     GError              **error)
{
    DinolabStepper *s;
    const DinolabHparams *mhp;

    g_return_val_if_fail (hp != NULL && student != NULL && teacher != NULL, NULL);
    g_return_val_if_fail (batch > 0 && n_local >= 0, NULL);

    if (!dinolab_model_has_head (student) || !dinolab_model_has_head (teacher)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "training needs the DINO head in both the student and the teacher");
        return NULL;
    }
    if (dinolab_model_get_table (student)->total != dinolab_model_get_table (teacher)->total) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "the student and the teacher have different shapes");
        return NULL;
    }
    mhp = dinolab_model_get_hparams (student);
    if (!dinolab_model_check_input (student, mhp->in_chans, global_size, global_size, error))
        return NULL;
    if (n_local > 0 && !dinolab_model_check_input (student, mhp->in_chans, local_size, local_size, error))
        return NULL;

    s = g_new0 (DinolabStepper, 1);
    dinolab_hparams_init (&s->hp);
    dinolab_hparams_copy (&s->hp, hp);
    s->student = student;
    s->teacher = teacher;
    s->B = batch;
    s->n_local = n_local;
    s->V = 2 + n_local;
    s->K = mhp->out_dim;
    s->D = mhp->embed_dim;
    dinolab_model_enable_grads (student);

    s->teacher_bb = dinolab_backbone_work_new (teacher, 2 * batch, global_size, global_size, FALSE);
    s->teacher_head = dinolab_head_work_new (teacher, 2 * batch, FALSE);
    s->student_g = dinolab_backbone_work_new (student, 2 * batch, global_size, global_size, TRUE);
    if (n_local > 0)
        s->student_l = dinolab_backbone_work_new (student, n_local * batch, local_size, local_size, TRUE);
    s->student_head = dinolab_head_work_new (student, s->V * batch, TRUE);
    s->head_in = g_new0 (float, (size_t) s->V * batch * s->D);
    s->dstudent = g_new0 (float, (size_t) s->V * batch * s->K);
    s->center = g_new0 (float, s->K);
    s->loss = dinolab_loss_new (s->V, batch, s->K);
    s->opt = dinolab_optimizer_new ((DinolabOptimKind) hp->optimizer, dinolab_model_get_table (student));
    return s;
}

void
dinolab_stepper_free (DinolabStepper *stepper)
{
    if (stepper == NULL)
        return;
    dinolab_hparams_clear (&stepper->hp);
    dinolab_backbone_work_free (stepper->teacher_bb);
    dinolab_head_work_free (stepper->teacher_head);
    dinolab_backbone_work_free (stepper->student_g);
    dinolab_backbone_work_free (stepper->student_l);
    dinolab_head_work_free (stepper->student_head);
    g_free (stepper->head_in);
    g_free (stepper->dstudent);
    g_free (stepper->center);
    dinolab_loss_free (stepper->loss);
    dinolab_optimizer_free (stepper->opt);
    g_free (stepper);
}

float *
dinolab_stepper_get_center (DinolabStepper *stepper)
{
    g_return_val_if_fail (stepper != NULL, NULL);
    return stepper->center;
}

DinolabOptimizer *
dinolab_stepper_get_optimizer (DinolabStepper *stepper)
{
    g_return_val_if_fail (stepper != NULL, NULL);
    return stepper->opt;
}

gboolean
dinolab_stepper_forward_backward (DinolabStepper     *stepper,
                                  const float        *globals,
                                  const float        *locals,
                                  gint64              it,
                                  int                 niter_per_epoch,
                                  DinolabRng         *rng,
                                  DinolabStepMetrics *metrics,
                                  GError            **error)
{
    DinolabStepper *s = stepper;
    const DinolabHparams *hp;
    DinolabLossStats stats;
    size_t rows_g, D;
    const float *dinp;
    gint64 t0, t1;

    g_return_val_if_fail (stepper != NULL && globals != NULL && metrics != NULL, FALSE);
    g_return_val_if_fail (stepper->n_local == 0 || locals != NULL, FALSE);
    g_return_val_if_fail (niter_per_epoch > 0 && it >= 0, FALSE);

    hp = &s->hp;
    rows_g = (size_t) 2 * s->B;
    D = (size_t) s->D;
    memset (metrics, 0, sizeof *metrics);
    metrics->iteration = it;
    metrics->epoch = (int) (it / niter_per_epoch);

    /* 1. schedules (DINO.md 5.2): per iteration, except the teacher temperature */
    metrics->lr = dinolab_schedule_cosine (hp->lr * s->B / 256.0, hp->min_lr, hp->epochs,
                                           niter_per_epoch, hp->warmup_epochs, 0.0, it);
    metrics->weight_decay = dinolab_schedule_cosine (hp->weight_decay, hp->weight_decay_end,
                                                     hp->epochs, niter_per_epoch, 0, 0.0, it);
    metrics->momentum = hp->use_momentum
        ? dinolab_schedule_cosine (hp->momentum_teacher, 1.0, hp->epochs, niter_per_epoch, 0, 0.0, it)
        : 0.0;
    metrics->teacher_temp = hp->use_sharpening
        ? dinolab_schedule_teacher_temp (hp->warmup_teacher_temp, hp->teacher_temp,
                                         hp->warmup_teacher_temp_epochs, metrics->epoch)
        : hp->student_temp;

    /* 2. teacher on the globals, student on every crop, crop-major rows */
    t0 = g_get_monotonic_time ();
    dinolab_backbone_forward (s->teacher, s->teacher_bb, globals, NULL);
    dinolab_head_forward (s->teacher, s->teacher_head, dinolab_backbone_work_get_cls (s->teacher_bb),
                          (int) rows_g);
    t1 = g_get_monotonic_time ();
    metrics->time_teacher = (t1 - t0) * 1e-6;

    dinolab_backbone_forward (s->student, s->student_g, globals, rng);
    memcpy (s->head_in, dinolab_backbone_work_get_cls (s->student_g), rows_g * D * sizeof (float));
    if (s->n_local > 0) {
        dinolab_backbone_forward (s->student, s->student_l, locals, rng);
        memcpy (s->head_in + rows_g * D, dinolab_backbone_work_get_cls (s->student_l),
                (size_t) s->n_local * s->B * D * sizeof (float));
    }
    dinolab_head_forward (s->student, s->student_head, s->head_in, s->V * s->B);

    if (!dinolab_loss_compute (s->loss, &stats, s->dstudent,
                               dinolab_head_work_get_logits (s->student_head),
                               dinolab_head_work_get_logits (s->teacher_head),
                               hp->use_centering ? s->center : NULL,
                               (float) hp->student_temp, (float) metrics->teacher_temp)) {
        metrics->loss = stats.loss;
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DIVERGED,
                     "the loss is not finite (%g) at iteration %" G_GINT64_FORMAT, stats.loss, it);
        return FALSE;
    }
    t0 = g_get_monotonic_time ();
    metrics->time_student = (t0 - t1) * 1e-6;
    metrics->loss = stats.loss;
    metrics->teacher_entropy = stats.teacher_entropy;
    metrics->kl = stats.kl;
    metrics->student_entropy = stats.student_entropy;

    /* 4. backward: head, then each backbone pass with its rows of the head input */
    dinolab_model_zero_grads (s->student);
    dinolab_head_backward (s->student, s->student_head, s->dstudent);
    dinp = dinolab_head_work_get_dinput (s->student_head);
    dinolab_backbone_backward (s->student, s->student_g, dinp);
    if (s->n_local > 0)
        dinolab_backbone_backward (s->student, s->student_l, dinp + rows_g * D);
    metrics->time_backward = (g_get_monotonic_time () - t0) * 1e-6;
    return TRUE;
}

void
dinolab_stepper_update (DinolabStepper     *stepper,
                        DinolabStepMetrics *metrics)
{
    DinolabStepper *s = stepper;
    const DinolabHparams *hp;
    const DinolabParamTable *table;
    float *params, *grads;
    double cn = 0.0;
    gint64 t0 = g_get_monotonic_time ();

    g_return_if_fail (stepper != NULL && metrics != NULL);

    hp = &s->hp;
    table = dinolab_model_get_table (s->student);
    params = dinolab_model_get_params (s->student);
    grads = dinolab_model_get_grads (s->student);

    /* 5-7. clip each tensor, drop the last layer's update in early epochs, step */
    metrics->grad_norm = dinolab_clip_gradients (grads, table, hp->clip_grad, NULL);
    dinolab_optimizer_step (s->opt, params, grads, metrics->lr, metrics->weight_decay,
                            metrics->epoch < hp->freeze_last_layer);

    /* 8. EMA over every parameter; without momentum the teacher is the student */
    dinolab_ema_update (dinolab_model_get_params (s->teacher), params, table->total, metrics->momentum);

    /* the center moves after the loss, from the raw teacher logits (DINO.md 4) */
    if (hp->use_centering)
        dinolab_center_update (s->center, dinolab_head_work_get_logits (s->teacher_head),
                               2 * s->B, s->K, (float) hp->center_momentum);
    for (int k = 0; k < s->K; k++)
        cn += (double) s->center[k] * s->center[k];
    metrics->center_norm = sqrt (cn);
    metrics->time_update = (g_get_monotonic_time () - t0) * 1e-6;
}

gboolean
dinolab_stepper_run (DinolabStepper     *stepper,
                     const float        *globals,
                     const float        *locals,
                     gint64              it,
                     int                 niter_per_epoch,
                     DinolabRng         *rng,
                     DinolabStepMetrics *metrics,
                     GError            **error)
{
    if (!dinolab_stepper_forward_backward (stepper, globals, locals, it, niter_per_epoch, rng,
                                           metrics, error))
        return FALSE;
    dinolab_stepper_update (stepper, metrics);
    return TRUE;
}
