/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * store.h: the run store, one SQLite database that holds every run ever made.
 *
 * A run is a row with a uuid, a name, a status, its hyperparameters (the JSON of
 * hparams.h, also split into one (key, value) row per key so runs can be queried by
 * key), summary columns (last step, last loss, best k-NN, ...) so a list of 1,000 runs
 * opens at once, and its children: metric series, checkpoints, markers and attention
 * snapshots. Large files (checkpoints) live beside the database under
 * runs/<run-uuid>/; the database keeps their paths (relative to its folder) and sha256.
 *
 * This module is storage only: it does not train, decide what to log, write or thin
 * checkpoint files (the trainer does, and tells the store), or print.
 *
 * Where the database is: @path, else $DINOLAB_DB, else
 * $XDG_DATA_HOME/dinolab/runs.db (~/.local/share/dinolab/runs.db).
 *
 * Several processes and threads at once. The database is in WAL mode, so readers (the
 * GUI) never wait for a writer (a CLI training run), and two trainers can write to the
 * same file: every write is one short BEGIN IMMEDIATE transaction, and a connection
 * that finds the file locked retries for the busy timeout (5 s by default;
 * $DINOLAB_DB_BUSY_TIMEOUT_MS or dinolab_store_set_busy_timeout() change it) before
 * failing with "database is locked". A DinolabStore may be called from any thread
 * (calls on one handle are serialised by a mutex); the training loop writes metrics
 * through a DinolabStoreWriter, which has its own connection and thread and never
 * blocks the step.
 *
 * Live and dead runs. A run that is `running` or `paused` belongs to a process: the
 * store records its host, pid and a heartbeat (unix time) that the writer refreshes
 * every DINOLAB_STORE_HEARTBEAT_INTERVAL seconds. When any process opens the store (and
 * on dinolab_store_check_alive()), such a run is marked `interrupted` if its host is
 * this host and its pid no longer exists, or its host is another one and its heartbeat
 * is older than DINOLAB_STORE_HEARTBEAT_TIMEOUT seconds. A writer that finds its run
 * wrongly marked interrupted (a heartbeat held up by a very long lock) puts its own
 * status back at the next heartbeat.
 *
 * Typical use by the trainer:
 *   DinolabStore *store = dinolab_store_open (db_path_or_NULL, &error);
 *   DinolabRunSpec spec = { .hparams_json = json, .name = name_or_NULL };
 *   char *uuid = dinolab_store_create_run (store, &spec, &error);   // status running
 *   DinolabStoreWriter *w = dinolab_store_writer_new (store, uuid, &error);
 *   for each step:
 *       dinolab_store_writer_push_metrics (w, step, epoch, wall, n, keys, values);
 *   at a checkpoint (after the file is renamed into runs/<uuid>/):
 *       dinolab_store_writer_flush (w, &error);
 *       dinolab_store_add_checkpoint (store, uuid, step, epoch, rel_path, sha, size, &error);
 *   at the end:
 *       dinolab_store_writer_set_status (w, DINOLAB_RUN_STATUS_FINISHED);
 *       dinolab_store_writer_flush (w, &error);  // reports a failed commit
 *       dinolab_store_writer_free (w);
 *
 * Errors: DINOLAB_ERROR_DB for anything SQLite refuses, with a message that names the
 * database file and what failed ("/x/runs.db: cannot rename run 3f2a9c1e: database is
 * locked (after 5000 ms)", "/x/runs.db: database disk image is malformed",
 * "/x/runs.db: schema version 7 is newer than this Dinolab (1)");
 * DINOLAB_ERROR_INVALID_INPUT for a bad argument or an unknown / ambiguous run (the
 * message names it); DINOLAB_ERROR_IO for files and folders beside the database.
 * A failed call changes nothing in the database (each write is one transaction).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Seconds between two heartbeats of a writer, and the age after which a run of
 * another host counts as dead. */
