/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-trainer.c: the trainer, checkpoints and resume (trainer.h, checkpoint.h), and
 * the `train` / `resume` commands under faults.
 *
 * Every test trains a tiny DINO (patch 4, 12x12 single-channel images, one block 16
 * wide, out_dim 32, batch 4, 2 local crops, 2 epochs of 5 steps) on a synthetic npy
 * dataset the test writes (3 classes of noisy stripes), in a temporary run store.
 * Independent references: a run that went straight through (for resume, compared bit
 * for bit), hand-made entropy/KL sequences (collapse watch), the buffers a checkpoint
 * was written from (round trip), the files and rows themselves (sha256 recomputed with
 * GChecksum here), and child processes killed with SIGKILL or capped with
 * RLIMIT_FSIZE (a disk that fills up).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "dinolab/checkpoint.h"
#include "dinolab/error.h"
#include "dinolab/io.h"
#include "dinolab/store.h"
#include "dinolab/trainer.h"
#include "test-util.h"

static char *tmpdir;
static char *train_spec;    /* "npy:<tmpdir>/data/train_images.npy" */
static int db_counter;

// ----------------------------------------------------------------------------
// fixtures

static void
write_split_ (const char *dir, const char *split, int n, guint32 seed)
{
    int64_t shape[3] = { n, 12, 12 }, lshape[1] = { n };
    g_autoptr (DinolabArray) img = dinolab_array_new (DINOLAB_DTYPE_U8, 3, shape);
    g_autoptr (DinolabArray) lab = dinolab_array_new (DINOLAB_DTYPE_U8, 1, lshape);
    g_autofree char *pi = g_strdup_printf ("%s/%s_images.npy", dir, split);
    g_autofree char *pl = g_strdup_printf ("%s/%s_labels.npy", dir, split);
    GRand *r = g_rand_new_with_seed (seed);
    guint8 *px = img->data;
    g_autoptr (GError) error = NULL;

    // class 0: bright left half, 1: bright top half, 2: diagonal stripes; noise on top
    for (int i = 0; i < n; i++) {
        int c = i % 3;
        ((guint8 *) lab->data)[i] = (guint8) c;
        for (int y = 0; y < 12; y++)
            for (int x = 0; x < 12; x++) {
                int v = g_rand_int_range (r, 0, 61);
                if ((c == 0 && x < 6) || (c == 1 && y < 6) || (c == 2 && (x + y) % 4 < 2))
                    v += 150;
                px[(i * 12 + y) * 12 + x] = (guint8) MIN (v, 255);
            }
    }
    g_rand_free (r);
    g_assert_true (dinolab_npy_write (pi, img, &error));
    g_assert_true (dinolab_npy_write (pl, lab, &error));
}

/* The tiny configuration, plus "key=value" @overrides (NULL-terminated). */
static void
tiny_hparams_ (DinolabHparams *hp, const char *const *overrides)
{
    static const char *const base[] = {
        "arch=vit_custom", "patch_size=4", "embed_dim=16", "depth=1", "num_heads=2",
        "out_dim=32", "head_hidden_dim=32", "bottleneck_dim=16", "batch_size_per_gpu=4",
        "epochs=2", "warmup_epochs=1", "local_crops_number=2", "global_crop_size=12",
        "local_crop_size=8", "img_size=12", "in_chans=1", "threads=2", "eval_every=1",
        "checkpoint_every=1", "drop_path_rate=0.1", NULL
    };
    g_autoptr (GError) error = NULL;

    dinolab_hparams_init (hp);
    for (const char *const *s = base; *s; s++)
        g_assert_true (dinolab_hparams_set_assignment (hp, *s, &error));
    g_assert_true (dinolab_hparams_set (hp, "dataset", train_spec, &error));
    for (const char *const *s = overrides; s && *s; s++)
        g_assert_true (dinolab_hparams_set_assignment (hp, *s, &error));
    g_assert_true (dinolab_hparams_validate (hp, &error));
}

static char *
new_db_path_ (void)
{
    return g_strdup_printf ("%s/db%d/runs.db", tmpdir, ++db_counter);
}

static DinolabStore *
open_store_ (const char *path)
{
    g_autoptr (GError) error = NULL;
    DinolabStore *store = dinolab_store_open (path, &error);

    g_assert_no_error (error);
    return store;
}

/* What an observer saw, plus control actions it takes. */
typedef struct {
    GMutex     lock;
    GPtrArray *events;          /* DinolabTrainerEvent* copies */
    DinolabTrainer *trainer;
    gint64     stop_after;      /* stop after the step event of this iteration (-1: never) */
    gint64     pause_after;
} Seen;

static void
seen_init_ (Seen *s)
{
    memset (s, 0, sizeof *s);
    g_mutex_init (&s->lock);
    s->events = g_ptr_array_new_with_free_func ((GDestroyNotify) dinolab_trainer_event_free);
    s->stop_after = s->pause_after = -1;
}

static void
seen_clear_ (Seen *s)
{
    g_ptr_array_unref (s->events);
    g_mutex_clear (&s->lock);
}

static void
observe_ (const DinolabTrainerEvent *ev, gpointer data)
{
    Seen *s = data;

    g_mutex_lock (&s->lock);
    g_ptr_array_add (s->events, dinolab_trainer_event_copy (ev));
    g_mutex_unlock (&s->lock);
    if (ev->kind == DINOLAB_TRAINER_EVENT_STEP && ev->step == s->stop_after)
        dinolab_trainer_stop (s->trainer);
    if (ev->kind == DINOLAB_TRAINER_EVENT_STEP && ev->step == s->pause_after)
        dinolab_trainer_set_paused (s->trainer, TRUE);
}

/* Runs @trainer on this thread with @seen observing. Returns the final status. */
static DinolabTrainerStatus
run_ (DinolabTrainer *trainer, Seen *seen, GError **error)
{
    seen->trainer = trainer;
    dinolab_trainer_set_observer (trainer, observe_, seen, NULL);
    return dinolab_trainer_run (trainer, error);
}

static char *
the_run_ (DinolabStore *store)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) runs = dinolab_store_list_runs (store, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (runs->len, ==, 1);
    return g_strdup (((DinolabRunInfo *) runs->pdata[0])->uuid);
}

static DinolabRunStatus
run_status_ (DinolabStore *store, const char *uuid)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabRunInfo) info = dinolab_store_get_run (store, uuid, &error);

    g_assert_no_error (error);
    return info->status;
}

static char *
sha256_file_ (const char *path)
{
    g_autofree char *data = NULL;
    gsize len = 0;

    if (!g_file_get_contents (path, &data, &len, NULL))
        return NULL;
    return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, len);
}

// ----------------------------------------------------------------------------
// collapse watch: hand-made sequences

static void
test_collapse_watch (void)
{
    DinolabCollapseWatch w;
    double mh = -1, mk = -1, lnK = log (32.0);
    DinolabTrainerWarning r;

    dinolab_collapse_watch_init (&w, 4, 32);
    // window [0,4): one-hot (h 0.05 < 0.1, kl 0.002 < 0.01) -> a warning at its last step
    for (int it = 0; it < 3; it++)
        g_assert_cmpint (dinolab_collapse_watch_push (&w, it, 0.05, 0.002, &mh, &mk), ==,
                         DINOLAB_TRAINER_WARNING_NONE);
    g_assert_cmpint (dinolab_collapse_watch_push (&w, 3, 0.05, 0.002, &mh, &mk), ==,
                     DINOLAB_TRAINER_WARNING_COLLAPSE_ONE_HOT);
    g_assert_cmpfloat_with_epsilon (mh, 0.05, 1e-12);
    g_assert_cmpfloat_with_epsilon (mk, 0.002, 1e-12);
    // window [4,8): still one-hot: the same episode, no new warning
    for (int it = 4; it < 8; it++)
        g_assert_cmpint (dinolab_collapse_watch_push (&w, it, 0.01, 0.0, NULL, NULL), ==,
                         DINOLAB_TRAINER_WARNING_NONE);
    // window [8,12): the mean decides: h = (0.05*3 + 0.6)/4 = 0.1875 >= 0.1: healthy
    for (int it = 8; it < 11; it++)
        dinolab_collapse_watch_push (&w, it, 0.05, 0.001, NULL, NULL);
    g_assert_cmpint (dinolab_collapse_watch_push (&w, 11, 0.6, 0.001, &mh, NULL), ==,
                     DINOLAB_TRAINER_WARNING_NONE);
    g_assert_cmpfloat_with_epsilon (mh, 0.1875, 1e-12);
    // window [12,16): uniform: h > 0.95 ln K with kl < 0.01
    for (int it = 12; it < 15; it++)
        dinolab_collapse_watch_push (&w, it, 0.96 * lnK, 0.005, NULL, NULL);
    g_assert_cmpint (dinolab_collapse_watch_push (&w, 15, 0.96 * lnK, 0.005, NULL, NULL), ==,
                     DINOLAB_TRAINER_WARNING_COLLAPSE_UNIFORM);
    // window [16,20): entropy high but KL 0.02 >= 0.01: healthy (the student differs)
    for (int it = 16; it < 20; it++)
        r = dinolab_collapse_watch_push (&w, it, lnK, 0.02, NULL, NULL);
    g_assert_cmpint (r, ==, DINOLAB_TRAINER_WARNING_NONE);
    // h just under 0.95 ln K is not uniform collapse
    for (int it = 20; it < 24; it++)
        r = dinolab_collapse_watch_push (&w, it, 0.94 * lnK, 0.0, NULL, NULL);
    g_assert_cmpint (r, ==, DINOLAB_TRAINER_WARNING_NONE);
    // windows stay aligned on the iteration: starting at 30 (a resume), [28,32) ends at 31
    // with the 2 steps seen
    dinolab_collapse_watch_init (&w, 4, 32);
    g_assert_cmpint (dinolab_collapse_watch_push (&w, 30, 0.0, 0.0, NULL, NULL), ==,
                     DINOLAB_TRAINER_WARNING_NONE);
    g_assert_cmpint (dinolab_collapse_watch_push (&w, 31, 0.02, 0.0, &mh, NULL), ==,
                     DINOLAB_TRAINER_WARNING_COLLAPSE_ONE_HOT);
    g_assert_cmpfloat_with_epsilon (mh, 0.01, 1e-12);
}

