/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * store.c: the run store (include/dinolab/store.h) on SQLite: opening and migrating
 * the database, runs and their children, the liveness check, and the writer thread
 * that commits the training loop's metrics in batches.
 *
 * Layout of the data (schema version 2: SCHEMA_V1 below, then what SCHEMA_V2 adds):
 *   runs          one row per run, with summary columns kept by the writer, so the
 *                 run list reads one small table and never touches the metrics
 *   run_tags      (run_id, tag)                  WITHOUT ROWID
 *   run_hparams   (run_id, key) -> value text, numeric value   WITHOUT ROWID
 *   metric_names  id <-> name, a small lookup table
 *   metrics       (run_id, metric_id, step) -> epoch, wall, value   WITHOUT ROWID:
 *                 one series is a contiguous range of the primary key's b-tree, so
 *                 100k points read in a few ms
 *   run_metrics   (run_id, metric_id) -> n, last point, min, max: "last metrics" and
 *                 the run summary without scanning the series
 *   checkpoints   (run_id, step) -> epoch, path, sha256, size
 *   markers, snapshots
 *
 * Concurrency: every connection is in WAL mode with a busy timeout; every write is
 * one BEGIN IMMEDIATE transaction (a deferred transaction that later needs to write
 * can fail at once with SQLITE_BUSY, without waiting). A DinolabStore's connection
 * and its cache of prepared statements are guarded by one mutex. Every statement is
 * reset as soon as it has been used: a statement left stepping would keep a WAL read
 * snapshot open, and the GUI would stop seeing new rows.
 *
 * It is not the trainer: it never decides what to log, never writes, reads or thins
 * checkpoint files (beyond deleting a run's folder on request), and never prints.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sqlite3.h>

#include "dinolab/error.h"
#include "dinolab/store.h"

/* "DINO" in PRAGMA application_id: tells our databases from other SQLite files. */
#define STORE_APPLICATION_ID   0x44494e4f
#define STORE_BUSY_TIMEOUT_MS  5000
/* The writer commits every WRITER_TICK_US, or sooner when this many items wait. */
#define WRITER_TICK_US         (G_USEC_PER_SEC / 2)
#define WRITER_BATCH_ITEMS     4096
/* Largest attention snapshot accepted (floats): far above any real probe set. */
#define SNAPSHOT_MAX_FLOATS    (G_GINT64_CONSTANT (1) << 28)

// ----------------------------------------------------------------------------
// Schema and migrations. migrations[v] brings a database from user_version v to v+1;
// each runs in its own transaction together with the version bump.

static const char SCHEMA_V1[] =
    "CREATE TABLE runs (\n"
    "    id                   INTEGER PRIMARY KEY,\n"
    "    uuid                 TEXT NOT NULL UNIQUE,\n"
    "    name                 TEXT NOT NULL,\n"
    "    status               TEXT NOT NULL,\n"
    "    dataset              TEXT NOT NULL DEFAULT '',\n"
    "    created              REAL NOT NULL,\n"
    "    started              REAL,\n"
    "    ended                REAL,\n"
    "    notes                TEXT NOT NULL DEFAULT '',\n"
    "    parent_uuid          TEXT,\n"
    "    engine_version       TEXT NOT NULL DEFAULT '',\n"
    "    host                 TEXT NOT NULL DEFAULT '',\n"
    "    pid                  INTEGER NOT NULL DEFAULT 0,\n"
    "    heartbeat            REAL,\n"
    "    hparams              TEXT NOT NULL DEFAULT '{}',\n"
    "    epochs               INTEGER NOT NULL DEFAULT 0,\n"
    "    last_step            INTEGER,\n"
    "    last_epoch           REAL,\n"
    "    last_wall            REAL,\n"
    "    last_loss            REAL,\n"
    "    last_teacher_entropy REAL,\n"
    "    last_kl              REAL,\n"
    "    best_knn_top1        REAL,\n"
    "    n_points             INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE INDEX runs_by_created ON runs (created DESC);\n"
    "CREATE INDEX runs_by_name ON runs (name);\n"
    "CREATE INDEX runs_by_status ON runs (status);\n"
    "CREATE TABLE run_tags (\n"
    "    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    tag    TEXT NOT NULL,\n"
    "    PRIMARY KEY (run_id, tag)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX run_tags_by_tag ON run_tags (tag);\n"
    "CREATE TABLE run_hparams (\n"
    "    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    key    TEXT NOT NULL,\n"
    "    value  TEXT NOT NULL,\n"
    "    num    REAL,\n"
    "    PRIMARY KEY (run_id, key)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX run_hparams_by_key ON run_hparams (key, value);\n"
    "CREATE TABLE metric_names (\n"
    "    id   INTEGER PRIMARY KEY,\n"
    "    name TEXT NOT NULL UNIQUE\n"
    ");\n"
    "CREATE TABLE metrics (\n"
    "    run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    metric_id INTEGER NOT NULL,\n"
    "    step      INTEGER NOT NULL,\n"
    "    epoch     REAL,\n"
    "    wall      REAL,\n"
    "    value     REAL,\n"
    "    PRIMARY KEY (run_id, metric_id, step)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE run_metrics (\n"
    "    run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    metric_id  INTEGER NOT NULL,\n"
    "    n          INTEGER NOT NULL,\n"
    "    last_step  INTEGER NOT NULL,\n"
    "    last_epoch REAL,\n"
    "    last_wall  REAL,\n"
    "    last_value REAL,\n"
    "    min_value  REAL,\n"
    "    max_value  REAL,\n"
    "    PRIMARY KEY (run_id, metric_id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE checkpoints (\n"
    "    run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    step    INTEGER NOT NULL,\n"
    "    epoch   INTEGER NOT NULL,\n"
    "    path    TEXT NOT NULL,\n"
    "    sha256  TEXT NOT NULL,\n"
    "    size    INTEGER NOT NULL,\n"
    "    created REAL NOT NULL,\n"
    "    PRIMARY KEY (run_id, step)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE markers (\n"
    "    id      INTEGER PRIMARY KEY,\n"
    "    run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    step    INTEGER NOT NULL,\n"
    "    kind    TEXT NOT NULL,\n"
    "    text    TEXT NOT NULL DEFAULT '',\n"
    "    created REAL NOT NULL\n"
    ");\n"
    "CREATE INDEX markers_by_run ON markers (run_id, step, id);\n"
    "CREATE TABLE snapshots (\n"
    "    id            INTEGER PRIMARY KEY,\n"
    "    run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    step          INTEGER NOT NULL,\n"
    "    epoch         REAL,\n"
    "    n_images      INTEGER NOT NULL,\n"
    "    heads         INTEGER NOT NULL,\n"
    "    grid_h        INTEGER NOT NULL,\n"
    "    grid_w        INTEGER NOT NULL,\n"
    "    image_indices TEXT NOT NULL,\n"
    "    maps          BLOB NOT NULL,\n"
    "    created       REAL NOT NULL,\n"
    "    UNIQUE (run_id, step)\n"
    ");\n";

/* 2: how many checkpoints the run's trainer keeps (0: not recorded, the default), so
 * that a resume keeps what the run was started with. */
#define SCHEMA_V2 "ALTER TABLE runs ADD COLUMN keep_last INTEGER NOT NULL DEFAULT 0;\n"

static const char *const migrations[DINOLAB_STORE_SCHEMA_VERSION] = {
    SCHEMA_V1,
    SCHEMA_V2,
};

/* The summary columns of a run, recomputed from run_metrics (a dozen rows per run)
 * after each batch of the writer and after a truncation. ?1 = run id. */
static const char SQL_UPDATE_SUMMARY[] =
    "UPDATE runs SET"
    " last_step = (SELECT max (last_step) FROM run_metrics WHERE run_id = ?1),"
    " last_epoch = (SELECT last_epoch FROM run_metrics WHERE run_id = ?1"
    "               ORDER BY last_step DESC LIMIT 1),"
    " last_wall = (SELECT max (last_wall) FROM run_metrics WHERE run_id = ?1),"
    " last_loss = (SELECT r.last_value FROM run_metrics r JOIN metric_names m ON m.id = r.metric_id"
    "              WHERE r.run_id = ?1 AND m.name = '" DINOLAB_METRIC_LOSS "'),"
    " last_teacher_entropy = (SELECT r.last_value FROM run_metrics r JOIN metric_names m"
    "              ON m.id = r.metric_id WHERE r.run_id = ?1 AND m.name = '"
                   DINOLAB_METRIC_TEACHER_ENTROPY "'),"
    " last_kl = (SELECT r.last_value FROM run_metrics r JOIN metric_names m ON m.id = r.metric_id"
    "            WHERE r.run_id = ?1 AND m.name = '" DINOLAB_METRIC_KL "'),"
    " best_knn_top1 = (SELECT r.max_value FROM run_metrics r JOIN metric_names m"
    "              ON m.id = r.metric_id WHERE r.run_id = ?1 AND m.name = '"
                   DINOLAB_METRIC_KNN_TOP1 "'),"
    " n_points = coalesce ((SELECT sum (n) FROM run_metrics WHERE run_id = ?1), 0)"
    " WHERE id = ?1";

/* Status change: ?1 run id, ?2 status text, ?3 now, ?4 host, ?5 pid, ?6 1 if the
 * status is live (running/paused: claim the run), 0 if final (set ended). */
static const char SQL_SET_STATUS[] =
    "UPDATE runs SET status = ?2,"
    " ended = CASE WHEN ?6 THEN NULL ELSE ?3 END,"
    " started = CASE WHEN ?6 THEN coalesce (started, ?3) ELSE started END,"
    " host = CASE WHEN ?6 THEN ?4 ELSE host END,"
    " pid = CASE WHEN ?6 THEN ?5 ELSE pid END,"
    " heartbeat = CASE WHEN ?6 THEN ?3 ELSE heartbeat END"
    " WHERE id = ?1";

static const char SQL_INSERT_MARKER[] =
    "INSERT INTO markers (run_id, step, kind, text, created) VALUES (?1, ?2, ?3, ?4, ?5)";

static const char SQL_INSERT_SNAPSHOT[] =
    "INSERT OR REPLACE INTO snapshots (run_id, step, epoch, n_images, heads, grid_h, grid_w,"
    " image_indices, maps, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

/* The columns of a DinolabRunInfo; a read-only store of schema 1, which is read as it
 * is, has no keep_last and reads it as 0. */
#define RUN_COLUMNS_V1                                                                   \
    "id, uuid, name, status, dataset, created, started, ended, notes, parent_uuid,"      \
    " engine_version, host, pid, heartbeat, epochs, last_step, last_epoch, last_wall,"   \
    " last_loss, last_teacher_entropy, last_kl, best_knn_top1, n_points"
#define RUN_COLUMNS    RUN_COLUMNS_V1 ", keep_last"

static const char *const status_names[DINOLAB_RUN_STATUS_N] = {
    "running", "paused", "finished", "stopped", "interrupted", "diverged", "failed",
};

// ----------------------------------------------------------------------------
// Small helpers

struct _DinolabStore {
    GMutex      lock;       /* guards everything below */
    sqlite3    *db;
    char       *path;       /* absolute */
    char       *folder;     /* dirname (path) */
    gboolean    read_only;
    gint64      version;    /* schema of the file: the current one, or older when read-only */
    int         busy_ms;
    GHashTable *stmts;      /* SQL text -> prepared sqlite3_stmt*, owned */
};

/* A cached statement that is reset (and its bindings cleared) at scope exit:
 * g_autoptr (StoreStmt) st = stmt_ (...). */
typedef sqlite3_stmt StoreStmt;

static void
stmt_release_ (StoreStmt *st)
{
    if (st != NULL) {
        sqlite3_reset (st);
        sqlite3_clear_bindings (st);
    }
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StoreStmt, stmt_release_)

static double
now_ (void)
{
    return (double) g_get_real_time () / G_USEC_PER_SEC;
}

static int
busy_timeout_from_env_ (void)
{
    const char *env = g_getenv ("DINOLAB_DB_BUSY_TIMEOUT_MS");
    char *end = NULL;
    gint64 v;

    if (env == NULL || *env == '\0')
        return STORE_BUSY_TIMEOUT_MS;
    v = g_ascii_strtoll (env, &end, 10);
    if (end == env || *end != '\0' || v < 0 || v > G_MAXINT)
        return STORE_BUSY_TIMEOUT_MS;
    return (int) v;
}

/* Sets "@path: cannot @what: <sqlite message>[ (after N ms)]" in the DB domain.
 * @rc is the failing result code; the message is taken from @db when it has one. */
static void
set_db_error_ (GError **error, const char *path, sqlite3 *db, int rc, int busy_ms,
               const char *what)
{
    const char *msg = (db != NULL && sqlite3_errcode (db) != SQLITE_OK) ? sqlite3_errmsg (db)
                                                                        : sqlite3_errstr (rc);
    int primary = rc & 0xff;

    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB, "%s: cannot %s: %s (after %d ms)",
                     path, what, msg, busy_ms);
    else if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
        /* what is wrong with the file matters more than the step that found it */
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB, "%s: %s (found while trying to %s)",
                     path, msg, what);
    else
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB, "%s: cannot %s: %s", path, what, msg);
}

static void
store_error_ (DinolabStore *store, int rc, const char *what, GError **error)
{
    g_assert (store != NULL);
    set_db_error_ (error, store->path, store->db, rc, store->busy_ms, what);
}

/* Returns the cached statement for @sql, reset, or NULL with @error set. */
static StoreStmt *
stmt_ (DinolabStore *store, const char *sql, GError **error)
{
    sqlite3_stmt *st;
    int rc;

    g_assert (store != NULL && sql != NULL);
    st = g_hash_table_lookup (store->stmts, sql);
    if (st != NULL) {
        sqlite3_reset (st);
        sqlite3_clear_bindings (st);
        return st;
    }
    rc = sqlite3_prepare_v3 (store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        store_error_ (store, rc, "prepare a query", error);
        return NULL;
    }
    g_hash_table_insert (store->stmts, g_strdup (sql), st);
    return st;
}

/* Runs @sql (one or more statements, no results) on @db. */
static gboolean
exec_ (sqlite3 *db, const char *path, int busy_ms, const char *sql, const char *what,
       GError **error)
{
    int rc = sqlite3_exec (db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK) {
        set_db_error_ (error, path, db, rc, busy_ms, what);
        return FALSE;
    }
    return TRUE;
}

static gboolean
begin_ (DinolabStore *store, const char *what, GError **error)
{
    return exec_ (store->db, store->path, store->busy_ms, "BEGIN IMMEDIATE", what, error);
}

static gboolean
commit_ (DinolabStore *store, const char *what, GError **error)
{
    if (!exec_ (store->db, store->path, store->busy_ms, "COMMIT", what, error)) {
        sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
        return FALSE;
    }
    return TRUE;
}

static void
rollback_ (DinolabStore *store)
{
    if (!sqlite3_get_autocommit (store->db))
        sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Steps a statement that returns no row. */
static gboolean
step_done_ (DinolabStore *store, sqlite3_stmt *st, const char *what, GError **error)
{
    int rc = sqlite3_step (st);

    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        store_error_ (store, rc, what, error);
        return FALSE;
    }
    return TRUE;
}

static gboolean
check_writable_ (DinolabStore *store, const char *what, GError **error)
{
    if (store->read_only) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB,
                     "%s: cannot %s: the database is open read-only", store->path, what);
        return FALSE;
    }
    return TRUE;
}