#define DINOLAB_STORE_HEARTBEAT_INTERVAL   2.0
#define DINOLAB_STORE_HEARTBEAT_TIMEOUT   60.0

/* The schema version this build writes (PRAGMA user_version). */
#define DINOLAB_STORE_SCHEMA_VERSION       2

/* Metric names with a meaning for the store: the writer keeps the run's summary
 * columns (last_loss, last_teacher_entropy, last_kl, best_knn_top1) from these.
 * Any other name is stored just as well. */
#define DINOLAB_METRIC_LOSS             "loss"
#define DINOLAB_METRIC_TEACHER_ENTROPY  "teacher_entropy"
#define DINOLAB_METRIC_KL               "kl"
#define DINOLAB_METRIC_KNN_TOP1         "knn_top1"
#define DINOLAB_METRIC_KNN_TOP5         "knn_top5"

typedef struct _DinolabStore       DinolabStore;
typedef struct _DinolabStoreWriter DinolabStoreWriter;

typedef enum {
    DINOLAB_RUN_STATUS_RUNNING,     /* a process is training it (alive: heartbeat) */
    DINOLAB_RUN_STATUS_PAUSED,      /* a process holds it, paused at a step boundary */
    DINOLAB_RUN_STATUS_FINISHED,    /* reached its last epoch */
    DINOLAB_RUN_STATUS_STOPPED,     /* stopped on request, with a checkpoint */
    DINOLAB_RUN_STATUS_INTERRUPTED, /* its process died (found by the liveness check) */
    DINOLAB_RUN_STATUS_DIVERGED,    /* a non-finite loss ended it */
    DINOLAB_RUN_STATUS_FAILED,      /* an error ended it */
} DinolabRunStatus;

#define DINOLAB_RUN_STATUS_N  (DINOLAB_RUN_STATUS_FAILED + 1)

typedef enum {
    DINOLAB_STORE_OPEN_DEFAULT   = 0,
    DINOLAB_STORE_OPEN_READ_ONLY = 1 << 0, /* never write; no folder, no migration (an
                                            * older schema is read as it is) */
} DinolabStoreOpenFlags;

// ----------------------------------------------------------------------------
// Opening

/* dinolab_store_default_path:
 * $DINOLAB_DB when it is set and not empty, else $XDG_DATA_HOME/dinolab/runs.db.
 * Returns a newly allocated string (g_free). */
char         *dinolab_store_default_path    (void);

/* dinolab_store_open:
 * dinolab_store_open_full (@path, DINOLAB_STORE_OPEN_DEFAULT, @error). */
DinolabStore *dinolab_store_open            (const char            *path,
                                             GError               **error);

/* dinolab_store_open_full:
 * Opens (creating it and its folder if needed) the database at @path, or at
 * dinolab_store_default_path() when @path is NULL. Sets WAL mode, the busy timeout and
 * foreign keys; brings an older schema up to DINOLAB_STORE_SCHEMA_VERSION (one
 * transaction per step, so a failed migration leaves the old version intact); then
 * marks dead runs interrupted (see above; best effort: skipped if the database stays
 * locked, or read-only).
 * Refused with DINOLAB_ERROR_DB: a file that is not an SQLite database or is corrupt,
 * an SQLite database of another application, a schema newer than this build, an old
 * schema in a file we may not write. A file we may not write (permissions, or
 * DINOLAB_STORE_OPEN_READ_ONLY) opens read-only: reads work, writes fail with
 * "... database is read-only". With READ_ONLY a missing file is an error.
 * Returns a new handle (dinolab_store_close) or NULL with @error set. */
DinolabStore *dinolab_store_open_full       (const char            *path,
                                             DinolabStoreOpenFlags  flags,
                                             GError               **error);

/* dinolab_store_close:
 * Closes the connection and frees @store. NULL-safe. Writers made from @store keep
 * working (they have their own connections). */
void          dinolab_store_close           (DinolabStore          *store);

/* dinolab_store_get_path:
 * The database file's absolute path. Owned by @store. */
