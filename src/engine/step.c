/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * step.c: one DINO iteration in the reference's order (DINO.md 5.3). The stepper owns
 * the buffers of both networks, the loss and the optimizer state; the models only own
 * their parameters and the student's gradients.
 *
 * Threads: the batch is split into lanes, one per thread, and each lane runs the whole
 * forward, loss and backward of its samples with single-threaded BLAS. This is shaped
 * so because the DINO loss pairs the views of each sample with each other only, so
 * lanes never wait for one another inside a step; the alternative, threaded BLAS
 * under one pass, leaves a core spinning through every small product, every
 * LayerNorm and GELU loop and every per-head attention product. The lanes' gradients
 * are summed in lane order, so a given thread count gives the same bits every time.
 *
 * What this file is not: the epoch loop, data loading, events and checkpoints belong
 * to the trainer. This file is what one call of the reference's inner loop does.
 */
#include <math.h>
#include <string.h>

#include "dinolab/error.h"
#include "dinolab/loss.h"
#include "dinolab/step.h"
#include "kernels.h"

typedef struct {
    int b0, nb;                        /* samples [b0, b0 + nb) of the batch */
    DinolabBackboneWork *teacher_bb;   /* 2 nb globals, inference buffers */
    DinolabHeadWork *teacher_head;     /* 2 nb rows */
    DinolabBackboneWork *student_g;    /* 2 nb globals, training */
    DinolabBackboneWork *student_l;    /* n_local * nb locals (NULL if none) */
    DinolabHeadWork *student_head;     /* V * nb rows */
    float *globals, *locals;           /* this lane's crops, contiguous, crop-major */
    float *head_in;                    /* [V*nb, D] */
    float *dstudent;                   /* [V*nb, K] */
    float *grads;                      /* lane 0: the model's block; others: their own */
    DinolabLoss *loss;
    DinolabLossStats stats;
    gboolean finite;
    double time_teacher, time_student, time_backward;
} Lane;

struct DinolabStepper {
    DinolabHparams hp;
    DinolabModel *student, *teacher;
    int B, n_local, V, K, D, C, G, L;
    int n_lanes;
    Lane *lanes;
    float *teacher_logits;             /* [2B, K], lane after lane (order does not matter) */
    float *center;                     /* [K] */
    DinolabOptimizer *opt;

    /* the current job, read by the lane threads */
    const float *job_globals, *job_locals;
    gint64 job_it;
    float job_teacher_temp;
    /* lanes 1.. run on threads of their own, woken for each step: a generation
     * counter under the lock, so a step allocates nothing (a thread pool's queue would) */
    GThread **threads;
    GMutex lock;
    GCond work_cond, done_cond;
    guint64 generation;
    int pending;
    gboolean quit;
};

// ----------------------------------------------------------------------------
// one lane: forward, loss and backward of its samples

