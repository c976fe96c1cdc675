/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-dataset.c: the datasets half of data.h (every kind of dataset, normalisation
 * and its cache, the evaluation view, bad input) and the private bicubic resampler
 * of image.h that the augmentation shares.
 *
 * Independent checks: the resampler against PIL's Image.resize(BICUBIC) output
 * (a table made by hand with python3-pil, see pil_cases below) and against a naive
 * re-implementation here written from Pillow's Resample.c (precomputed coefficient
 * tables, doubles); pixels, labels and statistics against the values the fixtures
 * were written from (formulas, naive double sums). Every fixture is written by this
 * test in a temp dir with plain stdio, GIO's zlib compressor, gdk_pixbuf_save or a
 * hand-made PNG; nothing needs network or the big dataset, except the Fashion-MNIST
 * check, which is skipped when Debian's dataset-fashion-mnist is not installed.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "dinolab/data.h"
#include "dinolab/error.h"
#include "dinolab/io.h"
#include "image.h"
#include "test-util.h"

static char *tmpdir;

// ----------------------------------------------------------------------------
// fixture helpers

static char *
tmp_path_ (const char *first, ...) G_GNUC_NULL_TERMINATED;

/* tmpdir/first/... (joined like g_build_filename) */
static char *
tmp_path_ (const char *first, ...)
{
    va_list ap;
    GPtrArray *parts = g_ptr_array_new ();
    const char *p;
    char *path;

    g_ptr_array_add (parts, tmpdir);
    va_start (ap, first);
    for (p = first; p != NULL; p = va_arg (ap, const char *))
        g_ptr_array_add (parts, (gpointer) p);
    va_end (ap);
    g_ptr_array_add (parts, NULL);
    path = g_build_filenamev ((char **) parts->pdata);
    g_ptr_array_free (parts, TRUE);
    return path;
}

static void
mkdir_p_ (const char *path)
{
    g_assert_cmpint (g_mkdir_with_parents (path, 0755), ==, 0);
}

static void
write_raw_ (const char *path, const void *data, size_t len)
{
    FILE *f = fopen (path, "wb");
    g_assert_nonnull (f);
    if (len > 0)
        g_assert_cmpuint (fwrite (data, 1, len, f), ==, len);
    g_assert_cmpint (fclose (f), ==, 0);
}

/* zlib or gzip stream of @data, through GIO's compressor. */
static GBytes *
compress_ (GZlibCompressorFormat format, const void *data, size_t len)
{
    g_autoptr(GOutputStream) mem = g_memory_output_stream_new_resizable ();
    g_autoptr(GZlibCompressor) comp = g_zlib_compressor_new (format, 6);
    g_autoptr(GOutputStream) out = g_converter_output_stream_new (mem, G_CONVERTER (comp));
    GError *error = NULL;
    gsize written = 0;

    g_assert_true (g_output_stream_write_all (out, data, len, &written, NULL, &error));
    g_assert_no_error (error);
    g_assert_true (g_output_stream_close (out, NULL, &error));
    g_assert_no_error (error);
    return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (mem));
}

static void
write_gz_ (const char *path, const void *data, size_t len)
{
    g_autoptr(GBytes) gz = compress_ (G_ZLIB_COMPRESSOR_FORMAT_GZIP, data, len);
    gsize n;
    const void *p = g_bytes_get_data (gz, &n);
    write_raw_ (path, p, n);
}

