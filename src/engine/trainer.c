/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * trainer.c: a training run on its own thread (trainer.h): set-up, the epoch loop,
 * evaluation, checkpoints and their retention, resume, pause and stop, the collapse
 * watch, and the events that tell observers about all of it.
 *
 * What this file is not: one DINO iteration (step.c), the data pipeline (dataset and
 * loader), the SQLite schema (store.c) or the checkpoint file format (checkpoint.c).
 * It decides when each of those runs and in which order, so that a stopped and resumed
 * run stores exactly the numbers of a run that went straight through.
 *
 * Order of one run (trainer_main_):
 *   setup_data_ -> setup_models_ -> choose_eval_sets_ -> setup_store_   (errors: nothing
 *   stored unless the run row exists; then status "failed")
 *   loop_: [pause/stop check] -> loader -> step -> metrics + STEP event -> collapse watch
 *          -> every eval_every epochs (in steps) and at the end: evaluate_
 *          -> checkpoint_ (every checkpoint_every epochs, the last epoch, every
 *             checkpoint_minutes, at a stop) -> thin_
 *   finish_: final status through the writer, flush, one terminal STATUS event.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "dinolab/checkpoint.h"
#include "dinolab/data.h"
#include "dinolab/error.h"
#include "dinolab/eval.h"
#include "dinolab/trainer.h"
#include "kernels.h"

/* Tags of the seeded streams that choose the evaluation items (rng.h streams). */
#define STREAM_KNN_BANK   G_GUINT64_CONSTANT (0x6b6e6e2d62616e6b)  /* "knn-bank" */
#define STREAM_PROBES     G_GUINT64_CONSTANT (0x70726f6265732121)  /* "probes!!" */

/* Images per backbone pass during evaluation. */
#define EVAL_BATCH 64

/* The per-step metrics, in the order pushed to the store. */
static const char *const step_keys[] = {
    "loss", "teacher_entropy", "kl", "student_entropy", "lr", "weight_decay", "momentum",
    "teacher_temp", "grad_norm", "center_norm", "images_per_second",
};
#define N_STEP_KEYS G_N_ELEMENTS (step_keys)

/* Keys that `resume --set` may change: none of them changes what a step computes
 * except epochs, which stretches the schedules (the user asked for that). */
static const char *const resumable_keys[] = { "epochs", "eval_every", "checkpoint_every", "threads" };

struct DinolabTrainer {
    DinolabStore          *store;         /* borrowed */
    DinolabHparams         hp;
    DinolabTrainerOptions  opts;          /* strings point at the copies below */
    char                  *opt_name, *opt_parent, *opt_init;

    DinolabTrainerObserver observer;
    gpointer               observer_data;
    GDestroyNotify         observer_destroy;

    /* resume: set by dinolab_trainer_new_resume() */
    gboolean               resuming;
    char                  *resume_path;   /* absolute path of the checkpoint to load */
    DinolabCheckpointMeta  resume_meta;
    char                  *resume_note;   /* text of the "resume" marker */
    GPtrArray             *pending_warnings; /* char*, emitted once the run runs */

    /* control (under lock) */
    GMutex                 lock;
    GCond                  cond;
    gboolean               stop_requested;
    gboolean               pause_requested;
    gboolean               started;
    char                  *run_uuid;
    gint                   status;        /* DinolabTrainerStatus, atomic */
    GCancellable          *stop_cancel;   /* cancelled by stop: ends a wait for a batch */
    GThread               *thread;

    /* result */
    DinolabTrainerStatus   final_status;
    GError                *final_error;
};

// ----------------------------------------------------------------------------
// small public helpers

const char *
dinolab_trainer_status_to_string (DinolabTrainerStatus status)
{
    switch (status) {
    case DINOLAB_TRAINER_STATUS_NEW:      return "new";
    case DINOLAB_TRAINER_STATUS_RUNNING:  return "running";
    case DINOLAB_TRAINER_STATUS_PAUSED:   return "paused";
    case DINOLAB_TRAINER_STATUS_FINISHED: return "finished";
    case DINOLAB_TRAINER_STATUS_STOPPED:  return "stopped";
    case DINOLAB_TRAINER_STATUS_DIVERGED: return "diverged";
    case DINOLAB_TRAINER_STATUS_FAILED:   return "failed";
    default:                              return "unknown";
    }
}

static DinolabRunStatus
run_status_ (DinolabTrainerStatus s)
{
    switch (s) {
    case DINOLAB_TRAINER_STATUS_PAUSED:   return DINOLAB_RUN_STATUS_PAUSED;
    case DINOLAB_TRAINER_STATUS_FINISHED: return DINOLAB_RUN_STATUS_FINISHED;
    case DINOLAB_TRAINER_STATUS_STOPPED:  return DINOLAB_RUN_STATUS_STOPPED;
    case DINOLAB_TRAINER_STATUS_DIVERGED: return DINOLAB_RUN_STATUS_DIVERGED;
    case DINOLAB_TRAINER_STATUS_FAILED:   return DINOLAB_RUN_STATUS_FAILED;
    case DINOLAB_TRAINER_STATUS_NEW:
    case DINOLAB_TRAINER_STATUS_RUNNING:
    default:                              return DINOLAB_RUN_STATUS_RUNNING;
    }
}

DinolabTrainerEvent *
dinolab_trainer_event_copy (const DinolabTrainerEvent *event)
{
    DinolabTrainerEvent *copy;

    g_return_val_if_fail (event != NULL, NULL);
    copy = g_memdup2 (event, sizeof *event);
    copy->run_uuid = g_strdup (event->run_uuid);
    copy->path = g_strdup (event->path);
    copy->message = g_strdup (event->message);
    return copy;
}

void
dinolab_trainer_event_free (DinolabTrainerEvent *event)
{
    if (event == NULL)
        return;
    g_free ((char *) event->run_uuid);
    g_free ((char *) event->path);
    g_free ((char *) event->message);
    g_free (event);
}

void
dinolab_trainer_options_init (DinolabTrainerOptions *opts)
{
    g_return_if_fail (opts != NULL);
    memset (opts, 0, sizeof *opts);
    opts->loader_threads = 1;
    opts->knn_train_size = 5000;
    opts->knn_test_size = 1000;
    opts->knn_k = DINOLAB_KNN_DEFAULT_K;
    opts->knn_temperature = DINOLAB_KNN_DEFAULT_TEMPERATURE;
    opts->n_probes = 8;
    opts->checkpoint_minutes = 10.0;
    opts->keep_last = 0;   /* the run's own, else DINOLAB_TRAINER_DEFAULT_KEEP_LAST */
    opts->keep_every_epochs = 10;
    opts->collapse_window = 100;
    opts->stop_at_step = -1;
    opts->debug_nan_step = -1;
}

// ----------------------------------------------------------------------------
// collapse watch

void
dinolab_collapse_watch_init (DinolabCollapseWatch *watch, int window, int n_out)
{
    g_return_if_fail (watch != NULL && window >= 1 && n_out >= 1);
    memset (watch, 0, sizeof *watch);
    watch->window = window;
    watch->n_out = n_out;
    watch->mode = DINOLAB_TRAINER_WARNING_NONE;
}

