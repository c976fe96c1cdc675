/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-loader.c: the batch loader (loader.c) on a small synthetic npy dataset written
 * to a temp dir: the crop-major layout (each view of each item checked against a
 * direct dinolab_augment_views() call), drop_last's step count, the per-epoch
 * permutation, byte-identical batches with 1 and 3 threads, seek (resume) reproducing
 * an uninterrupted run, freeing mid-epoch under a timeout, cancellation, and the
 * refusals of bad input (each message naming its key).
 *
 * The augmentation itself is tested by test-augment.c, the npy dataset by
 * test-dataset.c.
 */
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <string.h>

#include "dinolab/data.h"
#include "dinolab/error.h"
#include "dinolab/hparams.h"
#include "dinolab/io.h"
#include "test-util.h"

typedef struct {
    char *dir;
    char *spec;   /* "npy:<dir>/images.npy" */
} Fixture;

static const float mean1[1] = { 0.3f }, std1[1] = { 0.35f };

/* N x H x W (C = 1) or N x H x W x C uint8 images with distinct content per item. */
static char *
write_images_ (const char *dir, const char *name, int N, int H, int W, int C)
{
    int64_t shape[4] = { N, H, W, C };
    g_autoptr (GError) error = NULL;
    char *path = g_build_filename (dir, name, NULL);
    DinolabArray *a = dinolab_array_new (DINOLAB_DTYPE_U8, C == 1 ? 3 : 4, shape);
    guint8 *p = a->data;

    for (gsize i = 0; i < (gsize) N * H * W * C; i++)
        p[i] = (guint8) ((i * 2654435761u) >> 13);
    g_assert_true (dinolab_npy_write (path, a, &error));
    g_assert_no_error (error);
    dinolab_array_free (a);
    return path;
}

static void
fixture_set_up (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *path = NULL;

    f->dir = g_dir_make_tmp ("dinolab-test-loader-XXXXXX", &error);
    g_assert_no_error (error);
    path = write_images_ (f->dir, "images.npy", 14, 12, 10, 1);
    f->spec = g_strconcat ("npy:", path, NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
    g_autoptr (GDir) d = g_dir_open (f->dir, 0, NULL);
    const char *name;

    while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
        g_autofree char *p = g_build_filename (f->dir, name, NULL);
        g_unlink (p);
    }
    g_rmdir (f->dir);
    g_free (f->dir);
    g_free (f->spec);
}

/* Small multi-crop settings: B 4, globals 8 px, 3 locals of 4 px, patch 4. */
static void
hp_small_ (DinolabHparams *hp)
{
    dinolab_hparams_clear (hp);   /* callers pass a zeroed or used struct */
    dinolab_hparams_init (hp);
    hp->patch_size = 4;
    hp->batch_size_per_gpu = 4;
    hp->global_crop_size = 8;
    hp->local_crop_size = 4;
    hp->local_crops_number = 3;
    hp->in_chans = 1;
    hp->seed = 7;
}

static DinolabDataset *
open_ (const char *spec)
{
    g_autoptr (GError) error = NULL;
    DinolabDataset *ds = dinolab_dataset_open (spec, DINOLAB_SPLIT_TRAIN, &error);
    g_assert_no_error (error);
    g_assert_nonnull (ds);
    return ds;
}

static DinolabLoader *
loader_ (DinolabDataset *ds, const DinolabHparams *hp, int threads)
{
    g_autoptr (GError) error = NULL;
    DinolabLoader *ld = dinolab_loader_new (ds, hp, mean1, std1, threads, &error);
    g_assert_no_error (error);
    g_assert_nonnull (ld);
    return ld;
}

