/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-eval.c: evaluation (include/dinolab/eval.h) and the `knn` / `attention`
 * commands. Each check compares with an independent computation:
 * - the weighted k-NN against a naive double-precision implementation (all
 *   similarities, a full sort, class scores, ranks) on clustered random data big
 *   enough to cross the code's 256 x 4096 blocks: identical predictions and accuracy;
 *   k > n_train; top-5 with fewer than 5 classes; a hand-computed case; bad labels;
 * - the threshold mask against a brute force over every subset of small maps, and
 *   against visualize_attention.py's own formulation (ascending sort, cumulative sum
 *   > 1 - t); ties;
 * - features, pixel features and attention of dataset items against the backbone run
 *   directly on the dataset's evaluation views (unit norm, same values);
 * - `dinolab-cli attention` end to end (DINOLAB_CLI; skipped when unset) on a tiny
 *   model file and a tiny image: every file exists, the PNGs have the zoomed size,
 *   attention.npy is heads x h x w and matches the engine, masks.npy keeps the mass;
 * - `dinolab-cli knn --json` on a tiny npy dataset: the model's accuracy equals the
 *   naive k-NN on features from the engine;
 * - preparing one image: a dataset item against (pixel / 255 - mean) / std with the
 *   mean and population std computed here over the train split, trimmed to the patch;
 *   a PNG written here (gdk-pixbuf) against ImageNet's constants / PIL's L formula,
 *   trimmed; a uniform PNG that must be resized stays uniform;
 * - loading a backbone: a weight file saved here gives the same attention and CLS as
 *   the model that saved it; overrides and threads; finding a run's checkpoint in a
 *   store filled here (latest, by step, errors that name the run and list the steps).
 * - the Jaccard index of the attention masks with the foreground against masks made
 *   greedily here in double and pixel sets counted one by one; sizes it refuses;
 * Fixtures are made in a temporary folder; nothing needs the network or a big dataset.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "dinolab/data.h"
#include "dinolab/error.h"
#include "dinolab/eval.h"
#include "dinolab/io.h"
#include "dinolab/model.h"
#include "dinolab/store.h"
#include "test-util.h"

// ----------------------------------------------------------------------------
// the naive k-NN (double, full sort): the independent computation

typedef struct {
    double sim;
    gsize  index;
} Neighbour;

