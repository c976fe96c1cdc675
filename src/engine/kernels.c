/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * kernels.c: the ViT and DINO-head layers as plain forward/backward pairs over flat
 * row-major float32 arrays: LayerNorm, GELU, the drop-path residual, the attention core,
 * the patch-embedding im2col, the bicubic pos_embed interpolation, the L2 bottleneck
 * normalisation and the weight-normalised last layer. Shapes and conventions are in
 * kernels.h; DINO.md sections 1.2-1.5 and 2 give the reference behaviour.
 *
 * It is not the model (model.c and head.c string these together), it holds no state,
 * and it never allocates: reductions that must be done in double use small stack
 * buffers. Matrix products go through matmul.c, the only file that talks to BLAS.
 * The loops are single-threaded; the heavy work of a step is in the BLAS products.
 */
#include <math.h>
#include <string.h>

#include <glib.h>

#include "kernels.h"

/* Columns reduced per pass when a reduction over rows is accumulated in double
 * (LayerNorm weight/bias gradients); the stack holds 2 * KERNELS_CHUNK doubles. */
#define KERNELS_CHUNK 256

#define LAYERNORM_EPS 1e-6
#define L2NORM_EPS    1e-12

// ----------------------------------------------------------------------------
// row reductions in double

/* A row reduction written as one running sum is a chain of dependent additions: gcc
 * may not reorder it (that would change the rounding), so it stays scalar at one
 * addition per FP-add latency, and it was the bulk of LayerNorm's time. These keep
 * KERNELS_LANES independent partial sums, which gcc turns into vector additions, and
 * add them pairwise at the end (the inner loops are unrolled by pragma so that the
 * partial sums stay in registers). Only the order of the double additions differs from
 * the plain loop: a sum of floats in double is exact unless the terms span more than
 * 2^29, so the float results are in practice the same bits. */
#define KERNELS_LANES 8

static inline double
lanes_total_ (const double acc[KERNELS_LANES])
{
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* sum of x[0..n-1] */
static inline double
sum_d_ (const float *x, int n)
{
    double acc[KERNELS_LANES] = { 0 };
    int i = 0;

    for (; i + KERNELS_LANES <= n; i += KERNELS_LANES)
#pragma GCC unroll 8
        for (int k = 0; k < KERNELS_LANES; k++)
            acc[k] += x[i + k];
    for (; i < n; i++)
        acc[0] += x[i];
    return lanes_total_ (acc);
}

/* sum of (x[i] - m)^2 */
static inline double
sum_sq_dev_d_ (const float *x, double m, int n)
{
    double acc[KERNELS_LANES] = { 0 };
    int i = 0;

    for (; i + KERNELS_LANES <= n; i += KERNELS_LANES) {
#pragma GCC unroll 8
        for (int k = 0; k < KERNELS_LANES; k++) {
            double d = x[i + k] - m;
            acc[k] += d * d;
        }
    }
    for (; i < n; i++) {
        double d = x[i] - m;
        acc[0] += d * d;
    }
    return lanes_total_ (acc);
}

/* sum of a[i] * b[i] */
static inline double
dot_d_ (const float *a, const float *b, int n)
{
    double acc[KERNELS_LANES] = { 0 };
    int i = 0;

    for (; i + KERNELS_LANES <= n; i += KERNELS_LANES)
#pragma GCC unroll 8
        for (int k = 0; k < KERNELS_LANES; k++)
            acc[k] += (double) a[i + k] * b[i + k];
    for (; i < n; i++)
        acc[0] += (double) a[i] * b[i];
    return lanes_total_ (acc);
}

// ----------------------------------------------------------------------------
// LayerNorm

void
layernorm_forward (float *out, float *mean, float *rstd, const float *inp,
                   const float *weight, const float *bias, int N, int C)
{
    // out[N,C], mean[N] or NULL, rstd[N] or NULL, inp[N,C], weight[C], bias[C]
    g_assert (out != NULL && inp != NULL && weight != NULL && bias != NULL);
    g_assert (N >= 0 && C > 0);

    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t) n * C;
        float *o = out + (size_t) n * C;
        double m, v, r;

        // Two passes in double: the one-pass E[x^2] - E[x]^2 form cancels badly when
        // the mean is large against the spread (residual streams drift).
        m = sum_d_ (x, C) / C;
        v = sum_sq_dev_d_ (x, m, C) / C;
        r = 1.0 / sqrt (v + LAYERNORM_EPS);

        // The output comes from the float statistics, exactly as layernorm_apply
        // recomputes it in the backward pass (which keeps only mean and rstd).
        layernorm_apply (o, x, (float) m, (float) r, weight, bias, C);
        if (mean != NULL)
            mean[n] = (float) m;
        if (rstd != NULL)
            rstd[n] = (float) r;
    }
}

