/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dataset-private.h: the DinolabDataset struct and what the per-kind files
 * (dataset-idx.c, dataset-cifar.c, dataset-folder.c, dataset-npy.c) share with
 * dataset.c, which parses specs and does everything common (accessors, the
 * description, normalisation statistics and their cache, the evaluation view).
 *
 * An opener fills the struct for one split and sets get_image (and priv/priv_free for
 * what only it needs). After open returns the dataset is read-only, except for the
 * normalisation statistics, which norm_lock guards; that is what makes concurrent
 * get_image / get_eval_view calls safe.
 *
 * Not here: augmentation and batching (augment.c, loader.c).
 */
#pragma once

#include <glib.h>

#include "dinolab/data.h"

G_BEGIN_DECLS

typedef gboolean (*DatasetGetImageFunc) (DinolabDataset *ds,
                                         gsize           i,
                                         DinolabImage   *out,
                                         GError        **error);

/* How the normalisation statistics are found (see dinolab_dataset_get_normalization). */
typedef enum {
    DATASET_NORM_COMPUTE,     /* mean/std over all items of the train split */
    DATASET_NORM_FOLDER,      /* ImageNet's constants, unless the images are all gray:
                               * then computed over a sample of up to 10000 items */
} DatasetNormMode;

struct DinolabDataset {
    char               *spec;          /* as given to dinolab_dataset_open */
    char               *name;          /* "Fashion-MNIST", "CIFAR-10", "image folder pets" */
    char               *description;   /* built by dataset.c after the opener returns */
    DinolabSplit        split;

    gsize               n;             /* items */
    int                 channels;      /* 1 or 3 */
    int                 width, height; /* native size; 0 x 0 when items differ */
    guint               n_classes;     /* 0 when unlabelled */
    char              **class_names;   /* n_classes strings + NULL; NULL when unlabelled */
    gint32             *labels;        /* n labels in [0, n_classes), or NULL */
    guint               n_skipped;     /* unreadable folder files left out */
    char               *first_skipped; /* path of the first of them, or NULL */

    DatasetGetImageFunc get_image;
    gpointer            priv;          /* the opener's own data */
    GDestroyNotify      priv_free;

    /* Normalisation: files whose paths, sizes and mtimes key the cache (absolute
     * paths; the train split's files where the opener can name them). */
    DatasetNormMode     norm_mode;
    GPtrArray          *key_files;     /* of char*, owned */
    char               *key_extra;     /* more key text (a folder's scan summary) or NULL */
    GMutex              norm_lock;
    gboolean            norm_done;
    float               mean[3], std[3];
};

// ----------------------------------------------------------------------------
// openers (one per file). @path is absolute; @kind is the spec's kind word
// ("mnist", "idx", "cifar100-coarse", ...). They fill @ds or return FALSE with @error.

gboolean _dinolab_dataset_open_idx    (DinolabDataset *ds, const char *kind, const char *path,
                                       GError **error);
gboolean _dinolab_dataset_open_cifar  (DinolabDataset *ds, const char *kind, const char *path,
                                       GError **error);
gboolean _dinolab_dataset_open_folder (DinolabDataset *ds, const char *path, GError **error);
gboolean _dinolab_dataset_open_npy    (DinolabDataset *ds, const char *path, GError **error);

// ----------------------------------------------------------------------------
// helpers in dataset.c

/* Class names "0", "1", ... "n-1" (a NULL-terminated strv). */
char   **_dinolab_dataset_numbered_names (guint n);

/* The file of the other split beside @path: the last "train" in its basename is
 * replaced by each of "t10k", "test", "val" for the test split; the last of those by
 * "train" for the train split. Each candidate is tried as named, and with ".gz" added
 * or removed when @try_gz. Returns a new absolute path that exists, or NULL with
 * @error (INVALID_INPUT when the name has no split word, IO when no file exists),
 * naming @path. Returns a copy of @path when it already belongs to @split. */
char    *_dinolab_dataset_split_sibling  (const char   *path,
                                          DinolabSplit  split,
                                          gboolean      try_gz,
                                          const char   *spec,
                                          GError      **error);

/* Replaces the last occurrence of @word (lower case) in the basename of @path, matched
 * case-insensitively, by @by. Returns a new path, or NULL when there is none. */
char    *_dinolab_dataset_replace_in_basename (const char *path,
                                               const char *word,
                                               const char *by);

/* @path if it is a regular file, else (when @try_gz) @path with ".gz" added or
 * removed if that is one; a new string, or NULL. */
char    *_dinolab_dataset_existing_variant    (const char *path,
                                               gboolean    try_gz);

/* "train" or "test". */
const char *_dinolab_split_name (DinolabSplit split);

G_END_DECLS
