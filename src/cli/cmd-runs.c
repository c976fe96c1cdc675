/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * cmd-runs.c: `dinolab-cli runs ACTION`, the run store from a terminal:
 *   list [--json]                 one line per run, newest first
 *   show RUN [--json]             every field, hyperparameters, checkpoints, markers,
 *                                 last metrics
 *   compare RUN RUN... [--all]    hyperparameters side by side (only the keys that
 *                                 differ unless --all), then the final metrics
 *   rename RUN NAME | tag RUN TAG... [--remove] | note RUN TEXT
 *   delete RUN... [--yes]         asks on a terminal; refuses without --yes otherwise
 *   export RUN [--out FILE.csv]   metrics as CSV: step,epoch,wall,<one column per metric>
 *   plot RUN... --out FILE        one metric of several runs as a figure (PNG or SVG)
 * Every action takes --db PATH (else $DINOLAB_DB, else the default database). RUN is a
 * uuid, a unique uuid prefix (4+ characters) or an exact name.
 * Exit statuses: 0 success, 1 the work failed (database error), 2 bad usage or an
 * unknown run (the message names it).
 *
 * It only reads and edits what the store holds; it never trains or evaluates.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "cli.h"
#include "plot.h"
#include "dinolab/error.h"
#include "dinolab/store.h"

#define CMD "runs"

// ----------------------------------------------------------------------------
// Formatting helpers

/* Shortest text that reads back as @v; "-" for NaN. */
static char *
fmt_num_ (double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    char *best = NULL;

    if (isnan (v))
        return g_strdup ("-");
    if (isinf (v))
        return g_strdup (v > 0 ? "inf" : "-inf");
    /* the shortest text among the precisions that round-trip: "10", not "1e+01" */
    for (int p = 1; p <= 17; p++) {
        char fmt[8];
        g_snprintf (fmt, sizeof fmt, "%%.%dg", p);
        g_ascii_formatd (buf, sizeof buf, fmt, v);
        if (g_ascii_strtod (buf, NULL) == v && (best == NULL || strlen (buf) < strlen (best))) {
            g_free (best);
            best = g_strdup (buf);
        }
    }
    return best;
}

/* @v with @digits significant digits, "-" for NaN. */
static char *
fmt_sig_ (double v, int digits)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    char fmt[8];

    if (isnan (v))
        return g_strdup ("-");
    g_snprintf (fmt, sizeof fmt, "%%.%dg", digits);
    return g_strdup (g_ascii_formatd (buf, sizeof buf, fmt, v));
}

/* A stored value: a NaN that was stored (a diverged loss) shows as "nan", not "-". */
static char *
fmt_val_ (double v)
{
    return isnan (v) ? g_strdup ("nan") : fmt_sig_ (v, 6);
}

/* Local time "2024-05-01 14:03", or "-" for 0. */
static char *
fmt_time_ (double t)
{
    g_autoptr (GDateTime) dt = NULL;

    if (t <= 0.0)
        return g_strdup ("-");
    dt = g_date_time_new_from_unix_local ((gint64) t);
    return dt != NULL ? g_date_time_format (dt, "%Y-%m-%d %H:%M") : g_strdup ("-");
}

/* "45s", "12m05s", "3h04m", "2d03h". */
static char *
fmt_duration_ (double s)
{
    gint64 n = (gint64) (s + 0.5);

    if (s <= 0.0)
        return g_strdup ("-");
    if (n < 60)
        return g_strdup_printf ("%" G_GINT64_FORMAT "s", n);
    if (n < 3600)
        return g_strdup_printf ("%" G_GINT64_FORMAT "m%02" G_GINT64_FORMAT "s", n / 60, n % 60);
    if (n < 86400)
        return g_strdup_printf ("%" G_GINT64_FORMAT "h%02" G_GINT64_FORMAT "m", n / 3600, n % 3600 / 60);
    return g_strdup_printf ("%" G_GINT64_FORMAT "d%02" G_GINT64_FORMAT "h", n / 86400, n % 86400 / 3600);
}

static char *
fmt_size_ (gint64 bytes)
{
    return g_format_size ((guint64) MAX (bytes, 0));
}

/* Truncates @s to @max characters (UTF-8), ending in "…". */
static char *
ellipsize_ (const char *s, glong max)
{
    if (g_utf8_strlen (s, -1) <= max)
        return g_strdup (s);
    {
        const char *end = g_utf8_offset_to_pointer (s, max - 1);
        g_autofree char *head = g_strndup (s, (gsize) (end - s));
        return g_strconcat (head, "…", NULL);
    }
}

// ----------------------------------------------------------------------------
// A plain text table: columns padded to their widest cell (in characters)

typedef struct {
    guint      n_cols;
    GPtrArray *rows;     /* of char** (n_cols strings each) */
    gboolean  *right;    /* [n_cols] right-aligned (numbers) */
} Table;

static Table *
table_new_ (guint n_cols)
{
    Table *t = g_new0 (Table, 1);
    t->n_cols = n_cols;
    t->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
    t->right = g_new0 (gboolean, n_cols);
    return t;
}

static void
table_free_ (Table *t)
{
    g_ptr_array_unref (t->rows);
    g_free (t->right);
    g_free (t);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Table, table_free_)

/* Adds a row; takes ownership of the @n_cols strings given. */
static void
table_add_ (Table *t, ...)
{
    char **row = g_new0 (char *, t->n_cols + 1);
    va_list ap;

    va_start (ap, t);
    for (guint i = 0; i < t->n_cols; i++)
        row[i] = va_arg (ap, char *);
    va_end (ap);
    g_ptr_array_add (t->rows, row);
}

static void
table_add_row_ (Table *t, char **row)
{
    g_ptr_array_add (t->rows, row);
}

static void
table_print_ (const Table *t)
{
    g_autofree glong *width = g_new0 (glong, t->n_cols);

    for (guint r = 0; r < t->rows->len; r++) {
        char **row = t->rows->pdata[r];
        for (guint c = 0; c < t->n_cols; c++)
            width[c] = MAX (width[c], g_utf8_strlen (row[c] != NULL ? row[c] : "", -1));
    }
    for (guint r = 0; r < t->rows->len; r++) {
        char **row = t->rows->pdata[r];
        g_autoptr (GString) line = g_string_new (NULL);
        for (guint c = 0; c < t->n_cols; c++) {
            const char *cell = row[c] != NULL ? row[c] : "";
            glong pad = width[c] - g_utf8_strlen (cell, -1);
            gboolean last = c + 1 == t->n_cols;
            if (c > 0)
                g_string_append (line, "  ");
            if (t->right[c])
                for (glong i = 0; i < pad; i++)
                    g_string_append_c (line, ' ');
            g_string_append (line, cell);
            if (!t->right[c] && !last)
                for (glong i = 0; i < pad; i++)
                    g_string_append_c (line, ' ');
        }
        while (line->len > 0 && line->str[line->len - 1] == ' ')
            g_string_truncate (line, line->len - 1);
        printf ("%s\n", line->str);
    }
}