static void
put_be32_ (guint8 *p, guint32 v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

/* An IDX file: magic, dims, data (raw or gzip). */
static void
write_idx_ (const char *path, gboolean gz, guint32 magic, const guint32 *dims, int ndims,
            const guint8 *data, size_t len)
{
    size_t hl = 4 + 4 * (size_t) ndims;
    g_autofree guint8 *buf = g_malloc (hl + len);

    put_be32_ (buf, magic);
    for (int d = 0; d < ndims; d++)
        put_be32_ (buf + 4 + 4 * d, dims[d]);
    memcpy (buf + hl, data, len);
    if (gz)
        write_gz_ (path, buf, hl + len);
    else
        write_raw_ (path, buf, hl + len);
}

/* The pixel formula of the IDX fixtures: item i, row y, column x. */
static guint8
idx_pixel_ (int i, int y, int x)
{
    return (guint8) ((i * 29 + y * 13 + x * 7 + 3) % 256);
}

/* dir/<prefix>{images-idx3,labels-idx1}-ubyte[.gz] with n items of rows x cols and
 * labels (i * 3 + 1) % 10. */
static void
write_idx_split_ (const char *dir, const char *prefix, gboolean gz, guint32 n, guint32 rows,
                  guint32 cols)
{
    g_autofree guint8 *px = g_malloc ((size_t) n * rows * cols);
    g_autofree guint8 *lb = g_malloc (n);
    g_autofree char *img_name = g_strdup_printf ("%simages-idx3-ubyte%s", prefix, gz ? ".gz" : "");
    g_autofree char *lab_name = g_strdup_printf ("%slabels-idx1-ubyte%s", prefix, gz ? ".gz" : "");
    g_autofree char *img_path = g_build_filename (dir, img_name, NULL);
    g_autofree char *lab_path = g_build_filename (dir, lab_name, NULL);
    guint32 dims[3] = { n, rows, cols };

    for (guint32 i = 0; i < n; i++) {
        for (guint32 y = 0; y < rows; y++)
            for (guint32 x = 0; x < cols; x++)
                px[(i * rows + y) * cols + x] = idx_pixel_ ((int) i, (int) y, (int) x);
        lb[i] = (guint8) ((i * 3 + 1) % 10);
    }
    mkdir_p_ (dir);
    write_idx_ (img_path, gz, 0x00000803, dims, 3, px, (size_t) n * rows * cols);
    write_idx_ (lab_path, gz, 0x00000801, dims, 1, lb, n);
}

static guint32 crc_table[256];

static guint32
crc32_ (const guint8 *p, size_t n)
{
    guint32 c = 0xffffffffu;

    if (crc_table[1] == 0)
        for (guint32 k = 0; k < 256; k++) {
            guint32 v = k;
            for (int b = 0; b < 8; b++)
                v = (v & 1) ? 0xedb88320u ^ (v >> 1) : v >> 1;
            crc_table[k] = v;
        }
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static void
png_chunk_ (GByteArray *out, const char *type, const guint8 *data, size_t len)
{
    guint8 be[4];
    g_autofree guint8 *td = g_malloc (4 + len);

    put_be32_ (be, (guint32) len);
    g_byte_array_append (out, be, 4);
    memcpy (td, type, 4);
    if (len > 0)
        memcpy (td + 4, data, len);
    g_byte_array_append (out, td, 4 + len);
    put_be32_ (be, crc32_ (td, 4 + len));
    g_byte_array_append (out, be, 4);
}

/* A grayscale (colour type 0, 8-bit) PNG, written by hand since gdk-pixbuf only
 * saves RGB(A). */
static void
write_gray_png_ (const char *path, const guint8 *px, int w, int h)
{
    g_autoptr(GByteArray) out = g_byte_array_new ();
    g_autofree guint8 *raw = g_malloc ((size_t) (w + 1) * h);
    g_autoptr(GBytes) z = NULL;
    guint8 ihdr[13];
    gsize zn;
    const guint8 *zp;

    g_byte_array_append (out, (const guint8 *) "\x89PNG\r\n\x1a\n", 8);
    put_be32_ (ihdr, (guint32) w);
    put_be32_ (ihdr + 4, (guint32) h);
    ihdr[8] = 8;    /* bit depth */
    ihdr[9] = 0;    /* grayscale */
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    png_chunk_ (out, "IHDR", ihdr, 13);
    for (int y = 0; y < h; y++) {
        raw[(size_t) y * (w + 1)] = 0;   /* filter: none */
        memcpy (raw + (size_t) y * (w + 1) + 1, px + (size_t) y * w, (size_t) w);
    }
    z = compress_ (G_ZLIB_COMPRESSOR_FORMAT_ZLIB, raw, (size_t) (w + 1) * h);
    zp = g_bytes_get_data (z, &zn);
    png_chunk_ (out, "IDAT", zp, zn);
    png_chunk_ (out, "IEND", NULL, 0);
    write_raw_ (path, out->data, out->len);
}

/* Saves an RGB or RGBA image (@nc = 3 or 4, tightly packed) with gdk-pixbuf. */
static void
save_pixbuf_ (const char *path, const char *type, const guint8 *px, int w, int h, int nc)
{
    g_autoptr(GdkPixbuf) pb = gdk_pixbuf_new (GDK_COLORSPACE_RGB, nc == 4, 8, w, h);
    guint8 *dst = gdk_pixbuf_get_pixels (pb);
    int stride = gdk_pixbuf_get_rowstride (pb);
    GError *error = NULL;

    for (int y = 0; y < h; y++)
        memcpy (dst + (size_t) y * stride, px + (size_t) y * w * nc, (size_t) w * nc);
    if (g_str_equal (type, "jpeg"))
        g_assert_true (gdk_pixbuf_save (pb, path, type, &error, "quality", "100", NULL));
    else
        g_assert_true (gdk_pixbuf_save (pb, path, type, &error, NULL));
    g_assert_no_error (error);
}

/* An .npy v1.0 file with any descr, written by hand (io.h writes only f32/u8). */
static void
write_npy_ (const char *path, const char *descr, const char *shape, const void *data, size_t len)
{
    g_autofree char *dict = g_strdup_printf ("{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                                             descr, shape);
    size_t hl = strlen (dict) + 1, total;
    g_autofree guint8 *buf = NULL;

    total = 10 + hl;
    total = (total + 63) / 64 * 64;
    hl = total - 10;
    buf = g_malloc (total + len);
    memcpy (buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = hl & 0xff;
    buf[9] = hl >> 8;
    memset (buf + 10, ' ', hl);
    memcpy (buf + 10, dict, strlen (dict));
    buf[total - 1] = '\n';
    memcpy (buf + total, data, len);
    write_raw_ (path, buf, total + len);
}

static void
write_u8_npy_ (const char *path, const guint8 *data, int ndim, const int64_t *shape)
{
    g_autoptr(DinolabArray) a = dinolab_array_new (DINOLAB_DTYPE_U8, ndim, shape);
    GError *error = NULL;

    memcpy (a->data, data, (size_t) dinolab_array_numel (a));
    g_assert_true (dinolab_npy_write (path, a, &error));
    g_assert_no_error (error);
}

static DinolabDataset *
open_ok_ (const char *spec, DinolabSplit split)
{
    GError *error = NULL;
    DinolabDataset *ds = dinolab_dataset_open (spec, split, &error);
    g_assert_no_error (error);
    g_assert_nonnull (ds);
    g_test_message ("%s: %s", spec, dinolab_dataset_get_description (ds));
    return ds;
}

/* Opening @spec must fail with @code and a message containing each of the
 * NULL-terminated strings that follow. */
static void
expect_open_error_ (const char *spec, DinolabSplit split, int code, ...)
{
    GError *error = NULL;
    DinolabDataset *ds = dinolab_dataset_open (spec, split, &error);
    va_list ap;
    const char *needle;

    g_assert_null (ds);
    g_assert_nonnull (error);
    g_test_message ("%s -> %s", spec, error->message);
    g_assert_error (error, DINOLAB_ERROR, code);
    va_start (ap, code);
    while ((needle = va_arg (ap, const char *)) != NULL)
        if (strstr (error->message, needle) == NULL)
            g_error ("message \"%s\" does not contain \"%s\"", error->message, needle);
    va_end (ap);
    g_error_free (error);
}

static void
get_image_ok_ (DinolabDataset *ds, gsize i, DinolabImage *img)
{
    GError *error = NULL;
    g_assert_true (dinolab_dataset_get_image (ds, i, img, &error));
    g_assert_no_error (error);
}

// ----------------------------------------------------------------------------
// naive reference resampler (Pillow's Resample.c, written out independently:
// coefficient tables in double, 8-bit intermediate, round half up)

static double
ref_cubic_ (double x)
{
    x = fabs (x);
    if (x < 1.0)
        return 1.5 * x * x * x - 2.5 * x * x + 1.0;   /* (a+2)x^3 - (a+3)x^2 + 1, a = -0.5 */
    if (x < 2.0)
        return -0.5 * x * x * x + 2.5 * x * x - 4.0 * x + 2.0;   /* a(x^3 - 5x^2 + 8x - 4) */
    return 0.0;
}

/* For each output pixel: first input, count, and normalised weights (kmax per row). */
static int
ref_coeffs_ (int n_in, int n_out, int **lo_out, int **cnt_out, double **w_out)
{
    double scale = (double) n_in / n_out, fs = MAX (scale, 1.0), support = 2.0 * fs;
    int kmax = (int) ceil (support) * 2 + 1;
    int *lo = g_new (int, n_out), *cnt = g_new (int, n_out);
    double *w = g_new0 (double, (size_t) n_out * kmax);

    for (int o = 0; o < n_out; o++) {
        double center = (o + 0.5) * scale, sum = 0.0;
        int a = (int) (center - support + 0.5), b = (int) (center + support + 0.5);
        a = MAX (a, 0);
        b = MIN (b, n_in);
        lo[o] = a;
        cnt[o] = b - a;
        for (int k = 0; k < b - a; k++) {
            w[o * kmax + k] = ref_cubic_ ((a + k - center + 0.5) / fs);
            sum += w[o * kmax + k];
        }
        for (int k = 0; k < b - a; k++)
            w[o * kmax + k] /= sum;
    }
    *lo_out = lo;
    *cnt_out = cnt;
    *w_out = w;
    return kmax;
}

static guint8
ref_clip_ (double v)
{
    double r = floor (v + 0.5);
    return r < 0 ? 0 : r > 255 ? 255 : (guint8) r;
}

static void
ref_resize_ (guint8 *dst, int dw, int dh, const guint8 *src, int W, int C, int x0, int y0,
             int w, int h)
{
    int *xlo, *xcnt, *ylo, *ycnt;
    double *xw, *yw;
    int kx = ref_coeffs_ (w, dw, &xlo, &xcnt, &xw);
    int ky = ref_coeffs_ (h, dh, &ylo, &ycnt, &yw);
    guint8 *mid = g_malloc ((size_t) h * dw * C);

    for (int y = 0; y < h; y++)
        for (int xo = 0; xo < dw; xo++)
            for (int c = 0; c < C; c++) {
                double s = 0.0;
                for (int k = 0; k < xcnt[xo]; k++)
                    s += xw[xo * kx + k] * src[((size_t) (y0 + y) * W + x0 + xlo[xo] + k) * C + c];
                mid[((size_t) y * dw + xo) * C + c] = ref_clip_ (s);
            }
    for (int yo = 0; yo < dh; yo++)
        for (int xo = 0; xo < dw; xo++)
            for (int c = 0; c < C; c++) {
                double s = 0.0;
                for (int k = 0; k < ycnt[yo]; k++)
                    s += yw[yo * ky + k] * mid[((size_t) (ylo[yo] + k) * dw + xo) * C + c];
                dst[((size_t) yo * dw + xo) * C + c] = ref_clip_ (s);
            }
    g_free (xlo);
    g_free (xcnt);
    g_free (xw);
    g_free (ylo);
    g_free (ycnt);
    g_free (yw);
    g_free (mid);
}

static void
resize_ (guint8 *dst, int dw, int dh, const guint8 *src, int W, int H, int C, int x0, int y0,
         int w, int h)
{
    g_autofree float *tmp = g_malloc ((size_t) h * dw * C * sizeof (float));
    image_resize_bicubic (dst, dw, dh, src, W, H, C, x0, y0, w, h, tmp);
}

static size_t n_diff_over_1;

static int
max_abs_diff_u8_ (const guint8 *a, const guint8 *b, size_t n, size_t *n_diff)
{
    int m = 0;
    *n_diff = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs ((int) a[i] - (int) b[i]);
        m = MAX (m, d);
        *n_diff += d != 0;
        n_diff_over_1 += d > 1;
    }
    return m;
}

static void
fill_random_u8_ (guint8 *p, size_t n, guint32 seed)
{
    GRand *r = g_rand_new_with_seed (seed);
    for (size_t i = 0; i < n; i++)
        p[i] = (guint8) g_rand_int_range (r, 0, 256);
    g_rand_free (r);
}

// ----------------------------------------------------------------------------
// resampler tests

static void
test_image_identity (void)
{
    guint8 src[9 * 11 * 3], dst[9 * 11 * 3];

    fill_random_u8_ (src, sizeof src, 1);
    /* whole image, 1 and 3 channels */
    resize_ (dst, 11, 9, src, 11, 9, 3, 0, 0, 11, 9);
    g_assert_cmpmem (dst, sizeof src, src, sizeof src);
    resize_ (dst, 33, 3, src, 33, 3, 1, 0, 0, 33, 3);
    g_assert_cmpmem (dst, 99, src, 99);
    /* a sub-rectangle at its own size is that crop */
    resize_ (dst, 4, 5, src, 11, 9, 3, 6, 2, 4, 5);
    for (int y = 0; y < 5; y++)
        g_assert_cmpmem (dst + y * 4 * 3, 12, src + ((2 + y) * 11 + 6) * 3, 12);
}

static void
test_image_constant (void)
{
    static const int sizes[][4] = { /* w, h, dw, dh */
        { 28, 28, 224, 224 }, { 28, 28, 7, 5 }, { 5, 3, 1, 1 }, { 1, 1, 13, 9 },
        { 300, 7, 11, 40 }, { 2, 2, 3, 3 },
    };

    for (guint k = 0; k < G_N_ELEMENTS (sizes); k++) {
        int w = sizes[k][0], h = sizes[k][1], dw = sizes[k][2], dh = sizes[k][3];
        g_autofree guint8 *src = g_malloc ((size_t) w * h * 3);
        g_autofree guint8 *dst = g_malloc ((size_t) dw * dh * 3);
        for (int p = 0; p < w * h; p++) {
            src[3 * p] = 0;
            src[3 * p + 1] = 137;
            src[3 * p + 2] = 255;
        }
        resize_ (dst, dw, dh, src, w, h, 3, 0, 0, w, h);
        for (int p = 0; p < dw * dh; p++) {
            g_assert_cmpuint (dst[3 * p], ==, 0);
            g_assert_cmpuint (dst[3 * p + 1], ==, 137);
            g_assert_cmpuint (dst[3 * p + 2], ==, 255);
        }
    }
}

static void
test_image_monotone (void)
{
    /* Upscaling a ramp stays a ramp: a 2-pixel one (edge clamping on both sides) and
     * a longer linear one (cubic convolution reproduces lines in the interior). */
    static const guint8 two[2] = { 0, 255 };
    guint8 ramp[6], out[64];

    for (int x = 0; x < 6; x++)
        ramp[x] = (guint8) (40 * x + 20);
    for (int dw = 3; dw <= 64; dw += 7) {
        resize_ (out, dw, 1, two, 2, 1, 1, 0, 0, 2, 1);
        for (int x = 1; x < dw; x++)
            g_assert_cmpuint (out[x], >=, out[x - 1]);
        g_assert_cmpuint (out[0], <, out[dw - 1]);
        resize_ (out, dw, 1, ramp, 6, 1, 1, 0, 0, 6, 1);
        for (int x = 1; x < dw; x++)
            g_assert_cmpuint (out[x], >=, out[x - 1]);
    }
    /* vertical too */
    resize_ (out, 1, 40, two, 1, 2, 1, 0, 0, 1, 2);
    for (int y = 1; y < 40; y++)
        g_assert_cmpuint (out[y], >=, out[y - 1]);
}

/* Expected outputs made with python3-pil 9.4.0 (Debian 12):
 *     a[y, x, c] = (x*37 + y*91 + c*53 + x*y*11) % 256    (uint8, H x W x C)
 *     Image.fromarray(a).crop((x0, y0, x0 + w, y0 + h)).resize((dw, dh), Image.BICUBIC)
 * (mode 'L' for one channel, 'RGB' for three). */
static const struct {
    int H, W, C, x0, y0, w, h, dw, dh;
    guint8 want[64];
} pil_cases[] = {
    { 6, 8, 1, 0, 0, 8, 6, 5, 4,
      { 41, 116, 130, 150, 116, 168, 144, 133, 127, 102, 88, 121, 132, 90, 183, 138, 97, 134,
        115, 137 } },
    { 6, 8, 1, 1, 1, 5, 4, 9, 7,
      { 125, 148, 191, 235, 245, 114, 10, 43, 67, 178, 164, 140, 165, 190, 123, 71, 106, 128,
        255, 186, 60, 56, 105, 136, 166, 204, 223, 168, 145, 103, 128, 165, 127, 105, 158, 188,
        81, 103, 146, 199, 225, 121, 40, 80, 108, 160, 125, 65, 89, 140, 146, 122, 57, 31, 213,
        141, 14, 19, 85, 161, 176, 49, 0 } },
    { 5, 7, 3, 2, 0, 4, 5, 3, 6,
      { 76, 132, 192, 130, 188, 250, 183, 235, 88, 193, 180, 68, 131, 67, 139, 68, 147, 163,
        114, 138, 128, 132, 140, 103, 150, 78, 88, 103, 127, 117, 133, 141, 111, 173, 101, 105,
        159, 146, 38, 137, 73, 113, 67, 146, 187, 23, 79, 155, 145, 203, 114, 48, 100, 72 } },
    { 9, 9, 1, 0, 0, 9, 9, 2, 2, { 120, 131, 136, 131 } },
};

static void
test_image_pil (void)
{
    for (guint k = 0; k < G_N_ELEMENTS (pil_cases); k++) {
        int H = pil_cases[k].H, W = pil_cases[k].W, C = pil_cases[k].C;
        int dw = pil_cases[k].dw, dh = pil_cases[k].dh, n = dw * dh * C;
        g_autofree guint8 *src = g_malloc ((size_t) H * W * C);
        g_autofree guint8 *got = g_malloc ((size_t) n);
        size_t n_diff;
        int m;

        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < C; c++)
                    src[(y * W + x) * C + c] = (guint8) ((x * 37 + y * 91 + c * 53 + x * y * 11) % 256);
        resize_ (got, dw, dh, src, W, H, C, pil_cases[k].x0, pil_cases[k].y0, pil_cases[k].w,
                 pil_cases[k].h);
        m = max_abs_diff_u8_ (got, pil_cases[k].want, (size_t) n, &n_diff);
        g_test_message ("PIL case %u: max diff %d, %zu of %d values differ", k, m, n_diff, n);
        g_assert_cmpint (m, <=, 1);
    }
}

static void
test_image_reference (void)
{
    /* Many random shapes, crops and sizes, up and down, against the naive version.
     * Float vs double weights may round a value that sits on (or within ~1e-5 of) a
     * half the other way: 1 level, rarely; when that happens in the intermediate row
     * and again in the vertical pass, 2 levels (2 values of 1.5 million here). */
    GRand *r = g_rand_new_with_seed (7);
    size_t total = 0, total_diff = 0;
    int worst = 0;

    n_diff_over_1 = 0;
    for (int t = 0; t < 300; t++) {
        int C = g_rand_boolean (r) ? 3 : 1;
        int W = g_rand_int_range (r, 1, 70), H = g_rand_int_range (r, 1, 70);
        int w = g_rand_int_range (r, 1, W + 1), h = g_rand_int_range (r, 1, H + 1);
        int x0 = g_rand_int_range (r, 0, W - w + 1), y0 = g_rand_int_range (r, 0, H - h + 1);
        int dw = g_rand_int_range (r, 1, 100), dh = g_rand_int_range (r, 1, 100);
        size_t n = (size_t) dw * dh * C, n_diff;
        g_autofree guint8 *src = g_malloc ((size_t) W * H * C);
        g_autofree guint8 *got = g_malloc (n);
        g_autofree guint8 *want = g_malloc (n);

        fill_random_u8_ (src, (size_t) W * H * C, (guint32) t);
        resize_ (got, dw, dh, src, W, H, C, x0, y0, w, h);
        ref_resize_ (want, dw, dh, src, W, C, x0, y0, w, h);
        worst = MAX (worst, max_abs_diff_u8_ (got, want, n, &n_diff));
        total += n;
        total_diff += n_diff;
    }
    g_rand_free (r);
    g_test_message ("vs naive reference: max diff %d, %zu of %zu values differ, %zu by more "
                    "than 1", worst, total_diff, total, n_diff_over_1);
    g_assert_cmpint (worst, <=, 2);
    g_assert_cmpuint (total_diff * 1000, <, total);        /* under 0.1 % */
    g_assert_cmpuint (n_diff_over_1 * 100000, <, total);   /* under 0.001 % */
}

static void
test_image_window (void)
{
    /* A window of the result equals the full result cropped, byte for byte. */
    guint8 src[37 * 23 * 3];
    g_autofree guint8 *full = g_malloc (41 * 29 * 3);
    g_autofree guint8 *win = g_malloc (41 * 29 * 3);
    g_autofree float *tmp = g_malloc (23 * 41 * 3 * sizeof (float));

    fill_random_u8_ (src, sizeof src, 3);
    for (int dwh = 0; dwh < 2; dwh++) {
        int dw = dwh ? 41 : 12, dh = dwh ? 29 : 9;
        resize_ (full, dw, dh, src, 37, 23, 3, 2, 1, 33, 22);
        for (int ox = 0; ox < dw; ox += 5)
            for (int oy = 0; oy < dh; oy += 4) {
                int ow = MIN (7, dw - ox), oh = MIN (6, dh - oy);
                image_resize_bicubic_window (win, ox, oy, ow, oh, dw, dh, src, 37, 23, 3, 2, 1,
                                             33, 22, tmp);
                for (int y = 0; y < oh; y++)
                    g_assert_cmpmem (win + (size_t) y * ow * 3, (size_t) ow * 3,
                                     full + ((size_t) (oy + y) * dw + ox) * 3, (size_t) ow * 3);
            }
    }
}

// ----------------------------------------------------------------------------
// IDX

static void
check_idx_items_ (DinolabDataset *ds, guint32 n, int rows, int cols)
{
    g_assert_cmpuint (dinolab_dataset_get_size (ds), ==, n);
    g_assert_cmpint (dinolab_dataset_get_channels (ds), ==, 1);
    g_assert_cmpint (dinolab_dataset_get_width (ds), ==, cols);
    g_assert_cmpint (dinolab_dataset_get_height (ds), ==, rows);
    for (guint32 i = 0; i < n; i++) {
        g_auto(DinolabImage) img = { 0 };
        g_assert_cmpint (dinolab_dataset_get_label (ds, i), ==, (int) ((i * 3 + 1) % 10));
        get_image_ok_ (ds, i, &img);
        g_assert_cmpint (img.width, ==, cols);
        g_assert_cmpint (img.height, ==, rows);
        g_assert_cmpint (img.channels, ==, 1);
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < cols; x++)
                g_assert_cmpuint (img.pixels[y * cols + x], ==, idx_pixel_ ((int) i, y, x));
    }
}

static void
test_idx (void)
{
    g_autofree char *raw = tmp_path_ ("idx-raw", NULL);
    g_autofree char *gz = tmp_path_ ("idx-gz", NULL);
    g_autofree char *spec = NULL;
    DinolabDataset *ds;

    /* non-square on purpose: rows 5, cols 4 */
    write_idx_split_ (raw, "train-", FALSE, 7, 5, 4);
    write_idx_split_ (raw, "t10k-", FALSE, 3, 5, 4);
    write_idx_split_ (gz, "train-", TRUE, 6, 5, 4);
    write_idx_split_ (gz, "t10k-", TRUE, 2, 5, 4);

    spec = g_strdup_printf ("mnist:%s", raw);
    ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);
    check_idx_items_ (ds, 7, 5, 4);
    g_assert_cmpuint (dinolab_dataset_get_n_classes (ds), ==, 10);
    g_assert_cmpstr (dinolab_dataset_get_class_name (ds, 7), ==, "7");
    g_assert_cmpstr (dinolab_dataset_get_spec (ds), ==, spec);
    g_assert_cmpstr (dinolab_dataset_get_description (ds), ==, "MNIST train, 7 images 4x5, 10 classes");
    g_assert_cmpuint (dinolab_dataset_get_n_skipped (ds), ==, 0);
    dinolab_dataset_free (ds);
    ds = open_ok_ (spec, DINOLAB_SPLIT_TEST);
    check_idx_items_ (ds, 3, 5, 4);
    dinolab_dataset_free (ds);

    g_free (spec);
    spec = g_strdup_printf ("fashion-mnist:%s", gz);
    ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);
    check_idx_items_ (ds, 6, 5, 4);
    g_assert_cmpstr (dinolab_dataset_get_class_name (ds, 0), ==, "T-shirt/top");
    g_assert_cmpstr (dinolab_dataset_get_class_name (ds, 9), ==, "Ankle boot");
    dinolab_dataset_free (ds);
    ds = open_ok_ (spec, DINOLAB_SPLIT_TEST);
    check_idx_items_ (ds, 2, 5, 4);
    dinolab_dataset_free (ds);

    g_free (spec);
    spec = g_strdup_printf ("KMNIST:%s", gz);   /* kinds are case-insensitive */
    ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);
    g_assert_cmpstr (dinolab_dataset_get_class_name (ds, 0), ==, "o");
    g_assert_cmpstr (dinolab_dataset_get_class_name (ds, 9), ==, "wo");
    dinolab_dataset_free (ds);

    /* idx: one file; labels and the other split found by name */
    g_free (spec);
    spec = g_strdup_printf ("idx:%s/train-images-idx3-ubyte.gz", gz);
    ds = open_ok_ (spec, DINOLAB_SPLIT_TEST);
    check_idx_items_ (ds, 2, 5, 4);
    dinolab_dataset_free (ds);
    g_free (spec);
    spec = g_strdup_printf ("idx:%s/t10k-images-idx3-ubyte", raw);
    ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);
    check_idx_items_ (ds, 7, 5, 4);
    dinolab_dataset_free (ds);
}

