/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-kernels.c: checks every kernel of src/engine/kernels.c against an independent
 * computation: forwards against naive double-precision loops (and, for the pos_embed
 * interpolation, against numbers produced by PyTorch), every *_backward against
 * central finite differences of the scalar objective L = sum(out * R) for a fixed
 * random R, plus the write-or-accumulate semantics of each gradient output (kernels.h:
 * parameter gradients and LayerNorm's dinp accumulate; the other activation gradients
 * are written, so they are checked into NaN-filled buffers) and the NULL outputs.
 *
 * Finite differences: the kernels run in float32 and L is summed in double; the step
 * actually taken is the difference of the two perturbed float values. The FD error is
 * dominated by float rounding of the forward (it scales as 1/h: max abs error 1.4e-4 at
 * h = 1e-3, 7e-5 at h = 3e-3, 6e-5 at 1e-2 where truncation starts to show), so
 * h = 3e-3 (FD_H). A gradient passes when |analytic - numeric| <= FD_ATOL + FD_RTOL *
 * |numeric| = 1e-4 + 2e-3 |numeric|. The worst figures are printed with
 * g_test_message (run with --verbose).
 *
 * It does not test matmul.c (test-matmul.c does), except as the product that turns
 * im2col columns into the patch-embedding convolution.
 */
#include <math.h>
#include <string.h>

#include <glib.h>

#include "kernels.h"
#include "test-util.h"

#define FD_H    3e-3f
#define FD_RTOL 2e-3
#define FD_ATOL 1e-4

typedef double (*Objective) (gpointer ctx);

static float *
new_uniform (size_t n, guint32 seed, float scale)
{
    float *x = g_new (float, MAX (n, 1));
    fill_uniform (x, n, seed, scale);
    return x;
}

/* n floats, all NaN: a gradient buffer that a kernel must write, never read */
static float *
new_nan (size_t n)
{
    float *x = g_new (float, MAX (n, 1));
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
    return x;
}

static double
dot_d (const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double) a[i] * b[i];
    return s;
}

/* Central differences of obj() with respect to each of x[0..n-1], compared with
 * analytic[0..n-1]. Asserts the tolerance and reports the worst errors. */
static void
fd_check (const char *label, float *x, size_t n, const float *analytic, Objective obj,
          gpointer ctx)
{
    double max_abs = 0.0, max_rel = 0.0;
    size_t bad = 0;

    for (size_t i = 0; i < n; i++) {
        float x0 = x[i], xp, xm;
        double lp, lm, num, err;

        x[i] = x0 + FD_H;
        xp = x[i];
        lp = obj (ctx);
        x[i] = x0 - FD_H;
        xm = x[i];
        lm = obj (ctx);
        x[i] = x0;
        num = (lp - lm) / ((double) xp - (double) xm);
        err = fabs (num - analytic[i]);
        max_abs = fmax (max_abs, err);
        if (fabs (num) > 1e-2)
            max_rel = fmax (max_rel, err / fabs (num));
        if (!(err <= FD_ATOL + FD_RTOL * fabs (num))) {
            if (bad < 5)
                g_test_message ("%s[%zu]: analytic %.7g numeric %.7g NOT OK",
                                label, i, analytic[i], num);
            bad++;
        }
    }
    g_test_message ("%s: %zu gradients, FD max abs err %.2e, max rel err %.2e (|g| > 1e-2)",
                    label, n, max_abs, max_rel);
    g_assert_cmpuint (bad, ==, 0);
}

// ----------------------------------------------------------------------------
// LayerNorm

typedef struct {
    float *out, *mean, *rstd, *inp, *w, *b, *r;
    int N, C;
} LnCtx;

static double
ln_objective (gpointer p)
{
    LnCtx *c = p;
    layernorm_forward (c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C);
    return dot_d (c->out, c->r, (size_t) c->N * c->C);
}

static void
test_layernorm_forward (void)
{
    const int N = 6, C = 37;
    float *inp = new_uniform ((size_t) N * C, 1, 1.0f);
    float *w = new_uniform (C, 2, 1.0f);
    float *b = new_uniform (C, 3, 1.0f);
    float *out = g_new (float, (size_t) N * C), *want = g_new (float, (size_t) N * C);
    float mean[6], rstd[6], want_mean[6], want_rstd[6];

    // A large common offset on row 1 (residual streams drift): a one-pass variance
    // would lose digits here.
    for (int i = 0; i < C; i++)
        inp[C + i] += 300.0f;
    // row 2 constant: variance 0, rstd = 1/sqrt(1e-6) = 1000
    for (int i = 0; i < C; i++)
        inp[2 * C + i] = 0.25f;

    for (int n = 0; n < N; n++) {
        double m = 0.0, v = 0.0, r;
        for (int i = 0; i < C; i++)
            m += inp[n * C + i];
        m /= C;
        for (int i = 0; i < C; i++)
            v += (inp[n * C + i] - m) * (inp[n * C + i] - m);
        v /= C;
        r = 1.0 / sqrt (v + 1e-6);
        for (int i = 0; i < C; i++)
            want[n * C + i] = (float) ((inp[n * C + i] - m) * r * w[i] + b[i]);
        want_mean[n] = (float) m;
        want_rstd[n] = (float) r;
    }
    layernorm_forward (out, mean, rstd, inp, w, b, N, C);
    assert_tensor ("layernorm out", out, want, (size_t) N * C, 1e-5);
    assert_tensor ("layernorm mean", mean, want_mean, N, 1e-6);
    assert_tensor ("layernorm rstd", rstd, want_rstd, N, 1e-6);
    g_assert_cmpfloat_with_epsilon (rstd[2], 1000.0, 1e-3);

    // mean/rstd may be NULL (inference)
    memset (out, 0, (size_t) N * C * sizeof (float));
    layernorm_forward (out, NULL, NULL, inp, w, b, N, C);
    assert_tensor ("layernorm out, no stats", out, want, (size_t) N * C, 1e-5);

    g_free (inp); g_free (w); g_free (b); g_free (out); g_free (want);
}