DinolabTrainerWarning
dinolab_collapse_watch_push (DinolabCollapseWatch *watch,
                             gint64                it,
                             double                teacher_entropy,
                             double                kl,
                             double               *mean_h,
                             double               *mean_kl)
{
    gint64 ws;
    double mh, mk;
    DinolabTrainerWarning mode = DINOLAB_TRAINER_WARNING_NONE, prev;

    g_return_val_if_fail (watch != NULL && watch->window >= 1 && it >= 0,
                          DINOLAB_TRAINER_WARNING_NONE);

    // Windows are aligned on the global iteration, so a resumed run cuts them where a
    // straight one does; a step outside the current window starts its own.
    ws = it / watch->window * watch->window;
    if (ws != watch->start || watch->n == 0) {
        if (ws != watch->start) {
            watch->n = 0;
            watch->sum_h = watch->sum_kl = 0.0;
        }
        watch->start = ws;
    }
    watch->sum_h += teacher_entropy;
    watch->sum_kl += kl;
    watch->n++;
    if (it != ws + watch->window - 1)
        return DINOLAB_TRAINER_WARNING_NONE;

    mh = watch->sum_h / watch->n;
    mk = watch->sum_kl / watch->n;
    if (mean_h)
        *mean_h = mh;
    if (mean_kl)
        *mean_kl = mk;
    if (mk < DINOLAB_COLLAPSE_KL) {
        if (mh < DINOLAB_COLLAPSE_ONE_HOT_ENTROPY)
            mode = DINOLAB_TRAINER_WARNING_COLLAPSE_ONE_HOT;
        else if (mh > DINOLAB_COLLAPSE_UNIFORM_FRACTION * log ((double) watch->n_out))
            mode = DINOLAB_TRAINER_WARNING_COLLAPSE_UNIFORM;
    }
    prev = watch->mode;
    watch->mode = mode;
    watch->start = ws + watch->window;
    watch->n = 0;
    watch->sum_h = watch->sum_kl = 0.0;
    return mode != DINOLAB_TRAINER_WARNING_NONE && mode != prev ? mode : DINOLAB_TRAINER_WARNING_NONE;
}

static const char *
collapse_mode_name_ (DinolabTrainerWarning mode)
{
    return mode == DINOLAB_TRAINER_WARNING_COLLAPSE_ONE_HOT ? "one_hot"
         : mode == DINOLAB_TRAINER_WARNING_COLLAPSE_UNIFORM ? "uniform" : "none";
}

/* The watch as JSON for a checkpoint's trainer_state (%.17g: doubles round-trip). */
static char *
watch_to_json_ (const DinolabCollapseWatch *w)
{
    char h[G_ASCII_DTOSTR_BUF_SIZE], k[G_ASCII_DTOSTR_BUF_SIZE];

    g_ascii_formatd (h, sizeof h, "%.17g", w->sum_h);
    g_ascii_formatd (k, sizeof k, "%.17g", w->sum_kl);
    return g_strdup_printf ("{\"collapse_window\":%d,\"collapse_start\":%" G_GINT64_FORMAT
                            ",\"collapse_n\":%d,\"collapse_sum_h\":%s,\"collapse_sum_kl\":%s,"
                            "\"collapse_mode\":\"%s\"}",
                            w->window, w->start, w->n, h, k, collapse_mode_name_ (w->mode));
}

/* Restores the watch from a checkpoint's trainer_state; a missing or different-window
 * state leaves the fresh watch (the next window starts clean). */
static void
watch_from_json_ (DinolabCollapseWatch *w, const char *json)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonObject *o;
    const char *mode;

    if (json == NULL || !json_parser_load_from_data (parser, json, -1, NULL) ||
        !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        return;
    o = json_node_get_object (json_parser_get_root (parser));
    if (json_object_get_int_member_with_default (o, "collapse_window", 0) != w->window)
        return;
    w->start = json_object_get_int_member_with_default (o, "collapse_start", 0);
    w->n = (int) json_object_get_int_member_with_default (o, "collapse_n", 0);
    w->sum_h = json_object_get_double_member_with_default (o, "collapse_sum_h", 0.0);
    w->sum_kl = json_object_get_double_member_with_default (o, "collapse_sum_kl", 0.0);
    mode = json_object_get_string_member_with_default (o, "collapse_mode", "none");
    w->mode = strcmp (mode, "one_hot") == 0 ? DINOLAB_TRAINER_WARNING_COLLAPSE_ONE_HOT
            : strcmp (mode, "uniform") == 0 ? DINOLAB_TRAINER_WARNING_COLLAPSE_UNIFORM
            : DINOLAB_TRAINER_WARNING_NONE;
}

// ----------------------------------------------------------------------------
// one run's working state (lives on the run's thread)

typedef struct {
    DinolabTrainer      *t;
    const DinolabHparams *hp;
    char                *hp_json;

    DinolabDataset      *train_ds;
    DinolabDataset      *test_ds;      /* NULL when the dataset has no test split */
    DinolabLoader       *loader;
    float                mean[4], std[4];
    int                  spe;          /* steps per epoch */

    DinolabModel        *student, *teacher;
    DinolabStepper      *stepper;
    float               *nan_buf;      /* debug_nan_step only: the poisoned globals */
    size_t               globals_len;

    /* evaluation sets, fixed from the seed */
    gboolean             knn_enabled;
    gsize               *bank;         /* train items */
    gsize                n_bank;
    DinolabDataset      *query_ds;     /* test_ds, or train_ds without a test split */
    gsize               *queries;
    gsize                n_queries;
    gsize               *probes;       /* items of query_ds */
    int                  n_probes;
    int                 *probe_ids;    /* the same as int, for the store */
    float               *attn;         /* [n_probes, heads, P] */

    /* store */
    char                *uuid;
    char                *run_dir;
    DinolabStoreWriter  *writer;

    /* position: the next step to run */
    gint64               next_it;
    int                  epoch, iter;

    /* time */
    double               wall_offset;   /* seconds trained before this process */
    gint64               t0;            /* monotonic us when this process started training */
    gint64               paused_us;
    gint64               t_prev;        /* end of the previous step (throughput) */
    gint64               last_ckpt_time;
    gint64               last_ckpt_step; /* -1: none by this process yet */
    gint64               good_ckpt_step; /* newest checkpoint on disk, -1 if none */

    DinolabCollapseWatch watch;
    DinolabTrainerStatus status;
} Run;

static double
wall_ (const Run *r)
{
    if (r->t0 == 0)
        return r->wall_offset;
    return r->wall_offset + (double) (g_get_monotonic_time () - r->t0 - r->paused_us) / 1e6;
}

static void
run_clear_ (Run *r)
{
    dinolab_store_writer_free (r->writer);
    dinolab_stepper_free (r->stepper);
    dinolab_model_free (r->student);
    dinolab_model_free (r->teacher);
    dinolab_loader_free (r->loader);
    dinolab_dataset_free (r->test_ds);
    dinolab_dataset_free (r->train_ds);
    g_free (r->nan_buf);
    g_free (r->bank);
    g_free (r->queries);
    g_free (r->probes);
    g_free (r->probe_ids);
    g_free (r->attn);
    g_free (r->uuid);
    g_free (r->run_dir);
    g_free (r->hp_json);
    memset (r, 0, sizeof *r);
}

// ----------------------------------------------------------------------------
// events and status

static void
emit_ (Run *r, DinolabTrainerEvent *ev)
{
    DinolabTrainer *t = r->t;

    ev->run_uuid = r->uuid;
    ev->status = r->status;
    ev->steps_per_epoch = r->spe;
    ev->epochs = r->hp->epochs;
    ev->wall = wall_ (r);
    if (ev->kind != DINOLAB_TRAINER_EVENT_STEP && ev->kind != DINOLAB_TRAINER_EVENT_EVAL) {
        ev->step = r->next_it;
        ev->epoch = r->epoch;
        ev->iteration = r->iter;
    }
    if (t->observer != NULL)
        t->observer (ev, t->observer_data);
}