static const DinolabBatch *
next_ (DinolabLoader *ld)
{
    g_autoptr (GError) error = NULL;
    const DinolabBatch *b = dinolab_loader_next (ld, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (b);
    return b;
}

/* A deep copy of a batch, to compare batches taken at different times. */
typedef struct {
    int    epoch, iteration;
    gsize  ng, nl;
    float *globals, *locals;
    gsize  indices[16];
} BatchCopy;

static void
copy_batch_ (BatchCopy *c, const DinolabBatch *b, const DinolabHparams *hp)
{
    c->epoch = b->epoch;
    c->iteration = b->iteration;
    c->ng = (gsize) 2 * b->batch * hp->in_chans * hp->global_crop_size * hp->global_crop_size;
    c->nl = (gsize) hp->local_crops_number * b->batch * hp->in_chans * hp->local_crop_size *
            hp->local_crop_size;
    c->globals = g_memdup2 (b->globals, c->ng * sizeof (float));
    c->locals = b->locals ? g_memdup2 (b->locals, c->nl * sizeof (float)) : NULL;
    g_assert_cmpint (b->batch, <=, 16);
    memcpy (c->indices, b->indices, (gsize) b->batch * sizeof (gsize));
}

static void
assert_same_batch_ (const BatchCopy *a, const DinolabBatch *b)
{
    g_assert_cmpint (a->epoch, ==, b->epoch);
    g_assert_cmpint (a->iteration, ==, b->iteration);
    g_assert_cmpmem (a->indices, b->batch * sizeof (gsize), b->indices, b->batch * sizeof (gsize));
    g_assert_cmpmem (a->globals, a->ng * sizeof (float), b->globals, a->ng * sizeof (float));
    if (a->nl > 0)
        g_assert_cmpmem (a->locals, a->nl * sizeof (float), b->locals, a->nl * sizeof (float));
}

static void
free_copy_ (BatchCopy *c)
{
    g_free (c->globals);
    g_free (c->locals);
}

// ----------------------------------------------------------------------------
// layout and order

/* globals[v][b] and locals[v - 2][b] are view v of item indices[b]. */
static void
test_crop_major (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (DinolabDataset) ds = NULL;
    g_autoptr (DinolabLoader) ld = NULL;
    g_autoptr (DinolabAugment) aug = NULL;
    const int G = 8, L = 4;
    float *views[5];

    hp_small_ (&hp);
    ds = open_ (f->spec);
    ld = loader_ (ds, &hp, 2);
    aug = dinolab_augment_new (&hp, 1, mean1, std1);
    for (int v = 0; v < 5; v++)
        views[v] = g_new (float, v < 2 ? G * G : L * L);

    for (int step = 0; step < 5; step++) {
        const DinolabBatch *b = next_ (ld);
        g_assert_cmpint (b->batch, ==, 4);
        g_assert_nonnull (b->locals);
        for (int i = 0; i < b->batch; i++) {
            g_auto (DinolabImage) img = { 0 };
            g_autoptr (GError) error = NULL;
            g_assert_true (dinolab_dataset_get_image (ds, b->indices[i], &img, &error));
            dinolab_augment_views (aug, &img, (guint64) b->epoch, b->indices[i], views);
            for (int v = 0; v < 2; v++)
                g_assert_cmpmem (b->globals + ((gsize) v * b->batch + i) * G * G, G * G * sizeof (float),
                                 views[v], G * G * sizeof (float));
            for (int v = 2; v < 5; v++)
                g_assert_cmpmem (b->locals + ((gsize) (v - 2) * b->batch + i) * L * L, L * L * sizeof (float),
                                 views[v], L * L * sizeof (float));
        }
    }
    for (int v = 0; v < 5; v++)
        g_free (views[v]);
}

/* 14 items, batch 4: 3 steps (the last 2 items of each epoch are dropped); each
 * epoch's batches hold distinct items; epochs follow each other; the order changes
 * from epoch to epoch; without local crops, locals is NULL. */
static void
test_drop_last (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (DinolabDataset) ds = NULL;
    g_autoptr (DinolabLoader) ld = NULL;
    gsize order[3][12];

    hp_small_ (&hp);
    hp.local_crops_number = 0;
    ds = open_ (f->spec);
    ld = loader_ (ds, &hp, 1);
    g_assert_cmpint (dinolab_loader_get_steps_per_epoch (ld), ==, 3);

    for (int e = 0; e < 3; e++) {
        gboolean seen[14] = { FALSE };
        for (int it = 0; it < 3; it++) {
            const DinolabBatch *b = next_ (ld);
            g_assert_cmpint (b->epoch, ==, e);
            g_assert_cmpint (b->iteration, ==, it);
            g_assert_null (b->locals);
            for (int i = 0; i < 4; i++) {
                g_assert_cmpuint (b->indices[i], <, 14);
                g_assert_false (seen[b->indices[i]]);
                seen[b->indices[i]] = TRUE;
                order[e][it * 4 + i] = b->indices[i];
            }
        }
    }
    g_assert_true (memcmp (order[0], order[1], sizeof order[0]) != 0);
    g_assert_true (memcmp (order[1], order[2], sizeof order[0]) != 0);
}

/* With N a multiple of B, one epoch is a permutation of all items; the shuffle is a
 * function of (seed, epoch): a second loader sees the same order. */
static void
test_permutation (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (DinolabDataset) ds = NULL;
    g_autoptr (DinolabLoader) a = NULL;
    g_autoptr (DinolabLoader) b = NULL;
    g_autofree char *path = write_images_ (f->dir, "perm.npy", 12, 6, 6, 1);
    g_autofree char *spec = g_strconcat ("npy:", path, NULL);
    int first_count[12] = { 0 };

    hp_small_ (&hp);
    hp.batch_size_per_gpu = 3;
    hp.local_crops_number = 0;
    ds = open_ (spec);
    a = loader_ (ds, &hp, 2);
    b = loader_ (ds, &hp, 1);
    g_assert_cmpint (dinolab_loader_get_steps_per_epoch (a), ==, 4);
    for (int e = 0; e < 20; e++) {
        int count[12] = { 0 };
        for (int it = 0; it < 4; it++) {
            const DinolabBatch *ba = next_ (a);
            const DinolabBatch *bb = next_ (b);
            g_assert_cmpmem (ba->indices, 3 * sizeof (gsize), bb->indices, 3 * sizeof (gsize));
            for (int i = 0; i < 3; i++)
                count[ba->indices[i]]++;
            if (it == 0)
                first_count[ba->indices[0]]++;
        }
        for (int i = 0; i < 12; i++)
            g_assert_cmpint (count[i], ==, 1);
    }
    /* over 20 epochs the first item is not always the same one */
    for (int i = 0; i < 12; i++)
        g_assert_cmpint (first_count[i], <, 10);
}

// ----------------------------------------------------------------------------
// determinism: threads and seek

static void
test_threads_identical (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (DinolabDataset) ds = NULL;
    g_autoptr (DinolabLoader) one = NULL;
    g_autoptr (DinolabLoader) three = NULL;

    hp_small_ (&hp);
    ds = open_ (f->spec);
    one = loader_ (ds, &hp, 1);
    three = loader_ (ds, &hp, 3);
    for (int step = 0; step < 10; step++) {   /* 3 epochs and a bit */
        BatchCopy c;
        copy_batch_ (&c, next_ (one), &hp);
        assert_same_batch_ (&c, next_ (three));
        free_copy_ (&c);
    }
}

static void
test_seek (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (DinolabDataset) ds = NULL;
    g_autoptr (DinolabLoader) run = NULL;
    g_autoptr (DinolabLoader) resumed = NULL;
    BatchCopy seq[8];

    hp_small_ (&hp);
    ds = open_ (f->spec);
    run = loader_ (ds, &hp, 2);
    for (int s = 0; s < 8; s++)
        copy_batch_ (&seq[s], next_ (run), &hp);

    /* a fresh loader resumed at (epoch 1, iteration 2) = step 5 */
    resumed = loader_ (ds, &hp, 3);
    dinolab_loader_seek (resumed, 1, 2);
    for (int s = 5; s < 8; s++)
        assert_same_batch_ (&seq[s], next_ (resumed));

    /* seeking back on a loader that is running (batches in flight, one held) */
    dinolab_loader_seek (run, 0, 0);
    for (int s = 0; s < 8; s++)
        assert_same_batch_ (&seq[s], next_ (run));
    dinolab_loader_seek (run, 0, 1);
    assert_same_batch_ (&seq[1], next_ (run));
    g_assert_cmpfloat (dinolab_loader_get_last_wait (run), >=, 0.0);

    for (int s = 0; s < 8; s++)
        free_copy_ (&seq[s]);
}

// ----------------------------------------------------------------------------
// shutdown and cancellation

/* A dataset and settings that make one batch take a while (the reference's crop
 * sizes, 64 items), so that freeing and cancelling happen while workers are busy. */
static DinolabDataset *
slow_dataset_ (const Fixture *f, DinolabHparams *hp)
{
    g_autofree char *path = write_images_ (f->dir, "slow.npy", 64, 64, 64, 1);
    g_autofree char *spec = g_strconcat ("npy:", path, NULL);

    hp_small_ (hp);
    hp->batch_size_per_gpu = 64;
    hp->global_crop_size = 224;
    hp->local_crop_size = 96;
    hp->local_crops_number = 8;
    return open_ (spec);
}

static void
free_mid_epoch_child_ (const Fixture *f)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (DinolabDataset) ds = NULL;
    g_autoptr (DinolabDataset) slow = NULL;

    hp_small_ (&hp);
    ds = open_ (f->spec);
    /* freed while the workers fill the first batches */
    for (int k = 0; k < 5; k++) {
        DinolabLoader *ld = loader_ (ds, &hp, 3);
        dinolab_loader_free (ld);
    }
    /* freed mid-epoch while holding a batch, with others in flight */
    {
        DinolabLoader *ld = loader_ (ds, &hp, 3);
        next_ (ld);
        next_ (ld);
        dinolab_loader_free (ld);
    }
    /* freed while slow batches are being made */
    slow = slow_dataset_ (f, &hp);
    {
        DinolabLoader *ld = loader_ (slow, &hp, 2);
        gint64 t0;
        g_usleep (20000);
        t0 = g_get_monotonic_time ();
        dinolab_loader_free (ld);
        g_test_message ("freeing a busy loader took %.4f s", (g_get_monotonic_time () - t0) * 1e-6);
    }
}

