/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * loss.c: the DINO cross-entropy between the sharpened, centred teacher and the student
 * over all (global teacher view, other student view) pairs, its gradient w.r.t. the student
 * logits, the collapse diagnostics (teacher entropy, KL, student entropy) and the centre EMA.
 *
 * It is one pass over the logits: the teacher targets q[2B,K] are computed once into a
 * buffer owned by the DinolabLoss object; each student row then needs three sweeps over K
 * (max, exp + sum, cross-entropies + gradient), and the exponentials of the second sweep are
 * parked in the caller's dstudent row, which the third sweep overwrites with the gradient.
 * Nothing is allocated per call. Sums, log-sum-exps and accumulations are in double; the
 * stored probabilities and the gradient are float.
 *
 * It is not the trainer: temperatures come in already scheduled, and the centre is only
 * updated when the caller asks (after the loss, DINO.md 5.3).
 *
 * Gradient (derivation). For one pair (i, v) and one sample, with z = s_v / tau_s and
 * ln p_v = z - lse(z):  H(q_i, p_v) = -sum_k q_i[k] (z_k - lse(z)) = lse(z) - sum_k q_i[k] z_k
 * (sum_k q_i[k] = 1), so dH/dz = p_v - q_i and dH/ds_v = (p_v - q_i) / tau_s. The loss is the
 * mean over T = 2(V-1) pairs and B samples; student view v appears in n_v pairs (n_v = 1 for
 * the two globals, which skip their own teacher view; n_v = 2 for locals), hence
 *   dL/ds_v[b] = (n_v p_v[b] - sum_{i in {0,1}, i != v} q_i[b]) / (T * B * tau_s).
 */
#include "dinolab/loss.h"

#include <math.h>
#include <string.h>

struct DinolabLoss {
    int    n_views;  /* V = 2 + n_local */
    int    batch;    /* B */
    int    out_dim;  /* K */
    float *q;        /* [2*B, K] teacher targets softmax((t - c) / tau_t) */
};

// ----------------------------------------------------------------------------
// object

DinolabLoss *
dinolab_loss_new (int n_views,
                  int batch,
                  int out_dim)
{
    DinolabLoss *loss;

    g_return_val_if_fail (n_views >= 2, NULL);
    g_return_val_if_fail (batch >= 1, NULL);
    g_return_val_if_fail (out_dim >= 1, NULL);

    loss = g_new0 (DinolabLoss, 1);
    loss->n_views = n_views;
    loss->batch = batch;
    loss->out_dim = out_dim;
    loss->q = g_new (float, (size_t) 2 * (size_t) batch * (size_t) out_dim);
    return loss;
}

void
dinolab_loss_free (DinolabLoss *loss)
{
    if (loss == NULL)
        return;
    g_free (loss->q);
    g_free (loss);
}

int
dinolab_loss_get_n_views (const DinolabLoss *loss)
{
    g_return_val_if_fail (loss != NULL, 0);
    return loss->n_views;
}

int
dinolab_loss_get_batch (const DinolabLoss *loss)
{
    g_return_val_if_fail (loss != NULL, 0);
    return loss->batch;
}

int
dinolab_loss_get_out_dim (const DinolabLoss *loss)
{
    g_return_val_if_fail (loss != NULL, 0);
    return loss->out_dim;
}

// ----------------------------------------------------------------------------
// teacher targets

/* One teacher row: q[K] = softmax((t[K] - c[K]) / tau_t); returns h(q) in nats.
 * With u = (t - c) / tau_t, m = max u, e = exp(u - m), S = sum e:
 *   ln q = (u - m) - ln S,   h(q) = ln S - sum_k e_k (u_k - m) / S,
 * which keeps the entropy accurate when q is nearly one-hot (no cancellation between two
 * large numbers). A NaN or an infinity in the row turns the result into NaN, which the
 * caller reports as a non-finite loss (PyTorch's loss would be NaN there too). */
static double
teacher_row_ (float       *q,       /* out [K] */
              const float *t,       /* [K] */
              const float *c,       /* [K] or NULL */
              double       inv_tau, /* 1 / tau_t */
              int          K)
{
    double m = -INFINITY;
    double sum_m1 = 0.0, eu = 0.0, inv_sum;
    int k, k_max = -1;

    g_assert (K >= 1);

    for (k = 0; k < K; k++) {
        double u = ((double) t[k] - (c != NULL ? (double) c[k] : 0.0)) * inv_tau;
        if (u > m) {
            m = u;
            k_max = k;
        }
    }
    /* The arg-max term is exp(0) = 1 and is left out of sum_m1 = S - 1, so that
     * ln S = log1p(sum_m1) stays accurate for a nearly one-hot q. */
    for (k = 0; k < K; k++) {
        double um = ((double) t[k] - (c != NULL ? (double) c[k] : 0.0)) * inv_tau - m;
        double e = exp (um);
        if (k != k_max)
            sum_m1 += e;
        eu += e * um;
        q[k] = (float) e;
    }
    inv_sum = 1.0 / (1.0 + sum_m1);
    for (k = 0; k < K; k++)
        q[k] = (float) ((double) q[k] * inv_sum);
    return log1p (sum_m1) - eu * inv_sum;
}

// ----------------------------------------------------------------------------
// loss, diagnostics and gradient