static int
neighbour_cmp_ (const void *pa, const void *pb)
{
    const Neighbour *a = pa, *b = pb;
    if (a->sim != b->sim)
        return a->sim > b->sim ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* Returns top-1 and top-5 hit counts; predictions[n_test]. */
static void
naive_knn_ (const float *train, const int *train_labels, gsize n_train, const float *test,
            const int *test_labels, gsize n_test, int dim, int n_classes, int k, double T,
            int *predictions, gsize *hits1, gsize *hits5)
{
    Neighbour *nb = g_new (Neighbour, n_train);
    double *scores = g_new (double, n_classes);
    int kk = (int) MIN ((gsize) k, n_train), c5 = MIN (5, MIN (kk, n_classes));

    *hits1 = *hits5 = 0;
    for (gsize t = 0; t < n_test; t++) {
        int *order = g_new (int, n_classes);
        for (gsize j = 0; j < n_train; j++) {
            /* the code sums in float through sgemm; here in double from the same floats */
            double s = 0.0;
            for (int d = 0; d < dim; d++)
                s += (double) test[t * dim + d] * train[j * dim + d];
            nb[j].sim = s;
            nb[j].index = j;
        }
        qsort (nb, n_train, sizeof *nb, neighbour_cmp_);
        memset (scores, 0, sizeof (double) * n_classes);
        for (int j = 0; j < kk; j++)
            scores[train_labels[nb[j].index]] += exp (nb[j].sim / T);
        /* full ordering of classes: score descending, class ascending (selection sort) */
        for (int c = 0; c < n_classes; c++)
            order[c] = c;
        for (int a = 0; a < n_classes; a++)
            for (int b = a + 1; b < n_classes; b++)
                if (scores[order[b]] > scores[order[a]] ||
                    (scores[order[b]] == scores[order[a]] && order[b] < order[a])) {
                    int x = order[a];
                    order[a] = order[b];
                    order[b] = x;
                }
        predictions[t] = order[0];
        *hits1 += order[0] == test_labels[t];
        for (int r = 0; r < c5; r++)
            if (order[r] == test_labels[t])
                (*hits5)++;
        g_free (order);
    }
    g_free (nb);
    g_free (scores);
}

/* n points of dim around n_classes random unit centres (spread @noise), unit-normalised. */
static void
clustered_ (float *x, int *labels, gsize n, int dim, int n_classes, double noise, guint32 seed,
            const float *centres)
{
    GRand *r = g_rand_new_with_seed (seed);
    for (gsize i = 0; i < n; i++) {
        int c = g_rand_int_range (r, 0, n_classes);
        double norm = 0.0;
        labels[i] = c;
        for (int d = 0; d < dim; d++) {
            x[i * dim + d] = centres[c * dim + d] + (float) (noise * g_rand_double_range (r, -1.0, 1.0));
            norm += (double) x[i * dim + d] * x[i * dim + d];
        }
        for (int d = 0; d < dim; d++)
            x[i * dim + d] = (float) (x[i * dim + d] / sqrt (norm));
    }
    g_rand_free (r);
}

static void
check_against_naive_ (const float *train, const int *trl, gsize n_train, const float *test,
                      const int *tel, gsize n_test, int dim, int n_classes, int k, double T)
{
    g_autoptr (GError) error = NULL;
    g_autofree int *pred = g_new (int, n_test);
    g_autofree int *want = g_new (int, n_test);
    DinolabKnnResult r;
    gsize h1, h5, differ = 0;
    gboolean ok;

    ok = dinolab_knn_classify (train, trl, n_train, test, tel, n_test, dim, n_classes, k, T, pred, &r, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
    naive_knn_ (train, trl, n_train, test, tel, n_test, dim, n_classes, k, T, want, &h1, &h5);
    for (gsize i = 0; i < n_test; i++)
        differ += pred[i] != want[i];
    g_test_message ("k=%d T=%g n_train=%zu n_test=%zu: top-1 %.3f%% (naive %.3f%%), top-5 %.3f%% (naive %.3f%%), "
                    "%zu predictions differ", k, T, n_train, n_test, r.top1, 100.0 * h1 / n_test,
                    r.top5, 100.0 * h5 / n_test, differ);
    g_assert_cmpuint (differ, ==, 0);
    g_assert_cmpfloat (r.top1, ==, 100.0 * (double) h1 / (double) n_test);
    g_assert_cmpfloat (r.top5, ==, 100.0 * (double) h5 / (double) n_test);
    g_assert_cmpint (r.k, ==, (int) MIN ((gsize) k, n_train));
    g_assert_cmpint (r.top5_classes, ==, MIN (5, MIN (r.k, n_classes)));
    g_assert_cmpuint (r.n_train, ==, n_train);
    g_assert_cmpuint (r.n_test, ==, n_test);
}

static void
test_knn_naive (void)
{
    /* 5000 train rows cross the 4096-row train block, 600 test rows the 256-row test block */
    const gsize n_train = 5000, n_test = 600;
    const int dim = 24, n_classes = 12;
    g_autofree float *centres = g_new (float, n_classes * dim);
    g_autofree float *train = g_new (float, n_train * dim);
    g_autofree float *test = g_new (float, n_test * dim);
    g_autofree int *trl = g_new (int, n_train);
    g_autofree int *tel = g_new (int, n_test);
    const int ks[] = { 1, 5, 20, 200 };
    const double Ts[] = { 0.07, 0.5 };

    fill_uniform (centres, (size_t) n_classes * dim, 7, 1.0f);
    /* overlapping clusters, so accuracy is neither 0 nor 100 and votes matter */
    clustered_ (train, trl, n_train, dim, n_classes, 2.2, 11, centres);
    clustered_ (test, tel, n_test, dim, n_classes, 2.2, 12, centres);
    for (guint a = 0; a < G_N_ELEMENTS (ks); a++)
        for (guint b = 0; b < G_N_ELEMENTS (Ts); b++)
            check_against_naive_ (train, trl, n_train, test, tel, n_test, dim, n_classes, ks[a], Ts[b]);
}

static void
test_knn_k_larger (void)
{
    const gsize n_train = 7, n_test = 40;
    const int dim = 5, n_classes = 6;
    float centres[6 * 5], train[7 * 5], test[40 * 5];
    int trl[7], tel[40];
    DinolabKnnResult r;
    g_autoptr (GError) error = NULL;

    fill_uniform (centres, G_N_ELEMENTS (centres), 3, 1.0f);
    clustered_ (train, trl, n_train, dim, n_classes, 0.5, 4, centres);
    clustered_ (test, tel, n_test, dim, n_classes, 0.5, 5, centres);
    check_against_naive_ (train, trl, n_train, test, tel, n_test, dim, n_classes, 20, 0.07);
    g_assert_true (dinolab_knn_classify (train, trl, n_train, test, tel, n_test, dim, n_classes, 20, 0.07,
                                         NULL, &r, &error));
    g_assert_cmpint (r.k, ==, 7);
    g_assert_cmpint (r.top5_classes, ==, 5);
}

static void
test_knn_few_classes (void)
{
    /* 3 classes: "top-5" means top-3, which always holds the label */
    const gsize n_train = 300, n_test = 100;
    const int dim = 8, n_classes = 3;
    float centres[3 * 8];
    g_autofree float *train = g_new (float, n_train * dim);
    g_autofree float *test = g_new (float, n_test * dim);
    g_autofree int *trl = g_new (int, n_train);
    g_autofree int *tel = g_new (int, n_test);
    DinolabKnnResult r;
    g_autoptr (GError) error = NULL;

    fill_uniform (centres, G_N_ELEMENTS (centres), 21, 1.0f);
    clustered_ (train, trl, n_train, dim, n_classes, 1.5, 22, centres);
    clustered_ (test, tel, n_test, dim, n_classes, 1.5, 23, centres);
    check_against_naive_ (train, trl, n_train, test, tel, n_test, dim, n_classes, 20, 0.07);
    g_assert_true (dinolab_knn_classify (train, trl, n_train, test, tel, n_test, dim, n_classes, 20, 0.07,
                                         NULL, &r, &error));
    g_assert_cmpint (r.top5_classes, ==, 3);
    g_assert_cmpfloat (r.top5, ==, 100.0);
    g_assert_cmpfloat (r.top1, <, 100.0);
    /* k = 2: top-5 covers only 2 classes */
    g_assert_true (dinolab_knn_classify (train, trl, n_train, test, tel, n_test, dim, n_classes, 2, 0.07,
                                         NULL, &r, &error));
    g_assert_cmpint (r.top5_classes, ==, 2);
    check_against_naive_ (train, trl, n_train, test, tel, n_test, dim, n_classes, 2, 0.07);
}

static void
test_knn_hand (void)
{
    /* train: (1,0) class 0, (0,1) class 1, (0.6,0.8) class 1; test (0.8,0.6) of class 0.
     * cosines 0.8, 0.6, 0.96. k = 2: neighbours 2 (0.96, class 1) and 0 (0.8, class 0);
     * scores exp(0.96/T) for 1 vs exp(0.8/T) for 0: predicts 1 (miss) for any T.
     * k = 3 with T = 0.1: class 1 gets e^9.6 + e^6 = 15167, class 0 e^8 = 2981: still 1.
     * A test point (1,0) of class 0: cosines 1, 0, 0.6 -> class 0 with k = 1. */
    const float train[] = { 1, 0, 0, 1, 0.6f, 0.8f };
    const int trl[] = { 0, 1, 1 };
    const float test[] = { 0.8f, 0.6f, 1, 0 };
    const int tel[] = { 0, 0 };
    const int bad[] = { 0, 2, 1 };
    int pred[2];
    DinolabKnnResult r;
    g_autoptr (GError) error = NULL;

    g_assert_true (dinolab_knn_classify (train, trl, 3, test, tel, 2, 2, 2, 2, 0.1, pred, &r, &error));
    g_assert_cmpint (pred[0], ==, 1);
    g_assert_cmpint (pred[1], ==, 0);
    g_assert_cmpfloat (r.top1, ==, 50.0);
    g_assert_cmpfloat (r.top5, ==, 100.0);  /* top-2 of 2 classes */
    g_assert_true (dinolab_knn_classify (train, trl, 3, test, tel, 2, 2, 2, 1, 0.1, pred, &r, &error));
    g_assert_cmpint (pred[0], ==, 1);
    g_assert_cmpint (pred[1], ==, 0);
    g_assert_cmpfloat (r.top5, ==, 50.0);   /* k = 1: "top-5" is top-1 */

    /* a label outside [0, n_classes) and an empty train split are input errors */
    g_assert_false (dinolab_knn_classify (train, bad, 3, test, tel, 2, 2, 2, 2, 0.1, NULL, &r, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "label 2"));
    g_clear_error (&error);
    g_assert_false (dinolab_knn_classify (train, trl, 0, test, tel, 2, 2, 2, 2, 0.1, NULL, &r, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
}

// ----------------------------------------------------------------------------
// threshold masks

static double
mask_mass_ (const guint8 *mask, const float *att, int P)
{
    double s = 0.0;
    for (int i = 0; i < P; i++)
        s += mask[i] ? att[i] : 0.0;
    return s;
}

static void
test_mask_brute (void)
{
    GRand *r = g_rand_new_with_seed (99);
    const double fractions[] = { 0.05, 0.3, 0.5, 0.6, 0.8, 0.95, 1.0 };
    int cases = 0;

    for (int trial = 0; trial < 300; trial++) {
        int P = g_rand_int_range (r, 1, 13);
        float att[12];
        guint8 mask[12];
        double total = 0.0;
        for (int i = 0; i < P; i++) {
            /* some exact zeros and some repeated values, to exercise ties */
            int kind = g_rand_int_range (r, 0, 6);
            att[i] = kind == 0 ? 0.0f : kind == 1 ? 0.125f : (float) g_rand_double (r);
            total += att[i];
        }
        for (guint f = 0; f < G_N_ELEMENTS (fractions); f++) {
            double need = fractions[f] * total * (1.0 - 1e-9);
            int best = P + 1, kept;
            /* brute force: the smallest subset whose mass reaches the fraction */
            for (guint32 s = 0; s < (1u << P); s++) {
                double m = 0.0;
                int n = __builtin_popcount (s);
                if (n >= best)
                    continue;
                for (int i = 0; i < P; i++)
                    if (s >> i & 1)
                        m += att[i];
                if (m >= need && (fractions[f] < 1.0 || n == 0 || m > 0))
                    best = n;
            }
            if (fractions[f] >= 1.0) {  /* every non-zero patch */
                best = 0;
                for (int i = 0; i < P; i++)
                    best += att[i] > 0.0f;
            }
            if (total == 0.0)
                best = 0;
            kept = dinolab_attention_mask (mask, att, P, fractions[f]);
            g_assert_cmpint (kept, ==, best);
            {
                int count = 0;
                for (int i = 0; i < P; i++)
                    count += mask[i];
                g_assert_cmpint (count, ==, kept);
            }
            if (total > 0.0)
                g_assert_cmpfloat (mask_mass_ (mask, att, P), >=, MIN (fractions[f], 1.0) * total * (1 - 1e-9));
            /* the kept patches are the highest: no dropped value above a kept one */
            for (int i = 0; i < P; i++)
                for (int j = 0; j < P; j++)
                    if (mask[i] && !mask[j])
                        g_assert_cmpfloat (att[i], >=, att[j]);
            cases++;
        }
    }
    g_rand_free (r);
    g_test_message ("%d random maps x fractions checked against a brute force over all subsets", cases);
}

/* visualize_attention.py's formulation: sort ascending, divide by the sum, cumulative
 * sum, keep where > 1 - t; un-sort. Float like the reference. */
static void
reference_mask_ (guint8 *mask, const float *att, int P, double t)
{
    Neighbour *s = g_new (Neighbour, P);
    double sum = 0.0, cum = 0.0;
    for (int i = 0; i < P; i++) {
        s[i].sim = -att[i];  /* neighbour_cmp_ sorts descending: negate for ascending */
        s[i].index = (gsize) i;
        sum += att[i];
    }
    qsort (s, P, sizeof *s, neighbour_cmp_);
    for (int i = 0; i < P; i++) {
        cum += -s[i].sim / sum;
        mask[s[i].index] = cum > 1.0 - t;
    }
    g_free (s);
}

static void
test_mask_reference (void)
{
    float att[3600];
    guint8 got[3600], want[3600];
    int differ = 0;

    /* a peaked, softmax-like map of 60 x 60 patches, as visualize_attention's 480p input */
    for (int trial = 0; trial < 20; trial++) {
        double sum = 0.0;
        fill_uniform (att, 3600, 500 + trial, 4.0f);
        for (int i = 0; i < 3600; i++) {
            att[i] = expf (att[i]);
            sum += att[i];
        }
        for (int i = 0; i < 3600; i++)
            att[i] = (float) (att[i] / sum * 0.9);  /* the CLS entry took 0.1 */
        for (double t = 0.1; t < 0.95; t += 0.2) {
            dinolab_attention_mask (got, att, 3600, t);
            reference_mask_ (want, att, 3600, t);
            for (int i = 0; i < 3600; i++)
                differ += got[i] != want[i];
        }
    }
    g_test_message ("100 masks of 3600 patches vs visualize_attention's cumsum: %d patches differ", differ);
    g_assert_cmpint (differ, ==, 0);
}

static void
test_mask_ties (void)
{
    const float uniform4[] = { 0.25f, 0.25f, 0.25f, 0.25f };
    const float tenth[] = { 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f };
    const float zeros[] = { 0, 0, 0 };
    const float some_zero[] = { 0.5f, 0, 0.25f, 0, 0.25f };
    guint8 m[10];

    /* exactly half of a uniform map: two patches (mass 0.5 >= 0.5), the lower indices */
    g_assert_cmpint (dinolab_attention_mask (m, uniform4, 4, 0.5), ==, 2);
    g_assert_true (m[0] && m[1] && !m[2] && !m[3]);
    g_assert_cmpint (dinolab_attention_mask (m, uniform4, 4, 0.51), ==, 3);
    /* 0.3 of ten 0.1s: three (0.1+0.1+0.1 is 0.30000000000000004 in double, and float
     * 0.1 is slightly above 0.1 anyway) */
    g_assert_cmpint (dinolab_attention_mask (m, tenth, 10, 0.3), ==, 3);
    g_assert_cmpint (dinolab_attention_mask (m, tenth, 10, 0.6), ==, 6);
    /* ties at the boundary: the 0.25 at index 2 goes before the one at index 4 */
    g_assert_cmpint (dinolab_attention_mask (m, some_zero, 5, 0.7), ==, 2);
    g_assert_true (m[0] && !m[1] && m[2] && !m[3] && !m[4]);
    /* fraction 1 keeps every non-zero patch, never a zero one */
    g_assert_cmpint (dinolab_attention_mask (m, some_zero, 5, 1.0), ==, 3);
    g_assert_true (m[0] && !m[1] && m[2] && !m[3] && m[4]);
    /* nothing to keep */
    g_assert_cmpint (dinolab_attention_mask (m, zeros, 3, 0.6), ==, 0);
    g_assert_true (!m[0] && !m[1] && !m[2]);
    g_assert_cmpint (dinolab_attention_mask (m, uniform4, 4, 0.0), ==, 0);
}

// ----------------------------------------------------------------------------
// fixtures: a tiny labelled npy dataset and a tiny model

typedef struct {
    char *dir;
    char *train_spec;    /* npy:<dir>/train-images.npy */
    char *model_path;
    int   size, n_train, n_test, n_classes;
} Fixture;

static void
set_ (DinolabHparams *hp, const char *key, const char *value)
{
    g_autoptr (GError) error = NULL;
    gboolean ok = dinolab_hparams_set (hp, key, value, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
}

/* 12 x 12 grey images: a slightly brighter square whose position is the class, in
 * strong noise (so k-NN is neither perfect nor at chance). */
static void
write_images_ (const char *dir, const char *split, int n, int size, int n_classes, guint32 seed)
{
    g_autofree char *pi = g_strdup_printf ("%s/%s-images.npy", dir, split);
    g_autofree char *pl = g_strdup_printf ("%s/%s-labels.npy", dir, split);
    int64_t si[3] = { n, size, size }, sl[1] = { n };
    g_autoptr (DinolabArray) im = dinolab_array_new (DINOLAB_DTYPE_U8, 3, si);
    g_autoptr (DinolabArray) lb = dinolab_array_new (DINOLAB_DTYPE_U8, 1, sl);
    g_autoptr (GError) error = NULL;
    GRand *r = g_rand_new_with_seed (seed);
    guint8 *px = im->data, *lab = lb->data;

    for (int i = 0; i < n; i++) {
        int c = g_rand_int_range (r, 0, n_classes);
        int ox = (c % 2) * 6, oy = (c / 2) * 6;
        lab[i] = (guint8) c;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                gboolean in = x >= ox && x < ox + 6 && y >= oy && y < oy + 6;
                px[((size_t) i * size + y) * size + x] =
                    (guint8) CLAMP ((in ? 90 : 60) + g_rand_int_range (r, -60, 61), 0, 255);
            }
    }
    g_rand_free (r);
    g_assert_true (dinolab_npy_write (pi, im, &error));
    g_assert_no_error (error);
    g_assert_true (dinolab_npy_write (pl, lb, &error));
    g_assert_no_error (error);
}

static DinolabModel *
tiny_model_ (const char *dataset)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (GError) error = NULL;
    DinolabModel *m;
    float *p;
    GRand *r;

    dinolab_hparams_init (&hp);
    set_ (&hp, "patch_size", "4");
    set_ (&hp, "img_size", "12");
    set_ (&hp, "global_crop_size", "12");
    set_ (&hp, "local_crop_size", "8");
    set_ (&hp, "in_chans", "1");
    set_ (&hp, "embed_dim", "16");
    set_ (&hp, "depth", "2");
    set_ (&hp, "num_heads", "2");
    set_ (&hp, "out_dim", "32");
    set_ (&hp, "head_hidden_dim", "24");
    set_ (&hp, "bottleneck_dim", "8");
    set_ (&hp, "dataset", dataset);
    m = dinolab_model_new (&hp, TRUE, &error);
    g_assert_no_error (error);
    dinolab_model_init_random (m, 1);
    /* weights well above the init scale, so attention is peaked, not uniform */
    p = dinolab_model_get_params (m);
    r = g_rand_new_with_seed (5);
    for (size_t i = 0; i < dinolab_model_get_table (m)->total; i++)
        p[i] += (float) g_rand_double_range (r, -0.5, 0.5);
    g_rand_free (r);
    return m;
}

static void
fixture_setup_ (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabModel) m = NULL;
    (void) data;

    f->dir = g_dir_make_tmp ("dinolab-test-eval-XXXXXX", &error);
    g_assert_no_error (error);
    f->size = 12;
    f->n_train = 300;
    f->n_test = 60;
    f->n_classes = 4;
    write_images_ (f->dir, "train", f->n_train, f->size, f->n_classes, 1);
    write_images_ (f->dir, "test", f->n_test, f->size, f->n_classes, 2);
    f->train_spec = g_strdup_printf ("npy:%s/train-images.npy", f->dir);
    f->model_path = g_build_filename (f->dir, "model.safetensors", NULL);
    m = tiny_model_ (f->train_spec);
    g_assert_true (dinolab_model_save (m, NULL, FALSE, f->model_path, &error));
    g_assert_no_error (error);
}

static void
rm_rf_ (const char *path)
{
    if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
        GDir *d = g_dir_open (path, 0, NULL);
        const char *name;
        while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
            g_autofree char *child = g_build_filename (path, name, NULL);
            rm_rf_ (child);
        }
        if (d != NULL)
            g_dir_close (d);
        g_rmdir (path);
    } else {
        g_unlink (path);
    }
}

