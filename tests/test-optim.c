/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-optim.c: checks AdamW, SGD, per-tensor clipping, the EMA update and the schedules.
 *
 * Expected values are closed forms computed here in double from DINO.md 5 and the
 * torch.optim update equations (first AdamW step: p(1 - lr wd) - lr g/(|g| + eps); later
 * steps from the bias-corrected moment formulas), hand-picked gradients with known norms,
 * and the reference cosine_scheduler built as a whole array the way NumPy does. The tests
 * use a small hand-made parameter table with every flag combination; they share no code with
 * src/engine/optim.c or schedule.c.
 */
#include <math.h>
#include <string.h>

#include "dinolab/optim.h"
#include "test-util.h"

// ----------------------------------------------------------------------------
// a small parameter table: one tensor per flag combination

enum { T_W, T_B, T_V, T_G, T_POS, N_T };

static DinolabParamInfo infos[N_T] = {
    { "blocks.0.mlp.fc1.weight", 2, { 2, 3 }, 0, 6, DINOLAB_PARAM_DECAY },
    { "blocks.0.mlp.fc1.bias", 1, { 3 }, 6, 3, 0 },
    { "head.last_layer.weight_v", 2, { 4, 2 }, 9, 8,
      DINOLAB_PARAM_DECAY | DINOLAB_PARAM_LAST_LAYER | DINOLAB_PARAM_HEAD },
    { "head.last_layer.weight_g", 2, { 4, 1 }, 17, 4,
      DINOLAB_PARAM_FROZEN | DINOLAB_PARAM_LAST_LAYER | DINOLAB_PARAM_HEAD },
    { "pos_embed", 3, { 1, 2, 2 }, 21, 4, DINOLAB_PARAM_DECAY },
};
static const DinolabParamTable table = { infos, N_T, 25 };

#define TOTAL 25

static gboolean
in_tensor (size_t i, int j)
{
    return i >= infos[j].offset && i < infos[j].offset + infos[j].numel;
}

static int
tensor_of (size_t i)
{
    for (int j = 0; j < N_T; j++)
        if (in_tensor (i, j))
            return j;
    g_assert_not_reached ();
    return -1;
}

/* AdamW step t of one element, in double, straight from the equations. */
static double
adamw_closed (double p, double *m, double *v, double g, int t, double lr, double wd)
{
    double mhat, vhat;
    p *= 1.0 - lr * wd;
    *m = 0.9 * *m + 0.1 * g;
    *v = 0.999 * *v + 0.001 * g * g;
    mhat = *m / (1.0 - pow (0.9, t));
    /* torch: denom = sqrt(v)/sqrt(1 - b2^t) + eps, i.e. eps is outside the correction */
    vhat = sqrt (*v) / sqrt (1.0 - pow (0.999, t));
    return p - lr * mhat / (vhat + 1e-8);
}

// ----------------------------------------------------------------------------
// AdamW