const char   *dinolab_store_get_path        (DinolabStore          *store);

/* dinolab_store_get_folder:
 * The folder holding the database (and runs/). Owned by @store. */
const char   *dinolab_store_get_folder      (DinolabStore          *store);

/* dinolab_store_is_read_only:
 * TRUE when the database was opened read-only. */
gboolean      dinolab_store_is_read_only    (DinolabStore          *store);

/* dinolab_store_set_busy_timeout:
 * How long a write (or a read during a checkpoint of the WAL) waits for a lock before
 * failing with "database is locked"; @ms >= 0. Writers made afterwards inherit it. */
void          dinolab_store_set_busy_timeout (DinolabStore         *store,
                                              int                   ms);

/* dinolab_store_get_run_dir:
 * The folder for large files of run @uuid: <db folder>/runs/<uuid>. Not created
 * (the trainer creates it when it writes the first file). Returns a newly allocated
 * absolute path (g_free). */
char         *dinolab_store_get_run_dir     (DinolabStore          *store,
                                             const char            *uuid);

/* dinolab_store_resolve_path:
 * An absolute path for a path stored in the database (a checkpoint's): a relative
 * @path is taken relative to the database folder. Returns a newly allocated string. */
char         *dinolab_store_resolve_path    (DinolabStore          *store,
                                             const char            *path);

/* dinolab_store_check_alive:
 * Marks `running` and `paused` runs whose process is dead as `interrupted` (rule
 * above; sets their ended time to their last heartbeat). Done by open; the GUI may call
 * it again from time to time. Returns the number of runs marked, or -1 with @error
 * set. A read-only store returns 0. */
int           dinolab_store_check_alive     (DinolabStore          *store,
                                             GError               **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabStore, dinolab_store_close)

// ----------------------------------------------------------------------------
// Runs

/* dinolab_run_status_to_string / _from_string:
 * "running", "paused", "finished", "stopped", "interrupted", "diverged", "failed" (the
 * text stored in the database). from_string returns FALSE for any other text. */
const char   *dinolab_run_status_to_string  (DinolabRunStatus       status);
gboolean      dinolab_run_status_from_string (const char           *text,
                                              DinolabRunStatus     *status);

/* What a new run starts with. Zero-initialise and fill what you have. */
typedef struct {
    const char        *hparams_json; /* required: a JSON object (dinolab_hparams_to_json) */
    const char        *name;         /* NULL or "": a generated "adjective-noun" name */
    const char        *dataset;      /* NULL: the "dataset" key of hparams_json, or "" */
    const char        *parent_uuid;  /* NULL, or the run this one resumes or forks */
    const char        *notes;        /* NULL: "" */
    const char *const *tags;         /* NULL-terminated, or NULL */
    DinolabRunStatus   status;       /* initial status; 0 = running (claims it: host,
                                      * pid and heartbeat of this process) */
    int                keep_last;    /* checkpoints its trainer keeps; 0: not recorded */
} DinolabRunSpec;

/* One run: its row and summary, as the run list shows it. */
typedef struct {
    char             *uuid;           /* "3f2a9c1e-...", 36 chars */
    char             *name;
    DinolabRunStatus  status;
    char             *dataset;        /* dataset spec, "" if none */
    double            created;        /* unix seconds */
    double            started;        /* unix seconds; 0 if never started */
    double            ended;          /* unix seconds; 0 while running or paused */
    char             *notes;          /* "" if none */
    char            **tags;           /* sorted, NULL-terminated, never NULL */
    char             *parent_uuid;    /* NULL if none */
    char             *engine_version; /* Dinolab version that created the run */
    char             *host;           /* host of the process that last held the run */
    gint64            pid;            /* its pid */
    double            heartbeat;      /* unix seconds of its last heartbeat, 0 if none */
    int               epochs;         /* planned epochs (hparams "epochs"), 0 if unknown */
    /* summary, kept up to date by the writer at each commit */
    gint64            last_step;      /* -1 when no metric was stored yet */
    double            last_epoch;     /* NAN when none; likewise below */
    double            last_wall;      /* seconds since the run started */
    double            last_loss;
    double            last_teacher_entropy;
    double            last_kl;
    double            best_knn_top1;  /* max over the run */
    gint64            n_points;       /* metric points stored, all metrics */
    int               keep_last;      /* the newest checkpoints its trainer keeps (train and
                                       * resume --keep-last), so a resume keeps as many;
                                       * 0: not recorded (the trainer's default) */
} DinolabRunInfo;