static void
set_status_ (Run *r, DinolabTrainerStatus status, const char *message)
{
    DinolabTrainerEvent ev = { .kind = DINOLAB_TRAINER_EVENT_STATUS };

    r->status = status;
    g_atomic_int_set (&r->t->status, (gint) status);
    if (r->writer != NULL)
        dinolab_store_writer_set_status (r->writer, run_status_ (status));
    ev.message = message;
    emit_ (r, &ev);
}

static void
warn_ (Run *r, DinolabTrainerWarning kind, const char *message)
{
    DinolabTrainerEvent ev = { .kind = DINOLAB_TRAINER_EVENT_WARNING };

    ev.warning = kind;
    ev.message = message;
    emit_ (r, &ev);
}

static void
emit_error_ (Run *r, const GError *error)
{
    DinolabTrainerEvent ev = { .kind = DINOLAB_TRAINER_EVENT_ERROR };

    ev.error_code = error->domain == DINOLAB_ERROR ? error->code : DINOLAB_ERROR_IO;
    ev.message = error->message;
    emit_ (r, &ev);
}

// ----------------------------------------------------------------------------
// set-up

static gboolean
setup_data_ (Run *r, GError **error)
{
    const DinolabHparams *hp = r->hp;
    int channels;

    if (!(r->train_ds = dinolab_dataset_open (hp->dataset, DINOLAB_SPLIT_TRAIN, error)))
        return FALSE;
    channels = dinolab_dataset_get_channels (r->train_ds);
    if (channels != hp->in_chans) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "in_chans: %d, but dataset %s has %d-channel images (set in_chans=%d)",
                     hp->in_chans, hp->dataset, channels, channels);
        return FALSE;
    }
    if (channels > (int) G_N_ELEMENTS (r->mean)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "dataset %s: %d channels are not supported", hp->dataset, channels);
        return FALSE;
    }
    if (!dinolab_dataset_get_normalization (r->train_ds, r->mean, r->std, error))
        return FALSE;
    // A dataset without a test split is fine: evaluation then holds out train items.
    r->test_ds = dinolab_dataset_open (hp->dataset, DINOLAB_SPLIT_TEST, NULL);
    if (!(r->loader = dinolab_loader_new (r->train_ds, hp, r->mean, r->std,
                                          MAX (1, r->t->opts.loader_threads), error)))
        return FALSE;
    r->spe = dinolab_loader_get_steps_per_epoch (r->loader);
    return TRUE;
}

static gboolean
setup_models_ (Run *r, GError **error)
{
    DinolabTrainer *t = r->t;
    const DinolabHparams *hp = r->hp;
    int B = hp->batch_size_per_gpu, n_local = hp->local_crops_number;

    if (!(r->student = dinolab_model_new (hp, TRUE, error)) ||
        !(r->teacher = dinolab_model_new (hp, TRUE, error)))
        return FALSE;
    r->stepper = dinolab_stepper_new (hp, r->student, r->teacher, B, n_local, hp->global_crop_size,
                                      n_local > 0 ? hp->local_crop_size : hp->global_crop_size, error);
    if (r->stepper == NULL)
        return FALSE;
    r->globals_len = (size_t) 2 * B * hp->in_chans * hp->global_crop_size * hp->global_crop_size;
    if (t->opts.debug_nan_step >= 0)
        r->nan_buf = g_new (float, r->globals_len);

    if (t->resuming) {
        g_auto (DinolabCheckpointMeta) meta = { 0 };
        gint64 want;
        if (!dinolab_checkpoint_load (t->resume_path, r->student, r->teacher,
                                      dinolab_stepper_get_optimizer (r->stepper),
                                      dinolab_stepper_get_center (r->stepper), &meta, error))
            return FALSE;
        want = (gint64) meta.epoch * r->spe + meta.iteration_in_epoch;
        if (meta.step != want || meta.iteration_in_epoch >= r->spe) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: step %" G_GINT64_FORMAT " (epoch %d, iteration %d) does not fit the "
                         "%d steps per epoch of dataset %s: did the dataset or batch_size change?",
                         t->resume_path, meta.step, meta.epoch, meta.iteration_in_epoch, r->spe,
                         hp->dataset);
            return FALSE;
        }
        r->next_it = meta.step;
        r->epoch = meta.epoch;
        r->iter = meta.iteration_in_epoch;
        r->wall_offset = meta.wall_seconds;
        r->good_ckpt_step = meta.step;
        watch_from_json_ (&r->watch, meta.trainer_state);
    } else if (t->opts.init_checkpoint != NULL) {
        // A fork: weights and center from another run; a fresh optimizer and position.
        if (!dinolab_checkpoint_load (t->opts.init_checkpoint, r->student, r->teacher, NULL,
                                      dinolab_stepper_get_center (r->stepper), NULL, error))
            return FALSE;
    } else {
        dinolab_model_init_random (r->student, hp->seed);
        dinolab_model_copy_params (r->teacher, r->student);
    }
    return TRUE;
}

/* The items [skip, skip + n) of a permutation of [0, N) drawn from (seed, stream),
 * sorted (so the evaluation reads the dataset in order). */
static gsize *
choose_items_ (guint64 seed, guint64 stream, gsize N, gsize skip, gsize n)
{
    g_autofree gsize *perm = g_new (gsize, N);
    gsize *out = g_new (gsize, MAX (n, 1));
    DinolabRng rng;

    g_assert (skip + n <= N);
    dinolab_rng_seed (&rng, seed, stream);
    for (gsize i = 0; i < N; i++)
        perm[i] = i;
    for (gsize i = 0; i < skip + n; i++) {
        gsize j = i + (gsize) (dinolab_rng_next (&rng) % (guint64) (N - i));
        gsize tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    memcpy (out, perm + skip, n * sizeof (gsize));
    for (gsize i = 1; i < n; i++) {      /* insertion sort: n is small */
        gsize v = out[i], k = i;
        for (; k > 0 && out[k - 1] > v; k--)
            out[k] = out[k - 1];
        out[k] = v;
    }
    return out;
}

static void
choose_eval_sets_ (Run *r)
{
    const DinolabTrainerOptions *o = &r->t->opts;
    guint64 seed = r->hp->seed;
    gsize N = dinolab_dataset_get_size (r->train_ds);
    int grid = r->hp->global_crop_size / r->hp->patch_size;

    if (r->test_ds != NULL && dinolab_dataset_get_size (r->test_ds) > 0) {
        r->query_ds = r->test_ds;
        r->n_bank = MIN (o->knn_train_size, N);
        r->bank = choose_items_ (seed, STREAM_KNN_BANK, N, 0, r->n_bank);
        r->n_queries = MIN (o->knn_test_size, dinolab_dataset_get_size (r->test_ds));
        r->queries = choose_items_ (seed, STREAM_KNN_BANK + 1, dinolab_dataset_get_size (r->test_ds),
                                    0, r->n_queries);
    } else {
        // No test split: the queries are train items held out of the bank.
        r->query_ds = r->train_ds;
        r->n_queries = MIN (o->knn_test_size, MAX (N / 5, 1));
        r->n_bank = MIN (o->knn_train_size, N - r->n_queries);
        r->bank = choose_items_ (seed, STREAM_KNN_BANK, N, 0, r->n_bank);
        r->queries = choose_items_ (seed, STREAM_KNN_BANK, N, r->n_bank, r->n_queries);
    }
    r->knn_enabled = r->n_bank > 0 && r->n_queries > 0 && o->knn_k > 0 &&
                     dinolab_dataset_get_n_classes (r->train_ds) > 0 &&
                     dinolab_dataset_get_n_classes (r->query_ds) > 0;

    r->n_probes = (int) MIN ((gsize) MAX (o->n_probes, 0), dinolab_dataset_get_size (r->query_ds));
    if (r->n_probes > 0) {
        r->probes = choose_items_ (seed, STREAM_PROBES, dinolab_dataset_get_size (r->query_ds), 0,
                                   (gsize) r->n_probes);
        r->probe_ids = g_new (int, r->n_probes);
        for (int i = 0; i < r->n_probes; i++)
            r->probe_ids[i] = (int) r->probes[i];
        r->attn = g_new (float, (size_t) r->n_probes * r->hp->num_heads * grid * grid);
    }
}

static gboolean
make_dir_ (const char *dir, GError **error)
{
    if (g_mkdir_with_parents (dir, 0755) != 0) {
        int e = errno;
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot create the folder: %s",
                     dir, g_strerror (e));
        return FALSE;
    }
    return TRUE;
}