/* The paper's sharpening-only ablation (no centering) collapses to one dimension within
 * a few dozen steps at a high lr: the watch raises one warning and stores one marker. */
static void
test_collapse_run (void)
{
    static const char *const ablation[] = { "use_centering=false", "lr=0.05", "epochs=16", NULL };
    g_auto (DinolabHparams) hp = { 0 };
    g_autofree char *db = new_db_path_ (), *uuid = NULL;
    g_autoptr (DinolabStore) store = open_store_ (db);
    g_autoptr (DinolabTrainer) t = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) markers = NULL;
    DinolabTrainerOptions opts;
    DinolabTrainerEvent *warning = NULL;
    int n_warnings = 0;
    Seen seen;

    tiny_hparams_ (&hp, ablation);
    dinolab_trainer_options_init (&opts);
    opts.collapse_window = 20;
    t = dinolab_trainer_new (store, &hp, &opts, &error);
    seen_init_ (&seen);
    g_assert_cmpint (run_ (t, &seen, &error), ==, DINOLAB_TRAINER_STATUS_FINISHED);
    for (guint i = 0; i < seen.events->len; i++) {
        DinolabTrainerEvent *ev = seen.events->pdata[i];
        if (ev->kind == DINOLAB_TRAINER_EVENT_WARNING) {
            warning = ev;
            n_warnings++;
        }
    }
    g_assert_cmpint (n_warnings, ==, 1);
    g_test_message ("collapse: step %" G_GINT64_FORMAT ": %s", warning->step, warning->message);
    g_assert_cmpint (warning->warning, ==, DINOLAB_TRAINER_WARNING_COLLAPSE_ONE_HOT);
    g_assert_cmpint ((warning->step) % 20, ==, 0);      /* raised at a window's end */
    uuid = the_run_ (store);
    markers = dinolab_store_list_markers (store, uuid, &error);
    g_assert_cmpuint (markers->len, ==, 1);
    g_assert_cmpstr (((DinolabMarker *) markers->pdata[0])->kind, ==, "collapse");
    g_assert_cmpint (((DinolabMarker *) markers->pdata[0])->step % 20, ==, 19);
    g_assert_nonnull (strstr (((DinolabMarker *) markers->pdata[0])->text, "one-hot collapse"));
    seen_clear_ (&seen);
}

// ----------------------------------------------------------------------------
// checkpoint files

static void
test_checkpoint_roundtrip (void)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_auto (DinolabHparams) hp2 = { 0 };
    static const char *const wide[] = { "embed_dim=24", NULL };
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabModel) s = NULL, t = NULL, s2 = NULL, t2 = NULL, s3 = NULL, t3 = NULL;
    g_autoptr (DinolabStepper) st = NULL, st2 = NULL;
    g_autoptr (DinolabSafetensors) file = NULL;
    g_auto (DinolabCheckpointMeta) meta = { 0 };
    g_auto (DinolabCheckpointMeta) back = { 0 };
    g_autofree char *path = g_build_filename (tmpdir, "roundtrip.safetensors", NULL);
    g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
    const DinolabParamTable *table;
    DinolabOptimizer *o, *o2;
    float *center, *center2;
    size_t n;
    int K;

    tiny_hparams_ (&hp, NULL);
    s = dinolab_model_new (&hp, TRUE, &error);
    t = dinolab_model_new (&hp, TRUE, &error);
    st = dinolab_stepper_new (&hp, s, t, 4, 2, 12, 8, &error);
    g_assert_no_error (error);
    table = dinolab_model_get_table (s);
    n = table->total;
    K = hp.out_dim;
    o = dinolab_stepper_get_optimizer (st);
    center = dinolab_stepper_get_center (st);
    // distinct values everywhere, so a swapped block would show
    fill_uniform (dinolab_model_get_params (s), n, 1, 1.0f);
    fill_uniform (dinolab_model_get_params (t), n, 2, 1.0f);
    fill_uniform (dinolab_optimizer_get_m (o), n, 3, 1.0f);
    fill_uniform (dinolab_optimizer_get_v (o), n, 4, 1.0f);
    fill_uniform (center, K, 5, 1.0f);
    for (guint i = 0; i < table->n; i++)
        dinolab_optimizer_get_steps (o)[i] = 7 + i;

    meta.run_uuid = (char *) "0123abcd-0000-4000-8000-000000000000";
    meta.step = 17;
    meta.epoch = 3;
    meta.iteration_in_epoch = 2;
    meta.wall_seconds = 12.345678901234567;
    meta.trainer_state = (char *) "{\"x\":1}";
    g_assert_true (dinolab_checkpoint_write (path, s, t, o, center, &meta, &error));
    g_assert_no_error (error);
    memset (&meta, 0, sizeof meta);     /* borrowed strings: nothing to clear */
    g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));

    // metadata only
    g_assert_true (dinolab_checkpoint_read_meta (path, &back, &error));
    g_assert_cmpint (back.step, ==, 17);
    g_assert_cmpint (back.epoch, ==, 3);
    g_assert_cmpint (back.iteration_in_epoch, ==, 2);
    g_assert_true (back.wall_seconds == 12.345678901234567);
    g_assert_cmpstr (back.run_uuid, ==, "0123abcd-0000-4000-8000-000000000000");
    g_assert_cmpstr (back.trainer_state, ==, "{\"x\":1}");
    dinolab_checkpoint_meta_clear (&back);

    // the names other tools rely on: teacher weights load as a weight file
    file = dinolab_safetensors_read (path, "teacher", &error);
    g_assert_no_error (error);
    g_assert_nonnull (dinolab_safetensors_get (file, "optimizer.exp_avg.pos_embed"));
    g_assert_nonnull (dinolab_safetensors_get (file, "optimizer.exp_avg_sq.blocks.0.attn.qkv.weight"));
    g_assert_nonnull (dinolab_safetensors_get (file, "center"));
    g_assert_cmpstr (dinolab_safetensors_get_metadata (file, "format"), ==, "dinolab-checkpoint-1");
    s3 = dinolab_model_new (&hp, TRUE, &error);
    g_assert_true (dinolab_model_load_safetensors (s3, file, &error));
    g_assert_cmpint (memcmp (dinolab_model_get_params (s3), dinolab_model_get_params (t),
                             n * sizeof (float)), ==, 0);

    // full load into fresh objects: every block back bit for bit
    s2 = dinolab_model_new (&hp, TRUE, &error);
    t2 = dinolab_model_new (&hp, TRUE, &error);
    st2 = dinolab_stepper_new (&hp, s2, t2, 4, 2, 12, 8, &error);
    o2 = dinolab_stepper_get_optimizer (st2);
    center2 = dinolab_stepper_get_center (st2);
    g_assert_true (dinolab_checkpoint_load (path, s2, t2, o2, center2, &back, &error));
    g_assert_no_error (error);
    g_assert_cmpint (memcmp (dinolab_model_get_params (s2), dinolab_model_get_params (s), n * 4), ==, 0);
    g_assert_cmpint (memcmp (dinolab_model_get_params (t2), dinolab_model_get_params (t), n * 4), ==, 0);
    g_assert_cmpint (memcmp (dinolab_optimizer_get_m (o2), dinolab_optimizer_get_m (o), n * 4), ==, 0);
    g_assert_cmpint (memcmp (dinolab_optimizer_get_v (o2), dinolab_optimizer_get_v (o), n * 4), ==, 0);
    g_assert_cmpint (memcmp (center2, center, (size_t) K * 4), ==, 0);
    for (guint i = 0; i < table->n; i++)
        g_assert_cmpint (dinolab_optimizer_get_steps (o2)[i], ==, 7 + i);
    g_assert_cmpint (back.step, ==, 17);

    // a configuration of another width: refused with the tensor and both shapes, and
    // nothing changed
    tiny_hparams_ (&hp2, wide);
    g_clear_pointer (&s3, dinolab_model_free);
    s3 = dinolab_model_new (&hp2, TRUE, &error);
    t3 = dinolab_model_new (&hp2, TRUE, &error);
    g_assert_false (dinolab_checkpoint_load (path, s3, t3, NULL, NULL, NULL, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("mismatch: %s", error->message);
    g_assert_nonnull (strstr (error->message, "roundtrip.safetensors: student."));
    g_assert_nonnull (strstr (error->message, "expected [1,1,24], found [1,1,16]"));
    g_assert_nonnull (strstr (error->message, "does not match the configuration"));
    for (size_t i = 0; i < dinolab_model_get_table (s3)->total; i++)
        g_assert_cmpfloat (dinolab_model_get_params (s3)[i], ==, 0.0f);
    g_clear_error (&error);

    // an SGD optimizer cannot take AdamW state
    {
        static const char *const sgd[] = { "optimizer=sgd", NULL };
        g_auto (DinolabHparams) hs = { 0 };
        g_autoptr (DinolabStepper) sts = NULL;
        tiny_hparams_ (&hs, sgd);
        sts = dinolab_stepper_new (&hs, s2, t2, 4, 2, 12, 8, &error);
        g_assert_false (dinolab_checkpoint_load (path, s2, t2, dinolab_stepper_get_optimizer (sts),
                                                 NULL, NULL, &error));
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
        g_assert_nonnull (strstr (error->message, "adamw state but the optimizer is sgd"));
        g_clear_error (&error);
    }

    // a plain weight file is not a checkpoint
    {
        g_autofree char *wpath = g_build_filename (tmpdir, "weights.safetensors", NULL);
        g_assert_true (dinolab_model_save (s, NULL, FALSE, wpath, &error));
        dinolab_checkpoint_meta_clear (&back);
        g_assert_false (dinolab_checkpoint_read_meta (wpath, &back, &error));
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT);
        g_clear_error (&error);
        g_assert_false (dinolab_checkpoint_load (wpath, s2, t2, NULL, NULL, NULL, &error));
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT);
        g_clear_error (&error);
    }
}

