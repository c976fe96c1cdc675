/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * cmd-eval.c: `knn` and `attention`, the two subcommands that say what a trained
 * backbone learned (issue #4, DINO.md 6.1 and 7).
 *
 * knn       weighted k-NN accuracy of a run's checkpoint or a weight file on a labelled
 *           dataset, next to the same k-NN on raw pixels and on a randomly initialised
 *           ViT of the same shape, so a user sees what training added.
 * attention the last block's CLS attention of one image: the input as the model sees
 *           it, one overlay per head, the head mean, the threshold masks (the smallest
 *           set of patches holding a fraction of the mass) and attention.npy.
 *
 * The numbers come from the engine (dinolab/eval.h), and so do the models (a run's
 * checkpoint or a weight file) and the prepared inputs (a dataset item or an image file,
 * shared with the GUI's attention view); this file checks options, picks items, prints
 * and draws. The PNGs are drawn with Cairo (the engine stays Cairo-free).
 */
#include "config.h"

#include <cairo.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dinolab/data.h"
#include "dinolab/error.h"
#include "dinolab/eval.h"
#include "dinolab/io.h"
#include "dinolab/model.h"
#include "dinolab/store.h"
#include "kernels.h"

/* Items per call of dinolab_eval_features between two progress lines. */
#define KNN_PROGRESS_SLICE 4096
/* Seed of the random-initialisation baseline and of --limit-* subsets. */
#define BASELINE_SEED 0
/* Auto zoom: overlays are drawn at least this many pixels on their longer side. */
#define ATTN_MIN_DISPLAY 256
/* --pad above this leaves no model a view it may attend to (dinolab_model_check_input
 * refuses it for any patch size up to 64), and 2 x pad stays far from overflowing. */
#define ATTN_MAX_PAD 8192
/* Opacity of the heat map over the image, and of a mask's fill. */
#define ATTN_HEAT_ALPHA 0.6
#define ATTN_MASK_ALPHA 0.45

// ----------------------------------------------------------------------------
// shared: the model, from a run's checkpoint or a weight file

typedef struct {
    DinolabModel *model;    /* backbone only */
    char         *source;   /* what was loaded, for messages and --json */
    char         *path;     /* the file read */
    gint64        step;     /* the checkpoint's step, -1 for --weights */
} LoadedModel;

static void
loaded_model_clear_ (LoadedModel *lm)
{
    g_clear_pointer (&lm->model, dinolab_model_free);
    g_clear_pointer (&lm->source, g_free);
    g_clear_pointer (&lm->path, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (LoadedModel, loaded_model_clear_)

/* Loads the backbone of --weights FILE or --run RUN [--checkpoint STEP]: the teacher
 * (or with @student the student) of a checkpoint; sizes from the file's metadata or
 * shapes, then --set overrides, then --threads (>= 0) as the threads hyperparameter,
 * which the evaluation reads (dinolab_eval_load_backbone). */
static gboolean
load_backbone_ (LoadedModel *lm, const char *weights, const char *run, gint64 checkpoint,
                const char *db, gboolean student, char **sets, int threads, GError **error)
{
    lm->step = -1;
    if (run != NULL) {
        g_autoptr (DinolabStore) store = dinolab_store_open_full (db, DINOLAB_STORE_OPEN_READ_ONLY, error);
        if (store == NULL)
            return FALSE;
        lm->path = dinolab_eval_find_checkpoint (store, run, checkpoint, &lm->step, &lm->source, error);
        if (lm->path == NULL)
            return FALSE;
    } else {
        lm->path = g_strdup (weights);
        lm->source = g_strdup (weights);
    }
    lm->model = dinolab_eval_load_backbone (lm->path, student, (const char *const *) sets, threads, error);
    return lm->model != NULL;
}

static gboolean
parse_split_ (const char *text, DinolabSplit *split)
{
    if (g_strcmp0 (text, "train") == 0)
        *split = DINOLAB_SPLIT_TRAIN;
    else if (g_strcmp0 (text, "test") == 0)
        *split = DINOLAB_SPLIT_TEST;
    else
        return FALSE;
    return TRUE;
}

static double
now_ (void)
{
    return (double) g_get_monotonic_time () / 1e6;
}

// ----------------------------------------------------------------------------
// knn

typedef struct {
    const char      *key;     /* JSON member */
    const char      *label;   /* table row */
    DinolabKnnResult r;
    double           seconds;
    gboolean         done;
} KnnRow;

static int
gsize_cmp_ (const void *a, const void *b)
{
    gsize x = *(const gsize *) a, y = *(const gsize *) b;
    return (x > y) - (x < y);
}

/* A fixed subset of @limit items out of @size (all when @limit is 0 or >= size): a
 * seeded partial Fisher-Yates shuffle, sorted back into dataset order. */
static gsize *
pick_items_ (gsize size, gint64 limit, gsize *n_out)
{
    gsize n = (limit > 0 && (guint64) limit < size) ? (gsize) limit : size;
    gsize *idx = g_new (gsize, MAX (size, 1));

    for (gsize i = 0; i < size; i++)
        idx[i] = i;
    if (n < size) {
        g_autoptr (GRand) rand = g_rand_new_with_seed (BASELINE_SEED);
        for (gsize i = 0; i < n; i++) {
            gsize j = MIN (i + (gsize) (g_rand_double (rand) * (double) (size - i)), size - 1);
            gsize t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        qsort (idx, n, sizeof (gsize), gsize_cmp_);
    }
    *n_out = n;
    return idx;
}

static int *
labels_of_ (DinolabDataset *ds, const gsize *idx, gsize n, GError **error)
{
    g_autofree int *labels = g_new (int, MAX (n, 1));

    for (gsize i = 0; i < n; i++) {
        labels[i] = dinolab_dataset_get_label (ds, idx[i]);
        if (labels[i] < 0) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: item %" G_GSIZE_FORMAT " has no label (k-NN needs a labelled dataset)",
                         dinolab_dataset_get_spec (ds), idx[i]);
            return NULL;
        }
    }
    return g_steal_pointer (&labels);
}

/* Features of @n items (model, or raw pixels when @model is NULL), with a progress line
 * on a terminal. */
static gboolean
features_ (DinolabModel *model, DinolabDataset *ds, const gsize *idx, gsize n, int size,
           int dim, float *out, const char *what, gboolean progress, GError **error)
{
    for (gsize i0 = 0; i0 < n; i0 += KNN_PROGRESS_SLICE) {
        gsize m = MIN ((gsize) KNN_PROGRESS_SLICE, n - i0);
        gboolean ok;
        if (progress)
            g_printerr ("\r  %s: %" G_GSIZE_FORMAT " / %" G_GSIZE_FORMAT " items\033[K", what, i0, n);
        ok = model != NULL
            ? dinolab_eval_features (model, ds, idx + i0, m, size, 0, out + i0 * (size_t) dim, NULL, error)
            : dinolab_eval_pixel_features (ds, idx + i0, m, size, out + i0 * (size_t) dim, NULL, error);
        if (!ok)
            return FALSE;
    }
    if (progress)
        g_printerr ("\r\033[K");
    return TRUE;
}

static gboolean
knn_row_ (KnnRow *row, DinolabModel *model, DinolabDataset *train, const gsize *tr_idx,
          const int *tr_labels, gsize n_train, DinolabDataset *test, const gsize *te_idx,
          const int *te_labels, gsize n_test, int size, int n_classes, int k, double T,
          gboolean progress, GError **error)
{
    int dim = model != NULL ? dinolab_model_get_hparams (model)->embed_dim
                            : dinolab_eval_pixel_dim (train, size);
    g_autofree float *ftr = g_try_new (float, MAX (n_train, 1) * (size_t) dim);
    g_autofree float *fte = g_try_new (float, MAX (n_test, 1) * (size_t) dim);
    g_autofree char *what_tr = g_strdup_printf ("%s, train features", row->label);
    g_autofree char *what_te = g_strdup_printf ("%s, test features", row->label);
    double t0 = now_ ();

    if (ftr == NULL || fte == NULL) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: not enough memory for %" G_GSIZE_FORMAT " x %d features (use --limit-train)",
                     row->label, n_train + n_test, dim);
        return FALSE;
    }
    if (!features_ (model, train, tr_idx, n_train, size, dim, ftr, what_tr, progress, error) ||
        !features_ (model, test, te_idx, n_test, size, dim, fte, what_te, progress, error))
        return FALSE;
    if (!dinolab_knn_classify (ftr, tr_labels, n_train, fte, te_labels, n_test, dim, n_classes,
                               k, T, NULL, &row->r, error))
        return FALSE;
    row->seconds = now_ () - t0;
    row->done = TRUE;
    return TRUE;
}

static void
print_knn_json_ (const LoadedModel *lm, const char *spec, const char *train_split,
                 const char *test_split, int size, const KnnRow *rows, int n_rows)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();
    g_autoptr (JsonGenerator) gen = json_generator_new ();
    g_autoptr (JsonNode) root = NULL;
    g_autofree char *text = NULL;

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "source");
    json_builder_add_string_value (b, lm->source);
    json_builder_set_member_name (b, "file");
    json_builder_add_string_value (b, lm->path);
    if (lm->step >= 0) {
        json_builder_set_member_name (b, "step");
        json_builder_add_int_value (b, lm->step);
    }
    json_builder_set_member_name (b, "dataset");
    json_builder_add_string_value (b, spec);
    json_builder_set_member_name (b, "train_split");
    json_builder_add_string_value (b, train_split);
    json_builder_set_member_name (b, "test_split");
    json_builder_add_string_value (b, test_split);
    json_builder_set_member_name (b, "n_train");
    json_builder_add_int_value (b, (gint64) rows[0].r.n_train);
    json_builder_set_member_name (b, "n_test");
    json_builder_add_int_value (b, (gint64) rows[0].r.n_test);
    json_builder_set_member_name (b, "k");
    json_builder_add_int_value (b, rows[0].r.k);
    json_builder_set_member_name (b, "temperature");
    json_builder_add_double_value (b, rows[0].r.temperature);
    json_builder_set_member_name (b, "top5_classes");
    json_builder_add_int_value (b, rows[0].r.top5_classes);
    json_builder_set_member_name (b, "view_size");
    json_builder_add_int_value (b, size);
    for (int i = 0; i < n_rows; i++) {
        if (!rows[i].done)
            continue;
        json_builder_set_member_name (b, rows[i].key);
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "top1");
        json_builder_add_double_value (b, rows[i].r.top1);
        json_builder_set_member_name (b, "top5");
        json_builder_add_double_value (b, rows[i].r.top5);
        json_builder_set_member_name (b, "seconds");
        json_builder_add_double_value (b, rows[i].seconds);
        json_builder_end_object (b);
    }
    json_builder_end_object (b);
    root = json_builder_get_root (b);
    json_generator_set_root (gen, root);
    json_generator_set_pretty (gen, TRUE);
    text = json_generator_to_data (gen, NULL);
    printf ("%s\n", text);
}

