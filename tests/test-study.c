/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-study.c: `dinolab-cli study collapse` end to end (DINOLAB_CLI; skipped when unset).
 *
 * The study runs on a tiny configuration (patch 4, 12x12 single-channel images, one
 * block 16 wide, out_dim 32, batch 8, 2 local crops) over a synthetic npy dataset the
 * test writes (3 classes of noisy stripes, 48 train and 24 test images), in a temporary
 * run store. What is checked comes from outside the command: the store's own rows (3
 * runs, the tag, the names, the hyperparameters equal except the two switches), the
 * figure files as gdk-pixbuf decodes them (size, non-uniform, the three series colours
 * present) and as text (SVG), the printed table, the JSON as json-glib parses it, the
 * step limit against the stored series, Ctrl-C (a real SIGINT) against the stored run
 * status, and the exit statuses of bad usage.
 */
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "dinolab/io.h"
#include "dinolab/store.h"

/* The figure's size as cmd-study.c lays it out: 1100 x 470 units at scale 2. */
#define PNG_W 2200
#define PNG_H 940

static char *tmpdir;
static char *train_spec;
static int db_counter;

/* The tiny settings, as --set arguments. */
static const char *const tiny_sets[] = {
    "patch_size=4", "embed_dim=16", "depth=1", "num_heads=2", "out_dim=32", "head_hidden_dim=32",
    "bottleneck_dim=16", "batch_size=8", "local_crops_number=2", "global_crop_size=12",
    "local_crop_size=8", "img_size=12", "in_chans=1", "threads=2", NULL
};

// ----------------------------------------------------------------------------
// fixtures and helpers

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
    g_assert_no_error (error);
    g_assert_true (dinolab_npy_write (pl, lab, &error));
    g_assert_no_error (error);
}

/* A fresh folder under tmpdir for one study: <tmpdir>/s<N>, with runs.db and out/. */
static char *
new_case_dir_ (void)
{
    char *dir = g_strdup_printf ("%s/s%d", tmpdir, ++db_counter);

    g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
    return dir;
}

/* argv for `dinolab-cli study collapse --db DIR/runs.db --out DIR/out` + tiny sets +
 * @extra (NULL-terminated). Free with g_ptr_array_unref (strings owned). */
static GPtrArray *
study_argv_ (const char *dir, const char *const *extra)
{
    GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);

    g_ptr_array_add (argv, g_strdup (g_getenv ("DINOLAB_CLI")));
    g_ptr_array_add (argv, g_strdup ("study"));
    g_ptr_array_add (argv, g_strdup ("collapse"));
    g_ptr_array_add (argv, g_strdup ("--db"));
    g_ptr_array_add (argv, g_strdup_printf ("%s/runs.db", dir));
    g_ptr_array_add (argv, g_strdup ("--out"));
    g_ptr_array_add (argv, g_strdup_printf ("%s/out", dir));
    g_ptr_array_add (argv, g_strdup ("--set"));
    g_ptr_array_add (argv, g_strdup_printf ("dataset=%s", train_spec));
    for (const char *const *s = tiny_sets; *s; s++) {
        g_ptr_array_add (argv, g_strdup ("--set"));
        g_ptr_array_add (argv, g_strdup (*s));
    }
    for (const char *const *s = extra; s && *s; s++)
        g_ptr_array_add (argv, g_strdup (*s));
    g_ptr_array_add (argv, NULL);
    return argv;
}

/* Runs @argv to its end; returns the exit status (-1 if it did not exit normally). */
static int
run_ (GPtrArray *argv, char **out, char **err)
{
    g_autoptr (GError) error = NULL;
    int wait_status = 0;

    g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, out, err,
                                 &wait_status, &error));
    g_assert_no_error (error);
    if (err && *err && **err)
        g_test_message ("stderr: %s", *err);
    return WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1;
}

static gboolean
has_tag_ (const DinolabRunInfo *info, const char *tag)
{
    for (char **t = info->tags; *t; t++)
        if (strcmp (*t, tag) == 0)
            return TRUE;
    return FALSE;
}

