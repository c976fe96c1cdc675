/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * loader.c: the batch loader. A few worker threads decode items and run the
 * multi-crop augmentation into batch buffers while the trainer computes on the
 * previous batch, and the trainer takes whole batches in the engine's crop-major
 * layout: globals [2, B, C, G, G] (all g1 crops, then all g2), locals
 * [n_local, B, C, L, L].
 *
 * Order and content are those of the reference's DistributedSampler on one GPU with
 * shuffle and drop_last: each epoch is a permutation of [0, N) drawn from
 * (seed, epoch) (Fisher-Yates), cut into N / B batches, the tail dropped. Every view
 * of an item depends only on (seed, epoch, item, view) (augment.c), and a batch's
 * indices only on (seed, epoch, iteration), so a batch is byte-identical whatever the
 * number of threads or their timing, and dinolab_loader_seek() resumes exactly.
 *
 * Memory is bounded: three batch slots, one the trainer holds and at most two being
 * filled or waiting. Workers share items of the oldest unfinished batch first, so the
 * batch the trainer needs next completes first. One mutex and one condition variable
 * guard the slots; a worker holds the lock only to claim or finish an item.
 *
 * Not here: decoding (dataset*.c), the augmentation itself (augment.c). The trainer's
 * step allocates nothing; workers allocate per item (the decoded image, the
 * augmentation's scratch), which is off the training thread.
 */
#include <math.h>
#include <string.h>

#include "dinolab/data.h"
#include "dinolab/error.h"
#include "dinolab/rng.h"

#define LOADER_SLOTS       3
/* Tag so that the shuffle stream differs from the other users of the seed. */
#define LOADER_SHUFFLE_TAG 0x73687566666c65ULL

typedef enum {
    SLOT_FREE,     /* no batch */
    SLOT_FILLING,  /* assigned to a batch; items being claimed and made */
    SLOT_READY,    /* all items done (or one failed: error set) */
    SLOT_HELD,     /* returned by next(); the trainer reads it */
    SLOT_DISCARD,  /* dropped by seek(); waits for its busy workers */
} SlotState;

typedef struct {
    SlotState    state;
    int          next_item;  /* items claimed so far */
    int          done;       /* items finished (successfully or not) */
    int          busy;       /* items being made right now */
    GError      *error;      /* first failure of the batch */
    float       *globals;    /* [2, B, C, G, G] */
    float       *locals;     /* [n_local, B, C, L, L] or NULL */
    gsize       *indices;    /* [B] */
    DinolabBatch batch;      /* what next() hands out; points into the above */
} Slot;

struct DinolabLoader {
    DinolabDataset *ds;      /* borrowed */
    DinolabAugment *aug;
    int             B, C, G, L, n_local, n_views, steps;
    gsize           N;
    guint64         seed;

    GMutex          lock;
    GCond           cond;
    Slot            slots[LOADER_SLOTS];
    Slot           *held;                    /* slot the trainer holds, or NULL */
    int             prod_epoch, prod_iter;   /* next batch to give a slot */
    int             cons_epoch, cons_iter;   /* next batch next() returns */
    gsize          *perm;                    /* [N] order of prod_epoch */
    int             perm_epoch;              /* epoch of perm, -1 when none */
    gboolean        stop;

    int             n_threads;
    GThread       **threads;
    double          last_wait;
};

// ----------------------------------------------------------------------------
// shuffling

/* The epoch's order: a Fisher-Yates permutation of [0, N) from (seed, epoch). */
static void
shuffle_ (gsize *perm, gsize N, guint64 seed, int epoch)
{
    DinolabRng rng;

    dinolab_rng_seed (&rng, seed ^ LOADER_SHUFFLE_TAG, (guint64) epoch);
    for (gsize i = 0; i < N; i++)
        perm[i] = i;
    for (gsize i = N - 1; i > 0; i--) {
        gsize j = (gsize) (dinolab_rng_uniform (&rng) * (double) (i + 1));
        gsize t;
        if (j > i)
            j = i;
        t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

// ----------------------------------------------------------------------------
// workers

static gboolean
before_ (int e1, int i1, int e2, int i2)
{
    return e1 < e2 || (e1 == e2 && i1 < i2);
}

/* Under the lock: the next item to make, from the oldest batch with unclaimed items,
 * or from a free slot given the next batch. Returns NULL when there is nothing to do. */
static Slot *
claim_ (DinolabLoader *ld, int *item)
{
    Slot *best = NULL;

    for (int k = 0; k < LOADER_SLOTS; k++) {
        Slot *s = &ld->slots[k];
        if (s->state == SLOT_FILLING && s->next_item < ld->B &&
            (best == NULL || before_ (s->batch.epoch, s->batch.iteration,
                                      best->batch.epoch, best->batch.iteration)))
            best = s;
    }
    if (best == NULL) {
        for (int k = 0; k < LOADER_SLOTS && best == NULL; k++)
            if (ld->slots[k].state == SLOT_FREE)
                best = &ld->slots[k];
        if (best == NULL)
            return NULL;
        if (ld->perm_epoch != ld->prod_epoch) {
            shuffle_ (ld->perm, ld->N, ld->seed, ld->prod_epoch);
            ld->perm_epoch = ld->prod_epoch;
        }
        memcpy (best->indices, ld->perm + (gsize) ld->prod_iter * ld->B, (gsize) ld->B * sizeof (gsize));
        best->batch.epoch = ld->prod_epoch;
        best->batch.iteration = ld->prod_iter;
        best->state = SLOT_FILLING;
        best->next_item = best->done = best->busy = 0;
        g_clear_error (&best->error);
        if (++ld->prod_iter == ld->steps) {
            ld->prod_iter = 0;
            ld->prod_epoch++;
        }
    }
    *item = best->next_item++;
    return best;
}

/* Decodes item @idx and writes its views into batch position @b of @s. Runs without
 * the lock: it only writes the slot's rows for @b, which no one else touches. */
static gboolean
make_item_ (DinolabLoader *ld, Slot *s, int b, gsize idx, int epoch, float **views, GError **error)
{
    g_auto (DinolabImage) img = { 0 };
    const char *spec = dinolab_dataset_get_spec (ld->ds);

    if (!dinolab_dataset_get_image (ld->ds, idx, &img, error))
        return FALSE;
    if (img.channels != ld->C) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: item %" G_GSIZE_FORMAT " has %d channels, the dataset %d",
                     spec, idx, img.channels, ld->C);
        return FALSE;
    }
    if (img.width < 2 || img.height < 2) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: item %" G_GSIZE_FORMAT " is %dx%d; crops need images of at least 2x2 pixels",
                     spec, idx, img.width, img.height);
        return FALSE;
    }
    for (int v = 0; v < ld->n_views; v++) {
        if (v < 2)
            views[v] = s->globals + ((gsize) v * ld->B + b) * ld->C * ld->G * ld->G;
        else
            views[v] = s->locals + ((gsize) (v - 2) * ld->B + b) * ld->C * ld->L * ld->L;
    }
    dinolab_augment_views (ld->aug, &img, (guint64) epoch, (guint64) idx, views);
    return TRUE;
}

