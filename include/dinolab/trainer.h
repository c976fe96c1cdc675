/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * trainer.h: a DINO training run as a user drives it. A DinolabTrainer trains one run of
 * the run store on a thread of its own: it opens the dataset and its loader, builds the
 * student (random init from the seed) and the teacher (a copy), steps through the epochs
 * with a DinolabStepper, and as it goes pushes every metric to the store, evaluates
 * (k-NN, attention snapshots), writes checkpoints and tells observers what happened.
 *
 * Typical use (the CLI's `train`):
 *   DinolabTrainerOptions opts;
 *   dinolab_trainer_options_init (&opts);
 *   trainer = dinolab_trainer_new (store, &hp, &opts, &error);      // checks, creates nothing
 *   dinolab_trainer_set_observer (trainer, on_event, data, NULL);    // before start
 *   dinolab_trainer_start (trainer, &error);                         // the run's thread
 *   ... dinolab_trainer_set_paused (trainer, TRUE) / _stop (trainer) from any thread ...
 *   status = dinolab_trainer_join (trainer, &error);                 // FINISHED, STOPPED, ...
 *   dinolab_trainer_free (trainer);
 * `resume` uses dinolab_trainer_new_resume() instead of _new(); everything else is the same.
 *
 * What one run does, in order (the run's thread):
 *   1. opens the dataset (train split; the test split for evaluation when there is one),
 *      its normalisation and the loader; builds the models and the stepper. Failures here
 *      end the call with a clear GError and store nothing.
 *   2. creates the run in the store (or, on resume, loads the newest checkpoint whose file
 *      verifies and adds a "resume" marker), the folder runs/<uuid>/, status "running".
 *   3. a new run first evaluates its random initialisation (k-NN top-1/top-5 and an
 *      attention snapshot, stored at step 0, epoch 0: where its curves start); then for
 *      each epoch and iteration: the next batch, one DINO step with the drop-path
 *      stream (seed, global iteration), the step's metrics to the store writer and to the
 *      observer, the collapse watch. After every eval_every epochs (fractions allowed,
 *      counted in steps; stored with the step and the fractional epoch) and at the end:
 *      k-NN top-1/top-5 on the fixed subsets (knn_train_size / knn_test_size items: a
 *      small bank, so the figure reads several points under `dinolab-cli knn` on the
 *      full splits) and an attention snapshot. At the end of every
 *      checkpoint_every-th epoch, of the last one, every checkpoint_minutes of training
 *      and at a stop: a checkpoint (then old ones are thinned).
 *   4. the final status: finished, stopped, diverged or failed.
 *
 * Determinism: everything random is a function of (seed, epoch, iteration or index):
 * the loader (data.h), drop path (seed, global iteration), the k-NN subsets and the
 * probe images (seed). A checkpoint holds all the state that is not (weights, optimizer
 * moments and step counts, center, position, collapse-watch sums), so a run stopped and
 * resumed stores the same metrics, to the bit, as one that ran straight through with the
 * same seed and thread count (except images_per_second and the wall times).
 *
 * Threads: a step splits its batch into hp->threads lanes (0: every core; step.h), and
 * evaluation runs with hp->threads BLAS threads (OpenBLAS has one process-wide setting,
 * so two trainers in one process share it); the loader uses
 * DinolabTrainerOptions.loader_threads workers (1 by default: on a 2-core machine the
 * step wants both cores and one worker keeps up with small images). Bit-exact resume
 * needs the same thread count, since it fixes the order of the float sums.
 *
 * What this is not: a front end (it never prints), nor the store (store.h) or the
 * evaluation (eval.h) it calls.
 */
#pragma once

#include <glib.h>

#include "dinolab/eval.h"
#include "dinolab/hparams.h"
#include "dinolab/step.h"
#include "dinolab/store.h"

G_BEGIN_DECLS

// ----------------------------------------------------------------------------
// status, events

/* Where a run is. The names (dinolab_trainer_status_to_string) are the store's run
 * statuses; "interrupted" is not here because only the store sets it, when it finds
 * that the process of a running run has died. */
typedef enum {
    DINOLAB_TRAINER_STATUS_NEW,        /* created, not started ("new") */
    DINOLAB_TRAINER_STATUS_RUNNING,
    DINOLAB_TRAINER_STATUS_PAUSED,
    DINOLAB_TRAINER_STATUS_FINISHED,   /* all epochs done */
    DINOLAB_TRAINER_STATUS_STOPPED,    /* stopped on request, after a checkpoint */
    DINOLAB_TRAINER_STATUS_DIVERGED,   /* a non-finite loss; the last good checkpoint stays */
    DINOLAB_TRAINER_STATUS_FAILED,     /* an error (unreadable data, disk full, ...) */
} DinolabTrainerStatus;

/* "new", "running", "paused", "finished", "stopped", "diverged", "failed" (static). */
const char *dinolab_trainer_status_to_string (DinolabTrainerStatus status);

typedef enum {
    DINOLAB_TRAINER_EVENT_STATUS,      /* the status changed (status; message: why, or NULL) */
    DINOLAB_TRAINER_EVENT_STEP,        /* a step is done (metrics, images_per_second) */
    DINOLAB_TRAINER_EVENT_EVAL,        /* an evaluation is done (knn; has_knn) */
    DINOLAB_TRAINER_EVENT_CHECKPOINT,  /* a checkpoint was written (path) */
    DINOLAB_TRAINER_EVENT_WARNING,     /* something to look at (warning, message) */
    DINOLAB_TRAINER_EVENT_ERROR,       /* the run fails (error_code, message); a FAILED
                                          status event follows */
} DinolabTrainerEventKind;

typedef enum {
    DINOLAB_TRAINER_WARNING_NONE,
    DINOLAB_TRAINER_WARNING_COLLAPSE_ONE_HOT,  /* see "collapse watch" below */
    DINOLAB_TRAINER_WARNING_COLLAPSE_UNIFORM,
    DINOLAB_TRAINER_WARNING_SKIPPED_IMAGES,    /* image files of the dataset were left out */
    DINOLAB_TRAINER_WARNING_NO_KNN,            /* no labels: evaluation without k-NN */
    DINOLAB_TRAINER_WARNING_CHECKPOINT,        /* a checkpoint could not be thinned or verified */
} DinolabTrainerWarning;

/* One event. Strings are borrowed: valid during the observer call only (copy the event
 * with dinolab_trainer_event_copy() to keep it). Fields not listed for a kind are 0. */
typedef struct {
    DinolabTrainerEventKind kind;
    const char          *run_uuid;         /* NULL before the run exists in the store */
    DinolabTrainerStatus status;           /* the status when the event was made */
    gint64               step;             /* STEP: the step's global iteration; EVAL: the
                                              last iteration of the epoch evaluated; others:
                                              the next iteration to run */
    int                  epoch;            /* epoch of @step */
    int                  iteration;        /* @step's iteration within its epoch */
    int                  steps_per_epoch;  /* 0 before the loader exists */
    int                  epochs;
    double               wall;             /* seconds of training since the run started,
                                              summed over resumes */
    DinolabStepMetrics   metrics;          /* STEP */
    double               images_per_second;/* STEP: images (not crops) per second, this step */
    gboolean             has_knn;          /* EVAL: FALSE when the data has no labels */
    DinolabKnnResult     knn;              /* EVAL */
    DinolabTrainerWarning warning;         /* WARNING */
    int                  error_code;       /* ERROR: a DinolabErrorCode */
    const char          *path;             /* CHECKPOINT: the file (absolute) */
    const char          *message;          /* STATUS, WARNING, ERROR: one line for a person */
} DinolabTrainerEvent;

/* Deep copy (strings included) / free of an event, for observers that queue events. */
DinolabTrainerEvent *dinolab_trainer_event_copy (const DinolabTrainerEvent *event);
void                 dinolab_trainer_event_free (DinolabTrainerEvent       *event);

/* An observer is called on the trainer's thread, in order, for every event. It must
 * return quickly and must not block (no I/O that can stall, no waiting on the main
 * thread): a GUI appends a copy to a mutex-guarded array and schedules one idle
 * (STYLE.md section 3 item 8); the CLI does the same with its GMainLoop. It may call
 * dinolab_trainer_set_paused() and dinolab_trainer_stop() (they only set flags).
 * Order: the first event of a run that got going is STATUS running (its run_uuid set);
 * then STEP events with consecutive steps, EVAL after the step that ends an epoch,
 * CHECKPOINT after it; STATUS paused / running around a pause; WARNING whenever.
 * Every run, also one that fails during set-up, ends with exactly one terminal STATUS
 * event (finished, stopped, diverged or failed; a failure is preceded by an ERROR
 * event), and nothing comes after it: a front end can quit its loop on it. */
typedef void (*DinolabTrainerObserver) (const DinolabTrainerEvent *event,
                                        gpointer                   user_data);

// ----------------------------------------------------------------------------
// options

/* Checkpoints a run keeps when neither it nor its trainer's options say (keep_last). */
#define DINOLAB_TRAINER_DEFAULT_KEEP_LAST 3

/* Settings of a trainer that are not hyperparameters: they change how a run is watched,
 * evaluated and saved, never what it learns (so they are not stored with the run's
 * hyperparameters; only keep_last is recorded in its row, see there). */
typedef struct {
    const char *name;               /* run name (copied); NULL: the store's default */
    const char *parent;             /* uuid of a run this one is forked from, or NULL */
    const char *init_checkpoint;    /* a checkpoint file to start from (weights, center),
                                       or NULL: random init (dinolab_trainer_new only) */
    int         loader_threads;     /* loader workers, >= 1 (default 1) */
    gsize       knn_train_size;     /* k-NN bank: train items, chosen from the seed (5000) */
    gsize       knn_test_size;      /* k-NN queries: test items (1000) */
    int         knn_k;              /* 20 */
    double      knn_temperature;    /* 0.07 */
    int         n_probes;           /* images of the attention snapshots (test split), 8 */
    double      checkpoint_minutes; /* also checkpoint after this much training time
                                       since the last one (10; <= 0: never) */
    int         keep_last;          /* retention: the newest N checkpoints stay (>= 1).
                                       Recorded with the run; 0 (default): the run's
                                       recorded count when resuming, else
                                       DINOLAB_TRAINER_DEFAULT_KEEP_LAST */
    int         keep_every_epochs;  /* ... and those at the end of every N-th epoch
                                       (10; 0: none) */
    int         collapse_window;    /* steps per collapse-watch window (100) */
    gint64      stop_at_step;       /* stop as dinolab_trainer_stop() does (checkpoint,
                                       status stopped) once the run has done this many
                                       steps; the schedules stay those of the whole run,
                                       so the checkpoint is the one the whole run passes
                                       through (-1: never, else >= 1; at or past the end:
                                       finishes; dinolab_trainer_new_resume refuses one at
                                       or before the step it resumes from) */
    gint64      debug_nan_step;     /* tests only: the global crops of this iteration are
                                       made NaN to force a divergence (-1: never) */
} DinolabTrainerOptions;

/* Fills @opts with the defaults above. */
void dinolab_trainer_options_init (DinolabTrainerOptions *opts);

// ----------------------------------------------------------------------------
// collapse watch

/* The collapse watch (DINO.md 8): the steps are cut into windows of `window` global
 * iterations ([0, W), [W, 2W), ...; aligned on the iteration so a resumed run cuts them
 * the same way). At the end of each window, with h and kl the means of teacher_entropy
 * and kl over the window and K = out_dim:
 *   one-hot collapse:  h  < DINOLAB_COLLAPSE_ONE_HOT_ENTROPY (0.1 nats)
 *                      and kl < DINOLAB_COLLAPSE_KL (0.01 nats)
 *   uniform collapse:  h  > DINOLAB_COLLAPSE_UNIFORM_FRACTION (0.95) * ln K
 *                      and kl < DINOLAB_COLLAPSE_KL
 * A warning (event and "collapse" marker) is raised once per episode: when a window is
 * collapsed and the previous one was not in the same mode. A healthy window ends the
 * episode. */
#define DINOLAB_COLLAPSE_ONE_HOT_ENTROPY   0.1
#define DINOLAB_COLLAPSE_UNIFORM_FRACTION  0.95
#define DINOLAB_COLLAPSE_KL                0.01

typedef struct {
    int     window;      /* W, >= 1 */
    int     n_out;       /* K */
    gint64  start;       /* first iteration of the current window */
    int     n;           /* steps seen in the current window */
    double  sum_h, sum_kl;
    DinolabTrainerWarning mode;  /* mode of the last finished window (NONE: healthy) */
} DinolabCollapseWatch;

/* Starts a watch with windows of @window steps for an @n_out-way head. */
void                  dinolab_collapse_watch_init (DinolabCollapseWatch *watch,
                                                   int                   window,
                                                   int                   n_out);
/* Adds the step at global iteration @it. Returns the collapse mode when this step ends a
 * window that starts a new episode (COLLAPSE_ONE_HOT or COLLAPSE_UNIFORM), else NONE.
 * Writes the window means to @mean_h / @mean_kl (either may be NULL) when a window ends. */
DinolabTrainerWarning dinolab_collapse_watch_push (DinolabCollapseWatch *watch,
                                                   gint64                it,
                                                   double                teacher_entropy,
                                                   double                kl,
                                                   double               *mean_h,
                                                   double               *mean_kl);

// ----------------------------------------------------------------------------
// the trainer

typedef struct DinolabTrainer DinolabTrainer;

/* dinolab_trainer_new:
 * A new run with the hyperparameters @hp (copied; validated here, INVALID_INPUT with the
 * key and range otherwise) in @store (borrowed: it must outlive the trainer; the trainer
 * uses its own writer for metrics). @opts: NULL for the defaults (copied). Nothing is
 * opened or stored before the run starts. With opts->init_checkpoint the weights and
 * center come from that checkpoint file (a fork; its shapes must match @hp) instead of
 * the random init; the optimizer starts fresh. Free with dinolab_trainer_free(). */
DinolabTrainer *dinolab_trainer_new         (DinolabStore                *store,
                                             const DinolabHparams        *hp,
                                             const DinolabTrainerOptions *opts,
                                             GError                     **error);

/* dinolab_trainer_new_resume:
 * Continues run @run (a uuid, unique uuid prefix or name, as the store resolves it) of
 * @store from its newest checkpoint whose file verifies (size and sha256). The run must
 * be stopped, interrupted or failed, or finished when @sets raises epochs. @sets: NULL or
 * NULL-terminated "key=value" overrides; only epochs, eval_every, checkpoint_every and
 * threads may change (anything else changes what the checkpoint means: fork instead).
 * Errors: INVALID_INPUT for an unknown run, a wrong status, a refused key, a run without
 * a usable checkpoint; DB for store failures. opts->name and opts->init_checkpoint are
 * ignored. */
DinolabTrainer *dinolab_trainer_new_resume  (DinolabStore                *store,
                                             const char                  *run,
                                             const char *const           *sets,
                                             const DinolabTrainerOptions *opts,
                                             GError                     **error);

/* Stops the run if it is going (as dinolab_trainer_stop), waits for it, frees. NULL-safe. */
void            dinolab_trainer_free        (DinolabTrainer              *trainer);

/* Sets the one observer (before start). @destroy frees @user_data with the trainer. */
void            dinolab_trainer_set_observer (DinolabTrainer             *trainer,
                                              DinolabTrainerObserver      observer,
                                              gpointer                    user_data,
                                              GDestroyNotify              destroy);

/* dinolab_trainer_start:
 * Starts the run on a new thread and returns at once. FALSE (INVALID_INPUT) if it was
 * already started. Errors of the run itself come from dinolab_trainer_join(). */
gboolean        dinolab_trainer_start       (DinolabTrainer              *trainer,
                                             GError                     **error);

/* dinolab_trainer_run:
 * Runs the whole run on the calling thread (the same work as start + join). Returns the
 * final status; @error is set exactly when it is FAILED (codes as the ERROR event) or
 * DIVERGED (DINOLAB_ERROR_DIVERGED). A run that fails while it is set up (dataset,
 * models, checkpoint, runs folder) stores nothing: no run row is created, and a resumed
 * run keeps its status. A run that ended well but whose end the store could not commit
 * is FAILED with DINOLAB_ERROR_DB. */
DinolabTrainerStatus dinolab_trainer_run    (DinolabTrainer              *trainer,
                                             GError                     **error);

/* dinolab_trainer_join: waits for a started run and returns as dinolab_trainer_run(). */
DinolabTrainerStatus dinolab_trainer_join   (DinolabTrainer              *trainer,
                                             GError                     **error);

/* Control, from any thread (the observer included); they only set flags and wake the run:
 * _set_paused (TRUE) pauses at the next step boundary (status paused, store included),
 * _set_paused (FALSE) goes on. _stop finishes the current step (or evaluation), writes a
 * checkpoint and ends with status stopped; it also ends a pause. */
void            dinolab_trainer_set_paused  (DinolabTrainer              *trainer,
                                             gboolean                     paused);
void            dinolab_trainer_stop        (DinolabTrainer              *trainer);

/* The current status (thread-safe). */
DinolabTrainerStatus dinolab_trainer_get_status (DinolabTrainer          *trainer);

/* The run's uuid: known from dinolab_trainer_new_resume(), and for a new run once it has
 * been created in the store (the first STATUS event carries it too). Returns a new string
 * (g_free) or NULL. Thread-safe. */
char           *dinolab_trainer_dup_run_uuid (DinolabTrainer             *trainer);

/* The hyperparameters the run uses (after resume overrides). Owned by the trainer. */
const DinolabHparams *dinolab_trainer_get_hparams (DinolabTrainer        *trainer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabTrainer, dinolab_trainer_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabTrainerEvent, dinolab_trainer_event_free)

G_END_DECLS