static void
test_layernorm_backward (void)
{
    const int N = 4, C = 9;
    size_t n = (size_t) N * C;
    LnCtx c = { 0 };
    float *din, *dw, *db, *pin, *pw, *pb, *want;

    c.N = N; c.C = C;
    c.inp = new_uniform (n, 11, 1.0f);
    c.w = new_uniform (C, 12, 1.5f);
    c.b = new_uniform (C, 13, 1.0f);
    c.r = new_uniform (n, 14, 1.0f);
    c.out = g_new (float, n);
    c.mean = g_new (float, N);
    c.rstd = g_new (float, N);
    for (int i = 0; i < C; i++)     // a row with a mean far from 0
        c.inp[i] += 5.0f;

    // prefill: backward must add to it
    pin = new_uniform (n, 15, 1.0f);
    pw = new_uniform (C, 16, 1.0f);
    pb = new_uniform (C, 17, 1.0f);
    din = g_memdup2 (pin, n * sizeof (float));
    dw = g_memdup2 (pw, C * sizeof (float));
    db = g_memdup2 (pb, C * sizeof (float));

    layernorm_forward (c.out, c.mean, c.rstd, c.inp, c.w, c.b, N, C);
    layernorm_backward (din, dw, db, c.r, c.inp, c.w, c.mean, c.rstd, N, C);
    for (size_t i = 0; i < n; i++)
        din[i] -= pin[i];
    for (int i = 0; i < C; i++) {
        dw[i] -= pw[i];
        db[i] -= pb[i];
    }
    fd_check ("layernorm dinp", c.inp, n, din, ln_objective, &c);
    fd_check ("layernorm dweight", c.w, C, dw, ln_objective, &c);
    fd_check ("layernorm dbias", c.b, C, db, ln_objective, &c);

    // NULL outputs: only the others change, and they get the same values
    want = g_memdup2 (din, n * sizeof (float));
    memset (din, 0, n * sizeof (float));
    layernorm_forward (c.out, c.mean, c.rstd, c.inp, c.w, c.b, N, C);
    layernorm_backward (din, NULL, NULL, c.r, c.inp, c.w, c.mean, c.rstd, N, C);
    assert_tensor ("layernorm dinp alone", din, want, n, 1e-6);
    g_free (want);
    want = g_memdup2 (dw, C * sizeof (float));
    memset (dw, 0, C * sizeof (float));
    layernorm_backward (NULL, dw, NULL, c.r, c.inp, c.w, c.mean, c.rstd, N, C);
    assert_tensor ("layernorm dweight alone", dw, want, C, 1e-6);

    g_free (want); g_free (pin); g_free (pw); g_free (pb); g_free (din); g_free (dw); g_free (db);
    g_free (c.inp); g_free (c.w); g_free (c.b); g_free (c.r); g_free (c.out);
    g_free (c.mean); g_free (c.rstd);
}

/* The weight/bias reduction runs in column chunks of 256: cross a chunk boundary and
 * compare with a plain double sum. */
static void
test_layernorm_wide (void)
{
    const int N = 5, C = 600;
    size_t n = (size_t) N * C;
    float *inp = new_uniform (n, 21, 2.0f), *w = new_uniform (C, 22, 1.0f);
    float *b = new_uniform (C, 23, 1.0f), *dout = new_uniform (n, 24, 1.0f);
    float *out = g_new (float, n), *mean = g_new (float, N), *rstd = g_new (float, N);
    float *dw = g_new0 (float, C), *db = g_new0 (float, C);
    float *want_w = g_new (float, C), *want_b = g_new (float, C);

    layernorm_forward (out, mean, rstd, inp, w, b, N, C);
    layernorm_backward (NULL, dw, db, dout, inp, w, mean, rstd, N, C);
    for (int i = 0; i < C; i++) {
        double sw = 0.0, sb = 0.0;
        for (int r = 0; r < N; r++) {
            double m = 0.0, v = 0.0;
            for (int j = 0; j < C; j++)
                m += inp[r * C + j];
            m /= C;
            for (int j = 0; j < C; j++)
                v += (inp[r * C + j] - m) * (inp[r * C + j] - m);
            v /= C;
            sw += (inp[r * C + i] - m) / sqrt (v + 1e-6) * dout[r * C + i];
            sb += dout[r * C + i];
        }
        want_w[i] = (float) sw;
        want_b[i] = (float) sb;
    }
    assert_tensor ("layernorm dweight C=600", dw, want_w, C, 1e-5);
    assert_tensor ("layernorm dbias C=600", db, want_b, C, 1e-6);
    g_free (inp); g_free (w); g_free (b); g_free (dout); g_free (out); g_free (mean);
    g_free (rstd); g_free (dw); g_free (db); g_free (want_w); g_free (want_b);
}

// ----------------------------------------------------------------------------
// GELU

typedef struct {
    float *out, *inp, *r;
    size_t n;
} GeluCtx;

static double
gelu_objective (gpointer p)
{
    GeluCtx *c = p;
    gelu_forward (c->out, c->inp, c->n);
    return dot_d (c->out, c->r, c->n);
}

