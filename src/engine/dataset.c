/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dataset.c: the common half of DinolabDataset: spec parsing and dispatch to the
 * per-kind openers, accessors, the one-line description, the normalisation statistics
 * (computed once, cached as JSON) and the evaluation view.
 *
 * Specs (data.h): "fashion-mnist" alone is Debian's dataset-fashion-mnist; otherwise
 * "<kind>:<path>" with kind one of fashion-mnist, mnist, kmnist, emnist, idx, cifar10,
 * cifar100, cifar100-coarse, folder, npy (case-insensitive). The path may start with
 * "~/"; a relative path is taken from the current directory. Every error names the spec.
 *
 * Not here: reading any particular file format (dataset-*.c), augmentation.
 */
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "dataset-private.h"
#include "dinolab/error.h"
#include "image.h"

/* Where Debian's dataset-fashion-mnist package installs the four gzipped IDX files. */
#define DEBIAN_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Folders: statistics over at most this many items, in a fixed shuffled order, and
 * ImageNet's constants as soon as one of the first FOLDER_GRAY_PROBE is in colour. */
#define FOLDER_NORM_MAX_ITEMS 10000
#define FOLDER_GRAY_PROBE     16
#define FOLDER_NORM_SEED      20210429u

static const float imagenet_mean[3] = { 0.485f, 0.456f, 0.406f };
static const float imagenet_std[3]  = { 0.229f, 0.224f, 0.225f };

#define NORM_CACHE_VERSION 1

// ----------------------------------------------------------------------------
// helpers shared with the openers

const char *
_dinolab_split_name (DinolabSplit split)
{
    return split == DINOLAB_SPLIT_TEST ? "test" : "train";
}

char **
_dinolab_dataset_numbered_names (guint n)
{
    char **names = g_new0 (char *, n + 1);
    for (guint c = 0; c < n; c++)
        names[c] = g_strdup_printf ("%u", c);
    return names;
}

char *
_dinolab_dataset_replace_in_basename (const char *path, const char *word, const char *by)
{
    g_autofree char *dir = g_path_get_dirname (path);
    g_autofree char *base = g_path_get_basename (path);
    g_autofree char *lower = g_ascii_strdown (base, -1);
    g_autofree char *nbase = NULL;
    const char *hit = NULL, *p = lower;

    while ((p = strstr (p, word)) != NULL) {
        hit = p;
        p++;
    }
    if (hit == NULL)
        return NULL;
    nbase = g_strdup_printf ("%.*s%s%s", (int) (hit - lower), base, by, base + (hit - lower) + strlen (word));
    return g_build_filename (dir, nbase, NULL);
}

char *
_dinolab_dataset_existing_variant (const char *path, gboolean try_gz)
{
    if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_strdup (path);
    if (try_gz) {
        char *alt = g_str_has_suffix (path, ".gz") ? g_strndup (path, strlen (path) - 3)
                                                   : g_strconcat (path, ".gz", NULL);
        if (g_file_test (alt, G_FILE_TEST_IS_REGULAR))
            return alt;
        g_free (alt);
    }
    return NULL;
}

static const char *const test_words[] = { "t10k", "test", "val" };

char *
_dinolab_dataset_split_sibling (const char *path, DinolabSplit split, gboolean try_gz,
                                const char *spec, GError **error)
{
    g_autofree char *base = NULL;
    g_autofree char *lower = NULL;
    gboolean is_train, is_test = FALSE;

    g_return_val_if_fail (path != NULL && spec != NULL, NULL);

    base = g_path_get_basename (path);
    lower = g_ascii_strdown (base, -1);
    is_train = strstr (lower, "train") != NULL;
    for (guint k = 0; k < G_N_ELEMENTS (test_words) && !is_train; k++)
        is_test = is_test || strstr (lower, test_words[k]) != NULL;

    /* A name with no split word is the train split (there is no other). */
    if ((split == DINOLAB_SPLIT_TRAIN && !is_test) || (split == DINOLAB_SPLIT_TEST && is_test))
        return g_strdup (path);

    if (split == DINOLAB_SPLIT_TEST) {
        if (!is_train) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: no test split: the name of %s says no split (name the files "
                         "train-... and test-... to have both)", spec, path);
            return NULL;
        }
        for (guint k = 0; k < G_N_ELEMENTS (test_words); k++) {
            g_autofree char *cand = _dinolab_dataset_replace_in_basename (path, "train", test_words[k]);
            char *found = _dinolab_dataset_existing_variant (cand, try_gz);
            if (found != NULL)
                return found;
        }
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO,
                     "%s: no test split beside %s (looked for its name with \"train\" replaced "
                     "by \"t10k\", \"test\" or \"val\")", spec, path);
        return NULL;
    }

    for (guint k = 0; k < G_N_ELEMENTS (test_words); k++) {
        g_autofree char *cand = _dinolab_dataset_replace_in_basename (path, test_words[k], "train");
        char *found = cand != NULL ? _dinolab_dataset_existing_variant (cand, try_gz) : NULL;
        if (found != NULL)
            return found;
    }
    g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO,
                 "%s: no train split beside %s (looked for its name with \"train\" in place of "
                 "\"t10k\", \"test\" or \"val\")", spec, path);
    return NULL;
}