/* The runs of the store at @dir/runs.db, oldest first. */
static GPtrArray *
list_runs_ (const char *dir, DinolabStore **store_out)
{
    g_autofree char *db = g_strdup_printf ("%s/runs.db", dir);
    g_autoptr (GError) error = NULL;
    DinolabStore *store = dinolab_store_open (db, &error);
    GPtrArray *runs;

    g_assert_no_error (error);
    runs = dinolab_store_list_runs (store, &error);
    g_assert_no_error (error);
    // newest first -> oldest first (creation order is the study's order)
    for (guint i = 0; i < runs->len / 2; i++) {
        gpointer t = runs->pdata[i];
        runs->pdata[i] = runs->pdata[runs->len - 1 - i];
        runs->pdata[runs->len - 1 - i] = t;
    }
    *store_out = store;
    return runs;
}

/* The three runs: the right names, tag, switches, and otherwise identical settings. */
static void
check_runs_ (const char *dir, const char *want_status, gint64 want_steps)
{
    static const char *const names[3] = {
        "collapse: centering + sharpening", "collapse: centering only", "collapse: sharpening only"
    };
    static const char *const centering[3] = { "true", "true", "false" };
    static const char *const sharpening[3] = { "true", "false", "true" };
    DinolabStore *store = NULL;
    g_autoptr (GPtrArray) runs = list_runs_ (dir, &store);
    g_autoptr (GHashTable) first = NULL;
    g_autoptr (GError) error = NULL;

    g_assert_cmpuint (runs->len, ==, 3);
    for (guint i = 0; i < 3; i++) {
        const DinolabRunInfo *info = runs->pdata[i];
        g_autoptr (GHashTable) table = dinolab_store_get_hparams_table (store, info->uuid, &error);
        g_autoptr (DinolabMetricSeries) h = NULL;
        GHashTableIter it;
        gpointer key, value;

        g_assert_no_error (error);
        g_assert_cmpstr (info->name, ==, names[i]);
        g_assert_true (has_tag_ (info, "study:collapse"));
        g_assert_cmpstr (dinolab_run_status_to_string (info->status), ==, want_status);
        g_assert_cmpstr (g_hash_table_lookup (table, "use_centering"), ==, centering[i]);
        g_assert_cmpstr (g_hash_table_lookup (table, "use_sharpening"), ==, sharpening[i]);
        h = dinolab_store_read_series (store, info->uuid, DINOLAB_METRIC_TEACHER_ENTROPY, -1, &error);
        g_assert_no_error (error);
        g_assert_cmpint ((gint64) h->n, ==, want_steps);
        if (i == 0) {
            first = g_steal_pointer (&table);
            continue;
        }
        // every other key as in the first run
        g_assert_cmpuint (g_hash_table_size (table), ==, g_hash_table_size (first));
        g_hash_table_iter_init (&it, table);
        while (g_hash_table_iter_next (&it, &key, &value)) {
            if (strcmp (key, "use_centering") == 0 || strcmp (key, "use_sharpening") == 0)
                continue;
            g_assert_cmpstr (value, ==, g_hash_table_lookup (first, key));
        }
    }
    dinolab_store_close (store);
}

/* The PNG decodes, has the expected size, is not one colour, and holds each series
 * colour (Okabe-Ito blue, vermillion, bluish green) on at least a few pixels. */