static void
test_gelu (void)
{
    const size_t n = 161;
    GeluCtx c;
    float *want = g_new (float, n), *din, *dinplace;

    c.n = n;
    c.inp = g_new (float, n);
    c.out = g_new (float, n);
    c.r = new_uniform (n, 31, 1.0f);
    for (size_t i = 0; i < n; i++)   // -8 .. 8 in steps of 0.1, 0 included
        c.inp[i] = (float) (-8.0 + 0.1 * (double) i);

    gelu_forward (c.out, c.inp, n);
    for (size_t i = 0; i < n; i++) {
        double x = c.inp[i];
        want[i] = (float) (0.5 * x * (1.0 + erf (x / sqrt (2.0))));
    }
    assert_tensor ("gelu forward vs erf formula", c.out, want, n, 1e-6);
    g_assert_cmpfloat (c.out[80], ==, 0.0f);   // x = 0

    // known values: GELU(1) = 0.8413447460685429, GELU(-1) = -0.15865525393145707
    {
        float x[2] = { 1.0f, -1.0f }, y[2];
        gelu_forward (y, x, 2);
        g_assert_cmpfloat_with_epsilon (y[0], 0.8413447460685429, 1e-6);
        g_assert_cmpfloat_with_epsilon (y[1], -0.15865525393145707, 1e-6);
    }

    din = new_nan (n);   // written, never read
    gelu_backward (din, c.inp, c.r, n);
    fd_check ("gelu dinp", c.inp, n, din, gelu_objective, &c);
    dinplace = g_memdup2 (c.r, n * sizeof (float));
    gelu_backward (dinplace, c.inp, dinplace, n);   // dinp may alias dout
    assert_tensor ("gelu dinp in place", dinplace, din, n, 0.0);

    g_free (want); g_free (din); g_free (dinplace); g_free (c.inp); g_free (c.out); g_free (c.r);
}

// ----------------------------------------------------------------------------
// residual

static void
test_residual (void)
{
    const int B = 3;
    const size_t S = 7, n = 21;
    float scale[3] = { 1.25f, 0.0f, 2.0f };
    float *inp = new_uniform (n, 41, 1.0f), *br = new_uniform (n, 42, 1.0f);
    float *dout = new_uniform (n, 43, 1.0f);
    float *out = g_new (float, n), *want = g_new (float, n);
    float *dbr = g_new (float, n), *want_br = g_new (float, n);

    for (int pass = 0; pass < 2; pass++) {
        const float *sc = pass ? scale : NULL;
        float *inplace = g_memdup2 (inp, n * sizeof (float));
        for (int b = 0; b < B; b++)
            for (size_t j = 0; j < S; j++)
                want[b * S + j] = (float) ((double) inp[b * S + j]
                                           + (sc ? sc[b] : 1.0) * br[b * S + j]);
        residual_forward (out, inp, br, sc, B, S);
        assert_tensor ("residual forward", out, want, n, 1e-7);
        residual_forward (inplace, inplace, br, sc, B, S);   // out aliases inp
        assert_tensor ("residual forward in place", inplace, want, n, 1e-7);
        g_free (inplace);

        // backward: the map is linear, so the gradient is exact; dbranch is written
        // (a dropped sample's rows become 0, not the old contents)
        for (size_t i = 0; i < n; i++) {
            want_br[i] = (float) ((sc ? sc[i / S] : 1.0) * dout[i]);
            dbr[i] = NAN;
        }
        residual_backward (dbr, dout, sc, B, S);
        assert_tensor ("residual dbranch", dbr, want_br, n, 1e-7);
    }
    g_free (inp); g_free (br); g_free (dout); g_free (out); g_free (want);
    g_free (dbr); g_free (want_br);
}

// ----------------------------------------------------------------------------
// attention

typedef struct {
    float *out, *att, *qkv, *r;
    int B, T, NH, hd;
} AttCtx;

static double
att_objective (gpointer p)
{
    AttCtx *c = p;
    attention_forward (c->out, c->att, c->qkv, c->B, c->T, c->NH, c->hd);
    return dot_d (c->out, c->r, (size_t) c->B * c->T * c->NH * c->hd);
}

/* Naive double attention: per (b, h, query i) logits, softmax, weighted sum of v. */
static void
ref_attention (float *out, float *att, const float *qkv, int B, int T, int NH, int hd)
{
    int C = NH * hd;
    double *logit = g_new (double, T);

    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                const float *q = qkv + ((size_t) b * T + i) * 3 * C + h * hd;
                double mx = -INFINITY, sum = 0.0;
                for (int j = 0; j < T; j++) {
                    const float *k = qkv + ((size_t) b * T + j) * 3 * C + C + h * hd;
                    double s = 0.0;
                    for (int d = 0; d < hd; d++)
                        s += (double) q[d] * k[d];
                    logit[j] = s / sqrt ((double) hd);
                    mx = fmax (mx, logit[j]);
                }
                for (int j = 0; j < T; j++) {
                    logit[j] = exp (logit[j] - mx);
                    sum += logit[j];
                }
                for (int j = 0; j < T; j++) {
                    logit[j] /= sum;
                    att[(((size_t) b * NH + h) * T + i) * T + j] = (float) logit[j];
                }
                for (int d = 0; d < hd; d++) {
                    double s = 0.0;
                    for (int j = 0; j < T; j++)
                        s += logit[j] * qkv[((size_t) b * T + j) * 3 * C + 2 * C + h * hd + d];
                    out[((size_t) b * T + i) * C + h * hd + d] = (float) s;
                }
            }
    g_free (logit);
}

static void
test_attention_forward (void)
{
    const int B = 2, T = 7, NH = 3, hd = 4, C = 12;
    size_t nqkv = (size_t) B * T * 3 * C, nout = (size_t) B * T * C;
    size_t natt = (size_t) B * NH * T * T;
    float *qkv = new_uniform (nqkv, 51, 2.0f);
    float *out = g_new (float, nout), *att = g_new (float, natt);
    float *want = g_new (float, nout), *want_att = g_new (float, natt);
    double worst = 0.0;

    // large logits in one head: the stable softmax must not overflow
    for (int t = 0; t < T; t++)
        for (int d = 0; d < hd; d++) {
            qkv[(size_t) t * 3 * C + d] *= 40.0f;         // q of head 0, batch 0
            qkv[(size_t) t * 3 * C + C + d] *= 40.0f;     // k of head 0, batch 0
        }

    attention_forward (out, att, qkv, B, T, NH, hd);
    ref_attention (want, want_att, qkv, B, T, NH, hd);
    assert_tensor ("attention out", out, want, nout, 1e-5);
    assert_tensor ("attention probs", att, want_att, natt, 1e-5);
    for (size_t row = 0; row < (size_t) B * NH * T; row++) {
        double s = 0.0;
        for (int j = 0; j < T; j++)
            s += att[row * T + j];
        worst = fmax (worst, fabs (s - 1.0));
    }
    g_test_message ("attention: softmax rows sum to 1 within %.2e", worst);
    g_assert_cmpfloat (worst, <, 1e-6);

    g_free (qkv); g_free (out); g_free (att); g_free (want); g_free (want_att);
}