static void
test_emnist (void)
{
    /* EMNIST stores images transposed; the dataset hands them out upright. */
    g_autofree char *dir = tmp_path_ ("emnist", "gzip", NULL);
    g_autofree char *root = tmp_path_ ("emnist", NULL);
    g_autofree char *images = NULL, *labels = NULL, *mapping = NULL, *spec = NULL;
    guint8 px[2 * 3 * 4], lb[2] = { 2, 0 };
    guint32 dims[3] = { 2, 3, 4 };   /* stored: n, 3 "rows", 4 "cols" = transposed 4 x 3 */
    static const char map_text[] = "0 48\n1 65\n2 97\n";
    DinolabDataset *ds;

    for (int k = 0; k < 24; k++)
        px[k] = (guint8) (k * 10);
    mkdir_p_ (dir);
    images = g_build_filename (dir, "emnist-balanced-train-images-idx3-ubyte.gz", NULL);
    labels = g_build_filename (dir, "emnist-balanced-train-labels-idx1-ubyte.gz", NULL);
    mapping = g_build_filename (dir, "emnist-balanced-mapping.txt", NULL);
    write_idx_ (images, TRUE, 0x803, dims, 3, px, sizeof px);
    write_idx_ (labels, TRUE, 0x801, dims, 1, lb, 2);
    write_raw_ (mapping, map_text, strlen (map_text));

    spec = g_strdup_printf ("emnist:%s", root);
    ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);
    g_assert_cmpuint (dinolab_dataset_get_size (ds), ==, 2);
    g_assert_cmpint (dinolab_dataset_get_width (ds), ==, 3);
    g_assert_cmpint (dinolab_dataset_get_height (ds), ==, 4);
    g_assert_cmpuint (dinolab_dataset_get_n_classes (ds), ==, 3);
    g_assert_cmpstr (dinolab_dataset_get_class_name (ds, 1), ==, "A");
    g_assert_cmpstr (dinolab_dataset_get_class_name (ds, 2), ==, "a");
    g_assert_cmpint (dinolab_dataset_get_label (ds, 0), ==, 2);
    {
        g_auto(DinolabImage) img = { 0 };
        get_image_ok_ (ds, 1, &img);
        /* upright (y, x) = stored (x, y): stored item 1 is 3 x 4 at px[12..] */
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 3; x++)
                g_assert_cmpuint (img.pixels[y * 3 + x], ==, px[12 + x * 4 + y]);
    }
    g_assert_nonnull (strstr (dinolab_dataset_get_description (ds), "EMNIST balanced"));
    dinolab_dataset_free (ds);
}