// ----------------------------------------------------------------------------
// Option parsing and opening the store

/* Parses @argv for action @action with @entries (--db is added); leaves the
 * positional arguments in (*argc, *argv) after argv[0]. Checks their count against
 * [@min_pos, @max_pos] (max -1: no limit). */
static gboolean
parse_ (const char *action, const char *params, const char *summary, const GOptionEntry *entries,
        char **db, int *argc, char ***argv, int min_pos, int max_pos, int *status)
{
    g_autoptr (GOptionContext) ctx = g_option_context_new (params);
    g_autoptr (GError) error = NULL;
    g_autofree char *prgname = g_strdup_printf ("dinolab-cli runs %s", action);
    g_autofree char *cmd = g_strdup_printf ("runs %s", action);
    const GOptionEntry db_entries[] = {
        { "db", 0, 0, G_OPTION_ARG_FILENAME, db,
          "Run database (default: $DINOLAB_DB, else ~/.local/share/dinolab/runs.db)", "PATH" },
        { NULL }
    };
    int n_pos;

    g_set_prgname (prgname);
    g_option_context_set_summary (ctx, summary);
    g_option_context_add_main_entries (ctx, db_entries, NULL);
    if (entries != NULL)
        g_option_context_add_main_entries (ctx, entries, NULL);
    if (!g_option_context_parse (ctx, argc, argv, &error)) {
        *status = cli_fail (cmd, CLI_EXIT_USAGE, "%s (see --help)", error->message);
        return FALSE;
    }
    n_pos = *argc - 1;
    if (n_pos < min_pos || (max_pos >= 0 && n_pos > max_pos)) {
        if (n_pos < min_pos)
            *status = cli_fail (cmd, CLI_EXIT_USAGE, "expected %s (see --help)", params);
        else
            *status = cli_fail (cmd, CLI_EXIT_USAGE, "unexpected argument '%s' (see --help)",
                                (*argv)[1 + max_pos]);
        return FALSE;
    }
    return TRUE;
}

/* Opens the store. With @must_exist, a missing database file is "no run" (exit 2)
 * rather than a new empty database. Returns NULL with *@status set on failure. */
static DinolabStore *
open_ (const char *action, const char *db, gboolean must_exist, int *status)
{
    g_autofree char *path = db != NULL ? g_strdup (db) : dinolab_store_default_path ();
    g_autofree char *cmd = g_strdup_printf ("runs %s", action);
    g_autoptr (GError) error = NULL;
    DinolabStore *store;

    if (must_exist && !g_file_test (path, G_FILE_TEST_EXISTS)) {
        *status = cli_fail (cmd, CLI_EXIT_USAGE, "%s: no such run database", path);
        return NULL;
    }
    store = dinolab_store_open (path, &error);
    if (store == NULL)
        *status = cli_fail_error (cmd, CLI_EXIT_FAILURE, error);
    return store;
}

/* Resolves @ref to a run; on failure prints the message (exit 2 for an unknown run). */
static DinolabRunInfo *
get_run_ (const char *action, DinolabStore *store, const char *ref, int *status)
{
    g_autofree char *cmd = g_strdup_printf ("runs %s", action);
    g_autoptr (GError) error = NULL;
    DinolabRunInfo *info = dinolab_store_get_run (store, ref, &error);

    if (info == NULL)
        *status = cli_fail_error (cmd, CLI_EXIT_FAILURE, error);
    return info;
}

static int
fail_ (const char *action, const GError *error)
{
    g_autofree char *cmd = g_strdup_printf ("runs %s", action);
    return cli_fail_error (cmd, CLI_EXIT_FAILURE, error);
}

// ----------------------------------------------------------------------------
// JSON

static void
json_add_num_ (JsonBuilder *b, const char *name, double v)
{
    json_builder_set_member_name (b, name);
    if (isfinite (v))
        json_builder_add_double_value (b, v);
    else
        json_builder_add_null_value (b);   /* JSON has no NaN or inf */
}

static void
json_add_str_ (JsonBuilder *b, const char *name, const char *v)
{
    json_builder_set_member_name (b, name);
    if (v != NULL)
        json_builder_add_string_value (b, v);
    else
        json_builder_add_null_value (b);
}

static void
json_add_int_ (JsonBuilder *b, const char *name, gint64 v)
{
    json_builder_set_member_name (b, name);
    json_builder_add_int_value (b, v);
}

static void
json_add_run_ (JsonBuilder *b, const DinolabRunInfo *r)
{
    json_builder_begin_object (b);
    json_add_str_ (b, "uuid", r->uuid);
    json_add_str_ (b, "name", r->name);
    json_add_str_ (b, "status", dinolab_run_status_to_string (r->status));
    json_add_str_ (b, "dataset", r->dataset);
    json_add_num_ (b, "created", r->created);
    json_add_num_ (b, "started", r->started > 0 ? r->started : NAN);
    json_add_num_ (b, "ended", r->ended > 0 ? r->ended : NAN);
    json_add_num_ (b, "duration", dinolab_run_info_get_duration (r));
    json_add_str_ (b, "notes", r->notes);
    json_builder_set_member_name (b, "tags");
    json_builder_begin_array (b);
    for (char **t = r->tags; *t != NULL; t++)
        json_builder_add_string_value (b, *t);
    json_builder_end_array (b);
    json_add_str_ (b, "parent", r->parent_uuid);
    json_add_str_ (b, "engine_version", r->engine_version);
    json_add_str_ (b, "host", r->host);
    json_add_int_ (b, "pid", r->pid);
    json_add_num_ (b, "heartbeat", r->heartbeat > 0 ? r->heartbeat : NAN);
    json_add_int_ (b, "epochs", r->epochs);
    json_add_int_ (b, "keep_last", r->keep_last);
    json_builder_set_member_name (b, "last_step");
    if (r->last_step >= 0)
        json_builder_add_int_value (b, r->last_step);
    else
        json_builder_add_null_value (b);
    json_add_num_ (b, "last_epoch", r->last_epoch);
    json_add_num_ (b, "last_wall", r->last_wall);
    json_add_num_ (b, "last_loss", r->last_loss);
    json_add_num_ (b, "last_teacher_entropy", r->last_teacher_entropy);
    json_add_num_ (b, "last_kl", r->last_kl);
    json_add_num_ (b, "best_knn_top1", r->best_knn_top1);
    json_add_int_ (b, "n_points", r->n_points);
    /* the object stays open: callers may add members, then end it */
}