// ----------------------------------------------------------------------------
// one run: event order and what the store holds

static void
test_events_and_store (void)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autofree char *db = new_db_path_ (), *uuid = NULL;
    g_autoptr (DinolabStore) store = open_store_ (db);
    g_autoptr (DinolabTrainer) trainer = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) ckpts = NULL;
    g_auto (GStrv) names = NULL;
    g_autoptr (GArray) snaps = NULL;
    Seen seen;
    gint64 next_step = 0;
    int n_eval = 0, n_ckpt = 0;
    DinolabTrainerEvent *first, *last;

    tiny_hparams_ (&hp, NULL);
    seen_init_ (&seen);
    trainer = dinolab_trainer_new (store, &hp, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (run_ (trainer, &seen, &error), ==, DINOLAB_TRAINER_STATUS_FINISHED);
    g_assert_no_error (error);

    // running first, steps 0..9 in order, eval then checkpoint at each epoch end,
    // finished last
    first = seen.events->pdata[0];
    last = seen.events->pdata[seen.events->len - 1];
    g_assert_cmpint (first->kind, ==, DINOLAB_TRAINER_EVENT_STATUS);
    g_assert_cmpint (first->status, ==, DINOLAB_TRAINER_STATUS_RUNNING);
    g_assert_nonnull (first->run_uuid);
    g_assert_cmpint (first->steps_per_epoch, ==, 5);
    g_assert_cmpint (last->kind, ==, DINOLAB_TRAINER_EVENT_STATUS);
    g_assert_cmpint (last->status, ==, DINOLAB_TRAINER_STATUS_FINISHED);
    for (guint i = 1; i + 1 < seen.events->len; i++) {
        DinolabTrainerEvent *ev = seen.events->pdata[i];
        DinolabTrainerEvent *prev = seen.events->pdata[i - 1];
        switch (ev->kind) {
        case DINOLAB_TRAINER_EVENT_STEP:
            g_assert_cmpint (ev->step, ==, next_step);
            g_assert_cmpint (ev->epoch, ==, next_step / 5);
            g_assert_cmpint (ev->iteration, ==, next_step % 5);
            g_assert_true (isfinite (ev->metrics.loss) && ev->images_per_second > 0);
            g_assert_cmpfloat (ev->wall, >=, prev->wall);
            next_step++;
            break;
        case DINOLAB_TRAINER_EVENT_EVAL:
            if (n_eval == 0) {
                /* the random initialisation, before the first step */
                g_assert_cmpint (prev->kind, ==, DINOLAB_TRAINER_EVENT_STATUS);
                g_assert_cmpint (ev->step, ==, 0);
                g_assert_cmpint (next_step, ==, 0);
            } else {
                g_assert_cmpint (prev->kind, ==, DINOLAB_TRAINER_EVENT_STEP);
                g_assert_cmpint (ev->step, ==, prev->step);
                g_assert_cmpint (ev->step % 5, ==, 4);
            }
            g_assert_true (ev->has_knn);
            g_assert_cmpint (ev->knn.n_train, ==, 20);
            g_assert_cmpint (ev->knn.n_test, ==, 12);
            n_eval++;
            break;
        case DINOLAB_TRAINER_EVENT_CHECKPOINT:
            g_assert_cmpint (prev->kind, ==, DINOLAB_TRAINER_EVENT_EVAL);
            g_assert_cmpint (ev->step, ==, prev->step + 1);
            g_assert_true (g_file_test (ev->path, G_FILE_TEST_IS_REGULAR));
            n_ckpt++;
            break;
        case DINOLAB_TRAINER_EVENT_STATUS:
        case DINOLAB_TRAINER_EVENT_WARNING:
        case DINOLAB_TRAINER_EVENT_ERROR:
        default:
            g_test_message ("unexpected event %d: %s", ev->kind, ev->message);
            g_assert_not_reached ();
        }
    }
    g_assert_cmpint (next_step, ==, 10);
    g_assert_cmpint (n_eval, ==, 3);
    g_assert_cmpint (n_ckpt, ==, 2);

    // the store: status, every metric at every step, k-NN at the start and after each
    // epoch, snapshots, checkpoints
    uuid = the_run_ (store);
    g_assert_cmpstr (uuid, ==, first->run_uuid);
    g_assert_cmpint (run_status_ (store, uuid), ==, DINOLAB_RUN_STATUS_FINISHED);
    names = dinolab_store_list_metrics (store, uuid, &error);
    g_assert_cmpuint (g_strv_length (names), ==, 13);
    for (char **nm = names; *nm; nm++) {
        g_autoptr (DinolabMetricSeries) se = dinolab_store_read_series (store, uuid, *nm, -1, &error);
        gboolean knn = g_str_has_prefix (*nm, "knn_");
        g_assert_no_error (error);
        g_assert_cmpuint (se->n, ==, knn ? 3 : 10);
        for (gsize i = 0; i < se->n; i++) {
            /* k-NN at steps 0 (the start, epoch 0), 4 and 9 (epochs 1 and 2) */
            g_assert_cmpint (se->step[i], ==, knn ? (i == 0 ? 0 : 5 * (gint64) i - 1) : (gint64) i);
            g_assert_cmpfloat_with_epsilon (se->epoch[i], knn ? (double) i : (i + 1) / 5.0, 1e-12);
        }
    }
    snaps = dinolab_store_list_snapshot_steps (store, uuid, &error);
    g_assert_cmpuint (snaps->len, ==, 3);
    g_assert_cmpint (g_array_index (snaps, gint64, 0), ==, 0);
    g_assert_cmpint (g_array_index (snaps, gint64, 2), ==, 9);
    {
        g_autoptr (DinolabAttentionSnapshot) sn = dinolab_store_get_snapshot (store, uuid, 9, &error);
        g_assert_no_error (error);
        g_assert_cmpint (sn->n_images, ==, 8);
        g_assert_cmpint (sn->heads, ==, 2);
        g_assert_cmpint (sn->grid_h, ==, 3);
        for (int i = 0; i < sn->n_images * sn->heads; i++) {   /* softmax rows minus CLS */
            double sum = 0;
            for (int p = 0; p < 9; p++)
                sum += sn->maps[i * 9 + p];
            g_assert_cmpfloat (sum, >, 0.0);
            g_assert_cmpfloat (sum, <=, 1.0 + 1e-5);
        }
    }
    ckpts = dinolab_store_list_checkpoints (store, uuid, &error);
    g_assert_cmpuint (ckpts->len, ==, 2);
    for (guint i = 0; i < ckpts->len; i++) {
        DinolabCheckpointInfo *c = ckpts->pdata[i];
        g_autofree char *abs = dinolab_store_resolve_path (store, c->path);
        g_autofree char *sha = sha256_file_ (abs);
        g_auto (DinolabCheckpointMeta) meta = { 0 };
        g_assert_cmpint (c->step, ==, 5 * (i + 1));
        g_assert_cmpstr (sha, ==, c->sha256);
        g_assert_true (dinolab_checkpoint_read_meta (abs, &meta, &error));
        g_assert_cmpint (meta.step, ==, c->step);
        g_assert_cmpint (meta.epoch, ==, (int) i + 1);
        g_assert_cmpint (meta.iteration_in_epoch, ==, 0);
        g_assert_cmpstr (meta.run_uuid, ==, uuid);
    }
    seen_clear_ (&seen);
}

/* Timed checkpoints (here: after every step) and their retention: the newest
 * keep_last plus those at the end of every keep_every_epochs-th epoch; the others lose
 * their row and their file. */