/* Text of a column, "" for NULL. */
static const char *
col_text_ (sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text (st, i);
    return t != NULL ? (const char *) t : "";
}

/* A REAL column, @if_null for NULL (SQLite stores NaN as NULL). NULL reads as 0.0,
 * so the type is only asked for a 0.0: the series reader calls this 300k times. */
static double
col_double_ (sqlite3_stmt *st, int i, double if_null)
{
    double v = sqlite3_column_double (st, i);
    return (v == 0.0 && sqlite3_column_type (st, i) == SQLITE_NULL) ? if_null : v;
}

static void
bind_double_or_null_ (sqlite3_stmt *st, int i, double v)
{
    if (isnan (v))
        sqlite3_bind_null (st, i);
    else
        sqlite3_bind_double (st, i, v);
}

static void
bind_text_ (sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text (st, i, s, -1, SQLITE_TRANSIENT);
}

/* The first 8 characters of a uuid, as the CLI shows it. */
static char *
short_uuid_ (const char *uuid)
{
    return g_strndup (uuid, 8);
}

static gboolean
pid_alive_ (gint64 pid)
{
    if (pid <= 0 || pid > G_MAXINT)
        return FALSE;
    return kill ((pid_t) pid, 0) == 0 || errno == EPERM;
}

/* Shortest "%.Ng" text that reads back as @v (JSON numbers of the hparams): "0.04",
 * "100" (not "1e+02", which round-trips with fewer digits but is longer). */
static void
format_double_ (char *buf, size_t len, double v)
{
    char best[G_ASCII_DTOSTR_BUF_SIZE] = "";

    g_assert (len >= G_ASCII_DTOSTR_BUF_SIZE);
    for (int p = 1; p <= 17; p++) {
        char fmt[8];
        g_snprintf (fmt, sizeof fmt, "%%.%dg", p);
        g_ascii_formatd (buf, (int) len, fmt, v);
        if (g_ascii_strtod (buf, NULL) == v && (*best == '\0' || strlen (buf) < strlen (best)))
            g_strlcpy (best, buf, sizeof best);
    }
    g_strlcpy (buf, best, len);
}

static gboolean
valid_tag_ (const char *tag)
{
    size_t n = strlen (tag);

    if (n == 0 || n > 64 || !g_utf8_validate (tag, -1, NULL))
        return FALSE;
    for (const char *p = tag; *p != '\0'; p++)
        if (g_ascii_isspace (*p) || *p == ',' || (guchar) *p < 0x20)
            return FALSE;
    return TRUE;
}

static gboolean
valid_kind_ (const char *kind)
{
    size_t n = kind != NULL ? strlen (kind) : 0;

    if (n == 0 || n > 32)
        return FALSE;
    for (const char *p = kind; *p != '\0'; p++)
        if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '_' || *p == '-'))
            return FALSE;
    return TRUE;
}

static gboolean
valid_snapshot_shape_ (int n_images, int heads, int grid_h, int grid_w)
{
    gint64 total;

    if (n_images < 1 || heads < 1 || grid_h < 1 || grid_w < 1)
        return FALSE;
    total = (gint64) n_images * heads * grid_h * grid_w;
    return total <= SNAPSHOT_MAX_FLOATS;
}

// ----------------------------------------------------------------------------
// Paths

char *
dinolab_store_default_path (void)
{
    const char *env = g_getenv ("DINOLAB_DB");

    if (env != NULL && *env != '\0')
        return g_strdup (env);
    return g_build_filename (g_get_user_data_dir (), "dinolab", "runs.db", NULL);
}

const char *
dinolab_store_get_path (DinolabStore *store)
{
    g_return_val_if_fail (store != NULL, NULL);
    return store->path;
}

const char *
dinolab_store_get_folder (DinolabStore *store)
{
    g_return_val_if_fail (store != NULL, NULL);
    return store->folder;
}

gboolean
dinolab_store_is_read_only (DinolabStore *store)
{
    g_return_val_if_fail (store != NULL, TRUE);
    return store->read_only;
}

void
dinolab_store_set_busy_timeout (DinolabStore *store, int ms)
{
    g_return_if_fail (store != NULL);
    g_return_if_fail (ms >= 0);

    g_mutex_lock (&store->lock);
    store->busy_ms = ms;
    sqlite3_busy_timeout (store->db, ms);
    g_mutex_unlock (&store->lock);
}

char *
dinolab_store_get_run_dir (DinolabStore *store, const char *uuid)
{
    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (uuid != NULL && g_uuid_string_is_valid (uuid), NULL);
    return g_build_filename (store->folder, "runs", uuid, NULL);
}

char *
dinolab_store_resolve_path (DinolabStore *store, const char *path)
{
    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (path != NULL, NULL);
    if (g_path_is_absolute (path))
        return g_strdup (path);
    return g_build_filename (store->folder, path, NULL);
}

// ----------------------------------------------------------------------------
// Opening and migrations

/* Reads one integer PRAGMA. */
static gboolean
pragma_int_ (sqlite3 *db, const char *path, int busy_ms, const char *pragma, gint64 *out,
             GError **error)
{
    g_autofree char *sql = g_strdup_printf ("PRAGMA %s", pragma);
    g_autofree char *what = strcmp (pragma, "schema_version") == 0
                            ? g_strdup ("read the database")
                            : g_strdup_printf ("read PRAGMA %s", pragma);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2 (db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step (st);
    if (rc != SQLITE_ROW) {
        set_db_error_ (error, path, db, rc, busy_ms, what);
        sqlite3_finalize (st);
        return FALSE;
    }
    *out = sqlite3_column_int64 (st, 0);
    sqlite3_finalize (st);
    return TRUE;
}

/* Checks that the file is ours (or empty) and of a schema we can use, and migrates an
 * older one. Reads and migrations hold no statement open across calls. */
static gboolean
check_and_migrate_ (DinolabStore *store, GError **error)
{
    gint64 version = 0, app_id = 0, n_objects = 0;
    sqlite3 *db = store->db;

    /* The first read of the file: an unreadable or foreign file fails here. */
    if (!pragma_int_ (db, store->path, store->busy_ms, "user_version", &version, error) ||
        !pragma_int_ (db, store->path, store->busy_ms, "application_id", &app_id, error) ||
        !pragma_int_ (db, store->path, store->busy_ms, "schema_version", &n_objects, error))
        return FALSE;

    if (version > DINOLAB_STORE_SCHEMA_VERSION) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB,
                     "%s: schema version %" G_GINT64_FORMAT " is newer than this Dinolab (%d); "
                     "open it with a newer Dinolab", store->path, version,
                     DINOLAB_STORE_SCHEMA_VERSION);
        return FALSE;
    }
    /* schema_version counts schema changes: 0 means no table was ever created. */
    if ((app_id != 0 && app_id != STORE_APPLICATION_ID) ||
        (app_id == 0 && (version != 0 || n_objects != 0))) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB,
                     "%s: not a Dinolab run database (an SQLite database of another "
                     "application: application_id 0x%08" G_GINT64_MODIFIER "x, user_version %"
                     G_GINT64_FORMAT ")", store->path, app_id, version);
        return FALSE;
    }
    store->version = version;
    if (version == DINOLAB_STORE_SCHEMA_VERSION)
        return TRUE;
    /* Read-only, an older schema is read as it is (what it lacks reads as its default):
     * looking at runs must not need a Dinolab that may write. An empty file has nothing
     * to read. */
    if (store->read_only && version >= 1)
        return TRUE;
    if (store->read_only) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB,
                     "%s: schema version %" G_GINT64_FORMAT " must be upgraded to %d, but the "
                     "database is read-only", store->path, version, DINOLAB_STORE_SCHEMA_VERSION);
        return FALSE;
    }

    for (gint64 v = version; v < DINOLAB_STORE_SCHEMA_VERSION; v++) {
        g_autofree char *what = g_strdup_printf ("upgrade the schema from version %"
                                                 G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
                                                 v, v + 1);
        g_autofree char *bump = g_strdup_printf ("PRAGMA application_id = %d;"
                                                 " PRAGMA user_version = %" G_GINT64_FORMAT,
                                                 STORE_APPLICATION_ID, v + 1);
        gint64 now_version = 0;

        if (!begin_ (store, what, error))
            return FALSE;
        /* Another process may have migrated while we waited for the lock. */
        if (!pragma_int_ (db, store->path, store->busy_ms, "user_version", &now_version, error)) {
            rollback_ (store);
            return FALSE;
        }
        if (now_version != v) {
            rollback_ (store);
            if (now_version > DINOLAB_STORE_SCHEMA_VERSION)
                return check_and_migrate_ (store, error);
            v = now_version - 1;
            continue;
        }
        if (!exec_ (db, store->path, store->busy_ms, migrations[v], what, error) ||
            !exec_ (db, store->path, store->busy_ms, bump, what, error)) {
            rollback_ (store);
            return FALSE;
        }
        if (!commit_ (store, what, error))
            return FALSE;
    }
    store->version = DINOLAB_STORE_SCHEMA_VERSION;
    return TRUE;
}

/* Opens the SQLite connection; a read-only WAL database whose -shm cannot be created
 * (read-only folder) is opened again as immutable. */
static gboolean
open_connection_ (DinolabStore *store, GError **error)
{
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
    int rc;
    gint64 probe = 0;

    flags |= store->read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    {
        /* a URI, so a path holding '?' or '#' is taken literally */
        g_autofree char *escaped = g_uri_escape_string (store->path, "/", FALSE);
        g_autofree char *uri = g_strconcat ("file:", escaped, NULL);
        rc = sqlite3_open_v2 (uri, &store->db, flags, NULL);
    }
    if (rc != SQLITE_OK) {
        set_db_error_ (error, store->path, store->db, rc, 0, "open the database");
        return FALSE;
    }
    sqlite3_extended_result_codes (store->db, 1);
    sqlite3_busy_timeout (store->db, store->busy_ms);

    if (store->read_only) {
        GError *local = NULL;
        if (pragma_int_ (store->db, store->path, store->busy_ms, "schema_version", &probe, &local))
            return TRUE;
        if ((sqlite3_errcode (store->db) & 0xff) != SQLITE_CANTOPEN &&
            (sqlite3_errcode (store->db) & 0xff) != SQLITE_READONLY) {
            g_propagate_error (error, local);
            return FALSE;
        }
        g_clear_error (&local);
        sqlite3_close (store->db);
        store->db = NULL;
        {
            g_autofree char *escaped = g_uri_escape_string (store->path, "/", FALSE);
            g_autofree char *uri = g_strconcat ("file:", escaped, "?immutable=1", NULL);
            rc = sqlite3_open_v2 (uri, &store->db, flags, NULL);
        }
        if (rc != SQLITE_OK) {
            set_db_error_ (error, store->path, store->db, rc, 0, "open the database read-only");
            return FALSE;
        }
        sqlite3_extended_result_codes (store->db, 1);
    }
    return TRUE;
}

/* The first read of the file: a file that is not an SQLite database, or whose first
 * page is damaged, fails here ("file is not a database", "... malformed"). */
static gboolean
probe_ (DinolabStore *store, GError **error)
{
    gint64 v = 0;
    return pragma_int_ (store->db, store->path, store->busy_ms, "schema_version", &v, error);
}

/* Per-connection settings. */
static gboolean
configure_connection_ (sqlite3 *db, const char *path, int busy_ms, GError **error)
{
    /* NORMAL is durable across a killed process in WAL mode (only a power cut can
     * lose the last commits), and makes each commit much cheaper than FULL.
     * A 32 MiB page cache (SQLite's default is 2 MiB, less than one 100k-point
     * series): a viewer that reads the same series again finds it in memory. */
    return exec_ (db, path, busy_ms, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
                  " PRAGMA cache_size = -32768", "configure the connection", error);
}

/* Switches the file to WAL (a property of the file, so only the first open does it).
 * Called after the file was found to be ours: a refused file is never changed. */
static gboolean
ensure_wal_ (sqlite3 *db, const char *path, int busy_ms, GError **error)
{
    sqlite3_stmt *st = NULL;
    gboolean is_wal = FALSE;
    int rc = sqlite3_prepare_v2 (db, "PRAGMA journal_mode", -1, &st, NULL);

    if (rc == SQLITE_OK && (rc = sqlite3_step (st)) == SQLITE_ROW)
        is_wal = g_ascii_strcasecmp (col_text_ (st, 0), "wal") == 0;
    sqlite3_finalize (st);
    if (rc != SQLITE_ROW) {
        set_db_error_ (error, path, db, rc, busy_ms, "read the journal mode");
        return FALSE;
    }
    if (!is_wal && !exec_ (db, path, busy_ms, "PRAGMA journal_mode = WAL", "switch to WAL mode", error))
        return FALSE;
    return TRUE;
}

static void
stmt_finalize_ (gpointer st)
{
    sqlite3_finalize (st);
}

static void
store_free_ (DinolabStore *store)
{
    if (store == NULL)
        return;
    if (store->stmts != NULL)
        g_hash_table_unref (store->stmts);  /* finalizes the statements */
    if (store->db != NULL)
        sqlite3_close (store->db);
    g_free (store->path);
    g_free (store->folder);
    g_mutex_clear (&store->lock);
    g_free (store);
}

DinolabStore *
dinolab_store_open (const char *path, GError **error)
{
    return dinolab_store_open_full (path, DINOLAB_STORE_OPEN_DEFAULT, error);
}

DinolabStore *
dinolab_store_open_full (const char *path, DinolabStoreOpenFlags flags, GError **error)
{
    DinolabStore *store;
    g_autofree char *default_path = NULL;
    GStatBuf sb;
    gboolean exists;

    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    if (path == NULL)
        path = default_path = dinolab_store_default_path ();
    if (*path == '\0') {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT, "empty database path");
        return NULL;
    }

    store = g_new0 (DinolabStore, 1);
    g_mutex_init (&store->lock);
    store->path = g_canonicalize_filename (path, NULL);
    store->folder = g_path_get_dirname (store->path);
    store->busy_ms = busy_timeout_from_env_ ();
    store->stmts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          stmt_finalize_);
    store->read_only = (flags & DINOLAB_STORE_OPEN_READ_ONLY) != 0;

    exists = g_stat (store->path, &sb) == 0;
    if (!exists && errno != ENOENT) {
        int errsv = errno;
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB, "%s: cannot open the database: %s",
                     store->path, g_strerror (errsv));
        store_free_ (store);
        return NULL;
    }
    if (exists && S_ISDIR (sb.st_mode)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB,
                     "%s: cannot open the database: it is a folder", store->path);
        store_free_ (store);
        return NULL;
    }
    if (!exists && store->read_only) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB,
                     "%s: cannot open the database read-only: no such file", store->path);
        store_free_ (store);
        return NULL;
    }
    if (!exists && g_mkdir_with_parents (store->folder, 0755) != 0) {
        int errsv = errno;
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot create the folder %s: %s",
                     store->path, store->folder, g_strerror (errsv));
        store_free_ (store);
        return NULL;
    }
    /* A file we may not write opens read-only rather than failing. */
    if (exists && g_access (store->path, W_OK) != 0)
        store->read_only = TRUE;

    if (!open_connection_ (store, error) ||
        !probe_ (store, error) ||
        !configure_connection_ (store->db, store->path, store->busy_ms, error) ||
        !check_and_migrate_ (store, error) ||
        (!store->read_only && !ensure_wal_ (store->db, store->path, store->busy_ms, error))) {
        store_free_ (store);
        return NULL;
    }
    /* Best effort: a database locked past the busy timeout still opens. */
    dinolab_store_check_alive (store, NULL);
    return store;
}