static void
print_json_ (JsonBuilder *b)
{
    g_autoptr (JsonGenerator) gen = json_generator_new ();
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    g_autofree char *text = NULL;

    json_generator_set_root (gen, root);
    json_generator_set_pretty (gen, TRUE);
    text = json_generator_to_data (gen, NULL);
    printf ("%s\n", text);
}

// ----------------------------------------------------------------------------
// list

static char *
fmt_epochs_ (const DinolabRunInfo *r)
{
    g_autofree char *done = fmt_sig_ (r->last_epoch, 4);
    if (r->epochs > 0)
        return g_strdup_printf ("%s/%d", isnan (r->last_epoch) ? "0" : done, r->epochs);
    return g_strdup (done);
}

static int
runs_list_ (int argc, char **argv)
{
    g_autofree char *db = NULL;
    gboolean json = FALSE;
    int status = CLI_EXIT_OK;
    const GOptionEntry entries[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON array", NULL },
        { NULL }
    };
    g_autoptr (DinolabStore) store = NULL;
    g_autoptr (GPtrArray) runs = NULL;
    g_autoptr (GError) error = NULL;
    g_autofree char *path = NULL;

    if (!parse_ ("list", "", "Lists the runs of the database, newest first: short id, name, "
                 "status, dataset, start, duration, epochs done, last loss, best k-NN top-1 (%), tags.",
                 entries, &db, &argc, &argv, 0, 0, &status))
        return status;
    path = db != NULL ? g_strdup (db) : dinolab_store_default_path ();
    if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
        /* nothing stored yet: do not create a database just to list it */
        if (json)
            printf ("[]\n");
        else
            printf ("No runs (no database at %s).\n", path);
        return CLI_EXIT_OK;
    }
    if ((store = open_ ("list", path, TRUE, &status)) == NULL)
        return status;
    if ((runs = dinolab_store_list_runs (store, &error)) == NULL)
        return fail_ ("list", error);

    if (json) {
        g_autoptr (JsonBuilder) b = json_builder_new ();
        json_builder_begin_array (b);
        for (guint i = 0; i < runs->len; i++) {
            json_add_run_ (b, runs->pdata[i]);
            json_builder_end_object (b);
        }
        json_builder_end_array (b);
        print_json_ (b);
        return CLI_EXIT_OK;
    }
    if (runs->len == 0) {
        printf ("No runs in %s.\n", dinolab_store_get_path (store));
        return CLI_EXIT_OK;
    }
    {
        g_autoptr (Table) t = table_new_ (10);
        t->right[5] = t->right[6] = t->right[7] = t->right[8] = TRUE;
        table_add_ (t, g_strdup ("ID"), g_strdup ("NAME"), g_strdup ("STATUS"), g_strdup ("DATASET"),
                    g_strdup ("STARTED"), g_strdup ("DURATION"), g_strdup ("EPOCHS"),
                    g_strdup ("LOSS"), g_strdup ("KNN"), g_strdup ("TAGS"));
        for (guint i = 0; i < runs->len; i++) {
            const DinolabRunInfo *r = runs->pdata[i];
            table_add_ (t, g_strndup (r->uuid, 8), ellipsize_ (r->name, 32),
                        g_strdup (dinolab_run_status_to_string (r->status)),
                        ellipsize_ (*r->dataset != '\0' ? r->dataset : "-", 28),
                        fmt_time_ (r->started), fmt_duration_ (dinolab_run_info_get_duration (r)),
                        fmt_epochs_ (r), fmt_sig_ (r->last_loss, 5), fmt_sig_ (r->best_knn_top1, 4),
                        g_strjoinv (",", r->tags));
        }
        table_print_ (t);
    }
    return CLI_EXIT_OK;
}

// ----------------------------------------------------------------------------
// show

/* The hyperparameter keys of a run in the order of its JSON (the table order of
 * hparams.h), with their value text from the store. */
static GPtrArray *
hparam_keys_ (const char *json)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);
    JsonNode *root;

    if (json_parser_load_from_data (parser, json, -1, NULL) &&
        (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root)) {
        g_autoptr (GList) members = json_object_get_members (json_node_get_object (root));
        for (GList *l = members; l != NULL; l = l->next)
            g_ptr_array_add (keys, g_strdup (l->data));
    }
    return keys;
}