static void
test_retention (void)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autofree char *db = new_db_path_ (), *uuid = NULL, *dir = NULL;
    g_autoptr (DinolabStore) store = open_store_ (db);
    g_autoptr (DinolabTrainer) t = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) rows = NULL;
    g_autoptr (GDir) d = NULL;
    static const gint64 want[] = { 5, 8, 9, 10 };
    DinolabTrainerOptions opts;
    const char *name;
    int n_ckpt_events = 0, n_files = 0;
    Seen seen;

    tiny_hparams_ (&hp, NULL);
    dinolab_trainer_options_init (&opts);
    opts.checkpoint_minutes = 1e-9;
    opts.keep_last = 3;
    opts.keep_every_epochs = 1;
    t = dinolab_trainer_new (store, &hp, &opts, &error);
    seen_init_ (&seen);
    g_assert_cmpint (run_ (t, &seen, &error), ==, DINOLAB_TRAINER_STATUS_FINISHED);
    for (guint i = 0; i < seen.events->len; i++)
        n_ckpt_events += ((DinolabTrainerEvent *) seen.events->pdata[i])->kind == DINOLAB_TRAINER_EVENT_CHECKPOINT;
    g_assert_cmpint (n_ckpt_events, ==, 10);
    seen_clear_ (&seen);

    uuid = the_run_ (store);
    rows = dinolab_store_list_checkpoints (store, uuid, &error);
    g_assert_cmpuint (rows->len, ==, G_N_ELEMENTS (want));
    for (guint i = 0; i < rows->len; i++)
        g_assert_cmpint (((DinolabCheckpointInfo *) rows->pdata[i])->step, ==, want[i]);
    dir = dinolab_store_get_run_dir (store, uuid);
    d = g_dir_open (dir, 0, &error);
    while ((name = g_dir_read_name (d)) != NULL) {
        gboolean listed = FALSE;
        for (guint i = 0; i < G_N_ELEMENTS (want); i++) {
            g_autofree char *expect = g_strdup_printf ("step-%08" G_GINT64_FORMAT ".safetensors", want[i]);
            listed |= strcmp (name, expect) == 0;
        }
        g_assert_true (listed);
        n_files++;
    }
    g_assert_cmpint (n_files, ==, G_N_ELEMENTS (want));
}

// ----------------------------------------------------------------------------
// bit-exact resume

/* Every series of @a's run equals @b's bit for bit (steps, epochs, values), except the
 * timing ones. Returns the number of values compared. */
static gsize
compare_runs_ (DinolabStore *sa, const char *ua, DinolabStore *sb, const char *ub)
{
    g_autoptr (GError) error = NULL;
    g_auto (GStrv) na = dinolab_store_list_metrics (sa, ua, &error);
    g_auto (GStrv) nb = dinolab_store_list_metrics (sb, ub, &error);
    g_autoptr (GArray) snaps = NULL;
    gsize compared = 0;

    g_assert_cmpuint (g_strv_length (na), ==, g_strv_length (nb));
    for (guint k = 0; na[k]; k++) {
        g_autoptr (DinolabMetricSeries) a = dinolab_store_read_series (sa, ua, na[k], -1, &error);
        g_autoptr (DinolabMetricSeries) b = dinolab_store_read_series (sb, ub, na[k], -1, &error);
        g_assert_cmpstr (na[k], ==, nb[k]);
        g_assert_cmpuint (a->n, ==, b->n);
        g_assert_cmpint (memcmp (a->step, b->step, a->n * sizeof (gint64)), ==, 0);
        g_assert_cmpint (memcmp (a->epoch, b->epoch, a->n * sizeof (double)), ==, 0);
        if (strcmp (na[k], "images_per_second") == 0)
            continue;
        for (gsize i = 0; i < a->n; i++)
            if (memcmp (&a->value[i], &b->value[i], sizeof (double)) != 0)
                g_error ("%s at step %" G_GINT64_FORMAT ": %.17g straight, %.17g resumed", na[k],
                         a->step[i], a->value[i], b->value[i]);
        compared += a->n;
    }
    snaps = dinolab_store_list_snapshot_steps (sa, ua, &error);
    for (guint i = 0; i < snaps->len; i++) {
        gint64 step = g_array_index (snaps, gint64, i);
        g_autoptr (DinolabAttentionSnapshot) a = dinolab_store_get_snapshot (sa, ua, step, &error);
        g_autoptr (DinolabAttentionSnapshot) b = dinolab_store_get_snapshot (sb, ub, step, &error);
        g_assert_no_error (error);
        g_assert_cmpint (memcmp (a->maps, b->maps, (size_t) a->n_images * a->heads * a->grid_h *
                                 a->grid_w * sizeof (float)), ==, 0);
        compared += (gsize) a->n_images * a->heads * a->grid_h * a->grid_w;
    }
    return compared;
}

/* The final teacher and center of a run's newest checkpoint, bit for bit. */
static void
compare_final_checkpoints_ (DinolabStore *sa, const char *ua, DinolabStore *sb, const char *ub)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabCheckpointInfo) ca = dinolab_store_get_latest_checkpoint (sa, ua, &error);
    g_autoptr (DinolabCheckpointInfo) cb = dinolab_store_get_latest_checkpoint (sb, ub, &error);
    g_autofree char *pa = dinolab_store_resolve_path (sa, ca->path);
    g_autofree char *pb = dinolab_store_resolve_path (sb, cb->path);
    g_autoptr (DinolabSafetensors) fa = dinolab_safetensors_read (pa, "teacher", &error);
    g_autoptr (DinolabSafetensors) fb = dinolab_safetensors_read (pb, "teacher", &error);

    g_assert_no_error (error);
    g_assert_cmpint (ca->step, ==, cb->step);
    g_assert_cmpuint (dinolab_safetensors_get_n_tensors (fa), ==, dinolab_safetensors_get_n_tensors (fb));
    for (guint i = 0; i < dinolab_safetensors_get_n_tensors (fa); i++) {
        const char *name = dinolab_safetensors_get_name (fa, i);
        const DinolabArray *a = dinolab_safetensors_get (fa, name);
        const DinolabArray *b = dinolab_safetensors_get (fb, name);
        g_assert_nonnull (b);
        g_assert_cmpint (memcmp (a->data, b->data, dinolab_array_numel (a) * sizeof (float)), ==, 0);
    }
}

/* The tests of stopping and resuming: run A (uuid ua in store sa) of the tiny
 * hyperparameters went straight through from start to end; the test trains run B
 * (ub, its own store sb, empty at first) with stops and resumes and compares the two. */
typedef struct {
    DinolabHparams hp;
    DinolabStore  *sa, *sb;
    char          *ua, *ub;
} Straight;

static void
straight_setup_ (Straight *f, gconstpointer data G_GNUC_UNUSED)
{
    g_autofree char *db_a = new_db_path_ (), *db_b = new_db_path_ ();
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabTrainer) t = NULL;
    Seen seen;

    tiny_hparams_ (&f->hp, NULL);
    f->sa = open_store_ (db_a);
    f->sb = open_store_ (db_b);
    t = dinolab_trainer_new (f->sa, &f->hp, NULL, &error);
    g_assert_no_error (error);
    seen_init_ (&seen);
    g_assert_cmpint (run_ (t, &seen, &error), ==, DINOLAB_TRAINER_STATUS_FINISHED);
    seen_clear_ (&seen);
    f->ua = the_run_ (f->sa);
}

static void
straight_teardown_ (Straight *f, gconstpointer data G_GNUC_UNUSED)
{
    dinolab_hparams_clear (&f->hp);
    g_clear_pointer (&f->sa, dinolab_store_close);
    g_clear_pointer (&f->sb, dinolab_store_close);
    g_clear_pointer (&f->ua, g_free);
    g_clear_pointer (&f->ub, g_free);
}

