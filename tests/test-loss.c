/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-loss.c: checks the DINO loss, its diagnostics, its gradient and the centre update.
 *
 * The yardstick is a plain double-precision implementation written here from DINO.md 4 and
 * 8.1 (naive loops, softmax and log_softmax per row, explicit pair loop), sharing no code
 * with src/engine/loss.c. The gradient is checked against central finite differences of
 * that reference and of dinolab_loss_compute() itself, and against hand-computed values
 * (uniform logits give ln K and a zero gradient, a one-hot teacher an entropy of ~0).
 * It is not a speed test.
 */
#include <math.h>
#include <string.h>

#include "dinolab/loss.h"
#include "test-util.h"

// ----------------------------------------------------------------------------
// independent double-precision reference

typedef struct {
    double loss, teacher_entropy, kl, student_entropy;
} RefStats;

typedef struct {
    int V, B, K;
    double *q;   /* [2B, K] teacher softmax */
    double *lp;  /* [VB, K] student log_softmax */
} Ref;

static void
ref_init (Ref *r, int V, int B, int K)
{
    r->V = V;
    r->B = B;
    r->K = K;
    r->q = g_new (double, (size_t) 2 * B * K);
    r->lp = g_new (double, (size_t) V * B * K);
}

static void
ref_clear (Ref *r)
{
    g_free (r->q);
    g_free (r->lp);
}

/* softmax(x / tau) of one row into out, or log_softmax when want_log. */
static void
ref_softmax_row (double *out, const double *x, int K, double tau, gboolean want_log)
{
    double mx = -INFINITY, sum = 0.0;
    for (int k = 0; k < K; k++)
        mx = fmax (mx, x[k] / tau);
    for (int k = 0; k < K; k++)
        sum += exp (x[k] / tau - mx);
    for (int k = 0; k < K; k++)
        out[k] = want_log ? x[k] / tau - mx - log (sum) : exp (x[k] / tau - mx) / sum;
}

static RefStats
ref_dino (Ref *r, const double *s, const double *t, const double *c, double tau_s, double tau_t)
{
    const int V = r->V, B = r->B, K = r->K;
    RefStats st = { 0 };
    double *u = g_new (double, K);
    double total = 0.0, hq = 0.0, hp = 0.0;
    int n_terms = 0;

    for (int row = 0; row < 2 * B; row++) {
        for (int k = 0; k < K; k++)
            u[k] = t[(size_t) row * K + k] - (c != NULL ? c[k] : 0.0);
        ref_softmax_row (r->q + (size_t) row * K, u, K, tau_t, FALSE);
    }
    for (int row = 0; row < V * B; row++)
        ref_softmax_row (r->lp + (size_t) row * K, s + (size_t) row * K, K, tau_s, TRUE);

    /* the DINOLoss loop: teacher view iq, student view v, skip v == iq */
    for (int iq = 0; iq < 2; iq++) {
        for (int v = 0; v < V; v++) {
            double term = 0.0;
            if (v == iq)
                continue;
            for (int b = 0; b < B; b++) {
                const double *q = r->q + (size_t) (iq * B + b) * K;
                const double *lp = r->lp + (size_t) (v * B + b) * K;
                double ce = 0.0;
                for (int k = 0; k < K; k++)
                    ce -= q[k] * lp[k];
                term += ce;
            }
            total += term / B;  /* mean over the batch */
            n_terms++;
        }
    }
    g_assert_cmpint (n_terms, ==, 2 * (V - 1));
    st.loss = total / n_terms;

    for (int row = 0; row < 2 * B; row++)
        for (int k = 0; k < K; k++) {
            double q = r->q[(size_t) row * K + k];
            if (q > 0.0)
                hq -= q * log (q);
        }
    st.teacher_entropy = hq / (2 * B);
    st.kl = st.loss - st.teacher_entropy;

    for (int row = 0; row < V * B; row++)
        for (int k = 0; k < K; k++) {
            double lp = r->lp[(size_t) row * K + k];
            hp -= exp (lp) * lp;
        }
    st.student_entropy = hp / (V * B);
    g_free (u);
    return st;
}

static double *
to_double (const float *x, size_t n)
{
    double *y = g_new (double, n);
    for (size_t i = 0; i < n; i++)
        y[i] = x[i];
    return y;
}

// ----------------------------------------------------------------------------
// random cases vs the reference and finite differences