static int
runs_show_ (int argc, char **argv)
{
    g_autofree char *db = NULL;
    gboolean json = FALSE;
    int status = CLI_EXIT_OK;
    const GOptionEntry entries[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
        { NULL }
    };
    g_autoptr (DinolabStore) store = NULL;
    g_autoptr (DinolabRunInfo) r = NULL;
    g_autoptr (GError) error = NULL;
    g_autofree char *hp_json = NULL;
    g_autoptr (GHashTable) hp = NULL;
    g_autoptr (GPtrArray) keys = NULL, ckpts = NULL, markers = NULL, last = NULL;
    g_autoptr (GArray) snaps = NULL;

    if (!parse_ ("show", "RUN", "Shows everything stored about one run: its fields, hyperparameters, "
                 "checkpoints, markers and the last value of each metric. RUN is a uuid, a uuid "
                 "prefix or a name.", entries, &db, &argc, &argv, 1, 1, &status))
        return status;
    if ((store = open_ ("show", db, TRUE, &status)) == NULL ||
        (r = get_run_ ("show", store, argv[1], &status)) == NULL)
        return status;
    if (!(hp_json = dinolab_store_get_hparams_json (store, r->uuid, &error)) ||
        !(hp = dinolab_store_get_hparams_table (store, r->uuid, &error)) ||
        !(ckpts = dinolab_store_list_checkpoints (store, r->uuid, &error)) ||
        !(markers = dinolab_store_list_markers (store, r->uuid, &error)) ||
        !(last = dinolab_store_get_last_metrics (store, r->uuid, &error)) ||
        !(snaps = dinolab_store_list_snapshot_steps (store, r->uuid, &error)))
        return fail_ ("show", error);
    keys = hparam_keys_ (hp_json);

    if (json) {
        g_autoptr (JsonBuilder) b = json_builder_new ();
        g_autoptr (JsonParser) parser = json_parser_new ();
        json_add_run_ (b, r);
        json_builder_set_member_name (b, "hparams");
        if (json_parser_load_from_data (parser, hp_json, -1, NULL) && json_parser_get_root (parser))
            json_builder_add_value (b, json_node_copy (json_parser_get_root (parser)));
        else
            json_builder_add_null_value (b);
        json_builder_set_member_name (b, "checkpoints");
        json_builder_begin_array (b);
        for (guint i = 0; i < ckpts->len; i++) {
            const DinolabCheckpointInfo *c = ckpts->pdata[i];
            g_autofree char *abs = dinolab_store_resolve_path (store, c->path);
            json_builder_begin_object (b);
            json_add_int_ (b, "step", c->step);
            json_add_int_ (b, "epoch", c->epoch);
            json_add_str_ (b, "path", abs);
            json_add_str_ (b, "sha256", c->sha256);
            json_add_int_ (b, "size", c->size);
            json_add_num_ (b, "created", c->created);
            json_builder_end_object (b);
        }
        json_builder_end_array (b);
        json_builder_set_member_name (b, "markers");
        json_builder_begin_array (b);
        for (guint i = 0; i < markers->len; i++) {
            const DinolabMarker *m = markers->pdata[i];
            json_builder_begin_object (b);
            json_add_int_ (b, "step", m->step);
            json_add_str_ (b, "kind", m->kind);
            json_add_str_ (b, "text", m->text);
            json_add_num_ (b, "created", m->created);
            json_builder_end_object (b);
        }
        json_builder_end_array (b);
        json_builder_set_member_name (b, "metrics");
        json_builder_begin_object (b);
        for (guint i = 0; i < last->len; i++) {
            const DinolabMetricLast *l = last->pdata[i];
            json_builder_set_member_name (b, l->name);
            json_builder_begin_object (b);
            json_add_int_ (b, "n", l->n);
            json_add_int_ (b, "step", l->step);
            json_add_num_ (b, "epoch", l->epoch);
            json_add_num_ (b, "wall", l->wall);
            json_add_num_ (b, "value", l->value);
            json_add_num_ (b, "min", l->min);
            json_add_num_ (b, "max", l->max);
            json_builder_end_object (b);
        }
        json_builder_end_object (b);
        json_builder_set_member_name (b, "attention_snapshot_steps");
        json_builder_begin_array (b);
        for (guint i = 0; i < snaps->len; i++)
            json_builder_add_int_value (b, g_array_index (snaps, gint64, i));
        json_builder_end_array (b);
        json_builder_end_object (b);
        print_json_ (b);
        return CLI_EXIT_OK;
    }

    {
        g_autofree char *created = fmt_time_ (r->created), *started = fmt_time_ (r->started);
        g_autofree char *ended = fmt_time_ (r->ended);
        g_autofree char *dur = fmt_duration_ (dinolab_run_info_get_duration (r));
        g_autofree char *tags = g_strjoinv (", ", r->tags);
        g_autofree char *epochs = fmt_epochs_ (r);
        g_autofree char *beat = fmt_time_ (r->heartbeat);
        g_autofree char *step = r->last_step >= 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, r->last_step)
                                                  : g_strdup ("-");
        printf ("Run        %s\n", r->uuid);
        printf ("Name       %s\n", r->name);
        printf ("Status     %s\n", dinolab_run_status_to_string (r->status));
        printf ("Dataset    %s\n", *r->dataset != '\0' ? r->dataset : "-");
        printf ("Created    %s\n", created);
        printf ("Started    %s\n", started);
        printf ("Ended      %s\n", ended);
        printf ("Duration   %s\n", dur);
        printf ("Progress   step %s, epochs %s\n", step, epochs);
        printf ("Host       %s (pid %" G_GINT64_FORMAT ", last heartbeat %s)\n",
                *r->host != '\0' ? r->host : "-", r->pid, beat);
        printf ("Engine     dinolab %s\n", *r->engine_version != '\0' ? r->engine_version : "?");
        printf ("Parent     %s\n", r->parent_uuid != NULL ? r->parent_uuid : "-");
        printf ("Tags       %s\n", *tags != '\0' ? tags : "-");
        printf ("Notes      %s\n", *r->notes != '\0' ? r->notes : "-");
    }
    printf ("\nHyperparameters\n");
    for (guint i = 0; i < keys->len; i++) {
        const char *v = g_hash_table_lookup (hp, keys->pdata[i]);
        printf ("  %-28s %s\n", (const char *) keys->pdata[i], v != NULL ? v : "?");
    }
    printf ("\nMetrics (last value; min, max over the run)\n");
    if (last->len == 0)
        printf ("  none\n");
    else {
        g_autoptr (Table) t = table_new_ (6);
        t->right[1] = t->right[2] = t->right[3] = t->right[4] = t->right[5] = TRUE;
        table_add_ (t, g_strdup ("  NAME"), g_strdup ("VALUE"), g_strdup ("STEP"), g_strdup ("MIN"),
                    g_strdup ("MAX"), g_strdup ("POINTS"));
        for (guint i = 0; i < last->len; i++) {
            const DinolabMetricLast *l = last->pdata[i];
            table_add_ (t, g_strconcat ("  ", l->name, NULL), fmt_val_ (l->value),
                        g_strdup_printf ("%" G_GINT64_FORMAT, l->step), fmt_sig_ (l->min, 6),
                        fmt_sig_ (l->max, 6), g_strdup_printf ("%" G_GINT64_FORMAT, l->n));
        }
        table_print_ (t);
    }
    if (r->keep_last > 0)
        printf ("\nCheckpoints (the newest %d kept, and the end of every 10th epoch)\n", r->keep_last);
    else
        printf ("\nCheckpoints\n");
    if (ckpts->len == 0)
        printf ("  none\n");
    for (guint i = 0; i < ckpts->len; i++) {
        const DinolabCheckpointInfo *c = ckpts->pdata[i];
        g_autofree char *size = fmt_size_ (c->size);
        g_autofree char *abs = dinolab_store_resolve_path (store, c->path);
        printf ("  step %-9" G_GINT64_FORMAT " epoch %-5d %-9s sha256 %.12s  %s%s\n", c->step, c->epoch,
                size, c->sha256, abs, g_file_test (abs, G_FILE_TEST_EXISTS) ? "" : "  (missing)");
    }
    printf ("\nMarkers\n");
    if (markers->len == 0)
        printf ("  none\n");
    for (guint i = 0; i < markers->len; i++) {
        const DinolabMarker *m = markers->pdata[i];
        printf ("  step %-9" G_GINT64_FORMAT " %-12s %s\n", m->step, m->kind, m->text);
    }
    printf ("\nAttention snapshots: ");
    if (snaps->len == 0)
        printf ("none\n");
    else
        printf ("%u (steps %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT ")\n", snaps->len,
                g_array_index (snaps, gint64, 0), g_array_index (snaps, gint64, snaps->len - 1));
    return CLI_EXIT_OK;
}

// ----------------------------------------------------------------------------
// compare

/* Appends the strings of @add that @all does not hold yet, in their order. */
static void
union_append_ (GPtrArray *all, GHashTable *seen, GPtrArray *add)
{
    for (guint i = 0; i < add->len; i++)
        if (!g_hash_table_contains (seen, add->pdata[i])) {
            char *k = g_strdup (add->pdata[i]);
            g_hash_table_add (seen, k);
            g_ptr_array_add (all, k);
        }
}