int
cmd_knn (int argc, char **argv)
{
    g_autofree char *run = NULL, *weights = NULL, *spec_opt = NULL, *db = NULL;
    g_autofree char *train_split_s = NULL, *test_split_s = NULL;
    g_auto (GStrv) sets = NULL;
    gint64 checkpoint = -1, limit_train = 0, limit_test = 0;
    int k = DINOLAB_KNN_DEFAULT_K, size = 0, threads = -1, status = CLI_EXIT_OK;
    double temperature = DINOLAB_KNN_DEFAULT_TEMPERATURE;
    gboolean json = FALSE, student = FALSE, no_baselines = FALSE;
    const GOptionEntry entries[] = {
        { "run", 0, 0, G_OPTION_ARG_STRING, &run, "A run of the store (name, uuid or uuid prefix)", "RUN" },
        { "checkpoint", 0, 0, G_OPTION_ARG_INT64, &checkpoint, "The run's checkpoint at this step (default: the latest)", "STEP" },
        { "weights", 0, 0, G_OPTION_ARG_FILENAME, &weights, "A weight file or checkpoint (safetensors) instead of a run", "FILE" },
        { "student", 0, 0, G_OPTION_ARG_NONE, &student, "Use the student's weights of a checkpoint (default: the teacher's)", NULL },
        { "dataset", 0, 0, G_OPTION_ARG_STRING, &spec_opt, "Dataset spec (default: the model's dataset hyperparameter)", "SPEC" },
        { "train-split", 0, 0, G_OPTION_ARG_STRING, &train_split_s, "Split of the neighbours: train or test (default train)", "SPLIT" },
        { "test-split", 0, 0, G_OPTION_ARG_STRING, &test_split_s, "Split classified: train or test (default test)", "SPLIT" },
        { "k", 0, 0, G_OPTION_ARG_INT, &k, "Neighbours (default 20)", "K" },
        { "temperature", 0, 0, G_OPTION_ARG_DOUBLE, &temperature, "T of the weights exp(cos/T) (default 0.07)", "T" },
        { "limit-train", 0, 0, G_OPTION_ARG_INT64, &limit_train, "Use a fixed random subset of N train items (default: all)", "N" },
        { "limit-test", 0, 0, G_OPTION_ARG_INT64, &limit_test, "Use a fixed random subset of N test items (default: all)", "N" },
        { "size", 0, 0, G_OPTION_ARG_INT, &size, "Side of the evaluation view (default: global_crop_size)", "S" },
        { "no-baselines", 0, 0, G_OPTION_ARG_NONE, &no_baselines, "Skip the raw-pixel and random-ViT baselines", NULL },
        { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Override one model hyperparameter, e.g. num_heads (repeatable)", "KEY=VALUE" },
        { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Cores to use (default: the model's threads hyperparameter; 0: all)", "N" },
        { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "Run store (default: $DINOLAB_DB or ~/.local/share/dinolab/runs.db)", "PATH" },
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the results as JSON", NULL },
        { NULL }
    };
    g_autoptr (GError) error = NULL;
    g_auto (LoadedModel) lm = { 0 };
    g_autoptr (DinolabDataset) train = NULL;
    g_autoptr (DinolabDataset) test = NULL;
    g_autoptr (DinolabModel) random_model = NULL;
    g_autofree gsize *tr_idx = NULL, *te_idx = NULL;
    g_autofree int *tr_labels = NULL, *te_labels = NULL;
    const DinolabHparams *hp;
    DinolabSplit train_split = DINOLAB_SPLIT_TRAIN, test_split = DINOLAB_SPLIT_TEST;
    KnnRow rows[3] = {
        { .key = "model", .label = "model" },
        { .key = "random_init", .label = "random ViT" },
        { .key = "pixels", .label = "raw pixels" },
    };
    g_autofree char *spec = NULL;
    gsize n_train, n_test;
    int n_classes;
    gboolean progress = !json && isatty (STDERR_FILENO);

    if (!cli_parse ("knn", "", "Weighted k-NN accuracy (DINO.md 6.1: L2-normalised CLS features of "
                    "the evaluation views, cosine similarity, the k nearest train items vote with "
                    "weights exp(cos/T)) of a run's checkpoint or a weight file, printed next to the "
                    "same k-NN on raw pixels and on a randomly initialised ViT of the same shape "
                    "(seed 0).",
                    entries, &argc, &argv, &status))
        return status;
    if ((run == NULL) == (weights == NULL))
        return cli_fail ("knn", CLI_EXIT_USAGE, "give either --run RUN or --weights FILE (see --help)");
    if (checkpoint >= 0 && run == NULL)
        return cli_fail ("knn", CLI_EXIT_USAGE, "--checkpoint needs --run");
    if (!parse_split_ (train_split_s ? train_split_s : "train", &train_split) ||
        !parse_split_ (test_split_s ? test_split_s : "test", &test_split))
        return cli_fail ("knn", CLI_EXIT_USAGE, "a split is 'train' or 'test'");
    if (k < 1)
        return cli_fail ("knn", CLI_EXIT_USAGE, "--k: %d must be at least 1", k);
    if (!(temperature > 0.0) || !isfinite (temperature))
        return cli_fail ("knn", CLI_EXIT_USAGE, "--temperature: %g must be > 0", temperature);
    if (limit_train < 0 || limit_test < 0 || size < 0)
        return cli_fail ("knn", CLI_EXIT_USAGE, "--limit-train, --limit-test and --size must be >= 0");

    if (!load_backbone_ (&lm, weights, run, checkpoint, db, student, sets, threads, &error))
        return cli_fail_error ("knn", CLI_EXIT_FAILURE, error);
    hp = dinolab_model_get_hparams (lm.model);
    spec = g_strdup (spec_opt != NULL ? spec_opt : hp->dataset);
    if (size == 0)
        size = hp->global_crop_size;
    if (!(train = dinolab_dataset_open (spec, train_split, &error)) ||
        !(test = dinolab_dataset_open (spec, test_split, &error)))
        return cli_fail_error ("knn", CLI_EXIT_FAILURE, error);
    if (!dinolab_model_check_input (lm.model, dinolab_dataset_get_channels (train), size, size, &error))
        return cli_fail ("knn", CLI_EXIT_USAGE, "%s: %s", spec, error->message);
    n_classes = (int) dinolab_dataset_get_n_classes (train);
    if (n_classes < 1)
        return cli_fail ("knn", CLI_EXIT_USAGE, "%s: the dataset has no labels (k-NN needs them)", spec);

    tr_idx = pick_items_ (dinolab_dataset_get_size (train), limit_train, &n_train);
    te_idx = pick_items_ (dinolab_dataset_get_size (test), limit_test, &n_test);
    if (n_train == 0 || n_test == 0)
        return cli_fail ("knn", CLI_EXIT_USAGE, "%s: a split is empty (%" G_GSIZE_FORMAT " train, %"
                         G_GSIZE_FORMAT " test items)", spec, n_train, n_test);
    if (!(tr_labels = labels_of_ (train, tr_idx, n_train, &error)) ||
        !(te_labels = labels_of_ (test, te_idx, n_test, &error)))
        return cli_fail_error ("knn", CLI_EXIT_USAGE, error);

    dinolab_blas_set_threads (hp->threads);
    if (!json)
        printf ("k-NN (k = %d, T = %g) of %s\non %s: %" G_GSIZE_FORMAT " %s items vote for %" G_GSIZE_FORMAT
                " %s items, views %dx%d\n",
                (int) MIN ((gsize) k, n_train), temperature, lm.source,
                dinolab_dataset_get_description (train), n_train,
                train_split == DINOLAB_SPLIT_TRAIN ? "train" : "test", n_test,
                test_split == DINOLAB_SPLIT_TRAIN ? "train" : "test", size, size);
    fflush (stdout);

    if (!knn_row_ (&rows[0], lm.model, train, tr_idx, tr_labels, n_train, test, te_idx, te_labels, n_test,
                   size, n_classes, k, temperature, progress, &error))
        return cli_fail_error ("knn", CLI_EXIT_FAILURE, error);
    if (!no_baselines) {
        if (!(random_model = dinolab_model_new (hp, FALSE, &error)))
            return cli_fail_error ("knn", CLI_EXIT_FAILURE, error);
        dinolab_model_init_random (random_model, BASELINE_SEED);
        g_clear_pointer (&lm.model, dinolab_model_free);  /* free its memory; hp lives in random_model now */
        hp = dinolab_model_get_hparams (random_model);
        if (!knn_row_ (&rows[1], random_model, train, tr_idx, tr_labels, n_train, test, te_idx, te_labels,
                       n_test, size, n_classes, k, temperature, progress, &error) ||
            !knn_row_ (&rows[2], NULL, train, tr_idx, tr_labels, n_train, test, te_idx, te_labels,
                       n_test, size, n_classes, k, temperature, progress, &error))
            return cli_fail_error ("knn", CLI_EXIT_FAILURE, error);
    }

    if (json) {
        print_knn_json_ (&lm, spec, train_split == DINOLAB_SPLIT_TRAIN ? "train" : "test",
                         test_split == DINOLAB_SPLIT_TRAIN ? "train" : "test", size, rows, 3);
    } else {
        printf ("                 top-1    top-%d      time\n", rows[0].r.top5_classes);
        for (int i = 0; i < 3; i++)
            if (rows[i].done)
                printf ("  %-12s %6.2f %%  %6.2f %%  %6.1f s\n", rows[i].label, rows[i].r.top1,
                        rows[i].r.top5, rows[i].seconds);
    }
    return CLI_EXIT_OK;
}

// ----------------------------------------------------------------------------
// attention: the input

/* The input comes from the engine (dinolab_eval_image_from_dataset / _from_file: the
 * evaluation view trimmed to multiples of the patch size, or an image file resized as
 * torchvision's Resize(int) and normalised); only the option checks are here. Item
 * @index of @spec's @split; the range is checked here so the message names --index. */
static DinolabEvalImage *
input_from_dataset_ (const char *spec, DinolabSplit split, gint64 index, int size, int p,
                     GError **error)
{
    g_autoptr (DinolabDataset) ds = NULL;

    if (!(ds = dinolab_dataset_open (spec, split, error)))
        return NULL;
    if (index < 0 || (guint64) index >= dinolab_dataset_get_size (ds)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: --index %" G_GINT64_FORMAT " is out of range (the split has %" G_GSIZE_FORMAT " items)",
                     spec, index, dinolab_dataset_get_size (ds));
        return NULL;
    }
    return dinolab_eval_image_from_dataset (ds, (gsize) index, size, p, error);
}

// ----------------------------------------------------------------------------
// attention: drawing (Cairo)

/* viridis, sampled at 0, 1/8, ..., 1 (matplotlib's _viridis_data), interpolated linearly */
static const guint8 viridis_[9][3] = {
    { 68, 1, 84 },    { 71, 44, 122 },  { 59, 81, 139 },  { 44, 113, 142 }, { 33, 144, 141 },
    { 39, 173, 129 }, { 92, 200, 99 },  { 170, 220, 50 }, { 253, 231, 37 },
};

static void
viridis_rgb_ (double t, double rgb[3])
{
    double u = CLAMP (t, 0.0, 1.0) * 8.0;
    int i = MIN ((int) u, 7);
    double f = u - i;

    for (int c = 0; c < 3; c++)
        rgb[c] = ((1.0 - f) * viridis_[i][c] + f * viridis_[i + 1][c]) / 255.0;
}

/* Bright, distinct mask colours, one per head (cycled). */
static const double mask_colours_[8][3] = {
    { 1.0, 0.23, 0.19 }, { 0.2, 0.85, 0.3 }, { 0.2, 0.55, 1.0 }, { 1.0, 0.8, 0.0 },
    { 0.95, 0.3, 0.95 }, { 0.0, 0.9, 0.9 },  { 1.0, 0.55, 0.1 }, { 0.65, 0.45, 1.0 },
};

/* An RGB24 surface of @rgb [H, W, 3]. */
static cairo_surface_t *
rgb_surface_ (const guint8 *rgb, int W, int H)
{
    cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, W, H);
    unsigned char *data = cairo_image_surface_get_data (s);
    int stride = cairo_image_surface_get_stride (s);

    cairo_surface_flush (s);
    for (int y = 0; y < H; y++) {
        guint32 *row = (guint32 *) (data + (size_t) y * stride);
        for (int x = 0; x < W; x++) {
            const guint8 *q = rgb + ((size_t) y * W + x) * 3;
            row[x] = ((guint32) q[0] << 16) | ((guint32) q[1] << 8) | q[2];
        }
    }
    cairo_surface_mark_dirty (s);
    return s;
}

/* The map [gh, gw] through viridis, auto min/max, as an RGB24 surface of the grid size. */
static cairo_surface_t *
heat_surface_ (const float *map, int gh, int gw)
{
    cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, gw, gh);
    unsigned char *data = cairo_image_surface_get_data (s);
    int stride = cairo_image_surface_get_stride (s);
    float lo = map[0], hi = map[0];

    for (int i = 1; i < gh * gw; i++) {
        lo = MIN (lo, map[i]);
        hi = MAX (hi, map[i]);
    }
    cairo_surface_flush (s);
    for (int y = 0; y < gh; y++) {
        guint32 *row = (guint32 *) (data + (size_t) y * stride);
        for (int x = 0; x < gw; x++) {
            double rgb[3];
            viridis_rgb_ (hi > lo ? (map[y * gw + x] - lo) / (double) (hi - lo) : 0.0, rgb);
            row[x] = ((guint32) lround (rgb[0] * 255) << 16) | ((guint32) lround (rgb[1] * 255) << 8) |
                     (guint32) lround (rgb[2] * 255);
        }
    }
    cairo_surface_mark_dirty (s);
    return s;
}