// ----------------------------------------------------------------------------
// open / free

typedef enum {
    OPENER_IDX,
    OPENER_CIFAR,
    OPENER_FOLDER,
    OPENER_NPY,
} Opener;

static const struct {
    const char *kind;
    Opener      opener;
} spec_kinds[] = {
    { "fashion-mnist",   OPENER_IDX },
    { "mnist",           OPENER_IDX },
    { "kmnist",          OPENER_IDX },
    { "emnist",          OPENER_IDX },
    { "idx",             OPENER_IDX },
    { "cifar10",         OPENER_CIFAR },
    { "cifar100",        OPENER_CIFAR },
    { "cifar100-coarse", OPENER_CIFAR },
    { "folder",          OPENER_FOLDER },
    { "npy",             OPENER_NPY },
};

#define SPEC_HELP "fashion-mnist, mnist:DIR, kmnist:DIR, emnist:DIR, fashion-mnist:DIR, " \
                  "idx:FILE, cifar10:DIR, cifar100:DIR, cifar100-coarse:DIR, folder:DIR, npy:FILE"

/* Absolute, canonical form of the path a person typed ("~/x", "data/x", "/a/../b"). */
static char *
resolve_path_ (const char *typed)
{
    if (g_str_equal (typed, "~"))
        return g_strdup (g_get_home_dir ());
    if (g_str_has_prefix (typed, "~/"))
        return g_canonicalize_filename (typed + 2, g_get_home_dir ());
    return g_canonicalize_filename (typed, NULL);
}

static void
build_description_ (DinolabDataset *ds)
{
    GString *s = g_string_new (NULL);

    g_string_append_printf (s, "%s %s, %" G_GSIZE_FORMAT " image%s", ds->name,
                            _dinolab_split_name (ds->split), ds->n, ds->n == 1 ? "" : "s");
    if (ds->width > 0)
        g_string_append_printf (s, " %dx%d", ds->width, ds->height);
    else
        g_string_append (s, " of different sizes");
    if (ds->n_classes > 0)
        g_string_append_printf (s, ", %u classes", ds->n_classes);
    else
        g_string_append (s, ", no labels");
    if (ds->n_skipped > 0)
        g_string_append_printf (s, ", %u unreadable file%s skipped", ds->n_skipped,
                                ds->n_skipped == 1 ? "" : "s");
    ds->description = g_string_free (s, FALSE);
}

