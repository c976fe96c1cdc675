/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * npy.c: DinolabArray, NumPy .npy read/write, and the crash-safe file writer that
 * safetensors.c shares.
 *
 * The .npy format (numpy/lib/format.py): 6 magic bytes "\x93NUMPY", a major and minor
 * version byte, the header length (uint16 LE in 1.0, uint32 LE in 2.0/3.0), then the
 * header, a Python dict literal such as
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and ending in '\n' so the data starts on a 64-byte boundary, then
 * the raw data. We write 1.0 exactly as numpy 1.24 does (same padding, so `cmp` against
 * np.save output matches) and read 1.0, 2.0 and 3.0.
 *
 * The header parser is a small hand-written one for the three keys numpy writes; it
 * is not a Python evaluator. Only '<f4' and '|u1' in C order are accepted, which is
 * all Dinolab exchanges; everything else is refused with a message naming it.
 * The file is mapped (GMappedFile) and every length is checked against its size
 * before the data are copied out, so a bad file can never cause an out-of-bounds read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "dinolab/error.h"
#include "dinolab/io.h"
#include "io-private.h"

/* Same cap as for safetensors headers: a real .npy header is well under 1 kB. */
#define NPY_MAX_HEADER_LEN  100000000u
/* numpy's ARRAY_ALIGN and GROWTH_AXIS_MAX_DIGITS (numpy/lib/format.py). */
#define NPY_ARRAY_ALIGN     64
#define NPY_GROWTH_DIGITS   21

// ----------------------------------------------------------------------------
// File access shared with safetensors.c (declared in io-private.h)

/* Maps @path read-only. Errors (DINOLAB_ERROR_IO) read "<path>: cannot open: <reason>"
 * rather than GLib's longer wording; a directory or FIFO is refused before open()
 * (which would block on a FIFO). An empty file maps with NULL contents, length 0. */
GMappedFile *
_dinolab_io_map (const char *path, GError **error)
{
    GStatBuf sb;
    GMappedFile *mf;
    GError *local = NULL;
    int fd, errsv;

    g_return_val_if_fail (path != NULL, NULL);

    if (g_stat (path, &sb) == 0 && !S_ISREG (sb.st_mode)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot open: not a regular file",
                     path);
        return NULL;
    }
    fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        errsv = errno;
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot open: %s", path,
                     g_strerror (errsv));
        return NULL;
    }
    mf = g_mapped_file_new_from_fd (fd, FALSE, &local);
    close (fd); /* the mapping stays valid */
    if (mf == NULL) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot map: %s", path,
                     local->message);
        g_error_free (local);
    }
    return mf;
}

// ----------------------------------------------------------------------------
// Crash-safe writer.
//
// Sticky error, as in SQLite's *pRc: once a write fails, later writes do nothing and
// _close() reports the first failure, so callers write straight down and check once.


struct DinolabAtomicFile {
    char   *path;      /* final name */
    char   *tmp_path;  /* "<path>.tmp", what we actually write */
    FILE   *fp;
    GError *error;     /* first failure, or NULL */
};

static void
atomic_file_fail_ (DinolabAtomicFile *af, const char *what, int errsv)
{
    g_assert (af != NULL);
    if (af->error != NULL)
        return;
    g_set_error (&af->error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot %s %s: %s",
                 af->path, what, af->tmp_path, g_strerror (errsv));
}

/* Opens "<path>.tmp" for writing (truncating a leftover one). Returns NULL with
 * @error set if it cannot be created (missing directory, no permission). */
DinolabAtomicFile *
_dinolab_atomic_file_open (const char *path, GError **error)
{
    DinolabAtomicFile *af;
    char *tmp_path;
    FILE *fp;
    int errsv;

    g_return_val_if_fail (path != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    tmp_path = g_strconcat (path, ".tmp", NULL);
    fp = g_fopen (tmp_path, "wb");
    if (fp == NULL) {
        errsv = errno;
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot create %s: %s",
                     path, tmp_path, g_strerror (errsv));
        g_free (tmp_path);
        return NULL;
    }
    af = g_new0 (DinolabAtomicFile, 1);
    af->path = g_strdup (path);
    af->tmp_path = tmp_path;
    af->fp = fp;
    return af;
}