/* Creates (or, on resume, reopens) the run in the store and its writer. On error
 * *@created tells whether a run row exists (it is then marked failed by the caller). */
static gboolean
setup_store_ (Run *r, gboolean *created, GError **error)
{
    DinolabTrainer *t = r->t;

    *created = FALSE;
    if (!t->resuming) {
        g_autofree char *runs = g_build_filename (dinolab_store_get_folder (t->store), "runs", NULL);
        DinolabRunSpec spec = { 0 };
        char *uuid;
        // Fail on an unwritable runs folder before a run row exists.
        if (!make_dir_ (runs, error))
            return FALSE;
        spec.hparams_json = r->hp_json;
        spec.name = t->opts.name;
        spec.dataset = r->hp->dataset;
        spec.parent_uuid = t->opts.parent;
        spec.status = DINOLAB_RUN_STATUS_RUNNING;
        spec.keep_last = t->opts.keep_last;
        if (!(uuid = dinolab_store_create_run (t->store, &spec, error)))
            return FALSE;
        *created = TRUE;
        g_mutex_lock (&t->lock);
        t->run_uuid = g_strdup (uuid);
        g_mutex_unlock (&t->lock);
        r->uuid = uuid;
    } else {
        r->uuid = g_strdup (t->run_uuid);
        *created = TRUE;
        // What the earlier process stored from the checkpoint's step on (points,
        // collapse markers, attention snapshots) is recomputed (bit-exact) from here;
        // drop it so each series has one point per step and each event one marker.
        // The stored hyperparameters take the `--set` overrides (epochs), so the run
        // list shows what the run now trains for; likewise the checkpoints it keeps.
        if (!dinolab_store_truncate_after (t->store, r->uuid, r->next_it - 1, error) ||
            !dinolab_store_set_hparams_json (t->store, r->uuid, r->hp_json, error) ||
            !dinolab_store_set_keep_last (t->store, r->uuid, t->opts.keep_last, error))
            return FALSE;
    }
    r->run_dir = dinolab_store_get_run_dir (t->store, r->uuid);
    if (!make_dir_ (r->run_dir, error))
        return FALSE;
    if (!(r->writer = dinolab_store_writer_new (t->store, r->uuid, error)))
        return FALSE;
    return TRUE;
}

// ----------------------------------------------------------------------------
// evaluation

/* k-NN of the teacher on the fixed subsets and the attention snapshot of the probes,
 * after the step r->next_it - 1 that ended epoch r->epoch - 1. Failures are warnings:
 * the training goes on. */
static void
evaluate_ (Run *r, GCancellable *cancel)
{
    const DinolabHparams *hp = r->hp;
    DinolabTrainerEvent ev = { .kind = DINOLAB_TRAINER_EVENT_EVAL };
    g_autoptr (GError) error = NULL;
    gint64 step = MAX (r->next_it - 1, 0);   /* the start's evaluation is stored at step 0 */
    double epochs_done = (double) r->next_it / MAX (r->spe, 1);  /* fractional when mid-epoch */
    int grid = hp->global_crop_size / hp->patch_size;

    ev.step = step;
    ev.epoch = r->epoch - 1;
    ev.iteration = r->spe - 1;
    // The step's lanes run single-threaded BLAS; evaluation is one pass, so it gets
    // the run's threads while the lanes are idle.
    dinolab_blas_set_threads (hp->threads);
    if (r->knn_enabled) {
        if (dinolab_eval_knn (r->teacher, r->train_ds, r->bank, r->n_bank, r->query_ds, r->queries,
                              r->n_queries, hp->global_crop_size, r->t->opts.knn_k,
                              r->t->opts.knn_temperature, &ev.knn, cancel, &error)) {
            static const char *const keys[] = { DINOLAB_METRIC_KNN_TOP1, DINOLAB_METRIC_KNN_TOP5 };
            double values[2] = { ev.knn.top1, ev.knn.top5 };
            ev.has_knn = TRUE;
            dinolab_store_writer_push_metrics (r->writer, step, epochs_done, wall_ (r), 2, keys,
                                               values);
        } else {
            g_autofree char *msg = g_strdup_printf ("k-NN evaluation after epoch %d failed: %s",
                                                    r->epoch, error->message);
            warn_ (r, DINOLAB_TRAINER_WARNING_NONE, msg);
            g_clear_error (&error);
        }
    }
    if (r->n_probes > 0) {
        if (dinolab_eval_attention (r->teacher, r->query_ds, r->probes, (gsize) r->n_probes,
                                    hp->global_crop_size, 0, r->attn, cancel, &error)) {
            dinolab_store_writer_push_snapshot (r->writer, step, epochs_done, r->n_probes,
                                                r->probe_ids, hp->num_heads, grid, grid, r->attn);
        } else {
            g_autofree char *msg = g_strdup_printf ("attention snapshot after epoch %d failed: %s",
                                                    r->epoch, error->message);
            warn_ (r, DINOLAB_TRAINER_WARNING_NONE, msg);
        }
    }
    if (dinolab_stepper_get_n_threads (r->stepper) > 1)
        dinolab_blas_set_threads (1);
    emit_ (r, &ev);
}

// ----------------------------------------------------------------------------
// checkpoints

/* Keeps the newest keep_last checkpoints and those that end every keep_every_epochs-th
 * epoch; deletes the rows of the others, then their files. Problems are warnings. */
static void
thin_ (Run *r)
{
    const DinolabTrainerOptions *o = &r->t->opts;
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) rows = dinolab_store_list_checkpoints (r->t->store, r->uuid, &error);
    guint keep_from;

    if (rows == NULL) {
        g_autofree char *msg = g_strdup_printf ("cannot thin checkpoints: %s", error->message);
        warn_ (r, DINOLAB_TRAINER_WARNING_CHECKPOINT, msg);
        return;
    }
    keep_from = rows->len > (guint) MAX (o->keep_last, 1) ? rows->len - (guint) MAX (o->keep_last, 1) : 0;
    for (guint i = 0; i < keep_from; i++) {
        DinolabCheckpointInfo *c = rows->pdata[i];
        g_autofree char *abs = NULL;
        gboolean epoch_end = r->spe > 0 && c->step % r->spe == 0;
        int done = (int) (c->step / MAX (r->spe, 1));
        if (epoch_end && o->keep_every_epochs > 0 && done > 0 && done % o->keep_every_epochs == 0)
            continue;
        if (!dinolab_store_delete_checkpoint (r->t->store, r->uuid, c->step, &error)) {
            g_autofree char *msg = g_strdup_printf ("cannot thin checkpoints: %s", error->message);
            warn_ (r, DINOLAB_TRAINER_WARNING_CHECKPOINT, msg);
            return;
        }
        // Only files of this run's folder are ours to delete.
        abs = dinolab_store_resolve_path (r->t->store, c->path);
        if (g_str_has_prefix (abs, r->run_dir) && g_unlink (abs) != 0 && errno != ENOENT) {
            int e = errno;
            g_autofree char *msg = g_strdup_printf ("%s: cannot delete an old checkpoint: %s", abs,
                                                    g_strerror (e));
            warn_ (r, DINOLAB_TRAINER_WARNING_CHECKPOINT, msg);
        }
    }
}