// ----------------------------------------------------------------------------
// CIFAR

static guint8
cifar_pixel_ (int item, int c, int y, int x)
{
    return (guint8) ((item * 41 + c * 97 + y * 5 + x * 3) % 256);
}

/* @n records starting at global item @first; labels given per record. */
static void
write_cifar_ (const char *path, int first, int n, int label_bytes, const guint8 *labels)
{
    size_t rec = (size_t) label_bytes + 3072;
    g_autofree guint8 *buf = g_malloc (rec * n);

    for (int r = 0; r < n; r++) {
        guint8 *p = buf + rec * r;
        memcpy (p, labels + r * label_bytes, (size_t) label_bytes);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    p[label_bytes + c * 1024 + y * 32 + x] = cifar_pixel_ (first + r, c, y, x);
    }
    write_raw_ (path, buf, rec * n);
}

static void
check_cifar_pixels_ (DinolabDataset *ds, gsize i, int global)
{
    g_auto(DinolabImage) img = { 0 };

    get_image_ok_ (ds, i, &img);
    g_assert_cmpint (img.width, ==, 32);
    g_assert_cmpint (img.height, ==, 32);
    g_assert_cmpint (img.channels, ==, 3);
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++)
            for (int c = 0; c < 3; c++)
                g_assert_cmpuint (img.pixels[(y * 32 + x) * 3 + c], ==, cifar_pixel_ (global, c, y, x));
}

static void
test_cifar10 (void)
{
    g_autofree char *root = tmp_path_ ("cifar10", NULL);
    g_autofree char *dir = tmp_path_ ("cifar10", "cifar-10-batches-bin", NULL);
    g_autofree char *b1 = g_build_filename (dir, "data_batch_1.bin", NULL);
    g_autofree char *b2 = g_build_filename (dir, "data_batch_2.bin", NULL);
    g_autofree char *tb = g_build_filename (dir, "test_batch.bin", NULL);
    g_autofree char *spec = g_strdup_printf ("cifar10:%s", root);
    static const guint8 l1[3] = { 6, 9, 0 }, l2[2] = { 3, 1 }, lt[2] = { 8, 2 };
    DinolabDataset *ds;

    mkdir_p_ (dir);
    write_cifar_ (b1, 0, 3, 1, l1);
    write_cifar_ (b2, 3, 2, 1, l2);
    write_cifar_ (tb, 100, 2, 1, lt);

    ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);
    g_assert_cmpuint (dinolab_dataset_get_size (ds), ==, 5);
    g_assert_cmpint (dinolab_dataset_get_channels (ds), ==, 3);
    g_assert_cmpint (dinolab_dataset_get_width (ds), ==, 32);
    g_assert_cmpuint (dinolab_dataset_get_n_classes (ds), ==, 10);
    g_assert_cmpstr (dinolab_dataset_get_class_name (ds, 0), ==, "airplane");
    g_assert_cmpstr (dinolab_dataset_get_class_name (ds, 9), ==, "truck");
    g_assert_cmpint (dinolab_dataset_get_label (ds, 1), ==, 9);
    g_assert_cmpint (dinolab_dataset_get_label (ds, 3), ==, 3);
    g_assert_cmpint (dinolab_dataset_get_label (ds, 4), ==, 1);
    check_cifar_pixels_ (ds, 0, 0);
    check_cifar_pixels_ (ds, 4, 4);   /* second file */
    g_assert_cmpstr (dinolab_dataset_get_description (ds), ==,
                     "CIFAR-10 train, 5 images 32x32, 10 classes");
    dinolab_dataset_free (ds);

    ds = open_ok_ (spec, DINOLAB_SPLIT_TEST);
    g_assert_cmpuint (dinolab_dataset_get_size (ds), ==, 2);
    g_assert_cmpint (dinolab_dataset_get_label (ds, 0), ==, 8);
    check_cifar_pixels_ (ds, 1, 101);
    dinolab_dataset_free (ds);
}

static void
test_cifar100 (void)
{
    g_autofree char *dir = tmp_path_ ("cifar100", NULL);
    g_autofree char *train = g_build_filename (dir, "train.bin", NULL);
    g_autofree char *test = g_build_filename (dir, "test.bin", NULL);
    g_autofree char *names = g_build_filename (dir, "fine_label_names.txt", NULL);
    g_autofree char *spec = g_strdup_printf ("cifar100:%s", dir);
    g_autofree char *spec_coarse = g_strdup_printf ("cifar100-coarse:%s", dir);
    static const guint8 lt[4 * 2] = { 19, 99, 0, 42, 7, 0, 11, 55 };   /* coarse, fine */
    GString *text = g_string_new (NULL);
    DinolabDataset *ds;

    mkdir_p_ (dir);
    write_cifar_ (train, 0, 4, 2, lt);
    write_cifar_ (test, 50, 1, 2, lt);
    for (int c = 0; c < 100; c++)
        g_string_append_printf (text, "fine%02d\n", c);
    write_raw_ (names, text->str, text->len);
    g_string_free (text, TRUE);

    ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);
    g_assert_cmpuint (dinolab_dataset_get_size (ds), ==, 4);
    g_assert_cmpuint (dinolab_dataset_get_n_classes (ds), ==, 100);
    g_assert_cmpint (dinolab_dataset_get_label (ds, 0), ==, 99);
    g_assert_cmpint (dinolab_dataset_get_label (ds, 1), ==, 42);
    g_assert_cmpint (dinolab_dataset_get_label (ds, 3), ==, 55);
    g_assert_cmpstr (dinolab_dataset_get_class_name (ds, 42), ==, "fine42");
    check_cifar_pixels_ (ds, 2, 2);
    dinolab_dataset_free (ds);

    ds = open_ok_ (spec_coarse, DINOLAB_SPLIT_TRAIN);
    g_assert_cmpuint (dinolab_dataset_get_n_classes (ds), ==, 20);
    g_assert_cmpint (dinolab_dataset_get_label (ds, 0), ==, 19);
    g_assert_cmpint (dinolab_dataset_get_label (ds, 2), ==, 7);
    g_assert_cmpstr (dinolab_dataset_get_class_name (ds, 19), ==, "19");   /* no names file */
    dinolab_dataset_free (ds);

    ds = open_ok_ (spec, DINOLAB_SPLIT_TEST);
    g_assert_cmpuint (dinolab_dataset_get_size (ds), ==, 1);
    check_cifar_pixels_ (ds, 0, 50);
    dinolab_dataset_free (ds);
}

// ----------------------------------------------------------------------------
// image folders

static guint8
folder_pixel_ (int seed, int y, int x, int c)
{
    return (guint8) ((seed * 50 + y * 17 + x * 9 + c * 70) % 256);
}

/* An RGB(A) PNG with folder_pixel_ values (alpha, when there, varies down to 0). */
static void
write_png_ (const char *path, int seed, int w, int h, gboolean alpha)
{
    int nc = alpha ? 4 : 3;
    g_autofree guint8 *px = g_malloc ((size_t) w * h * nc);

    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            for (int c = 0; c < 3; c++)
                px[(y * w + x) * nc + c] = folder_pixel_ (seed, y, x, c);
            if (alpha)
                px[(y * w + x) * nc + 3] = (guint8) ((x * 255) / MAX (w - 1, 1));
        }
    save_pixbuf_ (path, "png", px, w, h, nc);
}