void
_dinolab_atomic_file_write (DinolabAtomicFile *af, const void *data, size_t size)
{
    g_return_if_fail (af != NULL);
    g_return_if_fail (data != NULL || size == 0);

    if (af->error != NULL || size == 0)
        return;
    if (fwrite (data, 1, size, af->fp) != size)
        atomic_file_fail_ (af, "write", errno);
}

/* Writes @n host floats as little-endian float32 (a plain write on little-endian
 * hosts; big-endian ones go through a small bounce buffer). */
void
_dinolab_atomic_file_write_f32 (DinolabAtomicFile *af, const float *data, size_t n)
{
    g_return_if_fail (af != NULL);
    g_return_if_fail (data != NULL || n == 0);

#if G_BYTE_ORDER == G_LITTLE_ENDIAN
    _dinolab_atomic_file_write (af, data, n * sizeof (float));
#else
    {
        guint32 buf[1024];
        size_t done = 0;
        while (done < n && af->error == NULL) {
            size_t k = MIN (n - done, G_N_ELEMENTS (buf));
            memcpy (buf, data + done, k * sizeof (float));
            for (size_t i = 0; i < k; i++)
                buf[i] = GUINT32_TO_LE (buf[i]);
            _dinolab_atomic_file_write (af, buf, k * sizeof (float));
            done += k;
        }
    }
#endif
}

/* Flushes, fsyncs and closes the temp file, then renames it over the final path.
 * On any failure (now or in an earlier write) removes the temp file and returns FALSE
 * with the first error. Always frees @af. */
gboolean
_dinolab_atomic_file_close (DinolabAtomicFile *af, GError **error)
{
    gboolean ok;

    g_return_val_if_fail (af != NULL, FALSE);

    if (af->error == NULL && fflush (af->fp) != 0)
        atomic_file_fail_ (af, "write", errno);
    /* fsync before rename: otherwise a power cut can leave the new name pointing at
     * an empty file on ext4/xfs. */
    if (af->error == NULL && fsync (fileno (af->fp)) != 0)
        atomic_file_fail_ (af, "sync", errno);
    if (fclose (af->fp) != 0)
        atomic_file_fail_ (af, "close", errno);
    af->fp = NULL;
    if (af->error == NULL && g_rename (af->tmp_path, af->path) != 0) {
        int errsv = errno;
        g_set_error (&af->error, DINOLAB_ERROR, DINOLAB_ERROR_IO,
                     "%s: cannot rename %s to it: %s", af->path, af->tmp_path,
                     g_strerror (errsv));
    }

    ok = af->error == NULL;
    if (!ok) {
        g_unlink (af->tmp_path);
        g_propagate_error (error, g_steal_pointer (&af->error));
    }
    g_free (af->path);
    g_free (af->tmp_path);
    g_free (af);
    return ok;
}

// ----------------------------------------------------------------------------
// DinolabArray

static size_t
dtype_size_ (DinolabDtype dtype)
{
    switch (dtype) {
    case DINOLAB_DTYPE_F32:
        return 4;
    case DINOLAB_DTYPE_U8:
        return 1;
    default:
        g_assert_not_reached ();
    }
    return 0;
}

/* Product of the dims times @elsize, in bytes. FALSE if a dim is negative or the
 * byte count does not fit in both int64_t and size_t. */