void
layernorm_apply (float *out, const float *inp, float mean, float rstd,
                 const float *weight, const float *bias, int C)
{
    // out[C], inp[C], weight[C], bias[C]: one row
    for (int i = 0; i < C; i++)
        out[i] = (inp[i] - mean) * rstd * weight[i] + bias[i];
}

/* sum of g * xh over one row, g = weight * dy (exact in double), xh = (x - m) * r in
 * float as the forward computes it; partial sums as in sum_d_. (This and the sum of g
 * are separate loops on purpose: gcc does not vectorise two partial-sum groups that
 * share a term.) */
static inline double
layernorm_gxhat_sum_ (const float *weight, const float *dy, const float *x, float m, float r, int C)
{
    double acc[KERNELS_LANES] = { 0 };
    int i = 0;

    for (; i + KERNELS_LANES <= C; i += KERNELS_LANES) {
#pragma GCC unroll 8
        for (int k = 0; k < KERNELS_LANES; k++) {
            float xh = (x[i + k] - m) * r;
            acc[k] += ((double) weight[i + k] * dy[i + k]) * xh;
        }
    }
    for (; i < C; i++) {
        float xh = (x[i] - m) * r;
        acc[0] += ((double) weight[i] * dy[i]) * xh;
    }
    return lanes_total_ (acc);
}

/* dweight[i] += sum_n xh[n,i] * dout[n,i], dbias[i] += sum_n dout[n,i] (either may be
 * NULL): sums over all B*T rows, so accumulated in double, a chunk of columns at a time.
 * Compiled per ISA like matmul.c's bias reduction (the float-to-double conversions keep
 * plain x86-64 code at two columns per instruction). The only product, xh * dout, is of
 * two floats and exact in double, so a fused multiply-add gives the same bits. */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static void
layernorm_param_grads_ (float *dweight, float *dbias, const float *dout, const float *inp,
                        const float *mean, const float *rstd, int N, int C)
{
    double dw[KERNELS_CHUNK], db[KERNELS_CHUNK];

    for (int c0 = 0; c0 < C; c0 += KERNELS_CHUNK) {
        int nc = MIN (KERNELS_CHUNK, C - c0);
        memset (dw, 0, sizeof dw);
        memset (db, 0, sizeof db);
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t) n * C + c0;
            const float *dy = dout + (size_t) n * C + c0;
            float m = mean[n], r = rstd[n];
            for (int i = 0; i < nc; i++) {
                dw[i] += (double) ((x[i] - m) * r) * dy[i];
                db[i] += dy[i];
            }
        }
        for (int i = 0; i < nc; i++) {
            if (dweight != NULL)
                dweight[c0 + i] += (float) dw[i];
            if (dbias != NULL)
                dbias[c0 + i] += (float) db[i];
        }
    }
}