static void
lane_run_ (DinolabStepper *s, Lane *lane)
{
    const DinolabHparams *hp = &s->hp;
    size_t img_g = (size_t) s->C * s->G * s->G, img_l = (size_t) s->C * s->L * s->L;
    size_t rows_g = (size_t) 2 * lane->nb, D = s->D, K = s->K;
    /* crop (v, b) of the batch has the drop-path index v * B + b, whatever the lanes */
    DinolabDropPath dp_g = { hp->seed, (guint64) s->job_it * 2, lane->b0, lane->nb, s->B };
    DinolabDropPath dp_l = { hp->seed, (guint64) s->job_it * 2 + 1, lane->b0, lane->nb, s->B };
    gint64 t0, t1;

    /* gather this lane's crops: [2, nb] globals and [n_local, nb] locals */
    for (int v = 0; v < 2; v++)
        memcpy (lane->globals + v * lane->nb * img_g,
                s->job_globals + ((size_t) v * s->B + lane->b0) * img_g, lane->nb * img_g * sizeof (float));
    for (int v = 0; v < s->n_local; v++)
        memcpy (lane->locals + v * lane->nb * img_l,
                s->job_locals + ((size_t) v * s->B + lane->b0) * img_l, lane->nb * img_l * sizeof (float));

    t0 = g_get_monotonic_time ();
    dinolab_backbone_forward (s->teacher, lane->teacher_bb, lane->globals, NULL);
    dinolab_head_forward (s->teacher, lane->teacher_head, dinolab_backbone_work_get_cls (lane->teacher_bb),
                          (int) rows_g);
    memcpy (s->teacher_logits + (size_t) 2 * lane->b0 * K, dinolab_head_work_get_logits (lane->teacher_head),
            rows_g * K * sizeof (float));
    t1 = g_get_monotonic_time ();
    lane->time_teacher = (t1 - t0) * 1e-6;

    dinolab_backbone_forward (s->student, lane->student_g, lane->globals, &dp_g);
    memcpy (lane->head_in, dinolab_backbone_work_get_cls (lane->student_g), rows_g * D * sizeof (float));
    if (s->n_local > 0) {
        dinolab_backbone_forward (s->student, lane->student_l, lane->locals, &dp_l);
        memcpy (lane->head_in + rows_g * D, dinolab_backbone_work_get_cls (lane->student_l),
                (size_t) s->n_local * lane->nb * D * sizeof (float));
    }
    dinolab_head_forward (s->student, lane->student_head, lane->head_in, s->V * lane->nb);

    lane->finite = dinolab_loss_compute (lane->loss, &lane->stats, lane->dstudent,
                                         dinolab_head_work_get_logits (lane->student_head),
                                         dinolab_head_work_get_logits (lane->teacher_head),
                                         hp->use_centering ? s->center : NULL,
                                         (float) hp->student_temp, s->job_teacher_temp);
    t0 = g_get_monotonic_time ();
    lane->time_student = (t0 - t1) * 1e-6;
    if (!lane->finite)
        return;

    /* The lane's loss is a mean over its nb samples; the step's over all B. */
    if (lane->nb != s->B) {
        float w = (float) lane->nb / (float) s->B;
        size_t n = (size_t) s->V * lane->nb * K;
        for (size_t i = 0; i < n; i++)
            lane->dstudent[i] *= w;
    }

    /* Parameter gradients accumulate over the head and both backbone passes, so the
     * lane's block starts from zero (activation gradients are written, kernels.h). */
    memset (lane->grads, 0, dinolab_model_get_table (s->student)->total * sizeof (float));
    dinolab_head_backward (s->student, lane->student_head, lane->dstudent, lane->grads);
    {
        const float *dinp = dinolab_head_work_get_dinput (lane->student_head);
        dinolab_backbone_backward (s->student, lane->student_g, dinp, lane->grads);
        if (s->n_local > 0)
            dinolab_backbone_backward (s->student, lane->student_l, dinp + rows_g * D, lane->grads);
    }
    lane->time_backward = (g_get_monotonic_time () - t0) * 1e-6;
}

typedef struct {
    DinolabStepper *s;
    Lane *lane;
} LaneThread;

static gpointer
lane_thread_ (gpointer data)
{
    LaneThread *lt = data;
    DinolabStepper *s = lt->s;
    guint64 seen = 0;

    for (;;) {
        g_mutex_lock (&s->lock);
        while (!s->quit && s->generation == seen)
            g_cond_wait (&s->work_cond, &s->lock);
        if (s->quit) {
            g_mutex_unlock (&s->lock);
            break;
        }
        seen = s->generation;
        g_mutex_unlock (&s->lock);

        lane_run_ (s, lt->lane);

        g_mutex_lock (&s->lock);
        if (--s->pending == 0)
            g_cond_signal (&s->done_cond);
        g_mutex_unlock (&s->lock);
    }
    g_free (lt);
    return NULL;
}

