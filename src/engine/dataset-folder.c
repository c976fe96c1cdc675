/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dataset-folder.c: folders of image files, decoded on demand with gdk-pixbuf.
 *
 * Layouts, as torchvision's ImageFolder:
 *   root/<class>/.../<file>   one label per class folder, classes sorted by name
 *                             (byte order, as Python's sorted()), files found
 *                             recursively, in the order of sorted(os.walk()) with
 *                             sorted file names; files directly in root are ignored
 *   root/<file>               no subfolders: a flat folder of unlabelled images
 * Splits: when root holds a train/ folder and a val/ or test/ folder, those are the
 * train and test splits (each in one of the layouts above); otherwise root is the train
 * split and there is no test split. Hidden entries (".name") are ignored, unlike
 * torchvision, so ".ipynb_checkpoints" or ".thumbnails" never become classes.
 *
 * Opening scans without decoding: files with an extension some gdk-pixbuf loader
 * claims are checked with gdk_pixbuf_get_file_info (which reads the header) and, for
 * PNG and JPEG, for their end marker in the last 4 kB (a truncated file has none);
 * the ones that fail are left out and counted (dinolab_dataset_get_n_skipped). Other
 * damage inside a file shows only when it is decoded: get_image then fails.
 * An empty folder, a class folder with no image left, or a split with nothing readable
 * is an error naming the folder. Images are decoded by gdk_pixbuf_new_from_file, which
 * is safe from several threads, and come out as 8-bit RGB: alpha dropped and gray
 * repeated, as PIL's convert('RGB'). EXIF orientation is not applied (PIL's open does
 * not either).
 *
 * Not here: caching decoded images; reading archives (zip, tar).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>

#include "dataset-private.h"
#include "dinolab/error.h"

/* Folders nested deeper than this inside a class folder are not followed (a guard
 * against symlink loops; os.walk(followlinks=True) would loop forever). */
#define FOLDER_MAX_DEPTH 32

typedef struct {
    char **paths;   /* n absolute paths, NULL-terminated */
} FolderPriv;

static void
folder_priv_free_ (gpointer p)
{
    FolderPriv *priv = p;
    g_strfreev (priv->paths);
    g_free (priv);
}

static gboolean
folder_get_image_ (DinolabDataset *ds, gsize i, DinolabImage *out, GError **error)
{
    const FolderPriv *priv = ds->priv;
    const char *path = priv->paths[i];
    g_autoptr(GdkPixbuf) pb = NULL;
    GError *local = NULL;
    const guint8 *px;
    int w, h, nc, stride;

    pb = gdk_pixbuf_new_from_file (path, &local);
    if (pb == NULL) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT, "%s: cannot decode: %s", path,
                     local->message);
        g_error_free (local);
        return FALSE;
    }
    w = gdk_pixbuf_get_width (pb);
    h = gdk_pixbuf_get_height (pb);
    nc = gdk_pixbuf_get_n_channels (pb);
    stride = gdk_pixbuf_get_rowstride (pb);
    if (gdk_pixbuf_get_colorspace (pb) != GDK_COLORSPACE_RGB
        || gdk_pixbuf_get_bits_per_sample (pb) != 8 || nc < 3 || w < 1 || h < 1) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: decoded to an unsupported pixel layout (%d channels, %d bits)", path,
                     nc, gdk_pixbuf_get_bits_per_sample (pb));
        return FALSE;
    }
    px = gdk_pixbuf_read_pixels (pb);

    out->width = w;
    out->height = h;
    out->channels = 3;
    out->pixels = g_malloc ((gsize) w * h * 3);
    // pb: h rows of stride bytes, nc (3 or 4) per pixel -> out: (h, w, 3)
    for (int y = 0; y < h; y++) {
        const guint8 *row = px + (gsize) y * stride;
        guint8 *o = out->pixels + (gsize) y * w * 3;
        if (nc == 3) {
            memcpy (o, row, (gsize) w * 3);
        } else {
            for (int x = 0; x < w; x++)
                memcpy (o + 3 * x, row + (gsize) nc * x, 3);
        }
    }
    return TRUE;
}

// ----------------------------------------------------------------------------
// scanning