void
dinolab_store_close (DinolabStore *store)
{
    store_free_ (store);
}

// ----------------------------------------------------------------------------
// Liveness

int
dinolab_store_check_alive (DinolabStore *store, GError **error)
{
    g_autoptr (GMutexLocker) locker = NULL;
    g_autoptr (GArray) dead_ids = NULL;
    g_autoptr (GArray) dead_beats = NULL;
    const char *host = g_get_host_name ();
    double now = now_ ();
    int n_marked = 0;

    g_return_val_if_fail (store != NULL, -1);
    g_return_val_if_fail (error == NULL || *error == NULL, -1);

    locker = g_mutex_locker_new (&store->lock);
    if (store->read_only)
        return 0;

    dead_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
    dead_beats = g_array_new (FALSE, FALSE, sizeof (double));
    {
        g_autoptr (StoreStmt) st = stmt_ (store, "SELECT id, host, pid, heartbeat FROM runs"
                                          " WHERE status IN ('running', 'paused')", error);
        int rc;
        if (st == NULL)
            return -1;
        while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
            gint64 id = sqlite3_column_int64 (st, 0);
            gboolean same_host = g_strcmp0 (col_text_ (st, 1), host) == 0;
            gint64 pid = sqlite3_column_int64 (st, 2);
            double beat = col_double_ (st, 3, NAN);
            gboolean dead = same_host ? !pid_alive_ (pid)
                                      : (isnan (beat) || now - beat > DINOLAB_STORE_HEARTBEAT_TIMEOUT);
            if (dead) {
                g_array_append_val (dead_ids, id);
                g_array_append_val (dead_beats, beat);
            }
        }
        if (rc != SQLITE_DONE) {
            store_error_ (store, rc, "check which runs are alive", error);
            return -1;
        }
    }
    if (dead_ids->len == 0)
        return 0;

    if (!begin_ (store, "mark dead runs interrupted", error))
        return -1;
    for (guint i = 0; i < dead_ids->len; i++) {
        /* Only if the heartbeat is still the one we saw: a writer that beat in
         * between is alive. */
        g_autoptr (StoreStmt) st = stmt_ (store,
            "UPDATE runs SET status = 'interrupted', ended = coalesce (heartbeat, started, created)"
            " WHERE id = ?1 AND status IN ('running', 'paused') AND heartbeat IS ?2", error);
        if (st == NULL) {
            rollback_ (store);
            return -1;
        }
        sqlite3_bind_int64 (st, 1, g_array_index (dead_ids, gint64, i));
        bind_double_or_null_ (st, 2, g_array_index (dead_beats, double, i));
        if (!step_done_ (store, st, "mark dead runs interrupted", error)) {
            rollback_ (store);
            return -1;
        }
        n_marked += sqlite3_changes (store->db);
    }
    if (!commit_ (store, "mark dead runs interrupted", error))
        return -1;
    return n_marked;
}

// ----------------------------------------------------------------------------
// Writing to one run. Every write of the public API is one transaction: resolve the
// uuid, run a table of statements bound to the run id, commit or roll back. A caller
// is a RunWrite table and one call of write_run_().

/* The id of the run with exactly this uuid; 0 with INVALID_INPUT if none. */
static gint64
run_id_ (DinolabStore *store, const char *uuid, GError **error)
{
    g_autoptr (StoreStmt) st = stmt_ (store, "SELECT id FROM runs WHERE uuid = ?1", error);
    int rc;

    if (st == NULL)
        return 0;
    bind_text_ (st, 1, uuid);
    rc = sqlite3_step (st);
    if (rc == SQLITE_ROW)
        return sqlite3_column_int64 (st, 0);
    if (rc != SQLITE_DONE)
        store_error_ (store, rc, "look up a run", error);
    else
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT, "no run '%s' in %s",
                     uuid, store->path);
    return 0;
}

/* A query about one run (uuid or prefix, see run_id_): the statement for @sql with
 * the run's id bound to ?1, or NULL with @error. The caller holds the lock. */
static StoreStmt *
run_stmt_ (DinolabStore *store, const char *uuid, const char *sql, GError **error)
{
    StoreStmt *st;
    gint64 run_id = run_id_ (store, uuid, error);

    if (run_id == 0 || (st = stmt_ (store, sql, error)) == NULL)
        return NULL;
    sqlite3_bind_int64 (st, 1, run_id);
    return st;
}

/* Binds the parameters after ?1 (the run id, bound by the caller) of one statement for
 * row @row of @data, and returns FALSE when there is no row @row (binding nothing). A
 * statement is run once per row, so one table entry can insert every tag of a list. */
typedef gboolean (*RunBindFunc) (sqlite3_stmt *st, guint row, gconstpointer data);

typedef struct {
    const char    *sql;   /* ?1 = the run id */
    RunBindFunc    bind;  /* NULL: no other parameter, one row */
    gconstpointer  data;  /* for @bind */
    const char    *what;  /* names a failed step; NULL: the write's own text */
} RunWrite;

/* ?2 = the gint64 at @data (a step, a count). */
static gboolean
bind_int64_ (sqlite3_stmt *st, guint row, gconstpointer data)
{
    if (row > 0)
        return FALSE;
    sqlite3_bind_int64 (st, 2, *(const gint64 *) data);
    return TRUE;
}

/* ?2 = the string @data. */
static gboolean
bind_text_arg_ (sqlite3_stmt *st, guint row, gconstpointer data)
{
    if (row > 0)
        return FALSE;
    bind_text_ (st, 2, data);
    return TRUE;
}

/* One row per tag: ?2 = tags[row] of the NULL-terminated (or NULL) list @data. Rows
 * are asked in order and stop at the first FALSE, so tags[row] is never past the end. */
static gboolean
bind_tags_ (sqlite3_stmt *st, guint row, gconstpointer data)
{
    const char *const *tags = data;

    if (tags == NULL || tags[row] == NULL)
        return FALSE;
    bind_text_ (st, 2, tags[row]);
    return TRUE;
}

/* Runs @writes in order for run @run_id inside the caller's transaction. Lock held.
 * A failed step is named by its entry's what, else by @what. */
static gboolean
run_writes_ (DinolabStore *store, gint64 run_id, const RunWrite *writes, gsize n_writes,
             const char *what, GError **error)
{
    g_assert (store != NULL && run_id > 0 && (writes != NULL || n_writes == 0));

    for (gsize i = 0; i < n_writes; i++) {
        const RunWrite *w = &writes[i];
        for (guint row = 0; w->bind != NULL || row == 0; row++) {
            g_autoptr (StoreStmt) st = stmt_ (store, w->sql, error);
            if (st == NULL)
                return FALSE;
            sqlite3_bind_int64 (st, 1, run_id);
            if (w->bind != NULL && !w->bind (st, row, w->data))
                break;
            if (!step_done_ (store, st, w->what != NULL ? w->what : what, error))
                return FALSE;
        }
    }
    return TRUE;
}

/* One write of run @uuid (an exact uuid): takes the lock, then in one BEGIN IMMEDIATE
 * transaction resolves the uuid and runs @writes; commits, or rolls back on any error.
 * @action ("rename run") and the uuid's first 8 characters name the write in messages:
 * "/x/runs.db: cannot rename run 3f2a9c1e: database is locked (after 5000 ms)". */
static gboolean
write_run_ (DinolabStore *store, const char *uuid, const char *action, const RunWrite *writes,
            gsize n_writes, GError **error)
{
    g_autoptr (GMutexLocker) locker = NULL;
    g_autofree char *su = short_uuid_ (uuid);
    g_autofree char *what = g_strdup_printf ("%s %s", action, su);
    gint64 run_id;

    g_assert (store != NULL && uuid != NULL && action != NULL);

    locker = g_mutex_locker_new (&store->lock);
    if (!check_writable_ (store, what, error) || !begin_ (store, what, error))
        return FALSE;
    if ((run_id = run_id_ (store, uuid, error)) == 0 ||
        !run_writes_ (store, run_id, writes, n_writes, what, error)) {
        rollback_ (store);
        return FALSE;
    }
    return commit_ (store, what, error);
}

// ----------------------------------------------------------------------------
// Runs

const char *
dinolab_run_status_to_string (DinolabRunStatus status)
{
    g_return_val_if_fail ((int) status >= 0 && status < DINOLAB_RUN_STATUS_N, NULL);
    return status_names[status];
}

gboolean
dinolab_run_status_from_string (const char *text, DinolabRunStatus *status)
{
    g_return_val_if_fail (status != NULL, FALSE);
    for (int i = 0; text != NULL && i < DINOLAB_RUN_STATUS_N; i++)
        if (strcmp (text, status_names[i]) == 0) {
            *status = (DinolabRunStatus) i;
            return TRUE;
        }
    return FALSE;
}

static gboolean
status_is_live_ (DinolabRunStatus status)
{
    return status == DINOLAB_RUN_STATUS_RUNNING || status == DINOLAB_RUN_STATUS_PAUSED;
}

void
dinolab_run_info_free (DinolabRunInfo *info)
{
    if (info == NULL)
        return;
    g_free (info->uuid);
    g_free (info->name);
    g_free (info->dataset);
    g_free (info->notes);
    g_strfreev (info->tags);
    g_free (info->parent_uuid);
    g_free (info->engine_version);
    g_free (info->host);
    g_free (info);
}

double
dinolab_run_info_get_duration (const DinolabRunInfo *info)
{
    g_return_val_if_fail (info != NULL, 0.0);
    if (info->started <= 0.0)
        return 0.0;
    if (info->ended > 0.0)
        return MAX (0.0, info->ended - info->started);
    if (info->heartbeat > 0.0)
        return MAX (0.0, info->heartbeat - info->started);
    return status_is_live_ (info->status) ? MAX (0.0, now_ () - info->started) : 0.0;
}

/* "SELECT <the run columns> FROM runs @tail" for the schema of @store's file (g_free). */
static char *
select_runs_sql_ (const DinolabStore *store, const char *tail)
{
    const char *columns = store->version >= 2 ? RUN_COLUMNS : RUN_COLUMNS_V1 ", 0";

    return g_strconcat ("SELECT ", columns, " FROM runs ", tail, NULL);
}

/* A DinolabRunInfo from a row of RUN_COLUMNS (tags left empty). */
static DinolabRunInfo *
run_info_from_row_ (sqlite3_stmt *st)
{
    DinolabRunInfo *info = g_new0 (DinolabRunInfo, 1);

    info->uuid = g_strdup (col_text_ (st, 1));
    info->name = g_strdup (col_text_ (st, 2));
    if (!dinolab_run_status_from_string (col_text_ (st, 3), &info->status))
        info->status = DINOLAB_RUN_STATUS_FAILED;  /* a status a newer version wrote */
    info->dataset = g_strdup (col_text_ (st, 4));
    info->created = col_double_ (st, 5, 0.0);
    info->started = col_double_ (st, 6, 0.0);
    info->ended = col_double_ (st, 7, 0.0);
    info->notes = g_strdup (col_text_ (st, 8));
    info->parent_uuid = sqlite3_column_type (st, 9) == SQLITE_NULL ? NULL
                                                                   : g_strdup (col_text_ (st, 9));
    info->engine_version = g_strdup (col_text_ (st, 10));
    info->host = g_strdup (col_text_ (st, 11));
    info->pid = sqlite3_column_int64 (st, 12);
    info->heartbeat = col_double_ (st, 13, 0.0);
    info->epochs = sqlite3_column_int (st, 14);
    info->last_step = sqlite3_column_type (st, 15) == SQLITE_NULL ? -1 : sqlite3_column_int64 (st, 15);
    info->last_epoch = col_double_ (st, 16, NAN);
    info->last_wall = col_double_ (st, 17, NAN);
    info->last_loss = col_double_ (st, 18, NAN);
    info->last_teacher_entropy = col_double_ (st, 19, NAN);
    info->last_kl = col_double_ (st, 20, NAN);
    info->best_knn_top1 = col_double_ (st, 21, NAN);
    info->n_points = sqlite3_column_int64 (st, 22);
    info->keep_last = sqlite3_column_int (st, 23);
    info->tags = g_new0 (char *, 1);
    return info;
}

static gboolean
load_tags_ (DinolabStore *store, gint64 run_id, DinolabRunInfo *info, GError **error)
{
    g_autoptr (StoreStmt) st = stmt_ (store, "SELECT tag FROM run_tags WHERE run_id = ?1 ORDER BY tag",
                                      error);
    g_autoptr (GPtrArray) tags = g_ptr_array_new_with_free_func (g_free);
    int rc;

    if (st == NULL)
        return FALSE;
    sqlite3_bind_int64 (st, 1, run_id);
    while ((rc = sqlite3_step (st)) == SQLITE_ROW)
        g_ptr_array_add (tags, g_strdup (col_text_ (st, 0)));
    if (rc != SQLITE_DONE) {
        store_error_ (store, rc, "read the tags of a run", error);
        return FALSE;
    }
    g_ptr_array_add (tags, NULL);
    g_strfreev (info->tags);
    info->tags = (char **) g_ptr_array_free (g_steal_pointer (&tags), FALSE);
    return TRUE;
}

/* The run @ref names (store.h rules), with its id in *@id. Lock held. */
static DinolabRunInfo *
find_run_ (DinolabStore *store, const char *ref, gint64 *id, GError **error)
{
    g_autofree char *lower = g_ascii_strdown (ref, -1);
    g_autoptr (GPtrArray) found = g_ptr_array_new_with_free_func ((GDestroyNotify) dinolab_run_info_free);
    g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
    int rc;

    {
        g_autofree char *sql = select_runs_sql_ (store, "WHERE uuid = ?1");
        g_autoptr (StoreStmt) st = stmt_ (store, sql, error);
        if (st == NULL)
            return NULL;
        bind_text_ (st, 1, lower);
        rc = sqlite3_step (st);
        if (rc == SQLITE_ROW) {
            gint64 rid = sqlite3_column_int64 (st, 0);
            g_ptr_array_add (found, run_info_from_row_ (st));
            g_array_append_val (ids, rid);
        } else if (rc != SQLITE_DONE) {
            store_error_ (store, rc, "look up a run", error);
            return NULL;
        }
    }
    if (found->len == 0) {
        g_autofree char *sql = select_runs_sql_ (store, "WHERE name = ?1"
                                                 " OR (length (?2) >= 4 AND substr (uuid, 1, length (?2)) = ?2)"
                                                 " ORDER BY created DESC LIMIT 6");
        g_autoptr (StoreStmt) st = stmt_ (store, sql, error);
        if (st == NULL)
            return NULL;
        bind_text_ (st, 1, ref);
        bind_text_ (st, 2, lower);
        while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
            gint64 rid = sqlite3_column_int64 (st, 0);
            g_ptr_array_add (found, run_info_from_row_ (st));
            g_array_append_val (ids, rid);
        }
        if (rc != SQLITE_DONE) {
            store_error_ (store, rc, "look up a run", error);
            return NULL;
        }
    }
    if (found->len == 0) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT, "no run '%s' in %s", ref,
                     store->path);
        return NULL;
    }
    if (found->len > 1) {
        g_autoptr (GString) msg = g_string_new (NULL);
        for (guint i = 0; i < found->len && i < 5; i++) {
            const DinolabRunInfo *r = found->pdata[i];
            g_autofree char *su = short_uuid_ (r->uuid);
            g_string_append_printf (msg, "%s%s (%s)", i > 0 ? ", " : "", su, r->name);
        }
        if (found->len > 5)
            g_string_append (msg, ", ...");
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "'%s' matches %s%u runs in %s: %s", ref, found->len > 5 ? "more than " : "",
                     MIN (found->len, 5u), store->path, msg->str);
        return NULL;
    }
    if (id != NULL)
        *id = g_array_index (ids, gint64, 0);
    if (!load_tags_ (store, g_array_index (ids, gint64, 0), found->pdata[0], error))
        return NULL;
    return g_ptr_array_steal_index (found, 0);
}