static gboolean
shape_nbytes_ (int ndim, const int64_t *shape, size_t elsize, int64_t *numel_out,
               int64_t *nbytes_out)
{
    const int64_t limit = (int64_t) MIN ((guint64) G_MAXINT64, (guint64) G_MAXSIZE);
    int64_t numel = 1;

    g_assert (ndim >= 0 && (ndim == 0 || shape != NULL));
    g_assert (elsize > 0);

    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return FALSE;
        if (shape[i] > 0 && numel > limit / (int64_t) elsize / shape[i])
            return FALSE;
        numel *= shape[i];
    }
    if (numel_out != NULL)
        *numel_out = numel;
    if (nbytes_out != NULL)
        *nbytes_out = numel * (int64_t) elsize;
    return TRUE;
}

DinolabArray *
dinolab_array_new (DinolabDtype dtype, int ndim, const int64_t *shape)
{
    DinolabArray *a;
    int64_t nbytes = 0;

    g_return_val_if_fail (dtype == DINOLAB_DTYPE_F32 || dtype == DINOLAB_DTYPE_U8, NULL);
    g_return_val_if_fail (ndim >= 0 && ndim <= DINOLAB_MAX_DIMS, NULL);
    g_return_val_if_fail (ndim == 0 || shape != NULL, NULL);
    g_return_val_if_fail (shape_nbytes_ (ndim, shape, dtype_size_ (dtype), NULL, &nbytes), NULL);

    a = g_new0 (DinolabArray, 1);
    a->dtype = dtype;
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        a->shape[i] = shape[i];
    /* At least one element so data is never NULL, even for a [0,3] array. */
    a->data = g_malloc0 (MAX ((size_t) nbytes, (size_t) 4));
    return a;
}

void
dinolab_array_free (DinolabArray *a)
{
    if (a == NULL)
        return;
    g_free (a->data);
    g_free (a);
}

int64_t
dinolab_array_numel (const DinolabArray *a)
{
    int64_t numel = 1;

    g_return_val_if_fail (a != NULL, 0);

    for (int i = 0; i < a->ndim; i++)
        numel *= a->shape[i];
    return numel;
}

char *
dinolab_shape_to_string (int ndim, const int64_t *shape)
{
    GString *s;

    g_return_val_if_fail (ndim >= 0, NULL);
    g_return_val_if_fail (ndim == 0 || shape != NULL, NULL);

    s = g_string_new ("[");
    for (int i = 0; i < ndim; i++)
        g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i > 0 ? "," : "", (gint64) shape[i]);
    g_string_append_c (s, ']');
    return g_string_free (s, FALSE);
}

// ----------------------------------------------------------------------------
// .npy header parsing
//
// Grammar accepted (a subset of Python literals, as numpy writes them):
//   dict  := '{' [ key ':' value { ',' key ':' value } [','] ] '}'
//   key   := 'descr' | 'fortran_order' | 'shape'       (quoted with ' or ")
//   value := string | True | False | '(' [ int { ',' int } [','] ] ')'
//   int   := digits [ 'L' ]                             (Python 2 files wrote 3L)
// with whitespace anywhere between tokens, and only whitespace after the dict.

typedef struct {
    const char *path;
    const char *start;   /* first header byte */
    const char *p;       /* cursor */
    const char *end;     /* one past the last header byte */
    GError    **error;
} NpyParser;

static void
npy_fail_ (NpyParser *P, int code, const char *what)
{
    char *excerpt, *escaped;

    g_assert (P != NULL);
    excerpt = g_strndup (P->start, MIN ((size_t) (P->end - P->start), (size_t) 120));
    escaped = g_strescape (excerpt, NULL);
    g_set_error (P->error, DINOLAB_ERROR, code,
                 "%s: malformed .npy header at byte %d: %s (header: \"%s\")", P->path,
                 (int) (P->p - P->start), what, escaped);
    g_free (escaped);
    g_free (excerpt);
}

static void
npy_skip_ws_ (NpyParser *P)
{
    while (P->p < P->end && (*P->p == ' ' || *P->p == '\t' || *P->p == '\n' || *P->p == '\r'))
        P->p++;
}