/* The softmax's exponential (exp_softmax_, not libm's expf) against a double
 * softmax, through attention_forward with one head of width 1: q = 1 everywhere, so
 * every row of att is softmax(k). The logits span 0 .. -120, so the smallest
 * probabilities are denormal or underflow to 0. Each probability is three float
 * roundings from the exact value (the exponential, 1/sum and the product), so it must
 * be within 4 ulp; values that are 0 in float must be exactly 0. */
static void
test_attention_softmax (void)
{
    const int T = 241;
    float *qkv = g_new (float, (size_t) T * 3), *out = g_new (float, T);
    float *att = g_new (float, (size_t) T * T);
    double sum = 0.0, worst = 0.0;

    for (int t = 0; t < T; t++) {
        qkv[t * 3] = 1.0f;                                   // q
        qkv[t * 3 + 1] = (float) (-0.5 * t) + 0.01f * (t % 7); // k: the logit
        qkv[t * 3 + 2] = 1.0f;                               // v
    }
    for (int j = 0; j < T; j++)
        sum += exp ((double) qkv[j * 3 + 1] - qkv[1]);      // the maximum is k[0] = 0
    attention_forward (out, att, qkv, 1, T, 1, 1);
    for (int i = 0; i < T; i += 60) {
        for (int j = 0; j < T; j++) {
            double want = exp ((double) qkv[j * 3 + 1] - qkv[1]) / sum;
            float got = att[(size_t) i * T + j];
            if ((float) want == 0.0f) {
                g_assert_cmpfloat (got, ==, 0.0f);
            } else {
                double ulp = nextafterf ((float) want, INFINITY) - (float) want;
                worst = fmax (worst, fabs (got - want) / ulp);
            }
        }
    }
    g_test_message ("softmax: worst error %.2f ulp", worst);
    g_assert_cmpfloat (worst, <=, 4.0);
    g_free (qkv); g_free (out); g_free (att);
}

static void
test_attention_backward (void)
{
    AttCtx c = { 0 };
    size_t nqkv, nout;
    float *dqkv, *scratch;

    c.B = 2; c.T = 5; c.NH = 2; c.hd = 3;
    nqkv = (size_t) c.B * c.T * 3 * c.NH * c.hd;
    nout = (size_t) c.B * c.T * c.NH * c.hd;
    c.qkv = new_uniform (nqkv, 61, 1.5f);
    c.r = new_uniform (nout, 62, 1.0f);
    c.out = g_new (float, nout);
    c.att = g_new (float, (size_t) c.B * c.NH * c.T * c.T);
    scratch = g_new (float, (size_t) c.T * c.T);

    dqkv = new_nan (nqkv);   // written, never read
    attention_forward (c.out, c.att, c.qkv, c.B, c.T, c.NH, c.hd);
    attention_backward (dqkv, scratch, c.r, c.qkv, c.att, c.B, c.T, c.NH, c.hd);
    fd_check ("attention dqkv", c.qkv, nqkv, dqkv, att_objective, &c);

    g_free (c.qkv); g_free (c.r); g_free (c.out); g_free (c.att); g_free (scratch);
    g_free (dqkv);
}

// ----------------------------------------------------------------------------
// patch embedding

/* im2col + matmul_forward must be the stride-p convolution; H and W are not multiples
 * of p, so trailing pixels must be ignored. Compared with a direct double convolution. */
static void
test_im2col (void)
{
    const int B = 2, C = 3, H = 9, W = 11, p = 4, D = 5;
    const int gh = H / p, gw = W / p, np = gh * gw, klen = C * p * p;
    float *img = new_uniform ((size_t) B * C * H * W, 71, 1.0f);
    float *w = new_uniform ((size_t) D * klen, 72, 1.0f), *bias = new_uniform (D, 73, 1.0f);
    float *cols = g_new (float, (size_t) B * np * klen);
    float *tok = g_new (float, (size_t) B * np * D), *want = g_new (float, (size_t) B * np * D);

    im2col_patches (cols, img, B, C, H, W, p);
    matmul_forward (tok, cols, w, bias, B * np, klen, D);
    for (int b = 0; b < B; b++)
        for (int py = 0; py < gh; py++)
            for (int px = 0; px < gw; px++)
                for (int o = 0; o < D; o++) {
                    double s = bias[o];
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < p; ky++)
                            for (int kx = 0; kx < p; kx++)
                                s += (double) w[((o * C + c) * p + ky) * p + kx]
                                     * img[((b * C + c) * H + py * p + ky) * W + px * p + kx];
                    want[((size_t) b * np + py * gw + px) * D + o] = (float) s;
                }
    assert_tensor ("patch embed (im2col + matmul) vs conv", tok, want, (size_t) B * np * D, 1e-5);

    // one element by hand: batch 1, patch (row 1, col 1), channel 2, kernel row 3, col 2
    g_assert_cmpfloat (cols[((size_t) 1 * np + 1 * gw + 1) * klen + (2 * p + 3) * p + 2], ==,
                       img[((1 * C + 2) * H + 1 * p + 3) * W + 1 * p + 2]);

    g_free (img); g_free (w); g_free (bias); g_free (cols); g_free (tok); g_free (want);
}

// ----------------------------------------------------------------------------
// positional-embedding interpolation

/* Keys' cubic convolution kernel u(x), A = -0.75, written on |x| (the kernel itself,
 * not the per-tap coefficient form used in kernels.c). */
static double
keys_u (double x)
{
    const double A = -0.75;
    x = fabs (x);
    if (x <= 1.0)
        return (A + 2.0) * x * x * x - (A + 3.0) * x * x + 1.0;
    if (x < 2.0)
        return A * x * x * x - 5.0 * A * x * x + 8.0 * A * x - 4.0 * A;
    return 0.0;
}

