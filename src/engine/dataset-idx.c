/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dataset-idx.c: IDX datasets (MNIST, Fashion-MNIST, KMNIST, EMNIST), raw or gzip.
 *
 * The IDX format (LeCun's MNIST page): a big-endian magic 0x000008NN (0x08 = unsigned
 * bytes, NN = number of dims), NN big-endian uint32 dims, then the data. Images files
 * are 0x00000803 (N x rows x cols), labels files 0x00000801 (N). We check the magic,
 * that the data length is exactly what the header says, and that images and labels
 * agree on N. gzip is recognised by its first two bytes (1f 8b), not by the name, and
 * decompressed with GIO's GZlibDecompressor (no zlib headers needed). The split is
 * loaded whole into memory (Fashion-MNIST train: 47 MB).
 *
 * Files are found by the standard names: "train-images-idx3-ubyte[.gz]" in a folder
 * (or its raw/ or gzip/ subfolder, as torchvision and the EMNIST archive lay them
 * out), the test split by "t10k" or "test" in place of "train", labels by "labels-idx1"
 * in place of "images-idx3". EMNIST files are "emnist-<set>-train-images-idx3-ubyte";
 * a folder with several sets uses "balanced" (else it must hold just one). EMNIST
 * images are stored transposed; we transpose them back so letters stand upright.
 * Class names: the known datasets' own; EMNIST's from "<set>-mapping.txt" when present;
 * otherwise numbers. An idx: spec guesses the dataset from its path ("fashion",
 * "kmnist", "emnist", "mnist", in that order), else names classes by number.
 *
 * Not here: other IDX element types (int, float), which no image dataset uses.
 */
#include <stdio.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "dataset-private.h"
#include "dinolab/error.h"

/* Refuse headers that claim more than this much data (a corrupt header, not a
 * dataset: EMNIST byclass, the largest, is 550 MB). */
#define IDX_MAX_BYTES (G_GUINT64_CONSTANT (1) << 34)

typedef enum {
    FAMILY_GENERIC,
    FAMILY_MNIST,
    FAMILY_FASHION,
    FAMILY_KMNIST,
    FAMILY_EMNIST,
} Family;

static const char *const fashion_names[] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot", NULL
};
/* KMNIST's ten Kuzushiji hiragana, romanised as in its classmap. */
static const char *const kmnist_names[] = {
    "o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo", NULL
};

typedef struct {
    guint8 *pixels;   /* n x rows x cols */
} IdxPriv;

static void
idx_priv_free_ (gpointer p)
{
    IdxPriv *priv = p;
    g_free (priv->pixels);
    g_free (priv);
}

static gboolean
idx_get_image_ (DinolabDataset *ds, gsize i, DinolabImage *out, GError **error)
{
    const IdxPriv *priv = ds->priv;
    gsize len = (gsize) ds->width * ds->height;

    (void) error;
    out->width = ds->width;
    out->height = ds->height;
    out->channels = 1;
    out->pixels = g_memdup2 (priv->pixels + i * len, len);
    return TRUE;
}

// ----------------------------------------------------------------------------
// reading one IDX file

