/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * cmd-bench-store.c: `dinolab-cli bench-store`, the run store's speed figures on a
 * fresh database: creating 1,000 runs, opening the store and listing them, inserting
 * 100k metric points through the writer (what the training thread pays per push, and
 * how long until they are committed), reading one series of 100k points, and reading
 * 10 runs x 100k points. It prints figures and never asserts them (DESIGN.md "What
 * done means"). It does not touch the user's database unless --db names it, and then
 * refuses an existing file.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "cli.h"
#include "dinolab/error.h"
#include "dinolab/store.h"

#define CMD "bench-store"

/* The per-step metrics the trainer stores (11 per step). */
static const char *const step_keys[] = {
    "loss", "teacher_entropy", "kl", "student_entropy", "lr", "weight_decay", "momentum",
    "teacher_temp", "grad_norm", "center_norm", "images_per_second",
};

static double
now_s_ (void)
{
    return (double) g_get_monotonic_time () / G_USEC_PER_SEC;
}

static int
cmp_double_ (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static double
median_ (double *v, int n)
{
    qsort (v, (size_t) n, sizeof *v, cmp_double_);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void
remove_tree_ (const char *path)
{
    GStatBuf sb;
    if (g_lstat (path, &sb) != 0)
        return;
    if (S_ISDIR (sb.st_mode)) {
        g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
        const char *name;
        while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
            g_autofree char *child = g_build_filename (path, name, NULL);
            remove_tree_ (child);
        }
        g_rmdir (path);
    } else {
        g_unlink (path);
    }
}

/* Pushes @n_steps steps of @n_keys metrics (values from a cheap formula) and returns
 * the seconds spent inside the push calls. */
static double
push_run_ (DinolabStoreWriter *w, gint64 n_steps, guint n_keys)
{
    double values[G_N_ELEMENTS (step_keys)];
    double spent = 0.0;

    for (gint64 step = 0; step < n_steps; step++) {
        double t0;
        for (guint k = 0; k < n_keys; k++)
            values[k] = 1.0 / (1.0 + (double) step * (k + 1) * 1e-3);
        t0 = now_s_ ();
        dinolab_store_writer_push_metrics (w, step, (double) step / 1000.0, (double) step * 0.05,
                                           n_keys, step_keys, values);
        spent += now_s_ () - t0;
    }
    return spent;
}

int
cmd_bench_store (int argc, char **argv)
{
    g_autofree char *db = NULL, *tmp_dir = NULL, *path = NULL;
    int n_runs = 1000, n_points = 100000, n_big = 10, status = CLI_EXIT_OK;
    gboolean keep = FALSE;
    const GOptionEntry entries[] = {
        { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "Database to create (must not exist; default: a temporary folder)", "PATH" },
        { "runs", 0, 0, G_OPTION_ARG_INT, &n_runs, "Runs to create (default 1000)", "N" },
        { "points", 0, 0, G_OPTION_ARG_INT, &n_points, "Points per long series (default 100000)", "N" },
        { "keep", 0, 0, G_OPTION_ARG_NONE, &keep, "Keep the temporary database", NULL },
        { NULL }
    };
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) uuids = g_ptr_array_new_with_free_func (g_free);
    double t0, t_create, t_push, t_commit, t_open, t_list, t_one[7], t_ten[3];
    DinolabStore *store;

    if (!cli_parse (CMD, "", "Times the run store on a fresh database: create runs, open and "
                    "list them, insert metric points through the writer, read series back. "
                    "Prints figures only.", entries, &argc, &argv, &status))
        return status;
    if (n_runs < n_big || n_points < 1)
        return cli_fail (CMD, CLI_EXIT_USAGE, "--runs must be >= %d and --points >= 1", n_big);
    if (db != NULL) {
        if (g_file_test (db, G_FILE_TEST_EXISTS))
            return cli_fail (CMD, CLI_EXIT_USAGE, "%s exists; give the path of a new database", db);
        path = g_strdup (db);
    } else {
        if ((tmp_dir = g_dir_make_tmp ("dinolab-bench-store-XXXXXX", &error)) == NULL)
            return cli_fail (CMD, CLI_EXIT_FAILURE, "cannot create a temporary folder: %s", error->message);
        path = g_build_filename (tmp_dir, "runs.db", NULL);
    }
    g_unsetenv ("DINOLAB_DB_BUSY_TIMEOUT_MS");

    printf ("Run store benchmark: %s (SQLite %s)\n", path, sqlite3_libversion ());
    if ((store = dinolab_store_open (path, &error)) == NULL)
        return cli_fail_error (CMD, CLI_EXIT_FAILURE, error);

    /* 1. runs: finished ones, as a long-lived database holds */
    t0 = now_s_ ();
    for (int i = 0; i < n_runs; i++) {
        g_autofree char *hp = g_strdup_printf ("{\"arch\": \"vit_tiny\", \"lr\": %g, \"epochs\": 100,"
                                               " \"seed\": %d, \"dataset\": \"fashion-mnist\"}",
                                               0.0005 * (1 + i % 7), i);
        const char *tags[] = { i % 3 == 0 ? "sweep" : "baseline", NULL };
        DinolabRunSpec spec = { .hparams_json = hp, .tags = tags, .status = DINOLAB_RUN_STATUS_FINISHED };
        char *uuid = dinolab_store_create_run (store, &spec, &error);
        if (uuid == NULL) {
            dinolab_store_close (store);
            return cli_fail_error (CMD, CLI_EXIT_FAILURE, error);
        }
        g_ptr_array_add (uuids, uuid);
    }
    t_create = now_s_ () - t0;
    printf ("  create %d runs                     %8.3f s   (%.2f ms per run)\n", n_runs, t_create,
            1e3 * t_create / n_runs);

    /* 2. one series of n_points through the writer: push cost, then time to commit */
    {
        DinolabStoreWriter *w = dinolab_store_writer_new (store, uuids->pdata[0], &error);
        const char *loss_key[] = { "loss" };
        double values = 0.0;
        if (w == NULL) {
            dinolab_store_close (store);
            return cli_fail_error (CMD, CLI_EXIT_FAILURE, error);
        }
        t_push = 0.0;
        t0 = now_s_ ();
        for (gint64 step = 0; step < n_points; step++) {
            double t1 = now_s_ ();
            values = 1.0 / (1.0 + (double) step * 1e-3);
            dinolab_store_writer_push_metrics (w, step, (double) step / 1000.0, (double) step * 0.05, 1,
                                               loss_key, &values);
            t_push += now_s_ () - t1;
        }
        if (!dinolab_store_writer_flush (w, &error)) {
            dinolab_store_writer_free (w);
            dinolab_store_close (store);
            return cli_fail_error (CMD, CLI_EXIT_FAILURE, error);
        }
        t_commit = now_s_ () - t0;
        dinolab_store_writer_free (w);
        printf ("  insert %d points via the writer   %8.3f s   to commit (%.0f points/s); "
                "the pushes took %.1f ms (%.2f us per push)\n", n_points, t_commit,
                n_points / t_commit, 1e3 * t_push, 1e6 * t_push / n_points);
    }
    /* the other long runs (not timed as a figure: same path), then short runs with the
     * trainer's 11 metrics, so the metric tables are not trivially small */
    t0 = now_s_ ();
    {
        gint64 total = 0;
        for (int i = 1; i < (int) uuids->len && i < 100; i++) {
            DinolabStoreWriter *w = dinolab_store_writer_new (store, uuids->pdata[i], &error);
            gint64 steps = i < n_big ? n_points : 500;
            guint keys = i < n_big ? 1 : G_N_ELEMENTS (step_keys);
            if (w == NULL) {
                dinolab_store_close (store);
                return cli_fail_error (CMD, CLI_EXIT_FAILURE, error);
            }
            push_run_ (w, steps, keys);
            if (!dinolab_store_writer_flush (w, &error)) {
                dinolab_store_writer_free (w);
                dinolab_store_close (store);
                return cli_fail_error (CMD, CLI_EXIT_FAILURE, error);
            }
            dinolab_store_writer_free (w);
            total += steps * keys;
        }
        printf ("  (filling: %" G_GINT64_FORMAT " more points in 99 runs took %.2f s)\n", total,
                now_s_ () - t0);
    }
    dinolab_store_close (store);

    /* 3. open and list, as the GUI does at start */
    {
        g_autoptr (GPtrArray) runs = NULL;
        t0 = now_s_ ();
        store = dinolab_store_open (path, &error);
        t_open = now_s_ () - t0;
        if (store == NULL)
            return cli_fail_error (CMD, CLI_EXIT_FAILURE, error);
        t0 = now_s_ ();
        runs = dinolab_store_list_runs (store, &error);
        t_list = now_s_ () - t0;
        if (runs == NULL) {
            dinolab_store_close (store);
            return cli_fail_error (CMD, CLI_EXIT_FAILURE, error);
        }
        printf ("  open the store + list %u runs       %8.1f ms  (open %.1f ms, list %.1f ms)\n",
                runs->len, 1e3 * (t_open + t_list), 1e3 * t_open, 1e3 * t_list);
    }

    /* 4. one series of n_points, median of 7 */
    for (int rep = 0; rep < 7; rep++) {
        DinolabMetricSeries *s;
        t0 = now_s_ ();
        s = dinolab_store_read_series (store, uuids->pdata[0], "loss", -1, &error);
        t_one[rep] = now_s_ () - t0;
        if (s == NULL || s->n != (gsize) n_points) {
            dinolab_metric_series_free (s);
            dinolab_store_close (store);
            if (error != NULL)
                return cli_fail_error (CMD, CLI_EXIT_FAILURE, error);
            return cli_fail (CMD, CLI_EXIT_FAILURE, "read back a wrong number of points");
        }
        dinolab_metric_series_free (s);
    }
    {
        double med = median_ (t_one, 7);   /* sorts: t_one[0] is then the minimum */
        printf ("  read 1 series of %d points        %8.1f ms  (median of 7; min %.1f ms)\n", n_points,
                1e3 * med, 1e3 * t_one[0]);
    }

    /* 5. ten runs x n_points, median of 3 */
    for (int rep = 0; rep < 3; rep++) {
        t0 = now_s_ ();
        for (int i = 0; i < n_big; i++) {
            DinolabMetricSeries *s = dinolab_store_read_series (store, uuids->pdata[i], "loss", -1, &error);
            if (s == NULL) {
                dinolab_store_close (store);
                return cli_fail_error (CMD, CLI_EXIT_FAILURE, error);
            }
            dinolab_metric_series_free (s);
        }
        t_ten[rep] = now_s_ () - t0;
    }
    printf ("  read %d runs x %d points          %8.1f ms  (median of 3)\n", n_big, n_points,
            1e3 * median_ (t_ten, 3));
    dinolab_store_close (store);

    {
        GStatBuf sb;
        if (g_stat (path, &sb) == 0) {
            g_autofree char *size = g_format_size ((guint64) sb.st_size);
            printf ("  database size                       %s\n", size);
        }
    }
    if (tmp_dir != NULL) {
        if (keep)
            printf ("Kept %s\n", path);
        else
            remove_tree_ (tmp_dir);
    }
    return CLI_EXIT_OK;
}