static gpointer
worker_ (gpointer data)
{
    DinolabLoader *ld = data;
    float **views = g_new (float *, ld->n_views);

    g_mutex_lock (&ld->lock);
    while (!ld->stop) {
        GError *error = NULL;
        int b, epoch;
        gsize idx;
        gboolean ok;
        Slot *s = claim_ (ld, &b);

        if (s == NULL) {
            g_cond_wait (&ld->cond, &ld->lock);
            continue;
        }
        s->busy++;
        idx = s->indices[b];
        epoch = s->batch.epoch;
        g_mutex_unlock (&ld->lock);

        ok = make_item_ (ld, s, b, idx, epoch, views, &error);

        g_mutex_lock (&ld->lock);
        s->busy--;
        s->done++;
        if (!ok) {
            if (s->error == NULL)
                s->error = error;
            else
                g_error_free (error);
        }
        if (s->state == SLOT_FILLING && s->done == ld->B) {
            s->state = SLOT_READY;
            g_cond_broadcast (&ld->cond);
        } else if (s->state == SLOT_DISCARD && s->busy == 0) {
            g_cond_broadcast (&ld->cond);
        }
    }
    g_mutex_unlock (&ld->lock);
    g_free (views);
    return NULL;
}

// ----------------------------------------------------------------------------
// lifetime

static gboolean
check_crop_ (const char *key, int size, int patch, GError **error)
{
    if (patch > 0 && size % patch != 0) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: %d is not a multiple of patch_size %d", key, size, patch);
        return FALSE;
    }
    return TRUE;
}