static guint32
be32_ (const guint8 *p)
{
    return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static char *
dims_to_string_ (const guint32 *dims, int ndims)
{
    GString *s = g_string_new (NULL);
    for (int d = 0; d < ndims; d++)
        g_string_append_printf (s, d == 0 ? "%u" : " x %u", dims[d]);
    return g_string_free (s, FALSE);
}

/* Reads all of @len bytes; FALSE with @error (CORRUPT for bad gzip data, IO
 * otherwise) on a stream error. *got says how many came before the end. */
static gboolean
read_all_ (GInputStream *in, void *buf, gsize len, gsize *got, gboolean gz, const char *path,
           GError **error)
{
    GError *local = NULL;

    if (!g_input_stream_read_all (in, buf, len, got, NULL, &local)) {
        g_set_error (error, DINOLAB_ERROR, gz ? DINOLAB_ERROR_CORRUPT : DINOLAB_ERROR_IO,
                     gz ? "%s: corrupt or truncated gzip data: %s" : "%s: read error: %s",
                     path, local->message);
        g_error_free (local);
        return FALSE;
    }
    return TRUE;
}

/* Reads the IDX file @path (raw or gzip) of unsigned bytes with @want_ndims dims
 * (3: images, 1: labels). Returns its data (g_free) and fills @dims, or NULL with
 * @error: IO when unreadable, CORRUPT for a wrong magic, a length that does not match
 * the header, or bad gzip data. */
static guint8 *
idx_read_ (const char *path, int want_ndims, guint32 *dims, GError **error)
{
    g_autoptr(GFile) file = g_file_new_for_path (path);
    g_autoptr(GFileInputStream) fin = NULL;
    g_autoptr(GFileInfo) info = NULL;
    g_autoptr(GInputStream) in = NULL;
    g_autofree guint8 *data = NULL;
    g_autofree char *dims_str = NULL;
    GError *local = NULL;
    guint8 head[4 * 4], extra;
    guint32 magic, want_magic = 0x00000800u | (guint32) want_ndims;
    guint64 n_bytes = 1, header_bytes = 4 + 4 * (guint64) want_ndims;
    goffset file_size = -1;
    gsize got = 0;
    gboolean gz;

    g_assert (want_ndims >= 1 && want_ndims <= 3);

    fin = g_file_read (file, NULL, &local);
    if (fin == NULL) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot open: %s", path,
                     local->message);
        g_error_free (local);
        return NULL;
    }
    info = g_file_input_stream_query_info (fin, G_FILE_ATTRIBUTE_STANDARD_SIZE, NULL, NULL);
    if (info != NULL)
        file_size = g_file_info_get_size (info);

    if (!read_all_ (G_INPUT_STREAM (fin), head, 2, &got, FALSE, path, error))
        return NULL;
    gz = got == 2 && head[0] == 0x1f && head[1] == 0x8b;
    if (!g_seekable_seek (G_SEEKABLE (fin), 0, G_SEEK_SET, NULL, &local)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot seek: %s", path,
                     local->message);
        g_error_free (local);
        return NULL;
    }
    if (gz) {
        g_autoptr(GZlibDecompressor) dec = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
        in = g_converter_input_stream_new (G_INPUT_STREAM (fin), G_CONVERTER (dec));
    } else {
        in = g_object_ref (G_INPUT_STREAM (fin));
    }

    if (!read_all_ (in, head, header_bytes, &got, gz, path, error))
        return NULL;
    magic = got >= 4 ? be32_ (head) : 0;
    if (got < 4 || magic != want_magic) {
        if (got < 4)
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                         "%s: not an IDX file: only %" G_GSIZE_FORMAT " bytes", path, got);
        else
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                         "%s: bad magic number 0x%08x (expected 0x%08x, an IDX %s file of "
                         "unsigned bytes)", path, magic, want_magic,
                         want_ndims == 3 ? "images" : "labels");
        return NULL;
    }
    if (got < header_bytes) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: truncated header (%" G_GSIZE_FORMAT " of %" G_GUINT64_FORMAT " bytes)",
                     path, got, header_bytes);
        return NULL;
    }
    for (int d = 0; d < want_ndims; d++) {
        dims[d] = be32_ (head + 4 + 4 * d);
        n_bytes *= dims[d];
        if (n_bytes > IDX_MAX_BYTES)
            break;
    }
    dims_str = dims_to_string_ (dims, want_ndims);
    if (n_bytes == 0 || n_bytes > IDX_MAX_BYTES) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: implausible dimensions %s in the header", path, dims_str);
        return NULL;
    }
    /* A raw file's length is known before reading anything. */
    if (!gz && file_size >= 0 && (guint64) file_size != header_bytes + n_bytes) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: length %" G_GINT64_FORMAT " bytes does not match its header (%s = %"
                     G_GUINT64_FORMAT " data bytes after a %" G_GUINT64_FORMAT "-byte header)",
                     path, (gint64) file_size, dims_str, n_bytes, header_bytes);
        return NULL;
    }

    data = g_try_malloc ((gsize) n_bytes);
    if (data == NULL) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO,
                     "%s: out of memory for %s = %" G_GUINT64_FORMAT " bytes", path, dims_str, n_bytes);
        return NULL;
    }
    if (!read_all_ (in, data, (gsize) n_bytes, &got, gz, path, error))
        return NULL;
    if (got < n_bytes) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: length does not match its header: %s = %" G_GUINT64_FORMAT
                     " data bytes expected, the file holds %" G_GSIZE_FORMAT,
                     path, dims_str, n_bytes, got);
        return NULL;
    }
    if (gz) {
        if (!read_all_ (in, &extra, 1, &got, gz, path, error))
            return NULL;
        if (got != 0) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                         "%s: length does not match its header: data go on past %s = %"
                         G_GUINT64_FORMAT " bytes", path, dims_str, n_bytes);
            return NULL;
        }
    }
    return g_steal_pointer (&data);
}

