/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * optim.c: AdamW and SGD over the flat parameter block, per-tensor gradient clipping and
 * the EMA teacher update (DINO.md 5.1, 5.3, 5.4).
 *
 * The update rules are the single-tensor (for-loop) code paths of torch.optim.AdamW and
 * torch.optim.SGD: element-wise arithmetic in float32, scalars (bias corrections, step
 * sizes) in double. State is per tensor of the DinolabParamTable, as torch keeps
 * state[p] per parameter: a tensor that the step skips (FROZEN, or LAST_LAYER during
 * freeze_last_layer) gets no step count and no moment update, so when it starts training
 * its bias correction starts at t = 1.
 *
 * It does not schedule anything (schedule.c), zero the gradients or know about epochs; the
 * trainer calls the pieces in the reference order. Nothing here allocates after _new().
 */
#include "dinolab/optim.h"

#include <math.h>
#include <string.h>

#define ADAMW_BETA1 0.9
#define ADAMW_BETA2 0.999
#define ADAMW_EPS   1e-8
#define SGD_MOMENTUM 0.9
#define CLIP_EPS    1e-6

struct DinolabOptimizer {
    DinolabOptimKind         kind;
    const DinolabParamTable *table;  /* borrowed */
    float                   *m;      /* [total] exp_avg / momentum_buffer */
    float                   *v;      /* [total] exp_avg_sq; NULL for SGD */
    gint64                  *steps;  /* [n] per-tensor step counts */
};

// ----------------------------------------------------------------------------
// object

DinolabOptimizer *
dinolab_optimizer_new (DinolabOptimKind         kind,
                       const DinolabParamTable *table)
{
    DinolabOptimizer *opt;

    g_return_val_if_fail (kind == DINOLAB_OPTIM_ADAMW || kind == DINOLAB_OPTIM_SGD, NULL);
    g_return_val_if_fail (table != NULL, NULL);
    g_return_val_if_fail (table->n == 0 || table->info != NULL, NULL);

    opt = g_new0 (DinolabOptimizer, 1);
    opt->kind = kind;
    opt->table = table;
    opt->m = g_new0 (float, MAX (table->total, 1));
    opt->v = kind == DINOLAB_OPTIM_ADAMW ? g_new0 (float, MAX (table->total, 1)) : NULL;
    opt->steps = g_new0 (gint64, MAX (table->n, 1));
    return opt;
}

void
dinolab_optimizer_free (DinolabOptimizer *opt)
{
    if (opt == NULL)
        return;
    g_free (opt->m);
    g_free (opt->v);
    g_free (opt->steps);
    g_free (opt);
}

void
dinolab_optimizer_reset (DinolabOptimizer *opt)
{
    g_return_if_fail (opt != NULL);

    memset (opt->m, 0, sizeof (float) * opt->table->total);
    if (opt->v != NULL)
        memset (opt->v, 0, sizeof (float) * opt->table->total);
    memset (opt->steps, 0, sizeof (gint64) * opt->table->n);
}

DinolabOptimKind
dinolab_optimizer_get_kind (const DinolabOptimizer *opt)
{
    g_return_val_if_fail (opt != NULL, DINOLAB_OPTIM_ADAMW);
    return opt->kind;
}

float *
dinolab_optimizer_get_m (DinolabOptimizer *opt)
{
    g_return_val_if_fail (opt != NULL, NULL);
    return opt->m;
}

float *
dinolab_optimizer_get_v (DinolabOptimizer *opt)
{
    g_return_val_if_fail (opt != NULL, NULL);
    return opt->v;
}

gint64 *
dinolab_optimizer_get_steps (DinolabOptimizer *opt)
{
    g_return_val_if_fail (opt != NULL, NULL);
    return opt->steps;
}

// ----------------------------------------------------------------------------
// update rules, one tensor each

/* torch.optim.AdamW, single-tensor path, on n floats: p, g, m, v all [n].
 * t is this tensor's step count after the increment (>= 1). */
static void
adamw_tensor_ (float       *p,
               float       *m,
               float       *v,
               const float *g,
               size_t       n,
               gint64       t,
               double       lr,
               double       wd)
{
    const double bc1 = 1.0 - pow (ADAMW_BETA1, (double) t);
    const double bc2 = 1.0 - pow (ADAMW_BETA2, (double) t);
    const float decay = (float) (1.0 - lr * wd);
    const float neg_step = (float) (-(lr / bc1));
    const float inv_bc2_sqrt = (float) (1.0 / sqrt (bc2));
    const float b1 = (float) ADAMW_BETA1, omb1 = (float) (1.0 - ADAMW_BETA1);
    const float b2 = (float) ADAMW_BETA2, omb2 = (float) (1.0 - ADAMW_BETA2);
    const float eps = (float) ADAMW_EPS;
    size_t i;

    g_assert (t >= 1);

    for (i = 0; i < n; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + omb1 * gi;
        float vi = b2 * v[i] + omb2 * gi * gi;
        float denom = sqrtf (vi) * inv_bc2_sqrt + eps;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay + neg_step * mi / denom;
    }
}