static void
test_free_mid_epoch (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
    if (g_test_subprocess ()) {
        free_mid_epoch_child_ (f);
        return;
    }
    /* in a child with a timeout: a hang fails the test instead of blocking it */
    g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDOUT |
                            G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed ();
}

typedef struct {
    GCancellable *cancellable;
    gulong        delay_us;
} CancelLater;

static gpointer
cancel_later_ (gpointer data)
{
    CancelLater *c = data;
    g_usleep (c->delay_us);
    g_cancellable_cancel (c->cancellable);
    return NULL;
}

static void
test_cancel (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (DinolabDataset) ds = NULL;
    g_autoptr (DinolabLoader) ld = NULL;
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();
    g_autoptr (GCancellable) fresh = g_cancellable_new ();
    g_autoptr (GError) error = NULL;
    const DinolabBatch *b;
    CancelLater later = { cancellable, 50000 };
    GThread *t;
    gint64 t0;

    ds = slow_dataset_ (f, &hp);
    ld = loader_ (ds, &hp, 1);

    /* cancelled while waiting for a slow batch: returns at once, CANCELLED */
    t = g_thread_new ("cancel", cancel_later_, &later);
    t0 = g_get_monotonic_time ();
    b = dinolab_loader_next (ld, cancellable, &error);
    g_thread_join (t);
    g_test_message ("next() returned %.3f s after the start, cancelled after 0.05 s",
                    (g_get_monotonic_time () - t0) * 1e-6);
    g_assert_null (b);
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CANCELLED);
    g_clear_error (&error);

    /* an already-cancelled cancellable: same, without waiting */
    b = dinolab_loader_next (ld, cancellable, &error);
    g_assert_null (b);
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CANCELLED);
    g_clear_error (&error);

    /* the loader still works afterwards, from where it was */
    b = dinolab_loader_next (ld, fresh, &error);
    g_assert_no_error (error);
    g_assert_nonnull (b);
    g_assert_cmpint (b->epoch, ==, 0);
    g_assert_cmpint (b->iteration, ==, 0);
    g_test_message ("the first slow batch waited %.3f s", dinolab_loader_get_last_wait (ld));
}