static gboolean
npy_expect_ (NpyParser *P, char c)
{
    char what[32];

    npy_skip_ws_ (P);
    if (P->p < P->end && *P->p == c) {
        P->p++;
        return TRUE;
    }
    g_snprintf (what, sizeof what, "expected '%c'", c);
    npy_fail_ (P, DINOLAB_ERROR_CORRUPT, what);
    return FALSE;
}

/* A quoted string without escapes, at most @size - 1 bytes, into @out. */
static gboolean
npy_parse_string_ (NpyParser *P, char *out, size_t size)
{
    char quote;
    size_t n = 0;

    npy_skip_ws_ (P);
    if (P->p >= P->end || (*P->p != '\'' && *P->p != '"')) {
        npy_fail_ (P, DINOLAB_ERROR_CORRUPT, "expected a quoted string");
        return FALSE;
    }
    quote = *P->p++;
    while (P->p < P->end && *P->p != quote) {
        if (*P->p == '\\' || *P->p == '\n' || *P->p == '\0' || n + 1 >= size) {
            npy_fail_ (P, DINOLAB_ERROR_CORRUPT, "unexpected string");
            return FALSE;
        }
        out[n++] = *P->p++;
    }
    if (P->p >= P->end) {
        npy_fail_ (P, DINOLAB_ERROR_CORRUPT, "unterminated string");
        return FALSE;
    }
    P->p++;
    out[n] = '\0';
    return TRUE;
}

static gboolean
npy_parse_bool_ (NpyParser *P, gboolean *out)
{
    npy_skip_ws_ (P);
    if ((size_t) (P->end - P->p) >= 4 && memcmp (P->p, "True", 4) == 0) {
        P->p += 4;
        *out = TRUE;
        return TRUE;
    }
    if ((size_t) (P->end - P->p) >= 5 && memcmp (P->p, "False", 5) == 0) {
        P->p += 5;
        *out = FALSE;
        return TRUE;
    }
    npy_fail_ (P, DINOLAB_ERROR_CORRUPT, "expected True or False");
    return FALSE;
}

static gboolean
npy_parse_dim_ (NpyParser *P, int64_t *out)
{
    int64_t v = 0;

    npy_skip_ws_ (P);
    if (P->p < P->end && *P->p == '-') {
        npy_fail_ (P, DINOLAB_ERROR_CORRUPT, "negative dimension in shape");
        return FALSE;
    }
    if (P->p >= P->end || !g_ascii_isdigit (*P->p)) {
        npy_fail_ (P, DINOLAB_ERROR_CORRUPT, "expected a dimension (a non-negative integer)");
        return FALSE;
    }
    while (P->p < P->end && g_ascii_isdigit (*P->p)) {
        int d = *P->p - '0';
        if (v > (G_MAXINT64 - d) / 10) {
            npy_fail_ (P, DINOLAB_ERROR_CORRUPT, "dimension does not fit in 64 bits");
            return FALSE;
        }
        v = v * 10 + d;
        P->p++;
    }
    if (P->p < P->end && (*P->p == 'L' || *P->p == 'l'))
        P->p++;
    *out = v;
    return TRUE;
}

static gboolean
npy_parse_shape_ (NpyParser *P, int64_t *shape, int *ndim)
{
    *ndim = 0;
    if (!npy_expect_ (P, '('))
        return FALSE;
    npy_skip_ws_ (P);
    if (P->p < P->end && *P->p == ')') {
        P->p++;
        return TRUE;
    }
    for (;;) {
        if (*ndim == DINOLAB_MAX_DIMS) {
            char what[64];
            g_snprintf (what, sizeof what, "more than %d dimensions are not supported",
                        DINOLAB_MAX_DIMS);
            npy_fail_ (P, DINOLAB_ERROR_INVALID_INPUT, what);
            return FALSE;
        }
        if (!npy_parse_dim_ (P, &shape[(*ndim)++]))
            return FALSE;
        npy_skip_ws_ (P);
        if (P->p < P->end && *P->p == ',') {
            P->p++;
            npy_skip_ws_ (P);
        }
        else if (P->p < P->end && *P->p == ')') {
            P->p++;
            return TRUE;
        }
        else {
            npy_fail_ (P, DINOLAB_ERROR_CORRUPT, "expected ',' or ')' in shape");
            return FALSE;
        }
        if (P->p < P->end && *P->p == ')') {
            P->p++;
            return TRUE;
        }
    }
}

