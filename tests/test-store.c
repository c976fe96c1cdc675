/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-store.c: the SQLite run store (include/dinolab/store.h) on temporary
 * databases: runs, migrations, refused files (newer schema, garbage, corruption,
 * another application's database, read-only), metric series through the writer,
 * summary columns, the liveness check, concurrent readers and writers (threads, and a
 * child process), a locked database, the round trip of checkpoints, markers and
 * attention snapshots, and what a resume in place rewrites (hyperparameters, rows
 * past the checkpoint's step), each in one transaction.
 *
 * Expected values come from the formulas that generated the data (value_of()) or from
 * naive loops over them, and database state is inspected with plain SQL through a
 * separate sqlite3 connection, never through the store's own readers alone.
 * It does not measure speed: `dinolab-cli bench-store` prints the figures.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "dinolab/error.h"
#include "dinolab/store.h"

#define HPARAMS "{\"arch\": \"vit_tiny\", \"lr\": 0.0005, \"teacher_temp\": 0.04, " \
                "\"epochs\": 100, \"global_crops_scale\": [0.4, 1.0], \"use_centering\": true, " \
                "\"dataset\": \"fashion-mnist:/data/fm\", \"seed\": 0}"

// ----------------------------------------------------------------------------
// fixtures

/* A fresh temp folder; the db path inside it. Removed by tmp_free(). */
typedef struct {
    char *dir;
    char *db;
} Tmp;

static void
remove_tree (const char *path)
{
    GStatBuf sb;
    if (g_lstat (path, &sb) != 0)
        return;
    if (S_ISDIR (sb.st_mode)) {
        GDir *d = g_dir_open (path, 0, NULL);
        const char *name;
        g_chmod (path, 0755);
        while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
            char *child = g_build_filename (path, name, NULL);
            remove_tree (child);
            g_free (child);
        }
        if (d != NULL)
            g_dir_close (d);
        g_rmdir (path);
    } else {
        g_unlink (path);
    }
}

static Tmp *
tmp_new (void)
{
    Tmp *t = g_new0 (Tmp, 1);
    GError *error = NULL;
    t->dir = g_dir_make_tmp ("dinolab-store-XXXXXX", &error);
    g_assert_no_error (error);
    t->db = g_build_filename (t->dir, "runs.db", NULL);
    return t;
}

static void
tmp_free (Tmp *t)
{
    remove_tree (t->dir);
    g_free (t->dir);
    g_free (t->db);
    g_free (t);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Tmp, tmp_free)

static DinolabStore *
open_ok (const char *path)
{
    GError *error = NULL;
    DinolabStore *s = dinolab_store_open (path, &error);
    g_assert_no_error (error);
    g_assert_nonnull (s);
    return s;
}

static char *
create_run (DinolabStore *s, const char *name)
{
    GError *error = NULL;
    DinolabRunSpec spec = { .hparams_json = HPARAMS, .name = name };
    char *uuid = dinolab_store_create_run (s, &spec, &error);
    g_assert_no_error (error);
    g_assert_true (g_uuid_string_is_valid (uuid));
    return uuid;
}

/* Plain SQL on the file, independent of the store. */
static gint64
sql_int (const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    gint64 v = G_MININT64;
    g_assert_cmpint (sqlite3_open (db_path, &db), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &st, NULL), ==, SQLITE_OK);
    if (sqlite3_step (st) == SQLITE_ROW)
        v = sqlite3_column_int64 (st, 0);
    sqlite3_finalize (st);
    sqlite3_close (db);
    return v;
}

static void
sql_exec (const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    g_assert_cmpint (sqlite3_open (db_path, &db), ==, SQLITE_OK);
    sqlite3_busy_timeout (db, 5000);
    if (sqlite3_exec (db, sql, NULL, NULL, &msg) != SQLITE_OK)
        g_error ("%s: %s", sql, msg);
    sqlite3_close (db);
}

/* The value a test series holds at @step of metric @k: exact in binary64 and varied. */
static double
value_of (int k, gint64 step)
{
    return (double) (k + 1) * 0.5 + (double) step * 0.25 - (double) ((step * 7919 + k) % 1000) / 1024.0;
}

static const char *const metric_keys[] = { "loss", "teacher_entropy", "kl" };

static void
push_steps (DinolabStoreWriter *w, gint64 from, gint64 to)
{
    for (gint64 step = from; step < to; step++) {
        double v[3];
        for (int k = 0; k < 3; k++)
            v[k] = value_of (k, step);
        dinolab_store_writer_push_metrics (w, step, (double) step / 100.0, (double) step * 0.01,
                                           3, metric_keys, v);
    }
}