// ----------------------------------------------------------------------------
// the stepper

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
    int threads;

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
    s->C = mhp->in_chans;
    s->G = global_size;
    s->L = local_size;
    dinolab_model_enable_grads (student);
    g_mutex_init (&s->lock);
    g_cond_init (&s->work_cond);
    g_cond_init (&s->done_cond);

    threads = hp->threads > 0 ? hp->threads : (int) g_get_num_processors ();
    s->n_lanes = CLAMP (threads, 1, batch);
    s->lanes = g_new0 (Lane, s->n_lanes);
    for (int l = 0; l < s->n_lanes; l++) {
        Lane *lane = &s->lanes[l];
        lane->b0 = (int) ((gint64) batch * l / s->n_lanes);
        lane->nb = (int) ((gint64) batch * (l + 1) / s->n_lanes) - lane->b0;
        lane->teacher_bb = dinolab_backbone_work_new (teacher, 2 * lane->nb, global_size, global_size, FALSE);
        lane->teacher_head = dinolab_head_work_new (teacher, 2 * lane->nb, FALSE);
        lane->student_g = dinolab_backbone_work_new (student, 2 * lane->nb, global_size, global_size, TRUE);
        if (n_local > 0)
            lane->student_l = dinolab_backbone_work_new (student, n_local * lane->nb, local_size, local_size, TRUE);
        lane->student_head = dinolab_head_work_new (student, s->V * lane->nb, TRUE);
        lane->globals = g_new (float, (size_t) 2 * lane->nb * s->C * global_size * global_size);
        lane->locals = g_new (float, MAX ((size_t) n_local * lane->nb * s->C * local_size * local_size, 1));
        lane->head_in = g_new0 (float, (size_t) s->V * lane->nb * s->D);
        lane->dstudent = g_new0 (float, (size_t) s->V * lane->nb * s->K);
        lane->grads = l == 0 ? dinolab_model_get_grads (student)
                             : g_new0 (float, dinolab_model_get_table (student)->total);
        lane->loss = dinolab_loss_new (s->V, lane->nb, s->K);
    }
    s->teacher_logits = g_new0 (float, (size_t) 2 * batch * s->K);
    s->center = g_new0 (float, s->K);
    s->opt = dinolab_optimizer_new ((DinolabOptimKind) hp->optimizer, dinolab_model_get_table (student));
    if (s->n_lanes > 1) {
        /* Lanes own the cores: BLAS runs single-threaded inside each (never nested). */
        dinolab_blas_set_threads (1);
        s->threads = g_new0 (GThread *, s->n_lanes);
        for (int l = 1; l < s->n_lanes; l++) {
            LaneThread *lt = g_new (LaneThread, 1);
            lt->s = s;
            lt->lane = &s->lanes[l];
            s->threads[l] = g_thread_new ("dinolab-lane", lane_thread_, lt);
        }
    }
    return s;
}