DinolabLoader *
dinolab_loader_new (DinolabDataset       *ds,
                    const DinolabHparams *hp,
                    const float          *mean,
                    const float          *std,
                    int                   n_threads,
                    GError              **error)
{
    DinolabLoader *ld;
    const char *spec;
    gsize N;
    int C, W, H;

    g_return_val_if_fail (ds != NULL, NULL);
    g_return_val_if_fail (hp != NULL, NULL);
    g_return_val_if_fail (mean != NULL && std != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    spec = dinolab_dataset_get_spec (ds);
    N = dinolab_dataset_get_size (ds);
    C = dinolab_dataset_get_channels (ds);
    W = dinolab_dataset_get_width (ds);
    H = dinolab_dataset_get_height (ds);

    if (n_threads < 1) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "loader threads: %d, need at least 1", n_threads);
        return NULL;
    }
    if (hp->batch_size_per_gpu < 1 || N < (gsize) hp->batch_size_per_gpu) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "batch_size_per_gpu: %d is more than the %" G_GSIZE_FORMAT " images of %s",
                     hp->batch_size_per_gpu, N, spec);
        return NULL;
    }
    if (!check_crop_ ("global_crop_size", hp->global_crop_size, hp->patch_size, error) ||
        !check_crop_ ("local_crop_size", hp->local_crop_size, hp->patch_size, error))
        return NULL;
    if (C != 1 && C != 3) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: images with %d channels; the augmentation takes 1 or 3", spec, C);
        return NULL;
    }
    if (hp->in_chans != C) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "in_chans: %d, but the images of %s have %d channel%s",
                     hp->in_chans, spec, C, C == 1 ? "" : "s");
        return NULL;
    }
    /* Size 0 x 0 means a folder of mixed sizes: each item is checked when decoded. */
    if ((W > 0 || H > 0) && (W < 2 || H < 2)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: images are %dx%d; crops need images of at least 2x2 pixels",
                     spec, W, H);
        return NULL;
    }
    /* A crop many times the image's side is almost all interpolation: refuse it
     * rather than train on blur (4x leaves room for deliberate upscaling, such as
     * 96-pixel crops of 32-pixel images). */
    if (W > 0 && H > 0) {
        const char *keys[2] = { "global_crop_size", "local_crop_size" };
        int sizes[2] = { hp->global_crop_size, hp->local_crop_size };
        int side = MIN (W, H);
        for (int k = 0; k < 2; k++) {
            if (k == 1 && hp->local_crops_number == 0)
                continue;
            if (sizes[k] > 4 * side) {
                g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                             "%s: %d is more than 4 times the %d-pixel side of the images of %s: "
                             "its crops would be almost all interpolation (use at most %d)",
                             keys[k], sizes[k], side, spec, 4 * side);
                return NULL;
            }
        }
    }
    for (int c = 0; c < C; c++) {
        if (!(std[c] > 0.0f) || !isfinite (mean[c]) || !isfinite (std[c])) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: normalisation of channel %d: mean %g, std %g (std must be > 0)",
                         spec, c, mean[c], std[c]);
            return NULL;
        }
    }

    ld = g_new0 (DinolabLoader, 1);
    ld->ds = ds;
    ld->aug = dinolab_augment_new (hp, C, mean, std);
    ld->B = hp->batch_size_per_gpu;
    ld->C = C;
    ld->G = hp->global_crop_size;
    ld->L = hp->local_crop_size;
    ld->n_local = hp->local_crops_number;
    ld->n_views = 2 + ld->n_local;
    ld->N = N;
    ld->steps = (int) MIN (N / (gsize) ld->B, (gsize) G_MAXINT);
    ld->seed = hp->seed;
    ld->perm = g_new (gsize, N);
    ld->perm_epoch = -1;
    g_mutex_init (&ld->lock);
    g_cond_init (&ld->cond);
    for (int k = 0; k < LOADER_SLOTS; k++) {
        Slot *s = &ld->slots[k];
        s->globals = g_new (float, (gsize) 2 * ld->B * C * ld->G * ld->G);
        if (ld->n_local > 0)
            s->locals = g_new (float, (gsize) ld->n_local * ld->B * C * ld->L * ld->L);
        s->indices = g_new (gsize, ld->B);
        s->batch.batch = ld->B;
        s->batch.globals = s->globals;
        s->batch.locals = s->locals;
        s->batch.indices = s->indices;
    }

    ld->n_threads = n_threads;
    ld->threads = g_new0 (GThread *, n_threads);
    for (int t = 0; t < n_threads; t++)
        ld->threads[t] = g_thread_new ("dinolab-loader", worker_, ld);
    return ld;
}