/* An item that cannot be read: next() fails with the dataset's message (naming the
 * file), again on the next call, and the loader still frees cleanly. The files of an
 * image folder are removed after it was opened. */
static void
test_read_error (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (DinolabDataset) ds = NULL;
    g_autoptr (DinolabLoader) ld = NULL;
    g_autoptr (GError) error = NULL;
    g_autofree char *root = g_build_filename (f->dir, "folder", NULL);
    g_autofree char *cls = g_build_filename (root, "things", NULL);
    g_autofree char *spec = g_strconcat ("folder:", root, NULL);
    const float mean3[3] = { 0.5f, 0.5f, 0.5f }, std3[3] = { 0.25f, 0.25f, 0.25f };
    const DinolabBatch *b;

    g_assert_cmpint (g_mkdir_with_parents (cls, 0755), ==, 0);
    for (int i = 0; i < 6; i++) {
        g_autoptr (GdkPixbuf) pb = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 8, 8);
        g_autofree char *name = g_strdup_printf ("%d.png", i);
        g_autofree char *path = g_build_filename (cls, name, NULL);
        gdk_pixbuf_fill (pb, 0x20408000u + (guint32) i * 0x10000000u);
        g_assert_true (gdk_pixbuf_save (pb, path, "png", &error, NULL));
        g_assert_no_error (error);
    }
    ds = open_ (spec);
    for (int i = 0; i < 6; i++) {
        g_autofree char *name = g_strdup_printf ("%d.png", i);
        g_autofree char *path = g_build_filename (cls, name, NULL);
        g_unlink (path);
    }

    hp_small_ (&hp);
    hp.in_chans = 3;
    ld = dinolab_loader_new (ds, &hp, mean3, std3, 2, &error);
    g_assert_no_error (error);
    for (int k = 0; k < 2; k++) {
        b = dinolab_loader_next (ld, NULL, &error);
        g_assert_null (b);
        g_assert_nonnull (error);
        g_assert_true (error->domain == DINOLAB_ERROR);
        g_test_message ("next() failed: %s", error->message);
        g_assert_nonnull (strstr (error->message, ".png"));
        g_clear_error (&error);
    }
    g_rmdir (cls);
    g_rmdir (root);
}