/* Paints @src scaled by @scale with nearest-neighbour sampling (each source pixel a
 * scale x scale block), at opacity @alpha. */
static void
paint_nearest_ (cairo_t *cr, cairo_surface_t *src, double scale, double alpha)
{
    cairo_save (cr);
    cairo_scale (cr, scale, scale);
    cairo_set_source_surface (cr, src, 0, 0);
    cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_NEAREST);
    cairo_paint_with_alpha (cr, alpha);
    cairo_restore (cr);
}

static gboolean
write_png_ (cairo_surface_t *s, const char *path, GError **error)
{
    cairo_status_t st = cairo_surface_write_to_png (s, path);

    if (st != CAIRO_STATUS_SUCCESS) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot write PNG: %s", path,
                     cairo_status_to_string (st));
        return FALSE;
    }
    return TRUE;
}

typedef struct {
    const DinolabEvalImage *in;
    int              gh, gw, p, zoom;
    const char      *dir;
} AttnCanvas;

/* A surface of the zoomed input size with the input painted on it. */
static cairo_t *
canvas_begin_ (const AttnCanvas *cv, cairo_surface_t **surface)
{
    cairo_surface_t *img = rgb_surface_ (cv->in->rgb, cv->in->width, cv->in->height);
    cairo_t *cr;

    *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, cv->in->width * cv->zoom, cv->in->height * cv->zoom);
    cr = cairo_create (*surface);
    paint_nearest_ (cr, img, cv->zoom, 1.0);
    cairo_surface_destroy (img);
    return cr;
}