static void
test_adamw_first_step (void)
{
    /* First step: m = 0.1 g, v = 0.001 g^2, so mhat = g, sqrt(vhat) = |g| and
     * p1 = p0 (1 - lr wd) - lr g / (|g| + 1e-8): each parameter moves by ~lr against the
     * sign of its gradient, whatever the gradient's size. */
    const double lr = 1e-3, wd = 0.04;
    float p[TOTAL], g[TOTAL], p0[TOTAL], want[TOTAL];
    DinolabOptimizer *opt = dinolab_optimizer_new (DINOLAB_OPTIM_ADAMW, &table);
    gint64 *steps = dinolab_optimizer_get_steps (opt);

    fill_uniform (p, TOTAL, 1, 1.0f);
    fill_uniform (g, TOTAL, 2, 1.0f);
    g[1] = 1e-4f;   /* tiny and large gradients still move by ~lr */
    g[7] = -50.0f;
    memcpy (p0, p, sizeof p);
    for (size_t i = 0; i < TOTAL; i++) {
        int j = tensor_of (i);
        double d = (infos[j].flags & DINOLAB_PARAM_DECAY) ? wd : 0.0;
        if (infos[j].flags & DINOLAB_PARAM_FROZEN)
            want[i] = p0[i];
        else
            want[i] = (float) (p0[i] * (1.0 - lr * d) - lr * g[i] / (fabs (g[i]) + 1e-8));
    }
    dinolab_optimizer_step (opt, p, g, lr, wd, FALSE);
    assert_tensor ("adamw step 1", p, want, TOTAL, 3e-7);
    g_assert_cmpfloat (fabs ((p0[7] - p[7]) - (-lr)), <, 2e-7);  /* moved by +lr */

    /* moments after one step: m = 0.1 g, v = 0.001 g^2 */
    for (size_t i = 0; i < TOTAL; i++) {
        float *m = dinolab_optimizer_get_m (opt), *v = dinolab_optimizer_get_v (opt);
        int j = tensor_of (i);
        if (infos[j].flags & DINOLAB_PARAM_FROZEN) {
            g_assert_cmpfloat (m[i], ==, 0.0f);
            g_assert_cmpfloat (v[i], ==, 0.0f);
        } else {
            g_assert_cmpfloat (fabs (m[i] - 0.1 * g[i]), <=, 1e-7 * fabs (g[i]));
            g_assert_cmpfloat (fabs (v[i] - 0.001 * g[i] * g[i]), <=, 1e-6 * g[i] * g[i]);
        }
    }
    g_assert_cmpint (steps[T_W], ==, 1);
    g_assert_cmpint (steps[T_B], ==, 1);
    g_assert_cmpint (steps[T_V], ==, 1);
    g_assert_cmpint (steps[T_G], ==, 0);
    g_assert_cmpint (steps[T_POS], ==, 1);
    g_assert_cmpint (dinolab_optimizer_get_kind (opt), ==, DINOLAB_OPTIM_ADAMW);
    dinolab_optimizer_free (opt);
}

static void
test_adamw_steps (void)
{
    /* Five steps with changing gradients, lr and wd vs the closed form in double. */
    float p[TOTAL], g[TOTAL], want[TOTAL];
    double pd[TOTAL], md[TOTAL] = { 0 }, vd[TOTAL] = { 0 };
    DinolabOptimizer *opt = dinolab_optimizer_new (DINOLAB_OPTIM_ADAMW, &table);
    double max_diff = 0.0;

    fill_uniform (p, TOTAL, 3, 1.0f);
    for (size_t i = 0; i < TOTAL; i++)
        pd[i] = p[i];
    for (int t = 1; t <= 5; t++) {
        double lr = 1e-3 * t, wd = 0.04 + 0.1 * t;
        fill_uniform (g, TOTAL, 10 + t, 2.0f);
        for (size_t i = 0; i < TOTAL; i++) {
            int j = tensor_of (i);
            if (infos[j].flags & DINOLAB_PARAM_FROZEN)
                continue;
            pd[i] = adamw_closed (pd[i], &md[i], &vd[i], g[i], t, lr,
                                  (infos[j].flags & DINOLAB_PARAM_DECAY) ? wd : 0.0);
        }
        dinolab_optimizer_step (opt, p, g, lr, wd, FALSE);
    }
    for (size_t i = 0; i < TOTAL; i++) {
        want[i] = (float) pd[i];
        max_diff = fmax (max_diff, fabs (p[i] - pd[i]));
    }
    g_test_message ("adamw 5 steps: max |p - closed form| %.3g", max_diff);
    assert_tensor ("adamw step 5", p, want, TOTAL, 1e-6);
    dinolab_optimizer_free (opt);
}

static void
test_adamw_decay_groups (void)
{
    /* Zero gradients: the Adam part is 0/(0 + eps) = 0, so only the decoupled decay acts:
     * DECAY tensors shrink by (1 - lr wd), the others (bias) and FROZEN stay bit-identical. */
    const double lr = 0.01, wd = 0.5;
    float p[TOTAL], p0[TOTAL], g[TOTAL] = { 0 };
    DinolabOptimizer *opt = dinolab_optimizer_new (DINOLAB_OPTIM_ADAMW, &table);

    fill_uniform (p, TOTAL, 4, 1.0f);
    memcpy (p0, p, sizeof p);
    dinolab_optimizer_step (opt, p, g, lr, wd, FALSE);
    for (size_t i = 0; i < TOTAL; i++) {
        int j = tensor_of (i);
        if (infos[j].flags & DINOLAB_PARAM_DECAY)
            g_assert_cmpfloat (fabs (p[i] - p0[i] * (1.0 - lr * wd)), <, 1e-7);
        else
            g_assert_cmpfloat (p[i], ==, p0[i]);
    }
    dinolab_optimizer_free (opt);
}

