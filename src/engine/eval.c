/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * eval.c: evaluation of a backbone (include/dinolab/eval.h): L2-normalised CLS
 * features of evaluation views, DINO's weighted k-NN classifier (DINO.md 6.1), the
 * last block's CLS attention and its threshold masks (DINO.md 7).
 *
 * The k-NN never builds the n_test x n_train similarity matrix: it walks blocks of
 * KNN_TEST_BLOCK test rows x KNN_TRAIN_BLOCK train rows through matmul_gemm and keeps
 * a running top-k per test row, so the whole of Fashion-MNIST (10k x 60k) needs a few
 * MB besides the features.
 *
 * It also loads backbones (a run's checkpoint or a weight file) and prepares single
 * images (a dataset item or an image file decoded with gdk-pixbuf) for the CLI's
 * `attention` / `knn` and the GUI's attention view, so both share one implementation.
 *
 * What this file is not: it does not train, store results or draw (overlays are the
 * CLI's, src/cli/cmd-eval.c, and the GUI's). It allocates per call; none of it is the training hot
 * path.
 */
#include "dinolab/eval.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dinolab/error.h"
#include "dinolab/hparams.h"
#include "dinolab/io.h"
#include "image.h"
#include "kernels.h"

/* Test rows x train rows of one similarity block: 256 x 4096 floats = 4 MB. */
#define KNN_TEST_BLOCK  256
#define KNN_TRAIN_BLOCK 4096
/* Images per backbone pass when the caller does not say, fewer when their attention
 * would pass EVAL_ATTENTION_FLOATS (64M floats, 256 MB) on large views. */
#define EVAL_DEFAULT_BATCH    64
#define EVAL_ATTENTION_FLOATS (G_GINT64_CONSTANT (1) << 26)
/* Slack of the threshold-mask comparison, relative to the map's total mass. */
#define MASK_REL_EPS 1e-9

// ----------------------------------------------------------------------------
// helpers

static gboolean
check_cancelled_ (GCancellable *cancellable, GError **error)
{
    if (cancellable != NULL && g_cancellable_is_cancelled (cancellable)) {
        g_set_error_literal (error, DINOLAB_ERROR, DINOLAB_ERROR_CANCELLED, "evaluation cancelled");
        return TRUE;
    }
    return FALSE;
}

static gboolean
check_indices_ (const DinolabDataset *ds, const gsize *indices, gsize n, GError **error)
{
    gsize size = dinolab_dataset_get_size (ds);

    for (gsize r = 0; r < n; r++)
        if (indices[r] >= size) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: item %" G_GSIZE_FORMAT " is out of range (the split has %" G_GSIZE_FORMAT " items)",
                         dinolab_dataset_get_spec (ds), indices[r], size);
            return FALSE;
        }
    return TRUE;
}

/* dinolab_model_check_input for the square views of side @side of @ds, the error
 * prefixed with the dataset's spec. */
static gboolean
check_view_ (DinolabModel *model, DinolabDataset *ds, int side, GError **error)
{
    if (dinolab_model_check_input (model, dinolab_dataset_get_channels (ds), side, side, error))
        return TRUE;
    g_prefix_error (error, "%s: ", dinolab_dataset_get_spec (ds));
    return FALSE;
}

/* @dst [C, H + 2 pad, W + 2 pad]: @src [C, H, W] at the centre of a frame @pad pixels
 * wide of black, pixel value 0 normalised with @mean / @std as the image itself is. */
static void
frame_ (float *dst, const float *src, int C, int H, int W, int pad, const float *mean, const float *std)
{
    const int FH = H + 2 * pad, FW = W + 2 * pad;

    for (int c = 0; c < C; c++) {
        float black = -mean[c] / std[c], *d = dst + (size_t) c * FH * FW;

        for (size_t i = 0; i < (size_t) FH * FW; i++)
            d[i] = black;
        for (int y = 0; y < H; y++)
            memcpy (d + (size_t) (y + pad) * FW + pad, src + ((size_t) c * H + y) * W, (size_t) W * sizeof (float));
    }
}

/* One evaluation pass over many items, shared by its lanes. Chunks of @batch items
 * are handed out in order through @next_chunk; a lane writes only its chunks' rows. */
typedef struct {
    DinolabModel   *model;
    DinolabDataset *ds;
    const gsize    *indices;
    gsize           n;
    int             C, size, pad, batch, D, NH, P;
    size_t          view;        /* floats per image as the model takes it: C * side * side */
    float           mean[3], std[3];  /* the dataset's normalisation, for the frame's black */
    float          *features;    /* [n, D] or NULL */
    float          *attention;   /* [n, NH, P] or NULL */
    GCancellable   *cancellable;
    gint            next_chunk;  /* atomic */
    gint            failed;      /* atomic: a lane hit an error, the others stop */
    GMutex          lock;        /* guards error */
    GError         *error;
} ViewPass;

static void
view_pass_fail_ (ViewPass *pass, GError *local)
{
    g_mutex_lock (&pass->lock);
    if (pass->error == NULL)
        pass->error = local;
    else
        g_error_free (local);
    g_mutex_unlock (&pass->lock);
    g_atomic_int_set (&pass->failed, 1);
}