/* Parses the header dict into @descr, @fortran, @shape/@ndim. */
static gboolean
npy_parse_header_ (NpyParser *P, char *descr, size_t descr_size, gboolean *fortran,
                   int64_t *shape, int *ndim)
{
    gboolean seen_descr = FALSE, seen_fortran = FALSE, seen_shape = FALSE;

    if (!npy_expect_ (P, '{'))
        return FALSE;
    for (;;) {
        char key[32];
        gboolean *seen;

        npy_skip_ws_ (P);
        if (P->p < P->end && *P->p == '}')
            break;
        if (!npy_parse_string_ (P, key, sizeof key) || !npy_expect_ (P, ':'))
            return FALSE;
        npy_skip_ws_ (P);
        if (strcmp (key, "descr") == 0) {
            seen = &seen_descr;
            if (P->p < P->end && *P->p == '[') {
                g_set_error (P->error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                             "%s: structured dtype (descr is a list) is not supported; "
                             "need '<f4' (float32) or '|u1' (uint8)", P->path);
                return FALSE;
            }
            if (!npy_parse_string_ (P, descr, descr_size))
                return FALSE;
        }
        else if (strcmp (key, "fortran_order") == 0) {
            seen = &seen_fortran;
            if (!npy_parse_bool_ (P, fortran))
                return FALSE;
        }
        else if (strcmp (key, "shape") == 0) {
            seen = &seen_shape;
            if (!npy_parse_shape_ (P, shape, ndim))
                return FALSE;
        }
        else {
            npy_fail_ (P, DINOLAB_ERROR_CORRUPT, "unknown key (expected descr, fortran_order, shape)");
            return FALSE;
        }
        if (*seen) {
            npy_fail_ (P, DINOLAB_ERROR_CORRUPT, "duplicate key");
            return FALSE;
        }
        *seen = TRUE;

        npy_skip_ws_ (P);
        if (P->p < P->end && *P->p == ',') {
            P->p++;
            continue;
        }
        if (P->p < P->end && *P->p == '}')
            break;
        npy_fail_ (P, DINOLAB_ERROR_CORRUPT, "expected ',' or '}'");
        return FALSE;
    }
    P->p++; /* the '}' */
    npy_skip_ws_ (P);
    if (P->p != P->end) {
        npy_fail_ (P, DINOLAB_ERROR_CORRUPT, "unexpected text after the dict");
        return FALSE;
    }
    if (!seen_descr || !seen_fortran || !seen_shape) {
        npy_fail_ (P, DINOLAB_ERROR_CORRUPT,
                   !seen_descr ? "missing key 'descr'"
                   : !seen_fortran ? "missing key 'fortran_order'" : "missing key 'shape'");
        return FALSE;
    }
    return TRUE;
}

// ----------------------------------------------------------------------------
// .npy read