void
layernorm_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                    const float *inp, const float *weight, const float *mean,
                    const float *rstd, int N, int C)
{
    // dinp[N,C] +=, dweight[C] +=, dbias[C] += (each may be NULL),
    // dout[N,C], inp[N,C], weight[C], mean[N], rstd[N]
    g_assert (dout != NULL && inp != NULL && weight != NULL);
    g_assert (mean != NULL && rstd != NULL && N >= 0 && C > 0);
    g_assert (dinp == NULL || dinp != dout);

    if (dinp != NULL) {
        // With xh = (x - mean) * rstd and g = weight * dout (the gradient w.r.t. xh):
        // dx = rstd * (g - mean(g) - xh * mean(g * xh)). See llm.c doc/layernorm.
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t) n * C;
            const float *dy = dout + (size_t) n * C;
            float *dx = dinp + (size_t) n * C;
            float m = mean[n], r = rstd[n];
            float a = (float) (dot_d_ (weight, dy, C) / C);
            float b = (float) (layernorm_gxhat_sum_ (weight, dy, x, m, r, C) / C);
            for (int i = 0; i < C; i++) {
                float xh = (x[i] - m) * r;
                dx[i] += r * (weight[i] * dy[i] - a - xh * b);
            }
        }
    }

    if (dweight != NULL || dbias != NULL)
        layernorm_param_grads_ (dweight, dbias, dout, inp, mean, rstd, N, C);
}

// ----------------------------------------------------------------------------
// GELU (exact, erf form)

/* The GELU loops run three times per block and step (forward, recomputation in the
 * backward, backward), and libm's erff and expf are calls that keep the loops scalar.
 * These two are branch-free so that gcc vectorises the loops, and the loops are
 * compiled for AVX-512, AVX2 and plain x86-64, picked at run time (target_clones).
 *
 * erf: |x| clamped to 3.9 (beyond, erf rounds to 1 in float), then x P(x^2) / Q(x^2),
 * a rational function fitted for Dinolab by weighted least squares in double on
 * [0, 3.9] (error 1.5e-9 in double; 3.4e-7 at most evaluated in float, against 6e-8
 * for libm's erff; tests/test-kernels.c compares both). */
static inline float
erf_fast_ (float x)
{
    static const float P[7] = { 1.128379179e+00f, 1.847031238e-01f, 5.427450348e-02f, 3.832052330e-03f,
                                3.802019125e-04f, 4.712440730e-06f, -1.330479257e-08f };
    static const float Q[6] = { 1.000000000e+00f, 4.970223962e-01f, 1.137727907e-01f, 1.542950221e-02f,
                                1.304760154e-03f, 6.337160866e-05f };
    float a = fabsf (x);
    float t, num, den, y;

    a = a < 3.9f ? a : 3.9f;
    t = a * a;
    num = ((((((P[6] * t + P[5]) * t + P[4]) * t + P[3]) * t + P[2]) * t + P[1]) * t + P[0]);
    den = (((((Q[5] * t + Q[4]) * t + Q[3]) * t + Q[2]) * t + Q[1]) * t + Q[0]);
    y = a * num / den;
    y = y < 1.0f ? y : 1.0f;
    return copysignf (y, x);
}

/* exp for x <= 0 (the Gaussian density): 2^n e^r with n = round(x / ln 2) by the
 * 1.5 * 2^23 trick, r reduced in two steps (Cody and Waite), e^r by its Taylor
 * polynomial to degree 7 (|r| <= ln2 / 2: relative error below 1e-8 before rounding). */
static inline float
exp_neg_fast_ (float x)
{
    const float shift = 12582912.0f;   /* 1.5 * 2^23 */
    union { float f; gint32 i; } scale;
    float n, r, p;

    x = x > -87.0f ? x : -87.0f;
    n = (x * 1.44269504f + shift) - shift;
    r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120
            + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    scale.i = ((gint32) n + 127) * (1 << 23);   /* 2^n; n >= -126 after the clamp */
    return p * scale.f;
}