/* 1-D cubic interpolation at source position s of f(k), k clamped to [0, n-1]. */
static double
interp1 (const double *f, int n, double s)
{
    int k0 = (int) floor (s);
    double v = 0.0;
    for (int k = k0 - 1; k <= k0 + 2; k++)
        v += keys_u (s - k) * f[CLAMP (k, 0, n - 1)];
    return v;
}

/* Direct double evaluation of DINO's resize: output (i, j) samples
 * y = (i + 0.5) * g / (h0 + 0.1) - 0.5, x likewise, tensor-product cubic. */
static void
ref_pos_interp (float *dst, const float *src, int g, int h0, int w0, int D)
{
    if (h0 == g && w0 == g) {
        memcpy (dst, src, sizeof (float) * g * g * D);
        return;
    }
    for (int i = 0; i < h0; i++)
        for (int j = 0; j < w0; j++) {
            double y = (i + 0.5) * g / (h0 + 0.1) - 0.5;
            double x = (j + 0.5) * g / (w0 + 0.1) - 0.5;
            int y0 = (int) floor (y), x0 = (int) floor (x);
            for (int d = 0; d < D; d++) {
                double v = 0.0;
                for (int ky = y0 - 1; ky <= y0 + 2; ky++)
                    for (int kx = x0 - 1; kx <= x0 + 2; kx++)
                        v += keys_u (y - ky) * keys_u (x - kx)
                             * src[((size_t) CLAMP (ky, 0, g - 1) * g + CLAMP (kx, 0, g - 1)) * D + d];
                dst[((size_t) i * w0 + j) * D + d] = (float) v;
            }
        }
}

static void
test_pos_interp_identity (void)
{
    const int g = 5, D = 3;
    size_t n = (size_t) g * g * D;
    float *src = new_uniform (n, 81, 1.0f), *dst = g_new (float, n);
    float *dsrc = new_uniform (n, 82, 1.0f), *pre = g_memdup2 (dsrc, n * sizeof (float));
    float *ddst = new_uniform (n, 83, 1.0f);

    pos_interp_forward (dst, src, g, g, g, D);
    g_assert_cmpmem (dst, n * sizeof (float), src, n * sizeof (float));
    pos_interp_backward (dsrc, ddst, g, g, g, D);
    for (size_t i = 0; i < n; i++)
        g_assert_cmpfloat (dsrc[i], ==, pre[i] + ddst[i]);
    g_free (src); g_free (dst); g_free (dsrc); g_free (pre); g_free (ddst);
}

/* 14 -> 6 (a 96-pixel local crop with patch 16). Channel 0 holds the column index,
 * channel 1 the row index, so each output is the 1-D interpolation of a ramp at the
 * sample position. Note that Keys' cubic with A = -0.75 does NOT reproduce a linear
 * ramp exactly (only A = -0.5 does: e.g. position 0.1 inside the grid gives 0.136), so
 * the expected values come from a direct double evaluation at the positions DINO.md
 * lists, written out here as decimals; the size-based positions (0.667, 3.0, 5.333...)
 * are shown to give clearly different numbers. */
static void
test_pos_interp_positions (void)
{
    const int g = 14, h0 = 6, D = 2;
    /* (i + 0.5) * 14 / 6.1 - 0.5 */
    static const double pos[6] = {
        0.6475409836, 2.9426229508, 5.2377049180, 7.5327868852, 9.8278688525, 12.1229508197,
    };
    /* PyTorch 1.13 F.interpolate(ramp, scale_factor=(6.1/14, 6.1/14), mode='bicubic'),
     * on the 14x14 column-index ramp (arange(14) repeated), first output row, "%.9g" */
    static const float torch_ramp[6] = {
        0.553536117f, 2.91868329f, 5.28523254f, 7.52462292f, 9.78114414f, 12.1735535f,
    };
    double ramp[14];
    float src[14 * 14 * 2], dst[6 * 6 * 2];
    double max_err = 0.0, max_torch = 0.0, min_size_diff = INFINITY;

    for (int k = 0; k < g; k++)
        ramp[k] = k;
    for (int r = 0; r < g; r++)
        for (int c = 0; c < g; c++) {
            src[(r * g + c) * D + 0] = (float) c;
            src[(r * g + c) * D + 1] = (float) r;
        }
    pos_interp_forward (dst, src, g, h0, h0, D);

    for (int i = 0; i < h0; i++) {
        // the positions themselves, from the formula DINO.md gives
        g_assert_cmpfloat_with_epsilon ((i + 0.5) * 14.0 / 6.1 - 0.5, pos[i], 1e-9);
        for (int j = 0; j < h0; j++) {
            double want_x = interp1 (ramp, g, pos[j]), want_y = interp1 (ramp, g, pos[i]);
            max_err = fmax (max_err, fabs (dst[(i * h0 + j) * D + 0] - want_x));
            max_err = fmax (max_err, fabs (dst[(i * h0 + j) * D + 1] - want_y));
        }
        max_torch = fmax (max_torch, fabs (dst[i * D + 0] - torch_ramp[i]));
        // a size-based mapping, (i + 0.5) * 14/6 - 0.5, would read elsewhere
        min_size_diff = fmin (min_size_diff,
                              fabs (interp1 (ramp, g, (i + 0.5) * 14.0 / 6.0 - 0.5)
                                    - dst[i * D + 0]));
    }
    g_test_message ("pos_interp 14->6 ramp: max err vs direct eval %.2e, vs torch %.2e; "
                    "size-based positions differ by >= %.3f", max_err, max_torch, min_size_diff);
    g_assert_cmpfloat (max_err, <, 2e-6);
    g_assert_cmpfloat (max_torch, <, 1e-5);
    g_assert_cmpfloat (min_size_diff, >, 1e-2);
}