/* A lane: its own work and image buffer, chunks until none is left. */
static gpointer
view_lane_ (gpointer data)
{
    ViewPass *pass = data;
    g_autoptr (DinolabBackboneWork) work = NULL;
    g_autofree float *images = g_new (float, (size_t) pass->batch * pass->view);
    g_autofree float *unframed = pass->pad > 0 ? g_new (float, pass->view) : NULL;
    int side = pass->size + 2 * pass->pad;

    for (;;) {
        gsize i0 = (gsize) g_atomic_int_add (&pass->next_chunk, 1) * (gsize) pass->batch;
        int b;
        g_autoptr (DinolabBackboneWork) tail = NULL;
        DinolabBackboneWork *w;
        GError *local = NULL;

        if (i0 >= pass->n || g_atomic_int_get (&pass->failed))
            break;
        if (check_cancelled_ (pass->cancellable, &local)) {
            view_pass_fail_ (pass, local);
            break;
        }
        b = (int) MIN ((gsize) pass->batch, pass->n - i0);
        for (int r = 0; r < b && local == NULL; r++) {
            float *view = images + (size_t) r * pass->view;
            if (dinolab_dataset_get_eval_view (pass->ds, pass->indices[i0 + r], pass->size,
                                               pass->pad > 0 ? unframed : view, &local) && pass->pad > 0)
                frame_ (view, unframed, pass->C, pass->size, pass->size, pass->pad, pass->mean, pass->std);
        }
        if (local != NULL) {
            view_pass_fail_ (pass, local);
            break;
        }
        if (b < pass->batch) {  /* the last, shorter chunk gets buffers of its own size */
            w = tail = dinolab_backbone_work_new (pass->model, b, side, side, FALSE);
        } else {
            if (work == NULL)
                work = dinolab_backbone_work_new (pass->model, pass->batch, side, side, FALSE);
            w = work;
        }
        dinolab_backbone_forward (pass->model, w, images, NULL);
        if (pass->features != NULL)
            l2norm_forward (pass->features + i0 * pass->D, NULL, dinolab_backbone_work_get_cls (w), b, pass->D);
        if (pass->attention != NULL)
            dinolab_backbone_work_get_attention (w, pass->attention + i0 * (size_t) pass->NH * pass->P);
    }
    return NULL;
}

/* Backbone passes over the evaluation views of @indices (side @size, framed by @pad
 * pixels of black: dinolab_eval_attention), in chunks of @batch, on the
 * model's `threads` cores (0: all): with more than one lane, each lane runs whole
 * chunks with single-threaded BLAS (the non-BLAS half of a forward, GELU, LayerNorm,
 * softmax, then runs in parallel too), and the BLAS thread count is set back to
 * `threads` afterwards. features [n, D] (L2-normalised CLS) and attention [n, NH, P]
 * may each be NULL. */
static gboolean
forward_views_ (DinolabModel   *model,
                DinolabDataset *ds,
                const gsize    *indices,
                gsize           n,
                int             size,
                int             pad,
                int             batch,
                float          *features,
                float          *attention,
                GCancellable   *cancellable,
                GError        **error)
{
    const DinolabHparams *hp = dinolab_model_get_hparams (model);
    int C = dinolab_dataset_get_channels (ds), p = hp->patch_size, side = size + 2 * pad;
    ViewPass pass = { 0 };
    gsize n_chunks;
    int n_lanes;
    GThread **threads;

    if (!check_view_ (model, ds, side, error) || !check_indices_ (ds, indices, n, error) ||
        (pad > 0 && !dinolab_dataset_get_normalization (ds, pass.mean, pass.std, error)))
        return FALSE;
    if (n == 0)
        return TRUE;
    if (batch <= 0) {
        gint64 T = 1 + (gint64) (side / p) * (side / p);
        batch = (int) CLAMP (EVAL_ATTENTION_FLOATS / ((gint64) hp->num_heads * T * T), 1, EVAL_DEFAULT_BATCH);
    }
    batch = (int) MIN ((gsize) batch, n);
    n_chunks = (n + (gsize) batch - 1) / (gsize) batch;
    n_lanes = hp->threads > 0 ? hp->threads : (int) g_get_num_processors ();
    n_lanes = (int) MAX (1, MIN ((gsize) n_lanes, n_chunks));

    pass.model = model;
    pass.ds = ds;
    pass.indices = indices;
    pass.n = n;
    pass.C = C;
    pass.size = size;
    pass.pad = pad;
    pass.batch = batch;
    pass.D = hp->embed_dim;
    pass.NH = hp->num_heads;
    pass.P = (side / p) * (side / p);
    pass.view = (size_t) C * side * side;
    pass.features = features;
    pass.attention = attention;
    pass.cancellable = cancellable;
    g_mutex_init (&pass.lock);

    if (n_lanes == 1) {
        view_lane_ (&pass);  /* BLAS keeps the caller's thread count */
    } else {
        dinolab_blas_set_threads (1);
        threads = g_new (GThread *, n_lanes - 1);
        for (int l = 0; l < n_lanes - 1; l++)
            threads[l] = g_thread_new ("dinolab-eval", view_lane_, &pass);
        view_lane_ (&pass);
        for (int l = 0; l < n_lanes - 1; l++)
            g_thread_join (threads[l]);
        g_free (threads);
        dinolab_blas_set_threads (hp->threads);
    }
    g_mutex_clear (&pass.lock);
    if (pass.error != NULL) {
        g_propagate_error (error, pass.error);
        return FALSE;
    }
    return TRUE;
}

// ----------------------------------------------------------------------------
// features

gboolean
dinolab_eval_features (DinolabModel   *model,
                       DinolabDataset *ds,
                       const gsize    *indices,
                       gsize           n,
                       int             size,
                       int             batch,
                       float          *out,
                       GCancellable   *cancellable,
                       GError        **error)
{
    g_return_val_if_fail (model != NULL && ds != NULL, FALSE);
    g_return_val_if_fail (indices != NULL || n == 0, FALSE);
    g_return_val_if_fail (out != NULL || n == 0, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    return forward_views_ (model, ds, indices, n, size, 0, batch, out, NULL, cancellable, error);
}

int
dinolab_eval_pixel_dim (const DinolabDataset *ds, int size)
{
    g_return_val_if_fail (ds != NULL && size > 0, 0);

    return dinolab_dataset_get_channels (ds) * size * size;
}

gboolean
dinolab_eval_pixel_features (DinolabDataset *ds,
                             const gsize    *indices,
                             gsize           n,
                             int             size,
                             float          *out,
                             GCancellable   *cancellable,
                             GError        **error)
{
    int dim;

    g_return_val_if_fail (ds != NULL, FALSE);
    g_return_val_if_fail (indices != NULL || n == 0, FALSE);
    g_return_val_if_fail (out != NULL || n == 0, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    if (size < 1) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: view size %d must be at least 1", dinolab_dataset_get_spec (ds), size);
        return FALSE;
    }
    if (!check_indices_ (ds, indices, n, error))
        return FALSE;
    dim = dinolab_eval_pixel_dim (ds, size);
    for (gsize r = 0; r < n; r++) {
        float *row = out + r * (size_t) dim;
        /* poll now and then: one view is microseconds */
        if (r % 1024 == 0 && check_cancelled_ (cancellable, error))
            return FALSE;
        if (!dinolab_dataset_get_eval_view (ds, indices[r], size, row, error))
            return FALSE;
        l2norm_forward (row, NULL, row, 1, dim);
    }
    return TRUE;
}

// ----------------------------------------------------------------------------
// weighted k-NN

static gboolean
check_labels_ (const char *split, const int *labels, gsize n, int n_classes, GError **error)
{
    for (gsize i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= n_classes) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "k-NN: %s item %" G_GSIZE_FORMAT " has label %d, outside [0, %d)",
                         split, i, labels[i], n_classes);
            return FALSE;
        }
    return TRUE;
}

