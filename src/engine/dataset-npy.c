/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dataset-npy.c: images from a NumPy .npy array, labels from a second one.
 *
 * Images: uint8, N x H x W (one channel) or N x H x W x C with C = 1 or 3, read with
 * dinolab_npy_read (io.h). N x C x H x W (PyTorch's layout: C = 1 or 3 second and the
 * last dim not 1 or 3) is accepted too and transposed when an item is read.
 * Labels: the file beside the images named with "labels" in place of "images"
 * (train_images.npy -> train_labels.npy), or labels.npy when the images' name does not
 * say "images"; optional. io.h reads only float32 and uint8, so the labels have their
 * own small reader here for the integer types numpy writes: little-endian or
 * single-byte signed and unsigned integers of 1, 2, 4 or 8 bytes ('|u1', '<i4', '<i8',
 * ...), shape (N,) or (N, 1). Labels must lie in [0, 2^31); class names are numbers,
 * classes = largest label + 1.
 * Splits: the file named in the spec is the train split unless its name says "test",
 * "t10k" or "val"; the other split is the file with the split word swapped
 * (train_images.npy <-> test_images.npy).
 *
 * Not here: .npz archives, float images, memory mapping (the array is read whole).
 */
#include <string.h>

#include "dataset-private.h"
#include "dinolab/error.h"
#include "dinolab/io.h"

typedef struct {
    DinolabArray *array;   /* uint8 images */
    gboolean      planar;  /* N x C x H x W rather than N x H x W x C */
} NpyPriv;

static void
npy_priv_free_ (gpointer p)
{
    NpyPriv *priv = p;
    dinolab_array_free (priv->array);
    g_free (priv);
}

static gboolean
npy_get_image_ (DinolabDataset *ds, gsize i, DinolabImage *out, GError **error)
{
    const NpyPriv *priv = ds->priv;
    int C = ds->channels;
    gsize plane = (gsize) ds->width * ds->height;
    const guint8 *src = (const guint8 *) priv->array->data + i * plane * C;

    (void) error;
    out->width = ds->width;
    out->height = ds->height;
    out->channels = C;
    if (!priv->planar) {
        out->pixels = g_memdup2 (src, plane * C);
        return TRUE;
    }
    out->pixels = g_malloc (plane * C);
    // src: (C, H, W) -> pixels: (H, W, C)
    for (gsize p = 0; p < plane; p++)
        for (int c = 0; c < C; c++)
            out->pixels[p * C + c] = src[c * plane + p];
    return TRUE;
}

// ----------------------------------------------------------------------------
// integer labels reader

/* Finds "key" (quoted with ' or ") in the header dict and returns a pointer just
 * past the ':' that follows, spaces skipped; NULL when absent. */