__attribute__ ((target_clones ("avx512f", "avx2", "default")))
void
gelu_forward (float *out, const float *inp, size_t n)
{
    // out[n], inp[n]
    g_assert (n == 0 || (out != NULL && inp != NULL));
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erf_fast_ (x * (float) M_SQRT1_2));
    }
}

__attribute__ ((target_clones ("avx512f", "avx2", "default")))
void
gelu_backward (float *dinp, const float *inp, const float *dout, size_t n)
{
    // dinp[n] = (may alias dout), inp[n], dout[n]
    // d/dx [x Phi(x)] = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi)
    const float inv_sqrt_2pi = (float) (0.5 * M_2_SQRTPI * M_SQRT1_2);

    g_assert (n == 0 || (dinp != NULL && inp != NULL && dout != NULL));
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float cdf = 0.5f * (1.0f + erf_fast_ (x * (float) M_SQRT1_2));
        float pdf = inv_sqrt_2pi * exp_neg_fast_ (-0.5f * x * x);
        dinp[i] = dout[i] * (cdf + x * pdf);
    }
}

// ----------------------------------------------------------------------------
// residual with drop-path scale

void
residual_forward (float *out, const float *inp, const float *branch, const float *scale,
                  int B, size_t S)
{
    // out[B,S] (may alias inp), inp[B,S], branch[B,S], scale[B] or NULL
    g_assert (out != NULL && inp != NULL && branch != NULL && B >= 0);
    for (int b = 0; b < B; b++) {
        size_t off = (size_t) b * S;
        float s = scale != NULL ? scale[b] : 1.0f;
        for (size_t j = 0; j < S; j++)
            out[off + j] = inp[off + j] + s * branch[off + j];
    }
}

void
residual_backward (float *dbranch, const float *dout, const float *scale, int B, size_t S)
{
    // dbranch[B,S] =, dout[B,S], scale[B] or NULL
    g_assert (dbranch != NULL && dout != NULL && B >= 0);
    for (int b = 0; b < B; b++) {
        size_t off = (size_t) b * S;
        float s = scale != NULL ? scale[b] : 1.0f;
        if (s == 0.0f) {   // a dropped sample: exactly no gradient, even from a non-finite dout
            memset (dbranch + off, 0, S * sizeof (float));
            continue;
        }
        for (size_t j = 0; j < S; j++)
            dbranch[off + j] = s * dout[off + j];
    }
}

// ----------------------------------------------------------------------------
// attention core

/* exp(x) for the softmax, where x <= 0 (a logit minus its row's maximum), computed in
 * double and rounded to float once, so that the loop vectorises (libm's expf is a call
 * per element, and with fmaxf it was most of the attention forward's time at T = 50):
 * n = round(x / ln 2) by the 1.5 * 2^52 trick, r = x - n ln 2 with |r| <= ln2 / 2
 * (n ln 2 rounded once: 1e-16 relative), e^r by its Taylor polynomial to degree 10
 * (truncation error 7e-13 relative), 2^n written into the exponent bits. Before the
 * final rounding the value is within ~1e-12 of e^x, so the float result is the
 * correctly rounded one except within 1e-12 of a rounding tie (glibc's expf is
 * specified to 0.502 ulp, so the two may differ there by one ulp). Denormal results
 * round as expf's do; x is clamped at -110, where the float result is 0 as expf's is
 * (e^x underflows to 0 below x = -103.97); NaN stays NaN (the clamp's comparison is
 * false for it). */
static inline float
exp_softmax_ (float x)
{
    const double shift = 6755399441055744.0;          /* 1.5 * 2^52 */
    const guint64 shift_bits = G_GUINT64_CONSTANT (0x4338000000000000);
    union { double f; guint64 i; } kn, scale;
    double xd, n, r, p;

    xd = x < -110.0f ? -110.0 : (double) x;
    kn.f = xd * 1.4426950408889634 + shift;           /* x / ln 2; n in the low bits */
    n = kn.f - shift;
    r = xd - n * 0.6931471805599453;
    p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120
            + r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880
            + r * (1.0 / 3628800))))))))));
    scale.i = (kn.i - shift_bits + 1023) << 52;        /* 2^n, -159 <= n <= 0 */
    return (float) (p * scale.f);
}