/* Inserts similarity @s of train row @j into the descending list vals/idx[0 .. *cnt-1]
 * of capacity k. Equal values keep the earlier (lower) train index ahead because
 * train rows arrive in increasing order and only strictly larger values move up. */
static inline void
topk_push_ (float *vals, gsize *idx, int *cnt, int k, float s, gsize j)
{
    int pos;

    if (*cnt == k) {
        if (!(s > vals[k - 1]))  /* also drops NaN */
            return;
        pos = k - 1;
    } else {
        if (isnan (s))
            return;
        pos = (*cnt)++;
    }
    while (pos > 0 && vals[pos - 1] < s) {
        vals[pos] = vals[pos - 1];
        idx[pos] = idx[pos - 1];
        pos--;
    }
    vals[pos] = s;
    idx[pos] = j;
}

gboolean
dinolab_knn_classify (const float      *train,
                      const int        *train_labels,
                      gsize             n_train,
                      const float      *test,
                      const int        *test_labels,
                      gsize             n_test,
                      int               dim,
                      int               n_classes,
                      int               k,
                      double            temperature,
                      int              *predictions,
                      DinolabKnnResult *result,
                      GError          **error)
{
    g_autofree float *sims = NULL, *top_vals = NULL;
    g_autofree gsize *top_idx = NULL;
    g_autofree int *top_cnt = NULL;
    g_autofree double *scores = NULL;
    gsize hits1 = 0, hits5 = 0;
    int kk, c5;

    g_return_val_if_fail (train != NULL || n_train == 0, FALSE);
    g_return_val_if_fail (train_labels != NULL || n_train == 0, FALSE);
    g_return_val_if_fail (test != NULL || n_test == 0, FALSE);
    g_return_val_if_fail (test_labels != NULL || n_test == 0, FALSE);
    g_return_val_if_fail (dim >= 1 && n_classes >= 1 && k >= 1, FALSE);
    g_return_val_if_fail (temperature > 0.0, FALSE);
    g_return_val_if_fail (result != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    if (n_train == 0) {
        g_set_error_literal (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                             "k-NN: the train split is empty");
        return FALSE;
    }
    if (!check_labels_ ("train", train_labels, n_train, n_classes, error) ||
        !check_labels_ ("test", test_labels, n_test, n_classes, error))
        return FALSE;

    kk = (int) MIN ((gsize) k, n_train);
    c5 = MIN (5, MIN (kk, n_classes));
    sims = g_new (float, (size_t) KNN_TEST_BLOCK * KNN_TRAIN_BLOCK);
    top_vals = g_new (float, (size_t) KNN_TEST_BLOCK * kk);
    top_idx = g_new (gsize, (size_t) KNN_TEST_BLOCK * kk);
    top_cnt = g_new (int, KNN_TEST_BLOCK);
    scores = g_new (double, n_classes);

    for (gsize t0 = 0; t0 < n_test; t0 += KNN_TEST_BLOCK) {
        int tb = (int) MIN ((gsize) KNN_TEST_BLOCK, n_test - t0);

        memset (top_cnt, 0, (size_t) tb * sizeof (int));
        for (gsize r0 = 0; r0 < n_train; r0 += KNN_TRAIN_BLOCK) {
            int rb = (int) MIN ((gsize) KNN_TRAIN_BLOCK, n_train - r0);
            /* sims[tb, rb] = test[t0 .., dim] @ train[r0 .., dim]^T: cosines of unit rows */
            matmul_gemm (sims, rb, test + t0 * dim, dim, train + r0 * dim, dim, 0, 1,
                         tb, rb, dim, 1.0f, 0.0f);
            for (int i = 0; i < tb; i++) {
                const float *srow = sims + (size_t) i * rb;
                float *vals = top_vals + (size_t) i * kk;
                gsize *idx = top_idx + (size_t) i * kk;
                for (int j = 0; j < rb; j++)
                    topk_push_ (vals, idx, &top_cnt[i], kk, srow[j], r0 + (gsize) j);
            }
        }

        for (int i = 0; i < tb; i++) {
            const float *vals = top_vals + (size_t) i * kk;
            const gsize *idx = top_idx + (size_t) i * kk;
            int label = test_labels[t0 + i];
            int pred = 0, ahead = 0;

            memset (scores, 0, (size_t) n_classes * sizeof (double));
            for (int j = 0; j < top_cnt[i]; j++)
                scores[train_labels[idx[j]]] += exp ((double) vals[j] / temperature);
            /* the order of classes is (score descending, class ascending): the prediction
             * is the first, and the label is in the top c5 when fewer than c5 come before it */
            for (int c = 1; c < n_classes; c++)
                if (scores[c] > scores[pred])
                    pred = c;
            for (int c = 0; c < n_classes; c++)
                if (scores[c] > scores[label] || (scores[c] == scores[label] && c < label))
                    ahead++;
            hits1 += pred == label;
            hits5 += ahead < c5;
            if (predictions != NULL)
                predictions[t0 + i] = pred;
        }
    }
    result->n_train = n_train;
    result->n_test = n_test;
    result->k = kk;
    result->top5_classes = c5;
    result->temperature = temperature;
    result->top1 = n_test > 0 ? 100.0 * (double) hits1 / (double) n_test : 0.0;
    result->top5 = n_test > 0 ? 100.0 * (double) hits5 / (double) n_test : 0.0;
    return TRUE;
}

/* Labels of @indices (NULL: 0 .. n-1) of @ds into a new array; refuses unlabelled items. */
static int *
dataset_labels_ (DinolabDataset *ds, const gsize *indices, gsize n, GError **error)
{
    g_autofree int *labels = g_new (int, MAX (n, 1));

    for (gsize r = 0; r < n; r++) {
        gsize i = indices != NULL ? indices[r] : r;
        labels[r] = dinolab_dataset_get_label (ds, i);
        if (labels[r] < 0) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: item %" G_GSIZE_FORMAT " has no label (k-NN needs a labelled dataset)",
                         dinolab_dataset_get_spec (ds), i);
            return NULL;
        }
    }
    return g_steal_pointer (&labels);
}