static int
cmp_str_ptr_ (gconstpointer a, gconstpointer b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

static int
runs_compare_ (int argc, char **argv)
{
    g_autofree char *db = NULL;
    gboolean all = FALSE, json = FALSE;
    int status = CLI_EXIT_OK, n;
    const GOptionEntry entries[] = {
        { "all", 0, 0, G_OPTION_ARG_NONE, &all, "Show every hyperparameter, not only those that differ", NULL },
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
        { NULL }
    };
    g_autoptr (DinolabStore) store = NULL;
    g_autoptr (GPtrArray) infos = g_ptr_array_new_with_free_func ((GDestroyNotify) dinolab_run_info_free);
    g_autoptr (GPtrArray) hps = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
    g_autoptr (GPtrArray) lasts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
    g_autoptr (GPtrArray) keys = g_ptr_array_new ();        /* owned by seen_keys */
    g_autoptr (GPtrArray) metrics = g_ptr_array_new ();     /* owned by seen_metrics */
    g_autoptr (GHashTable) seen_keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr (GHashTable) seen_metrics = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr (GPtrArray) shown = g_ptr_array_new ();
    g_autoptr (GError) error = NULL;

    if (!parse_ ("compare", "RUN RUN...", "Prints the hyperparameters of two or more runs side by "
                 "side (only the keys whose values differ, unless --all), then their final metrics.",
                 entries, &db, &argc, &argv, 2, -1, &status))
        return status;
    if ((store = open_ ("compare", db, TRUE, &status)) == NULL)
        return status;
    n = argc - 1;
    for (int i = 0; i < n; i++) {
        DinolabRunInfo *r = get_run_ ("compare", store, argv[1 + i], &status);
        g_autofree char *hp_json = NULL;
        g_autoptr (GPtrArray) run_keys = NULL;
        g_autoptr (GPtrArray) last = NULL;
        GHashTable *hp, *lt;
        if (r == NULL)
            return status;
        g_ptr_array_add (infos, r);
        if (!(hp_json = dinolab_store_get_hparams_json (store, r->uuid, &error)) ||
            !(hp = dinolab_store_get_hparams_table (store, r->uuid, &error)) ||
            !(last = dinolab_store_get_last_metrics (store, r->uuid, &error)))
            return fail_ ("compare", error);
        g_ptr_array_add (hps, hp);
        run_keys = hparam_keys_ (hp_json);
        union_append_ (keys, seen_keys, run_keys);
        /* metric name (interned) -> its last value */
        lt = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
        g_ptr_array_add (lasts, lt);
        {
            g_autoptr (GPtrArray) names = g_ptr_array_new ();
            for (guint j = 0; j < last->len; j++) {
                DinolabMetricLast *l = last->pdata[j];
                g_ptr_array_add (names, l->name);
                g_hash_table_insert (lt, (gpointer) g_intern_string (l->name),
                                     g_memdup2 (&l->value, sizeof l->value));
            }
            union_append_ (metrics, seen_metrics, names);
        }
    }
    g_ptr_array_sort (metrics, cmp_str_ptr_);

    /* keys whose values differ between the runs (a missing key differs) */
    for (guint k = 0; k < keys->len; k++) {
        const char *v0 = g_hash_table_lookup (hps->pdata[0], keys->pdata[k]);
        gboolean differ = FALSE;
        for (int i = 1; i < n && !differ; i++)
            differ = g_strcmp0 (v0, g_hash_table_lookup (hps->pdata[i], keys->pdata[k])) != 0;
        if (all || differ)
            g_ptr_array_add (shown, keys->pdata[k]);
    }

    if (json) {
        g_autoptr (JsonBuilder) b = json_builder_new ();
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "runs");
        json_builder_begin_array (b);
        for (int i = 0; i < n; i++) {
            json_add_run_ (b, infos->pdata[i]);
            json_builder_end_object (b);
        }
        json_builder_end_array (b);
        json_builder_set_member_name (b, "hparams");
        json_builder_begin_object (b);
        for (guint k = 0; k < shown->len; k++) {
            json_builder_set_member_name (b, shown->pdata[k]);
            json_builder_begin_array (b);
            for (int i = 0; i < n; i++) {
                const char *v = g_hash_table_lookup (hps->pdata[i], shown->pdata[k]);
                if (v != NULL)
                    json_builder_add_string_value (b, v);
                else
                    json_builder_add_null_value (b);
            }
            json_builder_end_array (b);
        }
        json_builder_end_object (b);
        json_builder_set_member_name (b, "metrics");
        json_builder_begin_object (b);
        for (guint m = 0; m < metrics->len; m++) {
            json_builder_set_member_name (b, metrics->pdata[m]);
            json_builder_begin_array (b);
            for (int i = 0; i < n; i++) {
                const double *v = g_hash_table_lookup (lasts->pdata[i], g_intern_string (metrics->pdata[m]));
                if (v != NULL && isfinite (*v))
                    json_builder_add_double_value (b, *v);
                else
                    json_builder_add_null_value (b);
            }
            json_builder_end_array (b);
        }
        json_builder_end_object (b);
        json_builder_end_object (b);
        print_json_ (b);
        return CLI_EXIT_OK;
    }

    {
        g_autoptr (Table) t = table_new_ ((guint) n + 1);
        char **head = g_new0 (char *, n + 2), **names = g_new0 (char *, n + 2);
        char **st = g_new0 (char *, n + 2);
        head[0] = g_strdup ("");
        names[0] = g_strdup ("");
        st[0] = g_strdup ("status");
        for (int i = 0; i < n; i++) {
            const DinolabRunInfo *r = infos->pdata[i];
            head[1 + i] = g_strndup (r->uuid, 8);
            names[1 + i] = ellipsize_ (r->name, 24);
            st[1 + i] = g_strdup (dinolab_run_status_to_string (r->status));
        }
        table_add_row_ (t, head);
        table_add_row_ (t, names);
        table_add_row_ (t, st);
        {
            char **sep = g_new0 (char *, n + 2);
            sep[0] = g_strdup (all ? "hyperparameters" : "hyperparameters (differing)");
            for (int i = 0; i < n; i++)
                sep[1 + i] = g_strdup ("");
            table_add_row_ (t, sep);
        }
        for (guint k = 0; k < shown->len; k++) {
            char **row = g_new0 (char *, n + 2);
            row[0] = g_strconcat ("  ", (const char *) shown->pdata[k], NULL);
            for (int i = 0; i < n; i++) {
                const char *v = g_hash_table_lookup (hps->pdata[i], shown->pdata[k]);
                row[1 + i] = ellipsize_ (v != NULL ? v : "-", 28);
            }
            table_add_row_ (t, row);
        }
        if (shown->len == 0) {
            char **row = g_new0 (char *, n + 2);
            row[0] = g_strdup ("  (all equal)");
            for (int i = 0; i < n; i++)
                row[1 + i] = g_strdup ("");
            table_add_row_ (t, row);
        }
        {
            char **sep = g_new0 (char *, n + 2);
            sep[0] = g_strdup ("final metrics");
            for (int i = 0; i < n; i++)
                sep[1 + i] = g_strdup ("");
            table_add_row_ (t, sep);
        }
        {
            char **row = g_new0 (char *, n + 2);
            row[0] = g_strdup ("  step");
            for (int i = 0; i < n; i++) {
                const DinolabRunInfo *r = infos->pdata[i];
                row[1 + i] = r->last_step >= 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, r->last_step)
                                               : g_strdup ("-");
            }
            table_add_row_ (t, row);
        }
        for (guint m = 0; m < metrics->len; m++) {
            char **row = g_new0 (char *, n + 2);
            row[0] = g_strconcat ("  ", (const char *) metrics->pdata[m], NULL);
            for (int i = 0; i < n; i++) {
                const double *v = g_hash_table_lookup (lasts->pdata[i], g_intern_string (metrics->pdata[m]));
                row[1 + i] = v != NULL ? fmt_val_ (*v) : g_strdup ("-");
            }
            table_add_row_ (t, row);
        }
        table_print_ (t);
    }
    return CLI_EXIT_OK;
}