/* dinolab_run_info_free: frees @info and its strings. NULL-safe. */
void          dinolab_run_info_free         (DinolabRunInfo        *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabRunInfo, dinolab_run_info_free)

/* dinolab_run_info_get_duration:
 * Seconds the run has trained: ended - started when ended, else the last heartbeat (or
 * now, for a live run without one) - started; 0 if never started. */
double        dinolab_run_info_get_duration (const DinolabRunInfo  *info);

/* dinolab_store_create_run:
 * Inserts a new run (created = started = now, engine version and host of this
 * process) with its hyperparameters (JSON and one row per key: strings as they are,
 * numbers and booleans as JSON writes them, [a, b] pairs as "a,b") and tags.
 * The hparams JSON must be an object; a parent uuid must exist; tags as in
 * dinolab_store_add_tags(). Returns the new uuid (g_free) or NULL with @error set. */
char         *dinolab_store_create_run      (DinolabStore          *store,
                                             const DinolabRunSpec  *spec,
                                             GError               **error);

/* dinolab_store_get_run:
 * The run that @ref names: an exact uuid, else the one run whose name is @ref or
 * whose uuid starts with @ref (at least 4 characters, case-insensitive). No such run,
 * or several: NULL with DINOLAB_ERROR_INVALID_INPUT ("no run 'x' in /x/runs.db",
 * "'ab12' matches 2 runs: ab12cd34 (brave-otter), ab12ff00 (calm-heron)").
 * Returns a new DinolabRunInfo (dinolab_run_info_free) or NULL with @error set. */
DinolabRunInfo *dinolab_store_get_run       (DinolabStore          *store,
                                             const char            *ref,
                                             GError               **error);

/* dinolab_store_resolve_run:
 * The full uuid of the run that @ref names (rules of dinolab_store_get_run). Returns a
 * newly allocated string or NULL with @error set. */
char         *dinolab_store_resolve_run     (DinolabStore          *store,
                                             const char            *ref,
                                             GError               **error);

/* dinolab_store_list_runs:
 * Every run, newest created first, as DinolabRunInfo (summary columns only: no metric
 * table is read). Returns a GPtrArray that frees its elements (g_ptr_array_unref),
 * possibly empty, or NULL with @error set. */
GPtrArray    *dinolab_store_list_runs       (DinolabStore          *store,
                                             GError               **error);

/* The functions below take the run's exact uuid (resolve a user's text first); an
 * unknown uuid fails with DINOLAB_ERROR_INVALID_INPUT. Each returns TRUE on success,
 * FALSE with @error set. */

/* dinolab_store_set_status:
 * Sets the status. A final status (finished, stopped, interrupted, diverged, failed)
 * sets ended = now; running or paused claims the run for this process (host, pid,
 * heartbeat = now) and clears ended. The trainer normally sets the status through its
 * writer (dinolab_store_writer_set_status) so it lands after the metrics. */
gboolean      dinolab_store_set_status      (DinolabStore          *store,
                                             const char            *uuid,
                                             DinolabRunStatus       status,
                                             GError               **error);

/* dinolab_store_rename_run: @name must not be empty (it need not be unique). */
gboolean      dinolab_store_rename_run      (DinolabStore          *store,
                                             const char            *uuid,
                                             const char            *name,
                                             GError               **error);

/* dinolab_store_set_keep_last: records how many of the newest checkpoints the run's
 * trainer keeps (>= 0; 0: not recorded). The store never deletes checkpoints itself. */