/* Writes the checkpoint of the current position (r->next_it = steps done), records it
 * in the store after the metrics before it are committed, and thins old ones. */
static gboolean
checkpoint_ (Run *r, GError **error)
{
    DinolabTrainer *t = r->t;
    DinolabTrainerEvent ev = { .kind = DINOLAB_TRAINER_EVENT_CHECKPOINT };
    DinolabCheckpointMeta meta = { 0 };
    g_autofree char *state = NULL, *name = NULL, *path = NULL, *sha = NULL;
    g_autoptr (GError) local = NULL;
    gint64 size = 0;

    if (r->next_it == r->last_ckpt_step || r->next_it == r->good_ckpt_step)
        return TRUE;    /* this position is on disk already */
    state = watch_to_json_ (&r->watch);
    name = g_strdup_printf ("step-%08" G_GINT64_FORMAT ".safetensors", r->next_it);
    path = g_build_filename (r->run_dir, name, NULL);
    meta.run_uuid = r->uuid;
    meta.hparams_json = r->hp_json;
    meta.step = r->next_it;
    meta.epoch = r->epoch;
    meta.iteration_in_epoch = r->iter;
    meta.wall_seconds = wall_ (r);
    meta.trainer_state = state;

    if (!dinolab_checkpoint_write (path, r->student, r->teacher,
                                   dinolab_stepper_get_optimizer (r->stepper),
                                   dinolab_stepper_get_center (r->stepper), &meta, &local) ||
        !(sha = dinolab_store_hash_file (path, &size, &local)) ||
        !dinolab_store_writer_flush (r->writer, &local) ||
        !dinolab_store_add_checkpoint (t->store, r->uuid, r->next_it, r->epoch, path, sha, size, &local)) {
        g_autofree char *last = r->good_ckpt_step >= 0
            ? g_strdup_printf ("the last good checkpoint is step %" G_GINT64_FORMAT
                               " (resume continues from it)", r->good_ckpt_step)
            : g_strdup ("no checkpoint of this run exists yet");
        g_set_error (error, DINOLAB_ERROR, local->domain == DINOLAB_ERROR ? local->code : DINOLAB_ERROR_IO,
                     "checkpoint at step %" G_GINT64_FORMAT " failed: %s; %s", r->next_it,
                     local->message, last);
        return FALSE;
    }
    r->last_ckpt_step = r->good_ckpt_step = r->next_it;
    r->last_ckpt_time = g_get_monotonic_time ();
    ev.path = path;
    emit_ (r, &ev);
    thin_ (r);
    return TRUE;
}

// ----------------------------------------------------------------------------
// the loop

/* At a step boundary: waits while paused. Returns TRUE when a stop was asked for. */
static gboolean
boundary_stop_ (Run *r)
{
    DinolabTrainer *t = r->t;
    gboolean stop;

    g_mutex_lock (&t->lock);
    if (t->pause_requested && !t->stop_requested) {
        gint64 p0 = g_get_monotonic_time ();
        g_mutex_unlock (&t->lock);
        set_status_ (r, DINOLAB_TRAINER_STATUS_PAUSED, NULL);
        g_mutex_lock (&t->lock);
        while (t->pause_requested && !t->stop_requested)
            g_cond_wait (&t->cond, &t->lock);
        stop = t->stop_requested;
        g_mutex_unlock (&t->lock);
        r->paused_us += g_get_monotonic_time () - p0;
        r->t_prev = g_get_monotonic_time ();
        if (!stop)
            set_status_ (r, DINOLAB_TRAINER_STATUS_RUNNING, NULL);
        g_mutex_lock (&t->lock);
    }
    stop = t->stop_requested;
    g_mutex_unlock (&t->lock);
    return stop;
}

static void
collapse_check_ (Run *r, gint64 it, const DinolabStepMetrics *m)
{
    double mh = 0, mk = 0;
    DinolabTrainerWarning mode = dinolab_collapse_watch_push (&r->watch, it, m->teacher_entropy, m->kl,
                                                              &mh, &mk);
    g_autofree char *msg = NULL;

    if (mode == DINOLAB_TRAINER_WARNING_NONE)
        return;
    msg = g_strdup_printf ("%s collapse: mean h(P_t) %.4g nats (ln K = %.4g), mean KL %.3g nats over "
                           "steps %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT,
                           mode == DINOLAB_TRAINER_WARNING_COLLAPSE_ONE_HOT ? "one-hot" : "uniform",
                           mh, log ((double) r->hp->out_dim), mk, it - r->watch.window + 1, it);
    dinolab_store_writer_push_marker (r->writer, it, "collapse", msg);
    warn_ (r, mode, msg);
}

/* Steps between two evaluations: eval_every epochs, counted in steps so that
 * fractions work. */
static gint64
eval_interval_ (const Run *r)
{
    return MAX ((gint64) llround (r->hp->eval_every * r->spe), 1);
}

/* Trains from the current position to the end, a stop or a failure. Returns the final
 * status; @error is set for DIVERGED and FAILED. */