static void
test_resume_bit_exact (Straight *f, gconstpointer data G_GNUC_UNUSED)
{
    const DinolabHparams *hp = &f->hp;
    DinolabStore *sa = f->sa, *sb = f->sb;
    const char *ua = f->ua, *ub = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) markers = NULL;
    Seen seen;
    gsize compared;

    // B: stopped in the middle of epoch 0 (after step 2), resumed, stopped in the middle of
    // epoch 1 (after step 6), resumed to the end
    {
        g_autoptr (DinolabTrainer) t = dinolab_trainer_new (sb, hp, NULL, &error);
        g_autoptr (DinolabCheckpointInfo) c = NULL;
        g_autofree char *abs = NULL;
        g_auto (DinolabCheckpointMeta) meta = { 0 };
        DinolabTrainerEvent *last;
        seen_init_ (&seen);
        seen.stop_after = 2;
        g_assert_cmpint (run_ (t, &seen, &error), ==, DINOLAB_TRAINER_STATUS_STOPPED);
        g_assert_no_error (error);
        last = seen.events->pdata[seen.events->len - 1];
        g_assert_cmpint (last->status, ==, DINOLAB_TRAINER_STATUS_STOPPED);
        g_assert_cmpint (((DinolabTrainerEvent *) seen.events->pdata[seen.events->len - 2])->kind, ==,
                         DINOLAB_TRAINER_EVENT_CHECKPOINT);
        seen_clear_ (&seen);
        ub = f->ub = the_run_ (sb);
        g_assert_cmpint (run_status_ (sb, ub), ==, DINOLAB_RUN_STATUS_STOPPED);
        // a stop mid-epoch writes a checkpoint of the position after the step
        c = dinolab_store_get_latest_checkpoint (sb, ub, &error);
        g_assert_cmpint (c->step, ==, 3);
        abs = dinolab_store_resolve_path (sb, c->path);
        g_assert_true (dinolab_checkpoint_read_meta (abs, &meta, &error));
        g_assert_cmpint (meta.epoch, ==, 0);
        g_assert_cmpint (meta.iteration_in_epoch, ==, 3);
    }
    {
        g_autoptr (DinolabTrainer) t = dinolab_trainer_new_resume (sb, ub, NULL, NULL, &error);
        DinolabTrainerEvent *first;
        g_assert_no_error (error);
        seen_init_ (&seen);
        seen.stop_after = 6;
        g_assert_cmpint (run_ (t, &seen, &error), ==, DINOLAB_TRAINER_STATUS_STOPPED);
        first = seen.events->pdata[0];
        g_assert_cmpint (first->status, ==, DINOLAB_TRAINER_STATUS_RUNNING);
        g_assert_cmpint (first->step, ==, 3);
        g_assert_cmpint (((DinolabTrainerEvent *) seen.events->pdata[1])->step, ==, 3);
        seen_clear_ (&seen);
    }
    {
        g_autoptr (DinolabTrainer) t = dinolab_trainer_new_resume (sb, ub, NULL, NULL, &error);
        g_assert_no_error (error);
        seen_init_ (&seen);
        g_assert_cmpint (run_ (t, &seen, &error), ==, DINOLAB_TRAINER_STATUS_FINISHED);
        seen_clear_ (&seen);
    }
    g_assert_cmpint (run_status_ (sb, ub), ==, DINOLAB_RUN_STATUS_FINISHED);
    compared = compare_runs_ (sa, ua, sb, ub);
    g_test_message ("resume: %zu stored values equal bit for bit", compared);
    g_assert_cmpuint (compared, >=, 10 * 10 + 4);
    compare_final_checkpoints_ (sa, ua, sb, ub);

    markers = dinolab_store_list_markers (sb, ub, &error);
    g_assert_cmpuint (markers->len, ==, 2);
    g_assert_cmpstr (((DinolabMarker *) markers->pdata[0])->kind, ==, "resume");
    g_assert_cmpint (((DinolabMarker *) markers->pdata[0])->step, ==, 3);
    g_assert_cmpint (((DinolabMarker *) markers->pdata[1])->step, ==, 7);

    // finished: resume only with more epochs; keys that change the run are refused
    {
        static const char *const more[] = { "epochs=3", NULL };
        static const char *const lr[] = { "lr=0.1", NULL };
        DinolabTrainer *t = dinolab_trainer_new_resume (sb, ub, NULL, NULL, &error);
        g_assert_null (t);
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
        g_assert_nonnull (strstr (error->message, "epochs=N"));
        g_clear_error (&error);
        t = dinolab_trainer_new_resume (sb, ub, lr, NULL, &error);
        g_assert_null (t);
        g_assert_nonnull (strstr (error->message, "lr: resume can only change"));
        g_clear_error (&error);
        t = dinolab_trainer_new_resume (sb, ub, more, NULL, &error);
        g_assert_no_error (error);
        g_assert_cmpint (dinolab_trainer_get_hparams (t)->epochs, ==, 3);
        dinolab_trainer_free (t);
    }
}

/* stop_at_step: a new run and a resumed one stop after exactly that many steps, with a
 * checkpoint; the schedules stay those of all the epochs, so the stops and the resumes
 * end with the same numbers, bit for bit, as a run straight through. Past the end, the
 * run finishes. */
static void
test_stop_at (Straight *f, gconstpointer data G_GNUC_UNUSED)
{
    DinolabStore *sa = f->sa, *sb = f->sb;
    const char *ua = f->ua, *ub = NULL;
    g_autoptr (GError) error = NULL;
    DinolabTrainerOptions opts;
    Seen seen;
    const gint64 stops[] = { 3, 6, 1000 };

    dinolab_trainer_options_init (&opts);
    for (guint k = 0; k < G_N_ELEMENTS (stops); k++) {
        g_autoptr (DinolabTrainer) t = NULL;
        g_autoptr (DinolabCheckpointInfo) c = NULL;
        g_autoptr (DinolabMetricSeries) loss = NULL;
        gboolean past_end = k == G_N_ELEMENTS (stops) - 1;

        opts.stop_at_step = stops[k];
        t = k == 0 ? dinolab_trainer_new (sb, &f->hp, &opts, &error)
                   : dinolab_trainer_new_resume (sb, ub, NULL, &opts, &error);
        g_assert_no_error (error);
        seen_init_ (&seen);
        g_assert_cmpint (run_ (t, &seen, &error), ==,
                         past_end ? DINOLAB_TRAINER_STATUS_FINISHED : DINOLAB_TRAINER_STATUS_STOPPED);
        g_assert_no_error (error);
        seen_clear_ (&seen);
        if (ub == NULL)
            ub = f->ub = the_run_ (sb);
        if (past_end)
            break;
        c = dinolab_store_get_latest_checkpoint (sb, ub, &error);
        loss = dinolab_store_read_series (sb, ub, "loss", -1, &error);
        g_assert_cmpint (c->step, ==, stops[k]);
        g_assert_cmpuint (loss->n, ==, (gsize) stops[k]);
        g_assert_cmpint (run_status_ (sb, ub), ==, DINOLAB_RUN_STATUS_STOPPED);
        /* resuming with the same stop, the step it resumes from, would train nothing */
        g_assert_null (dinolab_trainer_new_resume (sb, ub, NULL, &opts, &error));
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
        g_test_message ("%s", error->message);
        g_clear_error (&error);
    }
    g_assert_cmpint (run_status_ (sb, ub), ==, DINOLAB_RUN_STATUS_FINISHED);
    g_test_message ("stop-at 3, 6, then to the end: %zu stored values equal to a run straight through",
                    compare_runs_ (sa, ua, sb, ub));
    compare_final_checkpoints_ (sa, ua, sb, ub);
}

/* "latest" is the newest checkpoint whose file verifies: a damaged newest file is
 * skipped with a warning, the run goes on from the one before, and the numbers still
 * match a straight run. */
static void
test_resume_skips_damaged (Straight *f, gconstpointer data G_GNUC_UNUSED)
{
    DinolabStore *sa = f->sa, *sb = f->sb;
    const char *ua = f->ua, *ub = NULL;
    g_autofree char *abs = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabCheckpointInfo) c = NULL;
    DinolabTrainerEvent *ev;
    Seen seen;
    FILE *fp;

    {
        g_autoptr (DinolabTrainer) t = dinolab_trainer_new (sb, &f->hp, NULL, &error);
        seen_init_ (&seen);
        seen.stop_after = 7;
        g_assert_cmpint (run_ (t, &seen, &error), ==, DINOLAB_TRAINER_STATUS_STOPPED);
        seen_clear_ (&seen);
        ub = f->ub = the_run_ (sb);
    }
    // flip one byte in the data of the newest checkpoint (step 8)
    c = dinolab_store_get_latest_checkpoint (sb, ub, &error);
    g_assert_cmpint (c->step, ==, 8);
    abs = dinolab_store_resolve_path (sb, c->path);
    fp = fopen (abs, "r+b");
    g_assert_nonnull (fp);
    g_assert_cmpint (fseek (fp, -8, SEEK_END), ==, 0);
    fputc (0x55, fp);
    fclose (fp);
    {
        g_autoptr (DinolabTrainer) t = dinolab_trainer_new_resume (sb, ub, NULL, NULL, &error);
        g_assert_no_error (error);
        seen_init_ (&seen);
        g_assert_cmpint (run_ (t, &seen, &error), ==, DINOLAB_TRAINER_STATUS_FINISHED);
        ev = seen.events->pdata[0];
        g_assert_cmpint (ev->status, ==, DINOLAB_TRAINER_STATUS_RUNNING);
        g_assert_cmpint (ev->step, ==, 5);
        ev = seen.events->pdata[1];
        g_assert_cmpint (ev->kind, ==, DINOLAB_TRAINER_EVENT_WARNING);
        g_assert_cmpint (ev->warning, ==, DINOLAB_TRAINER_WARNING_CHECKPOINT);
        g_test_message ("damaged: %s", ev->message);
        g_assert_nonnull (strstr (ev->message, "step 8 skipped"));
        g_assert_nonnull (strstr (ev->message, "sha256"));
        seen_clear_ (&seen);
    }
    compare_runs_ (sa, ua, sb, ub);
    compare_final_checkpoints_ (sa, ua, sb, ub);
}

// ----------------------------------------------------------------------------
// pause and resume from another thread

static int
count_steps_ (Seen *s)
{
    int n = 0;

    g_mutex_lock (&s->lock);
    for (guint i = 0; i < s->events->len; i++)
        n += ((DinolabTrainerEvent *) s->events->pdata[i])->kind == DINOLAB_TRAINER_EVENT_STEP;
    g_mutex_unlock (&s->lock);
    return n;
}