/* @indices, or 0 .. n-1 in a new array (*owned) when NULL; checks n against the size. */
static const gsize *
resolve_indices_ (DinolabDataset *ds, const gsize *indices, gsize n, gsize **owned, GError **error)
{
    if (indices != NULL)
        return indices;
    if (n != dinolab_dataset_get_size (ds)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: %" G_GSIZE_FORMAT " items asked for without a list, but the split has %" G_GSIZE_FORMAT,
                     dinolab_dataset_get_spec (ds), n, dinolab_dataset_get_size (ds));
        return NULL;
    }
    *owned = g_new (gsize, MAX (n, 1));
    for (gsize i = 0; i < n; i++)
        (*owned)[i] = i;
    return *owned;
}

gboolean
dinolab_eval_knn (DinolabModel     *model,
                  DinolabDataset   *train_ds,
                  const gsize      *train_indices,
                  gsize             n_train,
                  DinolabDataset   *test_ds,
                  const gsize      *test_indices,
                  gsize             n_test,
                  int               size,
                  int               k,
                  double            temperature,
                  DinolabKnnResult *result,
                  GCancellable     *cancellable,
                  GError          **error)
{
    g_autofree gsize *own_train = NULL, *own_test = NULL;
    g_autofree int *train_labels = NULL, *test_labels = NULL;
    g_autofree float *train_f = NULL, *test_f = NULL;
    const gsize *tr, *te;
    int dim, n_classes;

    g_return_val_if_fail (train_ds != NULL && test_ds != NULL, FALSE);
    g_return_val_if_fail (k >= 1 && temperature > 0.0 && result != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    n_classes = (int) dinolab_dataset_get_n_classes (train_ds);
    if (n_classes < 1) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: the dataset has no labels (k-NN needs a labelled dataset)",
                     dinolab_dataset_get_spec (train_ds));
        return FALSE;
    }
    if (dinolab_dataset_get_channels (train_ds) != dinolab_dataset_get_channels (test_ds)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s has %d channels but %s has %d", dinolab_dataset_get_spec (train_ds),
                     dinolab_dataset_get_channels (train_ds), dinolab_dataset_get_spec (test_ds),
                     dinolab_dataset_get_channels (test_ds));
        return FALSE;
    }
    if (!(tr = resolve_indices_ (train_ds, train_indices, n_train, &own_train, error)) ||
        !(te = resolve_indices_ (test_ds, test_indices, n_test, &own_test, error)) ||
        !(train_labels = dataset_labels_ (train_ds, tr, n_train, error)) ||
        !(test_labels = dataset_labels_ (test_ds, te, n_test, error)))
        return FALSE;

    if (model != NULL) {
        dim = dinolab_model_get_hparams (model)->embed_dim;
    } else {
        if (size < 1) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: view size %d must be at least 1", dinolab_dataset_get_spec (train_ds), size);
            return FALSE;
        }
        dim = dinolab_eval_pixel_dim (train_ds, size);
    }
    train_f = g_new (float, MAX (n_train, 1) * (size_t) dim);
    test_f = g_new (float, MAX (n_test, 1) * (size_t) dim);
    if (model != NULL) {
        if (!dinolab_eval_features (model, train_ds, tr, n_train, size, 0, train_f, cancellable, error) ||
            !dinolab_eval_features (model, test_ds, te, n_test, size, 0, test_f, cancellable, error))
            return FALSE;
    } else {
        if (!dinolab_eval_pixel_features (train_ds, tr, n_train, size, train_f, cancellable, error) ||
            !dinolab_eval_pixel_features (test_ds, te, n_test, size, test_f, cancellable, error))
            return FALSE;
    }
    if (check_cancelled_ (cancellable, error))
        return FALSE;
    return dinolab_knn_classify (train_f, train_labels, n_train, test_f, test_labels, n_test, dim,
                                 n_classes, k, temperature, NULL, result, error);
}

// ----------------------------------------------------------------------------
// attention