DinolabRunInfo *
dinolab_store_get_run (DinolabStore *store, const char *ref, GError **error)
{
    g_autoptr (GMutexLocker) locker = NULL;

    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (ref != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    locker = g_mutex_locker_new (&store->lock);
    return find_run_ (store, ref, NULL, error);
}

char *
dinolab_store_resolve_run (DinolabStore *store, const char *ref, GError **error)
{
    g_autoptr (DinolabRunInfo) info = dinolab_store_get_run (store, ref, error);
    return info != NULL ? g_steal_pointer (&info->uuid) : NULL;
}

GPtrArray *
dinolab_store_list_runs (DinolabStore *store, GError **error)
{
    g_autoptr (GMutexLocker) locker = NULL;
    g_autoptr (GPtrArray) runs = NULL;
    g_autoptr (GHashTable) by_id = NULL;   /* run id -> DinolabRunInfo* (borrowed) */
    g_autoptr (GHashTable) tags = NULL;    /* run id -> GPtrArray of tags */
    int rc;

    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    locker = g_mutex_locker_new (&store->lock);
    runs = g_ptr_array_new_with_free_func ((GDestroyNotify) dinolab_run_info_free);
    by_id = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
    tags = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                  (GDestroyNotify) g_ptr_array_unref);
    {
        g_autofree char *sql = select_runs_sql_ (store, "ORDER BY created DESC, id DESC");
        g_autoptr (StoreStmt) st = stmt_ (store, sql, error);
        if (st == NULL)
            return NULL;
        while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
            DinolabRunInfo *info = run_info_from_row_ (st);
            g_ptr_array_add (runs, info);
            g_hash_table_insert (by_id, g_memdup2 (&(gint64) { sqlite3_column_int64 (st, 0) },
                                                  sizeof (gint64)), info);
        }
        if (rc != SQLITE_DONE) {
            store_error_ (store, rc, "list the runs", error);
            return NULL;
        }
    }
    {
        g_autoptr (StoreStmt) st = stmt_ (store, "SELECT run_id, tag FROM run_tags ORDER BY run_id, tag",
                                          error);
        if (st == NULL)
            return NULL;
        while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
            gint64 rid = sqlite3_column_int64 (st, 0);
            GPtrArray *list = g_hash_table_lookup (tags, &rid);
            if (list == NULL) {
                list = g_ptr_array_new ();
                g_hash_table_insert (tags, g_memdup2 (&rid, sizeof rid), list);
            }
            g_ptr_array_add (list, g_strdup (col_text_ (st, 1)));
        }
        if (rc != SQLITE_DONE) {
            store_error_ (store, rc, "list the tags", error);
            return NULL;
        }
    }
    {
        GHashTableIter it;
        gpointer key, value;
        g_hash_table_iter_init (&it, tags);
        while (g_hash_table_iter_next (&it, &key, &value)) {
            DinolabRunInfo *info = g_hash_table_lookup (by_id, key);
            GPtrArray *list = value;
            if (info == NULL) {   /* a tag row added after the runs were read */
                g_ptr_array_set_free_func (list, g_free);
                continue;
            }
            g_ptr_array_add (list, NULL);
            g_strfreev (info->tags);
            info->tags = (char **) g_ptr_array_steal (list, NULL);
        }
    }
    return g_steal_pointer (&runs);
}

/* One run_hparams row per member: the value as text (and as a number when it is
 * one), so runs can be selected per key in SQL. */
static char *
json_value_text_ (JsonNode *node, double *num, gboolean *is_num)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    *is_num = FALSE;
    switch (JSON_NODE_TYPE (node)) {
    case JSON_NODE_NULL:
        return g_strdup ("null");
    case JSON_NODE_VALUE:
        switch (json_node_get_value_type (node)) {
        case G_TYPE_INT64:
            *is_num = TRUE;
            *num = (double) json_node_get_int (node);
            return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
        case G_TYPE_DOUBLE:
            *is_num = TRUE;
            *num = json_node_get_double (node);
            format_double_ (buf, sizeof buf, *num);
            return g_strdup (buf);
        case G_TYPE_BOOLEAN:
            *is_num = TRUE;
            *num = json_node_get_boolean (node) ? 1.0 : 0.0;
            return g_strdup (json_node_get_boolean (node) ? "true" : "false");
        case G_TYPE_STRING:
            return g_strdup (json_node_get_string (node));
        default:
            return json_to_string (node, FALSE);
        }
    case JSON_NODE_ARRAY: {
        JsonArray *a = json_node_get_array (node);
        g_autoptr (GString) s = g_string_new (NULL);
        for (guint i = 0; i < json_array_get_length (a); i++) {
            double n;
            gboolean b;
            g_autofree char *t = json_value_text_ (json_array_get_element (a, i), &n, &b);
            g_string_append_printf (s, "%s%s", i > 0 ? "," : "", t);
        }
        return g_string_free (g_steal_pointer (&s), FALSE);
    }
    case JSON_NODE_OBJECT:
    default:
        return json_to_string (node, FALSE);
    }
}

static const char *const adjectives[] = {
    "amber", "bold", "brisk", "calm", "clever", "crisp", "dapper", "eager", "fair", "fleet",
    "gentle", "glad", "grand", "hardy", "keen", "kind", "lively", "lucid", "merry", "mellow",
    "nimble", "noble", "patient", "plucky", "proud", "quick", "quiet", "rapid", "serene", "sharp",
    "shy", "steady", "sunny", "swift", "tidy", "vivid", "warm", "wise", "witty", "zesty",
};
static const char *const nouns[] = {
    "albatross", "badger", "beaver", "bison", "crane", "dingo", "dolphin", "eagle", "falcon",
    "ferret", "gecko", "heron", "ibex", "jackal", "kestrel", "koala", "lemur", "lynx", "marmot",
    "marten", "newt", "ocelot", "osprey", "otter", "owl", "panda", "puffin", "quail", "raven",
    "salmon", "seal", "stoat", "swift", "tapir", "tern", "toucan", "vole", "walrus", "wombat",
    "yak",
};

static char *
random_name_ (void)
{
    return g_strdup_printf ("%s-%s", adjectives[g_random_int_range (0, G_N_ELEMENTS (adjectives))],
                            nouns[g_random_int_range (0, G_N_ELEMENTS (nouns))]);
}

static gboolean
check_tags_ (const char *const *tags, GError **error)
{
    for (const char *const *t = tags; t != NULL && *t != NULL; t++)
        if (!valid_tag_ (*t)) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "tag '%s': a tag is 1 to 64 characters without spaces or commas", *t);
            return FALSE;
        }
    return TRUE;
}

static const char SQL_INSERT_TAG[] =
    "INSERT OR IGNORE INTO run_tags (run_id, tag) VALUES (?1, ?2)";

static const char SQL_INSERT_HPARAM[] =
    "INSERT OR REPLACE INTO run_hparams (run_id, key, value, num) VALUES (?1, ?2, ?3, ?4)";

/* A hyperparameter JSON object taken apart for the runs row and run_hparams. */
typedef struct {
    char     *key;
    char     *text;    /* json_value_text_ */
    double    num;
    gboolean  is_num;  /* numbers and booleans: num is stored too (else SQL NULL) */
} HparamRow;

typedef struct {
    const char *json;     /* verbatim, borrowed */
    int         epochs;   /* member "epochs", 0 if absent */
    char       *dataset;  /* member "dataset" when it is a string, else NULL */
    GArray     *rows;     /* HparamRow, one per member, in JSON order */
} Hparams;

static void
hparam_row_clear_ (gpointer data)
{
    HparamRow *r = data;
    g_free (r->key);
    g_free (r->text);
}

static void
hparams_clear_ (Hparams *hp)
{
    g_clear_pointer (&hp->dataset, g_free);
    g_clear_pointer (&hp->rows, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Hparams, hparams_clear_)

/* Parses @json (must be an object) into @hp. @whose names the run in messages
 * ("hyperparameters of a new run: not a JSON object"). */
static gboolean
hparams_parse_ (Hparams *hp, const char *json, const char *whose, GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (GError) local = NULL;
    JsonObjectIter it;
    JsonObject *obj;
    JsonNode *root, *node;
    const char *key;

    g_assert (hp != NULL && json != NULL && whose != NULL);
    if (!json_parser_load_from_data (parser, json, -1, &local)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "hyperparameters of %s: invalid JSON: %s", whose, local->message);
        return FALSE;
    }
    root = json_parser_get_root (parser);
    if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "hyperparameters of %s: not a JSON object", whose);
        return FALSE;
    }
    obj = json_node_get_object (root);
    hp->json = json;
    hp->epochs = 0;
    if (json_object_has_member (obj, "epochs") &&
        JSON_NODE_HOLDS_VALUE (json_object_get_member (obj, "epochs")))
        hp->epochs = (int) CLAMP (json_node_get_double (json_object_get_member (obj, "epochs")),
                                  0, G_MAXINT);
    hp->dataset = NULL;
    if (json_object_has_member (obj, "dataset") &&
        json_node_get_value_type (json_object_get_member (obj, "dataset")) == G_TYPE_STRING)
        hp->dataset = g_strdup (json_object_get_string_member (obj, "dataset"));
    hp->rows = g_array_new (FALSE, TRUE, sizeof (HparamRow));
    g_array_set_clear_func (hp->rows, hparam_row_clear_);
    json_object_iter_init (&it, obj);
    while (json_object_iter_next (&it, &key, &node)) {
        HparamRow r = { .key = g_strdup (key) };
        r.text = json_value_text_ (node, &r.num, &r.is_num);
        g_array_append_val (hp->rows, r);
    }
    return TRUE;
}

/* One row per member: ?2 key, ?3 value text, ?4 number or NULL (SQL_INSERT_HPARAM). */
static gboolean
bind_hparam_row_ (sqlite3_stmt *st, guint row, gconstpointer data)
{
    const Hparams *hp = data;
    const HparamRow *r;

    if (row >= hp->rows->len)
        return FALSE;
    r = &g_array_index (hp->rows, HparamRow, row);
    bind_text_ (st, 2, r->key);
    bind_text_ (st, 3, r->text);
    if (r->is_num)
        sqlite3_bind_double (st, 4, r->num);
    return TRUE;
}

/* ?2 the JSON text, ?3 epochs. */
static gboolean
bind_hparams_json_ (sqlite3_stmt *st, guint row, gconstpointer data)
{
    const Hparams *hp = data;

    if (row > 0)
        return FALSE;
    bind_text_ (st, 2, hp->json);
    sqlite3_bind_int (st, 3, hp->epochs);
    return TRUE;
}