/* Stable softmax of each row of x[R,L], in place; the sum in double. Compiled per ISA
 * like the GELU loops: the maximum (a plain comparison, exact in any order), the
 * exponentials and the partial sums all vectorise. */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static void
softmax_rows_ (float *x, int R, int L)
{
    for (int r = 0; r < R; r++) {
        float *row = x + (size_t) r * L;
        float maxv = -INFINITY;
        float inv;

        for (int j = 0; j < L; j++)
            maxv = row[j] > maxv ? row[j] : maxv;
        for (int j = 0; j < L; j++)
            row[j] = exp_softmax_ (row[j] - maxv);
        inv = (float) (1.0 / sum_d_ (row, L));
        for (int j = 0; j < L; j++)
            row[j] *= inv;
    }
}

void
attention_forward (float *out, float *att, const float *qkv, int B, int T, int NH, int hd)
{
    // out[B,T,C], att[B,NH,T,T], qkv[B,T,3C], C = NH*hd
    int C = NH * hd, C3 = 3 * NH * hd;
    float scale;

    g_assert (out != NULL && att != NULL && qkv != NULL);
    g_assert (B >= 0 && T >= 0 && NH > 0 && hd > 0);
    scale = (float) (1.0 / sqrt ((double) hd));

    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            // Head slices, each [T,hd] with row stride 3C (q, k, v) or C (out).
            const float *q = qkv + (size_t) b * T * C3 + (size_t) h * hd;
            const float *k = q + C;
            const float *v = q + 2 * C;
            float *p = att + ((size_t) b * NH + h) * T * T;
            float *o = out + (size_t) b * T * C + (size_t) h * hd;

            // p[T,T] = scale * q @ k^T
            matmul_gemm (p, T, q, C3, k, C3, FALSE, TRUE, T, T, hd, scale, 0.0f);
            softmax_rows_ (p, T, T);
            // o[T,hd] = p @ v
            matmul_gemm (o, C, p, T, v, C3, FALSE, FALSE, T, hd, T, 1.0f, 0.0f);
        }
    }
}

void
attention_backward (float *dqkv, float *datt_scratch, const float *dout, const float *qkv,
                    const float *att, int B, int T, int NH, int hd)
{
    // dqkv[B,T,3C] =, datt_scratch[T,T] scratch, dout[B,T,C], qkv[B,T,3C],
    // att[B,NH,T,T], C = NH*hd
    int C = NH * hd, C3 = 3 * NH * hd;
    float scale;

    g_assert (dqkv != NULL && datt_scratch != NULL && dout != NULL);
    g_assert (qkv != NULL && att != NULL);
    g_assert (B >= 0 && T >= 0 && NH > 0 && hd > 0);
    scale = (float) (1.0 / sqrt ((double) hd));

    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            size_t qoff = (size_t) b * T * C3 + (size_t) h * hd;
            const float *q = qkv + qoff, *k = q + C, *v = q + 2 * C;
            float *dq = dqkv + qoff, *dk = dq + C, *dv = dq + 2 * C;
            const float *p = att + ((size_t) b * NH + h) * T * T;
            const float *dy = dout + (size_t) b * T * C + (size_t) h * hd;
            float *ds = datt_scratch;

            // Each (b, h) owns its q, k and v slices of dqkv, so every product below
            // writes its slice once (beta = 0) and dqkv needs no zeroing.
            // dv[T,hd] = p^T @ dy
            matmul_gemm (dv, C3, p, T, dy, C, TRUE, FALSE, T, hd, T, 1.0f, 0.0f);
            // dp[T,T] = dy @ v^T
            matmul_gemm (ds, T, dy, C, v, C3, FALSE, TRUE, T, T, hd, 1.0f, 0.0f);
            // Softmax backward, in place: ds = p * (dp - sum_j p dp) per row.
            for (int i = 0; i < T; i++) {
                const float *prow = p + (size_t) i * T;
                float *drow = ds + (size_t) i * T;
                float fdot = (float) dot_d_ (prow, drow, T);
                for (int j = 0; j < T; j++)
                    drow[j] = prow[j] * (drow[j] - fdot);
            }
            // The logits were scale * q k^T, so dq = scale * ds @ k, dk = scale * ds^T @ q.
            matmul_gemm (dq, C3, ds, T, k, C3, FALSE, FALSE, T, hd, T, scale, 0.0f);
            matmul_gemm (dk, C3, ds, T, q, C3, TRUE, FALSE, T, hd, T, scale, 0.0f);
        }
    }
}

