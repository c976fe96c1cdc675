/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-matmul.c: checks the BLAS wrapper (src/engine/matmul.c) against naive
 * double-precision triple loops: the Linear forward with and without bias, the three
 * backward products with every combination of NULL outputs and their semantics (dinp
 * written, never read; dweight and dbias accumulated),
 * the strided matmul_gemm in all four transpose cases, and the thread setter.
 * It does not test OpenBLAS itself beyond what the wrapper relies on.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include <glib.h>

#include "kernels.h"
#include "test-util.h"

/* float32 products of length <= 300 against a double reference: a few ulps of the
 * row sums; check_tensor's tolerance is relative to max(1, |want|). */
#define MATMUL_TOL 2e-5

typedef struct {
    int M, K, N;
} Shape;

/* 1-row, 1-column, 1-deep, odd sizes, row counts that are not a multiple of the four
 * rows the dbias reduction takes at a time, a dbias chunk boundary (N > 1024), and K = 0. */
static const Shape shapes[] = {
    { 1, 1, 1 }, { 1, 7, 5 }, { 5, 1, 3 }, { 3, 4, 1 }, { 7, 3, 5 },
    { 13, 17, 11 }, { 33, 64, 65 }, { 37, 19, 300 }, { 6, 3, 1030 }, { 2, 0, 3 },
};

static float *
new_uniform (size_t n, guint32 seed)
{
    float *x = g_new (float, MAX (n, 1));
    fill_uniform (x, n, seed, 1.0f);
    return x;
}

static void
fill_nan (float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
}

// ----------------------------------------------------------------------------
// naive references (double)

/* want[M,N] = inp[M,K] @ weight[N,K]^T + bias[N] */
static void
ref_linear (float *want, const float *inp, const float *weight, const float *bias,
            int M, int K, int N)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = bias != NULL ? bias[j] : 0.0;
            for (int k = 0; k < K; k++)
                s += (double) inp[i * K + k] * weight[j * K + k];
            want[i * N + j] = (float) s;
        }
}

/* the three gradients, added to whatever the want arrays hold */
static void
ref_linear_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int M, int K, int N)
{
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) {
            double s = 0.0;
            for (int j = 0; j < N; j++)
                s += (double) dout[i * N + j] * weight[j * K + k];
            dinp[i * K + k] = (float) s;
        }
    for (int j = 0; j < N; j++)
        for (int k = 0; k < K; k++) {
            double s = 0.0;
            for (int i = 0; i < M; i++)
                s += (double) dout[i * N + j] * inp[i * K + k];
            dweight[j * K + k] += (float) s;
        }
    for (int j = 0; j < N; j++) {
        double s = 0.0;
        for (int i = 0; i < M; i++)
            s += dout[i * N + j];
        dbias[j] += (float) s;
    }
}

// ----------------------------------------------------------------------------
// tests

static void
test_forward (void)
{
    for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
        int M = shapes[s].M, K = shapes[s].K, N = shapes[s].N;
        float *inp = new_uniform ((size_t) M * K, 1 + s);
        float *w = new_uniform ((size_t) N * K, 100 + s);
        float *b = new_uniform ((size_t) N, 200 + s);
        float *out = g_new (float, (size_t) M * N);
        float *want = g_new (float, (size_t) M * N);
        char label[64];

        for (int with_bias = 0; with_bias < 2; with_bias++) {
            const float *bias = with_bias ? b : NULL;
            fill_nan (out, (size_t) M * N);   // the old contents must never be read
            matmul_forward (out, inp, w, bias, M, K, N);
            ref_linear (want, inp, w, bias, M, K, N);
            g_snprintf (label, sizeof label, "forward M%d K%d N%d bias %d", M, K, N, with_bias);
            assert_tensor (label, out, want, (size_t) M * N, MATMUL_TOL);
        }
        g_free (inp); g_free (w); g_free (b); g_free (out); g_free (want);
    }
}