gboolean
dinolab_eval_attention (DinolabModel   *model,
                        DinolabDataset *ds,
                        const gsize    *indices,
                        gsize           n,
                        int             size,
                        int             pad,
                        float          *out,
                        GCancellable   *cancellable,
                        GError        **error)
{
    g_return_val_if_fail (model != NULL && ds != NULL, FALSE);
    g_return_val_if_fail (pad >= 0, FALSE);
    g_return_val_if_fail (indices != NULL || n == 0, FALSE);
    g_return_val_if_fail (out != NULL || n == 0, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    return forward_views_ (model, ds, indices, n, size, pad, 0, NULL, out, cancellable, error);
}

gboolean
dinolab_eval_image_attention (DinolabModel *model,
                              const float  *image,
                              int           height,
                              int           width,
                              float        *out,
                              float        *feature,
                              GError      **error)
{
    const DinolabHparams *hp;
    g_autoptr (DinolabBackboneWork) work = NULL;

    g_return_val_if_fail (model != NULL && image != NULL && out != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    hp = dinolab_model_get_hparams (model);
    if (!dinolab_model_check_input (model, hp->in_chans, height, width, error))
        return FALSE;
    work = dinolab_backbone_work_new (model, 1, height, width, FALSE);
    dinolab_backbone_forward (model, work, image, NULL);
    dinolab_backbone_work_get_attention (work, out);
    if (feature != NULL)
        l2norm_forward (feature, NULL, dinolab_backbone_work_get_cls (work), 1, hp->embed_dim);
    return TRUE;
}

typedef struct {
    float value;
    int   index;
} MaskEntry;

/* Descending by value; equal values by ascending patch index (a total order, so the
 * result does not depend on qsort's instability). */
static int
mask_entry_cmp_ (const void *pa, const void *pb)
{
    const MaskEntry *a = pa, *b = pb;

    if (a->value != b->value)
        return a->value > b->value ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

int
dinolab_attention_mask (guint8      *mask,
                        const float *att,
                        int          n_patches,
                        double       fraction)
{
    g_autofree MaskEntry *order = NULL;
    double total = 0.0, need, acc = 0.0;
    int kept = 0;

    g_return_val_if_fail (n_patches >= 0, 0);
    g_return_val_if_fail (mask != NULL || n_patches == 0, 0);
    g_return_val_if_fail (att != NULL || n_patches == 0, 0);

    memset (mask, 0, (size_t) n_patches);
    for (int i = 0; i < n_patches; i++)
        total += att[i];
    if (!(total > 0.0) || !(fraction > 0.0))
        return 0;
    order = g_new (MaskEntry, n_patches);
    for (int i = 0; i < n_patches; i++) {
        order[i].value = att[i];
        order[i].index = i;
    }
    qsort (order, (size_t) n_patches, sizeof *order, mask_entry_cmp_);
    /* Take patches from the top until the kept mass reaches fraction * total. With
     * fraction >= 1 that is every non-zero patch (the remaining ones add no mass). This
     * is visualize_attention's "cumulative sum of the sorted, renormalised map > 1 - t",
     * read from the other end. */
    need = fraction >= 1.0 ? INFINITY : fraction * total * (1.0 - MASK_REL_EPS);
    for (int r = 0; r < n_patches && acc < need && order[r].value > 0.0f; r++) {
        acc += order[r].value;
        mask[order[r].index] = 1;
        kept++;
    }
    return kept;
}

// ----------------------------------------------------------------------------
// how well attention segments (Jaccard against a known foreground)

/* Attention maps per pass: 256 images x heads x patches stays a few MB. */
#define JACCARD_CHUNK 256

/* The side of the square evaluation view of @ds's images as the model takes it: the
 * image at side @size (0: the images' own), which goes to *@image_side, framed by @pad
 * pixels. The images must be square and the view a multiple of @p; else 0 and
 * INVALID_INPUT. */
static int
view_side_ (DinolabDataset *ds, int p, int size, int pad, int *image_side, GError **error)
{
    int native = dinolab_dataset_get_width (ds), side = size > 0 ? size : native;

    if (native <= 0 || dinolab_dataset_get_height (ds) != native || p <= 0 || (side + 2 * pad) % p != 0) {
        g_autofree char *framed = pad > 0 ? g_strdup_printf (" = %d + 2 x %d of frame", side, pad) : g_strdup ("");
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: the foreground masks need square images and a view whose side is a "
                     "multiple of the patch size %d (found %dx%d images, view %d%s)",
                     dinolab_dataset_get_spec (ds), p, dinolab_dataset_get_width (ds),
                     dinolab_dataset_get_height (ds), side + 2 * pad, framed);
        return 0;
    }
    *image_side = side;
    return side + 2 * pad;
}

/* @fg [(side + 2 pad)^2] = 1 where item @index of @ds is brighter than @threshold in its
 * brightest channel, else 0, scaled to side @side by nearest neighbour (each view pixel
 * takes the image pixel under its centre: a k x k block of the view per image pixel
 * when @side is k times the image's) and framed by @pad pixels of background. */
static gboolean
foreground_ (DinolabDataset *ds, gsize index, int side, int pad, int threshold, guint8 *fg, GError **error)
{
    DinolabImage img = { 0 };
    const int FW = side + 2 * pad;

    if (!dinolab_dataset_get_image (ds, index, &img, error))
        return FALSE;
    memset (fg, 0, (size_t) FW * FW);
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            const guint8 *px = img.pixels + ((size_t) ((2 * y + 1) * img.height / (2 * side)) * img.width +
                                             (size_t) ((2 * x + 1) * img.width / (2 * side))) * img.channels;
            int v = 0;
            for (int ch = 0; ch < img.channels; ch++)
                v = MAX (v, px[ch]);
            fg[(size_t) (y + pad) * FW + x + pad] = v > threshold;
        }
    dinolab_image_clear (&img);
    return TRUE;
}

/* |M ∩ F| / |M ∪ F| of a patch mask @mask [gh * gw] (each patch p x p pixels) and a
 * pixel mask @fg [size * size]; 1 when both are empty. Adds |M ∩ F| / |M| (1 for an
 * empty mask) to *@on_object. */
static double
jaccard_ (const guint8 *mask, const guint8 *fg, int size, int p, double *on_object)
{
    long inter = 0, uni = 0, in_mask = 0;
    int gw = size / p;

    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            int m = mask[(y / p) * gw + x / p], f = fg[y * size + x];
            inter += m && f;
            uni += m || f;
            in_mask += m;
        }
    *on_object += in_mask > 0 ? (double) inter / (double) in_mask : 1.0;
    return uni > 0 ? (double) inter / (double) uni : 1.0;
}