// ----------------------------------------------------------------------------
// patch embedding (im2col)

void
im2col_patches (float *cols, const float *img, int B, int C, int H, int W, int p)
{
    // cols[B, gh*gw, C*p*p], img[B,C,H,W], gh = H/p, gw = W/p
    int gh, gw;
    size_t patch_len;

    g_assert (cols != NULL && img != NULL);
    g_assert (B >= 0 && C > 0 && H >= 0 && W >= 0 && p > 0);
    gh = H / p;
    gw = W / p;
    patch_len = (size_t) C * p * p;

    for (int b = 0; b < B; b++) {
        for (int py = 0; py < gh; py++) {
            for (int px = 0; px < gw; px++) {
                float *col = cols + ((size_t) b * gh * gw + (size_t) py * gw + px) * patch_len;
                for (int c = 0; c < C; c++) {
                    for (int ky = 0; ky < p; ky++) {
                        const float *src = img + (((size_t) b * C + c) * H + (size_t) py * p + ky) * W
                                           + (size_t) px * p;
                        // one kernel row: p contiguous pixels
                        memcpy (col + ((size_t) c * p + ky) * p, src, (size_t) p * sizeof (float));
                    }
                }
            }
        }
    }
}

// ----------------------------------------------------------------------------
// positional-embedding interpolation (bicubic, PyTorch semantics)

/* Keys' cubic convolution weights for the taps at offsets -1, 0, 1, 2 from floor(s),
 * t = s - floor(s), A = -0.75 (PyTorch's get_cubic_upsample_coefficients). */
static void
cubic_weights_ (double w[4], double t)
{
    const double A = -0.75;
    double x1 = t, x2 = 1.0 - t;

    // |x| in (1,2): ((A x - 5A) x + 8A) x - 4A;  |x| <= 1: ((A+2) x - (A+3)) x x + 1
    w[0] = ((A * (x1 + 1.0) - 5.0 * A) * (x1 + 1.0) + 8.0 * A) * (x1 + 1.0) - 4.0 * A;
    w[1] = ((A + 2.0) * x1 - (A + 3.0)) * x1 * x1 + 1.0;
    w[2] = ((A + 2.0) * x2 - (A + 3.0)) * x2 * x2 + 1.0;
    w[3] = ((A * (x2 + 1.0) - 5.0 * A) * (x2 + 1.0) + 8.0 * A) * (x2 + 1.0) - 4.0 * A;
}

/* The 4 source indices (clamped to [0, n_in-1]) and weights for output index i of an
 * axis resized from n_in with scale factor s: ratio = 1/s, source coordinate
 * ratio * (i + 0.5) - 0.5, not clamped at 0 in cubic mode (PyTorch's
 * area_pixel_compute_source_index(cubic = true)); floor and t guarded as PyTorch's
 * guard_index_and_lambda does (never active for DINO's +0.1 scales). */