static void
check_folder_png_ (DinolabDataset *ds, gsize i, int seed, int w, int h)
{
    g_auto(DinolabImage) img = { 0 };

    get_image_ok_ (ds, i, &img);
    g_assert_cmpint (img.width, ==, w);
    g_assert_cmpint (img.height, ==, h);
    g_assert_cmpint (img.channels, ==, 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                g_assert_cmpuint (img.pixels[(y * w + x) * 3 + c], ==, folder_pixel_ (seed, y, x, c));
}

static void
write_text_ (const char *path, const char *text)
{
    write_raw_ (path, text, strlen (text));
}

static void
test_folder (void)
{
    g_autofree char *root = tmp_path_ ("folder", NULL);
    g_autofree char *cat = tmp_path_ ("folder", "cat", NULL);
    g_autofree char *cat_sub = tmp_path_ ("folder", "cat", "sub", NULL);
    g_autofree char *dog = tmp_path_ ("folder", "dog", NULL);
    g_autofree char *hidden = tmp_path_ ("folder", ".thumbnails", NULL);
    g_autofree char *spec = g_strdup_printf ("folder:%s", root);
    char *p = NULL;
    guint8 gray[6 * 5], jpeg_px[16 * 16 * 3];
    DinolabDataset *ds;

    mkdir_p_ (cat_sub);
    mkdir_p_ (dog);
    mkdir_p_ (hidden);
    /* cat: b.png (RGBA), a.png (RGB), sub/c.png (hand-made grayscale PNG) */
    p = g_build_filename (cat, "b.png", NULL);
    write_png_ (p, 2, 7, 4, TRUE);
    g_free (p);
    p = g_build_filename (cat, "a.png", NULL);
    write_png_ (p, 1, 5, 6, FALSE);
    g_free (p);
    for (int k = 0; k < 30; k++)
        gray[k] = (guint8) (k * 8 + 3);
    p = g_build_filename (cat_sub, "c.png", NULL);
    write_gray_png_ (p, gray, 6, 5);
    g_free (p);
    p = g_build_filename (cat, "notes.txt", NULL);   /* not an image extension: ignored */
    write_text_ (p, "not an image");
    g_free (p);
    /* dog: d.JPG (a flat colour JPEG) and a corrupt PNG, skipped and counted */
    for (int k = 0; k < 16 * 16; k++) {
        jpeg_px[3 * k] = 200;
        jpeg_px[3 * k + 1] = 40;
        jpeg_px[3 * k + 2] = 90;
    }
    p = g_build_filename (dog, "d.JPG", NULL);
    save_pixbuf_ (p, "jpeg", jpeg_px, 16, 16, 3);
    g_free (p);
    p = g_build_filename (dog, "broken.png", NULL);
    write_text_ (p, "this is not a PNG file at all");
    g_free (p);
    /* and a PNG and a JPEG cut in half (headers fine, end markers gone): skipped too */
    for (int k = 0; k < 2; k++) {
        g_autofree char *whole = g_build_filename (tmpdir, k ? "whole.jpg" : "whole.png", NULL);
        g_autofree char *contents = NULL;
        gsize len = 0;
        g_autofree guint8 *noise = g_malloc (64 * 64 * 3);
        fill_random_u8_ (noise, 64 * 64 * 3, 5);   /* big enough to cut after the header */
        save_pixbuf_ (whole, k ? "jpeg" : "png", noise, 64, 64, 3);
        g_assert_true (g_file_get_contents (whole, &contents, &len, NULL));
        p = g_build_filename (dog, k ? "trunc.jpg" : "trunc.png", NULL);
        write_raw_ (p, contents, len / 2);
        g_free (p);
    }
    /* loose file in root and hidden folder: ignored, as ImageFolder ignores the former */
    p = g_build_filename (root, "loose.png", NULL);
    write_png_ (p, 9, 3, 3, FALSE);
    g_free (p);
    p = g_build_filename (hidden, "x.png", NULL);
    write_png_ (p, 9, 3, 3, FALSE);
    g_free (p);

    ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);
    g_assert_cmpuint (dinolab_dataset_get_size (ds), ==, 4);
    g_assert_cmpint (dinolab_dataset_get_channels (ds), ==, 3);
    g_assert_cmpint (dinolab_dataset_get_width (ds), ==, 0);    /* sizes differ */
    g_assert_cmpint (dinolab_dataset_get_height (ds), ==, 0);
    g_assert_cmpuint (dinolab_dataset_get_n_classes (ds), ==, 2);
    g_assert_cmpstr (dinolab_dataset_get_class_name (ds, 0), ==, "cat");
    g_assert_cmpstr (dinolab_dataset_get_class_name (ds, 1), ==, "dog");
    g_assert_cmpuint (dinolab_dataset_get_n_skipped (ds), ==, 3);
    g_assert_nonnull (strstr (dinolab_dataset_get_first_skipped (ds), "broken.png"));
    g_assert_nonnull (strstr (dinolab_dataset_get_description (ds), "3 unreadable files skipped"));
    /* sorted(os.walk()) order: cat/a.png, cat/b.png, cat/sub/c.png, dog/d.JPG */
    g_assert_cmpint (dinolab_dataset_get_label (ds, 0), ==, 0);
    g_assert_cmpint (dinolab_dataset_get_label (ds, 2), ==, 0);
    g_assert_cmpint (dinolab_dataset_get_label (ds, 3), ==, 1);
    check_folder_png_ (ds, 0, 1, 5, 6);
    check_folder_png_ (ds, 1, 2, 7, 4);   /* alpha dropped, colours kept */
    {
        g_auto(DinolabImage) img = { 0 };
        get_image_ok_ (ds, 2, &img);   /* gray -> 3 equal channels */
        g_assert_cmpint (img.width, ==, 6);
        g_assert_cmpint (img.height, ==, 5);
        for (int k = 0; k < 30; k++)
            for (int c = 0; c < 3; c++)
                g_assert_cmpuint (img.pixels[3 * k + c], ==, gray[k]);
    }
    {
        g_auto(DinolabImage) img = { 0 };
        get_image_ok_ (ds, 3, &img);   /* JPEG: lossy, a flat colour comes back close */
        g_assert_cmpint (img.width, ==, 16);
        for (int k = 0; k < 16 * 16 * 3; k++)
            g_assert_cmpint (abs ((int) img.pixels[k] - (int) jpeg_px[k]), <=, 4);
    }
    dinolab_dataset_free (ds);

    /* no train/ + val/: no test split */
    expect_open_error_ (spec, DINOLAB_SPLIT_TEST, DINOLAB_ERROR_INVALID_INPUT, root, "no test split", NULL);
}

static void
test_folder_flat_and_splits (void)
{
    g_autofree char *flat = tmp_path_ ("flat", NULL);
    g_autofree char *split = tmp_path_ ("split", NULL);
    g_autofree char *spec = g_strdup_printf ("folder:%s", flat);
    g_autofree char *spec2 = g_strdup_printf ("folder:%s", split);
    const char *const parts[][2] = { { "train", "a" }, { "train", "b" }, { "val", "a" }, { "val", "b" } };
    DinolabDataset *ds;

    mkdir_p_ (flat);
    for (int k = 0; k < 3; k++) {
        g_autofree char *name = g_strdup_printf ("img%d.png", 2 - k);
        g_autofree char *p = g_build_filename (flat, name, NULL);
        write_png_ (p, 10 + k, 4, 3, FALSE);
    }
    ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);
    g_assert_cmpuint (dinolab_dataset_get_size (ds), ==, 3);
    g_assert_cmpuint (dinolab_dataset_get_n_classes (ds), ==, 0);
    g_assert_cmpint (dinolab_dataset_get_label (ds, 0), ==, -1);
    g_assert_cmpint (dinolab_dataset_get_width (ds), ==, 4);
    g_assert_cmpint (dinolab_dataset_get_height (ds), ==, 3);
    g_assert_nonnull (strstr (dinolab_dataset_get_description (ds), "no labels"));
    check_folder_png_ (ds, 0, 12, 4, 3);   /* img0.png first */
    dinolab_dataset_free (ds);

    /* train/ and val/ are the splits */
    for (guint k = 0; k < G_N_ELEMENTS (parts); k++) {
        g_autofree char *d = g_build_filename (split, parts[k][0], parts[k][1], NULL);
        g_autofree char *p = g_build_filename (d, "x.png", NULL);
        mkdir_p_ (d);
        write_png_ (p, (int) k, 3, 3, FALSE);
        if (k == 0) {
            g_autofree char *p2 = g_build_filename (d, "y.png", NULL);
            write_png_ (p2, 20, 3, 3, FALSE);
        }
    }
    ds = open_ok_ (spec2, DINOLAB_SPLIT_TRAIN);
    g_assert_cmpuint (dinolab_dataset_get_size (ds), ==, 3);
    g_assert_cmpuint (dinolab_dataset_get_n_classes (ds), ==, 2);
    dinolab_dataset_free (ds);
    ds = open_ok_ (spec2, DINOLAB_SPLIT_TEST);
    g_assert_cmpuint (dinolab_dataset_get_size (ds), ==, 2);
    g_assert_cmpint (dinolab_dataset_get_label (ds, 1), ==, 1);
    check_folder_png_ (ds, 1, 3, 3, 3);
    dinolab_dataset_free (ds);
}

// ----------------------------------------------------------------------------
// npy