typedef struct {
    int V, B, K;
    gboolean center;
    float tau_s, tau_t;
    guint32 seed;
} Case;

static void
run_case (const Case *cs)
{
    const int V = cs->V, B = cs->B, K = cs->K;
    const size_t ns = (size_t) V * B * K, nt = (size_t) 2 * B * K;
    float *s = g_new (float, ns), *t = g_new (float, nt), *c = g_new (float, K);
    float *ds = g_new (float, ns), *scratch = g_new (float, ns);
    float *fd_ref = g_new (float, ns), *fd_own = g_new (float, ns);
    const float *cp = cs->center ? c : NULL;
    double *sd, *td, *cd;
    DinolabLoss *loss = dinolab_loss_new (V, B, K);
    DinolabLossStats st;
    RefStats rs;
    Ref ref;
    double max_err_stats = 0.0;

    g_test_message ("case V=%d B=%d K=%d center=%d tau_s=%g tau_t=%g", V, B, K, cs->center,
                    cs->tau_s, cs->tau_t);
    fill_uniform (s, ns, cs->seed, 1.0f);       /* cosine-like logits */
    fill_uniform (t, nt, cs->seed + 1, 1.0f);
    fill_uniform (c, K, cs->seed + 2, 0.3f);
    for (size_t i = 0; i < ns; i++)
        ds[i] = NAN;                             /* must be overwritten, not accumulated */
    sd = to_double (s, ns);
    td = to_double (t, nt);
    cd = cs->center ? to_double (c, K) : NULL;

    g_assert_true (dinolab_loss_compute (loss, &st, ds, s, t, cp, cs->tau_s, cs->tau_t));
    ref_init (&ref, V, B, K);
    rs = ref_dino (&ref, sd, td, cd, cs->tau_s, cs->tau_t);

    g_test_message ("  loss %.9f (ref %.9f)  h_t %.9f (ref %.9f)  kl %.9f (ref %.9f)  h_s %.9f (ref %.9f)",
                    st.loss, rs.loss, st.teacher_entropy, rs.teacher_entropy, st.kl, rs.kl,
                    st.student_entropy, rs.student_entropy);
    max_err_stats = fmax (max_err_stats, fabs (st.loss - rs.loss));
    max_err_stats = fmax (max_err_stats, fabs (st.teacher_entropy - rs.teacher_entropy));
    max_err_stats = fmax (max_err_stats, fabs (st.kl - rs.kl));
    max_err_stats = fmax (max_err_stats, fabs (st.student_entropy - rs.student_entropy));
    g_test_message ("  stats max abs diff vs reference %.3g", max_err_stats);
    g_assert_cmpfloat (max_err_stats, <, 1e-6);
    g_assert_cmpfloat (fabs (st.kl - (st.loss - st.teacher_entropy)), <, 1e-12);
    g_assert_cmpfloat (st.kl, >, 0.0);  /* random teacher and student differ */

    /* central differences of the double reference, h = 1e-5 */
    for (size_t j = 0; j < ns; j++) {
        const double h = 1e-5, s0 = sd[j];
        double lp, lm;
        sd[j] = s0 + h;
        lp = ref_dino (&ref, sd, td, cd, cs->tau_s, cs->tau_t).loss;
        sd[j] = s0 - h;
        lm = ref_dino (&ref, sd, td, cd, cs->tau_s, cs->tau_t).loss;
        sd[j] = s0;
        fd_ref[j] = (float) ((lp - lm) / (2 * h));
    }
    /* central differences of dinolab_loss_compute on float inputs, h ~ 1e-3; the step
     * actually taken is measured after rounding to float */
    for (size_t j = 0; j < ns; j++) {
        const float s0 = s[j];
        const float sp = s0 + 1e-3f, sm = s0 - 1e-3f;
        DinolabLossStats a, b;
        s[j] = sp;
        g_assert_true (dinolab_loss_compute (loss, &a, scratch, s, t, cp, cs->tau_s, cs->tau_t));
        s[j] = sm;
        g_assert_true (dinolab_loss_compute (loss, &b, scratch, s, t, cp, cs->tau_s, cs->tau_t));
        s[j] = s0;
        fd_own[j] = (float) ((a.loss - b.loss) / ((double) sp - (double) sm));
    }
    assert_tensor ("dstudent vs FD(double reference)", ds, fd_ref, ns, 2e-6);
    assert_tensor ("dstudent vs FD(dinolab_loss_compute)", ds, fd_own, ns, 2e-4);

    /* each gradient row sums to 0: n_v sum p - sum_i sum q = n_v - n_v */
    for (int row = 0; row < V * B; row++) {
        double sum = 0.0;
        for (int k = 0; k < K; k++)
            sum += ds[(size_t) row * K + k];
        g_assert_cmpfloat (fabs (sum), <, 1e-6);
    }

    ref_clear (&ref);
    dinolab_loss_free (loss);
    g_free (sd); g_free (td); g_free (cd);
    g_free (s); g_free (t); g_free (c); g_free (ds); g_free (scratch);
    g_free (fd_ref); g_free (fd_own);
}

