/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * kernels.h: the engine's private layer kernels, forward and backward, over flat
 * row-major float32 arrays (llm.c style: no tensor type, no autograd).
 *
 * Conventions, shared by every function here:
 * - arguments go outputs, then inputs, then weights, then dimensions;
 * - each declaration (and each definition in kernels.c / matmul.c) states the shape of
 *   every pointer;
 * - gradients w.r.t. PARAMETERS (dweight, dbias, dv, dg, dsrc) are ACCUMULATED (+=):
 *   the head and the backbone passes of a step all add into one gradient block, which
 *   the caller zeroes once per step;
 * - gradients w.r.t. ACTIVATIONS are WRITTEN (=) wherever the activation has a single
 *   consumer in the network (matmul_backward's dinp, gelu_backward, residual_backward,
 *   attention_backward, l2norm_backward), so no caller has to zero them first. The
 *   exception is layernorm_backward, which ACCUMULATES into dinp: in a pre-norm ViT
 *   its input is the residual stream, whose gradient is the sum of the skip path
 *   (already in the buffer) and the branch. Each declaration says which it does;
 * - gradient outputs marked "may be NULL" are skipped;
 * - nothing here allocates, prints or exits: these run in the training hot path. Bad
 *   dimensions are programming errors and hit g_assert;
 * - long reductions (means, variances, softmax sums, norms, bias and LayerNorm weight
 *   gradients summed over rows) are accumulated in double.
 *
 * This is not a public API (include/dinolab/ is): model.c, head.c and eval.c call it.
 * matmul.c is the only file that calls cblas_sgemm; kernels.c reaches BLAS through
 * matmul_gemm() below.
 */
#pragma once

#include <stddef.h>

// ----------------------------------------------------------------------------
// matmul.c: the BLAS wrapper

/* out[M,N] = inp[M,K] @ weight[N,K]^T + bias[N]  (PyTorch Linear; weight stored [out][in]).
 * bias may be NULL. Overwrites out (its old contents, even NaN, are never read). */
void matmul_forward (float *out, const float *inp, const float *weight, const float *bias,
                     int M, int K, int N);

/* Backward of matmul_forward, given dout[M,N]:
 *   dinp[M,K]     = dout @ weight          (weight[N,K]; WRITTEN, old contents never read)
 *   dweight[N,K] += dout^T @ inp           (inp[M,K])
 *   dbias[N]     += column sums of dout    (summed in double)
 * dinp, dweight and dbias may each be NULL. */
void matmul_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                      const float *inp, const float *weight, int M, int K, int N);

/* General strided product, row-major, for kernels that work on slices (attention heads):
 *   c[M,N] (leading dim ldc) = alpha * op(a) @ op(b) + beta * c
 * op(a) is [M,K]: a is stored [M,K] (lda >= K) or, when trans_a, [K,M] (lda >= M);
 * op(b) is [K,N]: b is stored [K,N] (ldb >= N) or, when trans_b, [N,K] (ldb >= K).
 * beta == 0 means c is only written, never read. K == 0 gives c = beta * c. */
void matmul_gemm (float *c, int ldc, const float *a, int lda, const float *b, int ldb,
                  int trans_a, int trans_b, int M, int N, int K, float alpha, float beta);

/* Sets the OpenBLAS thread count for every later product (openblas_set_num_threads).
 * n <= 0 means one thread per online processor (g_get_num_processors, not the
 * OPENBLAS_NUM_THREADS value read at start-up). Call it once, from the thread that
 * drives training, never while a product runs. */
void dinolab_blas_set_threads (int n);

// ----------------------------------------------------------------------------
// kernels.c: LayerNorm

/* LayerNorm over the last dim, eps 1e-6 (DINO.md 1.5), biased variance as PyTorch.
 * out[N,C], mean[N], rstd[N] (saved for backward; both may be NULL for inference),
 * inp[N,C], weight[C], bias[C]. */
void layernorm_forward (float *out, float *mean, float *rstd, const float *inp,
                        const float *weight, const float *bias, int N, int C);

/* One row of the LayerNorm output from saved statistics: out = (inp - mean) * rstd * weight
 * + bias. layernorm_forward produces its output exactly this way, so a backward pass may
 * recompute the normalised activations instead of keeping them. */
void layernorm_apply (float *out, const float *inp, float mean, float rstd,
                      const float *weight, const float *bias, int C);

/* dinp[N,C] += (ACCUMULATES: the residual stream's gradient), dweight[C] +=, dbias[C] +=
 * (each may be NULL); dout[N,C], inp[N,C], weight[C], mean[N], rstd[N] from
 * layernorm_forward. dinp must not alias dout. */
void layernorm_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight, const float *mean,
                         const float *rstd, int N, int C);

// ----------------------------------------------------------------------------
// kernels.c: GELU (exact erf form, nn.GELU's default; not the tanh approximation)

/* out[n] = 0.5 * x * (1 + erf(x / sqrt(2))), inp[n]. out may alias inp. */
void gelu_forward (float *out, const float *inp, size_t n);

/* dinp[n] = dout[n] * GELU'(inp[n]) (WRITTEN), GELU'(x) = Phi(x) + x * phi(x).
 * dinp may alias dout. */
void gelu_backward (float *dinp, const float *inp, const float *dout, size_t n);

// ----------------------------------------------------------------------------
// kernels.c: residual add with per-sample drop-path scale (DINO.md 1.5)

/* out[B,S] = inp[B,S] + scale[b] * branch[B,S]  (S = elements per sample, e.g. T*C).
 * scale[B] == NULL means 1 everywhere; a dropped sample has scale 0, a kept one
 * 1/keep_prob. out may alias inp (in place on the residual stream). */