// ----------------------------------------------------------------------------
// bad input

static void
expect_refusal_ (DinolabDataset *ds, const DinolabHparams *hp, int threads, const char *const *words)
{
    g_autoptr (GError) error = NULL;
    DinolabLoader *ld = dinolab_loader_new (ds, hp, mean1, std1, threads, &error);

    g_assert_null (ld);
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("refused: %s", error->message);
    for (const char *const *w = words; *w != NULL; w++)
        g_assert_nonnull (strstr (error->message, *w));
}

static void
test_bad_input (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (DinolabDataset) ds = NULL;
    g_autoptr (DinolabDataset) tiny = NULL;
    g_autofree char *tiny_path = write_images_ (f->dir, "tiny.npy", 20, 1, 1, 1);
    g_autofree char *tiny_spec = g_strconcat ("npy:", tiny_path, NULL);

    ds = open_ (f->spec);

    hp_small_ (&hp);
    hp.batch_size_per_gpu = 15;   /* 14 items */
    expect_refusal_ (ds, &hp, 1, (const char *[]) { "batch_size_per_gpu", "15", "14", NULL });

    hp_small_ (&hp);
    hp.global_crop_size = 10;
    expect_refusal_ (ds, &hp, 1, (const char *[]) { "global_crop_size", "10", "patch_size 4", NULL });

    hp_small_ (&hp);
    hp.local_crop_size = 6;
    expect_refusal_ (ds, &hp, 1, (const char *[]) { "local_crop_size", "6", "patch_size 4", NULL });

    hp_small_ (&hp);
    hp.global_crop_size = 44;     /* images are 12 x 10 */
    expect_refusal_ (ds, &hp, 1, (const char *[]) { "global_crop_size", "44", "10-pixel", "at most 40", NULL });

    hp_small_ (&hp);
    hp.in_chans = 3;
    expect_refusal_ (ds, &hp, 1, (const char *[]) { "in_chans", "3", "1 channel", NULL });

    hp_small_ (&hp);
    expect_refusal_ (ds, &hp, 0, (const char *[]) { "threads", "0", NULL });

    hp_small_ (&hp);
    tiny = open_ (tiny_spec);
    expect_refusal_ (tiny, &hp, 1, (const char *[]) { "tiny.npy", "1x1", "2x2", NULL });

    /* a zero std would divide by zero */
    {
        g_autoptr (GError) error = NULL;
        const float zero[1] = { 0.0f };
        DinolabLoader *ld = dinolab_loader_new (ds, &hp, mean1, zero, 1, &error);
        g_assert_null (ld);
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
        g_test_message ("refused: %s", error->message);
    }
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
#define ADD_(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
    ADD_ ("/loader/crop-major", test_crop_major);
    ADD_ ("/loader/drop-last", test_drop_last);
    ADD_ ("/loader/permutation", test_permutation);
    ADD_ ("/loader/threads-identical", test_threads_identical);
    ADD_ ("/loader/seek", test_seek);
    ADD_ ("/loader/free-mid-epoch", test_free_mid_epoch);
    ADD_ ("/loader/cancel", test_cancel);
    ADD_ ("/loader/read-error", test_read_error);
    ADD_ ("/loader/bad-input", test_bad_input);
#undef ADD_
    return g_test_run ();
}