// ----------------------------------------------------------------------------
// rename, tag, note

static int
runs_rename_ (int argc, char **argv)
{
    g_autofree char *db = NULL;
    int status = CLI_EXIT_OK;
    g_autoptr (DinolabStore) store = NULL;
    g_autoptr (DinolabRunInfo) r = NULL;
    g_autoptr (GError) error = NULL;

    if (!parse_ ("rename", "RUN NAME", "Gives a run a new name (names need not be unique).",
                 NULL, &db, &argc, &argv, 2, 2, &status))
        return status;
    if ((store = open_ ("rename", db, TRUE, &status)) == NULL ||
        (r = get_run_ ("rename", store, argv[1], &status)) == NULL)
        return status;
    if (!dinolab_store_rename_run (store, r->uuid, argv[2], &error))
        return fail_ ("rename", error);
    return CLI_EXIT_OK;
}

static int
runs_tag_ (int argc, char **argv)
{
    g_autofree char *db = NULL;
    gboolean remove = FALSE;
    int status = CLI_EXIT_OK;
    const GOptionEntry entries[] = {
        { "remove", 0, 0, G_OPTION_ARG_NONE, &remove, "Remove the tags instead of adding them", NULL },
        { NULL }
    };
    g_autoptr (DinolabStore) store = NULL;
    g_autoptr (DinolabRunInfo) r = NULL;
    g_autoptr (GError) error = NULL;
    const char *const *tags;

    if (!parse_ ("tag", "RUN TAG...", "Adds tags to a run (or removes them with --remove). A tag "
                 "has no spaces or commas.", entries, &db, &argc, &argv, 2, -1, &status))
        return status;
    if ((store = open_ ("tag", db, TRUE, &status)) == NULL ||
        (r = get_run_ ("tag", store, argv[1], &status)) == NULL)
        return status;
    /* argv is NULL-terminated after the last positional */
    tags = (const char *const *) argv + 2;
    if (!(remove ? dinolab_store_remove_tags (store, r->uuid, tags, &error)
                 : dinolab_store_add_tags (store, r->uuid, tags, &error)))
        return fail_ ("tag", error);
    return CLI_EXIT_OK;
}

static int
runs_note_ (int argc, char **argv)
{
    g_autofree char *db = NULL;
    int status = CLI_EXIT_OK;
    g_autoptr (DinolabStore) store = NULL;
    g_autoptr (DinolabRunInfo) r = NULL;
    g_autoptr (GError) error = NULL;

    if (!parse_ ("note", "RUN TEXT", "Replaces the notes of a run (\"\" clears them).",
                 NULL, &db, &argc, &argv, 2, 2, &status))
        return status;
    if ((store = open_ ("note", db, TRUE, &status)) == NULL ||
        (r = get_run_ ("note", store, argv[1], &status)) == NULL)
        return status;
    if (!dinolab_store_set_notes (store, r->uuid, argv[2], &error))
        return fail_ ("note", error);
    return CLI_EXIT_OK;
}

// ----------------------------------------------------------------------------
// delete

static int
runs_delete_ (int argc, char **argv)
{
    g_autofree char *db = NULL;
    gboolean yes = FALSE;
    int status = CLI_EXIT_OK;
    const GOptionEntry entries[] = {
        { "yes", 'y', 0, G_OPTION_ARG_NONE, &yes, "Do not ask for confirmation", NULL },
        { NULL }
    };
    g_autoptr (DinolabStore) store = NULL;
    g_autoptr (GPtrArray) runs = g_ptr_array_new_with_free_func ((GDestroyNotify) dinolab_run_info_free);
    g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

    if (!parse_ ("delete", "RUN...", "Deletes runs: their metrics, checkpoints, markers and "
                 "snapshots, and their folder of files. Asks first on a terminal; without a "
                 "terminal, --yes is required.", entries, &db, &argc, &argv, 1, -1, &status))
        return status;
    if ((store = open_ ("delete", db, TRUE, &status)) == NULL)
        return status;
    /* resolve every run before deleting any */
    for (int i = 1; i < argc; i++) {
        DinolabRunInfo *r = get_run_ ("delete", store, argv[i], &status);
        if (r == NULL)
            return status;
        if (g_hash_table_contains (seen, r->uuid)) {
            dinolab_run_info_free (r);
            continue;
        }
        if (r->status == DINOLAB_RUN_STATUS_RUNNING || r->status == DINOLAB_RUN_STATUS_PAUSED) {
            status = cli_fail ("runs delete", CLI_EXIT_USAGE, "run %.8s (%s) is %s in process %"
                               G_GINT64_FORMAT " on %s; stop it first", r->uuid, r->name,
                               dinolab_run_status_to_string (r->status), r->pid, r->host);
            dinolab_run_info_free (r);
            return status;
        }
        g_hash_table_add (seen, r->uuid);
        g_ptr_array_add (runs, r);
    }
    if (!yes) {
        char answer[64] = "";
        if (!isatty (STDIN_FILENO))
            return cli_fail ("runs delete", CLI_EXIT_USAGE,
                             "refusing to delete without --yes: standard input is not a terminal");
        printf ("Delete %u run%s and %s files?\n", runs->len, runs->len == 1 ? "" : "s",
                runs->len == 1 ? "its" : "their");
        for (guint i = 0; i < runs->len; i++) {
            const DinolabRunInfo *r = runs->pdata[i];
            printf ("  %.8s  %s  (%s, %" G_GINT64_FORMAT " metric points)\n", r->uuid, r->name,
                    dinolab_run_status_to_string (r->status), r->n_points);
        }
        printf ("[y/N] ");
        fflush (stdout);
        if (fgets (answer, sizeof answer, stdin) == NULL ||
            (g_ascii_strcasecmp (g_strstrip (answer), "y") != 0 &&
             g_ascii_strcasecmp (answer, "yes") != 0)) {
            printf ("Nothing deleted.\n");
            return CLI_EXIT_FAILURE;
        }
    }
    for (guint i = 0; i < runs->len; i++) {
        const DinolabRunInfo *r = runs->pdata[i];
        g_autoptr (GError) error = NULL;
        if (!dinolab_store_delete_run (store, r->uuid, &error))
            return fail_ ("delete", error);
        printf ("Deleted %.8s (%s)\n", r->uuid, r->name);
    }
    return CLI_EXIT_OK;
}