static void
test_adamw_freeze_last_layer (void)
{
    /* Step 1 with freeze_last_layer: the LAST_LAYER tensor gets nothing (no step, no moment,
     * no decay). Step 2 without: it takes its FIRST Adam step (t = 1 bias correction) while
     * the others take their second (t = 2). FROZEN never moves. */
    const double lr = 2e-3, wd = 0.1;
    float p[TOTAL], p0[TOTAL], g1[TOTAL], g2[TOTAL];
    double pd[TOTAL], md[TOTAL] = { 0 }, vd[TOTAL] = { 0 };
    DinolabOptimizer *opt = dinolab_optimizer_new (DINOLAB_OPTIM_ADAMW, &table);
    gint64 *steps = dinolab_optimizer_get_steps (opt);
    float *m = dinolab_optimizer_get_m (opt), *v = dinolab_optimizer_get_v (opt);
    float want[TOTAL];

    fill_uniform (p, TOTAL, 5, 1.0f);
    fill_uniform (g1, TOTAL, 6, 1.0f);
    fill_uniform (g2, TOTAL, 7, 1.0f);
    memcpy (p0, p, sizeof p);
    for (size_t i = 0; i < TOTAL; i++)
        pd[i] = p[i];

    dinolab_optimizer_step (opt, p, g1, lr, wd, TRUE);
    g_assert_cmpint (steps[T_W], ==, 1);
    g_assert_cmpint (steps[T_B], ==, 1);
    g_assert_cmpint (steps[T_V], ==, 0);
    g_assert_cmpint (steps[T_G], ==, 0);
    g_assert_cmpint (steps[T_POS], ==, 1);
    for (size_t i = 0; i < TOTAL; i++) {
        int j = tensor_of (i);
        if (j == T_V || j == T_G) {
            g_assert_cmpfloat (p[i], ==, p0[i]);
            g_assert_cmpfloat (m[i], ==, 0.0f);
            g_assert_cmpfloat (v[i], ==, 0.0f);
        } else {
            pd[i] = adamw_closed (pd[i], &md[i], &vd[i], g1[i], 1, lr,
                                  (infos[j].flags & DINOLAB_PARAM_DECAY) ? wd : 0.0);
        }
    }

    dinolab_optimizer_step (opt, p, g2, lr, wd, FALSE);
    g_assert_cmpint (steps[T_W], ==, 2);
    g_assert_cmpint (steps[T_B], ==, 2);
    g_assert_cmpint (steps[T_V], ==, 1);
    g_assert_cmpint (steps[T_G], ==, 0);
    g_assert_cmpint (steps[T_POS], ==, 2);
    for (size_t i = 0; i < TOTAL; i++) {
        int j = tensor_of (i);
        if (j == T_G)
            want[i] = p0[i];
        else if (j == T_V)  /* first step: p (1 - lr wd) - lr g/(|g| + eps) */
            want[i] = (float) (p0[i] * (1.0 - lr * wd) - lr * g2[i] / (fabs (g2[i]) + 1e-8));
        else
            want[i] = (float) adamw_closed (pd[i], &md[i], &vd[i], g2[i], 2, lr,
                                            (infos[j].flags & DINOLAB_PARAM_DECAY) ? wd : 0.0);
    }
    assert_tensor ("adamw after freeze_last_layer", p, want, TOTAL, 3e-7);

    /* reset gives a fresh optimizer */
    dinolab_optimizer_reset (opt);
    for (int j = 0; j < N_T; j++)
        g_assert_cmpint (steps[j], ==, 0);
    for (size_t i = 0; i < TOTAL; i++)
        g_assert_true (m[i] == 0.0f && v[i] == 0.0f);
    dinolab_optimizer_free (opt);
}