static void
test_loss_vs_reference (void)
{
    static const Case cases[] = {
        { 4, 3, 7, TRUE,  0.1f, 0.04f, 11 },  /* 2 locals, centred, sharpened */
        { 4, 3, 7, FALSE, 0.1f, 0.1f,  21 },  /* no centering, no sharpening */
        { 2, 2, 5, TRUE,  0.1f, 0.07f, 31 },  /* n_local = 0: V = 2, 2 pairs */
        { 2, 1, 9, FALSE, 0.1f, 0.04f, 41 },  /* n_local = 0, B = 1 */
        { 3, 1, 6, TRUE,  0.2f, 0.05f, 51 },  /* 1 local */
        { 10, 2, 4, TRUE, 0.1f, 0.04f, 61 },  /* the default 8 locals: 18 pairs */
    };
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
        run_case (&cases[i]);
}

// ----------------------------------------------------------------------------
// hand-computed values

static void
test_loss_uniform (void)
{
    /* Equal logits in every row: q and p are uniform, so every cross-entropy is ln K,
     * h(q) = h(p) = ln K, KL = 0 and d loss / d s = (n_v/K - n_v/K) = 0. Same with a center
     * that is constant over K (softmax is shift-invariant). */
    const int V = 4, B = 2;
    const int Ks[] = { 1024, 65536 };
    for (guint n = 0; n < G_N_ELEMENTS (Ks); n++) {
        const int K = Ks[n];
        const size_t ns = (size_t) V * B * K, nt = (size_t) 2 * B * K;
        float *s = g_new (float, ns), *t = g_new (float, nt), *c = g_new (float, K);
        float *ds = g_new (float, ns);
        DinolabLoss *loss = dinolab_loss_new (V, B, K);
        DinolabLossStats st;
        double max_g = 0.0;

        for (size_t i = 0; i < ns; i++)
            s[i] = 0.37f;
        for (size_t i = 0; i < nt; i++)
            t[i] = -0.81f;
        for (int k = 0; k < K; k++)
            c[k] = 0.25f;
        g_assert_true (dinolab_loss_compute (loss, &st, ds, s, t, c, 0.1f, 0.04f));
        for (size_t i = 0; i < ns; i++)
            max_g = fmax (max_g, fabs (ds[i]));
        g_test_message ("uniform K=%d: loss %.12f ln K %.12f  h_t %.12f  kl %.3g  h_s %.12f  max|grad| %.3g",
                        K, st.loss, log (K), st.teacher_entropy, st.kl, st.student_entropy, max_g);
        g_assert_cmpfloat (fabs (st.loss - log (K)), <, 1e-9);
        g_assert_cmpfloat (fabs (st.teacher_entropy - log (K)), <, 1e-9);
        g_assert_cmpfloat (fabs (st.student_entropy - log (K)), <, 1e-9);
        g_assert_cmpfloat (fabs (st.kl), <, 1e-9);
        g_assert_cmpfloat (max_g, <, 1e-12);
        if (K == 65536)
            g_assert_cmpfloat (fabs (st.loss - 11.0904), <, 1e-4);  /* DINO.md 4 */

        dinolab_loss_free (loss);
        g_free (s); g_free (t); g_free (c); g_free (ds);
    }
}