DinolabDataset *
dinolab_dataset_open (const char *spec, DinolabSplit split, GError **error)
{
    g_autoptr(DinolabDataset) ds = NULL;
    g_autofree char *trimmed = NULL;
    g_autofree char *kind = NULL;
    g_autofree char *path = NULL;
    const char *colon;
    gboolean ok = FALSE;
    int found = -1;

    g_return_val_if_fail (spec != NULL, NULL);
    g_return_val_if_fail (split == DINOLAB_SPLIT_TRAIN || split == DINOLAB_SPLIT_TEST, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    trimmed = g_strstrip (g_strdup (spec));
    colon = strchr (trimmed, ':');
    if (colon == NULL) {
        kind = g_ascii_strdown (trimmed, -1);
        if (!g_str_equal (kind, "fashion-mnist")) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "dataset '%s': expected one of %s", spec, SPEC_HELP);
            return NULL;
        }
        path = g_strdup (DEBIAN_FASHION_MNIST_DIR);
        if (!g_file_test (path, G_FILE_TEST_IS_DIR)) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO,
                         "dataset '%s': %s does not exist (install Debian's "
                         "dataset-fashion-mnist package, or name a folder: fashion-mnist:DIR)",
                         spec, path);
            return NULL;
        }
    } else {
        kind = g_ascii_strdown (trimmed, colon - trimmed);
        if (colon[1] == '\0') {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "dataset '%s': no path after '%s:'", spec, kind);
            return NULL;
        }
        path = resolve_path_ (colon + 1);
    }

    for (guint k = 0; k < G_N_ELEMENTS (spec_kinds); k++)
        if (g_str_equal (kind, spec_kinds[k].kind))
            found = (int) k;
    if (found < 0) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "dataset '%s': unknown kind '%s' (expected one of %s)", spec, kind, SPEC_HELP);
        return NULL;
    }
    if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO,
                     "dataset '%s': %s: no such file or folder", spec, path);
        return NULL;
    }

    ds = g_new0 (DinolabDataset, 1);
    ds->spec = g_strdup (spec);
    ds->split = split;
    ds->key_files = g_ptr_array_new_with_free_func (g_free);
    g_mutex_init (&ds->norm_lock);

    switch (spec_kinds[found].opener) {
    case OPENER_IDX:
        ok = _dinolab_dataset_open_idx (ds, kind, path, error);
        break;
    case OPENER_CIFAR:
        ok = _dinolab_dataset_open_cifar (ds, kind, path, error);
        break;
    case OPENER_FOLDER:
        ok = _dinolab_dataset_open_folder (ds, path, error);
        break;
    case OPENER_NPY:
        ok = _dinolab_dataset_open_npy (ds, path, error);
        break;
    default:
        g_assert_not_reached ();
    }
    if (!ok)
        return NULL;

    g_assert (ds->n > 0 && ds->get_image != NULL && ds->name != NULL);
    g_assert (ds->channels == 1 || ds->channels == 3);
    g_assert ((ds->n_classes == 0) == (ds->labels == NULL));
    build_description_ (ds);
    return g_steal_pointer (&ds);
}

void
dinolab_dataset_free (DinolabDataset *ds)
{
    if (ds == NULL)
        return;
    if (ds->priv_free != NULL && ds->priv != NULL)
        ds->priv_free (ds->priv);
    g_free (ds->spec);
    g_free (ds->name);
    g_free (ds->description);
    g_strfreev (ds->class_names);
    g_free (ds->labels);
    g_free (ds->first_skipped);
    if (ds->key_files != NULL)
        g_ptr_array_unref (ds->key_files);
    g_free (ds->key_extra);
    g_mutex_clear (&ds->norm_lock);
    g_free (ds);
}

// ----------------------------------------------------------------------------
// accessors

const char *
dinolab_dataset_get_spec (const DinolabDataset *ds)
{
    g_return_val_if_fail (ds != NULL, NULL);
    return ds->spec;
}

const char *
dinolab_dataset_get_description (const DinolabDataset *ds)
{
    g_return_val_if_fail (ds != NULL, NULL);
    return ds->description;
}

gsize
dinolab_dataset_get_size (const DinolabDataset *ds)
{
    g_return_val_if_fail (ds != NULL, 0);
    return ds->n;
}

int
dinolab_dataset_get_channels (const DinolabDataset *ds)
{
    g_return_val_if_fail (ds != NULL, 0);
    return ds->channels;
}

int
dinolab_dataset_get_width (const DinolabDataset *ds)
{
    g_return_val_if_fail (ds != NULL, 0);
    return ds->width;
}

int
dinolab_dataset_get_height (const DinolabDataset *ds)
{
    g_return_val_if_fail (ds != NULL, 0);
    return ds->height;
}

guint
dinolab_dataset_get_n_classes (const DinolabDataset *ds)
{
    g_return_val_if_fail (ds != NULL, 0);
    return ds->n_classes;
}

const char *
dinolab_dataset_get_class_name (const DinolabDataset *ds, guint c)
{
    g_return_val_if_fail (ds != NULL, NULL);
    g_return_val_if_fail (c < ds->n_classes, NULL);
    return ds->class_names[c];
}

guint
dinolab_dataset_get_n_skipped (const DinolabDataset *ds)
{
    g_return_val_if_fail (ds != NULL, 0);
    return ds->n_skipped;
}

const char *
dinolab_dataset_get_first_skipped (const DinolabDataset *ds)
{
    g_return_val_if_fail (ds != NULL, NULL);
    return ds->first_skipped;
}