void
dinolab_loader_free (DinolabLoader *loader)
{
    if (loader == NULL)
        return;

    g_mutex_lock (&loader->lock);
    loader->stop = TRUE;
    g_cond_broadcast (&loader->cond);
    g_mutex_unlock (&loader->lock);
    /* each worker finishes at most the item in hand (milliseconds) */
    for (int t = 0; t < loader->n_threads; t++)
        g_thread_join (loader->threads[t]);

    for (int k = 0; k < LOADER_SLOTS; k++) {
        Slot *s = &loader->slots[k];
        g_free (s->globals);
        g_free (s->locals);
        g_free (s->indices);
        g_clear_error (&s->error);
    }
    g_free (loader->threads);
    g_free (loader->perm);
    dinolab_augment_free (loader->aug);
    g_mutex_clear (&loader->lock);
    g_cond_clear (&loader->cond);
    g_free (loader);
}

int
dinolab_loader_get_steps_per_epoch (const DinolabLoader *loader)
{
    g_return_val_if_fail (loader != NULL, 0);
    return loader->steps;
}

double
dinolab_loader_get_last_wait (const DinolabLoader *loader)
{
    g_return_val_if_fail (loader != NULL, 0.0);
    return loader->last_wait;
}

// ----------------------------------------------------------------------------
// consuming

void
dinolab_loader_seek (DinolabLoader *loader,
                     int            epoch,
                     int            iteration)
{
    gboolean waiting;

    g_return_if_fail (loader != NULL);
    g_return_if_fail (epoch >= 0);
    g_return_if_fail (iteration >= 0 && iteration < loader->steps);

    g_mutex_lock (&loader->lock);
    /* Drop every batch, the held one too; a slot a worker is still writing into is
     * reused only once that worker is done with it. */
    for (int k = 0; k < LOADER_SLOTS; k++)
        if (loader->slots[k].state != SLOT_FREE)
            loader->slots[k].state = SLOT_DISCARD;
    loader->held = NULL;
    do {
        waiting = FALSE;
        for (int k = 0; k < LOADER_SLOTS; k++)
            waiting |= loader->slots[k].busy > 0;
        if (waiting)
            g_cond_wait (&loader->cond, &loader->lock);
    } while (waiting);
    for (int k = 0; k < LOADER_SLOTS; k++) {
        loader->slots[k].state = SLOT_FREE;
        g_clear_error (&loader->slots[k].error);
    }
    loader->prod_epoch = loader->cons_epoch = epoch;
    loader->prod_iter = loader->cons_iter = iteration;
    g_cond_broadcast (&loader->cond);
    g_mutex_unlock (&loader->lock);
}

static void
on_cancelled_ (GCancellable *cancellable G_GNUC_UNUSED, gpointer data)
{
    DinolabLoader *ld = data;

    g_mutex_lock (&ld->lock);
    g_cond_broadcast (&ld->cond);
    g_mutex_unlock (&ld->lock);
}

const DinolabBatch *
dinolab_loader_next (DinolabLoader *loader,
                     GCancellable  *cancellable,
                     GError       **error)
{
    gint64 t0 = g_get_monotonic_time ();
    const DinolabBatch *result = NULL;
    gulong handler = 0;
    Slot *s = NULL;

    g_return_val_if_fail (loader != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    /* connected before taking the lock: the callback runs at once, on this thread,
     * when the cancellable has already fired */
    if (cancellable != NULL)
        handler = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled_), loader, NULL);

    g_mutex_lock (&loader->lock);
    if (loader->held != NULL) {
        loader->held->state = SLOT_FREE;
        loader->held = NULL;
        g_cond_broadcast (&loader->cond);
    }
    for (;;) {
        s = NULL;
        for (int k = 0; k < LOADER_SLOTS; k++) {
            Slot *c = &loader->slots[k];
            if (c->state == SLOT_READY && c->batch.epoch == loader->cons_epoch &&
                c->batch.iteration == loader->cons_iter)
                s = c;
        }
        if (s != NULL || (cancellable != NULL && g_cancellable_is_cancelled (cancellable)))
            break;
        g_cond_wait (&loader->cond, &loader->lock);
    }
    if (s == NULL) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CANCELLED,
                     "loading batch %d of epoch %d: cancelled", loader->cons_iter, loader->cons_epoch);
    } else if (s->error != NULL) {
        /* the batch stays where it is: the next call reports the same error */
        g_set_error_literal (error, DINOLAB_ERROR,
                             s->error->domain == DINOLAB_ERROR ? s->error->code : DINOLAB_ERROR_IO,
                             s->error->message);
    } else {
        s->state = SLOT_HELD;
        loader->held = s;
        if (++loader->cons_iter == loader->steps) {
            loader->cons_iter = 0;
            loader->cons_epoch++;
        }
        result = &s->batch;
    }
    g_mutex_unlock (&loader->lock);

    if (handler != 0)
        g_cancellable_disconnect (cancellable, handler);
    loader->last_wait = (g_get_monotonic_time () - t0) * 1e-6;
    return result;
}