static void
test_pause (void)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autofree char *db = new_db_path_ ();
    g_autoptr (DinolabStore) store = open_store_ (db);
    g_autoptr (DinolabTrainer) t = NULL;
    g_autoptr (GError) error = NULL;
    g_autofree char *uuid = NULL;
    Seen seen;
    int n, paused = 0, running = 0;
    gint64 deadline;

    tiny_hparams_ (&hp, NULL);
    t = dinolab_trainer_new (store, &hp, NULL, &error);
    seen_init_ (&seen);
    seen.trainer = t;
    seen.pause_after = 3;
    dinolab_trainer_set_observer (t, observe_, &seen, NULL);
    g_assert_true (dinolab_trainer_start (t, &error));
    g_assert_false (dinolab_trainer_start (t, &error));   /* once only */
    g_clear_error (&error);

    deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
    while (dinolab_trainer_get_status (t) != DINOLAB_TRAINER_STATUS_PAUSED && g_get_monotonic_time () < deadline)
        g_usleep (1000);
    g_assert_cmpint (dinolab_trainer_get_status (t), ==, DINOLAB_TRAINER_STATUS_PAUSED);
    n = count_steps_ (&seen);
    g_assert_cmpint (n, ==, 4);          /* paused at the boundary after step 3 */
    uuid = dinolab_trainer_dup_run_uuid (t);
    // the store learns it within a writer commit
    deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
    while (run_status_ (store, uuid) != DINOLAB_RUN_STATUS_PAUSED && g_get_monotonic_time () < deadline)
        g_usleep (10000);
    g_assert_cmpint (run_status_ (store, uuid), ==, DINOLAB_RUN_STATUS_PAUSED);
    g_usleep (200000);
    g_assert_cmpint (count_steps_ (&seen), ==, n);   /* nothing moves while paused */

    dinolab_trainer_set_paused (t, FALSE);
    g_assert_cmpint (dinolab_trainer_join (t, &error), ==, DINOLAB_TRAINER_STATUS_FINISHED);
    g_assert_no_error (error);
    g_assert_cmpint (count_steps_ (&seen), ==, 10);
    for (guint i = 0; i < seen.events->len; i++) {
        DinolabTrainerEvent *ev = seen.events->pdata[i];
        if (ev->kind != DINOLAB_TRAINER_EVENT_STATUS)
            continue;
        if (ev->status == DINOLAB_TRAINER_STATUS_PAUSED) {
            paused++;
            g_assert_cmpint (ev->step, ==, 4);
        }
        running += ev->status == DINOLAB_TRAINER_STATUS_RUNNING;
    }
    g_assert_cmpint (paused, ==, 1);
    g_assert_cmpint (running, ==, 2);
    g_assert_cmpint (run_status_ (store, uuid), ==, DINOLAB_RUN_STATUS_FINISHED);
    seen_clear_ (&seen);
}

// ----------------------------------------------------------------------------
// faults

static void
test_divergence (void)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autofree char *db = new_db_path_ (), *uuid = NULL;
    g_autoptr (DinolabStore) store = open_store_ (db);
    g_autoptr (DinolabTrainer) t = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) ckpts = NULL, markers = NULL;
    DinolabTrainerOptions opts;
    DinolabTrainerEvent *last;
    Seen seen;

    tiny_hparams_ (&hp, NULL);
    dinolab_trainer_options_init (&opts);
    opts.debug_nan_step = 7;
    t = dinolab_trainer_new (store, &hp, &opts, &error);
    seen_init_ (&seen);
    g_assert_cmpint (run_ (t, &seen, &error), ==, DINOLAB_TRAINER_STATUS_DIVERGED);
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DIVERGED);
    g_test_message ("divergence: %s", error->message);
    g_assert_nonnull (strstr (error->message, "step 7"));
    g_assert_nonnull (strstr (error->message, "last good checkpoint is step 5"));
    last = seen.events->pdata[seen.events->len - 1];
    g_assert_cmpint (last->kind, ==, DINOLAB_TRAINER_EVENT_STATUS);
    g_assert_cmpint (last->status, ==, DINOLAB_TRAINER_STATUS_DIVERGED);
    g_assert_cmpint (count_steps_ (&seen), ==, 7);
    seen_clear_ (&seen);

    uuid = the_run_ (store);
    g_assert_cmpint (run_status_ (store, uuid), ==, DINOLAB_RUN_STATUS_DIVERGED);
    ckpts = dinolab_store_list_checkpoints (store, uuid, NULL);
    g_assert_cmpuint (ckpts->len, ==, 1);      /* the good one stays, no new one */
    g_assert_cmpint (((DinolabCheckpointInfo *) ckpts->pdata[0])->step, ==, 5);
    markers = dinolab_store_list_markers (store, uuid, NULL);
    g_assert_cmpuint (markers->len, ==, 1);
    g_assert_cmpstr (((DinolabMarker *) markers->pdata[0])->kind, ==, "divergence");
    g_assert_cmpint (((DinolabMarker *) markers->pdata[0])->step, ==, 7);
    g_clear_error (&error);
    g_assert_null (dinolab_trainer_new_resume (store, uuid, NULL, NULL, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_assert_nonnull (strstr (error->message, "diverged"));
}

static void
test_unwritable_runs_folder (void)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autofree char *db = new_db_path_ ();
    g_autofree char *dir = g_path_get_dirname (db);
    g_autofree char *runs = g_build_filename (dir, "runs", NULL);
    g_autoptr (DinolabStore) store = open_store_ (db);
    g_autoptr (DinolabTrainer) t = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) list = NULL;
    DinolabTrainerEvent *last;
    Seen seen;

    // root ignores chmod, so make "runs" a regular file: no folder can go under it
    g_assert_true (g_file_set_contents (runs, "not a folder", -1, NULL));
    tiny_hparams_ (&hp, NULL);
    t = dinolab_trainer_new (store, &hp, NULL, &error);
    seen_init_ (&seen);
    g_assert_cmpint (run_ (t, &seen, &error), ==, DINOLAB_TRAINER_STATUS_FAILED);
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO);
    g_test_message ("unwritable: %s", error->message);
    g_assert_nonnull (strstr (error->message, runs));
    g_assert_nonnull (strstr (error->message, "Not a directory") ?: strstr (error->message, "File exists"));
    // the last two events: the error, then the failed status; no step ran
    g_assert_cmpuint (seen.events->len, ==, 2);
    g_assert_cmpint (((DinolabTrainerEvent *) seen.events->pdata[0])->kind, ==, DINOLAB_TRAINER_EVENT_ERROR);
    last = seen.events->pdata[1];
    g_assert_cmpint (last->status, ==, DINOLAB_TRAINER_STATUS_FAILED);
    seen_clear_ (&seen);
    g_clear_error (&error);
    list = dinolab_store_list_runs (store, &error);
    g_assert_cmpuint (list->len, ==, 0);       /* nothing stored */
}

static void
test_fork_mismatch (void)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_auto (DinolabHparams) wide = { 0 };
    static const char *const w[] = { "embed_dim=24", NULL };
    g_autofree char *db = new_db_path_ (), *uuid = NULL, *path = NULL;
    g_autoptr (DinolabStore) store = open_store_ (db);
    g_autoptr (DinolabTrainer) t = NULL, t2 = NULL;
    g_autoptr (DinolabCheckpointInfo) c = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) list = NULL;
    DinolabTrainerOptions opts;
    Seen seen;

    tiny_hparams_ (&hp, NULL);
    t = dinolab_trainer_new (store, &hp, NULL, &error);
    seen_init_ (&seen);
    g_assert_cmpint (run_ (t, &seen, &error), ==, DINOLAB_TRAINER_STATUS_FINISHED);
    seen_clear_ (&seen);
    uuid = the_run_ (store);
    c = dinolab_store_get_latest_checkpoint (store, uuid, &error);
    path = dinolab_store_resolve_path (store, c->path);

    // a fork with another width: refused with one message naming the tensor
    tiny_hparams_ (&wide, w);
    dinolab_trainer_options_init (&opts);
    opts.init_checkpoint = path;
    opts.parent = uuid;
    t2 = dinolab_trainer_new (store, &wide, &opts, &error);
    seen_init_ (&seen);
    g_assert_cmpint (run_ (t2, &seen, &error), ==, DINOLAB_TRAINER_STATUS_FAILED);
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_assert_nonnull (strstr (error->message, "expected [1,1,24], found [1,1,16]"));
    seen_clear_ (&seen);
    list = dinolab_store_list_runs (store, NULL);
    g_assert_cmpuint (list->len, ==, 1);       /* no new run, the old one intact */
    g_assert_cmpint (run_status_ (store, uuid), ==, DINOLAB_RUN_STATUS_FINISHED);

    // the same fork with matching sizes trains and is linked to its parent
    g_clear_error (&error);
    g_clear_pointer (&t2, dinolab_trainer_free);
    t2 = dinolab_trainer_new (store, &hp, &opts, &error);
    seen_init_ (&seen);
    g_assert_cmpint (run_ (t2, &seen, &error), ==, DINOLAB_TRAINER_STATUS_FINISHED);
    {
        g_autofree char *child = dinolab_trainer_dup_run_uuid (t2);
        g_autoptr (DinolabRunInfo) info = dinolab_store_get_run (store, child, &error);
        g_assert_cmpstr (info->parent_uuid, ==, uuid);
    }
    seen_clear_ (&seen);
}

// ----------------------------------------------------------------------------
// the command line: SIGKILL and a full disk

static const char *
cli_ (void)
{
    const char *cli = g_getenv ("DINOLAB_CLI");

    if (cli == NULL || !g_file_test (cli, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip ("DINOLAB_CLI is not set to the dinolab-cli program");
        return NULL;
    }
    return cli;
}

static char *
write_config_ (const char *name, const char *const *overrides)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autofree char *json = NULL;
    char *path = g_build_filename (tmpdir, name, NULL);

    tiny_hparams_ (&hp, overrides);
    json = dinolab_hparams_to_json (&hp, TRUE);
    g_assert_true (g_file_set_contents (path, json, -1, NULL));
    return path;
}

/* Runs the command line @argv (argv[0] is set here) and returns its exit status;
 * *@out (g_free; NULL: thrown away) receives its standard output, *@err its standard
 * error. */