int
dinolab_dataset_get_label (const DinolabDataset *ds, gsize i)
{
    g_return_val_if_fail (ds != NULL, -1);
    g_return_val_if_fail (i < ds->n, -1);
    return ds->labels != NULL ? ds->labels[i] : -1;
}

gboolean
dinolab_dataset_get_image (DinolabDataset *ds, gsize i, DinolabImage *out, GError **error)
{
    g_return_val_if_fail (ds != NULL, FALSE);
    g_return_val_if_fail (out != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
    g_return_val_if_fail (i < ds->n, FALSE);

    memset (out, 0, sizeof *out);
    return ds->get_image (ds, i, out, error);
}

// ----------------------------------------------------------------------------
// normalisation statistics
//
// Cached in <cache>/normalization/<hash>.json, <cache> = $DINOLAB_CACHE_DIR or
// $XDG_CACHE_HOME/dinolab. The hash is of a key text: version, kind of statistics,
// split, channels, and every key file's absolute path, size and mtime (plus the
// folder scan summary), so a changed file means a new computation. A cache that
// cannot be read or written is ignored: it only saves time.

static char *
norm_key_ (const DinolabDataset *ds)
{
    GString *key = g_string_new (NULL);

    g_string_append_printf (key, "dinolab-normalization %d\nmode %d\nsplit %s\nchannels %d\n",
                            NORM_CACHE_VERSION, (int) ds->norm_mode,
                            _dinolab_split_name (ds->split), ds->channels);
    for (guint k = 0; k < ds->key_files->len; k++) {
        const char *f = g_ptr_array_index (ds->key_files, k);
        GStatBuf sb;
        if (g_stat (f, &sb) == 0)
            g_string_append_printf (key, "file %s %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", f,
                                    (gint64) sb.st_size, (gint64) sb.st_mtime);
        else
            g_string_append_printf (key, "file %s missing\n", f);
    }
    if (ds->key_extra != NULL)
        g_string_append_printf (key, "extra %s\n", ds->key_extra);
    return g_string_free (key, FALSE);
}

static char *
norm_cache_path_ (const char *key)
{
    const char *dir = g_getenv ("DINOLAB_CACHE_DIR");
    g_autofree char *base = NULL;
    g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);
    char name[48];

    if (dir != NULL && dir[0] != '\0')
        base = g_strdup (dir);
    else
        base = g_build_filename (g_get_user_cache_dir (), "dinolab", NULL);
    g_snprintf (name, sizeof name, "%.32s.json", hash);
    return g_build_filename (base, "normalization", name, NULL);
}

static gboolean
read_float_array_ (JsonObject *obj, const char *member, int n, float *out)
{
    JsonNode *node = json_object_get_member (obj, member);
    JsonArray *arr;

    if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
        return FALSE;
    arr = json_node_get_array (node);
    if ((int) json_array_get_length (arr) != n)
        return FALSE;
    for (int c = 0; c < n; c++) {
        JsonNode *e = json_array_get_element (arr, c);
        double v;
        if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_DOUBLE)
            return FALSE;
        v = json_node_get_double (e);
        if (!isfinite (v))
            return FALSE;
        out[c] = (float) v;
    }
    return TRUE;
}

static gboolean
norm_cache_read_ (const char *path, const char *key, int channels, float *mean, float *std)
{
    g_autoptr(JsonParser) parser = json_parser_new ();
    JsonNode *root;
    JsonObject *obj;
    float m[3], s[3];

    if (!json_parser_load_from_file (parser, path, NULL))
        return FALSE;
    root = json_parser_get_root (parser);
    if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
        return FALSE;
    obj = json_node_get_object (root);
    /* The file name is only a hash: check the key itself. */
    if (!json_object_has_member (obj, "key")
        || g_strcmp0 (json_object_get_string_member (obj, "key"), key) != 0)
        return FALSE;
    if (!read_float_array_ (obj, "mean", channels, m) || !read_float_array_ (obj, "std", channels, s))
        return FALSE;
    for (int c = 0; c < channels; c++) {
        if (!(s[c] > 0.0f))
            return FALSE;
        mean[c] = m[c];
        std[c] = s[c];
    }
    return TRUE;
}