/* Random grids, several size pairs, against the direct double evaluation. */
static void
test_pos_interp_direct (void)
{
    static const int cases[][4] = {   // g, h0, w0, D
        { 4, 2, 2, 3 }, { 4, 7, 7, 2 }, { 4, 3, 5, 2 }, { 4, 4, 6, 1 }, { 14, 6, 6, 4 },
        { 6, 9, 4, 2 }, { 3, 1, 1, 2 }, { 1, 3, 2, 2 }, { 28, 12, 12, 3 },
    };
    for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
        int g = cases[k][0], h0 = cases[k][1], w0 = cases[k][2], D = cases[k][3];
        size_t nsrc = (size_t) g * g * D, ndst = (size_t) h0 * w0 * D;
        float *src = new_uniform (nsrc, 91 + k, 1.0f);
        float *dst = g_new (float, ndst), *want = g_new (float, ndst);
        char label[64];

        pos_interp_forward (dst, src, g, h0, w0, D);
        ref_pos_interp (want, src, g, h0, w0, D);
        g_snprintf (label, sizeof label, "pos_interp %d -> %dx%d (D %d)", g, h0, w0, D);
        assert_tensor (label, dst, want, ndst, 2e-6);
        g_free (src); g_free (dst); g_free (want);
    }
}

/* Hard-coded outputs of PyTorch, produced once by hand with
 *   x = torch.tensor([[[f(r, c, d) for d in range(D)] for c in range(g)] for r in range(g)],
 *                    dtype=torch.float32).reshape(1, g, g, D).permute(0, 3, 1, 2)
 *   y = F.interpolate(x, scale_factor=((h0 + 0.1) / g, (w0 + 0.1) / g), mode='bicubic')
 *   y.permute(0, 2, 3, 1).reshape(-1)          (printed with "%.9g")
 * f(r, c, d) = sin(0.9 r + 1.7 c + 0.5 d) + 0.05 r c, torch 1.13.0 (python3-torch,
 * Debian 12), the call DINO's interpolate_pos_encoding makes. */
static double
torch_src_val (int r, int c, int d)
{
    return sin (0.9 * r + 1.7 * c + 0.5 * d) + 0.05 * r * c;
}

static const float torch_4_2x2[] = {
    0.689745426f, 0.763552547f, -0.717544138f, -0.784905314f, 0.200346634f, -0.180902496f,
    0.157376379f, 0.575138807f,
};
static const float torch_4_7x7[] = {
    -0.18968913f, 0.383635938f, 0.358261585f, 0.667158961f, 1.02124727f, 0.9342314f,
    0.637431324f, 0.205874875f, -0.251797646f, -0.706696451f, -0.780736148f, -0.817923427f,
    -1.07425869f, -0.736415625f, 0.179978758f, 0.663382173f, 0.538562655f, 0.727718472f,
    0.927334785f, 0.700183153f, 0.358119011f, -0.0831527486f, -0.487613827f, -0.810616672f,
    -0.713424325f, -0.624487758f, -0.747518718f, -0.316590965f, 0.721185029f, 1.03872609f,
    0.774370551f, 0.772093117f, 0.729568422f, 0.30742088f, -0.0782541037f, -0.505491734f,
    -0.802281141f, -0.906995893f, -0.557816803f, -0.285902649f, -0.200183198f, 0.342137218f,
    1.07894433f, 1.1249193f, 0.795853972f, 0.590774179f, 0.31061542f, -0.19216153f,
    -0.50137645f, -0.785526574f, -0.872146308f, -0.713415802f, -0.193780303f, 0.191057712f,
    0.477649301f, 0.975681067f, 1.08861196f, 0.857697666f, 0.576094568f, 0.238381743f,
    -0.171624348f, -0.596677482f, -0.722728848f, -0.780489206f, -0.624377906f, -0.260007948f,
    0.277471244f, 0.652344584f, 1.05333459f, 1.35429454f, 0.784118533f, 0.343141139f,
    0.201190189f, -0.172286227f, -0.575272501f, -0.801455975f, -0.689230382f, -0.504823446f,
    -0.132836089f, 0.332458824f, 0.754590988f, 1.01246989f, 1.42597008f, 1.44453144f,
    0.503752172f, -0.0548925959f, -0.0824563056f, -0.453106284f, -0.815565825f, -0.881042838f,
    -0.600950062f, -0.256074399f, 0.247446433f, 0.749860525f, 1.06132543f, 1.21509945f,
    1.60902572f, 1.42256439f,
};
static const float torch_4_3x5[] = {
    0.0387610421f, 0.533046901f, 0.831453025f, 0.835066974f, 0.498465121f, 0.0701048821f,
    -0.574181139f, -0.828295171f, -0.852059662f, -0.515651762f, 1.04001212f, 1.08316612f,
    0.573752046f, 0.155773297f, -0.46701929f, -0.769299567f, -0.726777315f, -0.462597579f,
    0.363981754f, 0.845635831f, 0.654437721f, 0.195578456f, -0.378886312f, -0.663332462f,
    -0.664491296f, -0.444831669f, 0.301893413f, 0.730230331f, 1.37588835f, 1.36752343f,
};
/* one side equal to g: the reference still resamples both axes (scale 4.1/4 on rows) */
static const float torch_4_4x6[] = {
    -0.0956880823f, 0.588614404f, 0.934945643f, 0.0662377179f, -0.681077182f, -0.976453245f,
    0.770176589f, 0.807210803f, 0.413298547f, -0.61477834f, -0.668228388f, -0.137788445f,
    1.09301996f, 0.46933043f, -0.363441437f, -0.805562437f, -0.0965502411f, 0.906506896f,
    0.57529521f, -0.203209043f, -0.782233417f, -0.24933438f, 0.748638809f, 1.50033164f,
};
static const float torch_14_6x6[] = {
    0.858226418f, -0.574063241f, 0.160478011f, 0.855766535f, -0.691036522f, 1.07613468f,
    -0.450524509f, 1.40391374f, -0.0742734894f, 1.34143925f, 1.91538119f, 0.855301082f,
    -0.178248823f, 0.442818433f, 2.25060821f, 1.06995976f, 3.07651663f, 3.40008712f,
    1.09700513f, 0.378530502f, 2.04653358f, 3.48016524f, 2.67200947f, 5.38293123f,
    -0.19314456f, 2.38787961f, 1.68869209f, 4.01534939f, 5.18725872f, 5.06336737f,
    -0.0512076654f, 1.53753006f, 4.01056528f, 3.6588695f, 6.50949287f, 7.50480652f,
};