static DinolabTrainerStatus
loop_ (Run *r, GError **error)
{
    DinolabTrainer *t = r->t;
    const DinolabHparams *hp = r->hp;
    const DinolabTrainerOptions *o = &t->opts;
    g_autoptr (GCancellable) eval_cancel = g_cancellable_new ();
    gint64 ckpt_interval = o->checkpoint_minutes > 0 ? MAX ((gint64) (o->checkpoint_minutes * 60e6), 1) : 0;

    dinolab_loader_seek (r->loader, r->epoch, r->iter);
    /* A new run is evaluated once before its first step (stored at step 0, epoch 0):
     * the k-NN and attention of the random initialisation, the baseline its curves
     * rise from. (The k-NN subsets are small, so the number sits well below the
     * full-split figure of `dinolab-cli knn`; this point says where the run started.)
     * Not when every step is evaluated: step 0 has its own evaluation then. */
    if (r->next_it == 0 && eval_interval_ (r) > 1)
        evaluate_ (r, eval_cancel);
    r->t_prev = r->last_ckpt_time = g_get_monotonic_time ();

    while (r->epoch < hp->epochs) {
        const DinolabBatch *batch;
        const float *globals;
        DinolabStepMetrics m;
        DinolabTrainerEvent ev = { .kind = DINOLAB_TRAINER_EVENT_STEP };
        double values[N_STEP_KEYS];
        gint64 now, it = r->next_it;
        gboolean epoch_end, timed;
        g_autoptr (GError) local = NULL;

        if (boundary_stop_ (r) || (o->stop_at_step >= 0 && it >= o->stop_at_step))
            goto stop;
        batch = dinolab_loader_next (r->loader, t->stop_cancel, &local);
        if (batch == NULL) {
            if (g_cancellable_is_cancelled (t->stop_cancel))
                goto stop;
            g_propagate_error (error, g_steal_pointer (&local));
            return DINOLAB_TRAINER_STATUS_FAILED;
        }
        g_assert (batch->epoch == r->epoch && batch->iteration == r->iter);
        globals = batch->globals;
        if (it == o->debug_nan_step) {
            for (size_t i = 0; i < r->globals_len; i++)
                r->nan_buf[i] = NAN;
            globals = r->nan_buf;
        }

        // Drop path draws from (seed, global iteration, crop) inside the stepper:
        // stateless, so resume is exact (and `dinolab-cli step --step N` draws the same).
        if (!dinolab_stepper_run (r->stepper, globals, batch->locals, it, r->spe, &m, &local)) {
            if (g_error_matches (local, DINOLAB_ERROR, DINOLAB_ERROR_DIVERGED)) {
                g_autofree char *last = r->good_ckpt_step >= 0
                    ? g_strdup_printf ("the last good checkpoint is step %" G_GINT64_FORMAT,
                                       r->good_ckpt_step)
                    : g_strdup ("no checkpoint was written");
                g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DIVERGED,
                             "the loss is not finite at step %" G_GINT64_FORMAT " (epoch %d): the "
                             "run diverged; %s", it, r->epoch, last);
                dinolab_store_writer_push_marker (r->writer, it, "divergence", (*error)->message);
                return DINOLAB_TRAINER_STATUS_DIVERGED;
            }
            g_propagate_error (error, g_steal_pointer (&local));
            return DINOLAB_TRAINER_STATUS_FAILED;
        }

        now = g_get_monotonic_time ();
        ev.images_per_second = (double) batch->batch / MAX ((double) (now - r->t_prev) / 1e6, 1e-9);
        r->t_prev = now;
        values[0] = m.loss;
        values[1] = m.teacher_entropy;
        values[2] = m.kl;
        values[3] = m.student_entropy;
        values[4] = m.lr;
        values[5] = m.weight_decay;
        values[6] = m.momentum;
        values[7] = m.teacher_temp;
        values[8] = m.grad_norm;
        values[9] = m.center_norm;
        values[10] = ev.images_per_second;
        // epoch as a fraction: epochs completed after this step
        dinolab_store_writer_push_metrics (r->writer, it, r->epoch + (double) (r->iter + 1) / r->spe,
                                           wall_ (r), N_STEP_KEYS, step_keys, values);
        ev.step = it;
        ev.epoch = r->epoch;
        ev.iteration = r->iter;
        ev.metrics = m;
        emit_ (r, &ev);

        r->next_it++;
        r->iter++;
        epoch_end = r->iter == r->spe;
        if (epoch_end) {
            r->epoch++;
            r->iter = 0;
        }
        collapse_check_ (r, it, &m);
        timed = ckpt_interval > 0 && g_get_monotonic_time () - r->last_ckpt_time >= ckpt_interval;
        /* every eval_every epochs, counted in steps so that fractions work, and at the end */
        if ((it + 1) % eval_interval_ (r) == 0 ||
            (epoch_end && r->epoch == hp->epochs))
            evaluate_ (r, eval_cancel);
        if ((epoch_end && (r->epoch % hp->checkpoint_every == 0 || r->epoch == hp->epochs)) || timed) {
            if (!checkpoint_ (r, error))
                return DINOLAB_TRAINER_STATUS_FAILED;
        }
        if (epoch_end)
            r->t_prev = g_get_monotonic_time ();   /* evaluation is not training time */
    }
    return DINOLAB_TRAINER_STATUS_FINISHED;

stop:
    if (!checkpoint_ (r, error))
        return DINOLAB_TRAINER_STATUS_FAILED;
    return DINOLAB_TRAINER_STATUS_STOPPED;
}

// ----------------------------------------------------------------------------
// one run, start to end

static void
finish_ (Run *r, DinolabTrainerStatus status, GError **error)
{
    DinolabTrainer *t = r->t;
    g_autoptr (GError) flush_error = NULL;
    const char *msg = NULL;

    if (error != NULL && *error != NULL) {
        if (status == DINOLAB_TRAINER_STATUS_FAILED)
            emit_error_ (r, *error);
        msg = (*error)->message;
    }
    if (r->writer != NULL) {
        dinolab_store_writer_set_status (r->writer, run_status_ (status));
        if (!dinolab_store_writer_flush (r->writer, &flush_error) && (error == NULL || *error == NULL)) {
            // The run ended well but the store did not get its end: that is a failure.
            status = DINOLAB_TRAINER_STATUS_FAILED;
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB,
                         "the end of the run could not be stored: %s", flush_error->message);
            emit_error_ (r, *error);
            msg = (*error)->message;
        }
        g_clear_pointer (&r->writer, dinolab_store_writer_free);
    } else if (r->uuid != NULL) {
        // The run row exists but its writer never started: mark it directly.
        (void) dinolab_store_set_status (t->store, r->uuid, run_status_ (status), NULL);
    }
    set_status_ (r, status, msg);    /* the one terminal STATUS event */
}

static DinolabTrainerStatus
trainer_main_ (DinolabTrainer *t, GError **error)
{
    Run run = { 0 };
    Run *r = &run;
    DinolabTrainerStatus status;
    gboolean created = FALSE;

    r->t = t;
    r->hp = &t->hp;
    r->status = DINOLAB_TRAINER_STATUS_NEW;
    r->last_ckpt_step = -1;
    r->good_ckpt_step = -1;
    r->hp_json = dinolab_hparams_to_json (&t->hp, FALSE);
    dinolab_collapse_watch_init (&r->watch, MAX (t->opts.collapse_window, 1), t->hp.out_dim);
    dinolab_blas_set_threads (t->hp.threads);

    if (!setup_data_ (r, error) || !setup_models_ (r, error)) {
        finish_ (r, DINOLAB_TRAINER_STATUS_FAILED, error);
        run_clear_ (r);
        return DINOLAB_TRAINER_STATUS_FAILED;
    }
    choose_eval_sets_ (r);
    if (!setup_store_ (r, &created, error)) {
        // A new run whose row exists is marked failed; a resumed run keeps its status
        // (it can be resumed again once the store works).
        if (!created || t->resuming)
            g_clear_pointer (&r->uuid, g_free);
        finish_ (r, DINOLAB_TRAINER_STATUS_FAILED, error);
        run_clear_ (r);
        return DINOLAB_TRAINER_STATUS_FAILED;
    }

    r->t0 = g_get_monotonic_time ();
    set_status_ (r, DINOLAB_TRAINER_STATUS_RUNNING, t->resuming ? t->resume_note : NULL);
    if (t->resuming)
        dinolab_store_writer_push_marker (r->writer, r->next_it, "resume", t->resume_note);
    for (guint i = 0; t->pending_warnings && i < t->pending_warnings->len; i++)
        warn_ (r, DINOLAB_TRAINER_WARNING_CHECKPOINT, t->pending_warnings->pdata[i]);
    if (dinolab_dataset_get_n_skipped (r->train_ds) > 0) {
        g_autofree char *msg = g_strdup_printf ("%s: %u image files could not be read and were left out",
                                                t->hp.dataset, dinolab_dataset_get_n_skipped (r->train_ds));
        warn_ (r, DINOLAB_TRAINER_WARNING_SKIPPED_IMAGES, msg);
    }
    if (!r->knn_enabled) {
        g_autofree char *msg = g_strdup_printf ("%s has no labels: evaluations store attention "
                                                "snapshots only, no k-NN accuracy", t->hp.dataset);
        warn_ (r, DINOLAB_TRAINER_WARNING_NO_KNN, msg);
    }

    status = loop_ (r, error);
    finish_ (r, status, error);
    run_clear_ (r);
    return status;
}

static gpointer
trainer_thread_ (gpointer data)
{
    DinolabTrainer *t = data;

    t->final_status = trainer_main_ (t, &t->final_error);
    return NULL;
}

// ----------------------------------------------------------------------------
// construction