static void
norm_cache_write_ (const char *path, const char *key, const DinolabDataset *ds,
                   const float *mean, const float *std, const char *source)
{
    g_autoptr(JsonBuilder) b = json_builder_new ();
    g_autoptr(JsonGenerator) gen = json_generator_new ();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *dir = g_path_get_dirname (path);
    g_autofree char *text = NULL;

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "version");
    json_builder_add_int_value (b, NORM_CACHE_VERSION);
    json_builder_set_member_name (b, "spec");
    json_builder_add_string_value (b, ds->spec);
    json_builder_set_member_name (b, "source");
    json_builder_add_string_value (b, source);
    json_builder_set_member_name (b, "mean");
    json_builder_begin_array (b);
    for (int c = 0; c < ds->channels; c++)
        json_builder_add_double_value (b, mean[c]);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "std");
    json_builder_begin_array (b);
    for (int c = 0; c < ds->channels; c++)
        json_builder_add_double_value (b, std[c]);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "key");
    json_builder_add_string_value (b, key);
    json_builder_end_object (b);

    root = json_builder_get_root (b);
    json_generator_set_root (gen, root);
    json_generator_set_pretty (gen, TRUE);
    text = json_generator_to_data (gen, NULL);
    /* Best effort: a read-only cache only costs a recomputation next time.
     * g_file_set_contents writes a temp file and renames it over the old one. */
    if (g_mkdir_with_parents (dir, 0755) == 0)
        g_file_set_contents (path, text, -1, NULL);
}

/* Exact per-channel sums of 8-bit values and of their squares (a uint64 holds the
 * squares of 2.8e14 pixels). */
typedef struct {
    guint64 sum[3], sumsq[3], count;
} Moments;

static void
moments_add_ (Moments *m, const DinolabImage *img)
{
    gsize npix = (gsize) img->width * img->height;
    int C = img->channels;

    for (gsize p = 0; p < npix; p++)
        for (int c = 0; c < C; c++) {
            guint64 v = img->pixels[p * C + c];
            m->sum[c] += v;
            m->sumsq[c] += v * v;
        }
    m->count += npix;
}

static void
moments_finish_ (const Moments *m, int C, float *mean, float *std)
{
    for (int c = 0; c < C; c++) {
        double mu = (double) m->sum[c] / (double) m->count;
        double var = (double) m->sumsq[c] / (double) m->count - mu * mu;
        double sd = sqrt (var > 0.0 ? var : 0.0) / 255.0;
        mean[c] = (float) (mu / 255.0);
        /* Constant images have no spread: dividing by ~0 would blow every input up. */
        std[c] = sd > 1e-6 ? (float) sd : 1.0f;
    }
}

static gboolean
image_is_gray_ (const DinolabImage *img)
{
    gsize npix = (gsize) img->width * img->height;

    if (img->channels == 1)
        return TRUE;
    for (gsize p = 0; p < npix; p++) {
        const guint8 *px = img->pixels + 3 * p;
        if (px[0] != px[1] || px[0] != px[2])
            return FALSE;
    }
    return TRUE;
}

/* Computes @ds's statistics from its own items. *source gets a short note for the
 * cache file. */