// ----------------------------------------------------------------------------
// SGD

static void
test_sgd (void)
{
    /* torch.optim.SGD(momentum 0.9, coupled decay):
     *   step 1: d1 = g1 + wd p0, buf = d1,            p1 = p0 - lr d1
     *   step 2: d2 = g2 + wd p1, buf = 0.9 d1 + d2,   p2 = p1 - lr buf
     * With freeze_last_layer on step 1, the last layer's step 2 is its first (buf = d2). */
    const double lr = 0.03, wd = 1e-2;
    float p[TOTAL], p0[TOTAL], g1[TOTAL], g2[TOTAL], want1[TOTAL], want2[TOTAL];
    double p1d[TOTAL], buf[TOTAL];
    DinolabOptimizer *opt = dinolab_optimizer_new (DINOLAB_OPTIM_SGD, &table);
    gint64 *steps = dinolab_optimizer_get_steps (opt);

    g_assert_null (dinolab_optimizer_get_v (opt));
    g_assert_cmpint (dinolab_optimizer_get_kind (opt), ==, DINOLAB_OPTIM_SGD);
    fill_uniform (p, TOTAL, 8, 1.0f);
    fill_uniform (g1, TOTAL, 9, 1.0f);
    fill_uniform (g2, TOTAL, 10, 1.0f);
    memcpy (p0, p, sizeof p);

    for (size_t i = 0; i < TOTAL; i++) {
        int j = tensor_of (i);
        double d = (infos[j].flags & DINOLAB_PARAM_DECAY) ? wd : 0.0;
        if (j == T_G || j == T_V) {
            p1d[i] = p0[i];
            buf[i] = 0.0;
        } else {
            buf[i] = g1[i] + d * p0[i];
            p1d[i] = p0[i] - lr * buf[i];
        }
        want1[i] = (float) p1d[i];
    }
    dinolab_optimizer_step (opt, p, g1, lr, wd, TRUE);
    assert_tensor ("sgd step 1", p, want1, TOTAL, 3e-7);
    g_assert_cmpint (steps[T_W], ==, 1);
    g_assert_cmpint (steps[T_V], ==, 0);

    for (size_t i = 0; i < TOTAL; i++) {
        int j = tensor_of (i);
        double d = (infos[j].flags & DINOLAB_PARAM_DECAY) ? wd : 0.0;
        double d2 = g2[i] + d * p1d[i];
        if (j == T_G)
            want2[i] = p0[i];
        else if (j == T_V)
            want2[i] = (float) (p1d[i] - lr * d2);
        else
            want2[i] = (float) (p1d[i] - lr * (0.9 * buf[i] + d2));
    }
    dinolab_optimizer_step (opt, p, g2, lr, wd, FALSE);
    assert_tensor ("sgd step 2", p, want2, TOTAL, 3e-7);
    g_assert_cmpint (steps[T_W], ==, 2);
    g_assert_cmpint (steps[T_V], ==, 1);
    g_assert_cmpint (steps[T_G], ==, 0);
    dinolab_optimizer_free (opt);
}

// ----------------------------------------------------------------------------
// clipping