static void
test_loss_one_hot_teacher (void)
{
    /* Teacher rows: +1 at one index, -1 elsewhere; tau_t = 0.04 gives a gap of 50, so
     * q = [1, x, x, ...]/(1 + (K-1)x) with x = e^-50 and
     *   h(q) = ln(1 + (K-1)x) + 50 (K-1) x / (1 + (K-1)x)  ~ 51 (K-1) e^-50 ~ 1e-18. */
    const int V = 2, B = 2, K = 64;
    const size_t ns = (size_t) V * B * K, nt = (size_t) 2 * B * K;
    float *s = g_new (float, ns), *t = g_new (float, nt), *ds = g_new (float, ns);
    DinolabLoss *loss = dinolab_loss_new (V, B, K);
    DinolabLossStats st;
    const double gap = 2.0 / (double) 0.04f;  /* the float temperature the engine gets */
    const double x = exp (-gap);
    const double h_want = log1p ((K - 1) * x) + gap * (K - 1) * x / (1.0 + (K - 1) * x);
    double ce_want;

    for (size_t i = 0; i < nt; i++)
        t[i] = -1.0f;
    for (int r = 0; r < 2 * B; r++)
        t[(size_t) r * K + (size_t) (3 * r + 1)] = 1.0f;
    fill_uniform (s, ns, 7, 1.0f);
    g_assert_true (dinolab_loss_compute (loss, &st, ds, s, t, NULL, 0.1f, 0.04f));
    g_test_message ("one-hot teacher: h_t %.6g (closed form %.6g), kl %.6f = loss %.6f",
                    st.teacher_entropy, h_want, st.kl, st.loss);
    g_assert_cmpfloat (st.teacher_entropy, <, 1e-15);
    g_assert_cmpfloat (fabs (st.teacher_entropy - h_want), <, 1e-9 * h_want);
    g_assert_cmpfloat (fabs (st.kl - st.loss), <, 1e-15);

    /* With q one-hot, the loss is the mean over the 2 pairs of -ln p_v[hot index of the
     * other view's teacher row]: computed by hand with a per-row log-sum-exp. */
    ce_want = 0.0;
    for (int v = 0; v < 2; v++)
        for (int b = 0; b < B; b++) {
            int tr = (1 - v) * B + b;  /* the other global view's teacher row */
            const float *sr = s + (size_t) (v * B + b) * K;
            double lse = 0.0;
            for (int k = 0; k < K; k++)
                lse += exp (sr[k] / 0.1);
            ce_want += log (lse) - sr[3 * tr + 1] / 0.1;
        }
    ce_want /= 2 * B;
    g_test_message ("one-hot teacher: loss %.9f, hand %.9f", st.loss, ce_want);
    g_assert_cmpfloat (fabs (st.loss - ce_want), <, 1e-5);

    dinolab_loss_free (loss);
    g_free (s); g_free (t); g_free (ds);
}

static void
test_loss_non_finite (void)
{
    const int V = 3, B = 2, K = 8;
    const size_t ns = (size_t) V * B * K, nt = (size_t) 2 * B * K;
    float *s = g_new (float, ns), *t = g_new (float, nt), *ds = g_new (float, ns);
    DinolabLoss *loss = dinolab_loss_new (V, B, K);
    DinolabLossStats st;

    fill_uniform (s, ns, 3, 1.0f);
    fill_uniform (t, nt, 4, 1.0f);
    g_assert_true (dinolab_loss_compute (loss, NULL, ds, s, t, NULL, 0.1f, 0.04f));

    s[5 * K + 2] = NAN;
    g_assert_false (dinolab_loss_compute (loss, &st, ds, s, t, NULL, 0.1f, 0.04f));
    g_assert_true (isnan (st.loss));
    s[5 * K + 2] = 0.5f;

    t[K + 1] = INFINITY;
    g_assert_false (dinolab_loss_compute (loss, &st, ds, s, t, NULL, 0.1f, 0.04f));
    g_assert_false (isfinite (st.loss));
    t[K + 1] = 0.5f;
    g_assert_true (dinolab_loss_compute (loss, &st, ds, s, t, NULL, 0.1f, 0.04f));

    g_assert_cmpint (dinolab_loss_get_n_views (loss), ==, V);
    g_assert_cmpint (dinolab_loss_get_batch (loss), ==, B);
    g_assert_cmpint (dinolab_loss_get_out_dim (loss), ==, K);

    dinolab_loss_free (loss);
    g_free (s); g_free (t); g_free (ds);
}

// ----------------------------------------------------------------------------
// K = 65536, realistic sizes: vs the reference and the closed-form gradient

