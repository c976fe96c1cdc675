/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dataset-cifar.c: CIFAR-10 and CIFAR-100 in their binary versions.
 *
 * The format (Krizhevsky's CIFAR page): fixed-size records, no header. CIFAR-10: one
 * label byte then 3072 pixel bytes (a 32 x 32 red plane, then green, then blue, rows
 * top to bottom); train = data_batch_1.bin .. data_batch_5.bin, test = test_batch.bin.
 * CIFAR-100: a coarse label byte (20 superclasses), a fine label byte (100 classes),
 * then the same 3072 bytes; train.bin and test.bin. The files are found in the named
 * folder or in the folder the archive unpacks to (cifar-10-batches-bin,
 * cifar-100-binary). They are mapped, not copied: get_image reads the mapping, which
 * is safe from several threads.
 *
 * A file whose size is not a whole number of records, or whose labels are out of
 * range, is refused with its name, size and the record at fault. Class names come
 * from batches.meta.txt / fine_label_names.txt / coarse_label_names.txt beside the
 * batches when present; otherwise CIFAR-10's published names, or numbers for CIFAR-100.
 *
 * Not here: the Python pickle versions of CIFAR.
 */
#include <string.h>

#include <glib/gstdio.h>

#include "dataset-private.h"
#include "dinolab/error.h"

#define CIFAR_SIDE   32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR10_MAX_BATCHES 5

static const char *const cifar10_names[] = {
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck", NULL
};

typedef struct {
    GMappedFile *mf;
    gsize        first;   /* index of its first record in the split */
    gsize        count;
} CifarFile;

typedef struct {
    CifarFile *files;
    guint      n_files;
    gsize      record;        /* bytes per record: label bytes + 3072 */
    guint      label_bytes;
} CifarPriv;

static void
cifar_priv_free_ (gpointer p)
{
    CifarPriv *priv = p;
    for (guint f = 0; f < priv->n_files; f++)
        if (priv->files[f].mf != NULL)
            g_mapped_file_unref (priv->files[f].mf);
    g_free (priv->files);
    g_free (priv);
}

static gboolean
cifar_get_image_ (DinolabDataset *ds, gsize i, DinolabImage *out, GError **error)
{
    const CifarPriv *priv = ds->priv;
    const CifarFile *file = NULL;
    const guint8 *planes;
    const gsize plane = CIFAR_SIDE * CIFAR_SIDE;

    (void) error;
    for (guint f = 0; f < priv->n_files && file == NULL; f++)
        if (i < priv->files[f].first + priv->files[f].count)
            file = &priv->files[f];
    g_assert (file != NULL);

    planes = (const guint8 *) g_mapped_file_get_contents (file->mf)
             + (i - file->first) * priv->record + priv->label_bytes;
    out->width = CIFAR_SIDE;
    out->height = CIFAR_SIDE;
    out->channels = 3;
    out->pixels = g_malloc (CIFAR_PIXELS);
    // planes: (3, 32, 32) -> pixels: (32, 32, 3)
    for (gsize p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++)
            out->pixels[3 * p + c] = planes[c * plane + p];
    return TRUE;
}

/* Non-empty trimmed lines of a names file if it has at least @n of them (the first
 * @n, as a strv), else NULL. */
static char **
read_names_ (const char *dir, const char *file, guint n)
{
    g_autofree char *path = g_build_filename (dir, file, NULL);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GPtrArray *names;

    if (!g_file_get_contents (path, &text, NULL, NULL) || !g_utf8_validate (text, -1, NULL))
        return NULL;
    lines = g_strsplit (text, "\n", -1);
    names = g_ptr_array_new ();
    for (guint k = 0; lines[k] != NULL && names->len < n; k++) {
        char *line = g_strstrip (lines[k]);
        if (line[0] != '\0')
            g_ptr_array_add (names, g_strdup (line));
    }
    if (names->len < n) {
        g_ptr_array_set_free_func (names, g_free);
        g_ptr_array_unref (names);
        return NULL;
    }
    g_ptr_array_add (names, NULL);
    return (char **) g_ptr_array_free (names, FALSE);
}

/* The batch files of @split in @dir (which must hold them), in order. */
static GPtrArray *
split_files_ (const char *dir, gboolean is100, DinolabSplit split)
{
    GPtrArray *files = g_ptr_array_new_with_free_func (g_free);

    if (is100) {
        g_ptr_array_add (files, g_build_filename (dir, split == DINOLAB_SPLIT_TEST ? "test.bin"
                                                                                 : "train.bin", NULL));
    } else if (split == DINOLAB_SPLIT_TEST) {
        g_ptr_array_add (files, g_build_filename (dir, "test_batch.bin", NULL));
    } else {
        /* data_batch_1.bin, data_batch_2.bin, ... as far as they go */
        for (int b = 1; b <= CIFAR10_MAX_BATCHES; b++) {
            g_autofree char *name = g_strdup_printf ("data_batch_%d.bin", b);
            char *path = g_build_filename (dir, name, NULL);
            if (b > 1 && !g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
                g_free (path);
                break;
            }
            g_ptr_array_add (files, path);
        }
    }
    return files;
}

gboolean
_dinolab_dataset_open_cifar (DinolabDataset *ds, const char *kind, const char *path, GError **error)
{
    g_autoptr(GPtrArray) files = NULL;
    g_autofree char *dir = NULL;
    gboolean is100 = g_str_has_prefix (kind, "cifar100");
    gboolean coarse = g_str_equal (kind, "cifar100-coarse");
    const char *archive_dir = is100 ? "cifar-100-binary" : "cifar-10-batches-bin";
    const char *title = is100 ? "CIFAR-100" : "CIFAR-10";
    guint n_classes = is100 ? (coarse ? 20 : 100) : 10;
    guint label_bytes = is100 ? 2 : 1;
    guint label_at = coarse ? 0 : label_bytes - 1;   /* CIFAR-100: coarse byte, then fine */
    gsize record = label_bytes + CIFAR_PIXELS;
    CifarPriv *priv;
    gsize n = 0;

    g_assert (ds != NULL && kind != NULL && path != NULL);

    if (!g_file_test (path, G_FILE_TEST_IS_DIR)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: %s is not a folder (%s: names the folder of the binary batches)",
                     ds->spec, path, kind);
        return FALSE;
    }
    /* the folder itself, or the one the archive unpacks to inside it */
    for (int k = 0; k < 2 && dir == NULL; k++) {
        g_autofree char *cand = k == 0 ? g_strdup (path) : g_build_filename (path, archive_dir, NULL);
        g_autoptr(GPtrArray) probe = split_files_ (cand, is100, ds->split);
        if (g_file_test (g_ptr_array_index (probe, 0), G_FILE_TEST_IS_REGULAR))
            dir = g_steal_pointer (&cand);
    }
    if (dir == NULL) {
        g_autoptr(GPtrArray) want = split_files_ (path, is100, ds->split);
        g_autofree char *base = g_path_get_basename (g_ptr_array_index (want, 0));
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO,
                     "%s: no %s in %s (nor in %s/%s)", ds->spec, base, path, path, archive_dir);
        return FALSE;
    }
    files = split_files_ (dir, is100, ds->split);

    priv = g_new0 (CifarPriv, 1);
    priv->files = g_new0 (CifarFile, files->len);
    priv->record = record;
    priv->label_bytes = label_bytes;
    ds->priv = priv;                 /* freed with ds on any error below */
    ds->priv_free = cifar_priv_free_;

    for (guint f = 0; f < files->len; f++) {
        const char *file = g_ptr_array_index (files, f);
        GError *local = NULL;
        GMappedFile *mf = g_mapped_file_new (file, FALSE, &local);
        gsize size;

        if (mf == NULL) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot open: %s", file,
                         local->message);
            g_error_free (local);
            return FALSE;
        }
        priv->files[priv->n_files++].mf = mf;
        size = g_mapped_file_get_length (mf);
        if (size == 0 || size % record != 0) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                         "%s: wrong size %" G_GSIZE_FORMAT " bytes: not a whole number of %s "
                         "records of %" G_GSIZE_FORMAT " bytes (%s + 3072 pixels)",
                         file, size, title, record,
                         is100 ? "coarse and fine label bytes" : "1 label byte");
            return FALSE;
        }
        priv->files[f].first = n;
        priv->files[f].count = size / record;
        n += size / record;
    }

    ds->labels = g_new (gint32, n);
    for (guint f = 0; f < priv->n_files; f++) {
        const guint8 *data = (const guint8 *) g_mapped_file_get_contents (priv->files[f].mf);
        for (gsize r = 0; r < priv->files[f].count; r++) {
            guint label = data[r * record + label_at];
            if (label >= n_classes) {
                g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                             "%s: record %" G_GSIZE_FORMAT " has %slabel %u (%s has %u %s)",
                             (const char *) g_ptr_array_index (files, f), r,
                             is100 ? (coarse ? "coarse " : "fine ") : "", label, title, n_classes,
                             coarse ? "superclasses" : "classes");
                return FALSE;
            }
            ds->labels[priv->files[f].first + r] = (gint32) label;
        }
    }

    if (!is100)
        ds->class_names = read_names_ (dir, "batches.meta.txt", 10);
    else
        ds->class_names = read_names_ (dir, coarse ? "coarse_label_names.txt" : "fine_label_names.txt",
                                       n_classes);
    if (ds->class_names == NULL)
        ds->class_names = is100 ? _dinolab_dataset_numbered_names (n_classes)
                                : g_strdupv ((char **) cifar10_names);
    ds->n_classes = n_classes;

    ds->name = g_strdup (coarse ? "CIFAR-100 (coarse labels)" : title);
    ds->n = n;
    ds->width = CIFAR_SIDE;
    ds->height = CIFAR_SIDE;
    ds->channels = 3;
    ds->norm_mode = DATASET_NORM_COMPUTE;
    ds->get_image = cifar_get_image_;
    for (guint f = 0; f < files->len; f++)
        g_ptr_array_add (ds->key_files, g_strdup (g_ptr_array_index (files, f)));
    if (ds->split == DINOLAB_SPLIT_TEST) {
        /* the statistics are the train split's: key on its files too */
        g_autoptr(GPtrArray) train = split_files_ (dir, is100, DINOLAB_SPLIT_TRAIN);
        for (guint f = 0; f < train->len; f++)
            g_ptr_array_add (ds->key_files, g_strdup (g_ptr_array_index (train, f)));
    }
    return TRUE;
}