gboolean      dinolab_store_set_keep_last   (DinolabStore          *store,
                                             const char            *uuid,
                                             int                    keep_last,
                                             GError               **error);

/* dinolab_store_set_notes: replaces the notes (NULL or "" clears them). */
gboolean      dinolab_store_set_notes       (DinolabStore          *store,
                                             const char            *uuid,
                                             const char            *notes,
                                             GError               **error);

/* dinolab_store_add_tags / dinolab_store_remove_tags:
 * @tags: NULL-terminated. A tag is 1 to 64 characters, without spaces or commas.
 * Adding a tag the run has, or removing one it has not, is not an error. */
gboolean      dinolab_store_add_tags        (DinolabStore          *store,
                                             const char            *uuid,
                                             const char *const     *tags,
                                             GError               **error);
gboolean      dinolab_store_remove_tags     (DinolabStore          *store,
                                             const char            *uuid,
                                             const char *const     *tags,
                                             GError               **error);

/* dinolab_store_delete_run:
 * Deletes the run and everything of it in the database (one transaction), then its
 * folder runs/<uuid>/. If the rows are deleted but the folder cannot be removed,
 * returns FALSE with DINOLAB_ERROR_IO naming the folder (the run is gone). Runs that
 * name it as parent keep the uuid as a dangling reference. */
gboolean      dinolab_store_delete_run      (DinolabStore          *store,
                                             const char            *uuid,
                                             GError               **error);

/* dinolab_store_get_hparams_json:
 * The hyperparameter JSON the run was created with. Returns a newly allocated string
 * (g_free) or NULL with @error set. */
char         *dinolab_store_get_hparams_json (DinolabStore         *store,
                                              const char           *uuid,
                                              GError              **error);

/* dinolab_store_set_hparams_json:
 * Replaces the run's hyperparameters: the JSON (kept verbatim), the planned epochs
 * (DinolabRunInfo.epochs, from its "epochs" member) and the run_hparams rows (all
 * dropped, then one per member as in create_run), in one transaction. For `resume
 * --set epochs=N`, so the run list shows what the run now trains for. The dataset
 * column is left as it is (create_run may have been given it apart from the JSON).
 * @json must be a JSON object (else DINOLAB_ERROR_INVALID_INPUT, nothing changed);
 * it is copied. */
gboolean      dinolab_store_set_hparams_json (DinolabStore         *store,
                                              const char           *uuid,
                                              const char           *json,
                                              GError              **error);

/* dinolab_store_get_hparams_table:
 * The run_hparams rows: key -> value text (see create_run). Returns a new
 * GHashTable of strings (g_hash_table_unref) or NULL with @error set. */
GHashTable   *dinolab_store_get_hparams_table (DinolabStore        *store,
                                               const char          *uuid,
                                               GError             **error);

// ----------------------------------------------------------------------------
// Metrics

/* A series is keyed by (run, metric name, step); each point also has its epoch (may
 * be fractional) and wall time (seconds since the run started). A value that is NaN
 * is stored as SQL NULL and read back as NAN. */
typedef struct {
    char   *name;    /* metric name */
    gsize   n;       /* number of points */
    gint64 *step;    /* [n], increasing */
    double *epoch;   /* [n] */
    double *wall;    /* [n] */
    double *value;   /* [n] */
} DinolabMetricSeries;

/* dinolab_metric_series_free: frees @series and its arrays. NULL-safe. */
void          dinolab_metric_series_free    (DinolabMetricSeries   *series);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabMetricSeries, dinolab_metric_series_free)

/* dinolab_store_read_series:
 * Points of metric @name of run @uuid with step > @after_step (-1: all), by step.
 * An unknown metric gives an empty series (n = 0), not an error. @after_step lets a
 * viewer that follows a live run read only what is new. Returns a new series
 * (dinolab_metric_series_free) or NULL with @error set. */
DinolabMetricSeries *dinolab_store_read_series (DinolabStore       *store,
                                                const char         *uuid,
                                                const char         *name,
                                                gint64              after_step,
                                                GError            **error);