typedef struct {
    DinolabDataset *ds;
    char          **extensions;   /* ".png", ".jpg", ... lower case, NULL-terminated */
    GPtrArray      *paths;        /* of char*, readable images */
    GArray         *labels;       /* of gint32, parallel to paths */
    int             width, height; /* common size so far; -1 once they differ */
    guint64         total_bytes;
    gint64          max_mtime;
} Scan;

static char **
known_extensions_ (void)
{
    GSList *formats = gdk_pixbuf_get_formats ();
    GPtrArray *exts = g_ptr_array_new ();

    for (GSList *l = formats; l != NULL; l = l->next) {
        GdkPixbufFormat *fmt = l->data;
        char **e;
        if (gdk_pixbuf_format_is_disabled (fmt))
            continue;
        e = gdk_pixbuf_format_get_extensions (fmt);
        for (guint k = 0; e != NULL && e[k] != NULL; k++) {
            char *lower = g_ascii_strdown (e[k], -1);
            g_ptr_array_add (exts, g_strconcat (".", lower, NULL));
            g_free (lower);
        }
        g_strfreev (e);
    }
    g_slist_free (formats);
    g_ptr_array_add (exts, NULL);
    return (char **) g_ptr_array_free (exts, FALSE);
}

static gboolean
has_image_extension_ (const Scan *scan, const char *name)
{
    g_autofree char *lower = g_ascii_strdown (name, -1);

    for (guint k = 0; scan->extensions[k] != NULL; k++)
        if (g_str_has_suffix (lower, scan->extensions[k]))
            return TRUE;
    return FALSE;
}