/* @recorded_keep_last: the count the resumed run records (0: none, or a new run); it
 * stands where the options leave keep_last at 0, else the default. */
static DinolabTrainer *
trainer_alloc_ (DinolabStore *store, const DinolabTrainerOptions *opts, int recorded_keep_last)
{
    DinolabTrainer *t = g_new0 (DinolabTrainer, 1);

    t->store = store;
    if (opts != NULL)
        t->opts = *opts;
    else
        dinolab_trainer_options_init (&t->opts);
    if (t->opts.keep_last == 0)
        t->opts.keep_last = recorded_keep_last > 0 ? recorded_keep_last : DINOLAB_TRAINER_DEFAULT_KEEP_LAST;
    t->opt_name = g_strdup (t->opts.name);
    t->opt_parent = g_strdup (t->opts.parent);
    t->opt_init = g_strdup (t->opts.init_checkpoint);
    t->opts.name = t->opt_name;
    t->opts.parent = t->opt_parent;
    t->opts.init_checkpoint = t->opt_init;
    dinolab_hparams_init (&t->hp);
    g_mutex_init (&t->lock);
    g_cond_init (&t->cond);
    t->stop_cancel = g_cancellable_new ();
    t->status = DINOLAB_TRAINER_STATUS_NEW;
    t->final_status = DINOLAB_TRAINER_STATUS_NEW;
    t->pending_warnings = g_ptr_array_new_with_free_func (g_free);
    return t;
}

static gboolean
check_options_ (const DinolabTrainerOptions *o, GError **error)
{
    if (o->loader_threads < 1 || o->keep_last < 0 || o->keep_every_epochs < 0 ||
        o->collapse_window < 1 || o->knn_k < 1 || !(o->knn_temperature > 0) || o->n_probes < 0 ||
        (o->stop_at_step != -1 && o->stop_at_step < 1)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "trainer options: loader_threads, collapse_window and knn_k must be >= 1, "
                     "keep_last, keep_every_epochs and n_probes >= 0, knn_temperature > 0, "
                     "stop_at_step -1 or >= 1");
        return FALSE;
    }
    return TRUE;
}

DinolabTrainer *
dinolab_trainer_new (DinolabStore                *store,
                     const DinolabHparams        *hp,
                     const DinolabTrainerOptions *opts,
                     GError                     **error)
{
    DinolabTrainer *t;

    g_return_val_if_fail (store != NULL && hp != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    if (!dinolab_hparams_validate (hp, error) || (opts != NULL && !check_options_ (opts, error)))
        return NULL;
    t = trainer_alloc_ (store, opts, 0);
    dinolab_hparams_copy (&t->hp, hp);
    return t;
}

static gboolean
key_is_resumable_ (const char *key)
{
    for (guint i = 0; i < G_N_ELEMENTS (resumable_keys); i++)
        if (strcmp (key, resumable_keys[i]) == 0)
            return TRUE;
    return FALSE;
}

/* Applies @sets to @hp and refuses any that changes a key resume cannot change. */
static gboolean
apply_resume_sets_ (DinolabHparams *hp, const char *const *sets, GError **error)
{
    g_auto (DinolabHparams) before = { 0 };

    dinolab_hparams_init (&before);
    dinolab_hparams_copy (&before, hp);
    for (const char *const *s = sets; s != NULL && *s != NULL; s++)
        if (!dinolab_hparams_set_assignment (hp, *s, error))
            return FALSE;
    for (guint i = 0; i < dinolab_hparams_get_n_keys (); i++) {
        const char *key = dinolab_hparams_get_key (i);
        g_autofree char *a = dinolab_hparams_get_text (&before, key);
        g_autofree char *b = dinolab_hparams_get_text (hp, key);
        if (g_strcmp0 (a, b) != 0 && !key_is_resumable_ (key)) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: resume can only change epochs, eval_every, checkpoint_every and "
                         "threads; to change %s, fork the run (train --from RUN --set %s=%s)",
                         key, key, key, b);
            return FALSE;
        }
    }
    return TRUE;
}

/* Picks the newest checkpoint of @info's run whose file has the recorded size and
 * sha256 and reads its metadata; the ones that fail are noted in @warnings. */
static char *
pick_checkpoint_ (DinolabStore *store, const DinolabRunInfo *info, DinolabCheckpointMeta *meta,
                  GPtrArray *warnings, GError **error)
{
    g_autoptr (GPtrArray) rows = dinolab_store_list_checkpoints (store, info->uuid, error);

    if (rows == NULL)
        return NULL;
    for (guint i = rows->len; i-- > 0;) {
        DinolabCheckpointInfo *c = rows->pdata[i];
        g_autofree char *abs = dinolab_store_resolve_path (store, c->path);
        g_autoptr (GError) local = NULL;
        g_autofree char *sha = NULL;
        gint64 size = 0;

        sha = dinolab_store_hash_file (abs, &size, &local);
        if (sha != NULL && (size != c->size || g_ascii_strcasecmp (sha, c->sha256) != 0))
            g_set_error (&local, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                         "%s: size or sha256 differs from what was recorded (%" G_GINT64_FORMAT
                         " bytes, %.12s...): the file changed after it was written", abs, c->size,
                         c->sha256);
        if (local == NULL && dinolab_checkpoint_read_meta (abs, meta, &local) &&
            (meta->step != c->step || strcmp (meta->run_uuid, info->uuid) != 0)) {
            g_set_error (&local, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                         "%s: holds step %" G_GINT64_FORMAT " of run %s, not step %" G_GINT64_FORMAT
                         " of run %s", abs, meta->step, meta->run_uuid, c->step, info->uuid);
            dinolab_checkpoint_meta_clear (meta);
        }
        if (local == NULL)
            return g_steal_pointer (&abs);
        g_ptr_array_add (warnings, g_strdup_printf ("checkpoint at step %" G_GINT64_FORMAT
                                                    " skipped: %s", c->step, local->message));
    }
    g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                 rows->len == 0
                 ? "run %s (%s) has no checkpoint to resume from: it ended before its first one; "
                   "start it again with train --from %s"
                 : "run %s (%s) has no usable checkpoint: none of its files verifies; "
                   "start it again with train --from %s",
                 info->uuid, info->name, info->uuid);
    return NULL;
}