/* dinolab_store_list_metrics:
 * Names of the metrics run @uuid has points of, sorted. Returns a NULL-terminated
 * array (g_strfreev), possibly empty, or NULL with @error set. */
char        **dinolab_store_list_metrics    (DinolabStore          *store,
                                             const char            *uuid,
                                             GError               **error);

/* The last point of one metric of a run, and its statistics over the run. */
typedef struct {
    char   *name;
    gint64  n;          /* points */
    gint64  step;       /* of the last point (greatest step) */
    double  epoch;
    double  wall;
    double  value;      /* NAN if the last value was NaN */
    double  min, max;   /* over every non-NaN value written (NAN if none) */
} DinolabMetricLast;

/* dinolab_metric_last_free: frees @last. NULL-safe. */
void          dinolab_metric_last_free      (DinolabMetricLast     *last);

/* dinolab_store_get_last_metrics:
 * The last value of each metric of run @uuid, sorted by name (read from a summary
 * table, so cheap). Returns a GPtrArray of DinolabMetricLast that frees its elements,
 * or NULL with @error set. */
GPtrArray    *dinolab_store_get_last_metrics (DinolabStore         *store,
                                              const char           *uuid,
                                              GError              **error);

/* dinolab_store_truncate_metrics:
 * Deletes the metric points of run @uuid with step > @after_step and recomputes its
 * summary (last_* columns, n_points, the per-metric last values), in one transaction.
 * Markers and attention snapshots are kept: see dinolab_store_truncate_after. Flush
 * the run's writer first. */
gboolean      dinolab_store_truncate_metrics (DinolabStore         *store,
                                              const char           *uuid,
                                              gint64                after_step,
                                              GError              **error);

/* dinolab_store_truncate_after:
 * dinolab_store_truncate_metrics, and in the same transaction deletes the run's
 * markers and attention snapshots with step > @after_step. For a run resumed in place:
 * a resume from the checkpoint at step S (S steps done) restarts at step S and passes
 * @after_step = S - 1, so what the earlier process stored from step S on (points,
 * collapse markers, an earlier "resume" marker at S, snapshots) is dropped before it
 * is computed again; add the new "resume" marker afterwards. Checkpoint rows are left
 * to the trainer (it owns their files). Flush the run's writer first. */
gboolean      dinolab_store_truncate_after  (DinolabStore          *store,
                                             const char            *uuid,
                                             gint64                 after_step,
                                             GError               **error);

// ----------------------------------------------------------------------------
// Checkpoints

typedef struct {
    gint64  step;
    int     epoch;
    char   *path;      /* as stored: relative to the database folder, or absolute */
    char   *sha256;    /* 64 lowercase hex digits */
    gint64  size;      /* bytes */
    double  created;   /* unix seconds */
} DinolabCheckpointInfo;

/* dinolab_checkpoint_info_free: NULL-safe. */
void          dinolab_checkpoint_info_free  (DinolabCheckpointInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabCheckpointInfo, dinolab_checkpoint_info_free)

/* dinolab_store_hash_file:
 * sha256 of the file at @path as 64 lowercase hex digits (g_free), and its size in
 * *@size (may be NULL). NULL with DINOLAB_ERROR_IO if it cannot be read. */
char         *dinolab_store_hash_file       (const char            *path,
                                             gint64                *size,
                                             GError               **error);

/* dinolab_store_add_checkpoint:
 * Records a checkpoint file of run @uuid at @step (one per step: a second add at the
 * same step replaces the row). @path is relative to the database folder (e.g.
 * "runs/<uuid>/step-00001000.safetensors"); an absolute path inside that folder is
 * stored relative, any other absolute path as it is; ".." components are refused.
 * @sha256: 64 hex digits. Add the row after the file is in place. */