static void
test_clip (void)
{
    /* Hand-picked gradients: fc1.weight norm 5 (3-4-5), bias norm 1, weight_v norm 3 (exactly
     * the clip value: coef = 3/(3 + 1e-6) < 1, so it is scaled, as in the reference),
     * weight_g FROZEN with a huge gradient (ignored), pos_embed norm 13 (5-12-13). */
    float g[TOTAL] = { 0 }, g0[TOTAL], norms[N_T];
    double gn;

    g[0] = 3.0f; g[1] = -4.0f;                  /* T_W */
    g[6] = 0.6f; g[8] = 0.8f;                   /* T_B */
    g[9] = -3.0f;                               /* T_V */
    for (int i = 17; i < 21; i++)               /* T_G */
        g[i] = 100.0f;
    g[21] = 5.0f; g[24] = 12.0f;                /* T_POS */
    memcpy (g0, g, sizeof g);

    /* clip <= 0: no clipping, the norms are still reported */
    gn = dinolab_clip_gradients (g, &table, 0.0, norms);
    g_assert_cmpfloat (fabs (gn - sqrt (204.0)), <, 1e-7);  /* 0.6f, 0.8f are not exact */
    g_assert_cmpmem (g, sizeof g, g0, sizeof g0);

    gn = dinolab_clip_gradients (g, &table, 3.0, norms);
    g_test_message ("clip 3: global norm %.9f (want sqrt(204) = %.9f), norms %g %g %g %g %g",
                    gn, sqrt (204.0), norms[0], norms[1], norms[2], norms[3], norms[4]);
    g_assert_cmpfloat (fabs (gn - sqrt (204.0)), <, 1e-7);  /* before clipping */
    g_assert_cmpfloat (fabs (norms[T_W] - 5.0f), <, 1e-6);
    g_assert_cmpfloat (fabs (norms[T_B] - 1.0f), <, 1e-6);
    g_assert_cmpfloat (fabs (norms[T_V] - 3.0f), <, 1e-6);
    g_assert_cmpfloat (norms[T_G], ==, 0.0f);
    g_assert_cmpfloat (fabs (norms[T_POS] - 13.0f), <, 1e-6);

    g_assert_cmpfloat (fabs (g[0] - 3.0 * 3.0 / (5.0 + 1e-6)), <, 1e-6);
    g_assert_cmpfloat (fabs (g[1] + 4.0 * 3.0 / (5.0 + 1e-6)), <, 1e-6);
    g_assert_cmpfloat (g[6], ==, 0.6f);          /* coef 3/1 > 1: untouched */
    g_assert_cmpfloat (g[8], ==, 0.8f);
    g_assert_cmpfloat (fabs (g[9] + 3.0 * 3.0 / (3.0 + 1e-6)), <, 1e-7);
    g_assert_cmpfloat (g[9], >, -3.0f);          /* scaled, if only slightly */
    for (int i = 17; i < 21; i++)
        g_assert_cmpfloat (g[i], ==, 100.0f);    /* frozen: untouched */
    g_assert_cmpfloat (fabs (g[21] - 5.0 * 3.0 / (13.0 + 1e-6)), <, 1e-6);
    g_assert_cmpfloat (fabs (g[24] - 12.0 * 3.0 / (13.0 + 1e-6)), <, 1e-6);

    /* clipped norms are ~3 at most; a second pass changes almost nothing */
    gn = dinolab_clip_gradients (g, &table, 3.0, NULL);
    g_assert_cmpfloat (fabs (gn - sqrt (9.0 + 1.0 + 9.0 + 9.0)), <, 1e-5);
}

// ----------------------------------------------------------------------------
// EMA

static void
test_ema (void)
{
    float t[TOTAL], s[TOTAL], t0[TOTAL], want[TOTAL];

    fill_uniform (t, TOTAL, 20, 1.0f);
    fill_uniform (s, TOTAL, 21, 1.0f);
    memcpy (t0, t, sizeof t);
    for (size_t i = 0; i < TOTAL; i++)   /* all of it, frozen tensors included */
        want[i] = (float) (0.996 * t0[i] + 0.004 * s[i]);
    dinolab_ema_update (t, s, TOTAL, 0.996);
    assert_tensor ("ema 0.996", t, want, TOTAL, 3e-7);

    memcpy (t0, t, sizeof t);
    dinolab_ema_update (t, s, TOTAL, 1.0);      /* momentum 1: unchanged */
    g_assert_cmpmem (t, sizeof t, t0, sizeof t0);
    dinolab_ema_update (t, s, TOTAL, 0.0);      /* momentum 0: an exact copy */
    g_assert_cmpmem (t, sizeof t, s, sizeof s);
}

// ----------------------------------------------------------------------------
// schedules