static const char *
header_value_ (const char *header, const char *key)
{
    g_autofree char *k1 = g_strdup_printf ("'%s'", key);
    g_autofree char *k2 = g_strdup_printf ("\"%s\"", key);
    const char *p = strstr (header, k1);

    if (p == NULL)
        p = strstr (header, k2);
    if (p == NULL)
        return NULL;
    p += strlen (k1);
    while (*p == ' ')
        p++;
    if (*p != ':')
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

/* Reads a 1-D integer .npy file into gint32 labels. Returns NULL with @error naming
 * @path: CORRUPT for a malformed or truncated file, INVALID_INPUT for a dtype or shape
 * we do not take or a label out of range. */
static gint32 *
read_labels_ (const char *path, gsize *n_out, GError **error)
{
    g_autofree char *contents = NULL;
    g_autofree char *header = NULL;
    g_autofree char *descr = NULL;
    gsize len = 0, hlen, off, n, elsize;
    const char *p;
    gint64 dims[2] = { 0, 0 };
    int ndim = 0;
    gboolean is_signed;
    gint32 *labels;
    GError *local = NULL;

    if (!g_file_get_contents (path, &contents, &len, &local)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot read: %s", path,
                     local->message);
        g_error_free (local);
        return NULL;
    }
    if (len < 10 || memcmp (contents, "\x93NUMPY", 6) != 0 || contents[6] < 1 || contents[6] > 3) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT, "%s: not a .npy file", path);
        return NULL;
    }
    if (contents[6] == 1) {
        hlen = (guint8) contents[8] | ((gsize) (guint8) contents[9] << 8);
        off = 10;
    } else {
        if (len < 12) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT, "%s: truncated header", path);
            return NULL;
        }
        hlen = (guint8) contents[8] | ((gsize) (guint8) contents[9] << 8)
               | ((gsize) (guint8) contents[10] << 16) | ((gsize) (guint8) contents[11] << 24);
        off = 12;
    }
    if (hlen > len - off) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT, "%s: truncated header", path);
        return NULL;
    }
    header = g_strndup (contents + off, hlen);
    off += hlen;

    p = header_value_ (header, "descr");
    if (p != NULL && (*p == '\'' || *p == '"')) {
        const char *end = strchr (p + 1, *p);
        if (end != NULL)
            descr = g_strndup (p + 1, end - p - 1);
    }
    if (descr == NULL) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT, "%s: no dtype ('descr') in the header",
                     path);
        return NULL;
    }
    /* '<i8', '|u1', '=i4' ...: little-endian (or byte-sized) integers only */
    if (strlen (descr) != 3 || !strchr ("<|=", descr[0]) || !strchr ("iu", descr[1])
        || !strchr ("1248", descr[2])) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: labels must be little-endian integers ('|u1', '<i4', '<i8', ...), "
                     "found dtype '%s'", path, descr);
        return NULL;
    }
    is_signed = descr[1] == 'i';
    elsize = (gsize) (descr[2] - '0');

    p = header_value_ (header, "shape");
    if (p == NULL || *p != '(') {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT, "%s: no shape in the header", path);
        return NULL;
    }
    p++;
    for (;;) {
        char *end;
        gint64 v;
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            break;
        v = g_ascii_strtoll (p, &end, 10);
        if (end == p || v < 0 || ndim == 2) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: labels must have shape (N,) or (N, 1), found (%s", path,
                         header_value_ (header, "shape") + 1);
            return NULL;
        }
        dims[ndim++] = v;
        p = end;
    }
    if (ndim == 0 || (ndim == 2 && dims[1] != 1)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: labels must have shape (N,) or (N, 1)", path);
        return NULL;
    }
    n = (gsize) dims[0];
    if (n > (len - off) / elsize || (len - off) != n * elsize) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: %" G_GSIZE_FORMAT " data bytes, expected %" G_GSIZE_FORMAT
                     " for %" G_GSIZE_FORMAT " labels of %" G_GSIZE_FORMAT " bytes",
                     path, len - off, n * elsize, n, elsize);
        return NULL;
    }

    labels = g_new (gint32, MAX (n, 1));
    for (gsize i = 0; i < n; i++) {
        const guint8 *b = (const guint8 *) contents + off + i * elsize;
        guint64 u = 0;
        gint64 v;
        for (gsize k = 0; k < elsize; k++)
            u |= (guint64) b[k] << (8 * k);
        if (is_signed && elsize < 8 && (u >> (8 * elsize - 1)) & 1)
            u |= ~G_GUINT64_CONSTANT (0) << (8 * elsize);   /* sign-extend */
        v = (gint64) u;
        if ((is_signed && v < 0) || u > (guint64) G_MAXINT32) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: label %" G_GSIZE_FORMAT " is %" G_GINT64_FORMAT
                         " (labels must be class numbers from 0)",
                         path, i, is_signed ? v : (gint64) MIN (u, (guint64) G_MAXINT64));
            g_free (labels);
            return NULL;
        }
        labels[i] = (gint32) v;
    }
    *n_out = n;
    return labels;
}

// ----------------------------------------------------------------------------
// open