void
dinolab_stepper_free (DinolabStepper *stepper)
{
    DinolabStepper *s = stepper;

    if (s == NULL)
        return;
    if (s->threads != NULL) {
        g_mutex_lock (&s->lock);
        s->quit = TRUE;
        g_cond_broadcast (&s->work_cond);
        g_mutex_unlock (&s->lock);
        for (int l = 1; l < s->n_lanes; l++)
            g_thread_join (s->threads[l]);
        g_free (s->threads);
    }
    for (int l = 0; l < s->n_lanes; l++) {
        Lane *lane = &s->lanes[l];
        dinolab_backbone_work_free (lane->teacher_bb);
        dinolab_head_work_free (lane->teacher_head);
        dinolab_backbone_work_free (lane->student_g);
        dinolab_backbone_work_free (lane->student_l);
        dinolab_head_work_free (lane->student_head);
        g_free (lane->globals);
        g_free (lane->locals);
        g_free (lane->head_in);
        g_free (lane->dstudent);
        if (l > 0)
            g_free (lane->grads);
        dinolab_loss_free (lane->loss);
    }
    g_free (s->lanes);
    dinolab_hparams_clear (&s->hp);
    g_free (s->teacher_logits);
    g_free (s->center);
    dinolab_optimizer_free (s->opt);
    g_mutex_clear (&s->lock);
    g_cond_clear (&s->work_cond);
    g_cond_clear (&s->done_cond);
    g_free (s);
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

int
dinolab_stepper_get_n_threads (const DinolabStepper *stepper)
{
    g_return_val_if_fail (stepper != NULL, 0);
    return stepper->n_lanes;
}

gboolean
dinolab_stepper_forward_backward (DinolabStepper     *stepper,
                                  const float        *globals,
                                  const float        *locals,
                                  gint64              it,
                                  int                 niter_per_epoch,
                                  DinolabStepMetrics *metrics,
                                  GError            **error)
{
    DinolabStepper *s = stepper;
    const DinolabHparams *hp;
    gboolean finite = TRUE;

    g_return_val_if_fail (stepper != NULL && globals != NULL && metrics != NULL, FALSE);
    g_return_val_if_fail (stepper->n_local == 0 || locals != NULL, FALSE);
    g_return_val_if_fail (niter_per_epoch > 0 && it >= 0, FALSE);

    hp = &s->hp;
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

    /* 2-4. every lane: teacher and student forward, loss, backward */
    s->job_globals = globals;
    s->job_locals = locals;
    s->job_it = it;
    s->job_teacher_temp = (float) metrics->teacher_temp;
    g_mutex_lock (&s->lock);
    s->pending = s->n_lanes - 1;
    s->generation++;
    g_cond_broadcast (&s->work_cond);
    g_mutex_unlock (&s->lock);
    lane_run_ (s, &s->lanes[0]);
    g_mutex_lock (&s->lock);
    while (s->pending > 0)
        g_cond_wait (&s->done_cond, &s->lock);
    g_mutex_unlock (&s->lock);

    /* the step's loss and diagnostics: means over all samples, lane by lane */
    for (int l = 0; l < s->n_lanes; l++) {
        const Lane *lane = &s->lanes[l];
        double w = (double) lane->nb / s->B;
        finite &= lane->finite;
        metrics->loss += w * lane->stats.loss;
        metrics->teacher_entropy += w * lane->stats.teacher_entropy;
        metrics->kl += w * lane->stats.kl;
        metrics->student_entropy += w * lane->stats.student_entropy;
        metrics->time_teacher = MAX (metrics->time_teacher, lane->time_teacher);
        metrics->time_student = MAX (metrics->time_student, lane->time_student);
        metrics->time_backward = MAX (metrics->time_backward, lane->time_backward);
    }
    if (!finite || !isfinite (metrics->loss)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DIVERGED,
                     "the loss is not finite (%g) at iteration %" G_GINT64_FORMAT, metrics->loss, it);
        return FALSE;
    }

    /* the student's gradient: lane 0 wrote into the model's block; add the others in order */
    if (s->n_lanes > 1) {
        float *grads = dinolab_model_get_grads (s->student);
        size_t n = dinolab_model_get_table (s->student)->total;
        gint64 t0 = g_get_monotonic_time ();
        for (int l = 1; l < s->n_lanes; l++) {
            const float *g = s->lanes[l].grads;
            for (size_t i = 0; i < n; i++)
                grads[i] += g[i];
        }
        metrics->time_backward += (g_get_monotonic_time () - t0) * 1e-6;
    }
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
        dinolab_center_update (s->center, s->teacher_logits, 2 * s->B, s->K, (float) hp->center_momentum);
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
                     DinolabStepMetrics *metrics,
                     GError            **error)
{
    if (!dinolab_stepper_forward_backward (stepper, globals, locals, it, niter_per_epoch, metrics, error))
        return FALSE;
    dinolab_stepper_update (stepper, metrics);
    return TRUE;
}