static int
compare_strings_ (gconstpointer a, gconstpointer b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The non-hidden entries of @dir, sorted by byte order, split into subfolders and
 * files (following symlinks); NULL arrays are fine. */
static void
list_dir_ (const char *dir, GPtrArray *subdirs, GPtrArray *files)
{
    g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
    const char *name;

    if (d == NULL)
        return;
    while ((name = g_dir_read_name (d)) != NULL) {
        g_autofree char *full = NULL;
        if (name[0] == '.')
            continue;
        full = g_build_filename (dir, name, NULL);
        if (g_file_test (full, G_FILE_TEST_IS_DIR)) {
            if (subdirs != NULL)
                g_ptr_array_add (subdirs, g_strdup (name));
        } else if (files != NULL && g_file_test (full, G_FILE_TEST_IS_REGULAR)) {
            g_ptr_array_add (files, g_strdup (name));
        }
    }
    if (subdirs != NULL)
        g_ptr_array_sort (subdirs, compare_strings_);
    if (files != NULL)
        g_ptr_array_sort (files, compare_strings_);
}

/* Adds @dir and every folder below it to @dirs (full paths). */
static void
collect_dirs_ (const char *dir, int depth, GPtrArray *dirs)
{
    g_autoptr(GPtrArray) sub = g_ptr_array_new_with_free_func (g_free);

    g_ptr_array_add (dirs, g_strdup (dir));
    if (depth >= FOLDER_MAX_DEPTH)
        return;
    list_dir_ (dir, sub, NULL);
    for (guint k = 0; k < sub->len; k++) {
        g_autofree char *full = g_build_filename (dir, g_ptr_array_index (sub, k), NULL);
        collect_dirs_ (full, depth + 1, dirs);
    }
}

/* Whether the last TAIL_BYTES of @path hold the end marker of its format: PNG's IEND
 * chunk, JPEG's EOI marker (FF D9, which cannot occur inside entropy-coded data).
 * A file cut short (an interrupted copy or download) lacks it, and gdk-pixbuf would
 * either fail on it later (PNG) or silently decode a gray-filled image (JPEG). Other
 * formats are not checked. */
#define TAIL_BYTES 4096

static gboolean
has_end_marker_ (const char *path, const char *format)
{
    gboolean png = g_str_equal (format, "png"), jpeg = g_str_equal (format, "jpeg");
    guint8 tail[TAIL_BYTES];
    size_t n;
    long size;
    FILE *f;

    if (!png && !jpeg)
        return TRUE;
    f = g_fopen (path, "rb");
    if (f == NULL)
        return FALSE;
    if (fseek (f, 0, SEEK_END) != 0 || (size = ftell (f)) < 0
        || fseek (f, size > TAIL_BYTES ? size - TAIL_BYTES : 0, SEEK_SET) != 0) {
        fclose (f);
        return FALSE;
    }
    n = fread (tail, 1, sizeof tail, f);
    fclose (f);
    for (size_t k = 0; k + 1 < n; k++) {
        if (jpeg && tail[k] == 0xff && tail[k + 1] == 0xd9)
            return TRUE;
        if (png && k + 4 <= n && memcmp (tail + k, "IEND", 4) == 0)
            return TRUE;
    }
    return FALSE;
}

/* Checks one candidate file and adds it (readable) or counts it (not). */
static void
scan_file_ (Scan *scan, const char *path, gint32 label)
{
    GdkPixbufFormat *format;
    g_autofree char *format_name = NULL;
    int w = 0, h = 0;
    GStatBuf sb;

    format = gdk_pixbuf_get_file_info (path, &w, &h);
    if (format != NULL)
        format_name = gdk_pixbuf_format_get_name (format);
    if (format == NULL || !has_end_marker_ (path, format_name)) {
        scan->ds->n_skipped++;
        if (scan->ds->first_skipped == NULL)
            scan->ds->first_skipped = g_strdup (path);
        return;
    }
    g_ptr_array_add (scan->paths, g_strdup (path));
    g_array_append_val (scan->labels, label);
    if (w <= 0 || h <= 0 || (scan->width >= 0 && scan->paths->len > 1
                             && (w != scan->width || h != scan->height))) {
        scan->width = scan->height = -1;
    } else if (scan->paths->len == 1) {
        scan->width = w;
        scan->height = h;
    }
    if (g_stat (path, &sb) == 0) {
        scan->total_bytes += (guint64) sb.st_size;
        scan->max_mtime = MAX (scan->max_mtime, (gint64) sb.st_mtime);
    }
}

/* Scans the image files below @dir (recursively, in sorted(os.walk()) order) with
 * @label. Returns how many candidate files (by extension) there were. */
static guint
scan_tree_ (Scan *scan, const char *dir, gint32 label)
{
    g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);
    guint candidates = 0;

    collect_dirs_ (dir, 0, dirs);
    /* os.walk yields (root, dirs, files); sorting those tuples sorts by root path */
    g_ptr_array_sort (dirs, compare_strings_);
    for (guint k = 0; k < dirs->len; k++) {
        const char *d = g_ptr_array_index (dirs, k);
        g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
        list_dir_ (d, NULL, files);
        for (guint f = 0; f < files->len; f++) {
            g_autofree char *full = NULL;
            if (!has_image_extension_ (scan, g_ptr_array_index (files, f)))
                continue;
            full = g_build_filename (d, g_ptr_array_index (files, f), NULL);
            candidates++;
            scan_file_ (scan, full, label);
        }
    }
    return candidates;
}

static char *
extensions_hint_ (const Scan *scan)
{
    g_autofree char *joined = g_strjoinv (" ", scan->extensions);
    return g_strdup (joined);
}

// ----------------------------------------------------------------------------
// open