gboolean      dinolab_store_add_checkpoint  (DinolabStore          *store,
                                             const char            *uuid,
                                             gint64                 step,
                                             int                    epoch,
                                             const char            *path,
                                             const char            *sha256,
                                             gint64                 size,
                                             GError               **error);

/* dinolab_store_list_checkpoints:
 * The run's checkpoints by increasing step. Returns a GPtrArray of
 * DinolabCheckpointInfo that frees its elements, or NULL with @error set. */
GPtrArray    *dinolab_store_list_checkpoints (DinolabStore         *store,
                                              const char           *uuid,
                                              GError              **error);

/* dinolab_store_get_latest_checkpoint:
 * The checkpoint with the greatest step. Returns a new DinolabCheckpointInfo, or
 * NULL: with @error set on failure, with @error unset when the run has none. */
DinolabCheckpointInfo *dinolab_store_get_latest_checkpoint (DinolabStore   *store,
                                                            const char     *uuid,
                                                            GError        **error);

/* dinolab_store_delete_checkpoint:
 * Deletes the row of the checkpoint at @step (thinning; the caller deletes the file).
 * No such row is not an error. */
gboolean      dinolab_store_delete_checkpoint (DinolabStore        *store,
                                               const char          *uuid,
                                               gint64               step,
                                               GError             **error);

// ----------------------------------------------------------------------------
// Markers: events on a run's time line (kind "collapse", "divergence", "resume", ...)

typedef struct {
    gint64  step;
    char   *kind;     /* 1-32 characters of [a-z0-9_-] */
    char   *text;     /* free text, "" if none */
    double  created;  /* unix seconds */
} DinolabMarker;

/* dinolab_marker_free: NULL-safe. */
void          dinolab_marker_free           (DinolabMarker         *marker);

/* dinolab_store_add_marker: @text may be NULL. */
gboolean      dinolab_store_add_marker      (DinolabStore          *store,
                                             const char            *uuid,
                                             gint64                 step,
                                             const char            *kind,
                                             const char            *text,
                                             GError               **error);

/* dinolab_store_list_markers:
 * The run's markers by step, then by order of insertion. GPtrArray of DinolabMarker
 * that frees its elements, or NULL with @error set. */
GPtrArray    *dinolab_store_list_markers    (DinolabStore          *store,
                                             const char            *uuid,
                                             GError               **error);

// ----------------------------------------------------------------------------
// Attention snapshots: the last-block CLS attention of a fixed probe set of images,
// stored at each evaluation so a viewer can scrub through training time.

typedef struct {
    gint64  step;
    double  epoch;
    int     n_images;
    int     heads;
    int     grid_h, grid_w;   /* patch grid; maps hold grid_h * grid_w values per head */
    int    *image_indices;    /* [n_images]: indices in the evaluation set */
    float  *maps;             /* [n_images, heads, grid_h * grid_w] */
} DinolabAttentionSnapshot;

/* dinolab_attention_snapshot_free: NULL-safe. */
void          dinolab_attention_snapshot_free (DinolabAttentionSnapshot *snapshot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabAttentionSnapshot, dinolab_attention_snapshot_free)

/* dinolab_store_add_snapshot:
 * Stores a snapshot of run @uuid at @step (one per step: a second one replaces it).
 * @image_indices: [n_images]; @maps: [n_images, heads, grid_h * grid_w] float32, copied
 * (stored little-endian). All sizes >= 1. */
gboolean      dinolab_store_add_snapshot    (DinolabStore          *store,
                                             const char            *uuid,
                                             gint64                 step,
                                             double                 epoch,
                                             int                    n_images,
                                             const int             *image_indices,
                                             int                    heads,
                                             int                    grid_h,
                                             int                    grid_w,
                                             const float           *maps,
                                             GError               **error);

/* dinolab_store_list_snapshot_steps:
 * The steps that have a snapshot, increasing. Returns a GArray of gint64
 * (g_array_unref), possibly empty, or NULL with @error set. */
GArray       *dinolab_store_list_snapshot_steps (DinolabStore      *store,
                                                 const char        *uuid,
                                                 GError           **error);

