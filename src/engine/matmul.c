/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * matmul.c: the only caller of cblas_sgemm in Dinolab. It provides the Linear layer
 * (forward, and backward as two transposed products plus a bias reduction), a strided
 * general product for kernels that work on slices of a tensor (attention heads), and
 * the one place where the BLAS thread count is set.
 *
 * It is not a BLAS: it knows nothing of batching or threads beyond handing the whole
 * product to OpenBLAS (pthread build), and it never allocates. Never call these from
 * inside another thread pool's parallel region: OpenBLAS threads would oversubscribe
 * the cores (STYLE.md, "BLAS and threads").
 */
#include <cblas.h>
#include <string.h>

#include <glib.h>

#include "kernels.h"

// ----------------------------------------------------------------------------
// helpers

/* Columns summed per pass when a reduction over rows is done in double; the stack
 * accumulator is MATMUL_CHUNK doubles (8 KiB, in L1), so nothing is allocated, and
 * every Linear of the tiny to ViT-S configurations is reduced in one pass over dout. */
#define MATMUL_CHUNK 1024

/* dbias[N] += sum over rows of dout[M,N], accumulated in double column chunk by
 * column chunk so the rows are still read contiguously. Four rows are added per load
 * and store of the accumulator, still in row order, so the sums are the same bits as
 * one row at a time. It reads all of dout once more after the two products, and the
 * conversions to double keep plain x86-64 code at two columns per instruction, so it
 * is compiled per ISA (as the GELU loops in kernels.c; there is no multiply here, so
 * no fused multiply-add can change a result). */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static void
bias_backward_ (float *dbias, const float *dout, int M, int N)
{
    double acc[MATMUL_CHUNK];

    for (int j0 = 0; j0 < N; j0 += MATMUL_CHUNK) {
        int nj = MIN (MATMUL_CHUNK, N - j0);
        int i = 0;

        memset (acc, 0, sizeof acc);
        for (; i + 4 <= M; i += 4) {
            const float *r0 = dout + (size_t) i * N + j0;
            const float *r1 = r0 + N, *r2 = r1 + N, *r3 = r2 + N;
            for (int j = 0; j < nj; j++)
                acc[j] = (((acc[j] + r0[j]) + r1[j]) + r2[j]) + r3[j];
        }
        for (; i < M; i++) {
            const float *row = dout + (size_t) i * N + j0;
            for (int j = 0; j < nj; j++)
                acc[j] += row[j];
        }
        for (int j = 0; j < nj; j++)
            dbias[j0 + j] += (float) acc[j];
    }
}

// ----------------------------------------------------------------------------
// general strided product

void
matmul_gemm (float *c, int ldc, const float *a, int lda, const float *b, int ldb,
             int trans_a, int trans_b, int M, int N, int K, float alpha, float beta)
{
    // c[M,N] (ldc); a[M,K] or [K,M] (lda); b[K,N] or [N,K] (ldb)
    g_assert (M >= 0 && N >= 0 && K >= 0);
    if (M == 0 || N == 0)
        return;
    g_assert (c != NULL && ldc >= N);
    if (K == 0) {
        // An empty sum: BLAS would reject lda = 0, and some builds skip the beta
        // scaling when K == 0, so do it here.
        for (int i = 0; i < M; i++) {
            float *row = c + (size_t) i * ldc;
            for (int j = 0; j < N; j++)
                row[j] = beta == 0.0f ? 0.0f : beta * row[j];
        }
        return;
    }
    g_assert (a != NULL && b != NULL);
    g_assert (lda >= (trans_a ? M : K) && ldb >= (trans_b ? K : N));
    cblas_sgemm (CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                 trans_b ? CblasTrans : CblasNoTrans,
                 M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

// ----------------------------------------------------------------------------
// Linear layer

void
matmul_forward (float *out, const float *inp, const float *weight, const float *bias,
                int M, int K, int N)
{
    // out[M,N], inp[M,K], weight[N,K], bias[N] or NULL
    float beta = 0.0f;

    g_assert (out != NULL && M >= 0 && K >= 0 && N >= 0);
    if (bias != NULL) {
        // Start every row from the bias and let BLAS add the product (beta = 1): one
        // pass over out instead of a second one after the product. This pass is not an
        // extra one: with beta = 0 OpenBLAS zeroes C in a pass of its own (sgemm_beta)
        // before it accumulates into it. Measured for issue #7 on the tiny shapes: bias
        // copy + beta 1, beta 0 alone, and beta 0 with the bias added in the residual
        // pass that follows all ran within 0.5 % of each other, and copying the bias in
        // L2-sized row blocks was slower (more, smaller products), so the Linear stays
        // whole here.
        for (int i = 0; i < M; i++)
            memcpy (out + (size_t) i * N, bias, (size_t) N * sizeof (float));
        beta = 1.0f;
    }
    // out = inp[M,K] @ weight[N,K]^T
    matmul_gemm (out, N, inp, K, weight, K, FALSE, TRUE, M, N, K, 1.0f, beta);
}

void
matmul_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                 const float *inp, const float *weight, int M, int K, int N)
{
    // dinp[M,K] =, dweight[N,K] +=, dbias[N] += (each may be NULL),
    // dout[M,N], inp[M,K], weight[N,K]
    g_assert (dout != NULL && M >= 0 && K >= 0 && N >= 0);
    // An activation's gradient has one producer here (kernels.h), so it is written:
    // beta = 0 and no zeroing pass by the caller. Parameter gradients accumulate.
    if (dinp != NULL)   // dinp[M,K] = dout[M,N] @ weight[N,K]
        matmul_gemm (dinp, K, dout, N, weight, K, FALSE, FALSE, M, K, N, 1.0f, 0.0f);
    if (dweight != NULL) // dweight[N,K] += dout[M,N]^T @ inp[M,K]
        matmul_gemm (dweight, K, dout, N, inp, K, TRUE, FALSE, N, K, M, 1.0f, 1.0f);
    if (dbias != NULL)
        bias_backward_ (dbias, dout, M, N);
}

// ----------------------------------------------------------------------------
// threads

void
dinolab_blas_set_threads (int n)
{
    // openblas_set_num_threads(0) would fall back to the count OpenBLAS read at start-up
    // (OPENBLAS_NUM_THREADS), not to "all cores", so resolve n <= 0 here. OpenBLAS caps
    // the value at its compiled MAX_THREADS itself.
    if (n <= 0)
        n = (int) g_get_num_processors ();
    openblas_set_num_threads (n);
}