/* torch.optim.SGD with momentum 0.9, dampening 0, no Nesterov, coupled decay wd.
 * p, g, buf all [n]; first is TRUE on the tensor's first step (buf = d). */
static void
sgd_tensor_ (float       *p,
             float       *buf,
             const float *g,
             size_t       n,
             gboolean     first,
             double       lr,
             double       wd)
{
    const float wdf = (float) wd;
    const float neg_lr = (float) -lr;
    const float mom = (float) SGD_MOMENTUM;
    size_t i;

    for (i = 0; i < n; i++) {
        float d = g[i] + wdf * p[i];
        float bi = first ? d : mom * buf[i] + d;
        buf[i] = bi;
        p[i] = p[i] + neg_lr * bi;
    }
}

void
dinolab_optimizer_step (DinolabOptimizer *opt,
                        float            *params,
                        const float      *grads,
                        double            lr,
                        double            weight_decay,
                        gboolean          freeze_last_layer)
{
    const DinolabParamTable *table;
    guint j;

    g_return_if_fail (opt != NULL);
    g_return_if_fail (params != NULL);
    g_return_if_fail (grads != NULL);

    table = opt->table;
    for (j = 0; j < table->n; j++) {
        const DinolabParamInfo *info = &table->info[j];
        const size_t off = info->offset;
        double wd;

        if (info->flags & DINOLAB_PARAM_FROZEN)
            continue;
        if (freeze_last_layer && (info->flags & DINOLAB_PARAM_LAST_LAYER))
            continue;
        g_assert (off + info->numel <= table->total);

        wd = (info->flags & DINOLAB_PARAM_DECAY) ? weight_decay : 0.0;
        opt->steps[j]++;
        switch (opt->kind) {
        case DINOLAB_OPTIM_ADAMW:
            adamw_tensor_ (params + off, opt->m + off, opt->v + off, grads + off,
                           info->numel, opt->steps[j], lr, wd);
            break;
        case DINOLAB_OPTIM_SGD:
            sgd_tensor_ (params + off, opt->m + off, grads + off, info->numel,
                         opt->steps[j] == 1, lr, wd);
            break;
        default:
            g_assert_not_reached ();
        }
    }
}

// ----------------------------------------------------------------------------
// clipping

double
dinolab_clip_gradients (float                   *grads,
                        const DinolabParamTable *table,
                        double                   clip,
                        float                   *norms_out)
{
    double total_sq = 0.0;
    guint j;

    g_return_val_if_fail (grads != NULL, 0.0);
    g_return_val_if_fail (table != NULL, 0.0);

    for (j = 0; j < table->n; j++) {
        const DinolabParamInfo *info = &table->info[j];
        float *g = grads + info->offset;
        double sq = 0.0, norm, coef;
        size_t i;

        if (info->flags & DINOLAB_PARAM_FROZEN) {
            if (norms_out != NULL)
                norms_out[j] = 0.0f;
            continue;
        }
        for (i = 0; i < info->numel; i++)
            sq += (double) g[i] * (double) g[i];
        norm = sqrt (sq);
        total_sq += sq;
        if (norms_out != NULL)
            norms_out[j] = (float) norm;

        if (clip > 0.0) {
            coef = clip / (norm + CLIP_EPS);
            if (coef < 1.0) {
                const float cf = (float) coef;
                for (i = 0; i < info->numel; i++)
                    g[i] *= cf;
            }
        }
    }
    return sqrt (total_sq);
}

// ----------------------------------------------------------------------------
// EMA teacher

void
dinolab_ema_update (float       *teacher,
                    const float *student,
                    size_t       n,
                    double       momentum)
{
    const float m = (float) momentum;
    const float one_minus_m = (float) (1.0 - momentum);
    size_t i;

    g_return_if_fail (n == 0 || (teacher != NULL && student != NULL));

    if (n == 0)
        return;
    if (momentum == 0.0) {
        /* use_momentum = false: an exact copy, even over a non-finite teacher */
        memcpy (teacher, student, sizeof (float) * n);
        return;
    }
    for (i = 0; i < n; i++)
        teacher[i] = teacher[i] * m + one_minus_m * student[i];
}