static void
fixture_teardown_ (Fixture *f, gconstpointer data)
{
    (void) data;
    if (g_getenv ("DINOLAB_KEEP_TEST_FILES") != NULL)
        g_test_message ("kept %s", f->dir);
    else
        rm_rf_ (f->dir);
    g_free (f->dir);
    g_free (f->train_spec);
    g_free (f->model_path);
}

/* The backbone of @path; @threads >= 0 replaces its threads hyperparameter (the
 * number of evaluation lanes). */
static DinolabModel *
load_model_ (const char *path, int threads)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (GError) error = NULL;
    gboolean has_head;
    DinolabModel *m;

    dinolab_hparams_init (&hp);
    g_assert_true (dinolab_model_hparams_from_file (path, &hp, &has_head, &error));
    if (threads >= 0)
        hp.threads = threads;
    m = dinolab_model_new (&hp, FALSE, &error);
    g_assert_no_error (error);
    g_assert_true (dinolab_model_load_weights (m, path, &error));
    g_assert_no_error (error);
    return m;
}

// ----------------------------------------------------------------------------
// features and attention of dataset items

static void
test_features (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabDataset) ds = NULL;
    g_autoptr (DinolabModel) m = load_model_ (f->model_path, -1);
    g_autoptr (DinolabBackboneWork) w = NULL;
    g_autoptr (GCancellable) cancel = g_cancellable_new ();
    const int n = 70, D = 16, NH = 2, P = 9, S = f->size, pix = S * S;
    gsize idx[70];
    g_autofree float *feat = g_new (float, n * D);
    g_autofree float *att = g_new (float, n * NH * P);
    g_autofree float *pixf = g_new (float, n * pix);
    g_autofree float *view = g_new (float, pix);
    g_autofree float *want_att = g_new (float, NH * P);
    double max_norm_err = 0.0, max_feat_err = 0.0, max_att_err = 0.0, max_pix_err = 0.0;
    (void) data;

    ds = dinolab_dataset_open (f->train_spec, DINOLAB_SPLIT_TRAIN, &error);
    g_assert_no_error (error);
    for (int i = 0; i < n; i++)
        idx[i] = (gsize) ((i * 37) % f->n_train);  /* not in order */
    /* batch 16: 4 full chunks and a short one of 6 */
    g_assert_true (dinolab_eval_features (m, ds, idx, n, S, 16, feat, NULL, &error));
    g_assert_no_error (error);
    g_assert_true (dinolab_eval_attention (m, ds, idx, n, S, 0, att, NULL, &error));
    g_assert_no_error (error);
    g_assert_true (dinolab_eval_pixel_features (ds, idx, n, S, pixf, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpint (dinolab_eval_pixel_dim (ds, S), ==, pix);

    /* independent: one image at a time through the model API, normalised in double */
    w = dinolab_backbone_work_new (m, 1, S, S, FALSE);
    for (int i = 0; i < n; i++) {
        const float *cls;
        double nrm = 0.0, fn = 0.0, pn = 0.0;
        g_assert_true (dinolab_dataset_get_eval_view (ds, idx[i], S, view, &error));
        dinolab_backbone_forward (m, w, view, NULL);
        cls = dinolab_backbone_work_get_cls (w);
        dinolab_backbone_work_get_attention (w, want_att);
        for (int d = 0; d < D; d++)
            nrm += (double) cls[d] * cls[d];
        for (int d = 0; d < D; d++) {
            max_feat_err = fmax (max_feat_err, fabs (feat[i * D + d] - cls[d] / sqrt (nrm)));
            fn += (double) feat[i * D + d] * feat[i * D + d];
        }
        max_norm_err = fmax (max_norm_err, fabs (sqrt (fn) - 1.0));
        for (int j = 0; j < NH * P; j++)
            max_att_err = fmax (max_att_err, fabs (att[i * NH * P + j] - want_att[j]));
        nrm = 0.0;
        for (int j = 0; j < pix; j++)
            nrm += (double) view[j] * view[j];
        for (int j = 0; j < pix; j++) {
            max_pix_err = fmax (max_pix_err, fabs (pixf[(size_t) i * pix + j] - view[j] / sqrt (nrm)));
            pn += (double) pixf[(size_t) i * pix + j] * pixf[(size_t) i * pix + j];
        }
        max_norm_err = fmax (max_norm_err, fabs (sqrt (pn) - 1.0));
        /* each head's CLS row without its CLS entry sums to at most 1 */
        for (int h = 0; h < NH; h++) {
            double s = 0.0;
            for (int j = 0; j < P; j++)
                s += att[(i * NH + h) * P + j];
            g_assert_cmpfloat (s, <=, 1.0 + 1e-5);
            g_assert_cmpfloat (s, >, 0.0);
        }
    }
    g_test_message ("features: max |norm - 1| %.2g, max feature diff %.2g, max attention diff %.2g, "
                    "max pixel-feature diff %.2g", max_norm_err, max_feat_err, max_att_err, max_pix_err);
    g_assert_cmpfloat (max_norm_err, <, 1e-5);
    g_assert_cmpfloat (max_feat_err, <, 1e-5);
    g_assert_cmpfloat (max_att_err, <, 1e-5);
    g_assert_cmpfloat (max_pix_err, <, 1e-6);

    /* one lane and more lanes than cores give the same features (threads 0 above: all cores) */
    for (int t = 1; t <= 3; t += 2) {
        g_autoptr (DinolabModel) mt = load_model_ (f->model_path, t);
        g_autofree float *ft = g_new (float, n * D);
        g_assert_true (dinolab_eval_features (mt, ds, idx, n, S, 16, ft, NULL, &error));
        g_assert_no_error (error);
        assert_tensor ("features with other lane counts", ft, feat, (size_t) n * D, 1e-6);
    }

    /* input errors: a view size that is not a multiple of the patch, an item out of
     * range, cancellation */
    g_assert_false (dinolab_eval_features (m, ds, idx, n, 10, 0, feat, NULL, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
    idx[3] = (gsize) f->n_train;
    g_assert_false (dinolab_eval_features (m, ds, idx, n, S, 0, feat, NULL, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
    idx[3] = 0;
    g_cancellable_cancel (cancel);
    g_assert_false (dinolab_eval_features (m, ds, idx, n, S, 0, feat, cancel, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CANCELLED);
    g_clear_error (&error);
}

/* dinolab_eval_knn on the fixture = naive k-NN on the engine's features. */
static void
test_eval_knn (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabDataset) train = NULL;
    g_autoptr (DinolabDataset) test = NULL;
    g_autoptr (DinolabModel) m = load_model_ (f->model_path, -1);
    const int D = 16, S = f->size;
    g_autofree float *ftr = g_new (float, f->n_train * D);
    g_autofree float *fte = g_new (float, f->n_test * D);
    g_autofree gsize *itr = g_new (gsize, f->n_train);
    g_autofree gsize *ite = g_new (gsize, f->n_test);
    g_autofree int *ltr = g_new (int, f->n_train);
    g_autofree int *lte = g_new (int, f->n_test);
    g_autofree int *pred = g_new (int, f->n_test);
    DinolabKnnResult r, rp;
    gsize h1, h5;
    (void) data;

    train = dinolab_dataset_open (f->train_spec, DINOLAB_SPLIT_TRAIN, &error);
    g_assert_no_error (error);
    test = dinolab_dataset_open (f->train_spec, DINOLAB_SPLIT_TEST, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (dinolab_dataset_get_size (test), ==, f->n_test);
    g_assert_true (dinolab_eval_knn (m, train, NULL, f->n_train, test, NULL, f->n_test, S, 10, 0.07, &r, NULL, &error));
    g_assert_no_error (error);
    g_assert_true (dinolab_eval_knn (NULL, train, NULL, f->n_train, test, NULL, f->n_test, S, 10, 0.07, &rp, NULL, &error));
    g_assert_no_error (error);

    for (int i = 0; i < f->n_train; i++) {
        itr[i] = (gsize) i;
        ltr[i] = dinolab_dataset_get_label (train, i);
    }
    for (int i = 0; i < f->n_test; i++) {
        ite[i] = (gsize) i;
        lte[i] = dinolab_dataset_get_label (test, i);
    }
    g_assert_true (dinolab_eval_features (m, train, itr, f->n_train, S, 0, ftr, NULL, &error));
    g_assert_true (dinolab_eval_features (m, test, ite, f->n_test, S, 0, fte, NULL, &error));
    naive_knn_ (ftr, ltr, f->n_train, fte, lte, f->n_test, D, f->n_classes, 10, 0.07, pred, &h1, &h5);
    g_test_message ("tiny model k-NN: top-1 %.2f%% top-5 %.2f%%; raw pixels top-1 %.2f%%", r.top1, r.top5, rp.top1);
    g_assert_cmpfloat (r.top1, ==, 100.0 * h1 / f->n_test);
    g_assert_cmpfloat (r.top5, ==, 100.0 * h5 / f->n_test);
    g_assert_cmpint (r.top5_classes, ==, 4);
    /* the class is where the brighter square is: far above chance (25%) on pixels */
    g_assert_cmpfloat (rp.top1, >, 50.0);

    /* list length that does not match the split without a list */
    g_assert_false (dinolab_eval_knn (m, train, NULL, 5, test, NULL, f->n_test, S, 10, 0.07, &r, NULL, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
}

// ----------------------------------------------------------------------------
// Jaccard of the attention masks with the foreground

/* The smallest set of patches holding @fraction of @a's mass, greedy from the top,
 * in double: the independent version of dinolab_attention_mask for random maps. */
static void
naive_mask_ (guint8 *mask, const double *a, int P, double fraction)
{
    double total = 0.0, acc = 0.0;
    gboolean *used;

    g_assert (P > 0);
    used = g_new0 (gboolean, P);
    for (int i = 0; i < P; i++)
        total += a[i];
    memset (mask, 0, (size_t) P);
    while (acc < fraction * total) {
        int best = -1;
        for (int i = 0; i < P; i++)
            if (!used[i] && (best < 0 || a[i] > a[best]))
                best = i;
        used[best] = TRUE;
        mask[best] = 1;
        acc += a[best];
    }
    g_free (used);
}

/* Pixels of the grey S x S image @img, seen as a view of side V = k S (each image pixel
 * a k x k block), counted one by one against the patch mask @mask (patches p x p of the
 * view, the foreground brighter than @fg_above): *@inter += |M & F|, *@uni += |M | F|,
 * *@in_mask += |M|. */
static void
count_pixels_ (const guint8 *mask, const DinolabImage *img, int S, int V, int p, int fg_above, long *inter,
               long *uni, long *in_mask)
{
    for (int y = 0; y < V; y++)
        for (int x = 0; x < V; x++) {
            gboolean in_m = mask[(y / p) * (V / p) + x / p];
            gboolean in_f = img->pixels[(y / (V / S)) * S + x / (V / S)] > fg_above;
            *inter += in_m && in_f;
            *uni += in_m || in_f;
            *in_mask += in_m;
        }
}

static void
test_jaccard (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabModel) m = load_model_ (f->model_path, 1);
    g_autofree char *spec = g_strdup_printf ("npy:%s/test-images.npy", f->dir);
    g_autoptr (DinolabDataset) ds = dinolab_dataset_open (spec, DINOLAB_SPLIT_TEST, &error);
    const int NH = 2, p = 4, S = f->size, g = S / p, P = g * g, fg_above = 100;
    const double fraction = 0.6;
    gsize n = (gsize) f->n_test;
    g_autofree gsize *idx = g_new (gsize, n);
    g_autofree float *att = g_new (float, n * NH * P);
    double per_head[2], mean_map, want[2] = { 0, 0 }, want_mean = 0.0;
    double on[2], on_mean, want_on[2] = { 0, 0 }, want_on_mean = 0.0;
    (void) data;

    g_assert_no_error (error);
    for (gsize i = 0; i < n; i++)
        idx[i] = i;
    g_assert_true (dinolab_eval_attention_jaccard (m, ds, idx, n, 0, 0, fraction, fg_above, per_head, &mean_map,
                                                   on, &on_mean, NULL, &error));
    g_assert_no_error (error);

    /* by hand: attention, masks, and the pixel sets counted one by one */
    g_assert_true (dinolab_eval_attention (m, ds, idx, n, S, 0, att, NULL, &error));
    for (gsize i = 0; i < n; i++) {
        DinolabImage img = { 0 };
        double mean[16] = { 0 };
        guint8 mask[16];
        g_assert_true (dinolab_dataset_get_image (ds, i, &img, &error));
        for (int h = 0; h <= NH; h++) {
            double a[16];
            long inter = 0, uni = 0, in_m_total = 0;
            for (int k = 0; k < P; k++) {
                a[k] = h < NH ? att[(i * NH + h) * P + k] : mean[k];
                if (h < NH)
                    mean[k] += a[k] / NH;
            }
            naive_mask_ (mask, a, P, fraction);
            count_pixels_ (mask, &img, S, S, p, fg_above, &inter, &uni, &in_m_total);
            if (h < NH) {
                want[h] += (double) inter / uni / n;
                want_on[h] += (double) inter / in_m_total / n;
            } else {
                want_mean += (double) inter / uni / n;
                want_on_mean += (double) inter / in_m_total / n;
            }
        }
        dinolab_image_clear (&img);
    }
    g_test_message ("Jaccard per head %.4f %.4f (by hand %.4f %.4f), mean map %.4f (%.4f)", per_head[0],
                    per_head[1], want[0], want[1], mean_map, want_mean);
    for (int h = 0; h < NH; h++) {
        g_assert_cmpfloat_with_epsilon (per_head[h], want[h], 1e-12);
        g_assert_cmpfloat_with_epsilon (on[h], want_on[h], 1e-12);
    }
    g_assert_cmpfloat_with_epsilon (on_mean, want_on_mean, 2e-3);
    /* the mean map is summed in float by the engine: a near-tie may flip one patch */
    g_assert_cmpfloat_with_epsilon (mean_map, want_mean, 2e-3);
    g_assert_true (per_head[0] > 0.0 && per_head[0] < 1.0);

    /* the references: the foreground as the map, the best mask for each image, and one
     * mask for every image, counted by hand from the pixels. A threshold mask keeps at
     * most ceil(fraction * P) patches (checked on maps drawn at random, from flat to
     * peaked); the per-image best is the best of all such masks; the greedy mask is one
     * of them, a local optimum (no single patch toggled does better) and no better than
     * the best of them all */
    {
        const int largest = (int) ceil (fraction * P);
        double ref_map, ref_best, ref_fixed, ref_share, want_map = 0.0, want_best = 0.0, want_fixed = 0.0;
        double best_all = 0.0, want_share = 0.0;
        guint8 fixed[16];
        int kept = 0;
        g_autofree long *cnt = g_new0 (long, n * P);
        g_autofree long *tot = g_new0 (long, n);
        g_autofree double *best_item = g_new0 (double, n);
        g_autoptr (GRand) rand = g_rand_new_with_seed (7);

        for (int t = 0; t < 3000; t++) {
            double a[16], gamma = g_rand_double_range (rand, 0.0, 6.0);
            guint8 mask[16];
            int size = 0;
            for (int k = 0; k < P; k++)
                a[k] = pow (g_rand_double_range (rand, 0.01, 1.0), gamma);
            naive_mask_ (mask, a, P, fraction);
            for (int k = 0; k < P; k++)
                size += mask[k];
            g_assert_cmpint (size, <=, largest);
        }
        g_assert_true (dinolab_eval_jaccard_references (ds, idx, n, p, 0, 0, fraction, fg_above, &ref_map, &ref_best,
                                                        &ref_fixed, fixed, &ref_share, &error));
        g_assert_no_error (error);
        for (gsize i = 0; i < n; i++) {
            DinolabImage img = { 0 };
            double a[16];
            guint8 mask[16];
            long inter = 0, uni = 0, in_m_total = 0;
            g_assert_true (dinolab_dataset_get_image (ds, i, &img, &error));
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++)
                    if (img.pixels[y * S + x] > fg_above) {
                        cnt[i * P + (y / p) * g + x / p]++;
                        tot[i]++;
                    }
            for (int k = 0; k < P; k++)
                a[k] = (double) cnt[i * P + k];
            naive_mask_ (mask, a, P, fraction);
            count_pixels_ (mask, &img, S, S, p, fg_above, &inter, &uni, &in_m_total);
            want_map += (uni > 0 ? (double) inter / uni : 1.0) / n;
            want_share += (double) tot[i] / (S * S) / n;
            dinolab_image_clear (&img);
        }
        for (guint bits = 1; bits < (1u << P); bits++) {
            double s = 0.0;
            if (__builtin_popcount (bits) > largest)
                continue;
            for (gsize i = 0; i < n; i++) {
                long inter = 0, area = 0;
                double j;
                for (int k = 0; k < P; k++)
                    if (bits & (1u << k)) {
                        inter += cnt[i * P + k];
                        area += p * p;
                    }
                j = (double) inter / (area + tot[i] - inter);
                best_item[i] = MAX (best_item[i], j);
                s += j / n;
            }
            best_all = MAX (best_all, s);
            {
                int diff = 0;
                for (int k = 0; k < P; k++)
                    diff += ((bits >> k) & 1u) != fixed[k];
                if (diff == 0)
                    want_fixed = s;
                else if (diff == 1)
                    g_assert_cmpfloat (s, <=, ref_fixed + 1e-12);
            }
        }
        for (gsize i = 0; i < n; i++)
            want_best += best_item[i] / n;
        for (int k = 0; k < P; k++)
            kept += fixed[k];
        g_test_message ("references: foreground map %.4f (by hand %.4f), best mask per image %.4f (%.4f), one "
                        "mask %.4f (by hand %.4f, best of all %.4f; %d patches, at most %d)", ref_map, want_map,
                        ref_best, want_best, ref_fixed, want_fixed, best_all, kept, largest);
        g_assert_cmpfloat_with_epsilon (ref_map, want_map, 1e-12);
        g_assert_cmpfloat_with_epsilon (ref_best, want_best, 1e-12);
        g_assert_cmpfloat_with_epsilon (ref_share, want_share, 1e-12);
        g_assert_true (ref_share > 0.0 && ref_share < 1.0);
        g_assert_cmpint (kept, >=, 1);
        g_assert_cmpint (kept, <=, largest);
        g_assert_cmpfloat_with_epsilon (ref_fixed, want_fixed, 1e-12);
        g_assert_cmpfloat (ref_fixed, <=, best_all + 1e-12);
        g_assert_cmpfloat (ref_fixed, >, 0.0);
        /* the ceiling is above both other references, which are masks of the same kind */
        g_assert_cmpfloat (ref_best, >=, ref_map - 1e-12);
        g_assert_cmpfloat (ref_best, >=, best_all - 1e-12);
    }

    /* images that are not whole patches have no pixel-exact foreground */
    write_images_ (f->dir, "odd", 4, 10, 2, 3);
    {
        g_autofree char *odd = g_strdup_printf ("npy:%s/odd-images.npy", f->dir);
        g_autoptr (DinolabDataset) ods = dinolab_dataset_open (odd, DINOLAB_SPLIT_TRAIN, &error);
        double ref_map, ref_best, ref_fixed;
        g_assert_no_error (error);
        g_assert_false (dinolab_eval_attention_jaccard (m, ods, idx, 4, 0, 0, fraction, 0, per_head, &mean_map,
                                                        NULL, NULL, NULL, &error));
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
        g_test_message ("%s", error->message);
        g_assert_nonnull (strstr (error->message, "multiple of the patch size 4"));
        g_clear_error (&error);
        g_assert_false (dinolab_eval_jaccard_references (ods, idx, 4, 4, 0, 0, fraction, 0, &ref_map, &ref_best,
                                                         &ref_fixed, NULL, NULL, &error));
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
        g_clear_error (&error);
        /* ... but their views can be: 10x10 images seen at 12x12 */
        g_assert_true (dinolab_eval_attention_jaccard (m, ods, idx, 4, 12, 0, fraction, 0, per_head, &mean_map,
                                                       NULL, NULL, NULL, &error));
        g_assert_no_error (error);
        g_assert_true (dinolab_eval_jaccard_references (ods, idx, 4, 4, 12, 0, fraction, 0, &ref_map, &ref_best,
                                                        &ref_fixed, NULL, NULL, &error));
        g_assert_no_error (error);
        g_assert_false (dinolab_eval_attention_jaccard (m, ds, idx, 4, 2 * S + 2, 0, fraction, 0, per_head,
                                                        &mean_map, NULL, NULL, NULL, &error));
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
        g_assert_nonnull (strstr (error->message, "view 26"));
        g_clear_error (&error);
    }

    /* a view twice the images' side (as visualize_attention.py's --image_size): the
     * attention of that view, its finer grid, and the foreground scaled by 2, by hand */
    {
        const int V = 2 * S, P2 = (V / p) * (V / p);
        g_autofree float *att2 = g_new (float, n * NH * P2);
        g_autofree double *a = g_new (double, P2);
        g_autofree guint8 *mask = g_new (guint8, P2);
        g_autofree long *cnt = g_new (long, P2);
        double want_head[2] = { 0, 0 }, want_map = 0.0, ref_map, ref_best, ref_fixed, share, share1;
        double ref1_map, ref1_best, ref1_fixed;

        g_assert_true (dinolab_eval_attention_jaccard (m, ds, idx, n, V, 0, fraction, fg_above, per_head,
                                                       &mean_map, NULL, NULL, NULL, &error));
        g_assert_no_error (error);
        g_assert_true (dinolab_eval_attention (m, ds, idx, n, V, 0, att2, NULL, &error));
        g_assert_true (dinolab_eval_jaccard_references (ds, idx, n, p, V, 0, fraction, fg_above, &ref_map, &ref_best,
                                                        &ref_fixed, NULL, &share, &error));
        g_assert_no_error (error);
        for (gsize i = 0; i < n; i++) {
            DinolabImage img = { 0 };
            long inter = 0, uni = 0, in_m_total = 0;
            g_assert_true (dinolab_dataset_get_image (ds, i, &img, &error));
            for (int h = 0; h < NH; h++) {
                for (int k = 0; k < P2; k++)
                    a[k] = att2[(i * NH + h) * P2 + k];
                naive_mask_ (mask, a, P2, fraction);
                inter = uni = in_m_total = 0;
                count_pixels_ (mask, &img, S, V, p, fg_above, &inter, &uni, &in_m_total);
                want_head[h] += (double) inter / uni / n;
            }
            memset (cnt, 0, (size_t) P2 * sizeof *cnt);
            for (int y = 0; y < V; y++)
                for (int x = 0; x < V; x++)
                    cnt[(y / p) * (V / p) + x / p] += img.pixels[(y / 2) * S + x / 2] > fg_above;
            for (int k = 0; k < P2; k++)
                a[k] = (double) cnt[k];
            naive_mask_ (mask, a, P2, fraction);
            inter = uni = in_m_total = 0;
            count_pixels_ (mask, &img, S, V, p, fg_above, &inter, &uni, &in_m_total);
            want_map += (uni > 0 ? (double) inter / uni : 1.0) / n;
            dinolab_image_clear (&img);
        }
        g_test_message ("at %dx%d: Jaccard per head %.4f %.4f (by hand %.4f %.4f), foreground map %.4f (%.4f)",
                        V, V, per_head[0], per_head[1], want_head[0], want_head[1], ref_map, want_map);
        for (int h = 0; h < NH; h++)
            g_assert_cmpfloat_with_epsilon (per_head[h], want_head[h], 1e-12);
        g_assert_cmpfloat_with_epsilon (ref_map, want_map, 1e-12);
        /* the object fills the same share of a view scaled by a whole factor */
        g_assert_true (dinolab_eval_jaccard_references (ds, idx, n, p, 0, 0, fraction, fg_above, &ref1_map,
                                                        &ref1_best, &ref1_fixed, NULL, &share1, &error));
        g_assert_cmpfloat_with_epsilon (share, share1, 1e-12);
        g_assert_cmpfloat (ref_best, >=, ref_map - 1e-12);
        g_assert_cmpfloat (ref_best, >=, ref_fixed - 1e-12);
    }

    /* the images framed by black (attention --eval --pad): the attention of each image
     * framed here by hand through the one-image API, and the Jaccard index with the
     * foreground framed as background, pixel by pixel */
    {
        const int F = p + 2, V = S + 2 * F, G = V / p, P3 = G * G;
        g_autofree float *att3 = g_new (float, n * NH * P3);
        g_autofree float *framed = g_new (float, V * V);
        g_autofree float *one = g_new (float, NH * P3);
        g_autofree double *a = g_new (double, P3);
        g_autofree guint8 *mask = g_new (guint8, P3);
        g_autofree long *cnt = g_new (long, P3);
        double want_head[2] = { 0, 0 }, want_map = 0.0, want_share = 0.0, max_err = 0.0;
        double ref_map, ref_best, ref_fixed, share;
        float nmean[3], nstd[3];

        g_assert_true (dinolab_dataset_get_normalization (ds, nmean, nstd, &error));
        g_assert_true (dinolab_eval_attention_jaccard (m, ds, idx, n, 0, F, fraction, fg_above, per_head,
                                                       &mean_map, NULL, NULL, NULL, &error));
        g_assert_no_error (error);
        g_assert_true (dinolab_eval_attention (m, ds, idx, n, S, F, att3, NULL, &error));
        g_assert_true (dinolab_eval_jaccard_references (ds, idx, n, p, 0, F, fraction, fg_above, &ref_map,
                                                        &ref_best, &ref_fixed, NULL, &share, &error));
        g_assert_no_error (error);
        for (gsize i = 0; i < n; i++) {
            g_autoptr (DinolabEvalImage) in = dinolab_eval_image_from_dataset (ds, i, S, p, &error);
            DinolabImage img = { 0 };
            long inter, uni, fg_count = 0;

            g_assert_no_error (error);
            for (int y = 0; y < V; y++)
                for (int x = 0; x < V; x++)
                    framed[y * V + x] = y >= F && y < F + S && x >= F && x < F + S
                                            ? in->x[(y - F) * S + (x - F)] : (0.0f - nmean[0]) / nstd[0];
            g_assert_true (dinolab_eval_image_attention (m, framed, V, V, one, NULL, &error));
            for (int j = 0; j < NH * P3; j++)
                max_err = fmax (max_err, fabs (att3[i * NH * P3 + j] - one[j]));

            g_assert_true (dinolab_dataset_get_image (ds, i, &img, &error));
            memset (cnt, 0, (size_t) P3 * sizeof *cnt);
            for (int h = 0; h <= NH; h++) {
                inter = uni = 0;
                if (h < NH) {
                    for (int k = 0; k < P3; k++)
                        a[k] = att3[(i * NH + h) * P3 + k];
                } else {  /* the foreground itself as the map */
                    for (int k = 0; k < P3; k++)
                        a[k] = (double) cnt[k];
                }
                naive_mask_ (mask, a, P3, fraction);
                for (int y = 0; y < V; y++)
                    for (int x = 0; x < V; x++) {
                        gboolean in_m = mask[(y / p) * G + x / p];
                        gboolean in_f = y >= F && y < F + S && x >= F && x < F + S &&
                                        img.pixels[(y - F) * S + (x - F)] > fg_above;
                        inter += in_m && in_f;
                        uni += in_m || in_f;
                        if (h == 0) {
                            cnt[(y / p) * G + x / p] += in_f;
                            fg_count += in_f;
                        }
                    }
                if (h < NH)
                    want_head[h] += (double) inter / uni / n;
                else
                    want_map += (uni > 0 ? (double) inter / uni : 1.0) / n;
            }
            want_share += (double) fg_count / (V * V) / n;
            dinolab_image_clear (&img);
        }
        g_test_message ("framed by %d to %dx%d: attention off by %.2g; Jaccard per head %.4f %.4f (by hand "
                        "%.4f %.4f), foreground map %.4f (%.4f), object share %.4f (%.4f)", F, V, V, max_err,
                        per_head[0], per_head[1], want_head[0], want_head[1], ref_map, want_map, share, want_share);
        g_assert_cmpfloat (max_err, <, 1e-5);
        for (int h = 0; h < NH; h++)
            g_assert_cmpfloat_with_epsilon (per_head[h], want_head[h], 1e-12);
        g_assert_cmpfloat_with_epsilon (ref_map, want_map, 1e-12);
        g_assert_cmpfloat_with_epsilon (share, want_share, 1e-12);

        /* a frame that leaves the view off the patch grid is refused, naming both */
        g_assert_false (dinolab_eval_attention_jaccard (m, ds, idx, n, 0, 1, fraction, fg_above, per_head,
                                                        &mean_map, NULL, NULL, NULL, &error));
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
        g_test_message ("%s", error->message);
        g_assert_nonnull (strstr (error->message, "view 14 = 12 + 2 x 1 of frame"));
        g_clear_error (&error);
    }
}

// ----------------------------------------------------------------------------
// loading a backbone, preparing one image

/* dinolab_eval_image_from_dataset on a 12 x 12 grey npy item = (pixel / 255 - mean) /
 * std with mean and population std over every pixel of the train split, computed here
 * in double; patch 5 trims it to 10 x 10 at the bottom and right. */
static void
test_image_from_dataset (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabDataset) ds = NULL;
    g_autofree char *pi = g_strdup_printf ("%s/train-images.npy", f->dir);
    g_autoptr (DinolabArray) raw = dinolab_npy_read (pi, &error);
    const int S = f->size;
    const gsize n_px = (gsize) f->n_train * S * S;
    double sum = 0.0, ss = 0.0, mean, std, max_err = 0.0;
    (void) data;

    g_assert_no_error (error);
    for (gsize i = 0; i < n_px; i++)
        sum += ((const guint8 *) raw->data)[i] / 255.0;
    mean = sum / (double) n_px;
    for (gsize i = 0; i < n_px; i++) {
        double d = ((const guint8 *) raw->data)[i] / 255.0 - mean;
        ss += d * d;
    }
    std = sqrt (ss / (double) n_px);
    ds = dinolab_dataset_open (f->train_spec, DINOLAB_SPLIT_TRAIN, &error);
    g_assert_no_error (error);

    for (int patch = 4; patch <= 5; patch++) {
        const gsize index = 7;
        const int side = S / patch * patch;  /* 12 or 10 */
        const guint8 *px = (const guint8 *) raw->data + index * S * S;
        g_autoptr (DinolabEvalImage) im = dinolab_eval_image_from_dataset (ds, index, S, patch, &error);

        g_assert_no_error (error);
        g_assert_nonnull (im);
        g_assert_cmpint (im->channels, ==, 1);
        g_assert_cmpint (im->height, ==, side);
        g_assert_cmpint (im->width, ==, side);
        g_assert_cmpfloat (fabs (im->mean[0] - mean), <, 1e-6);
        g_assert_cmpfloat (fabs (im->std[0] - std), <, 1e-6);
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++) {
                int v = px[y * S + x];
                max_err = fmax (max_err, fabs (im->x[y * side + x] - (v / 255.0 - mean) / std));
                for (int c = 0; c < 3; c++)
                    g_assert_cmpint (im->rgb[(y * side + x) * 3 + c], ==, v);
            }
        g_test_message ("image from dataset, patch %d: %dx%d, mean %.6f (here %.6f), std %.6f "
                        "(here %.6f), max |x - hand| %.2g", patch, im->width, im->height,
                        im->mean[0], mean, im->std[0], std, max_err);

        /* framed by a patch of black: the image in the middle, pixel value 0 around it */
        dinolab_eval_image_frame (im, patch);
        g_assert_cmpint (im->height, ==, side + 2 * patch);
        g_assert_cmpint (im->width, ==, side + 2 * patch);
        for (int y = 0; y < im->height; y++)
            for (int x = 0; x < im->width; x++) {
                gboolean inside = y >= patch && y < patch + side && x >= patch && x < patch + side;
                int v = inside ? px[(y - patch) * S + (x - patch)] : 0;
                max_err = fmax (max_err, fabs (im->x[y * im->width + x] - (v / 255.0 - mean) / std));
                for (int c = 0; c < 3; c++)
                    g_assert_cmpint (im->rgb[(y * im->width + x) * 3 + c], ==, v);
            }
    }
    g_assert_cmpfloat (max_err, <, 1e-5);

    /* an item out of range */
    g_assert_null (dinolab_eval_image_from_dataset (ds, (gsize) f->n_train, S, 4, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("%s", error->message);
}

/* Writes a @w x @h RGB PNG of random pixels (seed @seed), or of one colour @rgb when
 * @rgb is not NULL; returns its pixels [h, w, 3] (g_free). */
static guint8 *
write_png_ (const char *path, int w, int h, guint32 seed, const guint8 *rgb)
{
    g_autoptr (GdkPixbuf) pb = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, w, h);
    g_autoptr (GError) error = NULL;
    guint8 *want = g_new (guint8, (gsize) w * h * 3);
    guint8 *row0 = gdk_pixbuf_get_pixels (pb);
    int stride = gdk_pixbuf_get_rowstride (pb);
    GRand *r = g_rand_new_with_seed (seed);

    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                guint8 v = rgb != NULL ? rgb[c] : (guint8) g_rand_int_range (r, 0, 256);
                row0[y * stride + x * 3 + c] = v;
                want[(y * w + x) * 3 + c] = v;
            }
    g_rand_free (r);
    g_assert_true (gdk_pixbuf_save (pb, path, "png", &error, NULL));
    g_assert_no_error (error);
    return want;
}

/* dinolab_eval_image_from_file: a 14 x 10 PNG at size 10 (its shorter side: no
 * resize) and patch 4 is trimmed to 12 x 8 at the bottom and right; RGB against
 * ImageNet's mean/std, grey against PIL's L and 0.5 / 0.5 (no dataset). A uniform
 * 28 x 20 PNG at size 10 is resized to 14 x 10, trimmed to 12 x 8, and stays uniform. */
static void
test_image_from_file (void)
{
    static const double in_mean[3] = { 0.485, 0.456, 0.406 }, in_std[3] = { 0.229, 0.224, 0.225 };
    static const guint8 colour[3] = { 200, 100, 50 };
    g_autoptr (GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp ("dinolab-test-eval-XXXXXX", &error);
    g_autofree char *path = g_build_filename (dir, "picture.png", NULL);
    g_autofree char *flat = g_build_filename (dir, "flat.png", NULL);
    g_autofree char *missing = g_build_filename (dir, "missing.png", NULL);
    const int W = 14, H = 10;
    g_autofree guint8 *want = NULL;
    g_autofree guint8 *want_flat = NULL;
    double max_rgb = 0.0, max_grey = 0.0, max_flat = 0.0;

    g_assert_no_error (error);
    want = write_png_ (path, W, H, 3, NULL);
    want_flat = write_png_ (flat, 28, 20, 0, colour);

    {
        g_autoptr (DinolabEvalImage) im = dinolab_eval_image_from_file (path, 10, 3, 4, NULL, &error);
        g_assert_no_error (error);
        g_assert_cmpint (im->channels, ==, 3);
        g_assert_cmpint (im->width, ==, 12);
        g_assert_cmpint (im->height, ==, 8);
        for (int c = 0; c < 3; c++) {
            g_assert_cmpfloat (fabs (im->mean[c] - in_mean[c]), <, 1e-6);
            g_assert_cmpfloat (fabs (im->std[c] - in_std[c]), <, 1e-6);
        }
        for (int y = 0; y < im->height; y++)
            for (int x = 0; x < im->width; x++)
                for (int c = 0; c < 3; c++) {
                    int v = want[(y * W + x) * 3 + c];
                    double hand = (v / 255.0 - in_mean[c]) / in_std[c];
                    max_rgb = fmax (max_rgb, fabs (im->x[(c * im->height + y) * im->width + x] - hand));
                    g_assert_cmpint (im->rgb[(y * im->width + x) * 3 + c], ==, v);
                }
        g_test_message ("image from file, RGB: %dx%d (%s), max |x - hand| %.2g", im->width,
                        im->height, im->normalization, max_rgb);
        g_assert_cmpfloat (max_rgb, <, 1e-5);
    }
    {
        /* grey: L = 0.299 R + 0.587 G + 0.114 B (PIL rounds it to an integer: half a
         * grey level allowed) */
        g_autoptr (DinolabEvalImage) im = dinolab_eval_image_from_file (path, 10, 1, 4, NULL, &error);
        g_assert_no_error (error);
        g_assert_cmpint (im->channels, ==, 1);
        g_assert_cmpint (im->width, ==, 12);
        g_assert_cmpint (im->height, ==, 8);
        g_assert_cmpfloat (fabs (im->mean[0] - 0.5), <, 1e-6);
        g_assert_cmpfloat (fabs (im->std[0] - 0.5), <, 1e-6);
        for (int y = 0; y < im->height; y++)
            for (int x = 0; x < im->width; x++) {
                const guint8 *p = want + (y * W + x) * 3;
                double L = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
                double got = (im->x[y * im->width + x] * 0.5 + 0.5) * 255.0;
                max_grey = fmax (max_grey, fabs (got - L));
            }
        g_test_message ("image from file, grey: max |L - hand| %.3f grey levels", max_grey);
        g_assert_cmpfloat (max_grey, <=, 0.5 + 1e-3);
    }
    {
        g_autoptr (DinolabEvalImage) im = dinolab_eval_image_from_file (flat, 10, 3, 4, NULL, &error);
        g_assert_no_error (error);
        g_assert_cmpint (im->width, ==, 12);   /* 28 x 20 -> 14 x 10 -> 12 x 8 */
        g_assert_cmpint (im->height, ==, 8);
        for (int c = 0; c < 3; c++) {
            double hand = (colour[c] / 255.0 - in_mean[c]) / in_std[c];
            for (int i = 0; i < im->width * im->height; i++)
                max_flat = fmax (max_flat, fabs (im->x[c * im->width * im->height + i] - hand));
        }
        g_test_message ("image from file, uniform resized: max |x - hand| %.2g", max_flat);
        g_assert_cmpfloat (max_flat, <, 1.0 / 255 / 0.224);  /* within a grey level */
    }

    /* errors: a missing file, a size that leaves no whole patch, 2 channels */
    g_assert_null (dinolab_eval_image_from_file (missing, 10, 3, 4, NULL, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO);
    g_assert_nonnull (strstr (error->message, "missing.png"));
    g_test_message ("%s", error->message);
    g_clear_error (&error);
    g_assert_null (dinolab_eval_image_from_file (path, 3, 3, 4, NULL, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
    g_assert_null (dinolab_eval_image_from_file (path, 10, 2, 4, NULL, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
    rm_rf_ (dir);
}

/* dinolab_eval_load_backbone of the fixture's weight file (saved with dinolab_model_save
 * from tiny_model_) = tiny_model_ itself: the same hyperparameters, CLS and last-block
 * attention on a dataset item. */
static void
test_load_backbone (Fixture *f, gconstpointer data)
{
    static const char *const overrides[] = { "threads=1", NULL };
    static const char *const bad[] = { "embed_dim=24", NULL };
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabDataset) ds = NULL;
    g_autoptr (DinolabModel) orig = tiny_model_ (f->train_spec);
    g_autoptr (DinolabModel) m = dinolab_eval_load_backbone (f->model_path, FALSE, NULL, -1, &error);
    g_autoptr (DinolabModel) mt = NULL;
    g_autoptr (DinolabBackboneWork) w0 = NULL;
    g_autoptr (DinolabBackboneWork) w1 = NULL;
    g_autofree char *missing = g_build_filename (f->dir, "none.safetensors", NULL);
    const int S = f->size, NH = 2, P = 9, D = 16;
    g_autofree float *view = g_new (float, S * S);
    float a0[2 * 9], a1[2 * 9];
    double max_att = 0.0, max_cls = 0.0;
    (void) data;

    g_assert_no_error (error);
    g_assert_nonnull (m);
    g_assert_false (dinolab_model_has_head (m));
    g_assert_cmpint (dinolab_model_get_hparams (m)->embed_dim, ==, D);
    g_assert_cmpint (dinolab_model_get_hparams (m)->depth, ==, 2);
    g_assert_cmpint (dinolab_model_get_hparams (m)->num_heads, ==, NH);
    g_assert_cmpint (dinolab_model_get_hparams (m)->patch_size, ==, 4);
    ds = dinolab_dataset_open (f->train_spec, DINOLAB_SPLIT_TRAIN, &error);
    g_assert_no_error (error);
    w0 = dinolab_backbone_work_new (orig, 1, S, S, FALSE);
    w1 = dinolab_backbone_work_new (m, 1, S, S, FALSE);
    for (gsize item = 0; item < 5; item++) {
        g_assert_true (dinolab_dataset_get_eval_view (ds, item * 11, S, view, &error));
        dinolab_backbone_forward (orig, w0, view, NULL);
        dinolab_backbone_forward (m, w1, view, NULL);
        dinolab_backbone_work_get_attention (w0, a0);
        dinolab_backbone_work_get_attention (w1, a1);
        for (int j = 0; j < NH * P; j++)
            max_att = fmax (max_att, fabs (a0[j] - a1[j]));
        for (int d = 0; d < D; d++)
            max_cls = fmax (max_cls, fabs (dinolab_backbone_work_get_cls (w0)[d]
                                           - dinolab_backbone_work_get_cls (w1)[d]));
    }
    g_test_message ("load_backbone: max attention diff %.2g, max CLS diff %.2g over 5 items",
                    max_att, max_cls);
    g_assert_cmpfloat (max_att, <, 1e-6);
    g_assert_cmpfloat (max_cls, <, 1e-5);

    /* overrides, then @threads */
    mt = dinolab_eval_load_backbone (f->model_path, FALSE, overrides, 3, &error);
    g_assert_no_error (error);
    g_assert_cmpint (dinolab_model_get_hparams (mt)->threads, ==, 3);
    g_clear_pointer (&mt, dinolab_model_free);
    mt = dinolab_eval_load_backbone (f->model_path, FALSE, overrides, -1, &error);
    g_assert_no_error (error);
    g_assert_cmpint (dinolab_model_get_hparams (mt)->threads, ==, 1);

    /* errors: a width the file's tensors do not have, a missing file */
    g_assert_null (dinolab_eval_load_backbone (f->model_path, FALSE, bad, -1, &error));
    g_assert_nonnull (error);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
    g_assert_null (dinolab_eval_load_backbone (missing, FALSE, NULL, -1, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO);
    g_assert_nonnull (strstr (error->message, "none.safetensors"));
    g_test_message ("%s", error->message);
}

/* dinolab_eval_find_checkpoint on a store filled here: run "ckpt-run" with checkpoints
 * at steps 5 and 12, run "bare-run" with none. */
static void
test_find_checkpoint (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp ("dinolab-test-eval-XXXXXX", &error);
    g_autofree char *db = g_build_filename (dir, "runs.db", NULL);
    g_autofree char *uuid = NULL;
    g_autofree char *bare = NULL;
    g_autofree char *prefix = NULL;
    g_autofree char *want_source = NULL;
    DinolabStore *store;
    DinolabRunSpec spec = { 0 };
    const char *sha = "0000000000000000000000000000000000000000000000000000000000000000";
    gint64 step = -1;

    g_assert_no_error (error);
    store = dinolab_store_open (db, &error);
    g_assert_no_error (error);
    spec.hparams_json = "{\"lr\":0.001}";
    spec.name = "ckpt-run";
    uuid = dinolab_store_create_run (store, &spec, &error);
    g_assert_no_error (error);
    spec.name = "bare-run";
    bare = dinolab_store_create_run (store, &spec, &error);
    g_assert_no_error (error);
    for (int s = 5; s <= 12; s += 7) {
        g_autofree char *rel = g_strdup_printf ("runs/%s/step-%08d.safetensors", uuid, s);
        g_assert_true (dinolab_store_add_checkpoint (store, uuid, s, s / 5, rel, sha, 100, &error));
        g_assert_no_error (error);
    }

    /* the latest, by name */
    {
        g_autofree char *source = NULL;
        g_autofree char *path = dinolab_eval_find_checkpoint (store, "ckpt-run", -1, &step, &source, &error);
        g_autofree char *want = g_strdup_printf ("%s/runs/%s/step-00000012.safetensors", dir, uuid);
        g_assert_no_error (error);
        g_assert_cmpstr (path, ==, want);
        g_assert_cmpint (step, ==, 12);
        want_source = g_strdup_printf ("run ckpt-run (%.8s), checkpoint at step 12", uuid);
        g_assert_cmpstr (source, ==, want_source);
        g_test_message ("latest: %s (%s)", path, source);
    }
    /* step 5, by uuid prefix; NULL outputs allowed */
    {
        g_autofree char *path = NULL;
        g_autofree char *want = g_strdup_printf ("%s/runs/%s/step-00000005.safetensors", dir, uuid);
        prefix = g_strndup (uuid, 8);
        path = dinolab_eval_find_checkpoint (store, prefix, 5, &step, NULL, &error);
        g_assert_no_error (error);
        g_assert_cmpstr (path, ==, want);
        g_assert_cmpint (step, ==, 5);
        g_free (dinolab_eval_find_checkpoint (store, uuid, 12, NULL, NULL, &error));
        g_assert_no_error (error);
    }
    /* no checkpoint at step 7: the message names the run and lists its steps */
    g_assert_null (dinolab_eval_find_checkpoint (store, "ckpt-run", 7, NULL, NULL, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "ckpt-run"));
    g_assert_nonnull (strstr (error->message, "step 7"));
    g_assert_nonnull (strstr (error->message, "5, 12"));
    g_clear_error (&error);
    /* an unknown run: the message names it */
    g_assert_null (dinolab_eval_find_checkpoint (store, "no-such-run", -1, NULL, NULL, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "no-such-run"));
    g_clear_error (&error);
    /* a run without checkpoints, latest and at a step */
    g_assert_null (dinolab_eval_find_checkpoint (store, "bare-run", -1, NULL, NULL, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "bare-run"));
    g_assert_nonnull (strstr (error->message, "no checkpoint"));
    g_clear_error (&error);
    g_assert_null (dinolab_eval_find_checkpoint (store, "bare-run", 3, NULL, NULL, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "none"));
    g_clear_error (&error);

    dinolab_store_close (store);
    rm_rf_ (dir);
}

// ----------------------------------------------------------------------------
// dinolab-cli attention / knn, end to end

static const char *
cli_ (void)
{
    const char *cli = g_getenv ("DINOLAB_CLI");
    if (cli == NULL || *cli == '\0') {
        g_test_skip ("DINOLAB_CLI is not set");
        return NULL;
    }
    g_assert_true (g_file_test (cli, G_FILE_TEST_IS_EXECUTABLE));
    return cli;
}

/* Runs the CLI; returns its exit status, stdout in *out (may be NULL). */
static int
run_cli_ (const char *const *args, char **out)
{
    g_autoptr (GPtrArray) argv = g_ptr_array_new ();
    g_autoptr (GError) error = NULL;
    g_autofree char *so = NULL, *se = NULL;
    int wait_status = 0;

    g_ptr_array_add (argv, (gpointer) g_getenv ("DINOLAB_CLI"));
    for (int i = 0; args[i] != NULL; i++)
        g_ptr_array_add (argv, (gpointer) args[i]);
    g_ptr_array_add (argv, NULL);
    g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &so, &se, &wait_status, &error);
    g_assert_no_error (error);
    if (so != NULL && *so != '\0')
        g_test_message ("stdout: %s", so);
    if (se != NULL && *se != '\0')
        g_test_message ("stderr: %s", se);
    if (out != NULL)
        *out = g_steal_pointer (&so);
    return WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1;
}

/* Width and height from a PNG's IHDR chunk (bytes 16..23, big-endian). */
static void
png_size_ (const char *path, int *w, int *h)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    const guint8 *b;

    g_assert_true (g_file_get_contents (path, &data, &len, NULL));
    g_assert_cmpuint (len, >, 24);
    b = (const guint8 *) data;
    g_assert_true (b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G');
    *w = (b[16] << 24) | (b[17] << 16) | (b[18] << 8) | b[19];
    *h = (b[20] << 24) | (b[21] << 16) | (b[22] << 8) | b[23];
}

/* Checks the folder the attention command wrote: files, sizes, shapes, the masks' mass.
 * Returns attention.npy. */
static DinolabArray *
check_attention_dir_ (const char *dir, int NH, int gh, int gw, int png_w, int png_h, double threshold)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *pa = g_build_filename (dir, "attention.npy", NULL);
    g_autofree char *pm = g_build_filename (dir, "masks.npy", NULL);
    g_autoptr (DinolabArray) masks = NULL;
    DinolabArray *att;
    int P = gh * gw;
    const char *fixed[] = { "image.png", "attn-mean.png" };

    for (int i = 0; i < 2 + 2 * NH; i++) {
        g_autofree char *name = i < 2 ? g_strdup (fixed[i])
                                      : g_strdup_printf (i < 2 + NH ? "attn-head%d.png" : "mask-head%d.png",
                                                         (i - 2) % NH);
        g_autofree char *path = g_build_filename (dir, name, NULL);
        int w, h;
        png_size_ (path, &w, &h);
        g_assert_cmpint (w, ==, png_w);
        g_assert_cmpint (h, ==, png_h);
    }
    att = dinolab_npy_read (pa, &error);
    g_assert_no_error (error);
    g_assert_cmpint (att->dtype, ==, DINOLAB_DTYPE_F32);
    g_assert_cmpint (att->ndim, ==, 3);
    g_assert_cmpint (att->shape[0], ==, NH);
    g_assert_cmpint (att->shape[1], ==, gh);
    g_assert_cmpint (att->shape[2], ==, gw);
    masks = dinolab_npy_read (pm, &error);
    g_assert_no_error (error);
    g_assert_cmpint (masks->dtype, ==, DINOLAB_DTYPE_U8);
    g_assert_cmpint (masks->ndim, ==, 3);
    g_assert_cmpint (masks->shape[0], ==, NH);
    /* every mask holds >= threshold of its head's mass, and dropping its smallest
     * kept patch would fall below: the smallest such set */
    for (int h = 0; h < NH; h++) {
        const float *a = (const float *) att->data + h * P;
        const guint8 *m = (const guint8 *) masks->data + h * P;
        double total = 0.0, kept = 0.0, smallest = INFINITY;
        int n = 0;
        for (int i = 0; i < P; i++) {
            total += a[i];
            if (m[i]) {
                kept += a[i];
                smallest = fmin (smallest, a[i]);
                n++;
            }
        }
        g_test_message ("head %d: mask keeps %d of %d patches, %.4f of the mass (threshold %.2f)", h, n, P,
                        kept / total, threshold);
        g_assert_cmpfloat (kept, >=, threshold * total * (1 - 1e-9));
        g_assert_cmpfloat (kept - smallest, <, threshold * total);
        g_assert_cmpint (n, <, P);
    }
    return att;
}

static void
test_cli_attention (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabModel) m = NULL;
    g_autoptr (DinolabDataset) ds = NULL;
    g_autoptr (DinolabArray) att = NULL;
    g_autofree char *out1 = g_build_filename (f->dir, "att-dataset", NULL);
    g_autofree char *out2 = g_build_filename (f->dir, "att-image", NULL);
    g_autofree char *ppm = g_build_filename (f->dir, "tiny.ppm", NULL);
    g_autofree char *stdout_text = NULL;
    g_autofree float *view = NULL;
    float want[2 * 9];
    double max_err = 0.0;
    (void) data;

    if (cli_ () == NULL)
        return;
    m = load_model_ (f->model_path, -1);

    /* 1. an item of the dataset: the 12x12 view, a 3x3 grid, zoom 4 -> 48x48 PNGs */
    {
        const char *args[] = { "attention", "--weights", f->model_path, "--dataset", f->train_spec,
                               "--split", "test", "--index", "5", "--zoom", "4", "--out", out1, NULL };
        g_assert_cmpint (run_cli_ (args, NULL), ==, 0);
    }
    att = check_attention_dir_ (out1, 2, 3, 3, 48, 48, 0.6);
    ds = dinolab_dataset_open (f->train_spec, DINOLAB_SPLIT_TEST, &error);
    g_assert_no_error (error);
    view = g_new (float, f->size * f->size);
    g_assert_true (dinolab_dataset_get_eval_view (ds, 5, f->size, view, &error));
    {
        g_autoptr (DinolabBackboneWork) w = dinolab_backbone_work_new (m, 1, f->size, f->size, FALSE);
        dinolab_backbone_forward (m, w, view, NULL);
        dinolab_backbone_work_get_attention (w, want);
    }
    for (int i = 0; i < 18; i++)
        max_err = fmax (max_err, fabs (((const float *) att->data)[i] - want[i]));
    g_test_message ("attention.npy vs the backbone on the same view: max diff %.2g", max_err);
    g_assert_cmpfloat (max_err, <, 1e-6);
    g_clear_pointer (&att, dinolab_array_free);

    /* 2. an image file, 20 x 15 RGB (gdk-pixbuf reads PPM); --size 8: resized to
     * 10 x 8 (shorter side 8), trimmed to 8 x 8 -> a 2x2 grid; auto zoom 256/8 = 32 */
    {
        GString *img = g_string_new ("P6\n20 15\n255\n");
        const char *args[] = { "attention", "--weights", f->model_path, "--image", ppm, "--size", "8",
                               "--threshold", "0.5", "--json", "--out", out2, NULL };
        JsonParser *parser = json_parser_new ();
        JsonObject *o;
        for (int y = 0; y < 15; y++)
            for (int x = 0; x < 20; x++) {
                guint8 px[3] = { (guint8) (x * 12), (guint8) (y * 16), (guint8) (x < 10 ? 220 : 10) };
                g_string_append_len (img, (const char *) px, 3);
            }
        g_assert_true (g_file_set_contents (ppm, img->str, (gssize) img->len, NULL));
        g_string_free (img, TRUE);
        g_assert_cmpint (run_cli_ (args, &stdout_text), ==, 0);
        att = check_attention_dir_ (out2, 2, 2, 2, 256, 256, 0.5);
        g_assert_true (json_parser_load_from_data (parser, stdout_text, -1, &error));
        o = json_node_get_object (json_parser_get_root (parser));
        g_assert_cmpint (json_object_get_int_member (o, "width"), ==, 8);
        g_assert_cmpint (json_object_get_int_member (o, "height"), ==, 8);
        g_assert_cmpint (json_object_get_int_member (o, "heads"), ==, 2);
        g_object_unref (parser);
    }

    /* 3. --eval --json: the engine's Jaccard figures for the model, and the references;
     * the contact sheet is a PNG; --per-class: the same on each class's items, with the
     * best head of all of them */
    {
        g_autofree char *sheet = g_build_filename (f->dir, "sheet.png", NULL);
        const char *args[] = { "attention", "--weights", f->model_path, "--dataset", f->train_spec, "--eval",
                               "--sheet", sheet, "--per-class", "--json", NULL };
        g_autofree char *text = NULL;
        g_autoptr (JsonParser) parser = json_parser_new ();
        g_autofree gsize *idx = g_new (gsize, dinolab_dataset_get_size (ds));
        gsize n = dinolab_dataset_get_size (ds);
        double per_head[2], mean_map, ref_map, ref_best, ref_fixed, share;
        JsonObject *o, *mo, *ro;
        JsonArray *heads, *classes;
        gint64 best, in_classes = 0;

        for (gsize i = 0; i < n; i++)
            idx[i] = i;
        g_assert_cmpint (run_cli_ (args, &text), ==, 0);
        g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
        o = json_node_get_object (json_parser_get_root (parser));
        g_assert_cmpint (json_object_get_int_member (o, "images"), ==, (gint64) n);
        mo = json_object_get_object_member (o, "model");
        ro = json_object_get_object_member (o, "references");
        g_assert_true (json_object_has_member (o, "random_init"));
        g_assert_true (dinolab_eval_attention_jaccard (m, ds, idx, n, 0, 0, 0.6, 0, per_head, &mean_map, NULL, NULL,
                                                       NULL, &error));
        g_assert_true (dinolab_eval_jaccard_references (ds, idx, n, 4, 0, 0, 0.6, 0, &ref_map, &ref_best, &ref_fixed,
                                                        NULL, NULL, &error));
        g_assert_no_error (error);
        heads = json_object_get_array_member (mo, "heads");
        g_assert_cmpint (json_array_get_length (heads), ==, 2);
        for (int h = 0; h < 2; h++)
            g_assert_cmpfloat_with_epsilon (json_array_get_double_element (heads, h), per_head[h], 1e-12);
        g_assert_cmpfloat_with_epsilon (json_object_get_double_member (mo, "best_head_jaccard"),
                                        MAX (per_head[0], per_head[1]), 1e-12);
        g_assert_cmpfloat_with_epsilon (json_object_get_double_member (mo, "mean_map_jaccard"), mean_map, 1e-12);
        g_assert_cmpfloat_with_epsilon (json_object_get_double_member (ro, "foreground_map_jaccard"), ref_map,
                                        1e-12);
        g_assert_cmpfloat_with_epsilon (json_object_get_double_member (ro, "best_mask_jaccard"), ref_best, 1e-12);
        g_assert_cmpfloat_with_epsilon (json_object_get_double_member (ro, "fixed_mask_jaccard"), ref_fixed,
                                        1e-12);
        g_assert_cmpint (json_object_get_int_member (ro, "patches"), ==, 9);
        g_test_message ("attention --eval: best head %.4f, mean map %.4f, references %.4f %.4f %.4f",
                        MAX (per_head[0], per_head[1]), mean_map, ref_map, ref_best, ref_fixed);

        best = json_object_get_int_member (mo, "best_head");
        classes = json_object_get_array_member (o, "classes");
        g_assert_cmpint (json_array_get_length (classes), >=, 2);
        for (guint c = 0; c < json_array_get_length (classes); c++) {
            JsonObject *co = json_array_get_object_element (classes, c);
            JsonObject *cm = json_object_get_object_member (co, "model");
            JsonObject *cr = json_object_get_object_member (co, "references");
            gint64 label = json_object_get_int_member (co, "label");
            gsize m_ = 0;

            for (gsize i = 0; i < n; i++)
                if (dinolab_dataset_get_label (ds, i) == label)
                    idx[m_++] = i;
            g_assert_cmpint (json_object_get_int_member (co, "images"), ==, (gint64) m_);
            g_assert_cmpstr (json_object_get_string_member (co, "class"), ==,
                             dinolab_dataset_get_class_name (ds, (guint) label));
            in_classes += (gint64) m_;
            g_assert_true (dinolab_eval_attention_jaccard (m, ds, idx, m_, 0, 0, 0.6, 0, per_head, &mean_map, NULL,
                                                           NULL, NULL, &error));
            g_assert_true (dinolab_eval_jaccard_references (ds, idx, m_, 4, 0, 0, 0.6, 0, &ref_map, &ref_best,
                                                            &ref_fixed, NULL, &share, &error));
            g_assert_no_error (error);
            g_assert_cmpint (json_object_get_int_member (cm, "best_head"), ==, best);
            g_assert_cmpfloat_with_epsilon (json_object_get_double_member (cm, "best_head_jaccard"),
                                            per_head[best], 1e-12);
            g_assert_cmpfloat_with_epsilon (json_object_get_double_member (cm, "mean_map_jaccard"), mean_map,
                                            1e-12);
            g_assert_cmpfloat_with_epsilon (json_object_get_double_member (cr, "foreground_map_jaccard"),
                                            ref_map, 1e-12);
            g_assert_cmpfloat_with_epsilon (json_object_get_double_member (cr, "object_share"), share, 1e-12);
        }
        g_assert_cmpint (in_classes, ==, (gint64) n);   /* every item in one class */
        {
            g_autoptr (GdkPixbuf) pb = gdk_pixbuf_new_from_file (sheet, &error);
            g_assert_no_error (error);
            g_assert_cmpint (gdk_pixbuf_get_width (pb), >, 100);
        }
    }

    /* 3b. --eval --size: the same figures on the images resized to that side */
    {
        const char *args[] = { "attention", "--weights", f->model_path, "--dataset", f->train_spec, "--eval",
                               "--size", "24", "--json", NULL };
        const char *odd[] = { "attention", "--weights", f->model_path, "--dataset", f->train_spec, "--eval",
                              "--size", "22", NULL };
        g_autofree char *text = NULL;
        g_autoptr (JsonParser) parser = json_parser_new ();
        gsize n = dinolab_dataset_get_size (ds);
        g_autofree gsize *idx = g_new (gsize, n);
        double per_head[2], mean_map, ref_map, ref_best, ref_fixed;
        JsonObject *o;

        for (gsize i = 0; i < n; i++)
            idx[i] = i;
        g_assert_cmpint (run_cli_ (args, &text), ==, 0);
        g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
        o = json_node_get_object (json_parser_get_root (parser));
        g_assert_cmpint (json_object_get_int_member (o, "view_size"), ==, 24);
        g_assert_true (dinolab_eval_attention_jaccard (m, ds, idx, n, 24, 0, 0.6, 0, per_head, &mean_map, NULL, NULL,
                                                       NULL, &error));
        g_assert_true (dinolab_eval_jaccard_references (ds, idx, n, 4, 24, 0, 0.6, 0, &ref_map, &ref_best, &ref_fixed,
                                                        NULL, NULL, &error));
        g_assert_no_error (error);
        g_assert_cmpfloat_with_epsilon (json_object_get_double_member (json_object_get_object_member (o, "model"),
                                                                       "mean_map_jaccard"), mean_map, 1e-12);
        g_assert_cmpfloat_with_epsilon (
            json_object_get_double_member (json_object_get_object_member (o, "references"), "best_mask_jaccard"),
            ref_best, 1e-12);
        g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (o, "references"), "patches"),
                         ==, 36);
        g_assert_cmpint (run_cli_ (odd, NULL), ==, 2);   /* not a multiple of the patch: invalid input */
        odd[7] = "432";   /* 2 heads x 11665^2 floats of attention for one image: refused, not a crash */
        g_assert_cmpint (run_cli_ (odd, NULL), ==, 2);
    }

    /* 3c. --pad: the images framed by black, the same figures as the engine's; a frame
     * that leaves the view off the patch grid, or a negative one, is refused */
    {
        g_autofree char *sheet = g_build_filename (f->dir, "sheet-pad.png", NULL);
        g_autofree char *out4 = g_build_filename (f->dir, "att-pad", NULL);
        const char *args[] = { "attention", "--weights", f->model_path, "--dataset", f->train_spec, "--eval",
                               "--pad", "4", "--json", "--sheet", sheet, NULL };
        const char *one[] = { "attention", "--weights", f->model_path, "--dataset", f->train_spec, "--index", "3",
                              "--pad", "4", "--out", out4, "--json", NULL };
        const char *off_grid[] = { "attention", "--weights", f->model_path, "--dataset", f->train_spec, "--eval",
                                   "--pad", "1", NULL };
        const char *negative[] = { "attention", "--weights", f->model_path, "--dataset", f->train_spec, "--eval",
                                   "--pad", "-4", NULL };
        g_autofree char *text = NULL, *text1 = NULL;
        g_autoptr (JsonParser) parser = json_parser_new ();
        g_autoptr (JsonParser) parser1 = json_parser_new ();
        gsize n = dinolab_dataset_get_size (ds);
        g_autofree gsize *idx = g_new (gsize, n);
        double per_head[2], mean_map, ref_map, ref_best, ref_fixed;
        JsonObject *o, *model_o;

        for (gsize i = 0; i < n; i++)
            idx[i] = i;
        g_assert_cmpint (run_cli_ (args, &text), ==, 0);
        g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
        o = json_node_get_object (json_parser_get_root (parser));
        model_o = json_object_get_object_member (o, "model");
        g_assert_cmpint (json_object_get_int_member (o, "pad"), ==, 4);
        g_assert_true (dinolab_eval_attention_jaccard (m, ds, idx, n, 0, 4, 0.6, 0, per_head, &mean_map, NULL, NULL,
                                                       NULL, &error));
        g_assert_true (dinolab_eval_jaccard_references (ds, idx, n, 4, 0, 4, 0.6, 0, &ref_map, &ref_best,
                                                        &ref_fixed, NULL, NULL, &error));
        g_assert_no_error (error);
        g_assert_cmpfloat_with_epsilon (json_object_get_double_member (model_o, "mean_map_jaccard"), mean_map,
                                        1e-12);
        for (int h = 0; h < 2; h++)
            g_assert_cmpfloat_with_epsilon (
                json_node_get_double (json_array_get_element (json_object_get_array_member (model_o, "heads"), h)),
                per_head[h], 1e-12);
        g_assert_cmpfloat_with_epsilon (
            json_object_get_double_member (json_object_get_object_member (o, "references"), "foreground_map_jaccard"),
            ref_map, 1e-12);
        g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (o, "references"), "patches"),
                         ==, 25);   /* (12 + 2 x 4) / 4 = 5 patches a side */
        g_assert_true (g_file_test (sheet, G_FILE_TEST_EXISTS));

        /* one image: its input grows by the frame on every side */
        g_assert_cmpint (run_cli_ (one, &text1), ==, 0);
        g_assert_true (json_parser_load_from_data (parser1, text1, -1, &error));
        o = json_node_get_object (json_parser_get_root (parser1));
        g_assert_cmpint (json_object_get_int_member (o, "width"), ==, f->size + 8);
        g_assert_cmpint (json_object_get_int_member (o, "pad"), ==, 4);
        one[8] = "1";   /* 2 x 1 pixels of frame: off the grid of patch 4 */
        g_assert_cmpint (run_cli_ (one, NULL), ==, 2);

        g_assert_cmpint (run_cli_ (off_grid, NULL), ==, 2);
        g_assert_cmpint (run_cli_ (negative, NULL), ==, 2);
        negative[7] = "8193";   /* wider than any model attends to: refused before any allocation */
        g_assert_cmpint (run_cli_ (negative, NULL), ==, 2);
    }

    /* 4. bad input: exit status 2, nothing written */
    {
        g_autofree char *out3 = g_build_filename (f->dir, "att-bad", NULL);
        const char *bad_index[] = { "attention", "--weights", f->model_path, "--dataset", f->train_spec,
                                    "--index", "100000", "--out", out3, NULL };
        const char *both[] = { "attention", "--weights", f->model_path, "--image", ppm, "--index", "1",
                               "--out", out3, NULL };
        const char *missing[] = { "attention", "--weights", "/nonexistent.safetensors", "--image", ppm,
                                  "--out", out3, NULL };
        g_assert_cmpint (run_cli_ (bad_index, NULL), ==, 2);
        g_assert_cmpint (run_cli_ (both, NULL), ==, 2);
        g_assert_cmpint (run_cli_ (missing, NULL), !=, 0);
        g_assert_false (g_file_test (out3, G_FILE_TEST_EXISTS));
    }
}

static void
test_cli_knn (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabModel) m = NULL;
    g_autoptr (DinolabDataset) train = NULL;
    g_autoptr (DinolabDataset) test = NULL;
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autofree char *text = NULL;
    g_autofree gsize *itr = g_new (gsize, f->n_train);
    g_autofree gsize *ite = g_new (gsize, f->n_test);
    DinolabKnnResult r;
    JsonObject *o, *model_o;
    const char *args[] = { "knn", "--weights", f->model_path, "--k", "7", "--json", NULL };
    (void) data;

    if (cli_ () == NULL)
        return;
    g_assert_cmpint (run_cli_ (args, &text), ==, 0);
    g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
    o = json_node_get_object (json_parser_get_root (parser));
    g_assert_cmpint (json_object_get_int_member (o, "n_train"), ==, f->n_train);
    g_assert_cmpint (json_object_get_int_member (o, "n_test"), ==, f->n_test);
    g_assert_cmpint (json_object_get_int_member (o, "k"), ==, 7);
    g_assert_true (json_object_has_member (o, "pixels"));
    g_assert_true (json_object_has_member (o, "random_init"));
    model_o = json_object_get_object_member (o, "model");

    m = load_model_ (f->model_path, -1);
    train = dinolab_dataset_open (f->train_spec, DINOLAB_SPLIT_TRAIN, &error);
    test = dinolab_dataset_open (f->train_spec, DINOLAB_SPLIT_TEST, &error);
    for (int i = 0; i < f->n_train; i++)
        itr[i] = (gsize) i;
    for (int i = 0; i < f->n_test; i++)
        ite[i] = (gsize) i;
    g_assert_true (dinolab_eval_knn (m, train, itr, f->n_train, test, ite, f->n_test, f->size, 7, 0.07, &r,
                                     NULL, &error));
    g_assert_cmpfloat (fabs (json_object_get_double_member (model_o, "top1") - r.top1), <, 1e-9);
    g_assert_cmpfloat (fabs (json_object_get_double_member (model_o, "top5") - r.top5), <, 1e-9);

    /* a subset and bad usage */
    {
        const char *sub[] = { "knn", "--weights", f->model_path, "--limit-train", "50", "--limit-test", "10",
                              "--no-baselines", "--json", NULL };
        const char *neither[] = { "knn", "--k", "3", NULL };
        const char *bad_k[] = { "knn", "--weights", f->model_path, "--k", "0", NULL };
        g_autofree char *t2 = NULL;
        g_autoptr (JsonParser) p2 = json_parser_new ();
        g_assert_cmpint (run_cli_ (sub, &t2), ==, 0);
        g_assert_true (json_parser_load_from_data (p2, t2, -1, &error));
        o = json_node_get_object (json_parser_get_root (p2));
        g_assert_cmpint (json_object_get_int_member (o, "n_train"), ==, 50);
        g_assert_cmpint (json_object_get_int_member (o, "n_test"), ==, 10);
        g_assert_false (json_object_has_member (o, "pixels"));
        g_assert_cmpint (run_cli_ (neither, NULL), ==, 2);
        g_assert_cmpint (run_cli_ (bad_k, NULL), ==, 2);
    }
}

int
main (int argc, char **argv)
{
    g_autofree char *cache = NULL;
    int status;

    g_test_init (&argc, &argv, NULL);
    /* the datasets' normalisation cache stays in a folder of our own (set before any
     * thread exists: setenv is not thread-safe); the CLI runs inherit it */
    cache = g_dir_make_tmp ("dinolab-test-eval-cache-XXXXXX", NULL);
    g_assert_nonnull (cache);
    g_setenv ("DINOLAB_CACHE_DIR", cache, TRUE);
    g_test_add_func ("/eval/knn/naive", test_knn_naive);
    g_test_add_func ("/eval/knn/k-larger-than-train", test_knn_k_larger);
    g_test_add_func ("/eval/knn/few-classes", test_knn_few_classes);
    g_test_add_func ("/eval/knn/hand", test_knn_hand);
    g_test_add_func ("/eval/mask/brute-force", test_mask_brute);
    g_test_add_func ("/eval/mask/reference", test_mask_reference);
    g_test_add_func ("/eval/mask/ties", test_mask_ties);
    g_test_add ("/eval/features", Fixture, NULL, fixture_setup_, test_features, fixture_teardown_);
    g_test_add ("/eval/knn/dataset", Fixture, NULL, fixture_setup_, test_eval_knn, fixture_teardown_);
    g_test_add ("/eval/image/from-dataset", Fixture, NULL, fixture_setup_, test_image_from_dataset,
                fixture_teardown_);
    g_test_add_func ("/eval/image/from-file", test_image_from_file);
    g_test_add ("/eval/attention/jaccard", Fixture, NULL, fixture_setup_, test_jaccard, fixture_teardown_);
    g_test_add ("/eval/load-backbone", Fixture, NULL, fixture_setup_, test_load_backbone, fixture_teardown_);
    g_test_add_func ("/eval/find-checkpoint", test_find_checkpoint);
    g_test_add ("/eval/cli/attention", Fixture, NULL, fixture_setup_, test_cli_attention, fixture_teardown_);
    g_test_add ("/eval/cli/knn", Fixture, NULL, fixture_setup_, test_cli_knn, fixture_teardown_);
    status = g_test_run ();
    rm_rf_ (cache);
    return status;
}