// ----------------------------------------------------------------------------
// finding the files

/* The train images file of an IDX folder, or NULL with @error naming the folder. */
static char *
find_train_images_ (const char *dir, Family family, const char *spec, GError **error)
{
    static const char *const subdirs[] = { "", "raw", "gzip" };

    for (guint k = 0; k < G_N_ELEMENTS (subdirs); k++) {
        g_autofree char *sub = g_build_filename (dir, subdirs[k], NULL);
        g_autoptr(GDir) d = NULL;
        g_autoptr(GPtrArray) emnist = NULL;
        const char *name;

        if (!g_file_test (sub, G_FILE_TEST_IS_DIR))
            continue;
        if (family != FAMILY_EMNIST) {
            g_autofree char *std_name = g_build_filename (sub, "train-images-idx3-ubyte", NULL);
            char *found = _dinolab_dataset_existing_variant (std_name, TRUE);
            if (found != NULL)
                return found;
            continue;
        }

        /* EMNIST: emnist-<set>-train-images-idx3-ubyte[.gz], several sets per folder. */
        d = g_dir_open (sub, 0, NULL);
        if (d == NULL)
            continue;
        emnist = g_ptr_array_new_with_free_func (g_free);
        while ((name = g_dir_read_name (d)) != NULL)
            if (g_str_has_prefix (name, "emnist-")
                && (g_str_has_suffix (name, "-train-images-idx3-ubyte")
                    || g_str_has_suffix (name, "-train-images-idx3-ubyte.gz")))
                g_ptr_array_add (emnist, g_strdup (name));
        for (guint j = 0; j < emnist->len; j++)
            if (g_str_has_prefix (g_ptr_array_index (emnist, j), "emnist-balanced-"))
                return g_build_filename (sub, g_ptr_array_index (emnist, j), NULL);
        if (emnist->len == 1)
            return g_build_filename (sub, g_ptr_array_index (emnist, 0), NULL);
        if (emnist->len > 1) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: %s holds several EMNIST sets and no 'balanced' one; name one with "
                         "idx:%s/emnist-<set>-train-images-idx3-ubyte.gz", spec, sub, sub);
            return NULL;
        }
    }
    g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO,
                 "%s: no %strain-images-idx3-ubyte[.gz] in %s", spec,
                 family == FAMILY_EMNIST ? "emnist-<set>-" : "", dir);
    return NULL;
}

/* The labels file beside an images file, or NULL when there is none. */
static char *
labels_path_ (const char *images)
{
    g_autofree char *a = _dinolab_dataset_replace_in_basename (images, "images", "labels");
    g_autofree char *b = NULL;

    if (a == NULL)
        return NULL;
    b = _dinolab_dataset_replace_in_basename (a, "idx3", "idx1");
    return _dinolab_dataset_existing_variant (b != NULL ? b : a, TRUE);
}

/* EMNIST's "<prefix>-mapping.txt": lines "label ascii [ascii]". Returns names for
 * labels 0..max (numbers where the file says nothing) or NULL if there is no file. */