static void
check_png_ (const char *path)
{
    static const guint32 colours[3] = { 0x0072b2, 0xd55e00, 0x009e73 };
    g_autoptr (GError) error = NULL;
    g_autoptr (GdkPixbuf) pb = gdk_pixbuf_new_from_file (path, &error);
    int w, h, stride, nch, found[3] = { 0 };
    const guint8 *px;
    g_autoptr (GHashTable) seen = g_hash_table_new (g_direct_hash, g_direct_equal);

    g_assert_no_error (error);
    w = gdk_pixbuf_get_width (pb);
    h = gdk_pixbuf_get_height (pb);
    g_assert_cmpint (w, ==, PNG_W);
    g_assert_cmpint (h, ==, PNG_H);
    stride = gdk_pixbuf_get_rowstride (pb);
    nch = gdk_pixbuf_get_n_channels (pb);
    px = gdk_pixbuf_read_pixels (pb);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const guint8 *p = px + (gsize) y * stride + (gsize) x * nch;
            guint32 rgb = ((guint32) p[0] << 16) | ((guint32) p[1] << 8) | p[2];
            g_hash_table_add (seen, GUINT_TO_POINTER (rgb));
            for (int c = 0; c < 3; c++)
                if (rgb == colours[c])
                    found[c]++;
        }
    g_test_message ("%s: %dx%d, %u distinct colours, series pixels %d / %d / %d", path, w, h,
                    g_hash_table_size (seen), found[0], found[1], found[2]);
    g_assert_cmpuint (g_hash_table_size (seen), >, 16);
    for (int c = 0; c < 3; c++)
        g_assert_cmpint (found[c], >, 20);
}

static void
check_svg_ (const char *path)
{
    g_autofree char *text = NULL;
    g_autoptr (GError) error = NULL;

    g_assert_true (g_file_get_contents (path, &text, NULL, &error));
    g_assert_no_error (error);
    g_assert_true (g_str_has_prefix (text, "<?xml"));
    g_assert_nonnull (strstr (text, "<svg"));
    g_assert_nonnull (strstr (text, "</svg>"));
}

// ----------------------------------------------------------------------------
// tests

/* The whole study in plain-text mode: exit 0, the table, the runs, the figure. */
static void
test_study_text (void)
{
    static const char *const extra[] = { "--set", "epochs=2", NULL };
    g_autofree char *dir = NULL, *out = NULL, *err = NULL, *png = NULL, *svg = NULL;
    g_autoptr (GPtrArray) argv = NULL;
    g_auto (GStrv) lines = NULL;
    int rows = 0, header = -1;

    if (g_getenv ("DINOLAB_CLI") == NULL) {
        g_test_skip ("DINOLAB_CLI is not set");
        return;
    }
    dir = new_case_dir_ ();
    argv = study_argv_ (dir, extra);
    g_assert_cmpint (run_ (argv, &out, &err), ==, 0);
    g_test_message ("stdout:\n%s", out);

    // The table: a header, then one row per arm with h, KL and k-NN as numbers.
    lines = g_strsplit (out, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        static const char *const labels[3] = { "centering + sharpening", "centering only",
                                               "sharpening only" };
        if (g_str_has_prefix (lines[i], "collapse study  "))
            header = i;
        if (header < 0 || i <= header || i > header + 3)
            continue;
        {
            g_autofree char *want = g_strdup_printf ("  %s ", labels[rows]);
            double h, kl, knn;
            const char *rest = lines[i] + strlen (want);
            g_assert_true (g_str_has_prefix (lines[i], want));
            g_assert_cmpint (sscanf (rest, "%lf %lf %lf %%", &h, &kl, &knn), ==, 3);
            g_assert_cmpfloat (h, >=, 0.0);
            g_assert_cmpfloat (h, <=, log (32.0) + 1e-3);    /* entropy of a 32-way softmax */
            g_assert_cmpfloat (kl, >=, -1e-3);
            g_assert_cmpfloat (knn, >=, 0.0);
            g_assert_cmpfloat (knn, <=, 100.0);
            rows++;
        }
    }
    g_assert_cmpint (header, >=, 0);
    g_assert_cmpint (rows, ==, 3);

    check_runs_ (dir, "finished", 12);    /* 2 epochs of 48 / 8 steps */
    png = g_strdup_printf ("%s/out/collapse.png", dir);
    svg = g_strdup_printf ("%s/out/collapse.svg", dir);
    check_png_ (png);
    check_svg_ (svg);
}