gboolean
dinolab_loss_compute (DinolabLoss      *loss,
                      DinolabLossStats *stats,
                      float            *dstudent,
                      const float      *student,
                      const float      *teacher,
                      const float      *center,
                      float             student_temp,
                      float             teacher_temp)
{
    const int V = loss != NULL ? loss->n_views : 0;
    const int B = loss != NULL ? loss->batch : 0;
    const int K = loss != NULL ? loss->out_dim : 0;
    const size_t Kz = (size_t) K;
    const int n_pairs = 2 * (V - 1);
    double inv_tau_s, inv_tau_t, gscale;
    double ce_sum = 0.0, h_teacher = 0.0, h_student = 0.0;
    DinolabLossStats st;
    int r, v, b, k;

    g_return_val_if_fail (loss != NULL, FALSE);
    g_return_val_if_fail (dstudent != NULL, FALSE);
    g_return_val_if_fail (student != NULL, FALSE);
    g_return_val_if_fail (teacher != NULL, FALSE);
    g_return_val_if_fail (student_temp > 0.0f, FALSE);
    g_return_val_if_fail (teacher_temp > 0.0f, FALSE);

    inv_tau_s = 1.0 / (double) student_temp;
    inv_tau_t = 1.0 / (double) teacher_temp;
    /* d loss / d s = (n_v p - sum q) * gscale */
    gscale = inv_tau_s / ((double) n_pairs * (double) B);

    /* Teacher targets for the 2B rows of the two global views. */
    for (r = 0; r < 2 * B; r++)
        h_teacher += teacher_row_ (loss->q + (size_t) r * Kz, teacher + (size_t) r * Kz,
                                   center, inv_tau_t, K);

    /* Student rows, crop-major: row v*B + b. View v pairs with every teacher view i != v:
     * globals (v = 0, 1) with the other global only, locals with both. */
    for (v = 0; v < V; v++) {
        const float n_v = v < 2 ? 1.0f : 2.0f;
        for (b = 0; b < B; b++) {
            const size_t row = (size_t) v * (size_t) B + (size_t) b;
            const float *s = student + row * Kz;
            float *d = dstudent + row * Kz;
            /* q_a, q_b: the paired teacher rows (q_b NULL for a global student view) */
            const float *qa = loss->q + ((size_t) (v == 0 ? 1 : 0) * (size_t) B + (size_t) b) * Kz;
            const float *qb = v >= 2 ? loss->q + ((size_t) B + (size_t) b) * Kz : NULL;
            double m = -INFINITY, sum_m1 = 0.0, ez = 0.0, log_sum, inv_sum;
            double ce_a = 0.0, ce_b = 0.0;
            float p_scale;
            int k_max = -1;

            /* sweep 1: max of z = s / tau_s */
            for (k = 0; k < K; k++) {
                double z = (double) s[k] * inv_tau_s;
                if (z > m) {
                    m = z;
                    k_max = k;
                }
            }
            /* sweep 2: e = exp(z - m) parked in d; S - 1 (arg-max term left out, see
             * teacher_row_); sum e (z - m) for h(p) */
            for (k = 0; k < K; k++) {
                double zm = (double) s[k] * inv_tau_s - m;
                double e = exp (zm);
                if (k != k_max)
                    sum_m1 += e;
                ez += e * zm;
                d[k] = (float) e;
            }
            log_sum = log1p (sum_m1);
            inv_sum = 1.0 / (1.0 + sum_m1);
            h_student += log_sum - ez * inv_sum;

            /* sweep 3: -ln p = ln S - (z - m); cross-entropies; gradient over d's e.
             * p = e / S, so n_v p * gscale = e * (n_v * gscale / S). */
            p_scale = (float) ((double) n_v * gscale * inv_sum);
            if (qb == NULL) {
                for (k = 0; k < K; k++) {
                    double nlp = log_sum - ((double) s[k] * inv_tau_s - m);
                    ce_a += (double) qa[k] * nlp;
                    d[k] = d[k] * p_scale - (float) gscale * qa[k];
                }
            } else {
                for (k = 0; k < K; k++) {
                    double nlp = log_sum - ((double) s[k] * inv_tau_s - m);
                    ce_a += (double) qa[k] * nlp;
                    ce_b += (double) qb[k] * nlp;
                    d[k] = d[k] * p_scale - (float) gscale * (qa[k] + qb[k]);
                }
            }
            ce_sum += ce_a + ce_b;
        }
    }

    st.loss = ce_sum / ((double) n_pairs * (double) B);
    st.teacher_entropy = h_teacher / (2.0 * (double) B);
    st.kl = st.loss - st.teacher_entropy;
    st.student_entropy = h_student / ((double) V * (double) B);
    if (stats != NULL)
        *stats = st;
    return isfinite (st.loss);
}

// ----------------------------------------------------------------------------
// centre

/* Columns are summed in blocks so the rows are read sequentially with a small double
 * accumulator on the stack (no allocation, cache-friendly for K = 65536). */
#define CENTER_BLOCK 512

void
dinolab_center_update (float       *center,
                       const float *teacher,
                       int          rows,
                       int          K,
                       float        momentum)
{
    double acc[CENTER_BLOCK];
    const double mom = (double) momentum;
    const double inv_rows = 1.0 / (double) rows;
    int k0, r, j;

    g_return_if_fail (center != NULL);
    g_return_if_fail (teacher != NULL);
    g_return_if_fail (rows >= 1);
    g_return_if_fail (K >= 1);

    for (k0 = 0; k0 < K; k0 += CENTER_BLOCK) {
        const int kn = MIN (CENTER_BLOCK, K - k0);
        memset (acc, 0, sizeof (double) * (size_t) kn);
        for (r = 0; r < rows; r++) {
            const float *t = teacher + (size_t) r * (size_t) K + (size_t) k0;
            for (j = 0; j < kn; j++)
                acc[j] += (double) t[j];
        }
        for (j = 0; j < kn; j++)
            center[k0 + j] = (float) (mom * (double) center[k0 + j]
                                      + (1.0 - mom) * acc[j] * inv_rows);
    }
}