static gboolean
canvas_end_ (const AttnCanvas *cv, cairo_t *cr, cairo_surface_t *surface, const char *name, GError **error)
{
    g_autofree char *path = g_build_filename (cv->dir, name, NULL);
    gboolean ok;

    cairo_destroy (cr);
    cairo_surface_flush (surface);
    ok = write_png_ (surface, path, error);
    cairo_surface_destroy (surface);
    return ok;
}

static gboolean
draw_image_ (const AttnCanvas *cv, GError **error)
{
    cairo_surface_t *surface;
    cairo_t *cr = canvas_begin_ (cv, &surface);

    return canvas_end_ (cv, cr, surface, "image.png", error);
}

/* The input with @map [gh, gw] over it: viridis, auto min/max, each patch a p x p block. */
static gboolean
draw_heat_ (const AttnCanvas *cv, const float *map, const char *name, GError **error)
{
    cairo_surface_t *surface, *heat = heat_surface_ (map, cv->gh, cv->gw);
    cairo_t *cr = canvas_begin_ (cv, &surface);

    paint_nearest_ (cr, heat, (double) cv->p * cv->zoom, ATTN_HEAT_ALPHA);
    cairo_surface_destroy (heat);
    return canvas_end_ (cv, cr, surface, name, error);
}

/* The mask [gh, gw] (patches of @cell pixels, from the origin of @cr) filled in
 * @colour and outlined along the patch edges where it ends. */
static void
paint_mask_ (cairo_t *cr, const guint8 *mask, int gh, int gw, double cell, const double colour[3])
{
    cairo_save (cr);
    cairo_set_source_rgba (cr, colour[0], colour[1], colour[2], ATTN_MASK_ALPHA);
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++)
            if (mask[y * gw + x])
                cairo_rectangle (cr, x * cell, y * cell, cell, cell);
    cairo_fill (cr);

    /* outline: every edge between a kept patch and a dropped one (or the border; those
     * are moved one pixel in so the 2-pixel line is not half cut off) */
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++) {
            double x0 = x == 0 ? 1.0 : x * cell, x1 = x == gw - 1 ? gw * cell - 1.0 : (x + 1) * cell;
            double y0 = y == 0 ? 1.0 : y * cell, y1 = y == gh - 1 ? gh * cell - 1.0 : (y + 1) * cell;
            if (!mask[y * gw + x])
                continue;
            if (y == 0 || !mask[(y - 1) * gw + x]) {
                cairo_move_to (cr, x0, y0);
                cairo_line_to (cr, x1, y0);
            }
            if (y == gh - 1 || !mask[(y + 1) * gw + x]) {
                cairo_move_to (cr, x0, y1);
                cairo_line_to (cr, x1, y1);
            }
            if (x == 0 || !mask[y * gw + x - 1]) {
                cairo_move_to (cr, x0, y0);
                cairo_line_to (cr, x0, y1);
            }
            if (x == gw - 1 || !mask[y * gw + x + 1]) {
                cairo_move_to (cr, x1, y0);
                cairo_line_to (cr, x1, y1);
            }
        }
    cairo_set_source_rgb (cr, colour[0], colour[1], colour[2]);
    cairo_set_line_width (cr, 2.0);
    cairo_set_line_cap (cr, CAIRO_LINE_CAP_SQUARE);
    cairo_stroke (cr);
    cairo_restore (cr);
}

/* The input with the mask [gh, gw] over it (paint_mask_). */
static gboolean
draw_mask_ (const AttnCanvas *cv, const guint8 *mask, const double colour[3], const char *name,
            GError **error)
{
    cairo_surface_t *surface;
    cairo_t *cr = canvas_begin_ (cv, &surface);

    paint_mask_ (cr, mask, cv->gh, cv->gw, (double) cv->p * cv->zoom, colour);
    return canvas_end_ (cv, cr, surface, name, error);
}

// ----------------------------------------------------------------------------
// attention --eval: how well the masks segment the object (Jaccard with the foreground)

/* Contact sheet: this many test images (the first of the split), each as a pair of
 * tiles (trained model | random init), this many pairs a row, each view zoomed by a
 * whole factor to about this many pixels (at least 1x). */
#define SHEET_IMAGES  16
#define SHEET_PAIRS   4
#define SHEET_TILE    112

typedef struct {
    const char *label;
    double     *per_head;   /* [NH] mean Jaccard */
    double     *on_object;  /* [NH] mean share of the mask on the object */
    double      mean_map, mean_map_on_object;
    int         best;       /* the head with the highest mean Jaccard */
    double      seconds;
} JaccardRow;

/* One measure of a JaccardRow as JSON members: best_head_<what>, mean_map_<what> and
 * the per-head array @heads_key. */
static void
add_measure_json_ (JsonBuilder *b, const char *what, const char *heads_key,
                   const double *per_head, double mean_map, int best, int NH)
{
    g_autofree char *best_key = g_strdup_printf ("best_head_%s", what);
    g_autofree char *mean_key = g_strdup_printf ("mean_map_%s", what);

    json_builder_set_member_name (b, best_key);
    json_builder_add_double_value (b, per_head[best]);
    json_builder_set_member_name (b, mean_key);
    json_builder_add_double_value (b, mean_map);
    json_builder_set_member_name (b, heads_key);
    json_builder_begin_array (b);
    for (int h = 0; h < NH; h++)
        json_builder_add_double_value (b, per_head[h]);
    json_builder_end_array (b);
}

static gboolean
jaccard_row_ (JaccardRow *row, DinolabModel *model, DinolabDataset *ds, const gsize *idx, gsize n,
              int size, int pad, double threshold, int fg, GError **error)
{
    int NH = dinolab_model_get_hparams (model)->num_heads;
    double t0 = now_ ();

    row->per_head = g_new (double, NH);
    row->on_object = g_new (double, NH);
    if (!dinolab_eval_attention_jaccard (model, ds, idx, n, size, pad, threshold, fg, row->per_head,
                                         &row->mean_map, row->on_object, &row->mean_map_on_object, NULL, error))
        return FALSE;
    row->best = 0;
    for (int h = 1; h < NH; h++)
        if (row->per_head[h] > row->per_head[row->best])
            row->best = h;
    row->seconds = now_ () - t0;
    return TRUE;
}