static void
test_pos_interp_torch (void)
{
    static const struct {
        int g, h0, w0, D;
        const float *want;
    } cases[] = {
        { 4, 2, 2, 2, torch_4_2x2 }, { 4, 7, 7, 2, torch_4_7x7 }, { 4, 3, 5, 2, torch_4_3x5 },
        { 4, 4, 6, 1, torch_4_4x6 }, { 14, 6, 6, 1, torch_14_6x6 },
    };
    for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
        int g = cases[k].g, h0 = cases[k].h0, w0 = cases[k].w0, D = cases[k].D;
        float *src = g_new (float, (size_t) g * g * D);
        float *dst = g_new (float, (size_t) h0 * w0 * D);
        char label[64];

        for (int r = 0; r < g; r++)
            for (int c = 0; c < g; c++)
                for (int d = 0; d < D; d++)
                    src[(r * g + c) * D + d] = (float) torch_src_val (r, c, d);
        pos_interp_forward (dst, src, g, h0, w0, D);
        g_snprintf (label, sizeof label, "pos_interp %d -> %dx%d vs torch", g, h0, w0);
        // PyTorch computes coordinates and weights in float32, we in double.
        assert_tensor (label, dst, cases[k].want, (size_t) h0 * w0 * D, 2e-6);
        g_free (src); g_free (dst);
    }
}

/* pos_interp_backward is the exact adjoint: <A x, y> == <x, A^T y>, and it adds. */
static void
test_pos_interp_adjoint (void)
{
    static const int cases[][4] = {
        { 4, 2, 2, 3 }, { 4, 7, 7, 2 }, { 4, 3, 5, 2 }, { 4, 4, 6, 1 }, { 14, 6, 6, 4 },
        { 5, 5, 5, 2 }, { 1, 3, 2, 2 },
    };
    for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
        int g = cases[k][0], h0 = cases[k][1], w0 = cases[k][2], D = cases[k][3];
        size_t nsrc = (size_t) g * g * D, ndst = (size_t) h0 * w0 * D;
        float *x = new_uniform (nsrc, 101 + k, 1.0f), *y = new_uniform (ndst, 201 + k, 1.0f);
        float *ax = g_new (float, ndst), *aty = g_new0 (float, nsrc);
        float *pre = new_uniform (nsrc, 301 + k, 1.0f), *acc = g_memdup2 (pre, nsrc * sizeof (float));
        float *col = g_new (float, ndst), *e = g_new0 (float, nsrc), *want = g_new (float, nsrc);
        double lhs, rhs, rel;

        pos_interp_forward (ax, x, g, h0, w0, D);
        pos_interp_backward (aty, y, g, h0, w0, D);
        lhs = dot_d (ax, y, ndst);
        rhs = dot_d (x, aty, nsrc);
        rel = fabs (lhs - rhs) / fmax (1.0, fabs (lhs));
        g_test_message ("pos_interp %d -> %dx%d: <Ax,y> = %.9g, <x,A^T y> = %.9g, rel diff %.2e",
                        g, h0, w0, lhs, rhs, rel);
        g_assert_cmpfloat (rel, <, 1e-6);

        // element by element: (A^T y)[m] = <A e_m, y>, i.e. the FD of a linear map
        for (size_t m = 0; m < nsrc; m++) {
            e[m] = 1.0f;
            pos_interp_forward (col, e, g, h0, w0, D);
            want[m] = (float) dot_d (col, y, ndst);
            e[m] = 0.0f;
        }
        assert_tensor ("pos_interp_backward vs columns of A", aty, want, nsrc, 1e-6);

        // += semantics
        pos_interp_backward (acc, y, g, h0, w0, D);
        for (size_t m = 0; m < nsrc; m++)
            want[m] = pre[m] + aty[m];
        assert_tensor ("pos_interp_backward accumulates", acc, want, nsrc, 1e-6);

        g_free (x); g_free (y); g_free (ax); g_free (aty); g_free (pre); g_free (acc);
        g_free (col); g_free (e); g_free (want);
    }
}

// ----------------------------------------------------------------------------
// L2 normalisation

typedef struct {
    float *out, *norm, *inp, *r;
    int N, C;
} L2Ctx;

static double
l2_objective (gpointer p)
{
    L2Ctx *c = p;
    l2norm_forward (c->out, c->norm, c->inp, c->N, c->C);
    return dot_d (c->out, c->r, (size_t) c->N * c->C);
}

static void
test_l2norm (void)
{
    L2Ctx c = { 0 };
    size_t n;
    float *want, *din;

    c.N = 4; c.C = 6;
    n = (size_t) c.N * c.C;
    c.inp = new_uniform (n, 111, 1.0f);
    c.r = new_uniform (n, 112, 1.0f);
    c.out = g_new (float, n);
    c.norm = g_new (float, c.N);
    want = g_new (float, n);
    for (int i = 0; i < c.C; i++)   // a row with a large norm
        c.inp[c.C + i] *= 30.0f;

    l2norm_forward (c.out, c.norm, c.inp, c.N, c.C);
    for (int r = 0; r < c.N; r++) {
        double ss = 0.0;
        for (int i = 0; i < c.C; i++)
            ss += (double) c.inp[r * c.C + i] * c.inp[r * c.C + i];
        for (int i = 0; i < c.C; i++)
            want[r * c.C + i] = (float) (c.inp[r * c.C + i] / sqrt (ss));
        g_assert_cmpfloat_with_epsilon (c.norm[r], sqrt (ss), 1e-6 * sqrt (ss));
    }
    assert_tensor ("l2norm forward", c.out, want, n, 1e-6);

    din = new_nan (n);   // written, never read
    l2norm_backward (din, c.r, c.inp, c.norm, c.N, c.C);
    fd_check ("l2norm dinp", c.inp, n, din, l2_objective, &c);

    // a zero row: out = 0 (not NaN), and the clamp makes the map x / 1e-12
    {
        float z[3] = { 0.0f, 0.0f, 0.0f }, o[3], nr, dz[3] = { NAN, NAN, NAN };
        float dy[3] = { 1e-12f, -2e-12f, 0.0f };
        l2norm_forward (o, &nr, z, 1, 3);
        g_assert_cmpfloat (o[0], ==, 0.0f);
        g_assert_cmpfloat (nr, ==, 0.0f);
        l2norm_backward (dz, dy, z, &nr, 1, 3);
        g_assert_cmpfloat_with_epsilon (dz[0], 1.0, 1e-6);
        g_assert_cmpfloat_with_epsilon (dz[1], -2.0, 1e-6);
    }

    g_free (c.inp); g_free (c.r); g_free (c.out); g_free (c.norm); g_free (want);
    g_free (din);
}