static char **
emnist_names_ (const char *images, guint *n_out)
{
    g_autofree char *dir = g_path_get_dirname (images);
    g_autofree char *base = g_path_get_basename (images);
    g_autofree char *mapping = NULL;
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    char *cut = strstr (base, "-train-");
    char **names;
    guint n = 0;

    if (cut == NULL)
        cut = strstr (base, "-test-");
    if (cut == NULL)
        return NULL;
    *cut = '\0';
    mapping = g_strdup_printf ("%s/%s-mapping.txt", dir, base);
    if (!g_file_get_contents (mapping, &text, NULL, NULL))
        return NULL;
    lines = g_strsplit (text, "\n", -1);
    for (guint k = 0; lines[k] != NULL; k++) {
        guint label, code;
        if (sscanf (lines[k], "%u %u", &label, &code) == 2 && label < 256)
            n = MAX (n, label + 1);
    }
    if (n == 0)
        return NULL;
    names = _dinolab_dataset_numbered_names (n);
    for (guint k = 0; lines[k] != NULL; k++) {
        guint label, code;
        char buf[8];
        if (sscanf (lines[k], "%u %u", &label, &code) == 2 && label < n && code > 32
            && g_unichar_validate (code)) {
            buf[g_unichar_to_utf8 (code, buf)] = '\0';
            g_free (names[label]);
            names[label] = g_strdup (buf);
        }
    }
    *n_out = n;
    return names;
}

static Family
family_from_kind_ (const char *kind, const char *path)
{
    g_autofree char *lower = NULL;

    if (g_str_equal (kind, "fashion-mnist"))
        return FAMILY_FASHION;
    if (g_str_equal (kind, "mnist"))
        return FAMILY_MNIST;
    if (g_str_equal (kind, "kmnist"))
        return FAMILY_KMNIST;
    if (g_str_equal (kind, "emnist"))
        return FAMILY_EMNIST;
    /* idx: a guess from the path, most specific first. */
    lower = g_ascii_strdown (path, -1);
    if (strstr (lower, "fashion") != NULL)
        return FAMILY_FASHION;
    if (strstr (lower, "kmnist") != NULL)
        return FAMILY_KMNIST;
    if (strstr (lower, "emnist") != NULL)
        return FAMILY_EMNIST;
    if (strstr (lower, "mnist") != NULL)
        return FAMILY_MNIST;
    return FAMILY_GENERIC;
}

// ----------------------------------------------------------------------------
// open