gboolean
dinolab_eval_attention_jaccard (DinolabModel   *model,
                                DinolabDataset *ds,
                                const gsize    *indices,
                                gsize           n,
                                int             size,
                                int             pad,
                                double          fraction,
                                int             fg_threshold,
                                double         *per_head,
                                double         *mean_map,
                                double         *per_head_on_object,
                                double         *mean_map_on_object,
                                GCancellable   *cancellable,
                                GError        **error)
{
    const DinolabHparams *hp;
    int p, NH, P, side, image_side = 0;
    g_autofree float *att = NULL, *mean = NULL;
    g_autofree guint8 *mask = NULL, *fg = NULL;
    g_autofree double *sum = NULL, *sum_on = NULL;
    double sum_mean = 0.0, sum_mean_on = 0.0;

    g_return_val_if_fail (model != NULL && ds != NULL, FALSE);
    g_return_val_if_fail (indices != NULL && n > 0, FALSE);
    g_return_val_if_fail (per_head != NULL && mean_map != NULL, FALSE);
    g_return_val_if_fail (size >= 0 && pad >= 0, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    hp = dinolab_model_get_hparams (model);
    p = hp->patch_size;
    if (!(side = view_side_ (ds, p, size, pad, &image_side, error)) || !check_indices_ (ds, indices, n, error))
        return FALSE;
    /* before the buffers of that side: a view too large is refused, not allocated */
    if (!check_view_ (model, ds, side, error))
        return FALSE;
    NH = hp->num_heads;
    P = (side / p) * (side / p);
    att = g_new (float, (size_t) JACCARD_CHUNK * NH * P);
    mean = g_new (float, P);
    mask = g_new (guint8, P);
    fg = g_new (guint8, (size_t) side * side);
    sum = g_new0 (double, NH);
    sum_on = g_new0 (double, NH);

    for (gsize c0 = 0; c0 < n; c0 += JACCARD_CHUNK) {
        gsize cn = MIN (JACCARD_CHUNK, n - c0);

        /* square images: the view is the whole image, resized (no crop) */
        if (!dinolab_eval_attention (model, ds, indices + c0, cn, image_side, pad, att, cancellable, error))
            return FALSE;
        for (gsize i = 0; i < cn; i++) {
            const float *a = att + i * (size_t) NH * P;

            if (!foreground_ (ds, indices[c0 + i], image_side, pad, fg_threshold, fg, error))
                return FALSE;
            memset (mean, 0, (size_t) P * sizeof (float));
            for (int h = 0; h < NH; h++) {
                dinolab_attention_mask (mask, a + (size_t) h * P, P, fraction);
                sum[h] += jaccard_ (mask, fg, side, p, &sum_on[h]);
                for (int k = 0; k < P; k++)
                    mean[k] += a[(size_t) h * P + k] / (float) NH;
            }
            dinolab_attention_mask (mask, mean, P, fraction);
            sum_mean += jaccard_ (mask, fg, side, p, &sum_mean_on);
        }
    }
    for (int h = 0; h < NH; h++) {
        per_head[h] = sum[h] / (double) n;
        if (per_head_on_object != NULL)
            per_head_on_object[h] = sum_on[h] / (double) n;
    }
    *mean_map = sum_mean / (double) n;
    if (mean_map_on_object != NULL)
        *mean_map_on_object = sum_mean_on / (double) n;
    return TRUE;
}

static int
int_descending_ (const void *a, const void *b)
{
    int x = *(const int *) a, y = *(const int *) b;

    return (x < y) - (x > y);
}

/* The Jaccard index of a mask covering @area pixels, @inter of them on a foreground of
 * @fg pixels. */
static inline double
jaccard_of_counts_ (long inter, long area, long fg)
{
    long uni = area + fg - inter;

    return uni > 0 ? (double) inter / (double) uni : 1.0;
}

gboolean
dinolab_eval_jaccard_references (DinolabDataset *ds,
                                 const gsize    *indices,
                                 gsize           n,
                                 int             patch_size,
                                 int             size,
                                 int             pad,
                                 double          fraction,
                                 int             fg_threshold,
                                 double         *foreground_map,
                                 double         *best_mask,
                                 double         *fixed_mask,
                                 guint8         *fixed_mask_out,
                                 double         *object_share,
                                 GError        **error)
{
    const int p = patch_size;
    int gw, P, largest, kept = 0, side, image_side = 0;
    g_autofree guint8 *fg = NULL, *mask = NULL, *fixed = NULL;
    g_autofree float *share = NULL;
    g_autofree int *count = NULL, *sorted = NULL;
    g_autofree long *total = NULL, *inter = NULL;
    double sum_map = 0.0, sum_best = 0.0, sum_share = 0.0, cur = 0.0;
    long area = 0;

    g_return_val_if_fail (ds != NULL && indices != NULL && n > 0, FALSE);
    g_return_val_if_fail (foreground_map != NULL && best_mask != NULL && fixed_mask != NULL, FALSE);
    g_return_val_if_fail (size >= 0 && pad >= 0, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    if (!(side = view_side_ (ds, p, size, pad, &image_side, error)) || !check_indices_ (ds, indices, n, error))
        return FALSE;
    gw = side / p;
    P = gw * gw;
    fg = g_new (guint8, (size_t) side * side);
    mask = g_new (guint8, P);
    fixed = g_new0 (guint8, P);
    share = g_new (float, P);
    sorted = g_new (int, P);
    count = g_new0 (int, n * (size_t) P);
    total = g_new0 (long, n);
    inter = g_new0 (long, n);

    /* The largest mask a threshold can make is the uniform map's: if a map's mask keeps
     * s patches, its top s - 1 hold less than the fraction and each other patch holds at
     * most their mean, so the total is below fraction * P / (s - 1) of it, i.e.
     * s - 1 < fraction * P. With 0.6 of 16 patches that is 10: no head's mask covers 11. */
    for (int k = 0; k < P; k++)
        share[k] = 1.0f;
    largest = dinolab_attention_mask (mask, share, P, fraction);

    /* Foreground pixels per patch; the map of a head that sees exactly the object. */
    for (gsize i = 0; i < n; i++) {
        int *c = count + i * (size_t) P;
        long on_map = 0;
        int kept_map;

        if (!foreground_ (ds, indices[i], image_side, pad, fg_threshold, fg, error))
            return FALSE;
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
                c[(y / p) * gw + x / p] += fg[y * side + x];
        for (int k = 0; k < P; k++) {
            share[k] = (float) c[k];
            total[i] += c[k];
        }
        kept_map = dinolab_attention_mask (mask, share, P, fraction);
        for (int k = 0; k < P; k++)
            on_map += mask[k] ? c[k] : 0;
        sum_map += jaccard_of_counts_ (on_map, (long) kept_map * p * p, total[i]);
        sum_share += (double) total[i] / ((double) side * side);
        cur += jaccard_of_counts_ (0, 0, total[i]) / (double) n;

        /* Of the masks of s patches, the s with the most foreground pixels meet the
         * object most, and every mask of 1 .. largest patches is some map's. */
        {
            long in = 0;
            double best = 0.0;

            memcpy (sorted, c, (size_t) P * sizeof *sorted);
            qsort (sorted, (size_t) P, sizeof *sorted, int_descending_);
            for (int s = 1; s <= largest; s++) {
                in += sorted[s - 1];
                best = MAX (best, jaccard_of_counts_ (in, (long) s * p * p, total[i]));
            }
            sum_best += best;
        }
    }
    *foreground_map = sum_map / (double) n;
    *best_mask = sum_best / (double) n;
    if (object_share != NULL)
        *object_share = sum_share / (double) n;

    /* The best mask for all items, greedily from the empty one: toggle the patch that
     * raises the mean Jaccard most (the lowest index among equals) until none does,
     * among the masks a threshold can make (at most `largest` patches).
     * Each step raises the mean, so it ends; P * P steps bound it all the same. */
    for (int step = 0; step < P * P; step++) {
        int best_k = -1;
        double best = cur;

        for (int k = 0; k < P; k++) {
            int d = fixed[k] ? -1 : 1;
            long a = area + (long) d * p * p;
            double s = 0.0;

            if (kept + d > largest)
                continue;

            for (gsize i = 0; i < n; i++)
                s += jaccard_of_counts_ (inter[i] + d * count[i * (size_t) P + k], a, total[i]);
            s /= (double) n;
            if (s > best + 1e-12) {
                best = s;
                best_k = k;
            }
        }
        if (best_k < 0)
            break;
        {
            int d = fixed[best_k] ? -1 : 1;

            fixed[best_k] ^= 1;
            kept += d;
            area += (long) d * p * p;
            for (gsize i = 0; i < n; i++)
                inter[i] += d * count[i * (size_t) P + best_k];
            cur = best;
        }
    }
    *fixed_mask = cur;
    if (fixed_mask_out != NULL)
        memcpy (fixed_mask_out, fixed, (size_t) P);
    return TRUE;
}

// ----------------------------------------------------------------------------
// loading a backbone

char *
dinolab_eval_find_checkpoint (DinolabStore *store, const char *run_ref, gint64 step,
                              gint64 *step_out, char **source, GError **error)
{
    g_autoptr (DinolabRunInfo) info = NULL;
    g_autoptr (DinolabCheckpointInfo) latest = NULL;
    g_autoptr (GPtrArray) list = NULL;
    const DinolabCheckpointInfo *ck = NULL;

    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (run_ref != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    if (!(info = dinolab_store_get_run (store, run_ref, error)))
        return NULL;
    if (step < 0) {
        GError *local = NULL;
        latest = dinolab_store_get_latest_checkpoint (store, info->uuid, &local);
        if (latest == NULL) {
            if (local != NULL)
                g_propagate_error (error, local);
            else
                g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                             "run %s (%s) has no checkpoint yet", info->name, info->uuid);
            return NULL;
        }
        ck = latest;
    } else {
        g_autoptr (GString) steps = g_string_new (NULL);
        if (!(list = dinolab_store_list_checkpoints (store, info->uuid, error)))
            return NULL;
        for (guint i = 0; i < list->len; i++) {
            const DinolabCheckpointInfo *c = g_ptr_array_index (list, i);
            if (c->step == step)
                ck = c;
            g_string_append_printf (steps, "%s%" G_GINT64_FORMAT, i ? ", " : "", c->step);
        }
        if (ck == NULL) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "run %s has no checkpoint at step %" G_GINT64_FORMAT " (it has: %s)",
                         info->name, step, list->len ? steps->str : "none");
            return NULL;
        }
    }
    if (step_out != NULL)
        *step_out = ck->step;
    if (source != NULL)
        *source = g_strdup_printf ("run %s (%.8s), checkpoint at step %" G_GINT64_FORMAT,
                                   info->name, info->uuid, ck->step);
    return dinolab_store_resolve_path (store, ck->path);
}