// ----------------------------------------------------------------------------
// export

static int
runs_export_ (int argc, char **argv)
{
    g_autofree char *db = NULL, *out = NULL, *tmp = NULL;
    int status = CLI_EXIT_OK;
    const GOptionEntry entries[] = {
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Write to FILE (default: standard output)", "FILE.csv" },
        { NULL }
    };
    g_autoptr (DinolabStore) store = NULL;
    g_autoptr (DinolabRunInfo) r = NULL;
    g_autoptr (GError) error = NULL;
    g_auto (GStrv) names = NULL;
    g_autoptr (GPtrArray) series = g_ptr_array_new_with_free_func ((GDestroyNotify) dinolab_metric_series_free);
    g_autofree gsize *pos = NULL;
    guint n;
    FILE *fp = stdout;

    if (!parse_ ("export", "RUN", "Writes the metrics of a run as CSV: step,epoch,wall, then one "
                 "column per metric (sorted by name), one row per step; a metric without a value "
                 "at a step leaves its cell empty.", entries, &db, &argc, &argv, 1, 1, &status))
        return status;
    if ((store = open_ ("export", db, TRUE, &status)) == NULL ||
        (r = get_run_ ("export", store, argv[1], &status)) == NULL)
        return status;
    if (!(names = dinolab_store_list_metrics (store, r->uuid, &error)))
        return fail_ ("export", error);
    n = g_strv_length (names);
    for (guint m = 0; m < n; m++) {
        DinolabMetricSeries *s = dinolab_store_read_series (store, r->uuid, names[m], -1, &error);
        if (s == NULL)
            return fail_ ("export", error);
        g_ptr_array_add (series, s);
    }
    if (out != NULL) {
        /* written beside the target and renamed, so a failure leaves no half file */
        tmp = g_strconcat (out, ".tmp", NULL);
        if ((fp = g_fopen (tmp, "w")) == NULL) {
            int errsv = errno;
            return cli_fail ("runs export", CLI_EXIT_FAILURE, "%s: cannot create: %s", tmp,
                             g_strerror (errsv));
        }
    }
    fprintf (fp, "step,epoch,wall");
    for (guint m = 0; m < n; m++)
        fprintf (fp, ",%s", names[m]);
    fprintf (fp, "\n");

    /* k-way merge of the series by step (each is sorted) */
    pos = g_new0 (gsize, MAX (n, 1));
    for (;;) {
        gint64 step = G_MAXINT64;
        double epoch = NAN, wall = NAN;
        for (guint m = 0; m < n; m++) {
            const DinolabMetricSeries *s = series->pdata[m];
            if (pos[m] < s->n && s->step[pos[m]] < step)
                step = s->step[pos[m]];
        }
        if (step == G_MAXINT64)
            break;
        for (guint m = 0; m < n && isnan (epoch); m++) {
            const DinolabMetricSeries *s = series->pdata[m];
            if (pos[m] < s->n && s->step[pos[m]] == step) {
                epoch = s->epoch[pos[m]];
                wall = s->wall[pos[m]];
            }
        }
        {
            g_autofree char *e = fmt_num_ (epoch), *w = fmt_num_ (wall);
            fprintf (fp, "%" G_GINT64_FORMAT ",%s,%s", step, isnan (epoch) ? "" : e, isnan (wall) ? "" : w);
        }
        for (guint m = 0; m < n; m++) {
            const DinolabMetricSeries *s = series->pdata[m];
            if (pos[m] < s->n && s->step[pos[m]] == step) {
                g_autofree char *v = fmt_num_ (s->value[pos[m]]);
                fprintf (fp, ",%s", isnan (s->value[pos[m]]) ? "nan" : v);
                pos[m]++;
            } else {
                fprintf (fp, ",");
            }
        }
        fprintf (fp, "\n");
    }
    if (out != NULL) {
        gboolean ok = fflush (fp) == 0 && fsync (fileno (fp)) == 0;
        int errsv = errno;
        ok = (fclose (fp) == 0) && ok;
        if (!ok || g_rename (tmp, out) != 0) {
            errsv = ok ? errno : errsv;
            g_unlink (tmp);
            return cli_fail ("runs export", CLI_EXIT_FAILURE, "%s: cannot write: %s", out,
                             g_strerror (errsv));
        }
    } else if (fflush (stdout) != 0) {
        return cli_fail ("runs export", CLI_EXIT_FAILURE, "cannot write to standard output: %s",
                         g_strerror (errno));
    }
    return CLI_EXIT_OK;
}

// ----------------------------------------------------------------------------
// plot

/* Okabe-Ito colours: distinct for colour-blind readers too. */
static const guint32 plot_colours_[] = {
    0x0072b2, 0xd55e00, 0x009e73, 0xcc79a7, 0xe69f00, 0x56b4e9, 0xf0e442, 0x000000,
};