/* One tile: item @index of @ds as the model sees it (view side @size, framed by @pad
 * pixels of black), with the @threshold mask of head @head of @model over it, zoomed
 * @zoom times, at (@x, @y) of @cr, captioned @caption. */
static gboolean
sheet_tile_ (cairo_t *cr, DinolabModel *model, DinolabDataset *ds, gsize index, int size, int pad, int zoom,
             int head, double threshold, double x, double y, const char *caption, const double colour[3],
             GError **error)
{
    const DinolabHparams *hp = dinolab_model_get_hparams (model);
    int p = hp->patch_size;
    g_autoptr (DinolabEvalImage) in = dinolab_eval_image_from_dataset (ds, index, size, p, error);
    g_autofree float *att = NULL;
    g_autofree guint8 *mask = NULL;
    cairo_surface_t *img;
    int gh, gw;

    if (in == NULL)
        return FALSE;
    dinolab_eval_image_frame (in, pad);
    gh = in->height / p;
    gw = in->width / p;
    att = g_new (float, (size_t) hp->num_heads * gh * gw);
    mask = g_new (guint8, (size_t) gh * gw);
    if (!dinolab_eval_image_attention (model, in->x, in->height, in->width, att, NULL, error))
        return FALSE;
    dinolab_attention_mask (mask, att + (size_t) head * gh * gw, gh * gw, threshold);

    cairo_save (cr);
    cairo_translate (cr, x, y);
    cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
    cairo_move_to (cr, 0, -4);
    cairo_show_text (cr, caption);
    img = rgb_surface_ (in->rgb, in->width, in->height);
    paint_nearest_ (cr, img, zoom, 1.0);
    cairo_surface_destroy (img);
    paint_mask_ (cr, mask, gh, gw, (double) p * zoom, colour);
    cairo_restore (cr);
    return TRUE;
}

/* The contact sheet: the first SHEET_IMAGES items (views of side @size framed by
 * @frame pixels, which @seen says after the dataset's name), each with the best head's mask
 * of the trained model (left) and of the random initialisation (right). */
static gboolean
write_sheet_ (const char *path, DinolabDataset *ds, int size, int frame, DinolabModel *trained, int best_trained,
              DinolabModel *random, int best_random, double threshold, const char *seen, const char *title,
              GError **error)
{
    g_autofree char *heading = g_strconcat (dinolab_dataset_get_description (ds), seen, NULL);
    int zoom = MAX (1, SHEET_TILE / (size + 2 * frame)), side = (size + 2 * frame) * zoom;
    int gap = 10, head_h = 18, pad = 16;
    int pair_w = 2 * side + 4, cell_w = pair_w + 2 * gap, cell_h = side + head_h + gap;
    int n = (int) MIN ((gsize) SHEET_IMAGES, dinolab_dataset_get_size (ds));
    int rows = (n + SHEET_PAIRS - 1) / SHEET_PAIRS;
    int W = 2 * pad + SHEET_PAIRS * cell_w, H = 2 * pad + 46 + rows * cell_h;
    cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create (surface);
    gboolean ok = TRUE;

    cairo_set_source_rgb (cr, 1, 1, 1);
    cairo_paint (cr);
    cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size (cr, 14);
    cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
    cairo_move_to (cr, pad, pad + 12);
    cairo_show_text (cr, heading);
    cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size (cr, 12);
    cairo_move_to (cr, pad, pad + 30);
    cairo_show_text (cr, title);
    cairo_set_font_size (cr, 11);
    for (int i = 0; i < n && ok; i++) {
        double x = pad + (i % SHEET_PAIRS) * cell_w, y = pad + 46 + head_h + (i / SHEET_PAIRS) * cell_h;
        g_autofree char *ct = g_strdup_printf ("#%d model, h%d", i, best_trained);
        g_autofree char *cr_ = g_strdup_printf ("random, h%d", best_random);
        ok = sheet_tile_ (cr, trained, ds, (gsize) i, size, frame, zoom, best_trained, threshold, x, y, ct,
                          mask_colours_[2], error) &&
             sheet_tile_ (cr, random, ds, (gsize) i, size, frame, zoom, best_random, threshold, x + side + 4, y,
                          cr_, mask_colours_[0], error);
    }
    cairo_destroy (cr);
    cairo_surface_flush (surface);
    ok = ok && write_png_ (surface, path, error);
    cairo_surface_destroy (surface);
    return ok;
}

/* One evaluation over a set of items: the model and the random ViT (rows[0], rows[1])
 * and the references, which need no model. Zero it before jaccard_set_(). */
typedef struct {
    JaccardRow rows[2];
    double     ref_map, ref_best, ref_fixed, object_share;
    int        fixed_kept, P;
    gsize      n;
} JaccardSet;

static void
jaccard_set_clear_ (JaccardSet *s)
{
    for (int r = 0; r < 2; r++) {
        g_free (s->rows[r].per_head);
        g_free (s->rows[r].on_object);
    }
}

/* Fills @s for items @idx[0 .. @n-1] of @ds, seen as views of side @size framed by @pad
 * pixels (together a multiple of the patch size). @best: the heads to report as best,
 * the model's and the random ViT's (those chosen over the whole split), or NULL for each
 * row's own. */
static gboolean
jaccard_set_ (JaccardSet *s, DinolabModel *const models[2], DinolabDataset *ds, const gsize *idx, gsize n,
              int size, int pad, double threshold, int fg, const int *best, GError **error)
{
    int p = dinolab_model_get_hparams (models[0])->patch_size, g;
    g_autofree guint8 *fixed = NULL;

    s->rows[0].label = "model";
    s->rows[1].label = "random ViT";
    s->n = n;
    for (int r = 0; r < 2; r++) {
        if (!jaccard_row_ (&s->rows[r], models[r], ds, idx, n, size, pad, threshold, fg, error))
            return FALSE;
        if (best != NULL)
            s->rows[r].best = best[r];
    }
    g = (size + 2 * pad) / p;
    s->P = g * g;
    fixed = g_new0 (guint8, s->P);
    if (!dinolab_eval_jaccard_references (ds, idx, n, p, size, pad, threshold, fg, &s->ref_map, &s->ref_best,
                                          &s->ref_fixed, fixed, &s->object_share, error))
        return FALSE;
    for (int k = 0; k < s->P; k++)
        s->fixed_kept += fixed[k];
    return TRUE;
}

/* @s as members of the JSON object being built: model, random_init and references. */
static void
jaccard_set_json_ (JsonBuilder *b, const JaccardSet *s, int NH)
{
    for (int r = 0; r < 2; r++) {
        json_builder_set_member_name (b, r == 0 ? "model" : "random_init");
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "best_head");
        json_builder_add_int_value (b, s->rows[r].best);
        add_measure_json_ (b, "jaccard", "heads", s->rows[r].per_head, s->rows[r].mean_map, s->rows[r].best, NH);
        add_measure_json_ (b, "on_object", "heads_on_object", s->rows[r].on_object,
                           s->rows[r].mean_map_on_object, s->rows[r].best, NH);
        json_builder_end_object (b);
    }
    json_builder_set_member_name (b, "references");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "foreground_map_jaccard");
    json_builder_add_double_value (b, s->ref_map);
    json_builder_set_member_name (b, "best_mask_jaccard");
    json_builder_add_double_value (b, s->ref_best);
    json_builder_set_member_name (b, "fixed_mask_jaccard");
    json_builder_add_double_value (b, s->ref_fixed);
    json_builder_set_member_name (b, "fixed_mask_patches");
    json_builder_add_int_value (b, s->fixed_kept);
    json_builder_set_member_name (b, "patches");
    json_builder_add_int_value (b, s->P);
    json_builder_set_member_name (b, "object_share");
    json_builder_add_double_value (b, s->object_share);
    json_builder_end_object (b);
}

/* `attention --eval`: the mean Jaccard index of each head's (and the mean map's)
 * threshold mask with the foreground, for the model and a random ViT of its shape, on
 * views of side @size (0: the images' own) framed by @pad pixels of black; with
 * @per_class, also over the items of each class, with the heads chosen on all. */