static void
test_backward (void)
{
    for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
        int M = shapes[s].M, K = shapes[s].K, N = shapes[s].N;
        size_t nin = (size_t) M * K, nw = (size_t) N * K, nout = (size_t) M * N;
        float *inp = new_uniform (nin, 11 + s);
        float *w = new_uniform (nw, 111 + s);
        float *dout = new_uniform (nout, 211 + s);
        /* prefilled gradients: dweight and dbias must become prefill + gradient (+=);
         * dinp is written, so it is prefilled with NaN whenever it is computed */
        float *pin = new_uniform (nin, 311 + s);
        float *pw = new_uniform (nw, 411 + s);
        float *pb = new_uniform ((size_t) N, 511 + s);
        float *want_in = g_new (float, MAX (nin, 1));
        float *want_w = g_new (float, MAX (nw, 1));
        float *want_b = g_new (float, (size_t) N);
        float *din = g_new (float, MAX (nin, 1));
        float *dw = g_new (float, MAX (nw, 1));
        float *db = g_new (float, (size_t) N);

        memcpy (want_w, pw, nw * sizeof (float));
        memcpy (want_b, pb, (size_t) N * sizeof (float));
        ref_linear_backward (want_in, want_w, want_b, dout, inp, w, M, K, N);

        // every combination of NULL gradient outputs (mask bit set = computed)
        for (int mask = 0; mask < 8; mask++) {
            char label[80];
            if (mask & 1)
                fill_nan (din, nin);
            else
                memcpy (din, pin, nin * sizeof (float));
            memcpy (dw, pw, nw * sizeof (float));
            memcpy (db, pb, (size_t) N * sizeof (float));
            matmul_backward ((mask & 1) ? din : NULL, (mask & 2) ? dw : NULL,
                             (mask & 4) ? db : NULL, dout, inp, w, M, K, N);
            g_snprintf (label, sizeof label, "dinp M%d K%d N%d mask %d", M, K, N, mask);
            assert_tensor (label, din, (mask & 1) ? want_in : pin, nin, MATMUL_TOL);
            g_snprintf (label, sizeof label, "dweight M%d K%d N%d mask %d", M, K, N, mask);
            assert_tensor (label, dw, (mask & 2) ? want_w : pw, nw, MATMUL_TOL);
            g_snprintf (label, sizeof label, "dbias M%d K%d N%d mask %d", M, K, N, mask);
            assert_tensor (label, db, (mask & 4) ? want_b : pb, (size_t) N, MATMUL_TOL);
        }

        // twice: dweight and dbias = prefill + 2 * gradient, dinp the gradient once
        fill_nan (din, nin);
        memcpy (dw, pw, nw * sizeof (float));
        memcpy (db, pb, (size_t) N * sizeof (float));
        matmul_backward (din, dw, db, dout, inp, w, M, K, N);
        matmul_backward (din, dw, db, dout, inp, w, M, K, N);
        for (size_t i = 0; i < nw; i++)
            want_w[i] = 2.0f * want_w[i] - pw[i];
        for (int i = 0; i < N; i++)
            want_b[i] = 2.0f * want_b[i] - pb[i];
        assert_tensor ("dinp written twice", din, want_in, nin, MATMUL_TOL);
        assert_tensor ("dweight twice", dw, want_w, nw, MATMUL_TOL);
        assert_tensor ("dbias twice", db, want_b, (size_t) N, MATMUL_TOL);

        g_free (inp); g_free (w); g_free (dout); g_free (pin); g_free (pw); g_free (pb);
        g_free (want_in); g_free (want_w); g_free (want_b);
        g_free (din); g_free (dw); g_free (db);
    }
}

/* matmul_gemm on strided storage: every transpose case, alpha/beta, padding columns
 * of c left untouched, beta == 0 never reading c. */
static void
test_gemm_strided (void)
{
    const int M = 5, N = 7, K = 6, pad = 3;
    const float alpha = 0.75f;

    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            for (int bz = 0; bz < 2; bz++) {
                float beta = bz ? 0.0f : -0.5f;
                int arows = ta ? K : M, acols = ta ? M : K;
                int brows = tb ? N : K, bcols = tb ? K : N;
                int lda = acols + pad, ldb = bcols + pad + 1, ldc = N + pad;
                float *a = new_uniform ((size_t) arows * lda, 7 + ta);
                float *b = new_uniform ((size_t) brows * ldb, 9 + tb);
                float *c = new_uniform ((size_t) M * ldc, 13);
                float *want = g_new (float, (size_t) M * ldc);
                char label[64];

                for (int i = 0; i < M; i++) {
                    for (int j = 0; j < ldc; j++) {
                        double s = 0.0;
                        if (j >= N) {          // padding: must stay as it was
                            want[i * ldc + j] = c[i * ldc + j];
                            continue;
                        }
                        for (int k = 0; k < K; k++) {
                            double av = ta ? a[k * lda + i] : a[i * lda + k];
                            double bv = tb ? b[j * ldb + k] : b[k * ldb + j];
                            s += av * bv;
                        }
                        want[i * ldc + j] = (float) (alpha * s + (bz ? 0.0 : beta * c[i * ldc + j]));
                    }
                }
                if (bz)   // beta = 0: the old values of c (NaN here) must not leak in
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++)
                            c[i * ldc + j] = NAN;
                matmul_gemm (c, ldc, a, lda, b, ldb, ta, tb, M, N, K, alpha, beta);
                g_snprintf (label, sizeof label, "gemm ta%d tb%d beta %g", ta, tb, beta);
                assert_tensor (label, c, want, (size_t) M * ldc, MATMUL_TOL);
                g_free (a); g_free (b); g_free (c); g_free (want);
            }
        }
    }
}

static void
test_threads (void)
{
    int nproc = (int) g_get_num_processors ();

    dinolab_blas_set_threads (1);
    g_assert_cmpint (openblas_get_num_threads (), ==, 1);
    dinolab_blas_set_threads (0);   // all cores (OpenBLAS caps at its MAX_THREADS)
    g_assert_cmpint (openblas_get_num_threads (), >=, 1);
    g_assert_cmpint (openblas_get_num_threads (), <=, nproc);
    if (nproc <= 64)
        g_assert_cmpint (openblas_get_num_threads (), ==, nproc);
    g_test_message ("threads: n <= 0 gave %d (nproc %d)", openblas_get_num_threads (), nproc);

    // products still agree with the reference when threaded
    test_forward ();
    dinolab_blas_set_threads (1);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/matmul/forward", test_forward);
    g_test_add_func ("/matmul/backward", test_backward);
    g_test_add_func ("/matmul/gemm-strided", test_gemm_strided);
    g_test_add_func ("/matmul/threads", test_threads);
    return g_test_run ();
}