/* dinolab_store_get_snapshot:
 * The snapshot at @step, or the latest one when @step < 0. No such snapshot: NULL with
 * DINOLAB_ERROR_INVALID_INPUT. A stored blob whose size does not match its shape:
 * NULL with DINOLAB_ERROR_DB. Returns a new snapshot (dinolab_attention_snapshot_free). */
DinolabAttentionSnapshot *dinolab_store_get_snapshot (DinolabStore *store,
                                                      const char   *uuid,
                                                      gint64        step,
                                                      GError      **error);

// ----------------------------------------------------------------------------
// The writer: metrics from the training loop without ever blocking it

/* dinolab_store_writer_new:
 * A writer for run @uuid, with its own connection to @store's database and its own
 * thread. It claims the run for this process (host, pid, heartbeat) and from then on
 * refreshes the heartbeat every DINOLAB_STORE_HEARTBEAT_INTERVAL s. Pushed items are
 * committed in push order, one transaction per batch (every 0.5 s, or sooner when
 * 4096 points are waiting), together with the run's summary columns. A commit that
 * fails (database locked past the busy timeout) keeps its items and retries at the
 * next tick; the error is reported by the next flush.
 * @store may be closed while the writer lives. Returns a new writer
 * (dinolab_store_writer_free) or NULL with @error set (read-only store, unknown run). */
DinolabStoreWriter *dinolab_store_writer_new (DinolabStore        *store,
                                              const char          *uuid,
                                              GError             **error);

/* dinolab_store_writer_push_metrics:
 * Queues @n points at @step (>= 0): metric @keys[i] has value @values[i]. Copies what
 * it needs (key names are interned) and returns at once: no I/O, no lock held by
 * SQLite; safe from any thread. */
void          dinolab_store_writer_push_metrics (DinolabStoreWriter *writer,
                                                 gint64              step,
                                                 double              epoch,
                                                 double              wall,
                                                 guint               n,
                                                 const char *const  *keys,
                                                 const double       *values);

/* dinolab_store_writer_push_marker:
 * Queues a marker (as dinolab_store_add_marker; @kind must be valid, @text may be
 * NULL). Returns at once. */
void          dinolab_store_writer_push_marker  (DinolabStoreWriter *writer,
                                                 gint64              step,
                                                 const char         *kind,
                                                 const char         *text);

/* dinolab_store_writer_push_snapshot:
 * Queues an attention snapshot (as dinolab_store_add_snapshot; copies the arrays).
 * Returns at once. */
void          dinolab_store_writer_push_snapshot (DinolabStoreWriter *writer,
                                                  gint64              step,
                                                  double              epoch,
                                                  int                 n_images,
                                                  const int          *image_indices,
                                                  int                 heads,
                                                  int                 grid_h,
                                                  int                 grid_w,
                                                  const float        *maps);

/* dinolab_store_writer_set_status:
 * Queues a status change (as dinolab_store_set_status), committed after everything
 * pushed before it. Returns at once. */
void          dinolab_store_writer_set_status   (DinolabStoreWriter *writer,
                                                 DinolabRunStatus    status);

/* dinolab_store_writer_flush:
 * Waits until everything pushed before the call is committed. Returns TRUE, or FALSE
 * with @error set if two commit attempts in a row failed (each waits for the busy
 * timeout) and the items are still queued (the writer keeps retrying; a later flush
 * may succeed), or the run was deleted. Do not call it from the training step. */
gboolean      dinolab_store_writer_flush        (DinolabStoreWriter *writer,
                                                 GError            **error);

/* dinolab_store_writer_free:
 * Commits what is queued (one last attempt, waiting for the busy timeout at most),
 * stops the thread, closes the connection and frees @writer. Items that could not be
 * committed are lost: call dinolab_store_writer_flush first to know. NULL-safe. */
void          dinolab_store_writer_free         (DinolabStoreWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabStoreWriter, dinolab_store_writer_free)

G_END_DECLS