static void
test_npy (void)
{
    g_autofree char *dir = tmp_path_ ("npy", NULL);
    g_autofree char *images = g_build_filename (dir, "images.npy", NULL);
    g_autofree char *labels = g_build_filename (dir, "labels.npy", NULL);
    g_autofree char *spec = g_strdup_printf ("npy:%s", images);
    g_autofree char *dir3 = tmp_path_ ("npy-rgb", NULL);
    g_autofree char *train3 = g_build_filename (dir3, "train_images.npy", NULL);
    g_autofree char *test3 = g_build_filename (dir3, "test_images.npy", NULL);
    g_autofree char *test3_labels = g_build_filename (dir3, "test_labels.npy", NULL);
    g_autofree char *spec3 = g_strdup_printf ("npy:%s", train3);
    g_autofree char *dir4 = tmp_path_ ("npy-nchw", NULL);
    g_autofree char *nchw = g_build_filename (dir4, "x.npy", NULL);
    g_autofree char *spec4 = g_strdup_printf ("npy:%s", nchw);
    const int64_t s1[3] = { 4, 3, 5 }, s3[4] = { 2, 3, 4, 3 }, s4[4] = { 2, 3, 4, 5 };
    guint8 px1[4 * 3 * 5], px3[2 * 3 * 4 * 3], px4[2 * 3 * 4 * 5];
    const gint64 lab64[4] = { 3, 0, 11, 3 };
    const guint8 lab8[2] = { 1, 0 };
    DinolabDataset *ds;

    mkdir_p_ (dir);
    mkdir_p_ (dir3);
    mkdir_p_ (dir4);
    fill_random_u8_ (px1, sizeof px1, 11);
    fill_random_u8_ (px3, sizeof px3, 12);
    fill_random_u8_ (px4, sizeof px4, 13);
    write_u8_npy_ (images, px1, 3, s1);
    write_npy_ (labels, "<i8", "(4,)", lab64, sizeof lab64);
    write_u8_npy_ (train3, px3, 4, s3);
    write_u8_npy_ (test3, px3, 4, s3);
    write_npy_ (test3_labels, "|u1", "(2,)", lab8, sizeof lab8);
    write_u8_npy_ (nchw, px4, 4, s4);

    /* N x H x W with int64 labels */
    ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);
    g_assert_cmpuint (dinolab_dataset_get_size (ds), ==, 4);
    g_assert_cmpint (dinolab_dataset_get_channels (ds), ==, 1);
    g_assert_cmpint (dinolab_dataset_get_width (ds), ==, 5);
    g_assert_cmpint (dinolab_dataset_get_height (ds), ==, 3);
    g_assert_cmpuint (dinolab_dataset_get_n_classes (ds), ==, 12);
    g_assert_cmpint (dinolab_dataset_get_label (ds, 2), ==, 11);
    {
        g_auto(DinolabImage) img = { 0 };
        get_image_ok_ (ds, 3, &img);
        g_assert_cmpmem (img.pixels, 15, px1 + 45, 15);
    }
    dinolab_dataset_free (ds);
    expect_open_error_ (spec, DINOLAB_SPLIT_TEST, DINOLAB_ERROR_INVALID_INPUT, "no test split", NULL);

    /* N x H x W x 3, train without labels, test with uint8 labels */
    ds = open_ok_ (spec3, DINOLAB_SPLIT_TRAIN);
    g_assert_cmpint (dinolab_dataset_get_channels (ds), ==, 3);
    g_assert_cmpint (dinolab_dataset_get_width (ds), ==, 4);
    g_assert_cmpint (dinolab_dataset_get_height (ds), ==, 3);
    g_assert_cmpuint (dinolab_dataset_get_n_classes (ds), ==, 0);
    g_assert_cmpint (dinolab_dataset_get_label (ds, 1), ==, -1);
    {
        g_auto(DinolabImage) img = { 0 };
        get_image_ok_ (ds, 1, &img);
        g_assert_cmpmem (img.pixels, 36, px3 + 36, 36);
    }
    dinolab_dataset_free (ds);
    ds = open_ok_ (spec3, DINOLAB_SPLIT_TEST);
    g_assert_cmpuint (dinolab_dataset_get_n_classes (ds), ==, 2);
    g_assert_cmpint (dinolab_dataset_get_label (ds, 0), ==, 1);
    dinolab_dataset_free (ds);

    /* N x C x H x W (C = 3 second, last dim 5): transposed on read */
    ds = open_ok_ (spec4, DINOLAB_SPLIT_TRAIN);
    g_assert_cmpint (dinolab_dataset_get_channels (ds), ==, 3);
    g_assert_cmpint (dinolab_dataset_get_width (ds), ==, 5);
    g_assert_cmpint (dinolab_dataset_get_height (ds), ==, 4);
    {
        g_auto(DinolabImage) img = { 0 };
        get_image_ok_ (ds, 1, &img);
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 5; x++)
                for (int c = 0; c < 3; c++)
                    g_assert_cmpuint (img.pixels[(y * 5 + x) * 3 + c], ==,
                                      px4[60 + c * 20 + y * 5 + x]);
    }
    dinolab_dataset_free (ds);
}

// ----------------------------------------------------------------------------
// normalisation

static void
test_normalization (void)
{
    g_autofree char *dir = tmp_path_ ("norm", NULL);
    g_autofree char *train = g_build_filename (dir, "train_images.npy", NULL);
    g_autofree char *test = g_build_filename (dir, "test_images.npy", NULL);
    g_autofree char *spec = g_strdup_printf ("npy:%s", train);
    g_autofree char *cache = tmp_path_ ("cache", "normalization", NULL);
    const int64_t shape[4] = { 5, 6, 7, 3 };
    guint8 px[5 * 6 * 7 * 3], px_test[5 * 6 * 7 * 3];
    double want_mean[3], want_std[3];
    float mean[3], std[3];
    GError *error = NULL;
    DinolabDataset *ds;
    g_autoptr(GDir) d = NULL;
    const char *name;
    guint n_files = 0;

    mkdir_p_ (dir);
    fill_random_u8_ (px, sizeof px, 21);
    for (size_t k = 0; k < sizeof px; k++)   /* channel-dependent spread */
        px[k] = (guint8) (px[k] / (1 + k % 3));
    memset (px_test, 255, sizeof px_test);   /* the test split must NOT drive the statistics */
    write_u8_npy_ (train, px, 4, shape);
    write_u8_npy_ (test, px_test, 4, shape);

    /* two-pass double reference */
    for (int c = 0; c < 3; c++) {
        double s = 0.0, v = 0.0;
        size_t n = sizeof px / 3;
        for (size_t k = 0; k < n; k++)
            s += px[3 * k + c] / 255.0;
        s /= n;
        for (size_t k = 0; k < n; k++)
            v += (px[3 * k + c] / 255.0 - s) * (px[3 * k + c] / 255.0 - s);
        want_mean[c] = s;
        want_std[c] = sqrt (v / n);
    }

    ds = open_ok_ (spec, DINOLAB_SPLIT_TEST);
    g_assert_true (dinolab_dataset_get_normalization (ds, mean, std, &error));
    g_assert_no_error (error);
    for (int c = 0; c < 3; c++) {
        g_test_message ("channel %d: mean %.6f (want %.6f) std %.6f (want %.6f)", c, mean[c],
                        want_mean[c], std[c], want_std[c]);
        g_assert_cmpfloat_with_epsilon (mean[c], want_mean[c], 1e-6);
        g_assert_cmpfloat_with_epsilon (std[c], want_std[c], 1e-6);
    }
    dinolab_dataset_free (ds);

    /* cached: one file for the test split's key and one for the train split's */
    d = g_dir_open (cache, 0, &error);
    g_assert_no_error (error);
    while ((name = g_dir_read_name (d)) != NULL) {
        g_autofree char *path = g_build_filename (cache, name, NULL);
        g_autofree char *text = NULL;
        g_autofree char *doctored = NULL;
        g_autofree char *needle = g_strdup_printf ("%.6f", mean[0]);
        char *hit;
        g_assert_true (g_str_has_suffix (name, ".json"));
        g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
        /* Doctor the cached mean: if the next open reads the cache, it sees it. */
        hit = strstr (text, "\"mean\"");
        g_assert_nonnull (hit);
        hit = strchr (hit, '[');
        g_assert_nonnull (hit);
        doctored = g_strdup_printf ("%.*s[ 0.125, %s", (int) (hit - text), text, strchr (hit, ',') + 1);
        g_assert_true (g_file_set_contents (path, doctored, -1, NULL));
        n_files++;
    }
    g_assert_cmpuint (n_files, ==, 2);

    ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);
    g_assert_true (dinolab_dataset_get_normalization (ds, mean, std, &error));
    g_assert_cmpfloat (mean[0], ==, 0.125f);
    dinolab_dataset_free (ds);

    /* a changed file (size) is a new key: recomputed */
    {
        const int64_t shape2[4] = { 4, 6, 7, 3 };
        write_u8_npy_ (train, px, 4, shape2);
    }
    ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);
    g_assert_true (dinolab_dataset_get_normalization (ds, mean, std, &error));
    g_assert_cmpfloat (mean[0], !=, 0.125f);
    dinolab_dataset_free (ds);
}

static void
test_normalization_folder (void)
{
    /* colour folder: ImageNet's constants; gray folder: computed */
    g_autofree char *rgb = tmp_path_ ("folder", NULL);   /* made by test_folder */
    g_autofree char *gray = tmp_path_ ("gray", NULL);
    g_autofree char *spec_rgb = g_strdup_printf ("folder:%s", rgb);
    g_autofree char *spec_gray = g_strdup_printf ("folder:%s", gray);
    guint8 a[4 * 4] = { 0 }, b[4 * 4];
    float mean[3], std[3];
    GError *error = NULL;
    DinolabDataset *ds;

    if (!g_file_test (rgb, G_FILE_TEST_IS_DIR)) {
        g_test_skip ("needs the fixture of /dataset/folder");
        return;
    }
    ds = open_ok_ (spec_rgb, DINOLAB_SPLIT_TRAIN);
    g_assert_true (dinolab_dataset_get_normalization (ds, mean, std, &error));
    g_assert_no_error (error);
    g_assert_cmpfloat (mean[0], ==, 0.485f);
    g_assert_cmpfloat (mean[2], ==, 0.406f);
    g_assert_cmpfloat (std[1], ==, 0.224f);
    dinolab_dataset_free (ds);

    mkdir_p_ (gray);
    memset (b, 255, sizeof b);
    {
        g_autofree char *pa = g_build_filename (gray, "a.png", NULL);
        g_autofree char *pb = g_build_filename (gray, "b.png", NULL);
        write_gray_png_ (pa, a, 4, 4);
        write_gray_png_ (pb, b, 4, 4);
    }
    ds = open_ok_ (spec_gray, DINOLAB_SPLIT_TRAIN);
    g_assert_true (dinolab_dataset_get_normalization (ds, mean, std, &error));
    g_assert_no_error (error);
    /* half the pixels 0, half 1: mean 0.5, std 0.5 */
    for (int c = 0; c < 3; c++) {
        g_assert_cmpfloat_with_epsilon (mean[c], 0.5, 1e-6);
        g_assert_cmpfloat_with_epsilon (std[c], 0.5, 1e-6);
    }
    dinolab_dataset_free (ds);
}

// ----------------------------------------------------------------------------
// evaluation view