static int
run_cli_ (const char *cli, const char **argv, char **out, char **err)
{
    g_autoptr (GError) error = NULL;
    gint rc;

    argv[0] = cli;
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, out ? 0 : G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                                 out, err, &rc, &error));
    g_assert_no_error (error);
    g_assert_true (WIFEXITED (rc));
    g_test_message ("%s %s: exit %d, %s", argv[1], argv[2], WEXITSTATUS (rc), *err);
    return WEXITSTATUS (rc);
}

/* train and resume --stop-at: a step count that is none, and a stop that would train
 * nothing, end in one message each; a good one stops with a checkpoint there. The run
 * remembers train's --keep-last: a resume without one keeps as many, a resume with one
 * changes it. */
static void
test_cli_stop_at (void)
{
    const char *cli = cli_ ();
    g_autofree char *cfg = NULL, *db = new_db_path_ (), *uuid = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabStore) store = NULL;
    g_autoptr (DinolabCheckpointInfo) ck = NULL;
    const char *train[] = { NULL, "train", "--config", NULL, "--db", db, "--name", "cut", "--keep-last", "1",
                            "--stop-at", NULL, NULL };
    const char *resume[] = { NULL, "resume", "cut", "--db", db, "--stop-at", NULL, NULL, NULL, NULL };
    g_autoptr (GPtrArray) kept = NULL;
    g_autoptr (DinolabRunInfo) info = NULL;

    if (cli == NULL)
        return;
    cfg = write_config_ ("stop-at.json", NULL);
    train[3] = cfg;
    {
        g_autofree char *err = NULL;
        train[11] = "0";
        g_assert_cmpint (run_cli_ (cli, train, NULL, &err), ==, 2);
        g_assert_nonnull (strstr (err, "--stop-at: 0 is not a step (>= 1)"));
    }
    {
        g_autofree char *err = NULL;
        train[11] = "3";
        g_assert_cmpint (run_cli_ (cli, train, NULL, &err), ==, 0);
    }
    {
        g_autofree char *err = NULL;
        resume[6] = "2";
        g_assert_cmpint (run_cli_ (cli, resume, NULL, &err), ==, 2);   /* invalid input, as a usage error */
        g_assert_nonnull (strstr (err, "resumes from step 3: a stop at step 2 would train nothing"));
        g_assert_null (strchr (strchr (err, '\n') + 1, '\n'));   /* one line */
    }
    resume[6] = "5";
    {
        g_autofree char *err = NULL;
        resume[7] = "--keep-last";
        resume[8] = "0";
        g_assert_cmpint (run_cli_ (cli, resume, NULL, &err), ==, 2);
        g_assert_nonnull (strstr (err, "--keep-last: 0 is not a number of checkpoints (>= 1)"));
    }
    {
        g_autofree char *out = NULL, *err = NULL, *hint = NULL;
        resume[7] = NULL;   /* no --keep-last: the run's own, 1 */
        g_assert_cmpint (run_cli_ (cli, resume, &out, &err), ==, 0);
        hint = g_strdup_printf (" --db %s\n", db);   /* nothing to repeat after it */
        g_assert_nonnull (strstr (out, "continue it with: dinolab-cli resume "));
        g_assert_true (g_str_has_suffix (out, hint));
    }
    store = open_store_ (db);
    uuid = the_run_ (store);
    ck = dinolab_store_get_latest_checkpoint (store, uuid, &error);
    g_assert_no_error (error);
    g_assert_cmpint (ck->step, ==, 5);
    g_assert_cmpint (run_status_ (store, uuid), ==, DINOLAB_RUN_STATUS_STOPPED);
    kept = dinolab_store_list_checkpoints (store, uuid, &error);   /* step 3's is gone */
    g_assert_no_error (error);
    g_assert_cmpuint (kept->len, ==, 1);
    g_clear_pointer (&kept, g_ptr_array_unref);

    /* a resume that gives --keep-last changes what the run keeps from then on */
    {
        g_autofree char *err = NULL;
        resume[6] = "7";
        resume[7] = "--keep-last";
        resume[8] = "2";
        g_assert_cmpint (run_cli_ (cli, resume, NULL, &err), ==, 0);
    }
    info = dinolab_store_get_run (store, uuid, &error);
    g_assert_no_error (error);
    g_assert_cmpint (info->keep_last, ==, 2);
    kept = dinolab_store_list_checkpoints (store, uuid, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (kept->len, ==, 2);
    g_assert_cmpint (((DinolabCheckpointInfo *) kept->pdata[1])->step, ==, 7);
}

static void
test_sigkill (void)
{
    const char *cli = cli_ ();
    // long enough never to finish before the kill; a checkpoint every 500 steps (about a
    // second), so the writer (a commit every 0.5 s) stores steps past each checkpoint
    static const char *const longer[] = { "epochs=2000", "checkpoint_every=100", "eval_every=50", NULL };
    g_autofree char *cfg = NULL, *db = new_db_path_ (), *uuid = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabStore) store = NULL;
    g_autoptr (DinolabCheckpointInfo) ck = NULL;
    g_auto (GStrv) names = NULL;
    GPtrArray *before = g_ptr_array_new_with_free_func ((GDestroyNotify) dinolab_metric_series_free);
    const char *argv[] = { NULL, "train", "--config", NULL, "--db", db, "--json", "--name", "killed", NULL };
    GPid pid;
    int wstatus, epochs = 0;
    gint64 deadline, max_step = -1;
    gsize kept = 0, total = 0, recomputed = 0;

    if (cli == NULL)
        return;
    cfg = write_config_ ("sigkill.json", longer);
    argv[0] = cli;
    argv[3] = cfg;
    g_assert_true (g_spawn_async (NULL, (char **) argv, NULL,
                                  G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, &pid,
                                  &error));
    // Watch the store from here (a second process on the same database) and kill the
    // child once points past its newest checkpoint are committed.
    deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
    for (;;) {
        g_autoptr (DinolabCheckpointInfo) c = NULL;
        g_autoptr (DinolabMetricSeries) se = NULL;
        g_assert_cmpint (waitpid (pid, &wstatus, WNOHANG), ==, 0);     /* still training */
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (20000);
        if (store == NULL && g_file_test (db, G_FILE_TEST_EXISTS))
            store = dinolab_store_open (db, NULL);
        if (store == NULL)
            continue;
        if (uuid == NULL) {
            g_autoptr (GPtrArray) runs = dinolab_store_list_runs (store, NULL);
            if (runs == NULL || runs->len == 0)
                continue;
            uuid = g_strdup (((DinolabRunInfo *) runs->pdata[0])->uuid);
        }
        if (!(c = dinolab_store_get_latest_checkpoint (store, uuid, NULL)))
            continue;
        se = dinolab_store_read_series (store, uuid, "loss", c->step + 4, NULL);
        if (se != NULL && se->n > 0)
            break;
    }
    g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
    g_assert_cmpint (waitpid (pid, &wstatus, 0), ==, pid);
    g_spawn_close_pid (pid);
    g_assert_true (WIFSIGNALED (wstatus) && WTERMSIG (wstatus) == SIGKILL);
    g_clear_pointer (&store, dinolab_store_close);

    // The store: the run is found interrupted; its newest checkpoint verifies and every
    // metric before it is there.
    store = open_store_ (db);
    g_assert_cmpint (run_status_ (store, uuid), ==, DINOLAB_RUN_STATUS_INTERRUPTED);
    ck = dinolab_store_get_latest_checkpoint (store, uuid, &error);
    g_assert_no_error (error);
    {
        g_autofree char *abs = dinolab_store_resolve_path (store, ck->path);
        g_autofree char *sha = sha256_file_ (abs);
        g_assert_cmpstr (sha, ==, ck->sha256);
    }
    names = dinolab_store_list_metrics (store, uuid, &error);
    for (char **nm = names; *nm; nm++) {
        DinolabMetricSeries *se = dinolab_store_read_series (store, uuid, *nm, -1, &error);
        gsize below = 0;
        g_assert_no_error (error);
        for (gsize i = 0; i < se->n; i++) {
            below += se->step[i] < ck->step;
            max_step = MAX (max_step, se->step[i]);
        }
        if (!g_str_has_prefix (*nm, "knn_"))
            g_assert_cmpuint (below, ==, (gsize) ck->step);   /* nothing before the checkpoint lost */
        g_ptr_array_add (before, se);
        kept += se->n;
    }
    g_test_message ("killed with steps up to %" G_GINT64_FORMAT " stored, newest checkpoint at step %"
                    G_GINT64_FORMAT, max_step, ck->step);
    g_clear_pointer (&store, dinolab_store_close);

    // Resume with the same settings (epochs changes the schedules) and stop it with a
    // Ctrl-C once it is past what was stored: the CLI stops cleanly, with a checkpoint.
    {
        const char *rargv[] = { cli, "resume", uuid, "--db", db, "--json", NULL };
        g_autoptr (JsonParser) parser = json_parser_new ();
        g_autoptr (GIOChannel) in = NULL;
        g_autofree char *line = NULL;
        gboolean sent = FALSE;
        int fd_out;
        g_assert_true (g_spawn_async_with_pipes (NULL, (char **) rargv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                                 NULL, &pid, NULL, &fd_out, NULL, &error));
        in = g_io_channel_unix_new (fd_out);
        g_io_channel_set_close_on_unref (in, TRUE);
        while (g_io_channel_read_line (in, &line, NULL, NULL, NULL) == G_IO_STATUS_NORMAL && line != NULL) {
            JsonObject *o;
            if (json_parser_load_from_data (parser, line, -1, NULL) &&
                JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
                o = json_node_get_object (json_parser_get_root (parser));
                if (!sent && strcmp (json_object_get_string_member (o, "event"), "step") == 0 &&
                    json_object_get_int_member (o, "step") > max_step) {
                    g_assert_cmpint (kill (pid, SIGINT), ==, 0);
                    sent = TRUE;
                }
                if (strcmp (json_object_get_string_member (o, "event"), "status") == 0)
                    g_test_message ("resume: status %s at step %" G_GINT64_FORMAT,
                                    json_object_get_string_member (o, "status"),
                                    json_object_get_int_member (o, "step"));
            }
            g_clear_pointer (&line, g_free);
        }
        g_assert_cmpint (waitpid (pid, &wstatus, 0), ==, pid);
        g_spawn_close_pid (pid);
        g_assert_true (sent);
        g_assert_true (WIFEXITED (wstatus));
        g_assert_cmpint (WEXITSTATUS (wstatus), ==, 0);
    }
    store = open_store_ (db);
    g_assert_cmpint (run_status_ (store, uuid), ==, DINOLAB_RUN_STATUS_STOPPED);
    {
        g_autoptr (DinolabCheckpointInfo) last = dinolab_store_get_latest_checkpoint (store, uuid, &error);
        g_autoptr (DinolabMetricSeries) loss = dinolab_store_read_series (store, uuid, "loss", -1, &error);
        g_assert_cmpint (last->step, ==, loss->step[loss->n - 1] + 1);   /* stop = a checkpoint */
        epochs = (int) loss->n;
    }
    // What was stored before the kill is still there, bit for bit: the points after the
    // checkpoint were computed again by the resumed process, exactly.
    for (guint k = 0; k < before->len; k++) {
        DinolabMetricSeries *b = before->pdata[k];
        g_autoptr (DinolabMetricSeries) a = dinolab_store_read_series (store, uuid, b->name, -1, &error);
        gsize j = 0;
        if (strcmp (b->name, "images_per_second") == 0)
            continue;
        if (!g_str_has_prefix (b->name, "knn_"))
            g_assert_cmpuint (a->n, ==, (gsize) epochs);    /* one point per step, no gap */
        for (gsize i = 0; i < b->n; i++) {
            while (j < a->n && a->step[j] < b->step[i])
                j++;
            g_assert_cmpuint (j, <, a->n);
            g_assert_cmpint (a->step[j], ==, b->step[i]);
            if (memcmp (&a->value[j], &b->value[i], sizeof (double)) != 0)
                g_error ("%s at step %" G_GINT64_FORMAT ": %.17g before the kill, %.17g after resume",
                         b->name, b->step[i], b->value[i], a->value[j]);
            total++;
            recomputed += b->step[i] >= ck->step;
        }
    }
    g_test_message ("sigkill: %zu points stored before the kill; %zu compared after resume, %zu of them "
                    "recomputed past the checkpoint", kept, total, recomputed);
    g_assert_cmpuint (recomputed, >, 0);
    {
        g_autoptr (GPtrArray) markers = dinolab_store_list_markers (store, uuid, &error);
        g_assert_cmpuint (markers->len, ==, 1);
        g_assert_cmpstr (((DinolabMarker *) markers->pdata[0])->kind, ==, "resume");
        g_assert_cmpint (((DinolabMarker *) markers->pdata[0])->step, ==, ck->step);
    }
    g_ptr_array_unref (before);
}