// ----------------------------------------------------------------------------
// weight normalisation

typedef struct {
    float *w, *vnorm, *v, *g, *r;
    int K, C;
} WnCtx;

static double
wn_objective (gpointer p)
{
    WnCtx *c = p;
    weightnorm_forward (c->w, c->vnorm, c->v, c->g, c->K, c->C);
    return dot_d (c->w, c->r, (size_t) c->K * c->C);
}

static void
test_weightnorm (void)
{
    WnCtx c = { 0 };
    size_t n;
    float *want, *dv, *dg, *pv, *pg, *dv2;

    c.K = 5; c.C = 7;
    n = (size_t) c.K * c.C;
    c.v = new_uniform (n, 121, 1.0f);
    c.g = new_uniform (c.K, 122, 2.0f);
    c.r = new_uniform (n, 123, 1.0f);
    c.w = g_new (float, n);
    c.vnorm = g_new (float, c.K);
    want = g_new (float, n);

    weightnorm_forward (c.w, c.vnorm, c.v, c.g, c.K, c.C);
    for (int k = 0; k < c.K; k++) {
        double ss = 0.0;
        for (int i = 0; i < c.C; i++)
            ss += (double) c.v[k * c.C + i] * c.v[k * c.C + i];
        for (int i = 0; i < c.C; i++)
            want[k * c.C + i] = (float) (c.g[k] * c.v[k * c.C + i] / sqrt (ss));
    }
    assert_tensor ("weightnorm forward", c.w, want, n, 1e-6);

    pv = new_uniform (n, 124, 1.0f);
    pg = new_uniform (c.K, 125, 1.0f);
    dv = g_memdup2 (pv, n * sizeof (float));
    dg = g_memdup2 (pg, c.K * sizeof (float));
    weightnorm_backward (dv, dg, c.r, c.v, c.g, c.vnorm, c.K, c.C);
    for (size_t i = 0; i < n; i++)
        dv[i] -= pv[i];
    for (int k = 0; k < c.K; k++)
        dg[k] -= pg[k];
    fd_check ("weightnorm dv", c.v, n, dv, wn_objective, &c);
    fd_check ("weightnorm dg", c.g, c.K, dg, wn_objective, &c);

    // dg NULL gives the same dv
    dv2 = g_new0 (float, n);
    weightnorm_forward (c.w, c.vnorm, c.v, c.g, c.K, c.C);
    weightnorm_backward (dv2, NULL, c.r, c.v, c.g, c.vnorm, c.K, c.C);
    assert_tensor ("weightnorm dv (dg NULL)", dv2, dv, n, 1e-6);

    // g NULL means g = 1 (norm_last_layer: rows of unit norm)
    for (int k = 0; k < c.K; k++)
        c.g[k] = 1.0f;
    weightnorm_forward (want, c.vnorm, c.v, c.g, c.K, c.C);
    weightnorm_forward (c.w, c.vnorm, c.v, NULL, c.K, c.C);
    assert_tensor ("weightnorm g NULL", c.w, want, n, 0.0);
    memset (dv, 0, n * sizeof (float));
    memset (dv2, 0, n * sizeof (float));
    weightnorm_backward (dv, NULL, c.r, c.v, c.g, c.vnorm, c.K, c.C);
    weightnorm_backward (dv2, NULL, c.r, c.v, NULL, c.vnorm, c.K, c.C);
    assert_tensor ("weightnorm dv, g NULL", dv2, dv, n, 0.0);

    g_free (c.v); g_free (c.g); g_free (c.r); g_free (c.w); g_free (c.vnorm); g_free (want);
    g_free (dv); g_free (dg); g_free (pv); g_free (pg); g_free (dv2);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/kernels/layernorm/forward", test_layernorm_forward);
    g_test_add_func ("/kernels/layernorm/backward", test_layernorm_backward);
    g_test_add_func ("/kernels/layernorm/wide", test_layernorm_wide);
    g_test_add_func ("/kernels/gelu", test_gelu);
    g_test_add_func ("/kernels/residual", test_residual);
    g_test_add_func ("/kernels/attention/forward", test_attention_forward);
    g_test_add_func ("/kernels/attention/softmax", test_attention_softmax);
    g_test_add_func ("/kernels/attention/backward", test_attention_backward);
    g_test_add_func ("/kernels/im2col", test_im2col);
    g_test_add_func ("/kernels/pos-interp/identity", test_pos_interp_identity);
    g_test_add_func ("/kernels/pos-interp/positions-14-6", test_pos_interp_positions);
    g_test_add_func ("/kernels/pos-interp/direct", test_pos_interp_direct);
    g_test_add_func ("/kernels/pos-interp/torch", test_pos_interp_torch);
    g_test_add_func ("/kernels/pos-interp/adjoint", test_pos_interp_adjoint);
    g_test_add_func ("/kernels/l2norm", test_l2norm);
    g_test_add_func ("/kernels/weightnorm", test_weightnorm);
    return g_test_run ();
}