static void
assert_series (DinolabStore *s, const char *uuid, int k, gint64 n)
{
    GError *error = NULL;
    g_autoptr (DinolabMetricSeries) ser = dinolab_store_read_series (s, uuid, metric_keys[k], -1, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (ser->n, ==, (gsize) n);
    for (gint64 i = 0; i < n; i++) {
        g_assert_cmpint (ser->step[i], ==, i);
        g_assert_true (ser->value[i] == value_of (k, i));   /* exact */
        g_assert_true (ser->epoch[i] == (double) i / 100.0);
        g_assert_true (ser->wall[i] == (double) i * 0.01);
    }
}

// ----------------------------------------------------------------------------
// runs

static void
test_runs (void)
{
    g_autoptr (Tmp) t = tmp_new ();
    g_autoptr (DinolabStore) s = open_ok (t->db);
    g_autoptr (GError) error = NULL;
    g_autofree char *a = create_run (s, "alpha");
    g_autofree char *b = create_run (s, NULL);
    g_autofree char *c = NULL;
    g_autofree char *prefix = NULL;
    g_autofree char *run_dir = NULL, *file_in_dir = NULL;
    g_autoptr (GPtrArray) list = NULL;
    g_autoptr (DinolabRunInfo) info = NULL;
    const char *tags[] = { "baseline", "fm", NULL };
    const char *rm[] = { "fm", "absent", NULL };
    const char *bad_tags[] = { "two words", NULL };
    DinolabRunSpec spec = { .hparams_json = HPARAMS, .name = "alpha", .parent_uuid = a,
                            .tags = tags, .notes = "forked", .dataset = "cifar:/x" };

    c = dinolab_store_create_run (s, &spec, &error);
    g_assert_no_error (error);

    /* list: newest first, 3 runs; generated name is adjective-noun */
    list = dinolab_store_list_runs (s, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (list->len, ==, 3);
    g_assert_cmpstr (((DinolabRunInfo *) list->pdata[0])->uuid, ==, c);
    g_assert_cmpstr (((DinolabRunInfo *) list->pdata[2])->uuid, ==, a);
    {
        const DinolabRunInfo *rb = list->pdata[1];
        g_auto (GStrv) parts = g_strsplit (rb->name, "-", -1);
        g_assert_cmpuint (g_strv_length (parts), ==, 2);
        g_assert_cmpstr (rb->dataset, ==, "fashion-mnist:/data/fm");  /* from the hparams */
        g_assert_cmpint (rb->epochs, ==, 100);
        g_assert_cmpint (rb->status, ==, DINOLAB_RUN_STATUS_RUNNING);
        g_assert_cmpint (rb->pid, ==, getpid ());
        g_assert_cmpstr (rb->host, ==, g_get_host_name ());
        g_assert_cmpint (rb->last_step, ==, -1);
        g_assert_true (isnan (rb->last_loss));
        g_assert_cmpint (rb->n_points, ==, 0);
        g_assert_cmpuint (g_strv_length (rb->tags), ==, 0);
    }
    {
        const DinolabRunInfo *rc = list->pdata[0];
        g_assert_cmpstr (rc->parent_uuid, ==, a);
        g_assert_cmpstr (rc->notes, ==, "forked");
        g_assert_cmpstr (rc->dataset, ==, "cifar:/x");
        g_assert_cmpuint (g_strv_length (rc->tags), ==, 2);
        g_assert_cmpstr (rc->tags[0], ==, "baseline");
        g_assert_cmpstr (rc->tags[1], ==, "fm");
    }

    /* get: exact uuid, uuid prefix (upper case), unique name; "alpha" is ambiguous */
    info = dinolab_store_get_run (s, a, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (info->name, ==, "alpha");
    g_clear_pointer (&info, dinolab_run_info_free);
    prefix = g_ascii_strup (b, 8);
    info = dinolab_store_get_run (s, prefix, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (info->uuid, ==, b);
    g_clear_pointer (&info, dinolab_run_info_free);
    g_assert_null (dinolab_store_get_run (s, "alpha", &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("ambiguous: %s", error->message);
    g_assert_nonnull (strstr (error->message, "'alpha' matches 2 runs"));
    g_clear_error (&error);
    g_assert_null (dinolab_store_get_run (s, "nonesuch", &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_assert_nonnull (strstr (error->message, "no run 'nonesuch'"));
    g_assert_nonnull (strstr (error->message, t->db));
    g_clear_error (&error);

    /* rename, notes, tags */
    g_assert_true (dinolab_store_rename_run (s, c, "  gamma ", &error));
    g_assert_no_error (error);
    g_assert_false (dinolab_store_rename_run (s, c, "   ", &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_clear_error (&error);
    g_assert_true (dinolab_store_set_notes (s, c, "note two", &error));
    g_assert_true (dinolab_store_remove_tags (s, c, rm, &error));
    g_assert_true (dinolab_store_add_tags (s, a, tags, &error));
    g_assert_true (dinolab_store_add_tags (s, a, tags, &error));  /* twice: no error */
    g_assert_false (dinolab_store_add_tags (s, a, bad_tags, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_clear_error (&error);
    info = dinolab_store_get_run (s, "gamma", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (info->uuid, ==, c);
    g_assert_cmpstr (info->notes, ==, "note two");
    g_assert_cmpuint (g_strv_length (info->tags), ==, 1);
    g_assert_cmpstr (info->tags[0], ==, "baseline");
    g_clear_pointer (&info, dinolab_run_info_free);
    g_assert_cmpint (sql_int (t->db, "SELECT count (*) FROM run_tags"), ==, 3);

    /* status: final sets ended, live clears it */
    g_assert_true (dinolab_store_set_status (s, b, DINOLAB_RUN_STATUS_STOPPED, &error));
    info = dinolab_store_get_run (s, b, &error);
    g_assert_cmpint (info->status, ==, DINOLAB_RUN_STATUS_STOPPED);
    g_assert_cmpfloat (info->ended, >=, info->started);
    g_clear_pointer (&info, dinolab_run_info_free);
    g_assert_true (dinolab_store_set_status (s, b, DINOLAB_RUN_STATUS_PAUSED, &error));
    info = dinolab_store_get_run (s, b, &error);
    g_assert_cmpint (info->status, ==, DINOLAB_RUN_STATUS_PAUSED);
    g_assert_cmpfloat (info->ended, ==, 0.0);
    g_clear_pointer (&info, dinolab_run_info_free);

    /* hyperparameters: JSON verbatim, and per key as text */
    {
        g_autofree char *json = dinolab_store_get_hparams_json (s, a, &error);
        g_autoptr (GHashTable) hp = dinolab_store_get_hparams_table (s, a, &error);
        g_assert_no_error (error);
        g_assert_cmpstr (json, ==, HPARAMS);
        g_assert_cmpuint (g_hash_table_size (hp), ==, 8);
        g_assert_cmpstr (g_hash_table_lookup (hp, "lr"), ==, "0.0005");
        g_assert_cmpstr (g_hash_table_lookup (hp, "teacher_temp"), ==, "0.04");
        g_assert_cmpstr (g_hash_table_lookup (hp, "epochs"), ==, "100");
        g_assert_cmpstr (g_hash_table_lookup (hp, "global_crops_scale"), ==, "0.4,1");
        g_assert_cmpstr (g_hash_table_lookup (hp, "use_centering"), ==, "true");
        g_assert_cmpstr (g_hash_table_lookup (hp, "arch"), ==, "vit_tiny");
        /* queryable per key in SQL: 3 runs with lr = 0.0005 */
        g_assert_cmpint (sql_int (t->db, "SELECT count (*) FROM run_hparams WHERE key = 'lr'"
                                         " AND num = 0.0005"), ==, 3);
    }
    {
        DinolabRunSpec bad = { .hparams_json = "[1, 2]" };
        DinolabRunSpec bad_parent = { .hparams_json = "{}", .parent_uuid = "0000" };
        g_assert_null (dinolab_store_create_run (s, &bad, &error));
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
        g_clear_error (&error);
        g_assert_null (dinolab_store_create_run (s, &bad_parent, &error));
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
        g_clear_error (&error);
    }

    /* delete: rows and the runs/<uuid>/ folder */
    run_dir = dinolab_store_get_run_dir (s, a);
    g_assert_true (g_str_has_prefix (run_dir, t->dir));
    g_assert_cmpint (g_mkdir_with_parents (run_dir, 0755), ==, 0);
    file_in_dir = g_build_filename (run_dir, "step-1.safetensors", NULL);
    g_assert_true (g_file_set_contents (file_in_dir, "x", 1, NULL));
    g_assert_true (dinolab_store_delete_run (s, a, &error));
    g_assert_no_error (error);
    g_assert_false (g_file_test (run_dir, G_FILE_TEST_EXISTS));
    g_assert_null (dinolab_store_get_run (s, a, &error));
    g_clear_error (&error);
    g_assert_cmpint (sql_int (t->db, "SELECT count (*) FROM runs"), ==, 2);
    g_assert_cmpint (sql_int (t->db, "SELECT count (*) FROM run_hparams"), ==, 16);
    g_assert_cmpint (sql_int (t->db, "SELECT count (*) FROM run_tags"), ==, 1);
    g_assert_false (dinolab_store_delete_run (s, a, &error));  /* already gone */
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
}

// ----------------------------------------------------------------------------
// opening: migrations and refused files

static void
test_migrations (void)
{
    g_autoptr (Tmp) t = tmp_new ();
    g_autoptr (GError) error = NULL;
    g_autofree char *nested = g_build_filename (t->dir, "a", "b", "runs.db", NULL);

    /* an empty (0-byte) file becomes a store of the current version in WAL mode */
    g_assert_true (g_file_set_contents (t->db, "", 0, NULL));
    {
        g_autoptr (DinolabStore) s = open_ok (t->db);
        g_autofree char *u = create_run (s, "x");
        g_assert_false (dinolab_store_is_read_only (s));
    }
    g_assert_cmpint (sql_int (t->db, "PRAGMA user_version"), ==, DINOLAB_STORE_SCHEMA_VERSION);
    g_assert_cmpint (sql_int (t->db, "PRAGMA application_id"), ==, 0x44494e4f);
    g_assert_cmpint (sql_int (t->db, "SELECT count (*) FROM runs"), ==, 1);
    g_assert_cmpint (sql_int (t->db, "SELECT count (*) FROM sqlite_schema WHERE type = 'table'"), ==, 9);
    {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        sqlite3_open (t->db, &db);
        sqlite3_prepare_v2 (db, "PRAGMA journal_mode", -1, &st, NULL);
        g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
        g_assert_cmpstr ((const char *) sqlite3_column_text (st, 0), ==, "wal");
        sqlite3_finalize (st);
        sqlite3_close (db);
    }
    /* reopening keeps everything */
    {
        g_autoptr (DinolabStore) s = open_ok (t->db);
        g_autoptr (GPtrArray) l = dinolab_store_list_runs (s, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (l->len, ==, 1);
    }
    /* a version-1 store (no keep_last column) is upgraded in place: its runs keep
     * everything and record no count (0); the count can then be set */
    sql_exec (t->db, "ALTER TABLE runs DROP COLUMN keep_last; PRAGMA user_version = 1;");
    g_assert_cmpint (sql_int (t->db, "SELECT count (*) FROM pragma_table_info ('runs') WHERE name = 'keep_last'"),
                     ==, 0);
    {   /* read-only, it is read as it is */
        g_autoptr (DinolabStore) s = dinolab_store_open_full (t->db, DINOLAB_STORE_OPEN_READ_ONLY, &error);
        g_autoptr (DinolabRunInfo) r = NULL;
        g_autoptr (GPtrArray) l = NULL;
        g_assert_no_error (error);
        r = dinolab_store_get_run (s, "x", &error);
        g_assert_no_error (error);
        g_assert_cmpint (r->keep_last, ==, 0);
        l = dinolab_store_list_runs (s, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (l->len, ==, 1);
    }
    g_assert_cmpint (sql_int (t->db, "PRAGMA user_version"), ==, 1);
    {
        g_autoptr (DinolabStore) s = open_ok (t->db);
        g_autoptr (DinolabRunInfo) r = dinolab_store_get_run (s, "x", &error);
        g_assert_no_error (error);
        g_assert_cmpint (r->keep_last, ==, 0);
        g_assert_true (dinolab_store_set_keep_last (s, r->uuid, 7, &error));
        g_assert_no_error (error);
    }
    g_assert_cmpint (sql_int (t->db, "PRAGMA user_version"), ==, 2);
    g_assert_cmpint (sql_int (t->db, "SELECT keep_last FROM runs WHERE name = 'x'"), ==, 7);
    {
        g_autoptr (DinolabStore) s = open_ok (t->db);
        g_autoptr (DinolabRunInfo) r = dinolab_store_get_run (s, "x", &error);
        DinolabRunSpec spec = { .hparams_json = HPARAMS, .name = "y", .keep_last = 40 };
        g_autofree char *u = dinolab_store_create_run (s, &spec, &error);
        g_autoptr (DinolabRunInfo) y = NULL;
        g_assert_no_error (error);
        g_assert_cmpint (r->keep_last, ==, 7);
        y = dinolab_store_get_run (s, u, &error);
        g_assert_cmpint (y->keep_last, ==, 40);
    }
    /* missing folders are created */
    {
        g_autoptr (DinolabStore) s = open_ok (nested);
        g_assert_cmpstr (dinolab_store_get_path (s), ==, nested);
    }
    /* DINOLAB_DB (set by main() to the session folder) is the default path */
    {
        g_autofree char *env_db = g_build_filename (g_getenv ("DINOLAB_TEST_SESSION"), "env",
                                                    "runs.db", NULL);
        g_autofree char *def = dinolab_store_default_path ();
        g_assert_cmpstr (def, ==, env_db);
        {
            g_autoptr (DinolabStore) s = open_ok (NULL);
            g_assert_cmpstr (dinolab_store_get_path (s), ==, env_db);
        }
    }
}

static void
assert_open_fails (const char *path, const char *expect)
{
    GError *error = NULL;
    DinolabStore *s = dinolab_store_open (path, &error);
    g_assert_null (s);
    g_assert_nonnull (error);
    g_test_message ("refused: %s", error->message);
    g_assert_nonnull (strstr (error->message, path));
    if (strstr (error->message, expect) == NULL)
        g_error ("expected '%s' in: %s", expect, error->message);
    g_error_free (error);
}

static void
test_refused (void)
{
    g_autoptr (Tmp) t = tmp_new ();
    g_autofree char *newer = g_build_filename (t->dir, "newer.db", NULL);
    g_autofree char *garbage = g_build_filename (t->dir, "garbage.db", NULL);
    g_autofree char *foreign = g_build_filename (t->dir, "foreign.db", NULL);
    g_autofree char *corrupt = g_build_filename (t->dir, "corrupt.db", NULL);
    char junk[8192];

    /* newer schema */
    sql_exec (newer, "PRAGMA application_id = 1145654863; PRAGMA user_version = 7;"
                     " CREATE TABLE runs (x)");
    assert_open_fails (newer, "schema version 7 is newer than this Dinolab (2)");
    g_assert_cmpint (sql_int (newer, "PRAGMA user_version"), ==, 7);  /* untouched */

    /* garbage */
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char) (i * 131 + 7);
    g_assert_true (g_file_set_contents (garbage, junk, sizeof junk, NULL));
    assert_open_fails (garbage, "file is not a database");

    /* another application's database */
    sql_exec (foreign, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
    assert_open_fails (foreign, "not a Dinolab run database");
    g_assert_cmpint (sql_int (foreign, "SELECT count (*) FROM sqlite_schema"), ==, 1);
    {   /* the refused file is not switched to WAL either */
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        sqlite3_open (foreign, &db);
        sqlite3_prepare_v2 (db, "PRAGMA journal_mode", -1, &st, NULL);
        g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
        g_assert_cmpstr ((const char *) sqlite3_column_text (st, 0), ==, "delete");
        sqlite3_finalize (st);
        sqlite3_close (db);
    }

    /* a folder */
    assert_open_fails (t->dir, "it is a folder");

    /* a valid store whose pages were overwritten: open or the first read says malformed */
    {
        g_autoptr (DinolabStore) s = open_ok (corrupt);
        for (int i = 0; i < 30; i++) {
            g_autofree char *u = create_run (s, "victim");
        }
    }
    {
        g_autofree char *contents = NULL;
        gsize len = 0;
        g_assert_true (g_file_get_contents (corrupt, &contents, &len, NULL));
        g_assert_cmpuint (len, >, 4096 * 3);
        /* keep page 1 (the schema), scramble everything after it */
        for (gsize i = 4096; i < len; i++)
            contents[i] = (char) (i * 37 + 11);
        g_assert_true (g_file_set_contents (corrupt, contents, len, NULL));
    }
    {
        GError *error = NULL;
        DinolabStore *s = dinolab_store_open (corrupt, &error);
        GPtrArray *l = NULL;
        if (s != NULL) {
            l = dinolab_store_list_runs (s, &error);
            g_assert_null (l);
            dinolab_store_close (s);
        }
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB);
        g_test_message ("corrupt: %s", error->message);
        g_assert_nonnull (strstr (error->message, corrupt));
        g_assert_nonnull (strstr (error->message, "malformed"));
        g_error_free (error);
    }
}

/* Runs as an unprivileged user (setuid nobody when root) in a subprocess: a file and
 * folder without write permission open read-only; a new database in that folder
 * cannot be created. */
static void
test_read_only_subprocess (void)
{
    g_autofree char *dir = g_build_filename (g_getenv ("DINOLAB_TEST_SESSION"), "ro", NULL);
    g_autofree char *db = g_build_filename (dir, "runs.db", NULL);
    g_autofree char *fresh = g_build_filename (dir, "fresh.db", NULL);
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabStore) s = NULL;
    g_autoptr (GPtrArray) l = NULL;
    g_autoptr (DinolabRunInfo) info = NULL;

    if (!g_test_subprocess ()) {
        g_test_skip ("runs inside /store/read-only");
        return;
    }
    if (geteuid () == 0 && (setgid (65534) != 0 || setuid (65534) != 0)) {
        /* root without CAP_SETUID (some containers): permissions cannot be tested */
        g_printerr ("read-only subprocess: cannot drop root privileges; check skipped\n");
        return;
    }
    s = dinolab_store_open (db, &error);
    g_assert_no_error (error);
    g_assert_true (dinolab_store_is_read_only (s));
    l = dinolab_store_list_runs (s, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (l->len, ==, 2);
    info = g_ptr_array_steal_index (l, 0);
    g_assert_false (dinolab_store_rename_run (s, info->uuid, "new", &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB);
    g_assert_nonnull (strstr (error->message, "read-only"));
    g_clear_error (&error);
    g_assert_null (dinolab_store_writer_new (s, info->uuid, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB);
    g_clear_error (&error);
    /* the series is readable */
    {
        g_autoptr (DinolabMetricSeries) ser = dinolab_store_read_series (s, info->uuid, "loss", -1, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (ser->n, ==, 10);
        g_assert_true (ser->value[9] == value_of (0, 9));
    }
    g_assert_null (dinolab_store_open (fresh, &error));
    g_assert_nonnull (error);
    g_test_message ("unwritable folder: %s", error->message);
    g_assert_nonnull (strstr (error->message, fresh));
}

static void
test_read_only (void)
{
    /* in the session folder: the subprocess finds it there without a setenv() */
    g_autoptr (Tmp) t = g_new0 (Tmp, 1);
    g_autoptr (GError) error = NULL;
    g_autofree char *u1 = NULL, *u2 = NULL;

    t->dir = g_build_filename (g_getenv ("DINOLAB_TEST_SESSION"), "ro", NULL);
    t->db = g_build_filename (t->dir, "runs.db", NULL);
    g_assert_cmpint (g_mkdir_with_parents (t->dir, 0755), ==, 0);
    {
        g_autoptr (DinolabStore) s = open_ok (t->db);
        g_autoptr (DinolabStoreWriter) w = NULL;
        u1 = create_run (s, "one");
        u2 = create_run (s, "two");
        w = dinolab_store_writer_new (s, u2, &error);
        g_assert_no_error (error);
        push_steps (w, 0, 10);
        g_assert_true (dinolab_store_writer_flush (w, &error));
    }
    /* the READ_ONLY flag: reads work, writes fail clearly, nothing changes */
    {
        g_autoptr (DinolabStore) s = dinolab_store_open_full (t->db, DINOLAB_STORE_OPEN_READ_ONLY, &error);
        g_autoptr (GPtrArray) l = NULL;
        g_assert_no_error (error);
        g_assert_true (dinolab_store_is_read_only (s));
        l = dinolab_store_list_runs (s, &error);
        g_assert_cmpuint (l->len, ==, 2);
        g_assert_false (dinolab_store_set_notes (s, u1, "x", &error));
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB);
        g_test_message ("read-only: %s", error->message);
        g_assert_nonnull (strstr (error->message, t->db));
        g_assert_nonnull (strstr (error->message, "read-only"));
        g_clear_error (&error);
    }
    g_assert_cmpint (sql_int (t->db, "SELECT count (*) FROM runs WHERE notes = 'x'"), ==, 0);
    /* a read-only file in a read-only folder, as an unprivileged user */
    g_assert_cmpint (g_chmod (t->db, 0444), ==, 0);
    g_assert_cmpint (g_chmod (t->dir, 0555), ==, 0);
    g_assert_cmpint (g_chmod (g_getenv ("DINOLAB_TEST_SESSION"), 0755), ==, 0);  /* for nobody */
    g_test_trap_subprocess ("/store/read-only/subprocess", 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed ();
    g_chmod (t->dir, 0755);
    g_chmod (t->db, 0644);
}

// ----------------------------------------------------------------------------
// metrics through the writer, summary columns

static void
test_series (void)
{
    g_autoptr (Tmp) t = tmp_new ();
    g_autoptr (DinolabStore) s = open_ok (t->db);
    g_autoptr (GError) error = NULL;
    g_autofree char *u = create_run (s, "series");
    const gint64 N = 20000;
    double knn[5] = { 0.31, 0.47, 0.52, 0.50, 0.55 };
    const char *knn_key[] = { DINOLAB_METRIC_KNN_TOP1 };
    const char *nan_key[] = { "grad_norm" };
    double best = -INFINITY, min_loss = INFINITY, max_loss = -INFINITY;

    {
        g_autoptr (DinolabStoreWriter) w = dinolab_store_writer_new (s, u, &error);
        g_assert_no_error (error);
        push_steps (w, 0, N);
        for (int e = 0; e < 5; e++)
            dinolab_store_writer_push_metrics (w, (e + 1) * 1000 - 1, e + 1, 0.0, 1, knn_key, &knn[e]);
        {
            double v[3] = { 1.0, NAN, INFINITY };
            for (int i = 0; i < 3; i++)
                dinolab_store_writer_push_metrics (w, i, 0.0, 0.0, 1, nan_key, &v[i]);
        }
        g_assert_true (dinolab_store_writer_flush (w, &error));
        g_assert_no_error (error);
    }
    for (int k = 0; k < 3; k++)
        assert_series (s, u, k, N);
    {
        g_autoptr (DinolabMetricSeries) g = dinolab_store_read_series (s, u, "grad_norm", -1, &error);
        g_autoptr (DinolabMetricSeries) tail = dinolab_store_read_series (s, u, "loss", N - 4, &error);
        g_autoptr (DinolabMetricSeries) none = dinolab_store_read_series (s, u, "no_such", -1, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (g->n, ==, 3);
        g_assert_true (g->value[0] == 1.0);
        g_assert_true (isnan (g->value[1]));
        g_assert_true (isinf (g->value[2]) && g->value[2] > 0);
        g_assert_cmpuint (tail->n, ==, 3);
        g_assert_cmpint (tail->step[0], ==, N - 3);
        g_assert_cmpuint (none->n, ==, 0);
    }
    /* summary columns vs. naive loops over the generating formula */
    for (int e = 0; e < 5; e++)
        best = MAX (best, knn[e]);
    for (gint64 i = 0; i < N; i++) {
        min_loss = MIN (min_loss, value_of (0, i));
        max_loss = MAX (max_loss, value_of (0, i));
    }
    {
        g_autoptr (DinolabRunInfo) info = dinolab_store_get_run (s, u, &error);
        g_assert_no_error (error);
        g_assert_cmpint (info->last_step, ==, N - 1);
        g_assert_true (info->last_epoch == (double) (N - 1) / 100.0);
        g_assert_true (info->last_loss == value_of (0, N - 1));
        g_assert_true (info->last_teacher_entropy == value_of (1, N - 1));
        g_assert_true (info->last_kl == value_of (2, N - 1));
        g_assert_true (info->best_knn_top1 == best);
        g_assert_cmpint (info->n_points, ==, 3 * N + 5 + 3);
        g_assert_cmpfloat (info->heartbeat, >, 0.0);
    }
    {
        g_auto (GStrv) names = dinolab_store_list_metrics (s, u, &error);
        g_autoptr (GPtrArray) last = dinolab_store_get_last_metrics (s, u, &error);
        const DinolabMetricLast *l;
        g_assert_no_error (error);
        g_assert_cmpuint (g_strv_length (names), ==, 5);
        /* sorted: grad_norm, kl, knn_top1, loss, teacher_entropy */
        g_assert_cmpstr (names[0], ==, "grad_norm");
        g_assert_cmpstr (names[1], ==, "kl");
        g_assert_cmpstr (names[2], ==, "knn_top1");
        g_assert_cmpstr (names[4], ==, "teacher_entropy");
        g_assert_cmpuint (last->len, ==, 5);
        l = last->pdata[1];
        g_assert_cmpstr (l->name, ==, "kl");
        g_assert_true (l->value == value_of (2, N - 1));
        l = last->pdata[2];
        g_assert_cmpint (l->n, ==, 5);
        g_assert_cmpint (l->step, ==, 4999);
        g_assert_true (l->value == knn[4] && l->max == best && l->min == knn[0]);
        l = last->pdata[3];
        g_assert_cmpstr (l->name, ==, "loss");
        g_assert_true (l->min == min_loss && l->max == max_loss);
        l = last->pdata[0];
        g_assert_true (l->min == 1.0 && isinf (l->max));   /* NaN skipped */
    }
    /* re-pushing existing steps (resume in place) replaces, counts stay exact */
    {
        g_autoptr (DinolabStoreWriter) w = dinolab_store_writer_new (s, u, &error);
        double v = -5.0;
        dinolab_store_writer_push_metrics (w, 10, 0.1, 0.1, 1, metric_keys, &v);
        g_assert_true (dinolab_store_writer_flush (w, &error));
        g_assert_cmpint (sql_int (t->db, "SELECT sum (n) FROM run_metrics"), ==, 3 * N + 5 + 3);
        g_assert_cmpint (sql_int (t->db, "SELECT count (*) FROM metrics"), ==, 3 * N + 5 + 3);
        g_assert_cmpint (sql_int (t->db, "SELECT value = -5.0 FROM metrics WHERE step = 10 AND"
                                         " metric_id = (SELECT id FROM metric_names WHERE name = 'loss')"), ==, 1);
    }
    /* truncation after a step recomputes the summary */
    g_assert_true (dinolab_store_truncate_metrics (s, u, 2999, &error));
    g_assert_no_error (error);
    {
        g_autoptr (DinolabRunInfo) info = dinolab_store_get_run (s, u, &error);
        g_assert_cmpint (info->last_step, ==, 2999);
        g_assert_true (info->last_loss == value_of (0, 2999));
        g_assert_true (info->best_knn_top1 == MAX (knn[0], MAX (knn[1], knn[2])));
        g_assert_cmpint (info->n_points, ==, 3 * 3000 + 3 + 3);
    }
}

// ----------------------------------------------------------------------------
// liveness

static gint64
dead_pid (void)
{
    pid_t pid = fork ();
    g_assert_cmpint (pid, >=, 0);
    if (pid == 0)
        _exit (0);
    waitpid (pid, NULL, 0);
    return pid;
}

static void
test_interrupted (void)
{
    g_autoptr (Tmp) t = tmp_new ();
    g_autofree char *dead = NULL, *alive = NULL, *remote_old = NULL, *remote_new = NULL;
    g_autofree char *finished = NULL, *sql = NULL;
    g_autoptr (GError) error = NULL;
    double now = (double) g_get_real_time () / G_USEC_PER_SEC;

    {
        g_autoptr (DinolabStore) s = open_ok (t->db);
        dead = create_run (s, "dead");
        alive = create_run (s, "alive");
        remote_old = create_run (s, "remote-old");
        remote_new = create_run (s, "remote-new");
        finished = create_run (s, "finished");
        g_assert_true (dinolab_store_set_status (s, finished, DINOLAB_RUN_STATUS_FINISHED, &error));
    }
    sql = g_strdup_printf ("UPDATE runs SET pid = %" G_GINT64_FORMAT ", heartbeat = %.3f WHERE uuid = '%s';"
                           "UPDATE runs SET host = 'elsewhere', heartbeat = %.3f, pid = 1 WHERE uuid = '%s';"
                           "UPDATE runs SET host = 'elsewhere', heartbeat = %.3f, pid = 1 WHERE uuid = '%s';"
                           "UPDATE runs SET pid = %" G_GINT64_FORMAT " WHERE uuid = '%s';",
                           dead_pid (), now - 30.0, dead,
                           now - 2 * DINOLAB_STORE_HEARTBEAT_TIMEOUT, remote_old,
                           now - 1.0, remote_new, dead_pid (), finished);
    sql_exec (t->db, sql);
    {
        g_autoptr (DinolabStore) s = open_ok (t->db);   /* open runs the check */
        struct { const char *uuid; DinolabRunStatus want; } cases[] = {
            { dead, DINOLAB_RUN_STATUS_INTERRUPTED },
            { alive, DINOLAB_RUN_STATUS_RUNNING },           /* our own pid */
            { remote_old, DINOLAB_RUN_STATUS_INTERRUPTED },
            { remote_new, DINOLAB_RUN_STATUS_RUNNING },
            { finished, DINOLAB_RUN_STATUS_FINISHED },
        };
        for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
            g_autoptr (DinolabRunInfo) info = dinolab_store_get_run (s, cases[i].uuid, &error);
            g_assert_no_error (error);
            g_test_message ("%s: %s", info->name, dinolab_run_status_to_string (info->status));
            g_assert_cmpint (info->status, ==, cases[i].want);
        }
        {   /* ended = the last heartbeat */
            g_autoptr (DinolabRunInfo) info = dinolab_store_get_run (s, dead, &error);
            g_assert_cmpfloat (fabs (info->ended - (now - 30.0)), <, 0.01);
        }
        g_assert_cmpint (dinolab_store_check_alive (s, &error), ==, 0);
        /* a live writer puts a wrongly interrupted run back */
        {
            g_autoptr (DinolabStoreWriter) w = dinolab_store_writer_new (s, alive, &error);
            g_autofree char *mark = g_strdup_printf ("UPDATE runs SET status = 'interrupted',"
                                                     " ended = 1 WHERE uuid = '%s'", alive);
            g_assert_no_error (error);
            sql_exec (t->db, mark);
            g_usleep ((gulong) (DINOLAB_STORE_HEARTBEAT_INTERVAL * 1.6 * G_USEC_PER_SEC));
            g_assert_true (dinolab_store_writer_flush (w, &error));
        }
        {
            g_autoptr (DinolabRunInfo) info = dinolab_store_get_run (s, alive, &error);
            g_assert_cmpint (info->status, ==, DINOLAB_RUN_STATUS_RUNNING);
            g_assert_cmpfloat (info->ended, ==, 0.0);
        }
    }
}

// ----------------------------------------------------------------------------
// concurrency

typedef struct {
    const char *db;
    const char *uuid;
    gint64      n_steps;
    gint        done;      /* atomic */
    int         n_reads;
    int         max_seen;
} Shared;

static gpointer
writer_thread (gpointer data)
{
    Shared *sh = data;
    GError *error = NULL;
    DinolabStore *s = open_ok (sh->db);
    DinolabStoreWriter *w = dinolab_store_writer_new (s, sh->uuid, &error);

    g_assert_no_error (error);
    dinolab_store_close (s);   /* the writer has its own connection */
    for (gint64 step = 0; step < sh->n_steps; step += 500) {
        push_steps (w, step, MIN (step + 500, sh->n_steps));
        g_usleep (20000);
    }
    g_assert_true (dinolab_store_writer_flush (w, &error));
    g_assert_no_error (error);
    dinolab_store_writer_free (w);
    g_atomic_int_set (&sh->done, 1);
    return NULL;
}

static gpointer
reader_thread (gpointer data)
{
    Shared *sh = data;
    GError *error = NULL;
    DinolabStore *s = open_ok (sh->db);
    gsize last_n = 0;
    gboolean finished = FALSE;

    while (!finished) {
        DinolabMetricSeries *ser;
        finished = g_atomic_int_get (&sh->done);   /* read once more after the end */
        ser = dinolab_store_read_series (s, sh->uuid, "kl", -1, &error);
        g_assert_no_error (error);
        /* what a reader sees is always a committed prefix: steps 0..n-1, exact values */
        g_assert_cmpuint (ser->n, >=, last_n);
        for (gsize i = 0; i < ser->n; i++) {
            g_assert_cmpint (ser->step[i], ==, (gint64) i);
            g_assert_true (ser->value[i] == value_of (2, (gint64) i));
        }
        last_n = ser->n;
        sh->n_reads++;
        dinolab_metric_series_free (ser);
        g_usleep (10000);
    }
    sh->max_seen = (int) last_n;
    dinolab_store_close (s);
    return NULL;
}

static void
test_reader_during_write (void)
{
    g_autoptr (Tmp) t = tmp_new ();
    g_autofree char *u = NULL;
    Shared sh = { 0 };
    GThread *tw, *tr;

    {
        g_autoptr (DinolabStore) s = open_ok (t->db);
        u = create_run (s, "live");
    }
    sh.db = t->db;
    sh.uuid = u;
    sh.n_steps = 15000;
    tw = g_thread_new ("w", writer_thread, &sh);
    tr = g_thread_new ("r", reader_thread, &sh);
    g_thread_join (tw);
    g_thread_join (tr);
    g_test_message ("reader: %d reads while the writer wrote", sh.n_reads);
    g_assert_cmpint (sh.n_reads, >, 5);
    g_assert_cmpint (sh.max_seen, ==, 15000);
}

/* Child mode (DINOLAB_TEST_STORE_CHILD=db): a second process that trains a run. */
static int
child_main (const char *db)
{
    GError *error = NULL;
    DinolabStore *s = dinolab_store_open (db, &error);
    DinolabRunSpec spec = { .hparams_json = HPARAMS, .name = "child" };
    char *uuid;
    DinolabStoreWriter *w;

    if (s == NULL) {
        g_printerr ("child: %s\n", error->message);
        return 3;
    }
    uuid = dinolab_store_create_run (s, &spec, &error);
    if (uuid == NULL || (w = dinolab_store_writer_new (s, uuid, &error)) == NULL) {
        g_printerr ("child: %s\n", error->message);
        return 4;
    }
    for (gint64 step = 0; step < 12000; step += 1000) {
        push_steps (w, step, step + 1000);
        g_usleep (30000);
    }
    dinolab_store_writer_set_status (w, DINOLAB_RUN_STATUS_FINISHED);
    if (!dinolab_store_writer_flush (w, &error)) {
        g_printerr ("child: %s\n", error->message);
        return 5;
    }
    dinolab_store_writer_free (w);
    g_free (uuid);
    dinolab_store_close (s);
    return 0;
}

static void
test_two_writers (void)
{
    g_autoptr (Tmp) t = tmp_new ();
    g_autofree char *u1 = NULL, *u2 = NULL;
    Shared a = { 0 }, b = { 0 };
    GThread *ta, *tb;
    GError *error = NULL;
    GPid child;
    int status = 0;
    const char *self = g_getenv ("DINOLAB_TEST_STORE_SELF");
    char *argv[] = { (char *) self, NULL };
    char **envp = g_environ_setenv (g_get_environ (), "DINOLAB_TEST_STORE_CHILD", t->db, TRUE);

    {
        g_autoptr (DinolabStore) s = open_ok (t->db);
        u1 = create_run (s, "one");
        u2 = create_run (s, "two");
    }
    a.db = b.db = t->db;
    a.uuid = u1;
    b.uuid = u2;
    a.n_steps = 10000;
    b.n_steps = 12000;
    /* a child process writes a third run at the same time */
    g_assert_true (g_spawn_async (NULL, argv, envp, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &child, &error));
    g_assert_no_error (error);
    g_strfreev (envp);
    ta = g_thread_new ("a", writer_thread, &a);
    tb = g_thread_new ("b", writer_thread, &b);
    g_thread_join (ta);
    g_thread_join (tb);
    g_assert_cmpint (waitpid (child, &status, 0), ==, child);
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 0);
    g_spawn_close_pid (child);

    {
        g_autoptr (DinolabStore) s = open_ok (t->db);
        g_autoptr (DinolabRunInfo) c = dinolab_store_get_run (s, "child", &error);
        g_assert_no_error (error);
        assert_series (s, u1, 0, 10000);
        assert_series (s, u2, 1, 12000);
        assert_series (s, c->uuid, 2, 12000);
        g_assert_cmpint (c->status, ==, DINOLAB_RUN_STATUS_FINISHED);
        g_assert_cmpint (c->n_points, ==, 36000);
        g_assert_cmpint (c->pid, !=, getpid ());
    }
    /* one name table shared by all three writers */
    g_assert_cmpint (sql_int (t->db, "SELECT count (*) FROM metric_names"), ==, 3);
    g_assert_cmpint (sql_int (t->db, "SELECT count (*) FROM metrics"), ==, 3 * (10000 + 12000 + 12000));
}

static void
test_locked (void)
{
    g_autoptr (Tmp) t = tmp_new ();
    g_autoptr (DinolabStore) s = open_ok (t->db);
    g_autoptr (GError) error = NULL;
    g_autofree char *u = create_run (s, "locked");
    sqlite3 *other = NULL;
    gint64 t0, elapsed_ms;

    dinolab_store_set_busy_timeout (s, 200);
    g_assert_cmpint (sqlite3_open (t->db, &other), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_exec (other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), ==, SQLITE_OK);

    t0 = g_get_monotonic_time ();
    g_assert_false (dinolab_store_rename_run (s, u, "renamed", &error));
    elapsed_ms = (g_get_monotonic_time () - t0) / 1000;
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB);
    g_test_message ("locked after %" G_GINT64_FORMAT " ms: %s", elapsed_ms, error->message);
    g_assert_nonnull (strstr (error->message, t->db));
    g_assert_nonnull (strstr (error->message, "database is locked (after 200 ms)"));
    g_assert_cmpint (elapsed_ms, >=, 150);
    g_clear_error (&error);

    /* readers are not blocked (WAL) */
    {
        g_autoptr (GPtrArray) l = dinolab_store_list_runs (s, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (l->len, ==, 1);
    }
    /* the writer's flush reports the lock; nothing is lost once it is released */
    {
        g_autoptr (DinolabStoreWriter) w = NULL;
        sqlite3_exec (other, "COMMIT", NULL, NULL, NULL);
        w = dinolab_store_writer_new (s, u, &error);
        g_assert_no_error (error);
        g_assert_cmpint (sqlite3_exec (other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), ==, SQLITE_OK);
        push_steps (w, 0, 100);
        g_assert_false (dinolab_store_writer_flush (w, &error));
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB);
        g_test_message ("writer: %s", error->message);
        g_assert_nonnull (strstr (error->message, "database is locked"));
        g_clear_error (&error);
        push_steps (w, 100, 200);
        g_assert_cmpint (sqlite3_exec (other, "COMMIT", NULL, NULL, NULL), ==, SQLITE_OK);
        g_assert_true (dinolab_store_writer_flush (w, &error));
        g_assert_no_error (error);
    }
    assert_series (s, u, 0, 200);
    g_assert_true (dinolab_store_rename_run (s, u, "renamed", &error));
    sqlite3_close (other);
}

static void
test_deleted_while_writing (void)
{
    g_autoptr (Tmp) t = tmp_new ();
    g_autoptr (DinolabStore) s = open_ok (t->db);
    g_autoptr (GError) error = NULL;
    g_autofree char *u = create_run (s, "doomed");
    g_autoptr (DinolabStoreWriter) w = dinolab_store_writer_new (s, u, &error);

    push_steps (w, 0, 10);
    g_assert_true (dinolab_store_writer_flush (w, &error));
    g_assert_true (dinolab_store_delete_run (s, u, &error));
    push_steps (w, 10, 20);
    g_assert_false (dinolab_store_writer_flush (w, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "was deleted"));
    g_assert_cmpint (sql_int (t->db, "SELECT count (*) FROM metrics"), ==, 0);
}

// ----------------------------------------------------------------------------
// checkpoints, markers, snapshots

static void
test_children (void)
{
    g_autoptr (Tmp) t = tmp_new ();
    g_autoptr (DinolabStore) s = open_ok (t->db);
    g_autoptr (GError) error = NULL;
    g_autofree char *u = create_run (s, "kids");
    g_autofree char *dir = dinolab_store_get_run_dir (s, u);
    g_autofree char *file = g_build_filename (dir, "step-00000100.safetensors", NULL);
    g_autofree char *rel = g_strdup_printf ("runs/%s/step-00000100.safetensors", u);
    g_autofree char *sha = NULL;
    gint64 size = 0;

    /* sha256("abc"), FIPS 180-2 appendix B.1 */
    g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
    g_assert_true (g_file_set_contents (file, "abc", 3, NULL));
    sha = dinolab_store_hash_file (file, &size, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (sha, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    g_assert_cmpint (size, ==, 3);

    /* absolute path inside the folder is stored relative */
    g_assert_true (dinolab_store_add_checkpoint (s, u, 100, 1, file, sha, size, &error));
    g_assert_true (dinolab_store_add_checkpoint (s, u, 300, 3, "runs/x/step-300.safetensors", sha, 7, &error));
    g_assert_true (dinolab_store_add_checkpoint (s, u, 200, 2, "/elsewhere/step-200.safetensors", sha, 5, &error));
    g_assert_no_error (error);
    g_assert_false (dinolab_store_add_checkpoint (s, u, 400, 4, "runs/../../etc/passwd", sha, 1, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_clear_error (&error);
    g_assert_false (dinolab_store_add_checkpoint (s, u, 400, 4, "x", "abc", 1, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_clear_error (&error);
    {
        g_autoptr (GPtrArray) l = dinolab_store_list_checkpoints (s, u, &error);
        g_autoptr (DinolabCheckpointInfo) latest = dinolab_store_get_latest_checkpoint (s, u, &error);
        const DinolabCheckpointInfo *c0;
        g_autofree char *abs = NULL;
        g_assert_no_error (error);
        g_assert_cmpuint (l->len, ==, 3);
        c0 = l->pdata[0];
        g_assert_cmpint (c0->step, ==, 100);
        g_assert_cmpint (c0->epoch, ==, 1);
        g_assert_cmpstr (c0->path, ==, rel);
        g_assert_cmpstr (c0->sha256, ==, sha);
        g_assert_cmpint (c0->size, ==, 3);
        abs = dinolab_store_resolve_path (s, c0->path);
        g_assert_cmpstr (abs, ==, file);
        g_assert_cmpstr (((DinolabCheckpointInfo *) l->pdata[1])->path, ==, "/elsewhere/step-200.safetensors");
        g_assert_cmpint (latest->step, ==, 300);
    }
    g_assert_true (dinolab_store_delete_checkpoint (s, u, 300, &error));
    g_assert_true (dinolab_store_delete_checkpoint (s, u, 999, &error));  /* absent: fine */
    {
        g_autoptr (DinolabCheckpointInfo) latest = dinolab_store_get_latest_checkpoint (s, u, &error);
        g_assert_no_error (error);
        g_assert_cmpint (latest->step, ==, 200);
    }

    /* markers, directly and through the writer, ordered by step */
    g_assert_true (dinolab_store_add_marker (s, u, 50, "collapse", "h(P_t) < 0.05 for 100 steps", &error));
    g_assert_false (dinolab_store_add_marker (s, u, 50, "Bad Kind", NULL, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_clear_error (&error);
    {
        g_autoptr (DinolabStoreWriter) w = dinolab_store_writer_new (s, u, &error);
        int idx[2] = { 3, 141 };
        float maps[2 * 3 * 4];
        for (int i = 0; i < 24; i++)
            maps[i] = (float) i / 7.0f - 1.0f;
        dinolab_store_writer_push_marker (w, 10, "resume", NULL);
        dinolab_store_writer_push_snapshot (w, 500, 5.0, 2, idx, 3, 2, 2, maps);
        dinolab_store_writer_set_status (w, DINOLAB_RUN_STATUS_DIVERGED);
        g_assert_true (dinolab_store_writer_flush (w, &error));
    }
    {
        g_autoptr (GPtrArray) m = dinolab_store_list_markers (s, u, &error);
        g_autoptr (DinolabRunInfo) info = dinolab_store_get_run (s, u, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (m->len, ==, 2);
        g_assert_cmpstr (((DinolabMarker *) m->pdata[0])->kind, ==, "resume");
        g_assert_cmpstr (((DinolabMarker *) m->pdata[0])->text, ==, "");
        g_assert_cmpstr (((DinolabMarker *) m->pdata[1])->text, ==, "h(P_t) < 0.05 for 100 steps");
        g_assert_cmpint (((DinolabMarker *) m->pdata[1])->step, ==, 50);
        g_assert_cmpint (info->status, ==, DINOLAB_RUN_STATUS_DIVERGED);
        g_assert_cmpfloat (info->ended, >, 0.0);
    }

    /* snapshots: a direct one at step 100, the writer's at 500; exact float round trip */
    {
        int idx[1] = { 7 };
        float maps[1 * 2 * 6];
        g_autoptr (GArray) steps = NULL;
        g_autoptr (DinolabAttentionSnapshot) a = NULL, b = NULL, latest = NULL;
        for (int i = 0; i < 12; i++)
            maps[i] = 1.0f / (float) (i + 1);
        g_assert_true (dinolab_store_add_snapshot (s, u, 100, 1.0, 1, idx, 2, 2, 3, maps, &error));
        g_assert_false (dinolab_store_add_snapshot (s, u, 101, 1.0, 0, idx, 2, 2, 3, maps, &error));
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
        g_clear_error (&error);
        steps = dinolab_store_list_snapshot_steps (s, u, &error);
        g_assert_cmpuint (steps->len, ==, 2);
        g_assert_cmpint (g_array_index (steps, gint64, 0), ==, 100);
        g_assert_cmpint (g_array_index (steps, gint64, 1), ==, 500);
        a = dinolab_store_get_snapshot (s, u, 100, &error);
        g_assert_no_error (error);
        g_assert_cmpint (a->n_images, ==, 1);
        g_assert_cmpint (a->heads, ==, 2);
        g_assert_cmpint (a->grid_h, ==, 2);
        g_assert_cmpint (a->grid_w, ==, 3);
        g_assert_cmpint (a->image_indices[0], ==, 7);
        g_assert_cmpmem (a->maps, sizeof maps, maps, sizeof maps);
        latest = dinolab_store_get_snapshot (s, u, -1, &error);
        g_assert_cmpint (latest->step, ==, 500);
        g_assert_cmpint (latest->image_indices[1], ==, 141);
        g_assert_true (latest->epoch == 5.0);
        for (int i = 0; i < 24; i++)
            g_assert_true (latest->maps[i] == (float) i / 7.0f - 1.0f);
        b = dinolab_store_get_snapshot (s, u, 42, &error);
        g_assert_null (b);
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
        g_clear_error (&error);
    }
    /* deleting the run removes every child row */
    g_assert_true (dinolab_store_delete_run (s, u, &error));
    g_assert_cmpint (sql_int (t->db, "SELECT (SELECT count (*) FROM checkpoints) + (SELECT count (*)"
                                     " FROM markers) + (SELECT count (*) FROM snapshots)"), ==, 0);
}

// ----------------------------------------------------------------------------
// resume in place: new hyperparameters, and truncation after the checkpoint's step

/* HPARAMS after `resume --set epochs=300 --set threads=4`, with "seed" gone: 8 keys. */
#define HPARAMS_RESUMED "{\"arch\": \"vit_tiny\", \"lr\": 0.0005, \"teacher_temp\": 0.04, " \
                        "\"epochs\": 300, \"global_crops_scale\": [0.4, 1.0], " \
                        "\"use_centering\": true, \"dataset\": \"fashion-mnist:/data/fm\", " \
                        "\"threads\": 4}"

/* Plain SQL about one run: ?1 is its uuid, and RUN_ID its id. */
#define RUN_ID "(SELECT id FROM runs WHERE uuid = ?1)"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_value, sqlite3_value_free)

/* The first column of the first row of @sql with ?1 = @uuid, as a copy
 * (sqlite3_value_free); NULL when there is no row or the value is SQL NULL. */
static sqlite3_value *
run_sql (const char *db_path, const char *uuid, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    sqlite3_value *v = NULL;
    g_assert_cmpint (sqlite3_open (db_path, &db), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &st, NULL), ==, SQLITE_OK);
    sqlite3_bind_text (st, 1, uuid, -1, SQLITE_TRANSIENT);
    if (sqlite3_step (st) == SQLITE_ROW && sqlite3_column_type (st, 0) != SQLITE_NULL)
        v = sqlite3_value_dup (sqlite3_column_value (st, 0));
    sqlite3_finalize (st);
    sqlite3_close (db);
    return v;
}

static gint64
run_sql_int (const char *db_path, const char *uuid, const char *sql)
{
    g_autoptr (sqlite3_value) v = run_sql (db_path, uuid, sql);
    return v != NULL ? sqlite3_value_int64 (v) : G_MININT64;
}

static char *
run_sql_text (const char *db_path, const char *uuid, const char *sql)
{
    g_autoptr (sqlite3_value) v = run_sql (db_path, uuid, sql);
    return v != NULL ? g_strdup ((const char *) sqlite3_value_text (v)) : NULL;
}

static double
run_sql_double (const char *db_path, const char *uuid, const char *sql)
{
    g_autoptr (sqlite3_value) v = run_sql (db_path, uuid, sql);
    return v != NULL ? sqlite3_value_double (v) : NAN;
}

/* Rows of run @uuid in @table. */
static gint64
count_rows (const char *db, const char *uuid, const char *table)
{
    g_autofree char *sql = g_strdup_printf ("SELECT count (*) FROM %s WHERE run_id = " RUN_ID,
                                            table);
    return run_sql_int (db, uuid, sql);
}

/* The run_hparams value of @key for run @uuid (g_free), NULL if it has no such row. */
static char *
hparam_value (const char *db, const char *uuid, const char *key)
{
    g_autofree char *sql = g_strdup_printf ("SELECT value FROM run_hparams"
                                            " WHERE run_id = " RUN_ID " AND key = '%s'", key);
    return run_sql_text (db, uuid, sql);
}

/* The run's JSON, runs.epochs and run_hparams rows equal @json's: @epochs and @n_keys
 * keys, with "epochs" as text @epochs_text. */
static void
assert_hparams (const char *db, const char *uuid, const char *json, int epochs, int n_keys,
                const char *epochs_text)
{
    g_autofree char *stored = run_sql_text (db, uuid, "SELECT hparams FROM runs WHERE uuid = ?1");
    g_autofree char *text = hparam_value (db, uuid, "epochs");

    g_assert_cmpstr (stored, ==, json);
    g_assert_cmpint (run_sql_int (db, uuid, "SELECT epochs FROM runs WHERE uuid = ?1"), ==, epochs);
    g_assert_cmpint (count_rows (db, uuid, "run_hparams"), ==, n_keys);
    g_assert_cmpstr (text, ==, epochs_text);
    g_assert_true (run_sql_double (db, uuid, "SELECT num FROM run_hparams"
                                             " WHERE run_id = " RUN_ID " AND key = 'epochs'")
                   == (double) epochs);
}

static void
test_set_hparams (void)
{
    g_autoptr (Tmp) t = tmp_new ();
    g_autoptr (DinolabStore) s = open_ok (t->db);
    g_autoptr (GError) error = NULL;
    g_autofree char *a = create_run (s, "resumed");
    g_autofree char *b = create_run (s, "bystander");
    g_autofree char *su = g_strndup (a, 8);
    g_autofree char *absent = g_uuid_string_random ();

    assert_hparams (t->db, a, HPARAMS, 100, 8, "100");
    g_assert_true (dinolab_store_set_hparams_json (s, a, HPARAMS_RESUMED, &error));
    g_assert_no_error (error);

    /* JSON verbatim, epochs column, rows replaced (seed gone, threads new) */
    assert_hparams (t->db, a, HPARAMS_RESUMED, 300, 8, "300");
    {
        g_autofree char *seed = hparam_value (t->db, a, "seed");
        g_autofree char *threads = hparam_value (t->db, a, "threads");
        g_autofree char *scale = hparam_value (t->db, a, "global_crops_scale");
        g_autofree char *dataset = run_sql_text (t->db, a, "SELECT dataset FROM runs WHERE uuid = ?1");
        g_assert_null (seed);
        g_assert_cmpstr (threads, ==, "4");
        g_assert_cmpstr (scale, ==, "0.4,1");
        g_assert_cmpstr (dataset, ==, "fashion-mnist:/data/fm");
    }
    /* the other run is untouched; what `runs list/show` read follows */
    assert_hparams (t->db, b, HPARAMS, 100, 8, "100");
    {
        g_autoptr (DinolabRunInfo) info = dinolab_store_get_run (s, a, &error);
        g_autoptr (GHashTable) table = dinolab_store_get_hparams_table (s, a, &error);
        g_autofree char *json = dinolab_store_get_hparams_json (s, a, &error);
        g_assert_no_error (error);
        g_assert_cmpint (info->epochs, ==, 300);
        g_assert_cmpstr (g_hash_table_lookup (table, "epochs"), ==, "300");
        g_assert_cmpstr (json, ==, HPARAMS_RESUMED);
    }

    /* refused: not JSON, not an object, no such run; nothing changes */
    g_assert_false (dinolab_store_set_hparams_json (s, a, "{\"epochs\": ", &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_test_message ("bad JSON: %s", error->message);
    g_assert_nonnull (strstr (error->message, "invalid JSON"));
    g_assert_nonnull (strstr (error->message, a));
    g_clear_error (&error);
    g_assert_false (dinolab_store_set_hparams_json (s, a, "[300]", &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_assert_nonnull (strstr (error->message, "not a JSON object"));
    g_clear_error (&error);
    g_assert_false (dinolab_store_set_hparams_json (s, absent, HPARAMS, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_assert_nonnull (strstr (error->message, "no run"));
    g_clear_error (&error);
    assert_hparams (t->db, a, HPARAMS_RESUMED, 300, 8, "300");

    /* one transaction: a row refused after the JSON and epochs were updated and the old
     * rows deleted rolls everything back */
    sql_exec (t->db, "CREATE TRIGGER refuse_boom BEFORE INSERT ON run_hparams"
                     " WHEN NEW.key = 'boom' BEGIN SELECT RAISE (ABORT, 'boom refused'); END");
    g_assert_false (dinolab_store_set_hparams_json (s, a, "{\"epochs\": 7, \"boom\": 1}", &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB);
    g_test_message ("refused row: %s", error->message);
    g_assert_nonnull (strstr (error->message, t->db));
    g_assert_nonnull (strstr (error->message, "set the hyperparameters of run"));
    g_assert_nonnull (strstr (error->message, su));
    g_assert_nonnull (strstr (error->message, "boom refused"));
    g_clear_error (&error);
    assert_hparams (t->db, a, HPARAMS_RESUMED, 300, 8, "300");
    sql_exec (t->db, "DROP TRIGGER refuse_boom");

    /* a read-only handle refuses */
    {
        g_autoptr (DinolabStore) ro = dinolab_store_open_full (t->db, DINOLAB_STORE_OPEN_READ_ONLY,
                                                               &error);
        g_assert_no_error (error);
        g_assert_false (dinolab_store_set_hparams_json (ro, a, HPARAMS, &error));
        g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB);
        g_assert_nonnull (strstr (error->message, "read-only"));
        g_clear_error (&error);
    }
    assert_hparams (t->db, a, HPARAMS_RESUMED, 300, 8, "300");
}

/* Fills run @uuid: 3 metrics at steps [0, 20), markers at 4, 9, 10, 12 and 19,
 * snapshots at 9, 10 and 19, checkpoints at 10 and 20. */
static void
fill_run (DinolabStore *s, const char *uuid)
{
    static const gint64 marker_steps[] = { 4, 9, 10, 12, 19 };
    static const char *const marker_kinds[] = { "collapse", "collapse", "resume", "collapse",
                                                "divergence" };
    static const gint64 snapshot_steps[] = { 9, 10, 19 };
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabStoreWriter) w = dinolab_store_writer_new (s, uuid, &error);
    g_autofree char *sha = g_strnfill (64, 'a');
    int idx[2] = { 3, 5 };
    float maps[2 * 2 * 4];

    g_assert_no_error (error);
    push_steps (w, 0, 20);
    for (guint i = 0; i < G_N_ELEMENTS (marker_steps); i++)
        dinolab_store_writer_push_marker (w, marker_steps[i], marker_kinds[i], NULL);
    for (guint i = 0; i < G_N_ELEMENTS (snapshot_steps); i++) {
        for (int j = 0; j < 16; j++)
            maps[j] = (float) (snapshot_steps[i] * 16 + j);
        dinolab_store_writer_push_snapshot (w, snapshot_steps[i], (double) snapshot_steps[i] / 10.0,
                                            2, idx, 2, 2, 2, maps);
    }
    g_assert_true (dinolab_store_writer_flush (w, &error));
    g_assert_true (dinolab_store_add_checkpoint (s, uuid, 10, 1, "runs/x/step-10.safetensors", sha,
                                                 1, &error));
    g_assert_true (dinolab_store_add_checkpoint (s, uuid, 20, 2, "runs/x/step-20.safetensors", sha,
                                                 1, &error));
    g_assert_no_error (error);
}

/* Counts of run @uuid's rows: metrics, markers, snapshots, checkpoints. */
static void
assert_counts (const char *db, const char *uuid, gint64 metrics, gint64 markers, gint64 snapshots,
               gint64 checkpoints)
{
    g_assert_cmpint (count_rows (db, uuid, "metrics"), ==, metrics);
    g_assert_cmpint (count_rows (db, uuid, "markers"), ==, markers);
    g_assert_cmpint (count_rows (db, uuid, "snapshots"), ==, snapshots);
    g_assert_cmpint (count_rows (db, uuid, "checkpoints"), ==, checkpoints);
}

static void
test_truncate_after (void)
{
    g_autoptr (Tmp) t = tmp_new ();
    g_autoptr (DinolabStore) s = open_ok (t->db);
    g_autoptr (GError) error = NULL;
    g_autofree char *a = create_run (s, "resumed");
    g_autofree char *b = create_run (s, "bystander");
    g_autofree char *absent = g_uuid_string_random ();

    fill_run (s, a);
    fill_run (s, b);
    assert_counts (t->db, a, 3 * 20, 5, 3, 2);

    /* one transaction: a refused snapshot delete keeps the markers deleted before it */
    sql_exec (t->db, "CREATE TRIGGER keep_snapshots BEFORE DELETE ON snapshots"
                     " BEGIN SELECT RAISE (ABORT, 'snapshots are kept'); END");
    g_assert_false (dinolab_store_truncate_after (s, a, 9, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_DB);
    g_test_message ("refused delete: %s", error->message);
    g_assert_nonnull (strstr (error->message, "cannot truncate run"));
    g_assert_nonnull (strstr (error->message, "snapshots are kept"));
    g_clear_error (&error);
    assert_counts (t->db, a, 3 * 20, 5, 3, 2);
    sql_exec (t->db, "DROP TRIGGER keep_snapshots");

    /* resume from the checkpoint at step 10: steps > 9 go; a row at 9 stays */
    g_assert_true (dinolab_store_truncate_after (s, a, 9, &error));
    g_assert_no_error (error);
    assert_counts (t->db, a, 3 * 10, 2, 1, 2);
    g_assert_cmpint (run_sql_int (t->db, a, "SELECT max (step) FROM metrics WHERE run_id = " RUN_ID),
                     ==, 9);
    g_assert_cmpint (run_sql_int (t->db, a, "SELECT max (step) FROM markers WHERE run_id = " RUN_ID),
                     ==, 9);
    g_assert_cmpint (run_sql_int (t->db, a, "SELECT step FROM snapshots WHERE run_id = " RUN_ID),
                     ==, 9);
    /* the summary is recomputed from what is left */
    g_assert_cmpint (run_sql_int (t->db, a, "SELECT last_step FROM runs WHERE uuid = ?1"), ==, 9);
    g_assert_cmpint (run_sql_int (t->db, a, "SELECT n_points FROM runs WHERE uuid = ?1"), ==, 3 * 10);
    g_assert_true (run_sql_double (t->db, a, "SELECT last_loss FROM runs WHERE uuid = ?1")
                   == value_of (0, 9));
    g_assert_true (run_sql_double (t->db, a, "SELECT last_kl FROM runs WHERE uuid = ?1")
                   == value_of (2, 9));
    g_assert_cmpint (run_sql_int (t->db, a, "SELECT sum (n) FROM run_metrics WHERE run_id = " RUN_ID),
                     ==, 3 * 10);
    /* the other run keeps everything */
    assert_counts (t->db, b, 3 * 20, 5, 3, 2);

    /* the resumed process adds its marker at 10 and computes the steps again */
    g_assert_true (dinolab_store_add_marker (s, a, 10, "resume", "resumed from step 10", &error));
    {
        g_autoptr (DinolabStoreWriter) w = dinolab_store_writer_new (s, a, &error);
        g_autoptr (GPtrArray) m = dinolab_store_list_markers (s, a, &error);
        g_autoptr (GArray) steps = dinolab_store_list_snapshot_steps (s, a, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (m->len, ==, 3);
        g_assert_cmpint (((DinolabMarker *) m->pdata[0])->step, ==, 4);
        g_assert_cmpint (((DinolabMarker *) m->pdata[1])->step, ==, 9);
        g_assert_cmpint (((DinolabMarker *) m->pdata[2])->step, ==, 10);
        g_assert_cmpstr (((DinolabMarker *) m->pdata[2])->kind, ==, "resume");
        g_assert_cmpuint (steps->len, ==, 1);
        push_steps (w, 10, 15);
        g_assert_true (dinolab_store_writer_flush (w, &error));
    }
    assert_series (s, a, 0, 15);
    g_assert_cmpint (run_sql_int (t->db, a, "SELECT n_points FROM runs WHERE uuid = ?1"), ==, 3 * 15);

    /* truncate_metrics stays metrics only */
    g_assert_true (dinolab_store_truncate_metrics (s, b, 9, &error));
    g_assert_no_error (error);
    assert_counts (t->db, b, 3 * 10, 5, 3, 2);

    g_assert_false (dinolab_store_truncate_after (s, absent, 9, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_assert_nonnull (strstr (error->message, "no run"));
    g_clear_error (&error);
}

int
main (int argc, char **argv)
{
    const char *child_db = g_getenv ("DINOLAB_TEST_STORE_CHILD");
    g_autofree char *session = NULL;
    int rc;

    if (child_db != NULL)
        return child_main (child_db);
    /* Environment set once, before any thread exists (setenv is not thread-safe);
     * g_test_trap_subprocess children inherit it and reuse the session folder. */
    if (g_getenv ("DINOLAB_TEST_SESSION") == NULL) {
        /* the child program is this one */
        g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
        g_autofree char *self = exe != NULL ? g_strdup (exe) : g_canonicalize_filename (argv[0], NULL);
        g_autofree char *env_db = NULL;
        GError *error = NULL;
        session = g_dir_make_tmp ("dinolab-store-session-XXXXXX", &error);
        g_assert_no_error (error);
        env_db = g_build_filename (session, "env", "runs.db", NULL);
        g_setenv ("DINOLAB_TEST_SESSION", session, TRUE);
        g_setenv ("DINOLAB_TEST_STORE_SELF", self, TRUE);
        g_setenv ("DINOLAB_DB", env_db, TRUE);
        g_unsetenv ("DINOLAB_DB_BUSY_TIMEOUT_MS");
    }
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/store/runs", test_runs);
    g_test_add_func ("/store/migrations", test_migrations);
    g_test_add_func ("/store/refused", test_refused);
    g_test_add_func ("/store/read-only", test_read_only);
    g_test_add_func ("/store/read-only/subprocess", test_read_only_subprocess);
    g_test_add_func ("/store/series", test_series);
    g_test_add_func ("/store/interrupted", test_interrupted);
    g_test_add_func ("/store/reader-during-write", test_reader_during_write);
    g_test_add_func ("/store/two-writers", test_two_writers);
    g_test_add_func ("/store/locked", test_locked);
    g_test_add_func ("/store/deleted-while-writing", test_deleted_while_writing);
    g_test_add_func ("/store/children", test_children);
    g_test_add_func ("/store/set-hparams", test_set_hparams);
    g_test_add_func ("/store/truncate-after", test_truncate_after);
    rc = g_test_run ();
    if (session != NULL)
        remove_tree (session);
    return rc;
}