/* child_setup: a file-size limit makes every write past it fail with EFBIG, as a full
 * disk makes them fail with ENOSPC; SIGXFSZ is ignored so the write returns the error. */
static void
limit_file_size_ (gpointer data)
{
    struct rlimit rl;

    rl.rlim_cur = rl.rlim_max = GPOINTER_TO_SIZE (data);
    setrlimit (RLIMIT_FSIZE, &rl);
    signal (SIGXFSZ, SIG_IGN);
}

static void
test_disk_full (void)
{
    const char *cli = cli_ ();
    // about 3 MB per checkpoint (4 blocks of 180k floats), far above the 1 MB limit,
    // while the database stays well under it
    static const char *const big[] = { "embed_dim=64", "num_heads=2", "out_dim=256",
                                       "head_hidden_dim=256", "bottleneck_dim=64", NULL };
    g_autofree char *cfg = NULL, *db = new_db_path_ (), *out = NULL, *err = NULL, *dir = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabStore) store = NULL;
    g_autoptr (GPtrArray) runs = NULL, ckpts = NULL;
    g_autoptr (DinolabMetricSeries) loss = NULL;
    g_autoptr (GDir) d = NULL;
    const char *argv[] = { NULL, "train", "--config", NULL, "--db", db, NULL };
    DinolabRunInfo *info;
    const char *name;
    gint rc;

    if (cli == NULL)
        return;
    cfg = write_config_ ("diskfull.json", big);
    argv[0] = cli;
    argv[3] = cfg;
    // the store exists before the limit applies (its first pages are not what we test)
    store = open_store_ (db);
    g_clear_pointer (&store, dinolab_store_close);
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, limit_file_size_,
                                 GSIZE_TO_POINTER (1u << 20), &out, &err, &rc, &error));
    g_test_message ("disk full: exit %d, stderr: %s", WEXITSTATUS (rc), err);
    g_assert_true (WIFEXITED (rc));
    g_assert_cmpint (WEXITSTATUS (rc), ==, 1);
    g_assert_nonnull (strstr (err, "checkpoint at step 5 failed"));
    g_assert_nonnull (strstr (err, "step-00000005.safetensors"));
    g_assert_nonnull (strstr (err, g_strerror (EFBIG)));
    g_assert_null (strchr (strchr (err, '\n') + 1, '\n'));   /* one line */

    store = open_store_ (db);
    runs = dinolab_store_list_runs (store, &error);
    g_assert_cmpuint (runs->len, ==, 1);
    info = runs->pdata[0];
    g_assert_cmpint (info->status, ==, DINOLAB_RUN_STATUS_FAILED);
    ckpts = dinolab_store_list_checkpoints (store, info->uuid, &error);
    g_assert_cmpuint (ckpts->len, ==, 0);
    loss = dinolab_store_read_series (store, info->uuid, "loss", -1, &error);
    g_assert_cmpuint (loss->n, ==, 5);         /* the epoch's metrics are kept */
    dir = dinolab_store_get_run_dir (store, info->uuid);
    d = g_dir_open (dir, 0, &error);
    g_assert_no_error (error);
    while ((name = g_dir_read_name (d)) != NULL)    /* no half-written file left */
        g_error ("%s: left behind in %s", name, dir);
}

// ----------------------------------------------------------------------------

static void
rm_rf_ (const char *path)
{
    GDir *d = g_dir_open (path, 0, NULL);
    const char *name;

    while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
        g_autofree char *child = g_build_filename (path, name, NULL);
        if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
            rm_rf_ (child);
        else
            g_unlink (child);
    }
    if (d != NULL)
        g_dir_close (d);
    g_rmdir (path);
}

int
main (int argc, char **argv)
{
    int rc;
    g_autoptr (GError) error = NULL;
    g_autofree char *data = NULL, *cache = NULL;

    g_test_init (&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp ("dinolab-trainer-XXXXXX", &error);
    g_assert_no_error (error);
    data = g_build_filename (tmpdir, "data", NULL);
    cache = g_build_filename (tmpdir, "cache", NULL);
    g_mkdir_with_parents (data, 0755);
    g_setenv ("DINOLAB_CACHE_DIR", cache, TRUE);    /* normalisation cache (children too) */
    g_unsetenv ("DINOLAB_DB");
    write_split_ (data, "train", 20, 1);
    write_split_ (data, "test", 12, 2);
    train_spec = g_strdup_printf ("npy:%s/train_images.npy", data);

    g_test_add_func ("/trainer/collapse-watch", test_collapse_watch);
    g_test_add_func ("/trainer/collapse-run", test_collapse_run);
    g_test_add_func ("/trainer/checkpoint-roundtrip", test_checkpoint_roundtrip);
    g_test_add_func ("/trainer/events-and-store", test_events_and_store);
    g_test_add_func ("/trainer/retention", test_retention);
    g_test_add ("/trainer/resume-bit-exact", Straight, NULL, straight_setup_, test_resume_bit_exact, straight_teardown_);
    g_test_add ("/trainer/resume-skips-damaged", Straight, NULL, straight_setup_, test_resume_skips_damaged, straight_teardown_);
    g_test_add ("/trainer/stop-at", Straight, NULL, straight_setup_, test_stop_at, straight_teardown_);
    g_test_add_func ("/trainer/pause", test_pause);
    g_test_add_func ("/trainer/divergence", test_divergence);
    g_test_add_func ("/trainer/unwritable-runs-folder", test_unwritable_runs_folder);
    g_test_add_func ("/trainer/fork-mismatch", test_fork_mismatch);
    g_test_add_func ("/trainer/cli-stop-at", test_cli_stop_at);
    g_test_add_func ("/trainer/cli-sigkill", test_sigkill);
    g_test_add_func ("/trainer/cli-disk-full", test_disk_full);
    rc = g_test_run ();
    if (rc == 0)
        rm_rf_ (tmpdir);
    return rc;
}