static gboolean
norm_compute_ (DinolabDataset *ds, float *mean, float *std, char **source, GError **error)
{
    Moments m = { { 0 }, { 0 }, 0 };
    g_autofree gsize *order = NULL;
    gsize n_use = ds->n;

    if (ds->norm_mode == DATASET_NORM_FOLDER) {
        /* A fixed shuffle (Fisher-Yates from a fixed seed), so the sample does not
         * depend on how the folder happens to be sorted. */
        GRand *r = g_rand_new_with_seed (FOLDER_NORM_SEED);
        order = g_new (gsize, ds->n);
        for (gsize i = 0; i < ds->n; i++)
            order[i] = i;
        for (gsize i = ds->n - 1; i > 0; i--) {
            gsize j = (gsize) (g_rand_double (r) * (double) (i + 1));
            gsize t = order[i];
            if (j > i)
                j = i;
            order[i] = order[j];
            order[j] = t;
        }
        g_rand_free (r);
        n_use = MIN (ds->n, (gsize) FOLDER_NORM_MAX_ITEMS);
    }

    for (gsize k = 0; k < n_use; k++) {
        g_auto(DinolabImage) img = { 0 };
        gsize i = order != NULL ? order[k] : k;
        if (!dinolab_dataset_get_image (ds, i, &img, error))
            return FALSE;
        if (ds->norm_mode == DATASET_NORM_FOLDER && k < FOLDER_GRAY_PROBE && !image_is_gray_ (&img)) {
            for (int c = 0; c < 3; c++) {
                mean[c] = imagenet_mean[c];
                std[c] = imagenet_std[c];
            }
            *source = g_strdup ("ImageNet constants (colour images)");
            return TRUE;
        }
        moments_add_ (&m, &img);
    }
    moments_finish_ (&m, ds->channels, mean, std);
    *source = g_strdup_printf ("computed over %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                               " %s items", n_use, ds->n, _dinolab_split_name (ds->split));
    return TRUE;
}

/* Fills ds->mean/std. Called with norm_lock held. */
static gboolean
norm_resolve_ (DinolabDataset *ds, GError **error)
{
    g_autofree char *key = norm_key_ (ds);
    g_autofree char *path = norm_cache_path_ (key);
    g_autofree char *source = NULL;
    float mean[3], std[3];

    if (norm_cache_read_ (path, key, ds->channels, mean, std))
        goto done;

    /* Statistics are the train split's. The test split borrows them from a train
     * split opened for the purpose (which caches them under its own key as well);
     * when there is no usable train split, the test split's own stand in. */
    if (ds->split == DINOLAB_SPLIT_TEST) {
        g_autoptr(DinolabDataset) train = dinolab_dataset_open (ds->spec, DINOLAB_SPLIT_TRAIN, NULL);
        if (train != NULL && train->channels == ds->channels
            && dinolab_dataset_get_normalization (train, mean, std, NULL))
            source = g_strdup ("from the train split");
    }
    if (source == NULL && !norm_compute_ (ds, mean, std, &source, error))
        return FALSE;
    norm_cache_write_ (path, key, ds, mean, std, source);

done:
    memcpy (ds->mean, mean, sizeof mean);
    memcpy (ds->std, std, sizeof std);
    ds->norm_done = TRUE;
    return TRUE;
}

gboolean
dinolab_dataset_get_normalization (DinolabDataset *ds, float *mean, float *std, GError **error)
{
    gboolean ok = TRUE;

    g_return_val_if_fail (ds != NULL, FALSE);
    g_return_val_if_fail (mean != NULL && std != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    g_mutex_lock (&ds->norm_lock);
    if (!ds->norm_done)
        ok = norm_resolve_ (ds, error);
    if (ok) {
        memcpy (mean, ds->mean, (size_t) ds->channels * sizeof (float));
        memcpy (std, ds->std, (size_t) ds->channels * sizeof (float));
    }
    g_mutex_unlock (&ds->norm_lock);
    return ok;
}

// ----------------------------------------------------------------------------
// evaluation view

gboolean
dinolab_dataset_get_eval_view (DinolabDataset *ds, gsize i, int size, float *out, GError **error)
{
    g_auto(DinolabImage) img = { 0 };
    g_autofree guint8 *crop = NULL;
    g_autofree float *tmp = NULL;
    float mean[3], std[3];
    int W, H, C, new_w, new_h, left, top;
    gsize plane;

    g_return_val_if_fail (ds != NULL, FALSE);
    g_return_val_if_fail (out != NULL, FALSE);
    g_return_val_if_fail (size > 0, FALSE);
    g_return_val_if_fail (i < ds->n, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    if (!dinolab_dataset_get_normalization (ds, mean, std, error))
        return FALSE;
    if (!dinolab_dataset_get_image (ds, i, &img, error))
        return FALSE;
    W = img.width;
    H = img.height;
    C = img.channels;

    /* torchvision Resize(size): the shorter side becomes size, the longer one
     * int(size * long / short); then CenterCrop(size): offset int(round(d / 2)),
     * where Python's round takes halves to even, as rint() does by default. */
    if (W <= H) {
        new_w = size;
        new_h = (int) ((double) size * H / W);
    } else {
        new_h = size;
        new_w = (int) ((double) size * W / H);
    }
    left = (int) rint ((new_w - size) / 2.0);
    top = (int) rint ((new_h - size) / 2.0);

    plane = (gsize) size * size;
    crop = g_malloc (plane * C);
    tmp = g_malloc ((gsize) H * size * C * sizeof (float));
    image_resize_bicubic_window (crop, left, top, size, size, new_w, new_h,
                                 img.pixels, W, H, C, 0, 0, W, H, tmp);

    // out: (C, size, size) = (x / 255 - mean[c]) / std[c]  (ToTensor, then Normalize)
    for (gsize p = 0; p < plane; p++)
        for (int c = 0; c < C; c++)
            out[c * plane + p] = ((float) crop[p * C + c] / 255.0f - mean[c]) / std[c];
    return TRUE;
}