DinolabModel *
dinolab_eval_load_backbone (const char *path, gboolean student, const char *const *overrides,
                            int threads, GError **error)
{
    g_autoptr (DinolabSafetensors) st = NULL;
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (DinolabModel) model = NULL;
    gboolean has_head = FALSE;

    g_return_val_if_fail (path != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    dinolab_hparams_init (&hp);
    if (!(st = dinolab_safetensors_read (path, student ? "student" : "teacher", error)) ||
        !dinolab_model_hparams_from_safetensors (st, &hp, &has_head, error))
        return NULL;
    for (const char *const *s = overrides; s != NULL && *s != NULL; s++)
        if (!dinolab_hparams_set_assignment (&hp, *s, error))
            return NULL;
    if (threads >= 0)
        hp.threads = threads;
    if (!(model = dinolab_model_new (&hp, FALSE, error)) ||
        !dinolab_model_load_safetensors (model, st, error))
        return NULL;
    return g_steal_pointer (&model);
}

// ----------------------------------------------------------------------------
// preparing one image

void
dinolab_eval_image_free (DinolabEvalImage *image)
{
    if (image == NULL)
        return;
    g_free (image->x);
    g_free (image->rgb);
    g_free (image->normalization);
    g_free (image);
}

static guint8
to_u8_ (double v)
{
    return (guint8) CLAMP (lround (v), 0, 255);
}

/* rgb from the normalised input: x * std + mean, in 0..255; grey shown as grey. */
static void
fill_rgb_ (DinolabEvalImage *im)
{
    size_t HW = (size_t) im->height * im->width;

    im->rgb = g_new (guint8, HW * 3);
    for (size_t i = 0; i < HW; i++)
        for (int c = 0; c < 3; c++) {
            int cc = im->channels == 3 ? c : 0;
            im->rgb[i * 3 + c] = to_u8_ (255.0 * (im->x[(size_t) cc * HW + i] * im->std[cc] + im->mean[cc]));
        }
}

DinolabEvalImage *
dinolab_eval_image_from_dataset (DinolabDataset *ds, gsize index, int size, int patch_size,
                                 GError **error)
{
    g_autoptr (DinolabEvalImage) im = NULL;
    g_autofree float *view = NULL;
    const char *spec;
    int side, C;

    g_return_val_if_fail (ds != NULL, NULL);
    g_return_val_if_fail (patch_size >= 1 && size >= patch_size, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    spec = dinolab_dataset_get_spec (ds);
    side = size - size % patch_size;
    if (index >= dinolab_dataset_get_size (ds)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: index %" G_GSIZE_FORMAT " is out of range (the split has %" G_GSIZE_FORMAT " items)",
                     spec, index, dinolab_dataset_get_size (ds));
        return NULL;
    }
    C = dinolab_dataset_get_channels (ds);
    if (C < 1 || C > 3) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: %d channels (an attention input shows 1 or 3)", spec, C);
        return NULL;
    }
    im = g_new0 (DinolabEvalImage, 1);
    im->channels = C;
    if (!dinolab_dataset_get_normalization (ds, im->mean, im->std, error))
        return NULL;
    im->normalization = g_strdup_printf ("the dataset's (%s)", spec);
    view = g_new (float, (size_t) C * size * size);
    if (!dinolab_dataset_get_eval_view (ds, index, size, view, error))
        return NULL;
    im->height = im->width = side;
    im->x = g_new (float, (size_t) C * side * side);
    for (int c = 0; c < C; c++)
        for (int y = 0; y < side; y++)
            memcpy (im->x + ((size_t) c * side + y) * side, view + ((size_t) c * size + y) * size,
                    (size_t) side * sizeof (float));
    fill_rgb_ (im);
    return g_steal_pointer (&im);
}