char *
dinolab_store_create_run (DinolabStore *store, const DinolabRunSpec *spec, GError **error)
{
    g_autoptr (GMutexLocker) locker = NULL;
    g_auto (Hparams) hp = { 0 };
    g_autofree char *uuid = NULL, *name = NULL;
    const char *dataset;
    gint64 run_id;
    double now = now_ ();

    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (spec != NULL, NULL);
    g_return_val_if_fail (spec->hparams_json != NULL, NULL);
    g_return_val_if_fail ((int) spec->status >= 0 && spec->status < DINOLAB_RUN_STATUS_N, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    locker = g_mutex_locker_new (&store->lock);
    if (!check_writable_ (store, "create a run", error))
        return NULL;
    if (!hparams_parse_ (&hp, spec->hparams_json, "a new run", error) ||
        !check_tags_ (spec->tags, error))
        return NULL;

    dataset = spec->dataset != NULL ? spec->dataset : hp.dataset != NULL ? hp.dataset : "";
    name = (spec->name != NULL && *spec->name != '\0') ? g_strdup (spec->name) : random_name_ ();
    uuid = g_uuid_string_random ();

    if (!begin_ (store, "create a run", error))
        return NULL;
    if (spec->parent_uuid != NULL && run_id_ (store, spec->parent_uuid, error) == 0) {
        rollback_ (store);
        g_prefix_error (error, "parent of a new run: ");
        return NULL;
    }
    {
        g_autoptr (StoreStmt) st = stmt_ (store,
            "INSERT INTO runs (uuid, name, status, dataset, created, started, notes, parent_uuid,"
            " engine_version, host, pid, heartbeat, hparams, epochs, keep_last)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?5, ?11, ?12, ?13)", error);
        if (st == NULL) {
            rollback_ (store);
            return NULL;
        }
        bind_text_ (st, 1, uuid);
        bind_text_ (st, 2, name);
        bind_text_ (st, 3, status_names[spec->status]);
        bind_text_ (st, 4, dataset);
        sqlite3_bind_double (st, 5, now);
        bind_text_ (st, 6, spec->notes != NULL ? spec->notes : "");
        if (spec->parent_uuid != NULL)
            bind_text_ (st, 7, spec->parent_uuid);
        bind_text_ (st, 8, PACKAGE_VERSION);
        bind_text_ (st, 9, g_get_host_name ());
        sqlite3_bind_int64 (st, 10, (gint64) getpid ());
        bind_text_ (st, 11, spec->hparams_json);
        sqlite3_bind_int (st, 12, hp.epochs);
        sqlite3_bind_int (st, 13, MAX (spec->keep_last, 0));
        if (!step_done_ (store, st, "create a run", error)) {
            rollback_ (store);
            return NULL;
        }
        run_id = sqlite3_last_insert_rowid (store->db);
    }
    {
        const RunWrite children[] = {
            { .sql = SQL_INSERT_HPARAM, .bind = bind_hparam_row_, .data = &hp,
              .what = "store the hyperparameters of a new run" },
            { .sql = SQL_INSERT_TAG, .bind = bind_tags_, .data = spec->tags, .what = "add a tag" },
        };
        if (!run_writes_ (store, run_id, children, G_N_ELEMENTS (children), "create a run",
                          error)) {
            rollback_ (store);
            return NULL;
        }
    }
    if (!commit_ (store, "create a run", error))
        return NULL;
    return g_steal_pointer (&uuid);
}

gboolean
dinolab_store_set_hparams_json (DinolabStore *store, const char *uuid, const char *json,
                                GError **error)
{
    g_auto (Hparams) hp = { 0 };
    const RunWrite writes[] = {
        { .sql = "UPDATE runs SET hparams = ?2, epochs = ?3 WHERE id = ?1",
          .bind = bind_hparams_json_, .data = &hp },
        { .sql = "DELETE FROM run_hparams WHERE run_id = ?1" },
        { .sql = SQL_INSERT_HPARAM, .bind = bind_hparam_row_, .data = &hp },
    };

    g_return_val_if_fail (store != NULL, FALSE);
    g_return_val_if_fail (uuid != NULL, FALSE);
    g_return_val_if_fail (json != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    {
        g_autofree char *whose = g_strdup_printf ("run %s", uuid);
        if (!hparams_parse_ (&hp, json, whose, error))
            return FALSE;
    }
    return write_run_ (store, uuid, "set the hyperparameters of run", writes,
                       G_N_ELEMENTS (writes), error);
}

gboolean
dinolab_store_rename_run (DinolabStore *store, const char *uuid, const char *name, GError **error)
{
    g_autofree char *stripped = NULL;

    g_return_val_if_fail (store != NULL, FALSE);
    g_return_val_if_fail (uuid != NULL, FALSE);
    g_return_val_if_fail (name != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    stripped = g_strstrip (g_strdup (name));
    if (*stripped == '\0') {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "run %s: the new name is empty", uuid);
        return FALSE;
    }
    {
        const RunWrite writes[] = {
            { .sql = "UPDATE runs SET name = ?2 WHERE id = ?1", .bind = bind_text_arg_,
              .data = stripped },
        };
        return write_run_ (store, uuid, "rename run", writes, G_N_ELEMENTS (writes), error);
    }
}

gboolean
dinolab_store_set_notes (DinolabStore *store, const char *uuid, const char *notes, GError **error)
{
    const RunWrite writes[] = {
        { .sql = "UPDATE runs SET notes = ?2 WHERE id = ?1", .bind = bind_text_arg_,
          .data = notes != NULL ? notes : "" },
    };

    g_return_val_if_fail (store != NULL, FALSE);
    g_return_val_if_fail (uuid != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    return write_run_ (store, uuid, "set the notes of run", writes, G_N_ELEMENTS (writes), error);
}

gboolean
dinolab_store_set_keep_last (DinolabStore *store, const char *uuid, int keep_last, GError **error)
{
    gint64 value = keep_last;
    const RunWrite writes[] = {
        { .sql = "UPDATE runs SET keep_last = ?2 WHERE id = ?1", .bind = bind_int64_, .data = &value },
    };

    g_return_val_if_fail (store != NULL, FALSE);
    g_return_val_if_fail (uuid != NULL, FALSE);
    g_return_val_if_fail (keep_last >= 0, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    return write_run_ (store, uuid, "set the checkpoints kept by run", writes, G_N_ELEMENTS (writes), error);
}

/* A status change (SQL_SET_STATUS). */
typedef struct {
    DinolabRunStatus status;
    double           now;     /* unix seconds; 0: when the statement is bound */
} StatusChange;

/* ?2 to ?6 of SQL_SET_STATUS; this process claims the run when the status is live. */
static gboolean
bind_status_ (sqlite3_stmt *st, guint row, gconstpointer data)
{
    const StatusChange *c = data;

    if (row > 0)
        return FALSE;
    bind_text_ (st, 2, status_names[c->status]);
    sqlite3_bind_double (st, 3, c->now > 0.0 ? c->now : now_ ());
    bind_text_ (st, 4, g_get_host_name ());
    sqlite3_bind_int64 (st, 5, (gint64) getpid ());
    sqlite3_bind_int (st, 6, status_is_live_ (c->status));
    return TRUE;
}

gboolean
dinolab_store_set_status (DinolabStore *store, const char *uuid, DinolabRunStatus status,
                          GError **error)
{
    StatusChange change = { .status = status };
    const RunWrite writes[] = {
        { .sql = SQL_SET_STATUS, .bind = bind_status_, .data = &change },
    };

    g_return_val_if_fail (store != NULL, FALSE);
    g_return_val_if_fail (uuid != NULL, FALSE);
    g_return_val_if_fail ((int) status >= 0 && status < DINOLAB_RUN_STATUS_N, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    return write_run_ (store, uuid, "set the status of run", writes, G_N_ELEMENTS (writes), error);
}

static gboolean
change_tags_ (DinolabStore *store, const char *uuid, const char *const *tags, gboolean add,
              GError **error)
{
    const RunWrite adds[] = {
        { .sql = SQL_INSERT_TAG, .bind = bind_tags_, .data = tags, .what = "add a tag" },
    };
    const RunWrite removes[] = {
        { .sql = "DELETE FROM run_tags WHERE run_id = ?1 AND tag = ?2", .bind = bind_tags_,
          .data = tags },
    };

    if (!check_tags_ (tags, error))
        return FALSE;
    return write_run_ (store, uuid, add ? "add tags of run" : "remove tags of run",
                       add ? adds : removes, 1, error);
}

gboolean
dinolab_store_add_tags (DinolabStore *store, const char *uuid, const char *const *tags,
                        GError **error)
{
    g_return_val_if_fail (store != NULL, FALSE);
    g_return_val_if_fail (uuid != NULL, FALSE);
    g_return_val_if_fail (tags != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
    return change_tags_ (store, uuid, tags, TRUE, error);
}

gboolean
dinolab_store_remove_tags (DinolabStore *store, const char *uuid, const char *const *tags,
                           GError **error)
{
    g_return_val_if_fail (store != NULL, FALSE);
    g_return_val_if_fail (uuid != NULL, FALSE);
    g_return_val_if_fail (tags != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
    return change_tags_ (store, uuid, tags, FALSE, error);
}

/* Removes @path and everything below it, never following symbolic links.
 * A missing @path is not an error. */
static gboolean
remove_tree_ (const char *path, GError **error)
{
    GStatBuf sb;
    int errsv;

    if (g_lstat (path, &sb) != 0)
        return errno == ENOENT ? TRUE : (errsv = errno,
               g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot remove: %s", path,
                            g_strerror (errsv)), FALSE);
    if (S_ISDIR (sb.st_mode)) {
        g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
        const char *name;
        if (dir == NULL) {
            errsv = errno;
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot open the folder: %s",
                         path, g_strerror (errsv));
            return FALSE;
        }
        while ((name = g_dir_read_name (dir)) != NULL) {
            g_autofree char *child = g_build_filename (path, name, NULL);
            if (!remove_tree_ (child, error))
                return FALSE;
        }
        if (g_rmdir (path) != 0) {
            errsv = errno;
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot remove the folder: %s",
                         path, g_strerror (errsv));
            return FALSE;
        }
        return TRUE;
    }
    if (g_unlink (path) != 0) {
        errsv = errno;
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot remove: %s", path,
                     g_strerror (errsv));
        return FALSE;
    }
    return TRUE;
}

gboolean
dinolab_store_delete_run (DinolabStore *store, const char *uuid, GError **error)
{
    /* Explicit deletes, so a connection without foreign keys could not leave orphans. */
    static const RunWrite deletes[] = {
        { .sql = "DELETE FROM metrics WHERE run_id = ?1" },
        { .sql = "DELETE FROM run_metrics WHERE run_id = ?1" },
        { .sql = "DELETE FROM run_tags WHERE run_id = ?1" },
        { .sql = "DELETE FROM run_hparams WHERE run_id = ?1" },
        { .sql = "DELETE FROM checkpoints WHERE run_id = ?1" },
        { .sql = "DELETE FROM markers WHERE run_id = ?1" },
        { .sql = "DELETE FROM snapshots WHERE run_id = ?1" },
        { .sql = "DELETE FROM runs WHERE id = ?1" },
    };
    g_autofree char *dir = NULL;
    g_autoptr (GError) local = NULL;

    g_return_val_if_fail (store != NULL, FALSE);
    g_return_val_if_fail (uuid != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    if (!write_run_ (store, uuid, "delete run", deletes, G_N_ELEMENTS (deletes), error))
        return FALSE;

    /* The uuid came from the database; a valid uuid cannot climb out of runs/. */
    if (!g_uuid_string_is_valid (uuid))
        return TRUE;
    dir = g_build_filename (store->folder, "runs", uuid, NULL);
    if (!remove_tree_ (dir, &local)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO,
                     "run %s was deleted from %s, but its folder could not be removed: %s",
                     uuid, store->path, local->message);
        return FALSE;
    }
    return TRUE;
}

char *
dinolab_store_get_hparams_json (DinolabStore *store, const char *uuid, GError **error)
{
    g_autoptr (GMutexLocker) locker = NULL;
    g_autoptr (StoreStmt) st = NULL;
    int rc;

    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (uuid != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    locker = g_mutex_locker_new (&store->lock);
    if ((st = stmt_ (store, "SELECT hparams FROM runs WHERE uuid = ?1", error)) == NULL)
        return NULL;
    bind_text_ (st, 1, uuid);
    rc = sqlite3_step (st);
    if (rc == SQLITE_ROW)
        return g_strdup (col_text_ (st, 0));
    if (rc != SQLITE_DONE)
        store_error_ (store, rc, "read the hyperparameters of a run", error);
    else
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT, "no run '%s' in %s", uuid,
                     store->path);
    return NULL;
}

GHashTable *
dinolab_store_get_hparams_table (DinolabStore *store, const char *uuid, GError **error)
{
    g_autoptr (GMutexLocker) locker = NULL;
    g_autoptr (GHashTable) table = NULL;
    gint64 run_id;
    int rc;

    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (uuid != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    locker = g_mutex_locker_new (&store->lock);
    if ((run_id = run_id_ (store, uuid, error)) == 0)
        return NULL;
    table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    {
        g_autoptr (StoreStmt) st = stmt_ (store, "SELECT key, value FROM run_hparams WHERE run_id = ?1",
                                          error);
        if (st == NULL)
            return NULL;
        sqlite3_bind_int64 (st, 1, run_id);
        while ((rc = sqlite3_step (st)) == SQLITE_ROW)
            g_hash_table_insert (table, g_strdup (col_text_ (st, 0)), g_strdup (col_text_ (st, 1)));
        if (rc != SQLITE_DONE) {
            store_error_ (store, rc, "read the hyperparameters of a run", error);
            return NULL;
        }
    }
    return g_steal_pointer (&table);
}

// ----------------------------------------------------------------------------
// Metrics: reading

void
dinolab_metric_series_free (DinolabMetricSeries *series)
{
    if (series == NULL)
        return;
    g_free (series->name);
    g_free (series->step);
    g_free (series->epoch);
    g_free (series->wall);
    g_free (series->value);
    g_free (series);
}

void
dinolab_metric_last_free (DinolabMetricLast *last)
{
    if (last == NULL)
        return;
    g_free (last->name);
    g_free (last);
}

DinolabMetricSeries *
dinolab_store_read_series (DinolabStore *store, const char *uuid, const char *name,
                           gint64 after_step, GError **error)
{
    g_autoptr (GMutexLocker) locker = NULL;
    g_autoptr (DinolabMetricSeries) s = NULL;
    g_autoptr (StoreStmt) st = NULL;
    gsize cap = 0;
    gint64 run_id;
    int rc;

    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (uuid != NULL, NULL);
    g_return_val_if_fail (name != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    locker = g_mutex_locker_new (&store->lock);
    if ((run_id = run_id_ (store, uuid, error)) == 0)
        return NULL;
    /* The count from run_metrics sizes the arrays at once (it can be short by the
     * points a writer commits meanwhile: the arrays then grow). */
    {
        g_autoptr (StoreStmt) cst = stmt_ (store, "SELECT r.n FROM run_metrics r JOIN metric_names m"
                                           " ON m.id = r.metric_id WHERE r.run_id = ?1 AND m.name = ?2",
                                           error);
        if (cst == NULL)
            return NULL;
        sqlite3_bind_int64 (cst, 1, run_id);
        bind_text_ (cst, 2, name);
        if (sqlite3_step (cst) == SQLITE_ROW)
            cap = (gsize) MAX (0, sqlite3_column_int64 (cst, 0));
    }
    s = g_new0 (DinolabMetricSeries, 1);
    s->name = g_strdup (name);
    cap = MAX (cap, 16);
    s->step = g_new (gint64, cap);
    s->epoch = g_new (double, cap);
    s->wall = g_new (double, cap);
    s->value = g_new (double, cap);

    st = stmt_ (store, "SELECT step, epoch, wall, value FROM metrics WHERE run_id = ?1"
                " AND metric_id = (SELECT id FROM metric_names WHERE name = ?2) AND step > ?3"
                " ORDER BY step", error);
    if (st == NULL)
        return NULL;
    sqlite3_bind_int64 (st, 1, run_id);
    bind_text_ (st, 2, name);
    sqlite3_bind_int64 (st, 3, after_step);
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        if (s->n == cap) {
            cap *= 2;
            s->step = g_renew (gint64, s->step, cap);
            s->epoch = g_renew (double, s->epoch, cap);
            s->wall = g_renew (double, s->wall, cap);
            s->value = g_renew (double, s->value, cap);
        }
        s->step[s->n] = sqlite3_column_int64 (st, 0);
        s->epoch[s->n] = col_double_ (st, 1, NAN);
        s->wall[s->n] = col_double_ (st, 2, NAN);
        s->value[s->n] = col_double_ (st, 3, NAN);
        s->n++;
    }
    if (rc != SQLITE_DONE) {
        g_autofree char *what = g_strdup_printf ("read metric %s", name);
        store_error_ (store, rc, what, error);
        return NULL;
    }
    return g_steal_pointer (&s);
}

char **
dinolab_store_list_metrics (DinolabStore *store, const char *uuid, GError **error)
{
    g_autoptr (GMutexLocker) locker = NULL;
    g_autoptr (GPtrArray) names = NULL;
    g_autoptr (StoreStmt) st = NULL;
    int rc;

    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (uuid != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    locker = g_mutex_locker_new (&store->lock);
    st = run_stmt_ (store, uuid, "SELECT m.name FROM run_metrics r JOIN metric_names m ON m.id = r.metric_id"
                " WHERE r.run_id = ?1 AND r.n > 0 ORDER BY m.name", error);
    if (st == NULL)
        return NULL;
    names = g_ptr_array_new_with_free_func (g_free);
    while ((rc = sqlite3_step (st)) == SQLITE_ROW)
        g_ptr_array_add (names, g_strdup (col_text_ (st, 0)));
    if (rc != SQLITE_DONE) {
        store_error_ (store, rc, "list the metrics of a run", error);
        return NULL;
    }
    g_ptr_array_add (names, NULL);
    return (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

GPtrArray *
dinolab_store_get_last_metrics (DinolabStore *store, const char *uuid, GError **error)
{
    g_autoptr (GMutexLocker) locker = NULL;
    g_autoptr (GPtrArray) out = NULL;
    g_autoptr (StoreStmt) st = NULL;
    int rc;

    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (uuid != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    locker = g_mutex_locker_new (&store->lock);
    st = run_stmt_ (store, uuid, "SELECT m.name, r.n, r.last_step, r.last_epoch, r.last_wall, r.last_value,"
                " r.min_value, r.max_value FROM run_metrics r JOIN metric_names m"
                " ON m.id = r.metric_id WHERE r.run_id = ?1 AND r.n > 0 ORDER BY m.name", error);
    if (st == NULL)
        return NULL;
    out = g_ptr_array_new_with_free_func ((GDestroyNotify) dinolab_metric_last_free);
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        DinolabMetricLast *l = g_new0 (DinolabMetricLast, 1);
        l->name = g_strdup (col_text_ (st, 0));
        l->n = sqlite3_column_int64 (st, 1);
        l->step = sqlite3_column_int64 (st, 2);
        l->epoch = col_double_ (st, 3, NAN);
        l->wall = col_double_ (st, 4, NAN);
        l->value = col_double_ (st, 5, NAN);
        l->min = col_double_ (st, 6, NAN);
        l->max = col_double_ (st, 7, NAN);
        g_ptr_array_add (out, l);
    }
    if (rc != SQLITE_DONE) {
        store_error_ (store, rc, "read the last metrics of a run", error);
        return NULL;
    }
    return g_steal_pointer (&out);
}

/* Deletes what run @uuid has past @after_step and recomputes the run's summary from
 * the points left: the metrics, and with @children also the markers and attention
 * snapshots. Checkpoint rows are the trainer's to thin (it deletes the files). */
static gboolean
truncate_ (DinolabStore *store, const char *uuid, gint64 after_step, gboolean children,
           GError **error)
{
    const RunWrite writes[] = {
        /* with @children only: the first two */
        { .sql = "DELETE FROM markers WHERE run_id = ?1 AND step > ?2", .bind = bind_int64_,
          .data = &after_step },
        { .sql = "DELETE FROM snapshots WHERE run_id = ?1 AND step > ?2", .bind = bind_int64_,
          .data = &after_step },
        /* metrics, then run_metrics and the summary built again from them */
        { .sql = "DELETE FROM metrics WHERE run_id = ?1 AND step > ?2", .bind = bind_int64_,
          .data = &after_step },
        { .sql = "DELETE FROM run_metrics WHERE run_id = ?1" },
        { .sql = "INSERT INTO run_metrics (run_id, metric_id, n, last_step, min_value, max_value)"
                 " SELECT run_id, metric_id, count (*), max (step), min (value), max (value)"
                 " FROM metrics WHERE run_id = ?1 GROUP BY metric_id" },
        { .sql = "UPDATE run_metrics SET (last_epoch, last_wall, last_value) ="
                 " (SELECT epoch, wall, value FROM metrics p WHERE p.run_id = run_metrics.run_id"
                 "  AND p.metric_id = run_metrics.metric_id AND p.step = run_metrics.last_step)"
                 " WHERE run_id = ?1" },
        { .sql = SQL_UPDATE_SUMMARY },
    };
    gsize skip = children ? 0 : 2;

    return write_run_ (store, uuid, children ? "truncate run" : "truncate the metrics of run",
                       writes + skip, G_N_ELEMENTS (writes) - skip, error);
}

gboolean
dinolab_store_truncate_metrics (DinolabStore *store, const char *uuid, gint64 after_step,
                                GError **error)
{
    g_return_val_if_fail (store != NULL, FALSE);
    g_return_val_if_fail (uuid != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    return truncate_ (store, uuid, after_step, FALSE, error);
}

gboolean
dinolab_store_truncate_after (DinolabStore *store, const char *uuid, gint64 after_step,
                              GError **error)
{
    g_return_val_if_fail (store != NULL, FALSE);
    g_return_val_if_fail (uuid != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    return truncate_ (store, uuid, after_step, TRUE, error);
}

// ----------------------------------------------------------------------------
// Checkpoints

void
dinolab_checkpoint_info_free (DinolabCheckpointInfo *info)
{
    if (info == NULL)
        return;
    g_free (info->path);
    g_free (info->sha256);
    g_free (info);
}

char *
dinolab_store_hash_file (const char *path, gint64 *size, GError **error)
{
    g_autoptr (GChecksum) sum = NULL;
    g_autofree guchar *buf = NULL;
    gint64 total = 0;
    FILE *fp;
    size_t n;
    int errsv;

    g_return_val_if_fail (path != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    fp = g_fopen (path, "rb");
    if (fp == NULL) {
        errsv = errno;
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot open: %s", path,
                     g_strerror (errsv));
        return NULL;
    }
    sum = g_checksum_new (G_CHECKSUM_SHA256);
    buf = g_malloc (1 << 20);
    while ((n = fread (buf, 1, 1 << 20, fp)) > 0) {
        g_checksum_update (sum, buf, n);
        total += (gint64) n;
    }
    errsv = errno;
    if (ferror (fp)) {
        fclose (fp);
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot read: %s", path,
                     g_strerror (errsv));
        return NULL;
    }
    fclose (fp);
    if (size != NULL)
        *size = total;
    return g_strdup (g_checksum_get_string (sum));
}

/* The path as stored: relative to the folder when inside it. NULL with
 * INVALID_INPUT for an empty path or one with a ".." component. */
static char *
checkpoint_rel_path_ (DinolabStore *store, const char *path, GError **error)
{
    g_auto (GStrv) parts = g_strsplit (path, G_DIR_SEPARATOR_S, -1);
    g_autofree char *prefix = g_strconcat (store->folder, G_DIR_SEPARATOR_S, NULL);

    for (char **p = parts; *p != NULL; p++)
        if (strcmp (*p, "..") == 0) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "checkpoint path '%s': '..' is not allowed", path);
            return NULL;
        }
    if (*path == '\0') {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT, "empty checkpoint path");
        return NULL;
    }
    if (g_str_has_prefix (path, prefix) && path[strlen (prefix)] != '\0')
        return g_strdup (path + strlen (prefix));
    return g_strdup (path);
}

static gboolean
valid_sha256_ (const char *hex)
{
    if (strlen (hex) != 64)
        return FALSE;
    for (const char *p = hex; *p != '\0'; p++)
        if (!g_ascii_isxdigit (*p))
            return FALSE;
    return TRUE;
}

/* A checkpoint row: ?2 to ?7 of the insert in dinolab_store_add_checkpoint. */
typedef struct {
    gint64      step;
    int         epoch;
    const char *path;     /* as stored */
    const char *sha256;   /* lowercase */
    gint64      size;
} CheckpointRow;

static gboolean
bind_checkpoint_ (sqlite3_stmt *st, guint row, gconstpointer data)
{
    const CheckpointRow *c = data;

    if (row > 0)
        return FALSE;
    sqlite3_bind_int64 (st, 2, c->step);
    sqlite3_bind_int (st, 3, c->epoch);
    bind_text_ (st, 4, c->path);
    bind_text_ (st, 5, c->sha256);
    sqlite3_bind_int64 (st, 6, c->size);
    sqlite3_bind_double (st, 7, now_ ());
    return TRUE;
}

gboolean
dinolab_store_add_checkpoint (DinolabStore *store, const char *uuid, gint64 step, int epoch,
                              const char *path, const char *sha256, gint64 size, GError **error)
{
    g_autofree char *rel = NULL, *hex = NULL;
    CheckpointRow c = { .step = step, .epoch = epoch, .size = size };
    const RunWrite writes[] = {
        { .sql = "INSERT OR REPLACE INTO checkpoints (run_id, step, epoch, path, sha256, size,"
                 " created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
          .bind = bind_checkpoint_, .data = &c },
    };

    g_return_val_if_fail (store != NULL, FALSE);
    g_return_val_if_fail (uuid != NULL, FALSE);
    g_return_val_if_fail (path != NULL, FALSE);
    g_return_val_if_fail (sha256 != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    if (step < 0 || size < 0) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "checkpoint %s: step %" G_GINT64_FORMAT " and size %" G_GINT64_FORMAT
                     " must be >= 0", path, step, size);
        return FALSE;
    }
    if (!valid_sha256_ (sha256)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "checkpoint %s: sha256 '%s' is not 64 hex digits", path, sha256);
        return FALSE;
    }
    if ((rel = checkpoint_rel_path_ (store, path, error)) == NULL)
        return FALSE;
    c.path = rel;
    c.sha256 = hex = g_ascii_strdown (sha256, -1);
    return write_run_ (store, uuid, "add a checkpoint to run", writes, G_N_ELEMENTS (writes),
                       error);
}

static GPtrArray *
query_checkpoints_ (DinolabStore *store, const char *uuid, gboolean latest, GError **error)
{
    g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);
    g_autoptr (GPtrArray) out = NULL;
    g_autoptr (StoreStmt) st = NULL;
    int rc;

    st = run_stmt_ (store, uuid, latest ? "SELECT step, epoch, path, sha256, size, created FROM checkpoints"
                                " WHERE run_id = ?1 ORDER BY step DESC LIMIT 1"
                              : "SELECT step, epoch, path, sha256, size, created FROM checkpoints"
                                " WHERE run_id = ?1 ORDER BY step", error);
    if (st == NULL)
        return NULL;
    out = g_ptr_array_new_with_free_func ((GDestroyNotify) dinolab_checkpoint_info_free);
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        DinolabCheckpointInfo *c = g_new0 (DinolabCheckpointInfo, 1);
        c->step = sqlite3_column_int64 (st, 0);
        c->epoch = sqlite3_column_int (st, 1);
        c->path = g_strdup (col_text_ (st, 2));
        c->sha256 = g_strdup (col_text_ (st, 3));
        c->size = sqlite3_column_int64 (st, 4);
        c->created = col_double_ (st, 5, 0.0);
        g_ptr_array_add (out, c);
    }
    if (rc != SQLITE_DONE) {
        store_error_ (store, rc, "list the checkpoints of a run", error);
        return NULL;
    }
    return g_steal_pointer (&out);
}

GPtrArray *
dinolab_store_list_checkpoints (DinolabStore *store, const char *uuid, GError **error)
{
    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (uuid != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);
    return query_checkpoints_ (store, uuid, FALSE, error);
}

DinolabCheckpointInfo *
dinolab_store_get_latest_checkpoint (DinolabStore *store, const char *uuid, GError **error)
{
    g_autoptr (GPtrArray) list = NULL;

    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (uuid != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    list = query_checkpoints_ (store, uuid, TRUE, error);
    if (list == NULL || list->len == 0)
        return NULL;
    return g_ptr_array_steal_index (list, 0);
}

gboolean
dinolab_store_delete_checkpoint (DinolabStore *store, const char *uuid, gint64 step,
                                 GError **error)
{
    const RunWrite writes[] = {
        { .sql = "DELETE FROM checkpoints WHERE run_id = ?1 AND step = ?2", .bind = bind_int64_,
          .data = &step },
    };

    g_return_val_if_fail (store != NULL, FALSE);
    g_return_val_if_fail (uuid != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    return write_run_ (store, uuid, "delete a checkpoint of run", writes, G_N_ELEMENTS (writes),
                       error);
}

// ----------------------------------------------------------------------------
// Markers and snapshots. The binders serve the store's own writes and the writer
// thread alike (the writer binds ?1 and steps its own statements).

/* A marker: ?2 to ?5 of SQL_INSERT_MARKER. */
typedef struct {
    gint64      step;
    const char *kind;
    const char *text;   /* NULL: "" */
} MarkerRow;

static gboolean
bind_marker_ (sqlite3_stmt *st, guint row, gconstpointer data)
{
    const MarkerRow *m = data;

    if (row > 0)
        return FALSE;
    sqlite3_bind_int64 (st, 2, m->step);
    bind_text_ (st, 3, m->kind);
    bind_text_ (st, 4, m->text != NULL ? m->text : "");
    sqlite3_bind_double (st, 5, now_ ());
    return TRUE;
}

/* ?2 to ?10 of SQL_INSERT_SNAPSHOT from the DinolabAttentionSnapshot @data. On a
 * little-endian host the maps are bound without a copy (SQLITE_STATIC): @data must
 * live until the statement is reset, as it does in run_writes_ and writer_commit_. */
static gboolean
bind_snapshot_ (sqlite3_stmt *st, guint row, gconstpointer data)
{
    const DinolabAttentionSnapshot *s = data;
    g_autoptr (GString) idx = NULL;
    gsize n_floats;

    if (row > 0)
        return FALSE;
    n_floats = (gsize) s->n_images * s->heads * s->grid_h * s->grid_w;
    idx = g_string_new (NULL);
    for (int i = 0; i < s->n_images; i++)
        g_string_append_printf (idx, "%s%d", i > 0 ? "," : "", s->image_indices[i]);
    sqlite3_bind_int64 (st, 2, s->step);
    bind_double_or_null_ (st, 3, s->epoch);
    sqlite3_bind_int (st, 4, s->n_images);
    sqlite3_bind_int (st, 5, s->heads);
    sqlite3_bind_int (st, 6, s->grid_h);
    sqlite3_bind_int (st, 7, s->grid_w);
    bind_text_ (st, 8, idx->str);
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
    sqlite3_bind_blob64 (st, 9, s->maps, n_floats * sizeof (float), SQLITE_STATIC);
#else
    {
        /* stored little-endian; SQLite frees the copy when the binding ends */
        guint32 *le = g_new (guint32, n_floats);
        memcpy (le, s->maps, n_floats * sizeof (float));
        for (gsize i = 0; i < n_floats; i++)
            le[i] = GUINT32_TO_LE (le[i]);
        sqlite3_bind_blob64 (st, 9, le, n_floats * sizeof (float), g_free);
    }
#endif
    sqlite3_bind_double (st, 10, now_ ());
    return TRUE;
}

void
dinolab_marker_free (DinolabMarker *marker)
{
    if (marker == NULL)
        return;
    g_free (marker->kind);
    g_free (marker->text);
    g_free (marker);
}

gboolean
dinolab_store_add_marker (DinolabStore *store, const char *uuid, gint64 step, const char *kind,
                          const char *text, GError **error)
{
    MarkerRow m = { .step = step, .kind = kind, .text = text };
    const RunWrite writes[] = {
        { .sql = SQL_INSERT_MARKER, .bind = bind_marker_, .data = &m },
    };

    g_return_val_if_fail (store != NULL, FALSE);
    g_return_val_if_fail (uuid != NULL, FALSE);
    g_return_val_if_fail (kind != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    if (!valid_kind_ (kind)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "marker kind '%s': 1 to 32 characters of a-z, 0-9, '_' and '-'", kind);
        return FALSE;
    }
    return write_run_ (store, uuid, "add a marker to run", writes, G_N_ELEMENTS (writes), error);
}

GPtrArray *
dinolab_store_list_markers (DinolabStore *store, const char *uuid, GError **error)
{
    g_autoptr (GMutexLocker) locker = NULL;
    g_autoptr (GPtrArray) out = NULL;
    g_autoptr (StoreStmt) st = NULL;
    int rc;

    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (uuid != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    locker = g_mutex_locker_new (&store->lock);
    st = run_stmt_ (store, uuid, "SELECT step, kind, text, created FROM markers WHERE run_id = ?1"
                " ORDER BY step, id", error);
    if (st == NULL)
        return NULL;
    out = g_ptr_array_new_with_free_func ((GDestroyNotify) dinolab_marker_free);
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        DinolabMarker *m = g_new0 (DinolabMarker, 1);
        m->step = sqlite3_column_int64 (st, 0);
        m->kind = g_strdup (col_text_ (st, 1));
        m->text = g_strdup (col_text_ (st, 2));
        m->created = col_double_ (st, 3, 0.0);
        g_ptr_array_add (out, m);
    }
    if (rc != SQLITE_DONE) {
        store_error_ (store, rc, "list the markers of a run", error);
        return NULL;
    }
    return g_steal_pointer (&out);
}

void
dinolab_attention_snapshot_free (DinolabAttentionSnapshot *snapshot)
{
    if (snapshot == NULL)
        return;
    g_free (snapshot->image_indices);
    g_free (snapshot->maps);
    g_free (snapshot);
}

gboolean
dinolab_store_add_snapshot (DinolabStore *store, const char *uuid, gint64 step, double epoch,
                            int n_images, const int *image_indices, int heads, int grid_h,
                            int grid_w, const float *maps, GError **error)
{
    /* borrows the caller's arrays (bind_snapshot_ copies or binds them statically) */
    const DinolabAttentionSnapshot snap = {
        .step = step, .epoch = epoch, .n_images = n_images, .heads = heads, .grid_h = grid_h,
        .grid_w = grid_w, .image_indices = (int *) image_indices, .maps = (float *) maps,
    };
    const RunWrite writes[] = {
        { .sql = SQL_INSERT_SNAPSHOT, .bind = bind_snapshot_, .data = &snap },
    };

    g_return_val_if_fail (store != NULL, FALSE);
    g_return_val_if_fail (uuid != NULL, FALSE);
    g_return_val_if_fail (image_indices != NULL, FALSE);
    g_return_val_if_fail (maps != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    if (!valid_snapshot_shape_ (n_images, heads, grid_h, grid_w)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "attention snapshot at step %" G_GINT64_FORMAT ": shape [%d,%d,%dx%d] is "
                     "not allowed (every size >= 1, at most 2^28 values)", step, n_images, heads,
                     grid_h, grid_w);
        return FALSE;
    }
    return write_run_ (store, uuid, "add an attention snapshot to run", writes,
                       G_N_ELEMENTS (writes), error);
}

GArray *
dinolab_store_list_snapshot_steps (DinolabStore *store, const char *uuid, GError **error)
{
    g_autoptr (GMutexLocker) locker = NULL;
    g_autoptr (GArray) out = NULL;
    g_autoptr (StoreStmt) st = NULL;
    int rc;

    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (uuid != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    locker = g_mutex_locker_new (&store->lock);
    st = run_stmt_ (store, uuid, "SELECT step FROM snapshots WHERE run_id = ?1 ORDER BY step", error);
    if (st == NULL)
        return NULL;
    out = g_array_new (FALSE, FALSE, sizeof (gint64));
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        gint64 s = sqlite3_column_int64 (st, 0);
        g_array_append_val (out, s);
    }
    if (rc != SQLITE_DONE) {
        store_error_ (store, rc, "list the attention snapshots of a run", error);
        return NULL;
    }
    return g_steal_pointer (&out);
}

DinolabAttentionSnapshot *
dinolab_store_get_snapshot (DinolabStore *store, const char *uuid, gint64 step, GError **error)
{
    g_autoptr (GMutexLocker) locker = NULL;
    g_autoptr (DinolabAttentionSnapshot) s = NULL;
    g_autoptr (StoreStmt) st = NULL;
    g_auto (GStrv) idx = NULL;
    gint64 n_floats;
    int rc;

    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (uuid != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    locker = g_mutex_locker_new (&store->lock);
    st = run_stmt_ (store, uuid, step >= 0
                ? "SELECT step, epoch, n_images, heads, grid_h, grid_w, image_indices, maps"
                  " FROM snapshots WHERE run_id = ?1 AND step = ?2"
                : "SELECT step, epoch, n_images, heads, grid_h, grid_w, image_indices, maps"
                  " FROM snapshots WHERE run_id = ?1 ORDER BY step DESC LIMIT 1", error);
    if (st == NULL)
        return NULL;
    if (step >= 0)
        sqlite3_bind_int64 (st, 2, step);
    rc = sqlite3_step (st);
    if (rc == SQLITE_DONE) {
        if (step >= 0)
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "run %s has no attention snapshot at step %" G_GINT64_FORMAT, uuid, step);
        else
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "run %s has no attention snapshot", uuid);
        return NULL;
    }
    if (rc != SQLITE_ROW) {
        store_error_ (store, rc, "read an attention snapshot", error);
        return NULL;
    }
    s = g_new0 (DinolabAttentionSnapshot, 1);
    s->step = sqlite3_column_int64 (st, 0);
    s->epoch = col_double_ (st, 1, NAN);
    s->n_images = sqlite3_column_int (st, 2);
    s->heads = sqlite3_column_int (st, 3);
    s->grid_h = sqlite3_column_int (st, 4);
    s->grid_w = sqlite3_column_int (st, 5);
    idx = g_strsplit (col_text_ (st, 6), ",", -1);
    if (!valid_snapshot_shape_ (s->n_images, s->heads, s->grid_h, s->grid_w) ||
        g_strv_length (idx) != (guint) s->n_images ||
        (gint64) sqlite3_column_bytes (st, 7) !=
            (n_floats = (gint64) s->n_images * s->heads * s->grid_h * s->grid_w) * (gint64) sizeof (float)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB,
                     "%s: attention snapshot of run %s at step %" G_GINT64_FORMAT " is damaged: "
                     "shape [%d,%d,%dx%d], %d bytes of maps, %u image indices", store->path, uuid,
                     s->step, s->n_images, s->heads, s->grid_h, s->grid_w,
                     sqlite3_column_bytes (st, 7), g_strv_length (idx));
        return NULL;
    }
    s->image_indices = g_new (int, s->n_images);
    for (int i = 0; i < s->n_images; i++)
        s->image_indices[i] = (int) g_ascii_strtoll (idx[i], NULL, 10);
    s->maps = g_new (float, n_floats);
    memcpy (s->maps, sqlite3_column_blob (st, 7), (size_t) n_floats * sizeof (float));
#if G_BYTE_ORDER != G_LITTLE_ENDIAN
    for (gint64 i = 0; i < n_floats; i++) {
        guint32 *u = (guint32 *) &s->maps[i];
        *u = GUINT32_FROM_LE (*u);
    }
#endif
    return g_steal_pointer (&s);
}

// ----------------------------------------------------------------------------
// The writer
//
// The training thread appends WriterItems to `queue` under `lock` and returns. The
// writer thread wakes every WRITER_TICK_US (or when the queue is long, a flush is
// asked for, or the writer is freed), takes the whole queue, and commits it in one
// transaction with the run's summary and heartbeat. A failed commit puts the items
// back in front of the queue and retries at the next tick.

typedef enum {
    ITEM_POINT,
    ITEM_MARKER,
    ITEM_STATUS,
    ITEM_SNAPSHOT,
} WriterItemKind;

typedef struct {
    WriterItemKind kind;
    gint64         step;
    double         epoch, wall, value;    /* points */
    const char    *key;                   /* interned: metric name or marker kind */
    char          *text;                  /* marker text, owned */
    DinolabRunStatus status;
    DinolabAttentionSnapshot *snapshot;   /* owned */
} WriterItem;

/* Per-metric aggregate of one batch, for the run_metrics upsert. */
typedef struct {
    gint64 n_new;
    gint64 last_step;
    double last_epoch, last_wall, last_value;
    double min, max;                      /* over non-NaN values; NAN if none */
} MetricAgg;

struct _DinolabStoreWriter {
    GMutex      lock;
    GCond       cond;           /* queue grew, flush asked, quit, or a commit ended */
    GArray     *queue;          /* WriterItem */
    guint64     n_pushed;       /* items ever pushed */
    guint64     n_committed;    /* items ever committed (or dropped: run deleted) */
    guint64     n_attempts;     /* commit attempts ended */
    GError     *error;          /* error of the last attempt, NULL if it succeeded */
    gboolean    flush_now;
    guint       n_flushing;     /* threads waiting in flush */
    gboolean    quit;
    gboolean    run_gone;       /* the run was deleted: items are dropped */
    GThread    *thread;

    /* writer thread only (and writer_new / writer_free around it) */
    sqlite3    *db;
    char       *path;
    char       *uuid;
    char       *commit_msg;     /* SQLite's message for the last failed commit */
    int         busy_ms;
    gint64      run_id;
    DinolabRunStatus status;    /* what a heartbeat restores over a wrong `interrupted` */
    double      last_beat;
    GHashTable *metric_ids;     /* interned name -> GINT64 id (valid after a commit) */
    sqlite3_stmt *st_name_insert, *st_name_select, *st_point_insert, *st_point_update,
                 *st_agg, *st_summary, *st_beat, *st_status, *st_marker, *st_snapshot;
};

static void
writer_item_clear_ (WriterItem *item)
{
    g_clear_pointer (&item->text, g_free);
    g_clear_pointer (&item->snapshot, dinolab_attention_snapshot_free);
}

static int
writer_prepare_ (DinolabStoreWriter *w)
{
    struct { sqlite3_stmt **st; const char *sql; } all[] = {
        { &w->st_name_insert, "INSERT OR IGNORE INTO metric_names (name) VALUES (?1)" },
        { &w->st_name_select, "SELECT id FROM metric_names WHERE name = ?1" },
        { &w->st_point_insert, "INSERT OR IGNORE INTO metrics (run_id, metric_id, step, epoch, wall,"
                               " value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)" },
        { &w->st_point_update, "UPDATE metrics SET epoch = ?4, wall = ?5, value = ?6"
                               " WHERE run_id = ?1 AND metric_id = ?2 AND step = ?3" },
        { &w->st_agg,
          "INSERT INTO run_metrics (run_id, metric_id, n, last_step, last_epoch, last_wall,"
          " last_value, min_value, max_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
          " ON CONFLICT (run_id, metric_id) DO UPDATE SET"
          " n = n + excluded.n,"
          " last_epoch = CASE WHEN excluded.last_step >= last_step THEN excluded.last_epoch"
          "              ELSE last_epoch END,"
          " last_wall = CASE WHEN excluded.last_step >= last_step THEN excluded.last_wall"
          "             ELSE last_wall END,"
          " last_value = CASE WHEN excluded.last_step >= last_step THEN excluded.last_value"
          "              ELSE last_value END,"
          " last_step = max (last_step, excluded.last_step),"
          " min_value = CASE WHEN min_value IS NULL THEN excluded.min_value"
          "             WHEN excluded.min_value IS NULL THEN min_value"
          "             ELSE min (min_value, excluded.min_value) END,"
          " max_value = CASE WHEN max_value IS NULL THEN excluded.max_value"
          "             WHEN excluded.max_value IS NULL THEN max_value"
          "             ELSE max (max_value, excluded.max_value) END" },
        { &w->st_summary, SQL_UPDATE_SUMMARY },
        { &w->st_beat,
          "UPDATE runs SET heartbeat = ?2,"
          " ended = CASE WHEN status = 'interrupted' AND ?3 THEN NULL ELSE ended END,"
          " status = CASE WHEN status = 'interrupted' AND ?3 THEN ?4 ELSE status END"
          " WHERE id = ?1" },
        { &w->st_status, SQL_SET_STATUS },
        { &w->st_marker, SQL_INSERT_MARKER },
        { &w->st_snapshot, SQL_INSERT_SNAPSHOT },
    };

    for (size_t i = 0; i < G_N_ELEMENTS (all); i++) {
        int rc = sqlite3_prepare_v3 (w->db, all[i].sql, -1, SQLITE_PREPARE_PERSISTENT, all[i].st, NULL);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

static void
writer_finalize_ (DinolabStoreWriter *w)
{
    sqlite3_stmt **all[] = {
        &w->st_name_insert, &w->st_name_select, &w->st_point_insert, &w->st_point_update,
        &w->st_agg, &w->st_summary, &w->st_beat, &w->st_status, &w->st_marker, &w->st_snapshot,
    };
    for (size_t i = 0; i < G_N_ELEMENTS (all); i++)
        g_clear_pointer (all[i], sqlite3_finalize);
}

/* Steps a writer statement that returns no row, then resets it. */
static int
writer_run_ (sqlite3_stmt *st)
{
    int rc = sqlite3_step (st);
    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    return (rc == SQLITE_DONE || rc == SQLITE_ROW) ? SQLITE_OK : rc;
}

static void
writer_bind_point_ (sqlite3_stmt *st, gint64 run_id, gint64 metric_id, const WriterItem *it)
{
    sqlite3_bind_int64 (st, 1, run_id);
    sqlite3_bind_int64 (st, 2, metric_id);
    sqlite3_bind_int64 (st, 3, it->step);
    bind_double_or_null_ (st, 4, it->epoch);
    bind_double_or_null_ (st, 5, it->wall);
    bind_double_or_null_ (st, 6, it->value);
}

/* The id of metric @name (interned), inserting the name when new. */
static int
writer_metric_id_ (DinolabStoreWriter *w, const char *name, gint64 *id)
{
    gpointer v;
    int rc;

    if (g_hash_table_lookup_extended (w->metric_ids, name, NULL, &v)) {
        *id = *(gint64 *) v;
        return SQLITE_OK;
    }
    bind_text_ (w->st_name_insert, 1, name);
    if ((rc = writer_run_ (w->st_name_insert)) != SQLITE_OK)
        return rc;
    bind_text_ (w->st_name_select, 1, name);
    rc = sqlite3_step (w->st_name_select);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64 (w->st_name_select, 0);
        g_hash_table_insert (w->metric_ids, (gpointer) name, g_memdup2 (id, sizeof *id));
        rc = SQLITE_OK;
    }
    sqlite3_reset (w->st_name_select);
    sqlite3_clear_bindings (w->st_name_select);
    return rc;
}

/* Commits @items (may be empty: heartbeat only) in one transaction. */
static int
writer_commit_ (DinolabStoreWriter *w, GArray *items, double now)
{
    g_autoptr (GHashTable) aggs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
    DinolabRunStatus restore = w->status;
    int rc = sqlite3_exec (w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

    for (guint i = 0; rc == SQLITE_OK && i < items->len; i++) {
        WriterItem *it = &g_array_index (items, WriterItem, i);
        switch (it->kind) {
        case ITEM_POINT: {
            gint64 mid = 0;
            gboolean inserted = FALSE;
            MetricAgg *a;
            if ((rc = writer_metric_id_ (w, it->key, &mid)) != SQLITE_OK)
                break;
            writer_bind_point_ (w->st_point_insert, w->run_id, mid, it);
            if ((rc = writer_run_ (w->st_point_insert)) != SQLITE_OK)
                break;
            /* ignored: the point exists (re-pushed after a resume in place): update it */
            inserted = sqlite3_changes (w->db) == 1;
            if (!inserted) {
                writer_bind_point_ (w->st_point_update, w->run_id, mid, it);
                if ((rc = writer_run_ (w->st_point_update)) != SQLITE_OK)
                    break;
            }
            a = g_hash_table_lookup (aggs, &mid);
            if (a == NULL) {
                a = g_new0 (MetricAgg, 1);
                a->last_step = -1;
                a->min = a->max = NAN;
                g_hash_table_insert (aggs, g_memdup2 (&mid, sizeof mid), a);
            }
            a->n_new += inserted;
            if (it->step >= a->last_step) {
                a->last_step = it->step;
                a->last_epoch = it->epoch;
                a->last_wall = it->wall;
                a->last_value = it->value;
            }
            if (!isnan (it->value)) {
                a->min = isnan (a->min) ? it->value : MIN (a->min, it->value);
                a->max = isnan (a->max) ? it->value : MAX (a->max, it->value);
            }
            break;
        }
        case ITEM_MARKER: {
            const MarkerRow m = { .step = it->step, .kind = it->key, .text = it->text };
            sqlite3_bind_int64 (w->st_marker, 1, w->run_id);
            bind_marker_ (w->st_marker, 0, &m);
            rc = writer_run_ (w->st_marker);
            break;
        }
        case ITEM_STATUS: {
            const StatusChange c = { .status = it->status, .now = now };
            sqlite3_bind_int64 (w->st_status, 1, w->run_id);
            bind_status_ (w->st_status, 0, &c);
            rc = writer_run_ (w->st_status);
            break;
        }
        case ITEM_SNAPSHOT:
            sqlite3_bind_int64 (w->st_snapshot, 1, w->run_id);
            bind_snapshot_ (w->st_snapshot, 0, it->snapshot);
            rc = writer_run_ (w->st_snapshot);
            break;
        default:
            g_assert_not_reached ();
        }
    }
    {
        GHashTableIter hi;
        gpointer key, value;
        g_hash_table_iter_init (&hi, aggs);
        while (rc == SQLITE_OK && g_hash_table_iter_next (&hi, &key, &value)) {
            const MetricAgg *a = value;
            sqlite3_bind_int64 (w->st_agg, 1, w->run_id);
            sqlite3_bind_int64 (w->st_agg, 2, *(gint64 *) key);
            sqlite3_bind_int64 (w->st_agg, 3, a->n_new);
            sqlite3_bind_int64 (w->st_agg, 4, a->last_step);
            bind_double_or_null_ (w->st_agg, 5, a->last_epoch);
            bind_double_or_null_ (w->st_agg, 6, a->last_wall);
            bind_double_or_null_ (w->st_agg, 7, a->last_value);
            bind_double_or_null_ (w->st_agg, 8, a->min);
            bind_double_or_null_ (w->st_agg, 9, a->max);
            rc = writer_run_ (w->st_agg);
        }
    }
    if (rc == SQLITE_OK && g_hash_table_size (aggs) > 0) {
        sqlite3_bind_int64 (w->st_summary, 1, w->run_id);
        rc = writer_run_ (w->st_summary);
    }
    if (rc == SQLITE_OK) {
        /* the last status of this batch decides what a heartbeat restores */
        for (guint i = 0; i < items->len; i++) {
            const WriterItem *it = &g_array_index (items, WriterItem, i);
            if (it->kind == ITEM_STATUS)
                restore = it->status;
        }
        sqlite3_bind_int64 (w->st_beat, 1, w->run_id);
        sqlite3_bind_double (w->st_beat, 2, now);
        sqlite3_bind_int (w->st_beat, 3, status_is_live_ (restore));
        bind_text_ (w->st_beat, 4, status_names[restore]);
        rc = writer_run_ (w->st_beat);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec (w->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        /* the message does not survive the ROLLBACK */
        g_free (w->commit_msg);
        w->commit_msg = g_strdup (sqlite3_errmsg (w->db));
        if (!sqlite3_get_autocommit (w->db))
            sqlite3_exec (w->db, "ROLLBACK", NULL, NULL, NULL);
        /* names inserted by the rolled-back transaction do not exist */
        g_hash_table_remove_all (w->metric_ids);
    }
    return rc;
}

static void *
writer_thread_ (void *data)
{
    DinolabStoreWriter *w = data;
    g_autoptr (GArray) batch = g_array_new (FALSE, FALSE, sizeof (WriterItem));
    gboolean quitting = FALSE;

    g_array_set_clear_func (batch, (GDestroyNotify) writer_item_clear_);
    g_mutex_lock (&w->lock);
    while (!quitting) {
        gint64 deadline = g_get_monotonic_time () + WRITER_TICK_US;
        double now;
        gboolean beat_due;
        int rc = SQLITE_OK;

        while (!w->quit && !w->flush_now && w->queue->len < WRITER_BATCH_ITEMS)
            if (!g_cond_wait_until (&w->cond, &w->lock, deadline))
                break;
        quitting = w->quit;
        w->flush_now = FALSE;
        {   /* take the whole queue */
            GArray *tmp = w->queue;
            w->queue = batch;
            batch = tmp;
        }
        g_mutex_unlock (&w->lock);

        now = now_ ();
        beat_due = now - w->last_beat >= DINOLAB_STORE_HEARTBEAT_INTERVAL;
        if (batch->len > 0 || beat_due) {
            /* keep the statuses of this batch, for the heartbeat of later batches */
            rc = writer_commit_ (w, batch, now);
            if (rc == SQLITE_OK) {
                w->last_beat = now;
                for (guint i = 0; i < batch->len; i++)
                    if (g_array_index (batch, WriterItem, i).kind == ITEM_STATUS)
                        w->status = g_array_index (batch, WriterItem, i).status;
            }
        }

        g_mutex_lock (&w->lock);
        if (rc == SQLITE_OK) {
            w->n_committed += batch->len;
            g_clear_error (&w->error);
            g_array_set_size (batch, 0);
        } else {
            gboolean gone = FALSE;
            g_clear_error (&w->error);
            if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
                g_set_error (&w->error, DINOLAB_ERROR, DINOLAB_ERROR_DB,
                             "%s: cannot commit metrics: %s (after %d ms)", w->path, w->commit_msg,
                             w->busy_ms);
            else
                g_set_error (&w->error, DINOLAB_ERROR, DINOLAB_ERROR_DB,
                             "%s: cannot commit metrics: %s", w->path, w->commit_msg);
            if ((rc & 0xff) == SQLITE_CONSTRAINT) {
                /* the run was deleted under us: nothing can ever be stored for it */
                sqlite3_stmt *st = NULL;
                if (sqlite3_prepare_v2 (w->db, "SELECT 1 FROM runs WHERE id = ?1", -1, &st, NULL) == SQLITE_OK) {
                    sqlite3_bind_int64 (st, 1, w->run_id);
                    gone = sqlite3_step (st) == SQLITE_DONE;
                }
                sqlite3_finalize (st);
            }
            if (gone) {
                g_clear_error (&w->error);
                g_set_error (&w->error, DINOLAB_ERROR, DINOLAB_ERROR_DB,
                             "%s: run %s was deleted while it was being written; %u items dropped",
                             w->path, w->uuid, batch->len);
                w->run_gone = TRUE;
                w->n_committed += batch->len;
                g_array_set_size (batch, 0);
                w->n_committed += w->queue->len;
                g_array_set_size (w->queue, 0);
            } else if (batch->len > 0) {
                /* put the batch back in front of what was pushed meanwhile */
                g_array_append_vals (batch, w->queue->data, w->queue->len);
                g_array_set_clear_func (w->queue, NULL);
                g_array_set_size (w->queue, 0);
                g_array_set_clear_func (w->queue, (GDestroyNotify) writer_item_clear_);
                {
                    GArray *tmp = w->queue;
                    w->queue = batch;
                    batch = tmp;
                }
            }
        }
        w->n_attempts++;
        /* a flush is waiting and this attempt failed: retry at once, not at the tick */
        if (rc != SQLITE_OK && w->n_flushing > 0 && !w->run_gone)
            w->flush_now = TRUE;
        g_cond_broadcast (&w->cond);
    }
    g_mutex_unlock (&w->lock);
    return NULL;
}

DinolabStoreWriter *
dinolab_store_writer_new (DinolabStore *store, const char *uuid, GError **error)
{
    DinolabStoreWriter *w;
    int rc;

    g_return_val_if_fail (store != NULL, NULL);
    g_return_val_if_fail (uuid != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    {
        g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);
        g_autofree char *su = short_uuid_ (uuid);
        g_autofree char *what = g_strdup_printf ("write metrics of run %s", su);
        if (!check_writable_ (store, what, error))
            return NULL;
    }

    w = g_new0 (DinolabStoreWriter, 1);
    g_mutex_init (&w->lock);
    g_cond_init (&w->cond);
    w->queue = g_array_new (FALSE, FALSE, sizeof (WriterItem));
    g_array_set_clear_func (w->queue, (GDestroyNotify) writer_item_clear_);
    w->path = g_strdup (store->path);
    w->uuid = g_strdup (uuid);
    w->busy_ms = store->busy_ms;
    w->metric_ids = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
    w->status = DINOLAB_RUN_STATUS_RUNNING;

    rc = sqlite3_open_v2 (store->path, &w->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes (w->db, 1);
        sqlite3_busy_timeout (w->db, w->busy_ms);
    }
    if (rc != SQLITE_OK ||
        !configure_connection_ (w->db, w->path, w->busy_ms, error) ||
        (rc = writer_prepare_ (w)) != SQLITE_OK) {
        if (rc != SQLITE_OK)
            set_db_error_ (error, w->path, w->db, rc, w->busy_ms, "start the metrics writer");
        dinolab_store_writer_free (w);
        return NULL;
    }
    {   /* find the run, then claim it for this process */
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2 (w->db, "SELECT id, status FROM runs WHERE uuid = ?1", -1, &st, NULL);
        if (rc == SQLITE_OK) {
            bind_text_ (st, 1, uuid);
            rc = sqlite3_step (st);
            if (rc == SQLITE_ROW) {
                DinolabRunStatus s;
                w->run_id = sqlite3_column_int64 (st, 0);
                if (dinolab_run_status_from_string (col_text_ (st, 1), &s))
                    w->status = s;
                rc = SQLITE_OK;
            }
        }
        sqlite3_finalize (st);
        if (rc == SQLITE_DONE) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT, "no run '%s' in %s",
                         uuid, w->path);
            dinolab_store_writer_free (w);
            return NULL;
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_prepare_v2 (w->db, "UPDATE runs SET host = ?2, pid = ?3, heartbeat = ?4"
                                     " WHERE id = ?1", -1, &st, NULL);
            if (rc == SQLITE_OK) {
                sqlite3_bind_int64 (st, 1, w->run_id);
                bind_text_ (st, 2, g_get_host_name ());
                sqlite3_bind_int64 (st, 3, (gint64) getpid ());
                w->last_beat = now_ ();
                sqlite3_bind_double (st, 4, w->last_beat);
                rc = sqlite3_step (st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode (w->db);
            }
            sqlite3_finalize (st);
        }
        if (rc != SQLITE_OK) {
            set_db_error_ (error, w->path, w->db, rc, w->busy_ms, "start the metrics writer");
            dinolab_store_writer_free (w);
            return NULL;
        }
    }
    w->thread = g_thread_new ("dinolab-store-writer", writer_thread_, w);
    return w;
}

/* Appends @item under the lock and wakes the thread when a batch is full. */
static void
writer_push_ (DinolabStoreWriter *w, WriterItem *item)
{
    g_mutex_lock (&w->lock);
    if (w->run_gone) {
        writer_item_clear_ (item);
    } else {
        g_array_append_vals (w->queue, item, 1);
        w->n_pushed++;
        /* wake the thread once, when a batch fills (a broadcast is a syscall) */
        if (w->queue->len == WRITER_BATCH_ITEMS)
            g_cond_broadcast (&w->cond);
    }
    g_mutex_unlock (&w->lock);
}

void
dinolab_store_writer_push_metrics (DinolabStoreWriter *writer, gint64 step, double epoch,
                                   double wall, guint n, const char *const *keys,
                                   const double *values)
{
    guint before;

    g_return_if_fail (writer != NULL);
    g_return_if_fail (step >= 0);
    g_return_if_fail (n == 0 || (keys != NULL && values != NULL));
    for (guint i = 0; i < n; i++)
        g_return_if_fail (keys[i] != NULL && *keys[i] != '\0');

    g_mutex_lock (&writer->lock);
    before = writer->queue->len;
    if (!writer->run_gone) {
        for (guint i = 0; i < n; i++) {
            WriterItem it = { .kind = ITEM_POINT, .step = step, .epoch = epoch, .wall = wall,
                              .value = values[i], .key = g_intern_string (keys[i]) };
            g_array_append_vals (writer->queue, &it, 1);
        }
        writer->n_pushed += n;
    }
    /* wake the thread once, when a batch fills: a broadcast is a syscall, and the
     * thread looks at the queue length itself before it waits again */
    if (before < WRITER_BATCH_ITEMS && writer->queue->len >= WRITER_BATCH_ITEMS)
        g_cond_broadcast (&writer->cond);
    g_mutex_unlock (&writer->lock);
}

void
dinolab_store_writer_push_marker (DinolabStoreWriter *writer, gint64 step, const char *kind,
                                  const char *text)
{
    WriterItem it = { .kind = ITEM_MARKER, .step = step };

    g_return_if_fail (writer != NULL);
    g_return_if_fail (valid_kind_ (kind));

    it.key = g_intern_string (kind);
    it.text = g_strdup (text != NULL ? text : "");
    writer_push_ (writer, &it);
}

void
dinolab_store_writer_push_snapshot (DinolabStoreWriter *writer, gint64 step, double epoch,
                                    int n_images, const int *image_indices, int heads,
                                    int grid_h, int grid_w, const float *maps)
{
    WriterItem it = { .kind = ITEM_SNAPSHOT, .step = step };
    DinolabAttentionSnapshot *s;
    gsize n_floats;

    g_return_if_fail (writer != NULL);
    g_return_if_fail (valid_snapshot_shape_ (n_images, heads, grid_h, grid_w));
    g_return_if_fail (image_indices != NULL && maps != NULL);

    n_floats = (gsize) n_images * heads * grid_h * grid_w;
    s = g_new0 (DinolabAttentionSnapshot, 1);
    s->step = step;
    s->epoch = epoch;
    s->n_images = n_images;
    s->heads = heads;
    s->grid_h = grid_h;
    s->grid_w = grid_w;
    s->image_indices = g_memdup2 (image_indices, (gsize) n_images * sizeof (int));
    s->maps = g_memdup2 (maps, n_floats * sizeof (float));
    it.snapshot = s;
    writer_push_ (writer, &it);
}

void
dinolab_store_writer_set_status (DinolabStoreWriter *writer, DinolabRunStatus status)
{
    WriterItem it = { .kind = ITEM_STATUS, .status = status };

    g_return_if_fail (writer != NULL);
    g_return_if_fail ((int) status >= 0 && status < DINOLAB_RUN_STATUS_N);
    writer_push_ (writer, &it);
}

gboolean
dinolab_store_writer_flush (DinolabStoreWriter *writer, GError **error)
{
    guint64 target, attempts0;
    gboolean ok = TRUE;

    g_return_val_if_fail (writer != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    g_mutex_lock (&writer->lock);
    target = writer->n_pushed;
    attempts0 = writer->n_attempts;
    writer->flush_now = TRUE;
    writer->n_flushing++;
    g_cond_broadcast (&writer->cond);
    /* One attempt may lose the lock to other writers for the whole busy timeout
     * (SQLite's busy handler is not fair), so give up after two failed attempts. */
    while (writer->thread != NULL && writer->n_committed < target) {
        if (writer->error != NULL && writer->n_attempts >= attempts0 + 2)
            break;
        if (writer->run_gone)
            break;
        g_cond_wait (&writer->cond, &writer->lock);
    }
    writer->n_flushing--;
    if (writer->n_committed < target || writer->run_gone) {
        ok = FALSE;
        if (writer->error != NULL)
            g_propagate_error (error, g_error_copy (writer->error));
        else
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB, "%s: metrics writer stopped",
                         writer->path);
    }
    g_mutex_unlock (&writer->lock);
    return ok;
}

void
dinolab_store_writer_free (DinolabStoreWriter *writer)
{
    if (writer == NULL)
        return;
    if (writer->thread != NULL) {
        g_mutex_lock (&writer->lock);
        writer->quit = TRUE;
        g_cond_broadcast (&writer->cond);
        g_mutex_unlock (&writer->lock);
        g_thread_join (writer->thread);
        writer->thread = NULL;
    }
    writer_finalize_ (writer);
    if (writer->db != NULL)
        sqlite3_close (writer->db);
    g_array_unref (writer->queue);
    g_clear_error (&writer->error);
    g_hash_table_unref (writer->metric_ids);
    g_free (writer->path);
    g_free (writer->uuid);
    g_free (writer->commit_msg);
    g_mutex_clear (&writer->lock);
    g_cond_clear (&writer->cond);
    g_free (writer);
}