gboolean
_dinolab_dataset_open_idx (DinolabDataset *ds, const char *kind, const char *path, GError **error)
{
    g_autofree char *train_images = NULL;
    g_autofree char *images = NULL;
    g_autofree char *labels_file = NULL;
    g_autofree guint8 *pixels = NULL;
    g_autofree guint8 *labels = NULL;
    Family family = family_from_kind_ (kind, path);
    guint32 idims[3], ldims[1];
    guint n_classes = 0;
    char **names = NULL;
    IdxPriv *priv;

    g_assert (ds != NULL && kind != NULL && path != NULL);

    if (g_str_equal (kind, "idx")) {
        if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: %s is not a file (idx: names an images file such as "
                         "train-images-idx3-ubyte.gz)", ds->spec, path);
            return FALSE;
        }
        train_images = g_strdup (path);
    } else {
        if (!g_file_test (path, G_FILE_TEST_IS_DIR)) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: %s is not a folder (%s: names the folder of the four IDX files)",
                         ds->spec, path, kind);
            return FALSE;
        }
        train_images = find_train_images_ (path, family, ds->spec, error);
        if (train_images == NULL)
            return FALSE;
    }
    images = _dinolab_dataset_split_sibling (train_images, ds->split, TRUE, ds->spec, error);
    if (images == NULL)
        return FALSE;

    pixels = idx_read_ (images, 3, idims, error);
    if (pixels == NULL)
        return FALSE;
    labels_file = labels_path_ (images);
    if (labels_file != NULL) {
        labels = idx_read_ (labels_file, 1, ldims, error);
        if (labels == NULL)
            return FALSE;
        if (ldims[0] != idims[0]) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                         "%s holds %u images but %s holds %u labels", images, idims[0],
                         labels_file, ldims[0]);
            return FALSE;
        }
    }

    /* EMNIST is stored transposed (column-major images): flip it back. */
    if (family == FAMILY_EMNIST) {
        gsize len = (gsize) idims[1] * idims[2];
        g_autofree guint8 *t = g_malloc (len);
        for (guint32 i = 0; i < idims[0]; i++) {
            guint8 *img = pixels + i * len;
            for (guint32 y = 0; y < idims[2]; y++)
                for (guint32 x = 0; x < idims[1]; x++)
                    t[y * idims[1] + x] = img[x * idims[2] + y];
            memcpy (img, t, len);
        }
        /* rows and cols trade places */
        {
            guint32 rows = idims[1];
            idims[1] = idims[2];
            idims[2] = rows;
        }
    }

    if (labels != NULL) {
        guint max_label = 0;
        for (guint32 i = 0; i < idims[0]; i++)
            max_label = MAX (max_label, labels[i]);
        switch (family) {
        case FAMILY_FASHION:
            names = g_strdupv ((char **) fashion_names);
            break;
        case FAMILY_KMNIST:
            names = g_strdupv ((char **) kmnist_names);
            break;
        case FAMILY_MNIST:
            names = _dinolab_dataset_numbered_names (10);
            break;
        case FAMILY_EMNIST:
            names = emnist_names_ (images, &n_classes);
            break;
        case FAMILY_GENERIC:
        default:
            break;
        }
        if (names == NULL)
            names = _dinolab_dataset_numbered_names (max_label + 1);
        n_classes = g_strv_length (names);
        if (max_label >= n_classes) {
            for (guint32 i = 0; i < idims[0]; i++)
                if (labels[i] >= n_classes) {
                    g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                                 "%s: label %u of item %u is out of range (this dataset has %u "
                                 "classes)", labels_file, labels[i], i, n_classes);
                    break;
                }
            g_strfreev (names);
            return FALSE;
        }
        ds->labels = g_new (gint32, idims[0]);
        for (guint32 i = 0; i < idims[0]; i++)
            ds->labels[i] = labels[i];
        ds->class_names = names;
        ds->n_classes = n_classes;
    }

    switch (family) {
    case FAMILY_FASHION:
        ds->name = g_strdup ("Fashion-MNIST");
        break;
    case FAMILY_MNIST:
        ds->name = g_strdup ("MNIST");
        break;
    case FAMILY_KMNIST:
        ds->name = g_strdup ("KMNIST");
        break;
    case FAMILY_EMNIST: {
        g_autofree char *base = g_path_get_basename (images);
        char *set = g_str_has_prefix (base, "emnist-") ? base + 7 : NULL;
        char *end = set != NULL ? strchr (set, '-') : NULL;
        ds->name = end != NULL ? g_strdup_printf ("EMNIST %.*s", (int) (end - set), set)
                               : g_strdup ("EMNIST");
        break;
    }
    case FAMILY_GENERIC:
    default: {
        g_autofree char *base = g_path_get_basename (images);
        ds->name = g_strdup_printf ("IDX %s", base);
        break;
    }
    }

    ds->n = idims[0];
    ds->height = (int) idims[1];
    ds->width = (int) idims[2];
    ds->channels = 1;
    ds->norm_mode = DATASET_NORM_COMPUTE;
    g_ptr_array_add (ds->key_files, g_strdup (images));
    if (ds->split == DINOLAB_SPLIT_TEST) {
        /* the statistics are the train split's: key on its file too */
        char *train = _dinolab_dataset_split_sibling (images, DINOLAB_SPLIT_TRAIN, TRUE, ds->spec, NULL);
        if (train != NULL)
            g_ptr_array_add (ds->key_files, train);
    }

    priv = g_new0 (IdxPriv, 1);
    priv->pixels = g_steal_pointer (&pixels);
    ds->priv = priv;
    ds->priv_free = idx_priv_free_;
    ds->get_image = idx_get_image_;
    return TRUE;
}