/* The reference's cosine_scheduler, built as a whole array the NumPy way. */
static double *
cosine_array (double base, double final, int epochs, int niter, int warmup_epochs, double start)
{
    int total = epochs * niter, wi = warmup_epochs * niter, n = total - wi;
    double *a = g_new (double, total);
    for (int i = 0; i < wi; i++)
        a[i] = wi == 1 ? start : (i == wi - 1 ? base : start + i * ((base - start) / (wi - 1)));
    for (int i = 0; i < n; i++)
        a[wi + i] = final + 0.5 * (base - final) * (1.0 + cos (M_PI * i / n));
    return a;
}

static void
test_schedule_cosine (void)
{
    /* lr: batch 512 -> base 5e-4 * 512/256 = 1e-3, min_lr 1e-6, 100 epochs x 10 iters,
     * 10 warmup epochs = 100 warmup iterations from 0. */
    const double base = 1e-3, final = 1e-6;
    double *a = cosine_array (base, final, 100, 10, 10, 0.0);
    double max_diff = 0.0;
    const gint64 its[] = { 0, 1, 50, 98, 99, 100, 101, 550, 998, 999 };

    g_assert_cmpfloat (dinolab_schedule_cosine (base, final, 100, 10, 10, 0.0, 0), ==, 0.0);
    g_assert_cmpfloat (dinolab_schedule_cosine (base, final, 100, 10, 10, 0.0, 99), ==, base);
    g_assert_cmpfloat (fabs (dinolab_schedule_cosine (base, final, 100, 10, 10, 0.0, 50)
                             - 50.0 * base / 99.0), <, 1e-18);
    /* cosine part, formula at chosen iterations: i = it - 100, n = 900 */
    for (guint k = 0; k < G_N_ELEMENTS (its); k++) {
        gint64 it = its[k];
        double got = dinolab_schedule_cosine (base, final, 100, 10, 10, 0.0, it);
        if (it >= 100) {
            double want = final + 0.5 * (base - final) * (1.0 + cos (M_PI * (it - 100) / 900.0));
            g_assert_cmpfloat (fabs (got - want), <, 1e-18);
        }
        g_test_message ("lr[%" G_GINT64_FORMAT "] = %.12g", it, got);
    }
    g_assert_cmpfloat (fabs (dinolab_schedule_cosine (base, final, 100, 10, 10, 0.0, 100) - base), <, 1e-18);
    g_assert_cmpfloat (fabs (dinolab_schedule_cosine (base, final, 100, 10, 10, 0.0, 550)
                             - (final + 0.5 * (base - final))), <, 1e-18);  /* half-way: mean */
    /* the whole array */
    for (gint64 it = 0; it < 1000; it++)
        max_diff = fmax (max_diff, fabs (dinolab_schedule_cosine (base, final, 100, 10, 10, 0.0, it) - a[it]));
    g_test_message ("lr schedule vs the whole array: max diff %.3g", max_diff);
    g_assert_cmpfloat (max_diff, <, 1e-18);
    /* the last value is slightly above final; past the end: clamped to it */
    g_assert_cmpfloat (a[999], >, final);
    g_assert_cmpfloat (dinolab_schedule_cosine (base, final, 100, 10, 10, 0.0, 999), ==,
                       dinolab_schedule_cosine (base, final, 100, 10, 10, 0.0, 1000));
    g_assert_cmpfloat (dinolab_schedule_cosine (base, final, 100, 10, 10, 0.0, 999), ==,
                       dinolab_schedule_cosine (base, final, 100, 10, 10, 0.0, 123456789));
    g_assert_cmpfloat (dinolab_schedule_cosine (base, final, 100, 10, 10, 0.0, -3), ==, 0.0);
    g_free (a);

    /* weight decay 0.04 -> 0.4 and momentum 0.996 -> 1, no warmup */
    a = cosine_array (0.04, 0.4, 3, 7, 0, 0.0);
    for (gint64 it = 0; it < 21; it++)
        g_assert_cmpfloat (fabs (dinolab_schedule_cosine (0.04, 0.4, 3, 7, 0, 0.0, it) - a[it]), <, 1e-16);
    g_assert_cmpfloat (fabs (dinolab_schedule_cosine (0.04, 0.4, 3, 7, 0, 0.0, 0) - 0.04), <, 1e-16);
    g_free (a);
    g_assert_cmpfloat (fabs (dinolab_schedule_cosine (0.996, 1.0, 100, 5, 0, 0.0, 0) - 0.996), <, 1e-16);
    g_assert_cmpfloat (dinolab_schedule_cosine (0.996, 1.0, 100, 5, 0, 0.0, 499), <, 1.0);
    g_assert_cmpfloat (dinolab_schedule_cosine (0.996, 1.0, 100, 5, 0, 0.0, 499), >, 0.99999);

    /* one warmup iteration: linspace(start, base, 1) = [start] */
    g_assert_cmpfloat (dinolab_schedule_cosine (1.0, 0.0, 2, 1, 1, 0.25, 0), ==, 0.25);
    g_assert_cmpfloat (dinolab_schedule_cosine (1.0, 0.0, 2, 1, 1, 0.25, 1), ==, 1.0);
    /* warmup over all of training: the last value is base */
    g_assert_cmpfloat (dinolab_schedule_cosine (1.0, 0.0, 2, 3, 2, 0.0, 5), ==, 1.0);
    g_assert_cmpfloat (fabs (dinolab_schedule_cosine (1.0, 0.0, 2, 3, 2, 0.0, 2) - 0.4), <, 1e-16);
    /* a non-zero warmup start */
    g_assert_cmpfloat (fabs (dinolab_schedule_cosine (1.0, 0.0, 4, 1, 2, 0.5, 0) - 0.5), <, 1e-16);
}