/* --json and --steps: one JSON object; each run stopped after 3 steps. */
static void
test_study_json_steps (void)
{
    static const char *const extra[] = { "--set", "epochs=2", "--steps", "3", "--json", NULL };
    g_autofree char *dir = NULL, *out = NULL, *err = NULL;
    g_autoptr (GPtrArray) argv = NULL;
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (GError) error = NULL;
    JsonObject *root;
    JsonArray *runs;

    if (g_getenv ("DINOLAB_CLI") == NULL) {
        g_test_skip ("DINOLAB_CLI is not set");
        return;
    }
    dir = new_case_dir_ ();
    argv = study_argv_ (dir, extra);
    g_assert_cmpint (run_ (argv, &out, &err), ==, 0);
    g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
    g_assert_no_error (error);
    root = json_node_get_object (json_parser_get_root (parser));
    g_assert_cmpstr (json_object_get_string_member (root, "study"), ==, "collapse");
    g_assert_true (json_object_get_boolean_member (root, "complete"));
    g_assert_cmpint (json_object_get_int_member (root, "out_dim"), ==, 32);
    g_assert_cmpfloat_with_epsilon (json_object_get_double_member (root, "ln_k"), log (32.0), 1e-9);
    runs = json_object_get_array_member (root, "runs");
    g_assert_cmpuint (json_array_get_length (runs), ==, 3);
    for (guint i = 0; i < 3; i++) {
        JsonObject *r = json_array_get_object_element (runs, i);
        g_assert_cmpstr (json_object_get_string_member (r, "status"), ==, "stopped");
        g_assert_cmpint (json_object_get_int_member (r, "steps"), ==, 3);
        g_assert_true (json_object_get_boolean_member (r, "use_centering") == (i != 2));
        g_assert_true (json_object_get_boolean_member (r, "use_sharpening") == (i != 1));
        g_assert_true (JSON_NODE_HOLDS_VALUE (json_object_get_member (r, "teacher_entropy")));
        g_assert_true (JSON_NODE_HOLDS_VALUE (json_object_get_member (r, "knn_top1")));
    }
    check_runs_ (dir, "stopped", 3);
}

/* A real SIGINT during the first run: it stops cleanly, the study ends (exit 1)
 * with the figure of what it has, and no further run starts. */
static void
test_study_interrupt (void)
{
    static const char *const extra[] = { "--set", "epochs=500", "--set", "eval_every=100",
                                         "--set", "checkpoint_every=100", "--json", NULL };
    g_autofree char *dir = NULL, *db = NULL, *png = NULL;
    g_autoptr (GPtrArray) argv = NULL;
    g_autoptr (GSubprocess) proc = NULL;
    g_autoptr (GError) error = NULL;
    g_autofree char *out = NULL;
    DinolabStore *store = NULL;
    g_autoptr (GPtrArray) runs = NULL;
    gint64 deadline;
    gboolean started = FALSE;

    if (g_getenv ("DINOLAB_CLI") == NULL) {
        g_test_skip ("DINOLAB_CLI is not set");
        return;
    }
    dir = new_case_dir_ ();
    db = g_strdup_printf ("%s/runs.db", dir);
    argv = study_argv_ (dir, extra);
    proc = g_subprocess_newv ((const char *const *) argv->pdata,
                              G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
    g_assert_no_error (error);

    // Wait until the first run has stored a few steps.
    deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
    while (!started && g_get_monotonic_time () < deadline) {
        g_usleep (100 * 1000);
        if (!g_file_test (db, G_FILE_TEST_EXISTS))
            continue;
        {
            g_autoptr (DinolabStore) s = dinolab_store_open_full (db, DINOLAB_STORE_OPEN_READ_ONLY, NULL);
            g_autoptr (GPtrArray) list = s ? dinolab_store_list_runs (s, NULL) : NULL;
            started = list != NULL && list->len == 1 &&
                      ((DinolabRunInfo *) list->pdata[0])->last_step >= 2;
        }
    }
    g_assert_true (started);
    g_subprocess_send_signal (proc, SIGINT);
    g_assert_true (g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error));
    g_assert_no_error (error);
    g_assert_true (g_subprocess_get_if_exited (proc));
    g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 1);

    runs = list_runs_ (dir, &store);
    g_assert_cmpuint (runs->len, ==, 1);
    g_assert_cmpstr (dinolab_run_status_to_string (((DinolabRunInfo *) runs->pdata[0])->status), ==,
                     "stopped");
    {
        g_autoptr (DinolabCheckpointInfo) ck =
            dinolab_store_get_latest_checkpoint (store, ((DinolabRunInfo *) runs->pdata[0])->uuid, &error);
        g_assert_no_error (error);
        g_assert_nonnull (ck);
    }
    dinolab_store_close (store);
    // The partial result: valid JSON that says it is not complete; the figure exists.
    {
        g_autoptr (JsonParser) parser = json_parser_new ();
        JsonObject *root;
        g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
        g_assert_no_error (error);
        root = json_node_get_object (json_parser_get_root (parser));
        g_assert_false (json_object_get_boolean_member (root, "complete"));
        g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (
                             json_object_get_array_member (root, "runs"), 1), "status"), ==, "not run");
    }
    png = g_strdup_printf ("%s/out/collapse.png", dir);
    g_assert_true (g_file_test (png, G_FILE_TEST_IS_REGULAR));
}