gboolean
_dinolab_dataset_open_folder (DinolabDataset *ds, const char *path, GError **error)
{
    g_autofree char *root = NULL;
    g_autofree char *train_dir = NULL;
    g_autofree char *test_dir = NULL;
    g_autofree char *base = NULL;
    g_autoptr(GPtrArray) classes = g_ptr_array_new_with_free_func (g_free);
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
    Scan scan = { 0 };
    gboolean ok = FALSE;
    guint candidates = 0;
    FolderPriv *priv;

    g_assert (ds != NULL && path != NULL);

    if (!g_file_test (path, G_FILE_TEST_IS_DIR)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: %s is not a folder", ds->spec, path);
        return FALSE;
    }

    /* splits */
    train_dir = g_build_filename (path, "train", NULL);
    test_dir = g_build_filename (path, "val", NULL);
    if (!g_file_test (test_dir, G_FILE_TEST_IS_DIR)) {
        g_free (test_dir);
        test_dir = g_build_filename (path, "test", NULL);
    }
    if (g_file_test (train_dir, G_FILE_TEST_IS_DIR) && g_file_test (test_dir, G_FILE_TEST_IS_DIR)) {
        root = g_strdup (ds->split == DINOLAB_SPLIT_TEST ? test_dir : train_dir);
    } else if (ds->split == DINOLAB_SPLIT_TEST) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: no test split: %s has no train/ folder with a val/ or test/ folder "
                     "beside it", ds->spec, path);
        return FALSE;
    } else {
        root = g_strdup (path);
    }

    scan.ds = ds;
    scan.extensions = known_extensions_ ();
    scan.paths = g_ptr_array_new_with_free_func (g_free);
    scan.labels = g_array_new (FALSE, FALSE, sizeof (gint32));

    list_dir_ (root, classes, files);
    if (classes->len > 0) {
        /* ImageFolder: every class folder must end up with at least one image */
        for (guint c = 0; c < classes->len; c++) {
            g_autofree char *cdir = g_build_filename (root, g_ptr_array_index (classes, c), NULL);
            guint before = scan.paths->len, skipped = ds->n_skipped;
            guint cand = scan_tree_ (&scan, cdir, (gint32) c);
            candidates += cand;
            if (scan.paths->len > before)
                continue;
            if (cand == 0) {
                g_autofree char *hint = extensions_hint_ (&scan);
                g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                             "%s: class folder %s holds no image files (looked for %s)",
                             ds->spec, cdir, hint);
            } else {
                g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                             "%s: class folder %s holds no readable image (%u unreadable "
                             "file%s, e.g. %s)", ds->spec, cdir, ds->n_skipped - skipped,
                             ds->n_skipped - skipped == 1 ? "" : "s", ds->first_skipped);
            }
            goto out;
        }
        ds->n_classes = classes->len;
        g_ptr_array_add (classes, NULL);
        ds->class_names = (char **) g_ptr_array_steal (classes, NULL);
    } else {
        for (guint f = 0; f < files->len; f++) {
            g_autofree char *full = NULL;
            if (!has_image_extension_ (&scan, g_ptr_array_index (files, f)))
                continue;
            full = g_build_filename (root, g_ptr_array_index (files, f), NULL);
            candidates++;
            scan_file_ (&scan, full, -1);
        }
    }

    if (candidates == 0) {
        g_autofree char *hint = extensions_hint_ (&scan);
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: %s holds no image files (looked for %s)", ds->spec, root, hint);
        goto out;
    }
    if (scan.paths->len == 0) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: %s holds no readable image (%u unreadable file%s, e.g. %s)", ds->spec,
                     root, ds->n_skipped, ds->n_skipped == 1 ? "" : "s", ds->first_skipped);
        goto out;
    }

    ds->n = scan.paths->len;
    if (ds->n_classes > 0)
        ds->labels = (gint32 *) g_array_free (g_steal_pointer (&scan.labels), FALSE);
    ds->channels = 3;
    ds->width = scan.width > 0 ? scan.width : 0;
    ds->height = scan.height > 0 ? scan.height : 0;
    base = g_path_get_basename (path);
    ds->name = g_strdup_printf ("image folder %s", base);
    ds->norm_mode = DATASET_NORM_FOLDER;
    g_ptr_array_add (ds->key_files, g_strdup (root));
    if (ds->split == DINOLAB_SPLIT_TEST)
        g_ptr_array_add (ds->key_files, g_strdup (train_dir));
    ds->key_extra = g_strdup_printf ("%" G_GSIZE_FORMAT " files, %" G_GUINT64_FORMAT " bytes, "
                                     "newest %" G_GINT64_FORMAT, ds->n, scan.total_bytes,
                                     scan.max_mtime);

    g_ptr_array_add (scan.paths, NULL);
    priv = g_new0 (FolderPriv, 1);
    priv->paths = (char **) g_ptr_array_free (g_steal_pointer (&scan.paths), FALSE);
    ds->priv = priv;
    ds->priv_free = folder_priv_free_;
    ds->get_image = folder_get_image_;
    ok = TRUE;

out:
    g_strfreev (scan.extensions);
    if (scan.paths != NULL)
        g_ptr_array_unref (scan.paths);
    if (scan.labels != NULL)
        g_array_unref (scan.labels);
    return ok;
}