static void
cubic_taps_ (int idx[4], double w[4], int i, double ratio, int n_in)
{
    double real = ratio * (i + 0.5) - 0.5;
    double fl = floor (real);
    double t;
    int i0;

    if (fl > n_in - 1)
        fl = n_in - 1;
    t = CLAMP (real - fl, 0.0, 1.0);
    i0 = (int) fl;
    cubic_weights_ (w, t);
    for (int a = 0; a < 4; a++)
        idx[a] = CLAMP (i0 - 1 + a, 0, n_in - 1);
}

/* 1 / scale_factor, with scale_factor = (n_out + 0.1) / g as DINO passes it. */
static double
pos_interp_ratio_ (int g, int n_out)
{
    double s = (n_out + 0.1) / (double) g;
    return 1.0 / s;
}

void
pos_interp_forward (float *dst, const float *src, int g, int h0, int w0, int D)
{
    // dst[h0*w0, D], src[g*g, D]
    double ry, rx;

    g_assert (dst != NULL && src != NULL && dst != src);
    g_assert (g > 0 && h0 > 0 && w0 > 0 && D > 0);

    if (h0 == g && w0 == g) {   // the reference does not interpolate then
        memcpy (dst, src, (size_t) g * g * D * sizeof (float));
        return;
    }
    ry = pos_interp_ratio_ (g, h0);
    rx = pos_interp_ratio_ (g, w0);

    for (int i = 0; i < h0; i++) {
        int iy[4];
        double wy[4];
        cubic_taps_ (iy, wy, i, ry, g);
        for (int j = 0; j < w0; j++) {
            int ix[4];
            double wx[4], w16[16];
            const float *tap[16];
            float *o = dst + ((size_t) i * w0 + j) * D;

            cubic_taps_ (ix, wx, j, rx, g);
            for (int a = 0; a < 4; a++) {
                for (int b = 0; b < 4; b++) {
                    w16[a * 4 + b] = wy[a] * wx[b];
                    tap[a * 4 + b] = src + ((size_t) iy[a] * g + ix[b]) * D;
                }
            }
            for (int d = 0; d < D; d++) {
                double acc = 0.0;
                for (int t = 0; t < 16; t++)
                    acc += w16[t] * tap[t][d];
                o[d] = (float) acc;
            }
        }
    }
}

void
pos_interp_backward (float *dsrc, const float *ddst, int g, int h0, int w0, int D)
{
    // dsrc[g*g, D] +=, ddst[h0*w0, D]
    double ry, rx;

    g_assert (dsrc != NULL && ddst != NULL);
    g_assert (g > 0 && h0 > 0 && w0 > 0 && D > 0);

    if (h0 == g && w0 == g) {
        size_t n = (size_t) g * g * D;
        for (size_t i = 0; i < n; i++)
            dsrc[i] += ddst[i];
        return;
    }
    ry = pos_interp_ratio_ (g, h0);
    rx = pos_interp_ratio_ (g, w0);

    // Scatter: each output vector goes back to its 16 taps with the same weights
    // (a clamped tap read several times receives each contribution).
    for (int i = 0; i < h0; i++) {
        int iy[4];
        double wy[4];
        cubic_taps_ (iy, wy, i, ry, g);
        for (int j = 0; j < w0; j++) {
            int ix[4];
            double wx[4];
            const float *dy = ddst + ((size_t) i * w0 + j) * D;

            cubic_taps_ (ix, wx, j, rx, g);
            for (int a = 0; a < 4; a++) {
                for (int b = 0; b < 4; b++) {
                    float w = (float) (wy[a] * wx[b]);
                    float *ds = dsrc + ((size_t) iy[a] * g + ix[b]) * D;
                    for (int d = 0; d < D; d++)
                        ds[d] += w * dy[d];
                }
            }
        }
    }
}

// ----------------------------------------------------------------------------
// L2 normalisation (head bottleneck)