static int
attention_eval_ (LoadedModel *lm, const char *spec, DinolabSplit split, gint64 limit, int size, int pad,
                 double threshold, int fg, const char *sheet, gboolean per_class, gboolean json)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabDataset) ds = NULL;
    g_autoptr (DinolabModel) random = NULL;
    g_autofree gsize *idx = NULL, *cidx = NULL;
    g_autofree char *seen = NULL;   /* ", seen at SxS" when resized or framed, else "" */
    const DinolabHparams *hp = dinolab_model_get_hparams (lm->model);
    JaccardSet all = { 0 }, *classes = NULL;
    DinolabModel *models[2];
    int NH = hp->num_heads, best[2];
    guint n_classes = 0;
    gsize n;
    int status = CLI_EXIT_OK;

    if (!(ds = dinolab_dataset_open (spec, split, &error)))
        return cli_fail_error ("attention", CLI_EXIT_FAILURE, error);
    if (per_class && (n_classes = dinolab_dataset_get_n_classes (ds)) == 0)
        return cli_fail ("attention", CLI_EXIT_USAGE, "--per-class: the dataset has no labels (%s)",
                         dinolab_dataset_get_description (ds));
    if (size == 0)
        size = dinolab_dataset_get_width (ds);
    if (pad > 0)
        seen = g_strdup_printf (", seen at %dx%d in a %d-pixel black frame (%dx%d)", size, size, pad,
                                size + 2 * pad, size + 2 * pad);
    else if (size != dinolab_dataset_get_width (ds))
        seen = g_strdup_printf (", seen at %dx%d", size, size);
    else
        seen = g_strdup ("");
    idx = pick_items_ (dinolab_dataset_get_size (ds), limit, &n);
    if (!(random = dinolab_model_new (hp, FALSE, &error)))
        return cli_fail_error ("attention", CLI_EXIT_FAILURE, error);
    dinolab_model_init_random (random, BASELINE_SEED);
    models[0] = lm->model;
    models[1] = random;
    dinolab_blas_set_threads (hp->threads);
    if (!jaccard_set_ (&all, models, ds, idx, n, size, pad, threshold, fg, NULL, &error))
        status = cli_fail_error ("attention", CLI_EXIT_FAILURE, error);
    best[0] = all.rows[0].best;
    best[1] = all.rows[1].best;

    /* each class over its own items, the same heads as on all of them */
    classes = g_new0 (JaccardSet, n_classes);
    cidx = g_new (gsize, n);
    for (guint c = 0; c < n_classes && status == CLI_EXIT_OK; c++) {
        gsize m = 0;
        for (gsize i = 0; i < n; i++)
            if (dinolab_dataset_get_label (ds, idx[i]) == (int) c)
                cidx[m++] = idx[i];
        if (m > 0 && !jaccard_set_ (&classes[c], models, ds, cidx, m, size, pad, threshold, fg, best, &error))
            status = cli_fail_error ("attention", CLI_EXIT_FAILURE, error);
    }

    if (status == CLI_EXIT_OK && sheet != NULL) {
        const JaccardRow *rows = all.rows;
        g_autofree char *title = g_strdup_printf ("The %g-mass attention mask of the best head: left the model "
                                                  "(Jaccard %.3f, %.0f %% on the object), right a random ViT "
                                                  "(%.3f, %.0f %%)", threshold, rows[0].per_head[rows[0].best],
                                                  100.0 * rows[0].on_object[rows[0].best],
                                                  rows[1].per_head[rows[1].best],
                                                  100.0 * rows[1].on_object[rows[1].best]);
        if (!write_sheet_ (sheet, ds, size, pad, lm->model, rows[0].best, random, rows[1].best, threshold, seen,
                           title, &error))
            status = cli_fail_error ("attention", CLI_EXIT_FAILURE, error);
    }

    if (status == CLI_EXIT_OK && json) {
        g_autoptr (JsonBuilder) b = json_builder_new ();
        g_autoptr (JsonGenerator) gen = json_generator_new ();
        g_autoptr (JsonNode) root = NULL;
        g_autofree char *text = NULL;
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "source");
        json_builder_add_string_value (b, lm->source);
        json_builder_set_member_name (b, "dataset");
        json_builder_add_string_value (b, dinolab_dataset_get_description (ds));
        json_builder_set_member_name (b, "images");
        json_builder_add_int_value (b, (gint64) n);
        json_builder_set_member_name (b, "view_size");
        json_builder_add_int_value (b, size);
        json_builder_set_member_name (b, "pad");
        json_builder_add_int_value (b, pad);
        json_builder_set_member_name (b, "threshold");
        json_builder_add_double_value (b, threshold);
        json_builder_set_member_name (b, "foreground_above");
        json_builder_add_int_value (b, fg);
        jaccard_set_json_ (b, &all, NH);
        if (per_class) {
            json_builder_set_member_name (b, "classes");
            json_builder_begin_array (b);
            for (guint c = 0; c < n_classes; c++) {
                if (classes[c].n == 0)
                    continue;
                json_builder_begin_object (b);
                json_builder_set_member_name (b, "label");
                json_builder_add_int_value (b, c);
                json_builder_set_member_name (b, "class");
                json_builder_add_string_value (b, dinolab_dataset_get_class_name (ds, c));
                json_builder_set_member_name (b, "images");
                json_builder_add_int_value (b, (gint64) classes[c].n);
                jaccard_set_json_ (b, &classes[c], NH);
                json_builder_end_object (b);
            }
            json_builder_end_array (b);
        }
        json_builder_end_object (b);
        root = json_builder_get_root (b);
        json_generator_set_root (gen, root);
        json_generator_set_pretty (gen, TRUE);
        text = json_generator_to_data (gen, NULL);
        printf ("%s\n", text);
    } else if (status == CLI_EXIT_OK) {
        const JaccardRow *rows = all.rows;
        printf ("Jaccard index of the %g-mass attention masks (DINO.md 7) with the foreground (pixels "
                "> %d)\nof %s: %" G_GSIZE_FORMAT " images%s; model %s\n", threshold, fg,
                dinolab_dataset_get_description (ds), n, seen, lm->source);
        printf ("  %-12s %-16s %9s  %s\n", "Jaccard", "best head", "mean map", "every head");
        for (int r = 0; r < 2; r++) {
            g_autofree char *b = g_strdup_printf ("%.3f (head %d)", rows[r].per_head[rows[r].best], rows[r].best);
            printf ("  %-12s %-16s %9.3f ", rows[r].label, b, rows[r].mean_map);
            for (int h = 0; h < NH; h++)
                printf (" %.3f", rows[r].per_head[h]);
            printf ("   (%.1f s)\n", rows[r].seconds);
        }
        printf ("  references without a model, on the same grid (the measure's scale on these images,\n"
                "  whose objects fill %.0f %% of the frame on average):\n"
                "  %-29s %9.3f  a head that sees the whole object and nothing else\n"
                "  %-29s %9.3f  the ceiling: for each image the best of the masks a threshold can make\n"
                "  %-29s %9.3f  the same %d of %d patches for every image, the best such mask\n",
                100.0 * all.object_share, "the foreground as the map", all.ref_map, "the best mask for each image",
                all.ref_best, "one mask for every image", all.ref_fixed, all.fixed_kept, all.P);
        printf ("share of the mask on the object, |M & F| / |M|:\n");
        for (int r = 0; r < 2; r++) {
            g_autofree char *b = g_strdup_printf ("%.3f (head %d)", rows[r].on_object[rows[r].best], rows[r].best);
            printf ("  %-12s %-16s %9.3f ", rows[r].label, b, rows[r].mean_map_on_object);
            for (int h = 0; h < NH; h++)
                printf (" %.3f", rows[r].on_object[h]);
            printf ("\n");
        }
        if (per_class) {
            printf ("by class (Jaccard; the best heads as above: model head %d, random ViT head %d):\n", best[0],
                    best[1]);
            printf ("  %-14s %6s %6s %8s %9s %11s %10s %9s\n", "class", "images", "object", "model", "mean map",
                    "random ViT", "foreground", "one mask");
            for (guint c = 0; c < n_classes; c++) {
                const JaccardSet *k = &classes[c];
                if (k->n == 0)
                    continue;
                printf ("  %-14s %6" G_GSIZE_FORMAT " %4.0f %% %8.3f %9.3f %11.3f %10.3f %9.3f\n",
                        dinolab_dataset_get_class_name (ds, c), k->n, 100.0 * k->object_share,
                        k->rows[0].per_head[best[0]], k->rows[0].mean_map, k->rows[1].per_head[best[1]],
                        k->ref_map, k->ref_fixed);
            }
        }
        if (sheet != NULL)
            printf ("  wrote %s\n", sheet);
    }
    jaccard_set_clear_ (&all);
    for (guint c = 0; c < n_classes; c++)
        jaccard_set_clear_ (&classes[c]);
    g_free (classes);
    return status;
}