gboolean
_dinolab_dataset_open_npy (DinolabDataset *ds, const char *path, GError **error)
{
    g_autofree char *images = NULL;
    g_autofree char *labels_file = NULL;
    g_autofree char *base = NULL;
    g_autofree char *shape = NULL;
    DinolabArray *a;
    NpyPriv *priv;
    gint64 N, H, W, C;
    gboolean planar = FALSE;

    g_assert (ds != NULL && path != NULL);

    if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: %s is not a file (npy: names an images .npy file)", ds->spec, path);
        return FALSE;
    }
    images = _dinolab_dataset_split_sibling (path, ds->split, FALSE, ds->spec, error);
    if (images == NULL)
        return FALSE;

    a = dinolab_npy_read (images, error);
    if (a == NULL)
        return FALSE;
    priv = g_new0 (NpyPriv, 1);
    priv->array = a;
    ds->priv = priv;   /* freed with ds on any error below */
    ds->priv_free = npy_priv_free_;

    shape = dinolab_shape_to_string (a->ndim, a->shape);
    if (a->dtype != DINOLAB_DTYPE_U8) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: images must be uint8 ('|u1'), found float32 %s (scale them to 0..255 "
                     "and save as uint8)", images, shape);
        return FALSE;
    }
    N = a->shape[0];
    H = a->shape[1];
    W = a->shape[2];
    C = 1;
    if (a->ndim == 4) {
        if (a->shape[3] == 1 || a->shape[3] == 3) {
            C = a->shape[3];
        } else if (a->shape[1] == 1 || a->shape[1] == 3) {
            planar = TRUE;
            C = a->shape[1];
            H = a->shape[2];
            W = a->shape[3];
        } else {
            C = 0;
        }
    }
    if ((a->ndim != 3 && a->ndim != 4) || C == 0 || N < 1 || H < 1 || W < 1
        || H > G_MAXINT / 4 || W > G_MAXINT / 4) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: images: expected N x H x W or N x H x W x C with C 1 or 3, found %s",
                     images, shape);
        return FALSE;
    }
    priv->planar = planar;

    /* labels beside: *images* -> *labels*, else labels.npy */
    {
        g_autofree char *cand = _dinolab_dataset_replace_in_basename (images, "images", "labels");
        if (cand == NULL) {
            g_autofree char *dir = g_path_get_dirname (images);
            cand = g_build_filename (dir, "labels.npy", NULL);
        }
        if (g_file_test (cand, G_FILE_TEST_IS_REGULAR))
            labels_file = g_steal_pointer (&cand);
    }
    if (labels_file != NULL) {
        gsize n_labels = 0;
        gint32 max_label = 0;
        ds->labels = read_labels_ (labels_file, &n_labels, error);
        if (ds->labels == NULL)
            return FALSE;
        if (n_labels != (gsize) N) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s holds %" G_GINT64_FORMAT " images but %s holds %" G_GSIZE_FORMAT
                         " labels", images, N, labels_file, n_labels);
            return FALSE;
        }
        for (gsize i = 0; i < n_labels; i++)
            max_label = MAX (max_label, ds->labels[i]);
        if (max_label >= 100000) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: largest label is %d: too many classes (at most 100000)",
                         labels_file, max_label);
            return FALSE;
        }
        ds->n_classes = (guint) max_label + 1;
        ds->class_names = _dinolab_dataset_numbered_names (ds->n_classes);
    }

    base = g_path_get_basename (images);
    ds->name = g_strdup_printf ("npy %s", base);
    ds->n = (gsize) N;
    ds->width = (int) W;
    ds->height = (int) H;
    ds->channels = (int) C;
    ds->norm_mode = DATASET_NORM_COMPUTE;
    ds->get_image = npy_get_image_;
    g_ptr_array_add (ds->key_files, g_strdup (images));
    if (ds->split == DINOLAB_SPLIT_TEST) {
        char *train = _dinolab_dataset_split_sibling (images, DINOLAB_SPLIT_TRAIN, FALSE, ds->spec, NULL);
        if (train != NULL)
            g_ptr_array_add (ds->key_files, train);
    }
    return TRUE;
}