static void
test_loss_large (void)
{
    const int V = 4, B = 2, K = 65536;
    const size_t ns = (size_t) V * B * K, nt = (size_t) 2 * B * K;
    float *s = g_new (float, ns), *t = g_new (float, nt), *c = g_new (float, K);
    float *ds = g_new (float, ns), *want = g_new (float, ns);
    double *sd, *td, *cd;
    DinolabLoss *loss = dinolab_loss_new (V, B, K);
    DinolabLossStats st;
    RefStats rs;
    Ref ref;
    const double T = 2.0 * (V - 1);

    fill_uniform (s, ns, 101, 1.0f);
    fill_uniform (t, nt, 102, 1.0f);
    fill_uniform (c, K, 103, 0.1f);
    sd = to_double (s, ns);
    td = to_double (t, nt);
    cd = to_double (c, K);
    g_assert_true (dinolab_loss_compute (loss, &st, ds, s, t, c, 0.1f, 0.04f));
    ref_init (&ref, V, B, K);
    rs = ref_dino (&ref, sd, td, cd, 0.1, 0.04);
    g_test_message ("K=65536: loss %.9f (ref %.9f) h_t %.9f (ref %.9f) kl %.9f h_s %.9f (ref %.9f)",
                    st.loss, rs.loss, st.teacher_entropy, rs.teacher_entropy, st.kl,
                    st.student_entropy, rs.student_entropy);
    g_assert_cmpfloat (fabs (st.loss - rs.loss), <, 1e-6);
    g_assert_cmpfloat (fabs (st.teacher_entropy - rs.teacher_entropy), <, 1e-6);
    g_assert_cmpfloat (fabs (st.student_entropy - rs.student_entropy), <, 1e-6);
    g_assert_cmpfloat (fabs (st.kl - rs.kl), <, 1e-6);

    /* closed form from the reference's q and p (too many entries for finite differences) */
    for (int v = 0; v < V; v++)
        for (int b = 0; b < B; b++)
            for (int k = 0; k < K; k++) {
                size_t row = (size_t) (v * B + b);
                double g = 0.0;
                for (int iq = 0; iq < 2; iq++)
                    if (iq != v)
                        g += exp (ref.lp[row * K + k]) - ref.q[(size_t) (iq * B + b) * K + k];
                want[row * K + k] = (float) (g / (T * B * 0.1));
            }
    assert_tensor ("dstudent K=65536 vs closed form", ds, want, ns, 1e-7);

    ref_clear (&ref);
    dinolab_loss_free (loss);
    g_free (sd); g_free (td); g_free (cd);
    g_free (s); g_free (t); g_free (c); g_free (ds); g_free (want);
}

// ----------------------------------------------------------------------------
// centre update

static void
test_center_update (void)
{
    /* c <- m c + (1 - m) * mean over rows; K larger than one internal block. */
    const int rows = 6, K = 1100;
    float *c = g_new (float, K), *t = g_new (float, (size_t) rows * K), *want = g_new (float, K);

    fill_uniform (c, K, 5, 0.5f);
    fill_uniform (t, (size_t) rows * K, 6, 1.0f);
    for (int k = 0; k < K; k++) {
        double mean = 0.0;
        for (int r = 0; r < rows; r++)
            mean += t[(size_t) r * K + k];
        mean /= rows;
        want[k] = (float) (0.9 * c[k] + 0.1 * mean);
    }
    dinolab_center_update (c, t, rows, K, 0.9f);
    assert_tensor ("center m=0.9", c, want, K, 1e-6);

    /* m = 0: the centre becomes the batch mean; a constant teacher gives that constant */
    for (size_t i = 0; i < (size_t) rows * K; i++)
        t[i] = 2.5f;
    dinolab_center_update (c, t, rows, K, 0.0f);
    for (int k = 0; k < K; k++)
        g_assert_cmpfloat (c[k], ==, 2.5f);

    /* two updates from 0 with a constant batch mean a: c = (1 - m^2) a */
    memset (c, 0, sizeof (float) * K);
    dinolab_center_update (c, t, rows, K, 0.9f);
    dinolab_center_update (c, t, rows, K, 0.9f);
    for (int k = 0; k < K; k++)
        g_assert_cmpfloat (fabs (c[k] - 0.19 * 2.5), <, 1e-6);

    g_free (c); g_free (t); g_free (want);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/loss/reference", test_loss_vs_reference);
    g_test_add_func ("/loss/uniform", test_loss_uniform);
    g_test_add_func ("/loss/one-hot-teacher", test_loss_one_hot_teacher);
    g_test_add_func ("/loss/non-finite", test_loss_non_finite);
    g_test_add_func ("/loss/large", test_loss_large);
    g_test_add_func ("/loss/center", test_center_update);
    return g_test_run ();
}