static void
test_eval_view (void)
{
    g_autofree char *dir = tmp_path_ ("eval", NULL);
    g_autofree char *f28 = g_build_filename (dir, "square.npy", NULL);
    g_autofree char *f57 = tmp_path_ ("eval", "wide", NULL);
    g_autofree char *f_big = tmp_path_ ("eval", "tall", NULL);
    const int64_t s28[3] = { 2, 28, 28 };
    guint8 px28[2 * 28 * 28], px_wide[2 * 4 * 7 * 3], px_tall[1 * 30 * 20 * 3];
    float mean[3], std[3];
    GError *error = NULL;
    DinolabDataset *ds;
    g_autofree char *spec = NULL;

    mkdir_p_ (dir);
    mkdir_p_ (f57);
    mkdir_p_ (f_big);
    fill_random_u8_ (px28, sizeof px28, 31);
    write_u8_npy_ (f28, px28, 3, s28);

    /* 28 x 28 at size 28: no resampling, just (x / 255 - mean) / std */
    spec = g_strdup_printf ("npy:%s", f28);
    ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);
    g_assert_true (dinolab_dataset_get_normalization (ds, mean, std, &error));
    {
        float got[28 * 28], want[28 * 28];
        g_assert_true (dinolab_dataset_get_eval_view (ds, 1, 28, got, &error));
        g_assert_no_error (error);
        for (int k = 0; k < 28 * 28; k++)
            want[k] = (float) (((double) px28[784 + k] / 255.0 - mean[0]) / std[0]);
        assert_tensor ("eval 28", got, want, 28 * 28, 1e-6);
    }
    dinolab_dataset_free (ds);

    /* 4 x 7 RGB at size 4: shorter side already 4, so the "resize" keeps 7 columns;
     * CenterCrop's offset round((7 - 4) / 2) = round(1.5) = 2 (Python rounds half to
     * even), so the view is columns 2..5. */
    {
        g_autofree char *p = g_build_filename (f57, "images.npy", NULL);
        const int64_t s[4] = { 2, 4, 7, 3 };
        float got[3 * 4 * 4];
        g_free (spec);
        spec = g_strdup_printf ("npy:%s", p);
        fill_random_u8_ (px_wide, sizeof px_wide, 32);
        write_u8_npy_ (p, px_wide, 4, s);
        ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);
        g_assert_true (dinolab_dataset_get_normalization (ds, mean, std, &error));
        g_assert_true (dinolab_dataset_get_eval_view (ds, 0, 4, got, &error));
        g_assert_no_error (error);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 4; x++) {
                    float want = (float) ((px_wide[(y * 7 + x + 2) * 3 + c] / 255.0 - mean[c]) / std[c]);
                    g_assert_cmpfloat_with_epsilon (got[(c * 4 + y) * 4 + x], want, 1e-5);
                }
        dinolab_dataset_free (ds);
    }

    /* 30 x 20 (H x W) RGB at size 8: resized to 8 x int(8 * 30 / 20) = 8 x 12 (w x h),
     * crop top round((12 - 8) / 2) = 2; compared with the naive resampler. */
    {
        g_autofree char *p = g_build_filename (f_big, "images.npy", NULL);
        const int64_t s[4] = { 1, 30, 20, 3 };
        guint8 full[12 * 8 * 3];
        float got[3 * 8 * 8];
        double worst = 0.0;
        g_free (spec);
        spec = g_strdup_printf ("npy:%s", p);
        fill_random_u8_ (px_tall, sizeof px_tall, 33);
        write_u8_npy_ (p, px_tall, 4, s);
        ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);
        g_assert_true (dinolab_dataset_get_normalization (ds, mean, std, &error));
        g_assert_true (dinolab_dataset_get_eval_view (ds, 0, 8, got, &error));
        g_assert_no_error (error);
        ref_resize_ (full, 8, 12, px_tall, 20, 3, 0, 0, 20, 30);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 8; y++)
                for (int x = 0; x < 8; x++) {
                    double want = (full[((y + 2) * 8 + x) * 3 + c] / 255.0 - mean[c]) / std[c];
                    worst = MAX (worst, fabs (got[(c * 8 + y) * 8 + x] - want) * std[c] * 255.0);
                }
        g_test_message ("eval view 30x20 -> 8: max diff %.3g levels vs naive resize + crop", worst);
        g_assert_cmpfloat (worst, <=, 1.0 + 1e-3);
        dinolab_dataset_free (ds);
    }
}

// ----------------------------------------------------------------------------
// threads

typedef struct {
    DinolabDataset *ds;
    int             size;
    const float    *want;   /* n x C x size x size */
    gsize           n;
    int             C;
    int             bad;
} ThreadJob;

static gpointer
thread_main_ (gpointer data)
{
    ThreadJob *job = data;
    gsize per = (gsize) job->C * job->size * job->size;
    g_autofree float *view = g_malloc (per * sizeof (float));

    for (int round = 0; round < 5; round++)
        for (gsize k = 0; k < job->n; k++) {
            gsize i = (k * 7 + (gsize) round) % job->n;
            g_auto(DinolabImage) img = { 0 };
            if (!dinolab_dataset_get_image (job->ds, i, &img, NULL)
                || !dinolab_dataset_get_eval_view (job->ds, i, job->size, view, NULL)
                || memcmp (view, job->want + i * per, per * sizeof (float)) != 0)
                g_atomic_int_inc (&job->bad);
        }
    return NULL;
}

static void
test_threads (void)
{
    /* Several threads at once (the first call also computes the statistics under
     * the lock) give exactly the single-threaded views. */
    g_autofree char *root = tmp_path_ ("folder", NULL);   /* made by test_folder */
    g_autofree char *spec = g_strdup_printf ("folder:%s", root);
    DinolabDataset *ds;
    GThread *threads[4];
    ThreadJob jobs[4];
    g_autofree float *want = NULL;
    gsize n, per;
    const int size = 12;

    if (!g_file_test (root, G_FILE_TEST_IS_DIR)) {
        g_test_skip ("needs the fixture of /dataset/folder");
        return;
    }
    ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);
    n = dinolab_dataset_get_size (ds);
    per = 3 * size * size;
    want = g_malloc (n * per * sizeof (float));
    for (gsize i = 0; i < n; i++)
        g_assert_true (dinolab_dataset_get_eval_view (ds, i, size, want + i * per, NULL));
    dinolab_dataset_free (ds);

    ds = open_ok_ (spec, DINOLAB_SPLIT_TRAIN);   /* fresh: statistics not yet loaded */
    for (int t = 0; t < 4; t++) {
        jobs[t] = (ThreadJob) { ds, size, want, n, 3, 0 };
        threads[t] = g_thread_new ("dataset-test", thread_main_, &jobs[t]);
    }
    for (int t = 0; t < 4; t++) {
        g_thread_join (threads[t]);
        g_assert_cmpint (jobs[t].bad, ==, 0);
    }
    dinolab_dataset_free (ds);
}

// ----------------------------------------------------------------------------
// bad input

static void
test_bad_spec (void)
{
    g_autofree char *missing = tmp_path_ ("does-not-exist", NULL);
    g_autofree char *spec = g_strdup_printf ("mnist:%s", missing);
    g_autofree char *f = tmp_path_ ("a-file.txt", NULL);
    g_autofree char *spec_file = g_strdup_printf ("cifar10:%s", f);

    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_IO, missing, NULL);
    expect_open_error_ ("pets:/tmp", DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_INVALID_INPUT,
                        "unknown kind 'pets'", "folder:DIR", NULL);
    expect_open_error_ ("mnist", DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_INVALID_INPUT, "'mnist'", NULL);
    expect_open_error_ ("npy:", DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_INVALID_INPUT, "no path", NULL);
    write_text_ (f, "x");
    expect_open_error_ (spec_file, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_INVALID_INPUT, f,
                        "not a folder", NULL);
}

static void
test_bad_folder (void)
{
    g_autofree char *empty = tmp_path_ ("bad-empty", NULL);
    g_autofree char *cls = tmp_path_ ("bad-class", NULL);
    g_autofree char *cls_b = tmp_path_ ("bad-class", "b", NULL);
    g_autofree char *cls_a = tmp_path_ ("bad-class", "a", NULL);
    g_autofree char *unread = tmp_path_ ("bad-unreadable", NULL);
    g_autofree char *unread_cls = tmp_path_ ("bad-unreadable-class", "k", NULL);
    g_autofree char *unread_cls_ok = tmp_path_ ("bad-unreadable-class", "j", NULL);
    g_autofree char *unread_cls_root = tmp_path_ ("bad-unreadable-class", NULL);
    g_autofree char *p = NULL;
    g_autofree char *spec = NULL;

    mkdir_p_ (empty);
    p = g_build_filename (empty, "readme.txt", NULL);
    write_text_ (p, "no images here");
    spec = g_strdup_printf ("folder:%s", empty);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_INVALID_INPUT, empty,
                        "no image files", ".png", NULL);

    /* an empty class folder (torchvision refuses it too) */
    mkdir_p_ (cls_a);
    mkdir_p_ (cls_b);
    g_free (p);
    p = g_build_filename (cls_a, "x.png", NULL);
    write_png_ (p, 0, 2, 2, FALSE);
    g_free (spec);
    spec = g_strdup_printf ("folder:%s", cls);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_INVALID_INPUT, cls_b,
                        "class folder", NULL);

    /* nothing readable */
    mkdir_p_ (unread);
    g_free (p);
    p = g_build_filename (unread, "broken.jpg", NULL);
    write_text_ (p, "garbage");
    g_free (spec);
    spec = g_strdup_printf ("folder:%s", unread);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_CORRUPT, unread,
                        "no readable image", "broken.jpg", NULL);

    /* a class whose only file is unreadable */
    mkdir_p_ (unread_cls);
    mkdir_p_ (unread_cls_ok);
    g_free (p);
    p = g_build_filename (unread_cls, "broken.png", NULL);
    write_text_ (p, "garbage");
    g_free (p);
    p = g_build_filename (unread_cls_ok, "fine.png", NULL);
    write_png_ (p, 0, 2, 2, FALSE);
    g_free (spec);
    spec = g_strdup_printf ("folder:%s", unread_cls_root);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_CORRUPT, unread_cls,
                        "no readable image", NULL);
}