void residual_forward (float *out, const float *inp, const float *branch, const float *scale,
                       int B, size_t S);

/* dbranch[B,S] = scale[b] * dout[B,S] (WRITTEN; a dropped sample gets zeros); scale
 * NULL means 1, a plain copy, which a caller can skip by reading dout itself. The
 * input's gradient is dout unchanged: on the usual in-place residual stream, inp and out
 * share one gradient buffer, so it is already there. */
void residual_backward (float *dbranch, const float *dout, const float *scale, int B, size_t S);

// ----------------------------------------------------------------------------
// kernels.c: multi-head self-attention core (after the qkv Linear, before proj)

/* qkv[B,T,3C] with C = NH*hd, features ordered [q | k | v] and head h owning features
 * h*hd .. h*hd+hd-1 inside each third (the layout of blocks.i.attn.qkv.weight rows).
 * att[B,NH,T,T] receives softmax_keys(q k^T / sqrt(hd)) (stable: row max subtracted);
 * out[B,T,C] = P @ v, heads concatenated in order. One BLAS product per (b,h) on
 * strided slices; no copies. */
void attention_forward (float *out, float *att, const float *qkv, int B, int T, int NH, int hd);

/* dqkv[B,T,3C] = gradients of q, k and v (WRITTEN: every element belongs to exactly one
 * head's q, k or v slice); datt_scratch[T,T] is scratch (one head at a time, contents
 * undefined on return); dout[B,T,C], qkv[B,T,3C], att[B,NH,T,T] from attention_forward. */
void attention_backward (float *dqkv, float *datt_scratch, const float *dout, const float *qkv,
                         const float *att, int B, int T, int NH, int hd);

// ----------------------------------------------------------------------------
// kernels.c: patch embedding as im2col (then matmul_forward does the convolution)

/* img[B,C,H,W] -> cols[B, gh*gw, C*p*p] with gh = H/p, gw = W/p (integer division:
 * trailing rows/columns that do not fill a patch are ignored, as a stride-p Conv2d
 * without padding does). Patches are row-major over the grid (patch row slowest); a
 * column vector is ordered channel, kernel row, kernel column, i.e. the layout of
 * patch_embed.proj.weight [D,C,p,p], so
 *   matmul_forward(tokens, cols, weight, bias, B*gh*gw, C*p*p, D)
 * is the convolution. No backward: images need no gradient. */
void im2col_patches (float *cols, const float *img, int B, int C, int H, int W, int p);

// ----------------------------------------------------------------------------
// kernels.c: positional-embedding interpolation (DINO's interpolate_pos_encoding)

/* src[g*g, D] (the N0 = g*g patch vectors of pos_embed, without the CLS vector; grid
 * row-major) -> dst[h0*w0, D], PyTorch bicubic with scale_factor = ((h0+0.1)/g,
 * (w0+0.1)/g) and align_corners = False: output row i samples source row
 *   y = (i + 0.5) * g/(h0+0.1) - 0.5   (not clamped at 0: cubic mode)
 * with Keys' cubic (A = -0.75) on the 4 taps floor(y)-1 .. floor(y)+2, reads clamped to
 * the border; columns the same with w0. For 14 -> 6 the positions are 0.6475, 2.9426,
 * 5.2377, ... (not 0.667, 3.0, 5.333). When h0 == g and w0 == g this is a plain copy,
 * as the reference skips the interpolation then (if only one side equals g, both axes
 * are still resampled, with the +0.1 scale). Coordinates and sums in double. */
void pos_interp_forward (float *dst, const float *src, int g, int h0, int w0, int D);

/* dsrc[g*g, D] += A^T ddst[h0*w0, D], the exact adjoint of pos_interp_forward. */
void pos_interp_backward (float *dsrc, const float *ddst, int g, int h0, int w0, int D);

// ----------------------------------------------------------------------------
// kernels.c: DINO head pieces

/* Row-wise L2 normalisation (F.normalize, the head's bottleneck):
 * out[N,C] = inp / max(||inp_row||, 1e-12); norm[N] = ||inp_row|| (unclamped; may be NULL
 * for inference). out may alias inp. */
void l2norm_forward (float *out, float *norm, const float *inp, int N, int C);

/* dinp[N,C] = (dout - y (y.dout)) / ||x|| (WRITTEN) with y = x/||x|| when ||x|| >= 1e-12,
 * else dout / 1e-12 (the clamp is active and constant). dout[N,C], inp[N,C], norm[N] from
 * l2norm_forward. dinp must not alias dout. */
void l2norm_backward (float *dinp, const float *dout, const float *inp, const float *norm,
                      int N, int C);

/* PyTorch weight_norm with dim 0 (head.last_layer): w[K,C] = g[k] * v[k,:] / ||v[k,:]||,
 * vnorm[K] = ||v[k,:]|| saved for backward; v[K,C] (weight_v), g[K] (weight_g, stored
 * [K,1]). g == NULL means g = 1 (norm_last_layer = True: frozen at 1). As in PyTorch
 * there is no epsilon: an all-zero row gives NaN. */
void weightnorm_forward (float *w, float *vnorm, const float *v, const float *g, int K, int C);

/* Given dw[K,C]: dv[K,C] += g/||v|| * (dw - (dw.vh) vh), dg[K] += dw.vh, vh = v/||v||.
 * dv and dg may be NULL (dg is NULL when weight_g is frozen); g == NULL means 1. */
void weightnorm_backward (float *dv, float *dg, const float *dw, const float *v, const float *g,
                          const float *vnorm, int K, int C);