DinolabArray *
dinolab_npy_read (const char *path, GError **error)
{
    g_autoptr(GMappedFile) mf = NULL;
    const guint8 *buf;
    size_t len, pre, hlen, data_len;
    guint major, minor;
    char descr[16];
    gboolean fortran = FALSE;
    int64_t shape[DINOLAB_MAX_DIMS] = { 0 };
    int ndim = 0;
    int64_t numel, nbytes;
    DinolabDtype dtype;
    DinolabArray *a;
    NpyParser P;

    g_return_val_if_fail (path != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    mf = _dinolab_io_map (path, error);
    if (mf == NULL)
        return NULL;
    buf = (const guint8 *) g_mapped_file_get_contents (mf);
    len = g_mapped_file_get_length (mf);

    // Preamble: magic, version, header length.
    if (len < 10 || memcmp (buf, "\x93NUMPY", 6) != 0) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     len < 10 ? "%s: file is too short for a .npy file (%zu bytes; truncated?)"
                              : "%s: not a .npy file (%zu bytes, no \\x93NUMPY magic)",
                     path, len);
        return NULL;
    }
    major = buf[6];
    minor = buf[7];
    if (major == 1 && minor == 0) {
        hlen = (size_t) buf[8] | (size_t) buf[9] << 8;
        pre = 10;
    }
    else if ((major == 2 || major == 3) && minor == 0) {
        if (len < 12) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                         "%s: file is too short for a .npy %u.0 file (%zu bytes; truncated?)",
                         path, major, len);
            return NULL;
        }
        hlen = (size_t) buf[8] | (size_t) buf[9] << 8 | (size_t) buf[10] << 16
               | (size_t) buf[11] << 24;
        pre = 12;
    }
    else {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: unsupported .npy format version %u.%u (need 1.0, 2.0 or 3.0)",
                     path, major, minor);
        return NULL;
    }
    if (hlen > NPY_MAX_HEADER_LEN) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: .npy header length %zu exceeds the limit of %u bytes", path, hlen,
                     NPY_MAX_HEADER_LEN);
        return NULL;
    }
    if (hlen > len - pre) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: .npy header length %zu runs past the end of the file (%zu bytes; "
                     "truncated?)", path, hlen, len);
        return NULL;
    }

    // Header dict.
    P.path = path;
    P.start = (const char *) buf + pre;
    P.p = P.start;
    P.end = P.start + hlen;
    P.error = error;
    if (!npy_parse_header_ (&P, descr, sizeof descr, &fortran, shape, &ndim))
        return NULL;

    if (strcmp (descr, "<f4") == 0) {
        dtype = DINOLAB_DTYPE_F32;
    }
    else if (strcmp (descr, "|u1") == 0 || strcmp (descr, "<u1") == 0
             || strcmp (descr, ">u1") == 0) {
        dtype = DINOLAB_DTYPE_U8; /* one byte: the order mark means nothing */
    }
    else {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: dtype '%s'%s is not supported; need '<f4' (little-endian float32) "
                     "or '|u1' (uint8)", path, descr,
                     descr[0] == '>' ? " (big-endian)" : "");
        return NULL;
    }
    if (fortran) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: fortran_order is True; only C-order arrays are supported "
                     "(save np.ascontiguousarray(x))", path);
        return NULL;
    }

    // Data: exactly numel * elsize bytes must follow the header.
    data_len = len - pre - hlen;
    if (!shape_nbytes_ (ndim, shape, dtype_size_ (dtype), &numel, &nbytes)) {
        g_autofree char *s = dinolab_shape_to_string (ndim, shape);
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: shape %s '%s' is too large (byte count overflows)", path, s, descr);
        return NULL;
    }
    if ((guint64) nbytes != (guint64) data_len) {
        g_autofree char *s = dinolab_shape_to_string (ndim, shape);
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: shape %s '%s' needs %" G_GINT64_FORMAT " data bytes, but the file "
                     "has %zu after the header (%s)", path, s, descr, (gint64) nbytes,
                     data_len, (guint64) nbytes > (guint64) data_len ? "truncated?" : "trailing bytes");
        return NULL;
    }

    a = dinolab_array_new (dtype, ndim, shape);
    if (nbytes > 0)
        memcpy (a->data, buf + pre + hlen, (size_t) nbytes);
#if G_BYTE_ORDER != G_LITTLE_ENDIAN
    if (dtype == DINOLAB_DTYPE_F32) {
        guint32 *w = a->data;
        for (int64_t i = 0; i < numel; i++)
            w[i] = GUINT32_FROM_LE (w[i]);
    }
