/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-io.c: safetensors and .npy readers and writers.
 *
 * Round trips are compared bit for bit with the buffers that were written. The format
 * itself is checked independently of our reader: files written by our writers are
 * compared byte for byte with buffers built by hand here from the format specs, and
 * hand-built files (other header layouts, v2/v3 .npy) must read. Then every kind of
 * bad file: truncation at every byte, garbage, out-of-range and overlapping offsets,
 * wrong sizes, unsupported dtypes, random byte flips. Each must fail with a
 * DINOLAB_ERROR whose message starts with the path (and names the tensor), never
 * crash; run once under -fsanitize=address,undefined to see the "never read out of
 * bounds" half of that.
 *
 * Fixtures are made in a temp dir; nothing here needs network, python or the dataset.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "dinolab/error.h"
#include "dinolab/io.h"
#include "test-util.h"

static char *tmpdir;

// ----------------------------------------------------------------------------
// Helpers (plain stdio: fixtures must not go through the code under test)

static char *
tmp_path_ (const char *name)
{
    return g_build_filename (tmpdir, name, NULL);
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

static guint8 *
read_raw_ (const char *path, size_t *len)
{
    char *contents = NULL;
    gsize n = 0;
    GError *error = NULL;

    g_assert_true (g_file_get_contents (path, &contents, &n, &error));
    g_assert_no_error (error);
    *len = n;
    return (guint8 *) contents;
}

/* The error is in our domain with @code, starts with @path and contains @needle
 * (and @needle2) when given. */
static void
assert_error_ (GError *error, int code, const char *path, const char *needle,
               const char *needle2)
{
    g_assert_nonnull (error);
    if (g_test_verbose ())
        g_test_message ("  -> %s", error->message);
    g_assert_error (error, DINOLAB_ERROR, code);
    if (!g_str_has_prefix (error->message, path))
        g_error ("message does not start with %s: %s", path, error->message);
    if (needle != NULL && strstr (error->message, needle) == NULL)
        g_error ("message lacks \"%s\": %s", needle, error->message);
    if (needle2 != NULL && strstr (error->message, needle2) == NULL)
        g_error ("message lacks \"%s\": %s", needle2, error->message);
}

static void
assert_no_tmp_ (const char *path)
{
    g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
    g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
}

/* Little-endian bytes of a float, built from its bit pattern by hand. */
static void
put_f32_le_ (guint8 *out, float v)
{
    guint32 u;
    memcpy (&u, &v, 4);
    out[0] = (guint8) u;
    out[1] = (guint8) (u >> 8);
    out[2] = (guint8) (u >> 16);
    out[3] = (guint8) (u >> 24);
}

// ----------------------------------------------------------------------------
// Arrays

static void
test_array_basics (void)
{
    const int64_t s3[3] = { 2, 3, 4 }, s0[2] = { 3, 0 };
    g_autoptr(DinolabArray) a = dinolab_array_new (DINOLAB_DTYPE_F32, 3, s3);
    g_autoptr(DinolabArray) b = dinolab_array_new (DINOLAB_DTYPE_U8, 0, NULL);
    g_autoptr(DinolabArray) c = dinolab_array_new (DINOLAB_DTYPE_F32, 2, s0);
    g_autofree char *str3 = dinolab_shape_to_string (3, s3);
    g_autofree char *str0 = dinolab_shape_to_string (0, NULL);
    const int64_t big[4] = { 2, 3, 28, 28 };
    g_autofree char *str4 = dinolab_shape_to_string (4, big);
    const float *f = a->data;

    g_assert_cmpint (dinolab_array_numel (a), ==, 24);
    for (int i = 0; i < 24; i++)
        g_assert_cmpfloat (f[i], ==, 0.0f);
    g_assert_cmpint (a->shape[3], ==, 0);
    g_assert_cmpint (dinolab_array_numel (b), ==, 1);
    g_assert_cmpint (((guint8 *) b->data)[0], ==, 0);
    g_assert_cmpint (dinolab_array_numel (c), ==, 0);
    g_assert_nonnull (c->data);
    g_assert_cmpstr (str3, ==, "[2,3,4]");
    g_assert_cmpstr (str0, ==, "[]");
    g_assert_cmpstr (str4, ==, "[2,3,28,28]");
    dinolab_array_free (NULL);
}

// ----------------------------------------------------------------------------
// .npy

static void
test_npy_roundtrip (void)
{
    static const struct {
        int     ndim;
        int64_t shape[4];
    } cases[] = {
        { 0, { 0 } }, { 1, { 7 } }, { 2, { 2, 3 } }, { 3, { 2, 3, 4 } },
        { 4, { 2, 1, 3, 5 } }, { 1, { 0 } }, { 2, { 3, 0 } }, { 4, { 1, 1, 1, 1 } },
    };
    g_autofree char *path = tmp_path_ ("rt.npy");

    for (size_t c = 0; c < G_N_ELEMENTS (cases); c++) {
        for (int u8 = 0; u8 < 2; u8++) {
            DinolabDtype dtype = u8 ? DINOLAB_DTYPE_U8 : DINOLAB_DTYPE_F32;
            g_autoptr(DinolabArray) a = dinolab_array_new (dtype, cases[c].ndim, cases[c].shape);
            g_autoptr(DinolabArray) b = NULL;
            GError *error = NULL;
            int64_t n = dinolab_array_numel (a);

            if (u8) {
                for (int64_t i = 0; i < n; i++)
                    ((guint8 *) a->data)[i] = (guint8) (i * 37 + 11);
            }
            else {
                float *f = a->data;
                fill_uniform (f, (size_t) n, (guint32) c + 1, 3.0f);
                if (n >= 4) { /* values whose bits must survive untouched */
                    f[0] = -0.0f;
                    f[1] = 1e-42f; /* denormal */
                    f[2] = G_MAXFLOAT;
                    f[3] = -1.0f / 0.0f;
                }
            }
            g_assert_true (dinolab_npy_write (path, a, &error));
            g_assert_no_error (error);
            assert_no_tmp_ (path);
            b = dinolab_npy_read (path, &error);
            g_assert_no_error (error);
            g_assert_nonnull (b);
            g_assert_cmpint (b->dtype, ==, dtype);
            g_assert_cmpint (b->ndim, ==, a->ndim);
            for (int d = 0; d < DINOLAB_MAX_DIMS; d++)
                g_assert_cmpint (b->shape[d], ==, a->shape[d]);
            g_assert_cmpmem (b->data, (size_t) n * (u8 ? 1 : 4), a->data, (size_t) n * (u8 ? 1 : 4));
        }
    }

    // The float convenience writer.
    {
        const int64_t shape[2] = { 3, 5 };
        float x[15];
        g_autoptr(DinolabArray) b = NULL;
        GError *error = NULL;

        fill_uniform (x, 15, 99, 1.0f);
        g_assert_true (dinolab_npy_write_f32 (path, x, 2, shape, &error));
        g_assert_no_error (error);
        b = dinolab_npy_read (path, &error);
        g_assert_no_error (error);
        g_assert_cmpint (b->ndim, ==, 2);
        g_assert_cmpint (b->shape[0], ==, 3);
        g_assert_cmpint (b->shape[1], ==, 5);
        assert_tensor ("npy_write_f32", b->data, x, 15, 0.0);
    }
}

/* Our writer against a file built by hand from the .npy spec (and from what numpy
 * 1.24 writes: sorted keys, 21 - len(str(shape[0])) spare spaces, padded to 64). */
static void
test_npy_bytes (void)
{
    g_autofree char *path = tmp_path_ ("bytes.npy");
    const int64_t shape[2] = { 2, 3 };
    const float x[6] = { 1.0f, -2.0f, 0.5f, 0.0f, 3.25f, -0.125f };
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    guint8 want[128 + 24];
    g_autofree guint8 *got = NULL;
    size_t got_len, hlen, k = 0;
    GError *error = NULL;

    memcpy (want, "\x93NUMPY\x01\x00", 8);
    k = 10;
    memcpy (want + k, dict, strlen (dict));
    k += strlen (dict);
    while (k < 127) /* 20 growth spaces + 37 alignment spaces */
        want[k++] = ' ';
    want[k++] = '\n';
    g_assert_cmpuint (k, ==, 128);
    hlen = 128 - 10;
    want[8] = (guint8) hlen;
    want[9] = (guint8) (hlen >> 8);
    for (int i = 0; i < 6; i++)
        put_f32_le_ (want + 128 + 4 * i, x[i]);

    g_assert_true (dinolab_npy_write_f32 (path, x, 2, shape, &error));
    g_assert_no_error (error);
    got = read_raw_ (path, &got_len);
    g_assert_cmpmem (got, got_len, want, sizeof want);

    // u8 1-d: "(5,)" and 20 growth spaces; 1 trailing space to reach 128.
    {
        const int64_t s1[1] = { 5 };
        g_autoptr(DinolabArray) a = dinolab_array_new (DINOLAB_DTYPE_U8, 1, s1);
        const char *d1 = "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }";
        g_autofree guint8 *got1 = NULL;
        guint8 want1[64 * 2 + 5];
        size_t j = 10, len1;

        memcpy (a->data, "\x01\x02\xfe\xff\x00", 5);
        g_assert_true (dinolab_npy_write (path, a, &error));
        g_assert_no_error (error);
        memcpy (want1, "\x93NUMPY\x01\x00\x76\x00", 10);
        memcpy (want1 + j, d1, strlen (d1));
        j += strlen (d1);
        while (j < 127)
            want1[j++] = ' ';
        want1[j++] = '\n';
        memcpy (want1 + 128, "\x01\x02\xfe\xff\x00", 5);
        got1 = read_raw_ (path, &len1);
        g_assert_cmpmem (got1, len1, want1, sizeof want1);
    }
}

/* Writes magic + version + header (v1: u16 length, v2/3: u32 length) + data. */
static void
write_npy_raw_ (const char *path, int major, const char *header, const void *data, size_t data_len)
{
    GByteArray *b = g_byte_array_new ();
    size_t hlen = strlen (header);
    guint8 pre[12] = { 0x93, 'N', 'U', 'M', 'P', 'Y', (guint8) major, 0 };

    if (major == 1) {
        pre[8] = (guint8) hlen;
        pre[9] = (guint8) (hlen >> 8);
        g_byte_array_append (b, pre, 10);
    }
    else {
        for (int i = 0; i < 4; i++)
            pre[8 + i] = (guint8) (hlen >> (8 * i));
        g_byte_array_append (b, pre, 12);
    }
    g_byte_array_append (b, (const guint8 *) header, (guint) hlen);
    if (data_len > 0)
        g_byte_array_append (b, data, (guint) data_len);
    write_raw_ (path, b->data, b->len);
    g_byte_array_unref (b);
}

static void
test_npy_read_variants (void)
{
    g_autofree char *path = tmp_path_ ("variant.npy");
    guint8 data[24];
    const float *f;

    for (int i = 0; i < 6; i++)
        put_f32_le_ (data + 4 * i, (float) i - 2.5f);

    // Layouts numpy or other writers produce: other key order, double quotes, no
    // trailing comma, Python 2 longs, no padding, v2.0 and v3.0 preambles.
    {
        static const struct {
            int         major;
            const char *header;
        } ok[] = {
            { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }          \n" },
            { 1, "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}\n" },
            { 1, "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(2,3)}" },
            { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }\n" },
            { 1, "{ 'descr' : '<f4' ,\n 'fortran_order' : False , 'shape' : ( 2 , 3 , ) , }  \n" },
            { 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n" },
            { 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n" },
        };
        for (size_t c = 0; c < G_N_ELEMENTS (ok); c++) {
            g_autoptr(DinolabArray) a = NULL;
            GError *error = NULL;

            write_npy_raw_ (path, ok[c].major, ok[c].header, data, sizeof data);
            a = dinolab_npy_read (path, &error);
            g_assert_no_error (error);
            g_assert_cmpint (a->dtype, ==, DINOLAB_DTYPE_F32);
            g_assert_cmpint (a->ndim, ==, 2);
            g_assert_cmpint (a->shape[0], ==, 2);
            g_assert_cmpint (a->shape[1], ==, 3);
            f = a->data;
            for (int i = 0; i < 6; i++)
                g_assert_cmpfloat (f[i], ==, (float) i - 2.5f);
        }
    }

    // uint8 under its three spellings, and a 0-d array.
    {
        const char *u8s[] = { "|u1", "<u1", ">u1" };
        for (size_t c = 0; c < G_N_ELEMENTS (u8s); c++) {
            g_autofree char *h = g_strdup_printf ("{'descr': '%s', 'fortran_order': False, 'shape': (4,), }\n", u8s[c]);
            g_autoptr(DinolabArray) a = NULL;
            GError *error = NULL;

            write_npy_raw_ (path, 1, h, "\x00\x7f\x80\xff", 4);
            a = dinolab_npy_read (path, &error);
            g_assert_no_error (error);
            g_assert_cmpint (a->dtype, ==, DINOLAB_DTYPE_U8);
            g_assert_cmpmem (a->data, 4, "\x00\x7f\x80\xff", 4);
        }
    }
    {
        g_autoptr(DinolabArray) a = NULL;
        GError *error = NULL;

        write_npy_raw_ (path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }\n", data, 4);
        a = dinolab_npy_read (path, &error);
        g_assert_no_error (error);
        g_assert_cmpint (a->ndim, ==, 0);
        g_assert_cmpfloat (((float *) a->data)[0], ==, -2.5f);
    }
}

static void
test_npy_reject (void)
{
    static const struct {
        const char *header;
        size_t      data_len;
        int         code;
        const char *needle;
    } bad[] = {
        { "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, DINOLAB_ERROR_INVALID_INPUT, "fortran_order" },
        { "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24, DINOLAB_ERROR_INVALID_INPUT, "'>f4' (big-endian)" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 24, DINOLAB_ERROR_INVALID_INPUT, "'<f8'" },
        { "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 24, DINOLAB_ERROR_INVALID_INPUT, "'<i8'" },
        { "{'descr': '<f2', 'fortran_order': False, 'shape': (12,), }", 24, DINOLAB_ERROR_INVALID_INPUT, "'<f2'" },
        { "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", 24, DINOLAB_ERROR_INVALID_INPUT, "structured" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,6), }", 24, DINOLAB_ERROR_INVALID_INPUT, "more than 8" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", 24, DINOLAB_ERROR_CORRUPT, "negative" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 24, DINOLAB_ERROR_CORRUPT, "[4611686018427387904,4]" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (3037000500, 3037000500), }", 24, DINOLAB_ERROR_CORRUPT, "too large" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 24, DINOLAB_ERROR_CORRUPT, "64 bits" },
        { "{'descr': '<f4', 'fortran_order': False, }", 24, DINOLAB_ERROR_CORRUPT, "missing key 'shape'" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}", 24, DINOLAB_ERROR_CORRUPT, "unknown key" },
        { "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", 24, DINOLAB_ERROR_CORRUPT, "duplicate" },
        { "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (6,)}", 24, DINOLAB_ERROR_CORRUPT, "True or False" },
        { "{'descr': '<f4, 'fortran_order': False, 'shape': (6,)}", 24, DINOLAB_ERROR_CORRUPT, "malformed" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': [6]}", 24, DINOLAB_ERROR_CORRUPT, "expected '('" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} junk", 24, DINOLAB_ERROR_CORRUPT, "after the dict" },
        { "hello, world", 24, DINOLAB_ERROR_CORRUPT, "expected '{'" },
        { "", 24, DINOLAB_ERROR_CORRUPT, "expected '{'" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, DINOLAB_ERROR_CORRUPT, "truncated" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 28, DINOLAB_ERROR_CORRUPT, "trailing" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0), }", 4, DINOLAB_ERROR_CORRUPT, "[2,0]" },
    };
    g_autofree char *path = tmp_path_ ("bad.npy");
    guint8 data[32] = { 0 };

    for (size_t c = 0; c < G_N_ELEMENTS (bad); c++) {
        GError *error = NULL;
        DinolabArray *a;

        write_npy_raw_ (path, 1, bad[c].header, data, bad[c].data_len);
        a = dinolab_npy_read (path, &error);
        g_assert_null (a);
        assert_error_ (error, bad[c].code, path, bad[c].needle, NULL);
        g_clear_error (&error);
    }

    // Preamble damage: bad magic, unknown version, header length past the end.
    {
        GError *error = NULL;
        guint8 raw[64];

        memset (raw, ' ', sizeof raw);
        memcpy (raw, "\x93NUMPX\x01\x00\x10\x00", 10);
        write_raw_ (path, raw, sizeof raw);
        g_assert_null (dinolab_npy_read (path, &error));
        assert_error_ (error, DINOLAB_ERROR_CORRUPT, path, "magic", NULL);
        g_clear_error (&error);

        memcpy (raw, "\x93NUMPY\x04\x00\x10\x00", 10);
        write_raw_ (path, raw, sizeof raw);
        g_assert_null (dinolab_npy_read (path, &error));
        assert_error_ (error, DINOLAB_ERROR_INVALID_INPUT, path, "4.0", NULL);
        g_clear_error (&error);

        memcpy (raw, "\x93NUMPY\x01\x00\xff\xff", 10);
        write_raw_ (path, raw, sizeof raw);
        g_assert_null (dinolab_npy_read (path, &error));
        assert_error_ (error, DINOLAB_ERROR_CORRUPT, path, "65535", "past the end");
        g_clear_error (&error);

        memcpy (raw, "\x93NUMPY\x02\x00\xff\xff\xff\xff", 12);
        write_raw_ (path, raw, sizeof raw);
        g_assert_null (dinolab_npy_read (path, &error));
        assert_error_ (error, DINOLAB_ERROR_CORRUPT, path, "4294967295", "limit");
        g_clear_error (&error);
    }
}

static void
test_npy_truncate (void)
{
    g_autofree char *src = tmp_path_ ("whole.npy");
    g_autofree char *path = tmp_path_ ("cut.npy");
    const int64_t shape[3] = { 2, 3, 4 };
    float x[24];
    g_autofree guint8 *raw = NULL;
    size_t len;
    GError *error = NULL;

    fill_uniform (x, 24, 5, 1.0f);
    g_assert_true (dinolab_npy_write_f32 (src, x, 3, shape, &error));
    g_assert_no_error (error);
    raw = read_raw_ (src, &len);
    g_assert_cmpuint (len, ==, 128 + 96);
    for (size_t cut = 0; cut < len; cut++) {
        write_raw_ (path, raw, cut);
        g_assert_null (dinolab_npy_read (path, &error));
        assert_error_ (error, DINOLAB_ERROR_CORRUPT, path, NULL, NULL);
        g_clear_error (&error);
    }
    g_test_message ("npy: %zu truncations of a %zu-byte file all refused", len, len);
}

/* Missing files and unwritable places are IO errors, and a failed write leaves the
 * old file as it was and no temp file behind. */
static void
test_npy_io_errors (void)
{
    g_autofree char *missing = tmp_path_ ("no-such.npy");
    g_autofree char *nodir = g_build_filename (tmpdir, "no-such-dir", "x.npy", NULL);
    g_autofree char *path = tmp_path_ ("keep.npy");
    g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
    g_autofree guint8 *before = NULL, *after = NULL;
    size_t len_before, len_after;
    const int64_t shape[1] = { 3 };
    const float x[3] = { 1, 2, 3 }, y[3] = { 4, 5, 6 };
    GError *error = NULL;

    g_assert_null (dinolab_npy_read (missing, &error));
    assert_error_ (error, DINOLAB_ERROR_IO, missing, "No such file", NULL);
    g_clear_error (&error);
    g_assert_null (dinolab_npy_read (tmpdir, &error));
    assert_error_ (error, DINOLAB_ERROR_IO, tmpdir, "not a regular file", NULL);
    g_clear_error (&error);

    g_assert_false (dinolab_npy_write_f32 (nodir, x, 1, shape, &error));
    assert_error_ (error, DINOLAB_ERROR_IO, nodir, ".tmp", NULL);
    g_clear_error (&error);

    g_assert_true (dinolab_npy_write_f32 (path, x, 1, shape, &error));
    g_assert_no_error (error);
    before = read_raw_ (path, &len_before);
    g_assert_cmpint (g_mkdir (tmp, 0700), ==, 0); /* "<path>.tmp" cannot be created */
    g_assert_false (dinolab_npy_write_f32 (path, y, 1, shape, &error));
    assert_error_ (error, DINOLAB_ERROR_IO, path, NULL, NULL);
    g_clear_error (&error);
    after = read_raw_ (path, &len_after);
    g_assert_cmpmem (after, len_after, before, len_before);
    g_assert_cmpint (g_rmdir (tmp), ==, 0);

    // Rename onto a directory fails after the data were written: temp file removed.
    {
        g_autofree char *dir = tmp_path_ ("a-dir.npy");
        g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
        g_assert_false (dinolab_npy_write_f32 (dir, x, 1, shape, &error));
        assert_error_ (error, DINOLAB_ERROR_IO, dir, "rename", NULL);
        g_clear_error (&error);
        assert_no_tmp_ (dir);
        g_assert_cmpint (g_rmdir (dir), ==, 0);
    }
}

// ----------------------------------------------------------------------------
// safetensors

/* 8-byte LE length + @header (as given, unpadded) + @data_len bytes of data. */
static void
write_st_raw_ (const char *path, const char *header, size_t header_len, const void *data,
               size_t data_len)
{
    GByteArray *b = g_byte_array_new ();
    guint8 len_le[8];

    for (int i = 0; i < 8; i++)
        len_le[i] = (guint8) ((guint64) header_len >> (8 * i));
    g_byte_array_append (b, len_le, 8);
    g_byte_array_append (b, (const guint8 *) header, (guint) header_len);
    if (data_len > 0)
        g_byte_array_append (b, data, (guint) data_len);
    write_raw_ (path, b->data, b->len);
    g_byte_array_unref (b);
}

static void
test_st_roundtrip (void)
{
    g_autofree char *path = tmp_path_ ("model.safetensors");
    const char *hp = "{\"arch\": \"vit_tiny\", \"lr\": 0.0005,\n \"note\": \"back\\\\slash \\\"q\\\" \xc3\xa9 \xe2\x9c\x93\"}";
    const char *const metadata[] = { "hyperparameters", hp, "format", "pt", "tab\tkey", "ctl\x01", NULL };
    float cls[4], pos[20], qkv[48], bias[12], scale[1] = { 0.125f };
    DinolabTensorView t[] = {
        { "cls_token", 3, { 1, 1, 4 }, cls },
        { "pos_embed", 3, { 1, 5, 4 }, pos },
        { "blocks.0.attn.qkv.weight", 2, { 12, 4 }, qkv },
        { "empty", 2, { 0, 3 }, NULL },
        { "scale", 0, { 0 }, scale },
        { "blocks.0.attn.qkv.bias", 1, { 12 }, bias },
    };
    g_autoptr(DinolabSafetensors) st = NULL;
    g_autofree guint8 *raw = NULL;
    size_t raw_len;
    guint64 hlen = 0;
    GError *error = NULL;
    const float *p;

    fill_uniform (cls, 4, 1, 1.0f);
    fill_uniform (pos, 20, 2, 1.0f);
    fill_uniform (qkv, 48, 3, 1.0f);
    fill_uniform (bias, 12, 4, 1.0f);
    qkv[0] = -0.0f;
    qkv[1] = 1e-42f;

    g_assert_true (dinolab_safetensors_write (path, t, G_N_ELEMENTS (t), metadata, &error));
    g_assert_no_error (error);
    assert_no_tmp_ (path);

    // Layout: header padded with spaces to 8, data right after and contiguous.
    raw = read_raw_ (path, &raw_len);
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | raw[i];
    g_assert_cmpuint (hlen % 8, ==, 0);
    g_assert_cmpuint (raw_len, ==, 8 + hlen + 4 * (4 + 20 + 48 + 0 + 1 + 12));
    g_assert_cmpint (raw[8], ==, '{');
    g_assert_true (raw[8 + hlen - 1] == '}' || raw[8 + hlen - 1] == ' ');

    st = dinolab_safetensors_read (path, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (dinolab_safetensors_get_path (st), ==, path);
    g_assert_cmpuint (dinolab_safetensors_get_n_tensors (st), ==, G_N_ELEMENTS (t));
    for (guint i = 0; i < G_N_ELEMENTS (t); i++) {
        const DinolabArray *a;
        int64_t n = 1;

        g_assert_cmpstr (dinolab_safetensors_get_name (st, i), ==, t[i].name);
        a = dinolab_safetensors_get (st, t[i].name);
        g_assert_nonnull (a);
        g_assert_cmpint (a->dtype, ==, DINOLAB_DTYPE_F32);
        g_assert_cmpint (a->ndim, ==, t[i].ndim);
        for (int d = 0; d < t[i].ndim; d++) {
            g_assert_cmpint (a->shape[d], ==, t[i].shape[d]);
            n *= t[i].shape[d];
        }
        if (n > 0)
            g_assert_cmpmem (a->data, (size_t) n * 4, t[i].data, (size_t) n * 4);
    }
    g_assert_cmpstr (dinolab_safetensors_get_metadata (st, "hyperparameters"), ==, hp);
    g_assert_cmpstr (dinolab_safetensors_get_metadata (st, "format"), ==, "pt");
    g_assert_cmpstr (dinolab_safetensors_get_metadata (st, "tab\tkey"), ==, "ctl\x01");
    g_assert_null (dinolab_safetensors_get_metadata (st, "nope"));
    g_assert_null (dinolab_safetensors_get (st, "nope"));

    // get_f32: right shape, missing tensor, wrong shape, wrong rank.
    {
        const int64_t good[2] = { 12, 4 }, wrong[2] = { 12, 5 }, rank3[3] = { 12, 4, 1 };
        g_autofree char *want_missing = g_strdup_printf ("%s: tensor blocks.9.mlp.fc1.weight is missing", path);
        g_autofree char *want_shape = g_strdup_printf ("%s: blocks.0.attn.qkv.weight: expected [12,5], found [12,4]", path);

        p = dinolab_safetensors_get_f32 (st, "blocks.0.attn.qkv.weight", 2, good, &error);
        g_assert_no_error (error);
        g_assert_true (p == dinolab_safetensors_get (st, "blocks.0.attn.qkv.weight")->data);
        assert_tensor ("qkv after round trip", p, qkv, 48, 0.0);

        g_assert_null (dinolab_safetensors_get_f32 (st, "blocks.9.mlp.fc1.weight", 2, good, &error));
        assert_error_ (error, DINOLAB_ERROR_INVALID_INPUT, path, "blocks.9.mlp.fc1.weight", NULL);
        g_assert_cmpstr (error->message, ==, want_missing);
        g_clear_error (&error);

        g_assert_null (dinolab_safetensors_get_f32 (st, "blocks.0.attn.qkv.weight", 2, wrong, &error));
        assert_error_ (error, DINOLAB_ERROR_INVALID_INPUT, path, "blocks.0.attn.qkv.weight", NULL);
        g_assert_cmpstr (error->message, ==, want_shape);
        g_clear_error (&error);

        g_assert_null (dinolab_safetensors_get_f32 (st, "blocks.0.attn.qkv.weight", 3, rank3, &error));
        assert_error_ (error, DINOLAB_ERROR_INVALID_INPUT, path, "expected [12,4,1], found [12,4]", NULL);
        g_clear_error (&error);

        p = dinolab_safetensors_get_f32 (st, "scale", 0, NULL, &error);
        g_assert_no_error (error);
        g_assert_cmpfloat (p[0], ==, 0.125f);
    }

    // No metadata and no tensors at all: "{}" padded, and it reads back empty.
    {
        g_autoptr(DinolabSafetensors) st0 = NULL;
        g_autofree guint8 *raw0 = NULL;
        size_t len0;

        g_assert_true (dinolab_safetensors_write (path, NULL, 0, NULL, &error));
        g_assert_no_error (error);
        raw0 = read_raw_ (path, &len0);
        g_assert_cmpmem (raw0, len0, "\x08\0\0\0\0\0\0\0{}      ", 16);
        st0 = dinolab_safetensors_read (path, NULL, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (dinolab_safetensors_get_n_tensors (st0), ==, 0);
    }
}

/* Our writer against a buffer built by hand from the safetensors spec: u64 LE header
 * size, compact JSON ("__metadata__" first, then tensors in order with contiguous
 * data_offsets), spaces up to a multiple of 8, then the raw little-endian floats. */
static void
test_st_bytes (void)
{
    g_autofree char *path = tmp_path_ ("bytes.safetensors");
    const float a[2] = { 1.0f, -2.0f }, b[1] = { 0.5f };
    const DinolabTensorView t[2] = {
        { "a", 1, { 2 }, a },
        { "b.w", 2, { 1, 1 }, b },
    };
    const char *const metadata[] = { "k", "v \"q\"", NULL };
    const char *json = "{\"__metadata__\":{\"k\":\"v \\\"q\\\"\"},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b.w\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[8,12]}}";
    /* Bit patterns: 1.0f = 0x3f800000, -2.0f = 0xc0000000, 0.5f = 0x3f000000. */
    const guint8 floats[12] = { 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0, 0x3f };
    GByteArray *want = g_byte_array_new ();
    size_t jlen = strlen (json), padded = (jlen + 7) / 8 * 8;
    guint8 len_le[8] = { 0 };
    g_autofree guint8 *got = NULL;
    size_t got_len;
    GError *error = NULL;

    len_le[0] = (guint8) padded;
    len_le[1] = (guint8) (padded >> 8);
    g_byte_array_append (want, len_le, 8);
    g_byte_array_append (want, (const guint8 *) json, (guint) jlen);
    for (size_t i = jlen; i < padded; i++)
        g_byte_array_append (want, (const guint8 *) " ", 1);
    g_byte_array_append (want, floats, 12);

    g_assert_true (dinolab_safetensors_write (path, t, 2, metadata, &error));
    g_assert_no_error (error);
    got = read_raw_ (path, &got_len);
    g_assert_cmpmem (got, got_len, want->data, want->len);
    g_byte_array_unref (want);
}

/* One fixture with every kind of prefix and collision. */
static void
write_prefixed_ (const char *path, const char *const *names, const float *values, guint n)
{
    DinolabTensorView t[16];
    GError *error = NULL;

    g_assert_cmpuint (n, <=, G_N_ELEMENTS (t));
    for (guint i = 0; i < n; i++) {
        t[i].name = names[i];
        t[i].ndim = 1;
        memset (t[i].shape, 0, sizeof t[i].shape);
        t[i].shape[0] = 1;
        t[i].data = &values[i];
    }
    g_assert_true (dinolab_safetensors_write (path, t, n, NULL, &error));
    g_assert_no_error (error);
}

static float
value_of_ (const DinolabSafetensors *st, const char *name)
{
    const DinolabArray *a = dinolab_safetensors_get (st, name);
    if (a == NULL)
        g_error ("tensor %s missing", name);
    return ((const float *) a->data)[0];
}

static void
test_st_prefixes (void)
{
    g_autofree char *path = tmp_path_ ("prefixed.safetensors");
    const char *const names[] = {
        "module.backbone.blocks.0.norm1.weight", /* chain of neutral prefixes */
        "student.cls_token",                      /* student vs teacher */
        "teacher.cls_token",
        "teacher.backbone.norm.weight",           /* through longer chains */
        "student.module.backbone.norm.weight",
        "student.head.last_layer.weight_g",       /* only a student copy */
        "pos_embed",                              /* no prefix vs teacher */
        "teacher.pos_embed",
        "backbone.head.mlp.0.bias",               /* no prefix vs student */
        "student.head.mlp.0.bias",
        "teacher.",                               /* never stripped to "" */
    };
    const float values[] = { 1, 10, 20, 30, 31, 40, 50, 51, 60, 61, 70 };
    const char *prefers[] = { NULL, "teacher", "student" };
    GError *error = NULL;

    write_prefixed_ (path, names, values, G_N_ELEMENTS (names));
    for (size_t k = 0; k < G_N_ELEMENTS (prefers); k++) {
        g_autoptr(DinolabSafetensors) st = dinolab_safetensors_read (path, prefers[k], &error);
        gboolean student = prefers[k] != NULL && strcmp (prefers[k], "student") == 0;

        g_assert_no_error (error);
        g_assert_cmpuint (dinolab_safetensors_get_n_tensors (st), ==, 7);
        for (guint i = 0; i < 7; i++) {
            const char *nm = dinolab_safetensors_get_name (st, i);
            g_assert_false (g_str_has_prefix (nm, "module.") || g_str_has_prefix (nm, "backbone.")
                            || g_str_has_prefix (nm, "student.")
                            || (g_str_has_prefix (nm, "teacher.") && strcmp (nm, "teacher.") != 0));
        }
        g_assert_cmpfloat (value_of_ (st, "blocks.0.norm1.weight"), ==, 1);
        g_assert_cmpfloat (value_of_ (st, "cls_token"), ==, student ? 10 : 20);
        g_assert_cmpfloat (value_of_ (st, "norm.weight"), ==, student ? 31 : 30);
        g_assert_cmpfloat (value_of_ (st, "head.last_layer.weight_g"), ==, 40);
        g_assert_cmpfloat (value_of_ (st, "pos_embed"), ==, student ? 50 : 51);
        g_assert_cmpfloat (value_of_ (st, "head.mlp.0.bias"), ==, student ? 61 : 60);
        g_assert_cmpfloat (value_of_ (st, "teacher."), ==, 70);
    }

    // Unknown preference, and collisions that no rule decides.
    g_assert_null (dinolab_safetensors_read (path, "ema", &error));
    assert_error_ (error, DINOLAB_ERROR_INVALID_INPUT, path, "\"ema\"", NULL);
    g_clear_error (&error);
    {
        const char *const amb1[] = { "module.x.weight", "backbone.x.weight" };
        const char *const amb2[] = { "teacher.y", "teacher.module.y" };
        const float v[2] = { 1, 2 };

        write_prefixed_ (path, amb1, v, 2);
        g_assert_null (dinolab_safetensors_read (path, NULL, &error));
        assert_error_ (error, DINOLAB_ERROR_INVALID_INPUT, path, "module.x.weight", "backbone.x.weight");
        g_clear_error (&error);
        write_prefixed_ (path, amb2, v, 2);
        g_assert_null (dinolab_safetensors_read (path, "teacher", &error));
        assert_error_ (error, DINOLAB_ERROR_INVALID_INPUT, path, "teacher.module.y", " y;");
        g_clear_error (&error);
    }
}

/* A small valid file: metadata and three tensors (one empty). */
static guint8 *
valid_st_ (size_t *len)
{
    g_autofree char *path = tmp_path_ ("valid.safetensors");
    float w[6], bvec[3];
    const DinolabTensorView t[3] = {
        { "teacher.backbone.w", 2, { 2, 3 }, w },
        { "b", 1, { 3 }, bvec },
        { "e", 1, { 0 }, NULL },
    };
    const char *const metadata[] = { "hyperparameters", "{\"depth\": 2}", NULL };
    GError *error = NULL;

    fill_uniform (w, 6, 7, 1.0f);
    fill_uniform (bvec, 3, 8, 1.0f);
    g_assert_true (dinolab_safetensors_write (path, t, 3, metadata, &error));
    g_assert_no_error (error);
    return read_raw_ (path, len);
}

static void
test_st_truncate (void)
{
    g_autofree char *path = tmp_path_ ("cut.safetensors");
    size_t len;
    g_autofree guint8 *raw = valid_st_ (&len);
    g_autofree guint8 *longer = g_malloc0 (len + 16);
    GError *error = NULL;

    // Sanity: the whole file reads.
    {
        g_autoptr(DinolabSafetensors) st = NULL;
        write_raw_ (path, raw, len);
        st = dinolab_safetensors_read (path, NULL, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (dinolab_safetensors_get_n_tensors (st), ==, 3);
    }
    for (size_t cut = 0; cut < len; cut++) {
        write_raw_ (path, raw, cut);
        g_assert_null (dinolab_safetensors_read (path, NULL, &error));
        assert_error_ (error, DINOLAB_ERROR_CORRUPT, path, NULL, NULL);
        g_clear_error (&error);
    }
    // Extra bytes after the data belong to no tensor.
    memcpy (longer, raw, len);
    for (size_t extra = 1; extra <= 16; extra++) {
        write_raw_ (path, longer, len + extra);
        g_assert_null (dinolab_safetensors_read (path, NULL, &error));
        assert_error_ (error, DINOLAB_ERROR_CORRUPT, path, "not part of any tensor", NULL);
        g_clear_error (&error);
    }
    g_test_message ("safetensors: %zu truncations and 16 extensions of a %zu-byte file all refused",
                    len, len);
}

static void
test_st_corrupt (void)
{
    static const struct {
        const char *header;
        size_t      data_len;
        int         code;
        const char *needle, *needle2;
    } bad[] = {
        { "{not json at all}", 0, DINOLAB_ERROR_CORRUPT, "malformed JSON", NULL },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, DINOLAB_ERROR_CORRUPT, "malformed JSON", NULL },
        { "[1,2,3]", 0, DINOLAB_ERROR_CORRUPT, "'{'", NULL },
        { "", 0, DINOLAB_ERROR_CORRUPT, "'{'", NULL },
        { "{\"a\":5}", 0, DINOLAB_ERROR_CORRUPT, "tensor a", "not a JSON object" },
        { "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, DINOLAB_ERROR_CORRUPT, "tensor a", "dtype" },
        { "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, DINOLAB_ERROR_INVALID_INPUT, "tensor a", "dtype F16" },
        { "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, DINOLAB_ERROR_INVALID_INPUT, "tensor a", "dtype BF16" },
        { "{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, DINOLAB_ERROR_INVALID_INPUT, "tensor a", "dtype I64" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, DINOLAB_ERROR_CORRUPT, "tensor a", "past the end" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551615]}}", 8, DINOLAB_ERROR_CORRUPT, "tensor a", "data_offsets" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, DINOLAB_ERROR_CORRUPT, "tensor b", "overlap tensor a" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, DINOLAB_ERROR_CORRUPT, "overlap tensor", NULL },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20, DINOLAB_ERROR_CORRUPT, "tensor b", "gap of 4 bytes" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, DINOLAB_ERROR_CORRUPT, "tensor a", "reversed" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, DINOLAB_ERROR_CORRUPT, "tensor a", "needs 12" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,0]}}", 0, DINOLAB_ERROR_CORRUPT, "tensor a", "needs 4" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, DINOLAB_ERROR_CORRUPT, "tensor a", "shape entry 0" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, DINOLAB_ERROR_CORRUPT, "tensor a", "shape entry 0" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,8]}}", 8, DINOLAB_ERROR_CORRUPT, "tensor a", "too large" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[9223372036854775807,3],\"data_offsets\":[0,8]}}", 8, DINOLAB_ERROR_CORRUPT, "tensor a", "too large" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0, DINOLAB_ERROR_CORRUPT, "tensor a", "too large" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8, DINOLAB_ERROR_INVALID_INPUT, "tensor a", "9 dimensions" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, DINOLAB_ERROR_CORRUPT, "tensor a", "shape" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", 8, DINOLAB_ERROR_CORRUPT, "tensor a", "data_offsets" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,\"8\"]}}", 8, DINOLAB_ERROR_CORRUPT, "tensor a", "data_offsets" },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, DINOLAB_ERROR_CORRUPT, "tensor a", "data_offsets" },
        { "{\"__metadata__\":{\"k\":1}}", 0, DINOLAB_ERROR_CORRUPT, "__metadata__", "k" },
        { "{\"__metadata__\":[\"k\"]}", 0, DINOLAB_ERROR_CORRUPT, "__metadata__", NULL },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, DINOLAB_ERROR_CORRUPT, "4 bytes after", NULL },
        { "{\"\xff\xfe\":{}}", 0, DINOLAB_ERROR_CORRUPT, "UTF-8", NULL },
    };
    g_autofree char *path = tmp_path_ ("bad.safetensors");
    guint8 data[64] = { 0 };
    GError *error = NULL;

    for (size_t c = 0; c < G_N_ELEMENTS (bad); c++) {
        write_st_raw_ (path, bad[c].header, strlen (bad[c].header), data, bad[c].data_len);
        g_assert_null (dinolab_safetensors_read (path, NULL, &error));
        assert_error_ (error, bad[c].code, path, bad[c].needle, bad[c].needle2);
        g_clear_error (&error);
    }

    // Embedded NUL in the header.
    write_st_raw_ (path, "{\"a\0\":{}}", 9, data, 0);
    g_assert_null (dinolab_safetensors_read (path, NULL, &error));
    assert_error_ (error, DINOLAB_ERROR_CORRUPT, path, "UTF-8", NULL);
    g_clear_error (&error);

    // Header lengths: over the 100 MB cap, past the end of the file, 2^64 - 1.
    {
        static const guint64 lens[] = { 100000001, 200000000, G_MAXUINT64, 1000, 9 };
        for (size_t c = 0; c < G_N_ELEMENTS (lens); c++) {
            guint8 raw[16] = "........{}      ";
            for (int i = 0; i < 8; i++)
                raw[i] = (guint8) (lens[c] >> (8 * i));
            write_raw_ (path, raw, sizeof raw);
            g_assert_null (dinolab_safetensors_read (path, NULL, &error));
            assert_error_ (error, DINOLAB_ERROR_CORRUPT, path,
                           lens[c] > 100000000 ? "limit" : "past the end", NULL);
            g_clear_error (&error);
        }
    }

    // A nesting bomb must be refused before json-glib recurses into it.
    {
        const size_t depth = 200000;
        GString *h = g_string_new ("{\"a\":");
        for (size_t i = 0; i < depth; i++)
            g_string_append_c (h, '[');
        for (size_t i = 0; i < depth; i++)
            g_string_append_c (h, ']');
        g_string_append_c (h, '}');
        write_st_raw_ (path, h->str, h->len, data, 0);
        g_string_free (h, TRUE);
        g_assert_null (dinolab_safetensors_read (path, NULL, &error));
        assert_error_ (error, DINOLAB_ERROR_CORRUPT, path, "nests deeper", NULL);
        g_clear_error (&error);
    }

    // Valid files laid out differently from ours: header order != data order,
    // unpadded header, trailing whitespace, extra keys in an entry.
    {
        const char *h = "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12],\"x\":1},"
                        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  \n ";
        guint8 d[12];
        g_autoptr(DinolabSafetensors) st = NULL;

        put_f32_le_ (d, 1.5f);
        put_f32_le_ (d + 4, 2.5f);
        put_f32_le_ (d + 8, 3.5f);
        write_st_raw_ (path, h, strlen (h), d, sizeof d);
        st = dinolab_safetensors_read (path, NULL, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (dinolab_safetensors_get_n_tensors (st), ==, 2);
        g_assert_cmpstr (dinolab_safetensors_get_name (st, 0), ==, "a");
        g_assert_cmpstr (dinolab_safetensors_get_name (st, 1), ==, "b");
        g_assert_cmpfloat (((float *) dinolab_safetensors_get (st, "a")->data)[1], ==, 2.5f);
        g_assert_cmpfloat (((float *) dinolab_safetensors_get (st, "b")->data)[0], ==, 3.5f);
    }

    // Missing file.
    {
        g_autofree char *missing = tmp_path_ ("no-such.safetensors");
        g_assert_null (dinolab_safetensors_read (missing, NULL, &error));
        assert_error_ (error, DINOLAB_ERROR_IO, missing, "No such file", NULL);
        g_clear_error (&error);
        g_assert_null (dinolab_safetensors_read (tmpdir, NULL, &error));
        assert_error_ (error, DINOLAB_ERROR_IO, tmpdir, "not a regular file", NULL);
        g_clear_error (&error);
    }
}

/* Random byte flips and overwrites of a valid file: every outcome must be a clean
 * success or a clean error (ASan/valgrind watch for the rest). */
static void
test_st_fuzz (void)
{
    g_autofree char *path = tmp_path_ ("fuzz.safetensors");
    size_t len;
    g_autofree guint8 *raw = valid_st_ (&len);
    g_autofree guint8 *mut = g_malloc (len);
    GRand *rng = g_rand_new_with_seed (1234);
    const char specials[] = "{}[]\",:0123456789-eE. \\";
    int n_ok = 0, n_err = 0;

    for (int it = 0; it < 3000; it++) {
        g_autoptr(DinolabSafetensors) st = NULL;
        GError *error = NULL;
        int flips = g_rand_int_range (rng, 1, 5);

        memcpy (mut, raw, len);
        for (int f = 0; f < flips; f++) {
            /* Mostly the header (where the parsing is), sometimes the length. */
            size_t pos = g_rand_int_range (rng, 0, 8) == 0 ? (size_t) g_rand_int_range (rng, 0, 8)
                                                           : (size_t) g_rand_int_range (rng, 8, (gint32) len);
            mut[pos] = g_rand_boolean (rng) ? (guint8) g_rand_int_range (rng, 0, 256)
                                            : (guint8) specials[g_rand_int_range (rng, 0, sizeof specials - 1)];
        }
        write_raw_ (path, mut, len);
        st = dinolab_safetensors_read (path, NULL, &error);
        if (st != NULL) {
            g_assert_no_error (error);
            g_assert_cmpuint (dinolab_safetensors_get_n_tensors (st), <=, 3);
            n_ok++;
        }
        else {
            g_assert_nonnull (error);
            g_assert_true (error->domain == DINOLAB_ERROR);
            g_assert_true (g_str_has_prefix (error->message, path));
            g_clear_error (&error);
            n_err++;
        }
    }
    g_rand_free (rng);
    g_test_message ("fuzz: 3000 mutated files, %d read, %d refused", n_ok, n_err);
}

static void
test_st_write_errors (void)
{
    g_autofree char *path = tmp_path_ ("w.safetensors");
    g_autofree char *nodir = g_build_filename (tmpdir, "no-such-dir", "w.safetensors", NULL);
    const float x[2] = { 1, 2 };
    DinolabTensorView t[2] = {
        { "a", 1, { 2 }, x },
        { "a", 1, { 2 }, x },
    };
    const char *const meta_odd[] = { "k", NULL };
    const char *const meta_dup[] = { "k", "1", "k", "2", NULL };
    GError *error = NULL;

    g_assert_false (dinolab_safetensors_write (path, t, 2, NULL, &error));
    assert_error_ (error, DINOLAB_ERROR_INVALID_INPUT, path, "(a) is given twice", NULL);
    g_clear_error (&error);

    t[1].name = "__metadata__";
    g_assert_false (dinolab_safetensors_write (path, t, 2, NULL, &error));
    assert_error_ (error, DINOLAB_ERROR_INVALID_INPUT, path, "__metadata__", NULL);
    g_clear_error (&error);

    t[1].name = "b";
    t[1].shape[0] = -2;
    g_assert_false (dinolab_safetensors_write (path, t, 2, NULL, &error));
    assert_error_ (error, DINOLAB_ERROR_INVALID_INPUT, path, "(b) has a negative dim", NULL);
    g_clear_error (&error);

    t[1].shape[0] = 2;
    t[1].name = "";
    g_assert_false (dinolab_safetensors_write (path, t, 2, NULL, &error));
    assert_error_ (error, DINOLAB_ERROR_INVALID_INPUT, path, "no name", NULL);
    g_clear_error (&error);

    t[1].name = "b";
    g_assert_false (dinolab_safetensors_write (path, t, 2, meta_odd, &error));
    assert_error_ (error, DINOLAB_ERROR_INVALID_INPUT, path, "(k) has no value", NULL);
    g_clear_error (&error);
    g_assert_false (dinolab_safetensors_write (path, t, 2, meta_dup, &error));
    assert_error_ (error, DINOLAB_ERROR_INVALID_INPUT, path, "(k) is given twice", NULL);
    g_clear_error (&error);
    g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    assert_no_tmp_ (path);

    g_assert_false (dinolab_safetensors_write (nodir, t, 2, NULL, &error));
    assert_error_ (error, DINOLAB_ERROR_IO, nodir, NULL, NULL);
    g_clear_error (&error);

    // An existing file survives a failed overwrite.
    {
        g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
        g_autoptr(DinolabSafetensors) st = NULL;

        g_assert_true (dinolab_safetensors_write (path, t, 1, NULL, &error));
        g_assert_no_error (error);
        g_assert_cmpint (g_mkdir (tmp, 0700), ==, 0);
        g_assert_false (dinolab_safetensors_write (path, t, 2, NULL, &error));
        assert_error_ (error, DINOLAB_ERROR_IO, path, NULL, NULL);
        g_clear_error (&error);
        g_assert_cmpint (g_rmdir (tmp), ==, 0);
        st = dinolab_safetensors_read (path, NULL, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (dinolab_safetensors_get_n_tensors (st), ==, 1);
    }
}

// ----------------------------------------------------------------------------

static void
remove_tmpdir_ (void)
{
    GDir *dir = g_dir_open (tmpdir, 0, NULL);
    const char *name;

    if (dir != NULL) {
        while ((name = g_dir_read_name (dir)) != NULL) {
            g_autofree char *p = g_build_filename (tmpdir, name, NULL);
            g_remove (p);
        }
        g_dir_close (dir);
    }
    g_rmdir (tmpdir);
}

int
main (int argc, char **argv)
{
    GError *error = NULL;
    int rc;

    g_test_init (&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp ("dinolab-io-XXXXXX", &error);
    g_assert_no_error (error);

    g_test_add_func ("/io/array/basics", test_array_basics);
    g_test_add_func ("/io/npy/roundtrip", test_npy_roundtrip);
    g_test_add_func ("/io/npy/bytes", test_npy_bytes);
    g_test_add_func ("/io/npy/read-variants", test_npy_read_variants);
    g_test_add_func ("/io/npy/reject", test_npy_reject);
    g_test_add_func ("/io/npy/truncate", test_npy_truncate);
    g_test_add_func ("/io/npy/io-errors", test_npy_io_errors);
    g_test_add_func ("/io/safetensors/roundtrip", test_st_roundtrip);
    g_test_add_func ("/io/safetensors/bytes", test_st_bytes);
    g_test_add_func ("/io/safetensors/prefixes", test_st_prefixes);
    g_test_add_func ("/io/safetensors/truncate", test_st_truncate);
    g_test_add_func ("/io/safetensors/corrupt", test_st_corrupt);
    g_test_add_func ("/io/safetensors/fuzz", test_st_fuzz);
    g_test_add_func ("/io/safetensors/write-errors", test_st_write_errors);
    rc = g_test_run ();

    remove_tmpdir_ ();
    g_free (tmpdir);
    return rc;
}