void
l2norm_forward (float *out, float *norm, const float *inp, int N, int C)
{
    // out[N,C] (may alias inp), norm[N] or NULL, inp[N,C]
    g_assert (out != NULL && inp != NULL && N >= 0 && C >= 0);
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t) n * C;
        float *o = out + (size_t) n * C;
        double ss = 0.0, nrm, inv;

        for (int i = 0; i < C; i++)
            ss += (double) x[i] * x[i];
        nrm = sqrt (ss);
        inv = 1.0 / MAX (nrm, L2NORM_EPS);
        for (int i = 0; i < C; i++)
            o[i] = (float) (x[i] * inv);
        if (norm != NULL)
            norm[n] = (float) nrm;
    }
}

void
l2norm_backward (float *dinp, const float *dout, const float *inp, const float *norm,
                 int N, int C)
{
    // dinp[N,C] =, dout[N,C], inp[N,C], norm[N]
    g_assert (dinp != NULL && dout != NULL && inp != NULL && norm != NULL);
    g_assert (dinp != dout && N >= 0 && C >= 0);
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t) n * C;
        const float *dy = dout + (size_t) n * C;
        float *dx = dinp + (size_t) n * C;
        double nrm = norm[n];

        if (nrm >= L2NORM_EPS) {
            // y = x/n: dx = (dy - y (y.dy)) / n = dy/n - x (x.dy) / n^3
            double dot = 0.0;
            float a, b;
            for (int i = 0; i < C; i++)
                dot += (double) x[i] * dy[i];
            a = (float) (1.0 / nrm);
            b = (float) (dot / (nrm * nrm * nrm));
            for (int i = 0; i < C; i++)
                dx[i] = a * dy[i] - b * x[i];
        } else {
            // max(n, eps) = eps is constant here, so y = x / eps is linear
            for (int i = 0; i < C; i++)
                dx[i] = (float) (dy[i] / L2NORM_EPS);
        }
    }
}

// ----------------------------------------------------------------------------
// weight normalisation (head.last_layer, dim 0)

void
weightnorm_forward (float *w, float *vnorm, const float *v, const float *g, int K, int C)
{
    // w[K,C], vnorm[K], v[K,C], g[K] or NULL (= 1)
    g_assert (w != NULL && vnorm != NULL && v != NULL && K >= 0 && C >= 0);
    for (int k = 0; k < K; k++) {
        const float *vk = v + (size_t) k * C;
        float *wk = w + (size_t) k * C;
        double ss = 0.0, nrm, f;

        for (int i = 0; i < C; i++)
            ss += (double) vk[i] * vk[i];
        nrm = sqrt (ss);
        f = (g != NULL ? g[k] : 1.0) / nrm;   // no epsilon, as torch._weight_norm
        for (int i = 0; i < C; i++)
            wk[i] = (float) (vk[i] * f);
        vnorm[k] = (float) nrm;
    }
}

void
weightnorm_backward (float *dv, float *dg, const float *dw, const float *v, const float *g,
                     const float *vnorm, int K, int C)
{
    // dv[K,C] += (or NULL), dg[K] += (or NULL), dw[K,C], v[K,C], g[K] or NULL, vnorm[K]
    g_assert (dw != NULL && v != NULL && vnorm != NULL && K >= 0 && C >= 0);
    if (dv == NULL && dg == NULL)
        return;
    for (int k = 0; k < K; k++) {
        const float *vk = v + (size_t) k * C;
        const float *dwk = dw + (size_t) k * C;
        double nrm = vnorm[k], gk = g != NULL ? g[k] : 1.0;
        double dot = 0.0, dotn;

        for (int i = 0; i < C; i++)
            dot += (double) dwk[i] * vk[i];
        dotn = dot / nrm;                 // dw . vh
        if (dg != NULL)
            dg[k] += (float) dotn;
        if (dv != NULL) {
            // dv = g/n * dw - g (dw.vh) / n^2 * v
            float *dvk = dv + (size_t) k * C;
            float a = (float) (gk / nrm);
            float b = (float) (gk * dotn / (nrm * nrm));
            for (int i = 0; i < C; i++)
                dvk[i] += a * dwk[i] - b * vk[i];
        }
    }
}