#endif
    return a;
}

// ----------------------------------------------------------------------------
// .npy write

/* Builds the 1.0 preamble + header for @a exactly as numpy 1.24's
 * _write_array_header does: sorted keys, repr() of the shape tuple, 21 - len(repr(
 * shape[0])) spare spaces, then spaces so that preamble + header + '\n' is a multiple
 * of 64 bytes (between 1 and 64 of them). */
static GString *
npy_header_build_ (const DinolabArray *a)
{
    GString *h = g_string_new (NULL);
    size_t dict_start, hlen;

    g_string_append_len (h, "\x93NUMPY\x01\x00\x00\x00", 10);
    dict_start = h->len;
    g_string_append_printf (h, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                            a->dtype == DINOLAB_DTYPE_F32 ? "<f4" : "|u1");
    for (int i = 0; i < a->ndim; i++)
        g_string_append_printf (h, "%s%" G_GINT64_FORMAT, i > 0 ? ", " : "", (gint64) a->shape[i]);
    g_string_append (h, a->ndim == 1 ? ",), }" : "), }");
    if (a->ndim > 0) {
        char digits[32];
        int n = g_snprintf (digits, sizeof digits, "%" G_GINT64_FORMAT, (gint64) a->shape[0]);
        for (int i = n; i < NPY_GROWTH_DIGITS; i++)
            g_string_append_c (h, ' ');
    }
    hlen = h->len - dict_start + 1;
    for (size_t pad = NPY_ARRAY_ALIGN - (10 + hlen) % NPY_ARRAY_ALIGN; pad > 0; pad--)
        g_string_append_c (h, ' ');
    g_string_append_c (h, '\n');

    hlen = h->len - dict_start;
    g_assert (hlen <= 65535);
    h->str[8] = (char) (hlen & 0xff);
    h->str[9] = (char) (hlen >> 8);
    return h;
}

gboolean
dinolab_npy_write (const char *path, const DinolabArray *a, GError **error)
{
    DinolabAtomicFile *af;
    GString *header;
    int64_t numel = 0, nbytes = 0;

    g_return_val_if_fail (path != NULL, FALSE);
    g_return_val_if_fail (a != NULL, FALSE);
    g_return_val_if_fail (a->dtype == DINOLAB_DTYPE_F32 || a->dtype == DINOLAB_DTYPE_U8, FALSE);
    g_return_val_if_fail (a->ndim >= 0 && a->ndim <= DINOLAB_MAX_DIMS, FALSE);
    g_return_val_if_fail (shape_nbytes_ (a->ndim, a->shape, dtype_size_ (a->dtype), &numel, &nbytes), FALSE);
    g_return_val_if_fail (a->data != NULL || nbytes == 0, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    af = _dinolab_atomic_file_open (path, error);
    if (af == NULL)
        return FALSE;
    header = npy_header_build_ (a);
    _dinolab_atomic_file_write (af, header->str, header->len);
    g_string_free (header, TRUE);
    if (a->dtype == DINOLAB_DTYPE_F32)
        _dinolab_atomic_file_write_f32 (af, a->data, (size_t) numel);
    else
        _dinolab_atomic_file_write (af, a->data, (size_t) nbytes);
    return _dinolab_atomic_file_close (af, error);
}

gboolean
dinolab_npy_write_f32 (const char *path, const float *data, int ndim, const int64_t *shape,
                       GError **error)
{
    DinolabArray view = { 0 };

    g_return_val_if_fail (ndim >= 0 && ndim <= DINOLAB_MAX_DIMS, FALSE);
    g_return_val_if_fail (ndim == 0 || shape != NULL, FALSE);

    /* A borrowed view: dinolab_npy_write only reads data, so the cast is safe. */
    view.dtype = DINOLAB_DTYPE_F32;
    view.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        view.shape[i] = shape[i];
    view.data = (void *) data;
    return dinolab_npy_write (path, &view, error);
}