/* Bad usage: exit 2 with one line on stderr, and nothing stored. */
static void
test_study_usage (void)
{
    static const char *const bad[][3] = {
        { "--set", "use_centering=false", NULL },     /* the study sets the switches */
        { "--steps", "-1", NULL },
        { "--set", "embed_dim=15", NULL },            /* not a multiple of num_heads */
        { "--preset", "no-such-preset", NULL },
    };
    g_autofree char *dir = NULL, *db = NULL;

    if (g_getenv ("DINOLAB_CLI") == NULL) {
        g_test_skip ("DINOLAB_CLI is not set");
        return;
    }
    dir = new_case_dir_ ();
    for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
        g_autoptr (GPtrArray) argv = study_argv_ (dir, bad[i]);
        g_autofree char *out = NULL, *err = NULL;
        g_assert_cmpint (run_ (argv, &out, &err), ==, 2);
        g_assert_true (g_str_has_prefix (err, "dinolab-cli study"));
        g_assert_cmpint (strchr (err, '\n') - err, ==, (int) strlen (err) - 1);    /* one line */
    }
    {
        const char *argv[] = { g_getenv ("DINOLAB_CLI"), "study", "nonsense", NULL };
        g_autoptr (GPtrArray) a = g_ptr_array_new ();
        g_autofree char *out = NULL, *err = NULL;
        for (int i = 0; i < 4; i++)
            g_ptr_array_add (a, (gpointer) argv[i]);
        g_assert_cmpint (run_ (a, &out, &err), ==, 2);
    }
    db = g_strdup_printf ("%s/runs.db", dir);
    if (g_file_test (db, G_FILE_TEST_EXISTS)) {
        DinolabStore *store = NULL;
        g_autoptr (GPtrArray) runs = list_runs_ (dir, &store);
        g_assert_cmpuint (runs->len, ==, 0);
        dinolab_store_close (store);
    }
}

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
    tmpdir = g_dir_make_tmp ("dinolab-study-XXXXXX", &error);
    g_assert_no_error (error);
    data = g_build_filename (tmpdir, "data", NULL);
    cache = g_build_filename (tmpdir, "cache", NULL);
    g_mkdir_with_parents (data, 0755);
    g_setenv ("DINOLAB_CACHE_DIR", cache, TRUE);    /* normalisation cache (children too) */
    g_unsetenv ("DINOLAB_DB");
    write_split_ (data, "train", 48, 1);
    write_split_ (data, "test", 24, 2);
    train_spec = g_strdup_printf ("npy:%s/train_images.npy", data);

    g_test_add_func ("/study/text", test_study_text);
    g_test_add_func ("/study/json-steps", test_study_json_steps);
    g_test_add_func ("/study/interrupt", test_study_interrupt);
    g_test_add_func ("/study/usage", test_study_usage);
    rc = g_test_run ();
    if (rc == 0)
        rm_rf_ (tmpdir);
    g_free (tmpdir);
    g_free (train_spec);
    return rc;
}