static void
test_bad_idx (void)
{
    g_autofree char *dir = tmp_path_ ("bad-idx", NULL);
    g_autofree char *img = g_build_filename (dir, "train-images-idx3-ubyte", NULL);
    g_autofree char *lab = g_build_filename (dir, "train-labels-idx1-ubyte", NULL);
    g_autofree char *gzimg = g_build_filename (dir, "train-images-idx3-ubyte.gz", NULL);
    g_autofree char *spec = g_strdup_printf ("idx:%s", img);
    g_autofree char *spec_gz = g_strdup_printf ("idx:%s", gzimg);
    guint8 px[3 * 2 * 2] = { 0 }, lb[4] = { 0 };
    guint32 dims[3] = { 3, 2, 2 }, ldims[1] = { 4 };
    guint8 buf[16 + 12 + 1];

    mkdir_p_ (dir);
    /* bad magic (int32 images: 0x00000c03) */
    write_idx_ (img, FALSE, 0x00000c03, dims, 3, px, sizeof px);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_CORRUPT, img, "magic",
                        "0x00000c03", NULL);
    /* labels file given as images: wrong magic too */
    write_idx_ (img, FALSE, 0x00000801, dims, 1, px, 3);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_CORRUPT, img, "magic", NULL);
    /* length: one byte too many, one too few */
    put_be32_ (buf, 0x803);
    for (int d = 0; d < 3; d++)
        put_be32_ (buf + 4 + 4 * d, dims[d]);
    memset (buf + 16, 7, 13);
    write_raw_ (img, buf, sizeof buf);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_CORRUPT, img,
                        "does not match its header", "3 x 2 x 2", NULL);
    write_raw_ (img, buf, sizeof buf - 2);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_CORRUPT, img,
                        "does not match its header", NULL);
    write_gz_ (gzimg, buf, sizeof buf);
    expect_open_error_ (spec_gz, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_CORRUPT, gzimg,
                        "does not match its header", NULL);
    write_gz_ (gzimg, buf, sizeof buf - 2);
    expect_open_error_ (spec_gz, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_CORRUPT, gzimg,
                        "does not match its header", NULL);
    /* a truncated gzip stream */
    {
        g_autoptr(GBytes) z = compress_ (G_ZLIB_COMPRESSOR_FORMAT_GZIP, buf, sizeof buf - 1);
        gsize zn;
        const guint8 *zp = g_bytes_get_data (z, &zn);
        write_raw_ (gzimg, zp, zn - 10);
        expect_open_error_ (spec_gz, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_CORRUPT, gzimg, "gzip", NULL);
    }
    /* an empty file */
    write_raw_ (img, buf, 0);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_CORRUPT, img, NULL);
    /* images and labels of different counts: both files named */
    write_idx_ (img, FALSE, 0x803, dims, 3, px, sizeof px);
    write_idx_ (lab, FALSE, 0x801, ldims, 1, lb, sizeof lb);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_CORRUPT, img, lab, "3 images",
                        "4 labels", NULL);
    /* a label out of range for MNIST */
    ldims[0] = 3;
    lb[1] = 10;
    write_idx_ (lab, FALSE, 0x801, ldims, 1, lb, 3);
    g_free (spec);
    spec = g_strdup_printf ("mnist:%s", dir);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_CORRUPT, lab, "label 10", NULL);
    /* no test split beside it */
    expect_open_error_ (spec, DINOLAB_SPLIT_TEST, DINOLAB_ERROR_IO, "no test split", NULL);
}

static void
test_bad_cifar (void)
{
    g_autofree char *dir = tmp_path_ ("bad-cifar", NULL);
    g_autofree char *b1 = g_build_filename (dir, "data_batch_1.bin", NULL);
    g_autofree char *t100 = g_build_filename (dir, "train.bin", NULL);
    g_autofree char *spec = g_strdup_printf ("cifar10:%s", dir);
    g_autofree char *spec100 = g_strdup_printf ("cifar100:%s", dir);
    g_autofree guint8 *buf = g_malloc0 (3073 * 2 + 1);
    g_autofree char *missing = tmp_path_ ("bad-cifar-none", NULL);
    g_autofree char *spec_missing = g_strdup_printf ("cifar10:%s", missing);

    mkdir_p_ (dir);
    write_raw_ (b1, buf, 3073 * 2 + 1);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_CORRUPT, b1, "wrong size",
                        "6147", NULL);
    /* a CIFAR-10 file read as CIFAR-100 (3073 * 3 bytes is not a multiple of 3074) */
    write_raw_ (t100, buf, 3073 * 2);
    expect_open_error_ (spec100, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_CORRUPT, t100, "wrong size", NULL);
    /* a label out of range */
    buf[3073] = 10;
    write_raw_ (b1, buf, 3073 * 2);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_CORRUPT, b1, "record 1",
                        "label 10", NULL);
    /* missing batches */
    mkdir_p_ (missing);
    expect_open_error_ (spec_missing, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_IO, missing,
                        "data_batch_1.bin", NULL);
    expect_open_error_ (spec, DINOLAB_SPLIT_TEST, DINOLAB_ERROR_IO, "test_batch.bin", NULL);
}

static void
test_bad_npy (void)
{
    g_autofree char *dir = tmp_path_ ("bad-npy", NULL);
    g_autofree char *images = g_build_filename (dir, "images.npy", NULL);
    g_autofree char *labels = g_build_filename (dir, "labels.npy", NULL);
    g_autofree char *spec = g_strdup_printf ("npy:%s", images);
    const int64_t shape[3] = { 3, 2, 2 }, shape5[4] = { 3, 2, 2, 5 };
    guint8 px[3 * 2 * 2 * 5] = { 0 };
    const gint32 lab[4] = { 0, 1, 2, 3 };
    const gint32 neg[3] = { 0, -1, 2 };
    const float fl[3] = { 0 };

    mkdir_p_ (dir);
    write_u8_npy_ (images, px, 3, shape);
    write_npy_ (labels, "<i4", "(4,)", lab, sizeof lab);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_INVALID_INPUT, images, labels,
                        "3 images", "4 labels", NULL);
    write_npy_ (labels, "<i4", "(3,)", neg, sizeof neg);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_INVALID_INPUT, labels, "label 1 is -1",
                        NULL);
    write_npy_ (labels, "<f4", "(3,)", fl, sizeof fl);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_INVALID_INPUT, labels, "'<f4'", NULL);
    write_npy_ (labels, "<i4", "(3,)", lab, sizeof lab - 8);   /* truncated */
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_CORRUPT, labels, NULL);
    g_assert_cmpint (g_unlink (labels), ==, 0);
    write_u8_npy_ (images, px, 4, shape5);
    expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_INVALID_INPUT, images, "[3,2,2,5]",
                        NULL);
    {
        const int64_t s[3] = { 1, 1, 3 };
        g_assert_true (dinolab_npy_write_f32 (images, fl, 3, s, NULL));
        expect_open_error_ (spec, DINOLAB_SPLIT_TRAIN, DINOLAB_ERROR_INVALID_INPUT, images,
                            "uint8", NULL);
    }
}

// ----------------------------------------------------------------------------
// Debian's Fashion-MNIST

static void
test_fashion_mnist (void)
{
    static const int first_test_labels[8] = { 9, 2, 1, 1, 6, 1, 4, 6 };
    float mean[1], std[1];
    GError *error = NULL;
    DinolabDataset *ds;

    if (!g_file_test ("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", G_FILE_TEST_EXISTS)) {
        g_test_skip ("Debian's dataset-fashion-mnist is not installed");
        return;
    }
    ds = open_ok_ ("fashion-mnist", DINOLAB_SPLIT_TRAIN);
    g_assert_cmpuint (dinolab_dataset_get_size (ds), ==, 60000);
    g_assert_cmpstr (dinolab_dataset_get_description (ds), ==,
                     "Fashion-MNIST train, 60000 images 28x28, 10 classes");
    g_assert_true (dinolab_dataset_get_normalization (ds, mean, std, &error));
    g_assert_no_error (error);
    g_test_message ("Fashion-MNIST: mean %.5f std %.5f", mean[0], std[0]);
    g_assert_cmpfloat_with_epsilon (mean[0], 0.2860, 1e-3);
    g_assert_cmpfloat_with_epsilon (std[0], 0.3530, 1e-3);
    dinolab_dataset_free (ds);

    ds = open_ok_ ("fashion-mnist", DINOLAB_SPLIT_TEST);
    g_assert_cmpuint (dinolab_dataset_get_size (ds), ==, 10000);
    for (int i = 0; i < 8; i++)
        g_assert_cmpint (dinolab_dataset_get_label (ds, i), ==, first_test_labels[i]);
    g_assert_cmpstr (dinolab_dataset_get_class_name (ds, 9), ==, "Ankle boot");
    dinolab_dataset_free (ds);
}

// ----------------------------------------------------------------------------

static void
rm_rf_ (const char *path)
{
    if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
        GDir *d = g_dir_open (path, 0, NULL);
        const char *name;
        while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
            char *child = g_build_filename (path, name, NULL);
            rm_rf_ (child);
            g_free (child);
        }
        if (d != NULL)
            g_dir_close (d);
        g_rmdir (path);
    } else {
        g_unlink (path);
    }
}

int
main (int argc, char **argv)
{
    GError *error = NULL;
    g_autofree char *cache = NULL;
    int rc;

    g_test_init (&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp ("dinolab-test-dataset-XXXXXX", &error);
    g_assert_no_error (error);
    cache = g_build_filename (tmpdir, "cache", NULL);
    g_setenv ("DINOLAB_CACHE_DIR", cache, TRUE);

    g_test_add_func ("/image/identity", test_image_identity);
    g_test_add_func ("/image/constant", test_image_constant);
    g_test_add_func ("/image/monotone", test_image_monotone);
    g_test_add_func ("/image/pil", test_image_pil);
    g_test_add_func ("/image/reference", test_image_reference);
    g_test_add_func ("/image/window", test_image_window);
    g_test_add_func ("/dataset/idx", test_idx);
    g_test_add_func ("/dataset/emnist", test_emnist);
    g_test_add_func ("/dataset/cifar10", test_cifar10);
    g_test_add_func ("/dataset/cifar100", test_cifar100);
    g_test_add_func ("/dataset/folder", test_folder);
    g_test_add_func ("/dataset/folder-flat-and-splits", test_folder_flat_and_splits);
    g_test_add_func ("/dataset/npy", test_npy);
    g_test_add_func ("/dataset/normalization", test_normalization);
    g_test_add_func ("/dataset/normalization-folder", test_normalization_folder);
    g_test_add_func ("/dataset/eval-view", test_eval_view);
    g_test_add_func ("/dataset/threads", test_threads);
    g_test_add_func ("/dataset/bad/spec", test_bad_spec);
    g_test_add_func ("/dataset/bad/folder", test_bad_folder);
    g_test_add_func ("/dataset/bad/idx", test_bad_idx);
    g_test_add_func ("/dataset/bad/cifar", test_bad_cifar);
    g_test_add_func ("/dataset/bad/npy", test_bad_npy);
    g_test_add_func ("/dataset/fashion-mnist", test_fashion_mnist);
    rc = g_test_run ();

    rm_rf_ (tmpdir);
    g_free (tmpdir);
    return rc;
}