// ----------------------------------------------------------------------------
// attention: the command

int
cmd_attention (int argc, char **argv)
{
    g_autofree char *run = NULL, *weights = NULL, *image = NULL, *spec_opt = NULL, *db = NULL;
    g_autofree char *split_s = NULL, *out = NULL, *sheet = NULL;
    g_auto (GStrv) sets = NULL;
    gint64 checkpoint = -1, index = -1, limit = 0;
    int size = 0, pad = 0, zoom = 0, threads = -1, fg = 0, status = CLI_EXIT_OK;
    double threshold = 0.6;
    gboolean student = FALSE, json = FALSE, eval = FALSE, per_class = FALSE;
    const GOptionEntry entries[] = {
        { "run", 0, 0, G_OPTION_ARG_STRING, &run, "A run of the store (name, uuid or uuid prefix)", "RUN" },
        { "checkpoint", 0, 0, G_OPTION_ARG_INT64, &checkpoint, "The run's checkpoint at this step (default: the latest)", "STEP" },
        { "weights", 0, 0, G_OPTION_ARG_FILENAME, &weights, "A weight file or checkpoint (safetensors) instead of a run", "FILE" },
        { "student", 0, 0, G_OPTION_ARG_NONE, &student, "Use the student's weights of a checkpoint (default: the teacher's)", NULL },
        { "image", 0, 0, G_OPTION_ARG_FILENAME, &image, "An image file (PNG, JPEG, ...)", "PATH" },
        { "dataset", 0, 0, G_OPTION_ARG_STRING, &spec_opt, "Take the image from this dataset (with --index)", "SPEC" },
        { "index", 0, 0, G_OPTION_ARG_INT64, &index, "Item of the dataset split", "I" },
        { "split", 0, 0, G_OPTION_ARG_STRING, &split_s, "Split of --dataset: train or test (default test)", "SPLIT" },
        { "size", 0, 0, G_OPTION_ARG_INT, &size, "Shorter side of the input, trimmed to a multiple of the patch size (default: global_crop_size; --eval: the images' side, and S + 2 x --pad must be a multiple of the patch size)", "S" },
        { "pad", 0, 0, G_OPTION_ARG_INT, &pad, "Frame the input with P pixels of black on every side, an object with background around it (default 0)", "P" },
        { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &threshold, "Mass kept by the masks, in (0, 1] (default 0.6)", "T" },
        { "zoom", 0, 0, G_OPTION_ARG_INT, &zoom, "Draw the PNGs at Z times the input size (default: at least 256 pixels)", "Z" },
        { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "Folder for the PNGs and attention.npy", "DIR" },
        { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Override one model hyperparameter, e.g. num_heads (repeatable)", "KEY=VALUE" },
        { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Cores to use (default: the model's threads hyperparameter; 0: all)", "N" },
        { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "Run store (default: $DINOLAB_DB or ~/.local/share/dinolab/runs.db)", "PATH" },
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON summary", NULL },
        { "eval", 0, 0, G_OPTION_ARG_NONE, &eval, "Instead of one image: the mean Jaccard index of the masks with the foreground over a split (see below)", NULL },
        { "limit", 0, 0, G_OPTION_ARG_INT64, &limit, "--eval: a fixed random subset of N items (default: all)", "N" },
        { "foreground", 0, 0, G_OPTION_ARG_INT, &fg, "--eval: foreground pixels are brighter than this, 0..254 (default 0: non-black)", "V" },
        { "sheet", 0, 0, G_OPTION_ARG_FILENAME, &sheet, "--eval: also draw a contact sheet of 16 items with the best head's mask", "FILE.png" },
        { "per-class", 0, 0, G_OPTION_ARG_NONE, &per_class, "--eval: also each class on its own, with the heads chosen on all items", NULL },
        { NULL }
    };
    g_autoptr (GError) error = NULL;
    g_auto (LoadedModel) lm = { 0 };
    g_autoptr (DinolabEvalImage) in = NULL;
    g_autofree float *att = NULL, *mean_map = NULL;
    g_autofree guint8 *masks = NULL;
    g_autofree int *kept = NULL;
    g_autofree double *kept_mass = NULL;
    const DinolabHparams *hp;
    DinolabSplit split = DINOLAB_SPLIT_TEST;
    AttnCanvas cv;
    int NH, p, gh, gw, P;

    if (!cli_parse ("attention", "", "The last block's CLS-to-patch attention of one image (DINO.md 7). "
                    "Writes to DIR: image.png (the input as the model sees it), attn-head{j}.png per head "
                    "and attn-mean.png (the map over the image: viridis, each map scaled to its own "
                    "min..max, patches as blocks), mask-head{j}.png (the smallest set of patches holding "
                    "--threshold of the head's mass, filled and outlined), attention.npy (float32 heads x "
                    "h x w, the raw softmax entries) and masks.npy (uint8 heads x h x w). An image file is "
                    "normalised as the model's dataset when that can be opened, else with ImageNet's "
                    "constants (RGB) or mean 0.5, std 0.5 (grey).\n\n"
                    "With --eval, how well the attention segments the object on a dataset whose "
                    "foreground is known (Fashion-MNIST: the non-black pixels): for every item of "
                    "--split (default test) of --dataset (default the model's), the Jaccard index "
                    "|M & F| / |M | F| of each head's --threshold mask M (and of the mean map's) with "
                    "the foreground F, averaged; printed for the model and for a randomly initialised "
                    "ViT of its shape (seed 0), as DINO's Jaccard table compares them; also the share "
                    "|M & F| / |M| of each mask that lies on the object. Three references without a model "
                    "give the measure's scale on the same items: the foreground itself taken as the map "
                    "(a head that sees the whole object and nothing else), the best mask for each image "
                    "(the most any map can score: a threshold mask keeps at most ceil(threshold x "
                    "patches) patches), and the best single mask for every image (where the object "
                    "usually sits in the frame). --size S takes the attention of the images resized to S x S, "
                    "with the foreground scaled to them by nearest neighbour, as the paper's figures take a "
                    "model trained at 224 pixels on 480-pixel inputs. --pad P puts each image at the centre "
                    "of a frame of black P pixels wide (the frame is background), so that the object "
                    "leaves room around it as the objects of the paper's scenes do; on images that the "
                    "object fills, a mask that covers most of the frame scores well wherever it lies.",
                    entries, &argc, &argv, &status))
        return status;
    if ((run == NULL) == (weights == NULL))
        return cli_fail ("attention", CLI_EXIT_USAGE, "give either --run RUN or --weights FILE (see --help)");
    if (checkpoint >= 0 && run == NULL)
        return cli_fail ("attention", CLI_EXIT_USAGE, "--checkpoint needs --run");
    if (split_s != NULL && !parse_split_ (split_s, &split))
        return cli_fail ("attention", CLI_EXIT_USAGE, "--split: '%s' is not 'train' or 'test'", split_s);
    if (!(threshold > 0.0 && threshold <= 1.0))
        return cli_fail ("attention", CLI_EXIT_USAGE, "--threshold: %g is outside (0, 1]", threshold);
    if (pad > ATTN_MAX_PAD)
        return cli_fail ("attention", CLI_EXIT_USAGE, "--pad: %d pixels is wider than any view a model can attend "
                         "to (at most %d)", pad, ATTN_MAX_PAD);
    if (!eval && (limit != 0 || fg != 0 || sheet != NULL || per_class))
        return cli_fail ("attention", CLI_EXIT_USAGE, "--limit, --foreground, --sheet and --per-class go with --eval");
    if (eval) {
        if (image != NULL || index >= 0 || out != NULL || zoom != 0)
            return cli_fail ("attention", CLI_EXIT_USAGE, "--eval takes a whole split: no --image, --index, "
                             "--out or --zoom");
        if (limit < 0 || size < 0 || pad < 0 || fg < 0 || fg > 254)
            return cli_fail ("attention", CLI_EXIT_USAGE, "--limit, --size and --pad must be >= 0 and --foreground in 0..254");
        if (!load_backbone_ (&lm, weights, run, checkpoint, db, student, sets, threads, &error))
            return cli_fail_error ("attention", CLI_EXIT_FAILURE, error);
        return attention_eval_ (&lm, spec_opt != NULL ? spec_opt : dinolab_model_get_hparams (lm.model)->dataset,
                                split, limit, size, pad, threshold, fg, sheet, per_class, json);
    }
    if ((image != NULL) == (index >= 0))
        return cli_fail ("attention", CLI_EXIT_USAGE, "give either --image PATH or --index I (with --dataset) (see --help)");
    if (image != NULL && (spec_opt != NULL || split_s != NULL))
        return cli_fail ("attention", CLI_EXIT_USAGE, "--dataset and --split go with --index, not --image");
    if (out == NULL)
        return cli_fail ("attention", CLI_EXIT_USAGE, "--out DIR is required (see --help)");
    if (size < 0 || pad < 0 || zoom < 0)
        return cli_fail ("attention", CLI_EXIT_USAGE, "--size, --pad and --zoom must be >= 0");

    if (!load_backbone_ (&lm, weights, run, checkpoint, db, student, sets, threads, &error))
        return cli_fail_error ("attention", CLI_EXIT_FAILURE, error);
    hp = dinolab_model_get_hparams (lm.model);
    p = hp->patch_size;
    NH = hp->num_heads;
    if (size == 0)
        size = hp->global_crop_size;
    if (size < p)
        return cli_fail ("attention", CLI_EXIT_USAGE, "--size %d is smaller than the patch size %d", size, p);
    if ((2 * pad) % p != 0)   /* the input is trimmed to whole patches; the frame must keep it so */
        return cli_fail ("attention", CLI_EXIT_USAGE, "--pad %d: a frame of %d pixels on each side leaves the input "
                         "off the patch grid (patch size %d)", pad, pad, p);

    in = image != NULL ? dinolab_eval_image_from_file (image, size, hp->in_chans, p, hp->dataset, &error)
                       : input_from_dataset_ (spec_opt != NULL ? spec_opt : hp->dataset, split, index, size, p,
                                              &error);
    if (in == NULL)
        return cli_fail_error ("attention", CLI_EXIT_FAILURE, error);
    dinolab_eval_image_frame (in, pad);
    dinolab_blas_set_threads (hp->threads);

    gh = in->height / p;
    gw = in->width / p;
    P = gh * gw;
    att = g_new (float, (size_t) NH * P);
    if (!dinolab_eval_image_attention (lm.model, in->x, in->height, in->width, att, NULL, &error))
        return cli_fail_error ("attention", CLI_EXIT_USAGE, error);

    mean_map = g_new0 (float, P);
    masks = g_new (guint8, (size_t) NH * P);
    kept = g_new (int, NH);
    kept_mass = g_new (double, NH);
    for (int h = 0; h < NH; h++) {
        const float *a = att + (size_t) h * P;
        double total = 0.0, part = 0.0;
        for (int i = 0; i < P; i++) {
            mean_map[i] += a[i] / NH;
            total += a[i];
        }
        kept[h] = dinolab_attention_mask (masks + (size_t) h * P, a, P, threshold);
        for (int i = 0; i < P; i++)
            part += masks[(size_t) h * P + i] ? a[i] : 0.0;
        kept_mass[h] = total > 0.0 ? part / total : 0.0;
    }

    if (!cli_make_dir (out, &error))
        return cli_fail_error ("attention", CLI_EXIT_FAILURE, error);
    cv.in = in;
    cv.gh = gh;
    cv.gw = gw;
    cv.p = p;
    cv.zoom = zoom > 0 ? zoom : MAX (1, ATTN_MIN_DISPLAY / MAX (in->width, in->height));
    cv.dir = out;
    {
        g_autofree char *pa = g_build_filename (out, "attention.npy", NULL);
        g_autofree char *pm = g_build_filename (out, "masks.npy", NULL);
        int64_t shape[3] = { NH, gh, gw };
        g_autoptr (DinolabArray) m = dinolab_array_new (DINOLAB_DTYPE_U8, 3, shape);
        memcpy (m->data, masks, (size_t) NH * P);
        if (!dinolab_npy_write_f32 (pa, att, 3, shape, &error) || !dinolab_npy_write (pm, m, &error))
            return cli_fail_error ("attention", CLI_EXIT_FAILURE, error);
    }
    if (!draw_image_ (&cv, &error) || !draw_heat_ (&cv, mean_map, "attn-mean.png", &error))
        return cli_fail_error ("attention", CLI_EXIT_FAILURE, error);
    for (int h = 0; h < NH; h++) {
        g_autofree char *na = g_strdup_printf ("attn-head%d.png", h);
        g_autofree char *nm = g_strdup_printf ("mask-head%d.png", h);
        if (!draw_heat_ (&cv, att + (size_t) h * P, na, &error) ||
            !draw_mask_ (&cv, masks + (size_t) h * P, mask_colours_[h % G_N_ELEMENTS (mask_colours_)], nm, &error))
            return cli_fail_error ("attention", CLI_EXIT_FAILURE, error);
    }

    if (json) {
        g_autoptr (JsonBuilder) b = json_builder_new ();
        g_autoptr (JsonGenerator) gen = json_generator_new ();
        g_autoptr (JsonNode) root = NULL;
        g_autofree char *text = NULL;
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "source");
        json_builder_add_string_value (b, lm.source);
        json_builder_set_member_name (b, "out");
        json_builder_add_string_value (b, out);
        json_builder_set_member_name (b, "width");
        json_builder_add_int_value (b, in->width);
        json_builder_set_member_name (b, "height");
        json_builder_add_int_value (b, in->height);
        json_builder_set_member_name (b, "pad");
        json_builder_add_int_value (b, pad);
        json_builder_set_member_name (b, "grid");
        json_builder_begin_array (b);
        json_builder_add_int_value (b, gh);
        json_builder_add_int_value (b, gw);
        json_builder_end_array (b);
        json_builder_set_member_name (b, "heads");
        json_builder_add_int_value (b, NH);
        json_builder_set_member_name (b, "threshold");
        json_builder_add_double_value (b, threshold);
        json_builder_set_member_name (b, "normalization");
        json_builder_add_string_value (b, in->normalization);
        json_builder_set_member_name (b, "masks");
        json_builder_begin_array (b);
        for (int h = 0; h < NH; h++) {
            json_builder_begin_object (b);
            json_builder_set_member_name (b, "patches");
            json_builder_add_int_value (b, kept[h]);
            json_builder_set_member_name (b, "mass");
            json_builder_add_double_value (b, kept_mass[h]);
            json_builder_end_object (b);
        }
        json_builder_end_array (b);
        json_builder_end_object (b);
        root = json_builder_get_root (b);
        json_generator_set_root (gen, root);
        json_generator_set_pretty (gen, TRUE);
        text = json_generator_to_data (gen, NULL);
        printf ("%s\n", text);
    } else {
        g_autofree char *framed = pad > 0 ? g_strdup_printf (" including a %d-pixel black frame", pad) : g_strdup ("");
        g_autofree char *files = g_build_filename (out, "{image,attn-mean,attn-head*,mask-head*}.png", NULL);
        printf ("attention of %s\n  input %dx%d%s (%dx%d patches of %d), normalised with %s mean/std\n",
                lm.source, in->width, in->height, framed, gw, gh, p, in->normalization);
        for (int h = 0; h < NH; h++)
            printf ("  head %d: %.0f%% of the mass in %d of %d patches (%.1f%% of the image)\n", h,
                    100.0 * kept_mass[h], kept[h], P, 100.0 * kept[h] / P);
        printf ("  wrote %s, attention.npy, masks.npy\n", files);
    }
    return CLI_EXIT_OK;
}