void
dinolab_eval_image_frame (DinolabEvalImage *image, int pad)
{
    float *x;

    g_return_if_fail (image != NULL && pad >= 0);
    if (pad == 0)
        return;
    x = g_new (float, (size_t) image->channels * (image->height + 2 * pad) * (image->width + 2 * pad));
    frame_ (x, image->x, image->channels, image->height, image->width, pad, image->mean, image->std);
    g_free (image->x);
    image->x = x;
    image->height += 2 * pad;
    image->width += 2 * pad;
    g_free (image->rgb);
    fill_rgb_ (image);
}

/* The normalisation for an image file: that of @dataset when it can be opened and has
 * @C channels, else ImageNet's constants (RGB) or 0.5 / 0.5 (grey). */
static void
image_normalization_ (DinolabEvalImage *im, const char *dataset, int C)
{
    static const float imagenet_mean[3] = { 0.485f, 0.456f, 0.406f };
    static const float imagenet_std[3] = { 0.229f, 0.224f, 0.225f };
    g_autoptr (DinolabDataset) ds = NULL;

    if (dataset != NULL && *dataset != '\0' &&
        (ds = dinolab_dataset_open (dataset, DINOLAB_SPLIT_TRAIN, NULL)) != NULL &&
        dinolab_dataset_get_channels (ds) == C &&
        dinolab_dataset_get_normalization (ds, im->mean, im->std, NULL)) {
        im->normalization = g_strdup_printf ("the dataset's (%s)", dataset);
        return;
    }
    for (int c = 0; c < C; c++) {
        im->mean[c] = C == 3 ? imagenet_mean[c] : 0.5f;
        im->std[c] = C == 3 ? imagenet_std[c] : 0.5f;
    }
    im->normalization = g_strdup (C == 3 ? "ImageNet's" : "mean 0.5, std 0.5");
}

DinolabEvalImage *
dinolab_eval_image_from_file (const char *path, int size, int channels, int patch_size,
                              const char *dataset, GError **error)
{
    g_autoptr (DinolabEvalImage) im = NULL;
    g_autoptr (GdkPixbuf) raw = NULL;
    g_autoptr (GdkPixbuf) pix = NULL;
    g_autoptr (GError) local = NULL;
    g_autofree guint8 *src = NULL, *dst = NULL;
    g_autofree float *tmp = NULL;
    const guint8 *px;
    int W, H, n_ch, stride, rw, rh, C = channels, p = patch_size;
    size_t HW;

    g_return_val_if_fail (path != NULL, NULL);
    g_return_val_if_fail (size >= 1 && patch_size >= 1, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    if (C != 1 && C != 3) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: the model takes %d channels; image files give 1 (grey) or 3 (RGB)", path, C);
        return NULL;
    }
    if (!(raw = gdk_pixbuf_new_from_file (path, &local))) {
        g_set_error (error, DINOLAB_ERROR,
                     g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? DINOLAB_ERROR_IO
                                                                            : DINOLAB_ERROR_INVALID_INPUT,
                     "%s", local->message);
        return NULL;
    }
    pix = gdk_pixbuf_apply_embedded_orientation (raw);
    W = gdk_pixbuf_get_width (pix);
    H = gdk_pixbuf_get_height (pix);
    n_ch = gdk_pixbuf_get_n_channels (pix);
    stride = gdk_pixbuf_get_rowstride (pix);
    px = gdk_pixbuf_read_pixels (pix);
    src = g_new (guint8, (size_t) W * H * C);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const guint8 *q = px + (size_t) y * stride + (size_t) x * n_ch;
            guint8 *o = src + ((size_t) y * W + x) * C;
            if (C == 3) {
                o[0] = q[0];
                o[1] = q[1];
                o[2] = q[2];
            } else {  /* PIL's convert("L"), integer rounding */
                o[0] = (guint8) ((q[0] * 299 + q[1] * 587 + q[2] * 114 + 500) / 1000);
            }
        }
    /* torchvision Resize(int): the shorter side becomes size, the longer one scales and truncates */
    if (W <= H) {
        rw = size;
        rh = (int) ((gint64) size * H / W);
    } else {
        rh = size;
        rw = (int) ((gint64) size * W / H);
    }
    im = g_new0 (DinolabEvalImage, 1);
    im->channels = C;
    im->width = rw - rw % p;
    im->height = rh - rh % p;
    if (im->width < p || im->height < p) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: resized to %dx%d it holds no whole %dx%d patch (use a larger size)",
                     path, rw, rh, p, p);
        return NULL;
    }
    dst = g_new (guint8, (size_t) rw * rh * C);
    tmp = g_new (float, (size_t) H * rw * C);
    image_resize_bicubic (dst, rw, rh, src, W, H, C, 0, 0, W, H, tmp);

    image_normalization_ (im, dataset, C);
    HW = (size_t) im->height * im->width;
    im->x = g_new (float, (size_t) C * HW);
    im->rgb = g_new (guint8, HW * 3);
    for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++) {
            const guint8 *q = dst + ((size_t) y * rw + x) * C;
            size_t i = (size_t) y * im->width + x;
            for (int c = 0; c < C; c++)
                im->x[(size_t) c * HW + i] = (q[c] / 255.0f - im->mean[c]) / im->std[c];
            for (int c = 0; c < 3; c++)
                im->rgb[i * 3 + c] = q[C == 3 ? c : 0];
        }
    return g_steal_pointer (&im);
}