static void
test_schedule_teacher_temp (void)
{
    /* 0.04 -> 0.07 over 30 epochs (the paper), then 0.07 */
    double step = (0.07 - 0.04) / 29.0;
    g_assert_cmpfloat (dinolab_schedule_teacher_temp (0.04, 0.07, 30, 0), ==, 0.04);
    g_assert_cmpfloat (dinolab_schedule_teacher_temp (0.04, 0.07, 30, 29), ==, 0.07);
    g_assert_cmpfloat (fabs (dinolab_schedule_teacher_temp (0.04, 0.07, 30, 15) - (0.04 + 15 * 0.03 / 29)), <, 1e-15);
    for (int e = 0; e < 29; e++)
        g_assert_cmpfloat (fabs (dinolab_schedule_teacher_temp (0.04, 0.07, 30, e) - (0.04 + e * step)), <, 1e-16);
    g_assert_cmpfloat (dinolab_schedule_teacher_temp (0.04, 0.07, 30, 30), ==, 0.07);
    g_assert_cmpfloat (dinolab_schedule_teacher_temp (0.04, 0.07, 30, 299), ==, 0.07);
    g_assert_cmpfloat (dinolab_schedule_teacher_temp (0.04, 0.07, 30, 5000), ==, 0.07);
    g_assert_cmpfloat (dinolab_schedule_teacher_temp (0.04, 0.07, 30, -1), ==, 0.04);
    /* repo default: no warmup, constant */
    g_assert_cmpfloat (dinolab_schedule_teacher_temp (0.04, 0.04, 0, 0), ==, 0.04);
    g_assert_cmpfloat (dinolab_schedule_teacher_temp (0.02, 0.05, 0, 0), ==, 0.05);
    /* one warmup epoch: linspace(w, t, 1) = [w] */
    g_assert_cmpfloat (dinolab_schedule_teacher_temp (0.02, 0.05, 1, 0), ==, 0.02);
    g_assert_cmpfloat (dinolab_schedule_teacher_temp (0.02, 0.05, 1, 1), ==, 0.05);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/optim/adamw/first-step", test_adamw_first_step);
    g_test_add_func ("/optim/adamw/steps", test_adamw_steps);
    g_test_add_func ("/optim/adamw/decay-groups", test_adamw_decay_groups);
    g_test_add_func ("/optim/adamw/freeze-last-layer", test_adamw_freeze_last_layer);
    g_test_add_func ("/optim/sgd", test_sgd);
    g_test_add_func ("/optim/clip", test_clip);
    g_test_add_func ("/optim/ema", test_ema);
    g_test_add_func ("/schedule/cosine", test_schedule_cosine);
    g_test_add_func ("/schedule/teacher-temp", test_schedule_teacher_temp);
    return g_test_run ();
}