static int
runs_plot_ (int argc, char **argv)
{
    g_autofree char *db = NULL, *out = NULL, *metric = NULL, *x_axis = NULL, *title = NULL;
    g_autofree char *ylabel = NULL;
    g_auto (GStrv) hlines = NULL;
    int width = 800, height = 480, status = CLI_EXIT_OK;
    const GOptionEntry entries[] = {
        { "metric", 'm', 0, G_OPTION_ARG_STRING, &metric, "Metric to plot (default: knn_top1)", "NAME" },
        { "x", 'x', 0, G_OPTION_ARG_STRING, &x_axis, "x axis: step, epoch or minutes (of wall time; default)", "AXIS" },
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Figure to write: .png or .svg (required)", "FILE" },
        { "title", 0, 0, G_OPTION_ARG_STRING, &title, "Title of the figure (default: the metric)", "TEXT" },
        { "ylabel", 0, 0, G_OPTION_ARG_STRING, &ylabel, "Label of the y axis (default: the metric)", "TEXT" },
        { "hline", 0, 0, G_OPTION_ARG_STRING_ARRAY, &hlines, "A dashed reference line VALUE[:LABEL] (repeatable)", "V:LABEL" },
        { "width", 0, 0, G_OPTION_ARG_INT, &width, "Width in points (800)", "N" },
        { "height", 0, 0, G_OPTION_ARG_INT, &height, "Height in points (480)", "N" },
        { NULL }
    };
    g_autoptr (DinolabStore) store = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (GString) note = g_string_new ("dinolab-cli runs plot");
    CliPlot *plot;
    int axis;  /* 0 step, 1 epoch, 2 minutes */
    gboolean svg, ok;

    if (!parse_ ("plot", "RUN...", "Draws one metric of one or more runs against training steps, "
                 "epochs or minutes, one line per run (labelled with its name), and writes the "
                 "figure as PNG (at twice the size, for sharp screens) or SVG.",
                 entries, &db, &argc, &argv, 1, 8, &status))
        return status;
    if (out == NULL)
        return cli_fail ("runs plot", CLI_EXIT_USAGE, "--out FILE is required (see --help)");
    svg = g_str_has_suffix (out, ".svg");
    if (!svg && !g_str_has_suffix (out, ".png"))
        return cli_fail ("runs plot", CLI_EXIT_USAGE, "--out: '%s' does not end in .png or .svg", out);
    if (x_axis == NULL || strcmp (x_axis, "minutes") == 0)
        axis = 2;
    else if (strcmp (x_axis, "step") == 0)
        axis = 0;
    else if (strcmp (x_axis, "epoch") == 0)
        axis = 1;
    else
        return cli_fail ("runs plot", CLI_EXIT_USAGE, "--x: '%s' is not step, epoch or minutes", x_axis);
    if (width < 200 || height < 150)
        return cli_fail ("runs plot", CLI_EXIT_USAGE, "--width and --height must be at least 200 x 150");
    if (metric == NULL)
        metric = g_strdup (DINOLAB_METRIC_KNN_TOP1);
    if ((store = open_ ("plot", db, TRUE, &status)) == NULL)
        return status;

    plot = cli_plot_new (1, title != NULL ? title : metric);
    cli_plot_set_panel (plot, 0, NULL, axis == 0 ? "training step" : axis == 1 ? "epoch" : "minutes",
                        ylabel != NULL ? ylabel : metric);
    for (int i = 1; i < argc; i++) {
        g_autoptr (DinolabRunInfo) r = get_run_ ("plot", store, argv[i], &status);
        g_autoptr (DinolabMetricSeries) s = NULL;
        g_autofree double *x = NULL;

        if (r == NULL ||
            (s = dinolab_store_read_series (store, r->uuid, metric, -1, &error)) == NULL) {
            cli_plot_free (plot);
            return r == NULL ? status : fail_ ("plot", error);
        }
        if (s->n == 0) {
            cli_plot_free (plot);
            return cli_fail ("runs plot", CLI_EXIT_USAGE, "run %s has no metric '%s'", r->name, metric);
        }
        x = g_new (double, s->n);
        for (gsize k = 0; k < s->n; k++)
            x[k] = axis == 0 ? (double) s->step[k] : axis == 1 ? s->epoch[k] : s->wall[k] / 60.0;
        cli_plot_add_line (plot, 0, r->name, plot_colours_[(i - 1) % G_N_ELEMENTS (plot_colours_)],
                           2.2, x, s->value, s->n);
        g_string_append_printf (note, " %s", r->name);
    }
    for (guint h = 0; hlines != NULL && hlines[h] != NULL; h++) {
        const char *colon = strchr (hlines[h], ':');
        char *end = NULL;
        g_autofree char *num = colon ? g_strndup (hlines[h], (gsize) (colon - hlines[h])) : g_strdup (hlines[h]);
        double v = g_ascii_strtod (num, &end);

        if (end == num || *end != '\0' || !isfinite (v)) {
            cli_plot_free (plot);
            return cli_fail ("runs plot", CLI_EXIT_USAGE, "--hline: '%s' is not VALUE[:LABEL]", hlines[h]);
        }
        cli_plot_add_hline (plot, 0, v, colon ? colon + 1 : NULL, 0x666666);
    }
    g_string_append_printf (note, " --metric %s --x %s", metric, axis == 0 ? "step" : axis == 1 ? "epoch" : "minutes");
    cli_plot_set_note (plot, note->str);
    ok = svg ? cli_plot_write_svg (plot, out, width, height, &error)
             : cli_plot_write_png (plot, out, width, height, 2.0, &error);
    cli_plot_free (plot);
    if (!ok)
        return fail_ ("plot", error);
    return CLI_EXIT_OK;
}

// ----------------------------------------------------------------------------
// dispatch

typedef struct {
    const char *name;
    int (*run) (int argc, char **argv);
    const char *summary;
} RunsAction;

static const RunsAction actions[] = {
    { "list",    runs_list_,    "the runs, newest first [--json]" },
    { "show",    runs_show_,    "everything about one run [--json]" },
    { "compare", runs_compare_, "hyperparameters that differ and final metrics, side by side [--all]" },
    { "rename",  runs_rename_,  "give a run a new name" },
    { "tag",     runs_tag_,     "add (or --remove) tags" },
    { "note",    runs_note_,    "replace a run's notes" },
    { "delete",  runs_delete_,  "delete runs and their files [--yes]" },
    { "export",  runs_export_,  "metrics as CSV [--out FILE.csv]" },
    { "plot",    runs_plot_,    "one metric of runs as a PNG or SVG figure --out FILE" },
};

static void
runs_usage_ (FILE *out)
{
    fprintf (out, "Usage: dinolab-cli runs ACTION [OPTION...]\n\n"
                  "Browse and edit the run database (--db PATH, else $DINOLAB_DB, else\n"
                  "~/.local/share/dinolab/runs.db). RUN is a uuid, a uuid prefix or a name.\n\n"
                  "Actions:\n");
    for (size_t i = 0; i < G_N_ELEMENTS (actions); i++)
        fprintf (out, "  %-8s %s\n", actions[i].name, actions[i].summary);
    fprintf (out, "\nRun 'dinolab-cli runs ACTION --help' for the options of an action.\n");
}

int
cmd_runs (int argc, char **argv)
{
    if (argc < 2) {
        runs_usage_ (stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "help") == 0) {
        runs_usage_ (stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < G_N_ELEMENTS (actions); i++)
        if (strcmp (argv[1], actions[i].name) == 0)
            return actions[i].run (argc - 1, argv + 1);
    g_printerr ("dinolab-cli runs: unknown action '%s'\n", argv[1]);
    runs_usage_ (stderr);
    return CLI_EXIT_USAGE;
}