DinolabTrainer *
dinolab_trainer_new_resume (DinolabStore                *store,
                            const char                  *run,
                            const char *const           *sets,
                            const DinolabTrainerOptions *opts,
                            GError                     **error)
{
    g_autoptr (DinolabRunInfo) info = NULL;
    g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
    g_auto (DinolabCheckpointMeta) meta = { 0 };
    g_auto (DinolabHparams) hp = { 0 };
    g_autofree char *path = NULL;
    g_autofree char *sets_text = NULL;
    DinolabTrainer *t;
    int old_epochs;

    g_return_val_if_fail (store != NULL && run != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    if (opts != NULL && !check_options_ (opts, error))
        return NULL;
    if (!(info = dinolab_store_get_run (store, run, error)))
        return NULL;
    switch (info->status) {
    case DINOLAB_RUN_STATUS_STOPPED:
    case DINOLAB_RUN_STATUS_INTERRUPTED:
    case DINOLAB_RUN_STATUS_FAILED:
    case DINOLAB_RUN_STATUS_FINISHED:
        break;
    case DINOLAB_RUN_STATUS_RUNNING:
    case DINOLAB_RUN_STATUS_PAUSED:
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "run %s (%s) is %s in process %" G_GINT64_FORMAT " on %s: stop it first",
                     info->uuid, info->name, dinolab_run_status_to_string (info->status), info->pid,
                     info->host ? info->host : "?");
        return NULL;
    case DINOLAB_RUN_STATUS_DIVERGED:
    default:
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "run %s (%s) diverged: resuming it would diverge again; fork it with other "
                     "settings (train --from %s --set lr=...)", info->uuid, info->name, info->uuid);
        return NULL;
    }

    if (!(path = pick_checkpoint_ (store, info, &meta, warnings, error)))
        return NULL;
    dinolab_hparams_init (&hp);
    if (!dinolab_hparams_load_json (&hp, meta.hparams_json, -1, path, error))
        return NULL;
    old_epochs = hp.epochs;
    if (!apply_resume_sets_ (&hp, sets, error) || !dinolab_hparams_validate (&hp, error))
        return NULL;
    if (opts != NULL && opts->stop_at_step >= 0 && opts->stop_at_step <= meta.step) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "run %s (%s) resumes from step %" G_GINT64_FORMAT ": a stop at step %"
                     G_GINT64_FORMAT " would train nothing", info->uuid, info->name, meta.step,
                     opts->stop_at_step);
        return NULL;
    }
    if (meta.epoch >= hp.epochs) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     info->status == DINOLAB_RUN_STATUS_FINISHED || hp.epochs == old_epochs
                     ? "run %s (%s) has done all of its %d epochs: raise them to train it further "
                       "(resume %s --set epochs=N)"
                     : "run %s (%s): epochs=%d is not more than the epochs already done (resume %s "
                       "--set epochs=N)",
                     info->uuid, info->name, hp.epochs, info->uuid);
        return NULL;
    }

    t = trainer_alloc_ (store, opts, info->keep_last);   /* what the run was started (or last resumed) with */
    dinolab_hparams_copy (&t->hp, &hp);
    t->resuming = TRUE;
    t->run_uuid = g_strdup (info->uuid);
    t->resume_path = g_steal_pointer (&path);
    t->resume_meta = meta;
    memset (&meta, 0, sizeof meta);
    g_ptr_array_extend_and_steal (t->pending_warnings, g_steal_pointer (&warnings));
    sets_text = sets != NULL && sets[0] != NULL ? g_strjoinv (" ", (char **) sets) : NULL;
    t->resume_note = g_strdup_printf ("resumed from step %" G_GINT64_FORMAT " (epoch %d, iteration %d) "
                                      "after status %s by process %d on %s%s%s",
                                      t->resume_meta.step, t->resume_meta.epoch,
                                      t->resume_meta.iteration_in_epoch,
                                      dinolab_run_status_to_string (info->status), (int) getpid (),
                                      g_get_host_name (), sets_text ? ", with " : "",
                                      sets_text ? sets_text : "");
    return t;
}

void
dinolab_trainer_free (DinolabTrainer *trainer)
{
    if (trainer == NULL)
        return;
    if (trainer->thread != NULL) {
        dinolab_trainer_stop (trainer);
        g_thread_join (trainer->thread);
        trainer->thread = NULL;
    }
    if (trainer->observer_destroy != NULL)
        trainer->observer_destroy (trainer->observer_data);
    dinolab_hparams_clear (&trainer->hp);
    dinolab_checkpoint_meta_clear (&trainer->resume_meta);
    g_free (trainer->opt_name);
    g_free (trainer->opt_parent);
    g_free (trainer->opt_init);
    g_free (trainer->resume_path);
    g_free (trainer->resume_note);
    g_free (trainer->run_uuid);
    g_ptr_array_unref (trainer->pending_warnings);
    g_clear_object (&trainer->stop_cancel);
    g_clear_error (&trainer->final_error);
    g_mutex_clear (&trainer->lock);
    g_cond_clear (&trainer->cond);
    g_free (trainer);
}

// ----------------------------------------------------------------------------
// control

void
dinolab_trainer_set_observer (DinolabTrainer         *trainer,
                              DinolabTrainerObserver  observer,
                              gpointer                user_data,
                              GDestroyNotify          destroy)
{
    g_return_if_fail (trainer != NULL);
    g_return_if_fail (!trainer->started);

    if (trainer->observer_destroy != NULL)
        trainer->observer_destroy (trainer->observer_data);
    trainer->observer = observer;
    trainer->observer_data = user_data;
    trainer->observer_destroy = destroy;
}

static gboolean
claim_start_ (DinolabTrainer *t, GError **error)
{
    gboolean ok;

    g_mutex_lock (&t->lock);
    ok = !t->started;
    t->started = TRUE;
    g_mutex_unlock (&t->lock);
    if (!ok)
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "this trainer was started already");
    return ok;
}

gboolean
dinolab_trainer_start (DinolabTrainer *trainer, GError **error)
{
    g_return_val_if_fail (trainer != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    if (!claim_start_ (trainer, error))
        return FALSE;
    trainer->thread = g_thread_new ("dinolab-trainer", trainer_thread_, trainer);
    return TRUE;
}

static DinolabTrainerStatus
result_ (DinolabTrainer *t, GError **error)
{
    if (t->final_error != NULL)
        g_propagate_error (error, g_error_copy (t->final_error));
    return t->final_status;
}

DinolabTrainerStatus
dinolab_trainer_run (DinolabTrainer *trainer, GError **error)
{
    g_return_val_if_fail (trainer != NULL, DINOLAB_TRAINER_STATUS_FAILED);
    g_return_val_if_fail (error == NULL || *error == NULL, DINOLAB_TRAINER_STATUS_FAILED);

    if (!claim_start_ (trainer, error))
        return DINOLAB_TRAINER_STATUS_FAILED;
    trainer->final_status = trainer_main_ (trainer, &trainer->final_error);
    return result_ (trainer, error);
}

DinolabTrainerStatus
dinolab_trainer_join (DinolabTrainer *trainer, GError **error)
{
    g_return_val_if_fail (trainer != NULL, DINOLAB_TRAINER_STATUS_FAILED);
    g_return_val_if_fail (error == NULL || *error == NULL, DINOLAB_TRAINER_STATUS_FAILED);

    if (trainer->thread != NULL) {
        g_thread_join (trainer->thread);
        trainer->thread = NULL;
    }
    return result_ (trainer, error);
}

void
dinolab_trainer_set_paused (DinolabTrainer *trainer, gboolean paused)
{
    g_return_if_fail (trainer != NULL);

    g_mutex_lock (&trainer->lock);
    trainer->pause_requested = paused;
    g_cond_broadcast (&trainer->cond);
    g_mutex_unlock (&trainer->lock);
}

void
dinolab_trainer_stop (DinolabTrainer *trainer)
{
    g_return_if_fail (trainer != NULL);

    g_mutex_lock (&trainer->lock);
    trainer->stop_requested = TRUE;
    g_cond_broadcast (&trainer->cond);
    g_mutex_unlock (&trainer->lock);
    g_cancellable_cancel (trainer->stop_cancel);
}

DinolabTrainerStatus
dinolab_trainer_get_status (DinolabTrainer *trainer)
{
    g_return_val_if_fail (trainer != NULL, DINOLAB_TRAINER_STATUS_FAILED);
    return (DinolabTrainerStatus) g_atomic_int_get (&trainer->status);
}

char *
dinolab_trainer_dup_run_uuid (DinolabTrainer *trainer)
{
    char *uuid;

    g_return_val_if_fail (trainer != NULL, NULL);
    g_mutex_lock (&trainer->lock);
    uuid = g_strdup (trainer->run_uuid);
    g_mutex_unlock (&trainer->lock);
    return uuid;
}

const DinolabHparams *
dinolab_trainer_get_hparams (DinolabTrainer *trainer)
{
    g_return_val_if_fail (trainer != NULL, NULL);
    return &trainer->hp;
}
