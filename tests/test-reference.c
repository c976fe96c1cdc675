/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-reference.c: dinolab-cli against an independent implementation.
 *
 * For every case under tests/fixtures/reference/ (made by make-reference.py, a float64
 * PyTorch re-implementation of the DINO reference code; see the README there) this runs
 * the real `dinolab-cli forward` or `dinolab-cli step` binary with the arguments in the
 * case's `cmd` file, in the case's folder, with --out pointing into a temp dir, and
 * compares every output tensor and number with the case's expected/ files. It then feeds
 * both commands bad input (a missing tensor, a wrong shape, the wrong channel count, an
 * unknown config key, a crop the patch does not divide, a missing file) and checks the
 * CLI contract: exit status 2 and ONE line on stderr naming the problem.
 *
 * It is not a unit test of the engine's modules (test-model.c etc. do that) and it never
 * compares the engine with itself. Environment: DINOLAB_CLI (the dinolab-cli binary) and
 * DINOLAB_FIXTURES (tests/fixtures, or its reference/ folder); when either is unset the
 * tests are skipped.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>

#include "dinolab/io.h"
#include "test-util.h"

/* float32 vs float64 tolerances (mixed: |d| <= tol * max(1, |want|)). */
#define TOL_OUTPUT 1e-5
#define TOL_GRAD   1e-4

/* How far an engine gradient may plausibly be off in float32, relative to the RMS of its
 * tensor. Only used to bound AdamW's first step, see check_after_step(). */
#define GRAD_REL_ERR 1e-4

typedef struct {
    const char *name;              /* folder under reference/ */
    gboolean    is_step;
    const char *teacher_expected;  /* step: expected teacher file, relative to the case */
} RefCase;

static const RefCase ref_cases[] = {
    { "forward-16",        FALSE, NULL },
    { "forward-8",         FALSE, NULL },
    { "forward-24-nometa", FALSE, NULL },
    { "step-a",            TRUE,  "expected/teacher.safetensors" },
    { "step-b",            TRUE,  "expected/teacher.safetensors" },
    /* use_momentum false: the teacher after the step is a copy of the student. */
    { "step-c",            TRUE,  "expected/student.safetensors" },
};

// ----------------------------------------------------------------------------
// Environment, temp dirs, running the CLI

static const char *
get_cli (void)
{
    const char *cli = g_getenv ("DINOLAB_CLI");
    if (cli == NULL || *cli == '\0') {
        g_test_skip ("DINOLAB_CLI is not set");
        return NULL;
    }
    g_assert_true (g_file_test (cli, G_FILE_TEST_IS_EXECUTABLE));
    return cli;
}

/* Returns the folder of fixture case @name (g_free), or NULL after g_test_skip. */
static char *
get_case_dir (const char *name)
{
    const char *root = g_getenv ("DINOLAB_FIXTURES");
    char *dir;

    if (root == NULL || *root == '\0') {
        g_test_skip ("DINOLAB_FIXTURES is not set");
        return NULL;
    }
    dir = g_build_filename (root, name, NULL);
    if (!g_file_test (dir, G_FILE_TEST_IS_DIR)) {
        g_free (dir);
        dir = g_build_filename (root, "reference", name, NULL);
    }
    if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
        g_error ("fixture folder %s not found under DINOLAB_FIXTURES=%s", name, root);
    return dir;
}

static void
remove_tree (const char *path)
{
    GDir *dir;
    const char *entry;

    if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
        dir = g_dir_open (path, 0, NULL);
        if (dir != NULL) {
            while ((entry = g_dir_read_name (dir)) != NULL) {
                char *child = g_build_filename (path, entry, NULL);
                remove_tree (child);
                g_free (child);
            }
            g_dir_close (dir);
        }
        g_rmdir (path);
    } else {
        g_unlink (path);
    }
}

static char *
make_tmp_dir (void)
{
    GError *error = NULL;
    char *dir = g_dir_make_tmp ("dinolab-reference-XXXXXX", &error);
    g_assert_no_error (error);
    return dir;
}

/* Reads @case_dir/cmd into an argv (without the program name). g_strfreev. */
static char **
read_cmd (const char *case_dir)
{
    GError *error = NULL;
    char *path = g_build_filename (case_dir, "cmd", NULL);
    char *text = NULL;
    char **args = NULL;

    g_file_get_contents (path, &text, NULL, &error);
    g_assert_no_error (error);
    g_shell_parse_argv (g_strstrip (text), NULL, &args, &error);
    g_assert_no_error (error);
    g_free (text);
    g_free (path);
    return args;
}

/* Sets the value of option @opt in @args to @value, appending "opt value" if absent. */
static char **
set_option (char **args, const char *opt, const char *value)
{
    guint n = g_strv_length (args);
    char **out;

    for (guint i = 0; i + 1 < n; i++) {
        if (strcmp (args[i], opt) == 0) {
            g_free (args[i + 1]);
            args[i + 1] = g_strdup (value);
            return args;
        }
    }
    out = g_renew (char *, args, n + 3);
    out[n] = g_strdup (opt);
    out[n + 1] = g_strdup (value);
    out[n + 2] = NULL;
    return out;
}

/* Runs the CLI with @args in @cwd. Returns the exit status (-1 if it died of a signal)
 * and hands back its stderr (g_free). */
static int
run_cli (const char *cli, const char *cwd, char **args, char **err_out)
{
    GError *error = NULL;
    GPtrArray *argv = g_ptr_array_new ();
    char *out_text = NULL, *err_text = NULL, *line;
    int wait_status = 0, code;

    g_ptr_array_add (argv, (gpointer) cli);
    for (guint i = 0; args[i] != NULL; i++)
        g_ptr_array_add (argv, args[i]);
    g_ptr_array_add (argv, NULL);

    line = g_strjoinv (" ", (char **) argv->pdata);
    g_test_message ("(cd %s && %s)", cwd, line);
    g_free (line);

    g_spawn_sync (cwd, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                  &out_text, &err_text, &wait_status, &error);
    g_assert_no_error (error);
    if (out_text != NULL && *out_text != '\0')
        g_test_message ("stdout: %s", out_text);
    if (err_text != NULL && *err_text != '\0')
        g_test_message ("stderr: %s", err_text);

    code = WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1;
    g_free (out_text);
    g_ptr_array_free (argv, TRUE);
    *err_out = err_text;
    return code;
}

// ----------------------------------------------------------------------------
// Comparing outputs

static gboolean
same_shape (const char *label, const DinolabArray *got, const DinolabArray *want)
{
    char *g, *w;
    gboolean same = got->ndim == want->ndim;

    for (int d = 0; same && d < want->ndim; d++)
        same = got->shape[d] == want->shape[d];
    if (!same) {
        g = dinolab_shape_to_string (got->ndim, got->shape);
        w = dinolab_shape_to_string (want->ndim, want->shape);
        g_test_message ("%s: shape %s, expected %s NOT OK", label, g, w);
        g_free (g);
        g_free (w);
    }
    return same;
}

static void
compare_npy (const char *label, const char *got_path, const char *want_path, double tol)
{
    GError *error = NULL;
    g_autoptr (DinolabArray) want = dinolab_npy_read (want_path, &error);
    g_autoptr (DinolabArray) got = NULL;

    g_assert_no_error (error);
    got = dinolab_npy_read (got_path, &error);
    g_assert_no_error (error);
    g_assert_cmpint (got->dtype, ==, DINOLAB_DTYPE_F32);
    g_assert_true (same_shape (label, got, want));
    assert_tensor (label, got->data, want->data, (size_t) dinolab_array_numel (want), tol);
}

/* Like check_tensor(), for the parameters after an optimizer step. The allowance per
 * element is the mixed @tol plus, for AdamW only, what float32 cannot pin down: the
 * first AdamW step moves a weight by lr * g / (|g| + 1e-8), which depends on g's SIGN
 * only. Where the true gradient is ~0 (the key bias of every block gets exactly 0: the
 * softmax ignores a per-query constant; and a few elements are merely tiny), a float32
 * gradient error d makes the step off by up to lr * min(2, 2d/|g|). With d =
 * GRAD_REL_ERR * rms(g of the tensor) this adds nothing measurable for normal elements
 * and only frees the handful whose gradient is below ~1e-4 of the tensor's RMS.
 * @adam_scale is lr (student) or (1 - momentum) * lr (teacher), 0 for SGD; @grad is
 * the reference gradient of the tensor (NULL if it has none). */
static gboolean
check_after_step (const char *label, const float *got, const float *want,
                  const float *grad, size_t n, double tol, double adam_scale)
{
    double max_diff = 0.0, rms = 0.0;
    size_t bad = 0, loose = 0;

    if (grad != NULL && adam_scale > 0.0) {
        for (size_t i = 0; i < n; i++)
            rms += (double) grad[i] * grad[i];
        rms = sqrt (rms / (double) n);
    }
    for (size_t i = 0; i < n; i++) {
        double d = fabs ((double) got[i] - (double) want[i]);
        double allow = tol * fmax (1.0, fabs ((double) want[i]));
        if (grad != NULL && adam_scale > 0.0) {
            double extra = adam_scale * fmin (2.0, 2.0 * GRAD_REL_ERR * rms
                                                         / fabs ((double) grad[i]));
            if (extra > 10.0 * allow)
                loose++;
            allow += extra;
        }
        if (!(d <= allow)) {
            if (bad < 5)
                g_test_message ("%s[%zu]: got %.9g want %.9g (diff %.3g, allowed %.3g) NOT OK",
                                label, i, got[i], want[i], d, allow);
            bad++;
        }
        if (d > max_diff || isnan (d))
            max_diff = d;
    }
    g_test_message ("%s: %zu values, max diff %.3g, %zu over tolerance %.1g; %zu with a "
                    "near-zero gradient allowed over 10x that",
                    label, n, max_diff, bad, tol, loose);
    return bad == 0;
}

/* Compares every tensor of @want_path with @got_path. @grads (or NULL) and @adam_scale
 * select check_after_step(); @exact_set also refuses extra tensors in @got_path. */
static void
compare_safetensors (const char *what, const char *got_path, const char *want_path,
                     double tol, const DinolabSafetensors *grads, double adam_scale,
                     gboolean exact_set)
{
    GError *error = NULL;
    g_autoptr (DinolabSafetensors) want = dinolab_safetensors_read (want_path, NULL, &error);
    g_autoptr (DinolabSafetensors) got = NULL;
    guint n_want, n_bad = 0;

    g_assert_no_error (error);
    got = dinolab_safetensors_read (got_path, NULL, &error);
    g_assert_no_error (error);
    n_want = dinolab_safetensors_get_n_tensors (want);

    for (guint i = 0; i < n_want; i++) {
        const char *name = dinolab_safetensors_get_name (want, i);
        const DinolabArray *w = dinolab_safetensors_get (want, name);
        const DinolabArray *g = dinolab_safetensors_get (got, name);
        const DinolabArray *gr = grads != NULL ? dinolab_safetensors_get (grads, name) : NULL;
        char *label = g_strdup_printf ("%s %s", what, name);
        gboolean ok;

        if (g == NULL) {
            g_test_message ("%s: missing from %s NOT OK", label, got_path);
            ok = FALSE;
        } else if (!same_shape (label, g, w)) {
            ok = FALSE;
        } else if (grads != NULL) {
            ok = check_after_step (label, g->data, w->data, gr != NULL ? gr->data : NULL,
                                   (size_t) dinolab_array_numel (w), tol, adam_scale);
        } else {
            ok = check_tensor (label, g->data, w->data, (size_t) dinolab_array_numel (w), tol);
        }
        if (!ok)
            n_bad++;
        g_free (label);
    }
    if (exact_set) {
        guint n_got = dinolab_safetensors_get_n_tensors (got);
        for (guint i = 0; i < n_got; i++) {
            const char *name = dinolab_safetensors_get_name (got, i);
            if (dinolab_safetensors_get (want, name) == NULL) {
                g_test_message ("%s: unexpected tensor %s in %s NOT OK", what, name, got_path);
                n_bad++;
            }
        }
    }
    g_assert_cmpuint (n_bad, ==, 0);
}

/* Parses @path, which must hold one JSON object. Returns the parser (g_object_unref). */
static JsonParser *
load_json (const char *path)
{
    GError *error = NULL;
    JsonParser *parser = json_parser_new ();

    json_parser_load_from_file (parser, path, &error);
    g_assert_no_error (error);
    g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
    return parser;
}

static gboolean
json_get_number (JsonObject *obj, const char *key, double *value)
{
    JsonNode *node = json_object_get_member (obj, key);
    GType type;

    if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
        return FALSE;
    type = json_node_get_value_type (node);
    if (type == G_TYPE_DOUBLE)
        *value = json_node_get_double (node);
    else if (type == G_TYPE_INT64)
        *value = (double) json_node_get_int (node);
    else
        return FALSE;
    return TRUE;
}

/* Every number of @want_path (metrics.json) must be in @got_path, within TOL_OUTPUT. */
static void
compare_metrics (const char *got_path, const char *want_path)
{
    JsonParser *want_p = load_json (want_path);
    JsonParser *got_p = load_json (got_path);
    JsonObject *want = json_node_get_object (json_parser_get_root (want_p));
    JsonObject *got = json_node_get_object (json_parser_get_root (got_p));
    GList *keys = json_object_get_members (want);
    guint n_bad = 0;

    for (GList *l = keys; l != NULL; l = l->next) {
        const char *key = l->data;
        double w = 0.0, g = 0.0;
        float wf, gf;
        char *label = g_strdup_printf ("metrics.json %s", key);

        g_assert_true (json_get_number (want, key, &w));
        if (!json_get_number (got, key, &g)) {
            g_test_message ("%s: missing or not a number NOT OK", label);
            n_bad++;
        } else {
            wf = (float) w;
            gf = (float) g;
            g_test_message ("%s: got %.9g want %.9g", label, g, w);
            if (!check_tensor (label, &gf, &wf, 1, TOL_OUTPUT))
                n_bad++;
        }
        g_free (label);
    }
    g_list_free (keys);
    g_object_unref (want_p);
    g_object_unref (got_p);
    g_assert_cmpuint (n_bad, ==, 0);
}

// ----------------------------------------------------------------------------
// The fixture cases

static void
check_forward (const char *case_dir, const char *out_dir)
{
    static const char *const outputs[] = { "features", "attention", "head" };

    for (guint i = 0; i < G_N_ELEMENTS (outputs); i++) {
        char *file = g_strconcat (outputs[i], ".npy", NULL);
        char *got = g_build_filename (out_dir, file, NULL);
        char *want = g_build_filename (case_dir, "expected", file, NULL);
        compare_npy (outputs[i], got, want, TOL_OUTPUT);
        g_free (want);
        g_free (got);
        g_free (file);
    }
}

static void
check_step (const RefCase *rc, const char *case_dir, const char *out_dir)
{
    GError *error = NULL;
    char *path, *want, *got, *cfg_path;
    JsonParser *metrics_p, *cfg_p;
    JsonObject *metrics, *cfg;
    double lr = 0.0, momentum = 0.0, adam_scale = 0.0;
    g_autoptr (DinolabSafetensors) grads = NULL;

    /* lr and momentum (the reference's values, checked below) size the AdamW allowance. */
    path = g_build_filename (case_dir, "expected", "metrics.json", NULL);
    metrics_p = load_json (path);
    metrics = json_node_get_object (json_parser_get_root (metrics_p));
    g_assert_true (json_get_number (metrics, "lr", &lr));
    g_assert_true (json_get_number (metrics, "momentum", &momentum));
    cfg_path = g_build_filename (case_dir, "cfg.json", NULL);
    cfg_p = load_json (cfg_path);
    cfg = json_node_get_object (json_parser_get_root (cfg_p));
    if (g_strcmp0 (json_object_get_string_member (cfg, "optimizer"), "adamw") == 0)
        adam_scale = lr;
    got = g_build_filename (out_dir, "metrics.json", NULL);
    compare_metrics (got, path);
    g_free (got);
    g_free (path);

    want = g_build_filename (case_dir, "expected", "grads.safetensors", NULL);
    got = g_build_filename (out_dir, "grads.safetensors", NULL);
    compare_safetensors ("grads", got, want, TOL_GRAD, NULL, 0.0, TRUE);
    grads = dinolab_safetensors_read (want, NULL, &error);
    g_assert_no_error (error);
    g_free (got);
    g_free (want);

    want = g_build_filename (case_dir, "expected", "student.safetensors", NULL);
    got = g_build_filename (out_dir, "student.safetensors", NULL);
    compare_safetensors ("student", got, want, TOL_OUTPUT, grads, adam_scale, FALSE);
    g_free (got);
    g_free (want);

    want = g_build_filename (case_dir, rc->teacher_expected, NULL);
    got = g_build_filename (out_dir, "teacher.safetensors", NULL);
    compare_safetensors ("teacher", got, want, TOL_OUTPUT, grads, (1.0 - momentum) * adam_scale,
                         FALSE);
    g_free (got);
    g_free (want);

    want = g_build_filename (case_dir, "expected", "center.npy", NULL);
    got = g_build_filename (out_dir, "center.npy", NULL);
    compare_npy ("center", got, want, TOL_OUTPUT);
    g_free (got);
    g_free (want);

    g_free (cfg_path);
    g_object_unref (cfg_p);
    g_object_unref (metrics_p);
}

static void
test_case (gconstpointer data)
{
    const RefCase *rc = data;
    const char *cli = get_cli ();
    char *case_dir, *tmp, *out_dir, *err = NULL;
    char **args;
    int status;

    if (cli == NULL)
        return;
    case_dir = get_case_dir (rc->name);
    if (case_dir == NULL)
        return;
    tmp = make_tmp_dir ();
    out_dir = g_build_filename (tmp, "out", NULL);
    args = set_option (read_cmd (case_dir), "--out", out_dir);

    status = run_cli (cli, case_dir, args, &err);
    g_assert_cmpint (status, ==, 0);
    if (rc->is_step)
        check_step (rc, case_dir, out_dir);
    else
        check_forward (case_dir, out_dir);

    remove_tree (tmp);
    g_strfreev (args);
    g_free (err);
    g_free (out_dir);
    g_free (tmp);
    g_free (case_dir);
}

// ----------------------------------------------------------------------------
// Bad input: exit status 2 and one line on stderr that names the problem

typedef enum {
    BAD_MISSING_TENSOR,
    BAD_WRONG_SHAPE,
    BAD_CHANNELS,
    BAD_CHANNELS_GLOBALS,
    BAD_UNKNOWN_KEY,
    BAD_CROP_SIZE,
    BAD_MISSING_FILE,
} BadKind;

typedef struct {
    const char *test_path;
    gboolean    step;    /* step (from fixture step-a) or forward (from forward-16) */
    BadKind     kind;
} BadCase;

static const BadCase bad_cases[] = {
    { "/reference/bad/forward/missing-tensor", FALSE, BAD_MISSING_TENSOR },
    { "/reference/bad/forward/wrong-shape",    FALSE, BAD_WRONG_SHAPE },
    { "/reference/bad/forward/channels",       FALSE, BAD_CHANNELS },
    { "/reference/bad/forward/unknown-key",    FALSE, BAD_UNKNOWN_KEY },
    { "/reference/bad/forward/crop-size",      FALSE, BAD_CROP_SIZE },
    { "/reference/bad/forward/missing-file",   FALSE, BAD_MISSING_FILE },
    { "/reference/bad/step/missing-tensor",    TRUE,  BAD_MISSING_TENSOR },
    { "/reference/bad/step/wrong-shape",       TRUE,  BAD_WRONG_SHAPE },
    { "/reference/bad/step/channels",          TRUE,  BAD_CHANNELS },
    { "/reference/bad/step/channels-globals",  TRUE,  BAD_CHANNELS_GLOBALS },
    { "/reference/bad/step/unknown-key",       TRUE,  BAD_UNKNOWN_KEY },
    { "/reference/bad/step/crop-size",         TRUE,  BAD_CROP_SIZE },
    { "/reference/bad/step/missing-file",      TRUE,  BAD_MISSING_FILE },
};

/* Copies the weights at @src to @dst, dropping tensor @drop (or NULL) and truncating the
 * last dim of tensor @shrink (or NULL) by one; the hyperparameter metadata is kept. */
static void
write_bad_weights (const char *src, const char *dst, const char *drop, const char *shrink)
{
    GError *error = NULL;
    g_autoptr (DinolabSafetensors) st = dinolab_safetensors_read (src, NULL, &error);
    guint n, k = 0;
    DinolabTensorView *views;
    float *shrunk = NULL;
    const char *hparams;
    const char *metadata[3] = { NULL, NULL, NULL };

    g_assert_no_error (error);
    n = dinolab_safetensors_get_n_tensors (st);
    views = g_new0 (DinolabTensorView, n);
    for (guint i = 0; i < n; i++) {
        const char *name = dinolab_safetensors_get_name (st, i);
        const DinolabArray *a = dinolab_safetensors_get (st, name);
        DinolabTensorView *v = &views[k];

        if (g_strcmp0 (name, drop) == 0)
            continue;
        v->name = name;
        v->ndim = a->ndim;
        memcpy (v->shape, a->shape, sizeof v->shape);
        v->data = a->data;
        if (g_strcmp0 (name, shrink) == 0) {
            /* [rows, cols] -> [rows, cols - 1], row by row. */
            int64_t rows = dinolab_array_numel (a) / a->shape[a->ndim - 1];
            int64_t cols = a->shape[a->ndim - 1];
            shrunk = g_new (float, rows * (cols - 1));
            for (int64_t r = 0; r < rows; r++)
                memcpy (shrunk + r * (cols - 1), (const float *) a->data + r * cols,
                        sizeof (float) * (cols - 1));
            v->shape[a->ndim - 1] = cols - 1;
            v->data = shrunk;
        }
        k++;
    }
    g_assert_cmpuint (k, ==, drop != NULL ? n - 1 : n);
    hparams = dinolab_safetensors_get_metadata (st, "hyperparameters");
    if (hparams != NULL) {
        metadata[0] = "hyperparameters";
        metadata[1] = hparams;
    }
    dinolab_safetensors_write (dst, views, k, hparams != NULL ? metadata : NULL, &error);
    g_assert_no_error (error);
    g_free (shrunk);
    g_free (views);
}

/* Writes float32 N(0,1)-ish images of @shape (4 or 5 dims) to @path. */
static void
write_images (const char *path, int ndim, const int64_t *shape)
{
    GError *error = NULL;
    size_t n = 1;
    float *x;

    for (int d = 0; d < ndim; d++)
        n *= (size_t) shape[d];
    x = g_new (float, n);
    fill_uniform (x, n, 1234, 1.5f);
    dinolab_npy_write_f32 (path, x, ndim, shape, &error);
    g_assert_no_error (error);
    g_free (x);
}

/* Copies the case's cfg.json (or an empty object) adding the misspelt key "teachr_temp". */
static void
write_bad_config (const char *case_dir, const char *dst)
{
    GError *error = NULL;
    char *src = g_build_filename (case_dir, "cfg.json", NULL);
    JsonParser *parser = json_parser_new ();
    JsonObject *obj;
    JsonGenerator *gen;

    if (g_file_test (src, G_FILE_TEST_EXISTS)) {
        json_parser_load_from_file (parser, src, &error);
        g_assert_no_error (error);
        obj = json_node_get_object (json_parser_get_root (parser));
        json_object_set_double_member (obj, "teachr_temp", 0.07);
        gen = json_generator_new ();
        json_generator_set_root (gen, json_parser_get_root (parser));
        json_generator_to_file (gen, dst, &error);
        g_object_unref (gen);
    } else {
        g_file_set_contents (dst, "{\"teachr_temp\": 0.07}\n", -1, &error);
    }
    g_assert_no_error (error);
    g_object_unref (parser);
    g_free (src);
}

static void
test_bad_input (gconstpointer data)
{
    const BadCase *bc = data;
    const char *cli = get_cli ();
    const char *weights_opt = bc->step ? "--student" : "--weights";
    const char *images_opt = bc->step ? "--globals" : "--images";
    /* globals are [2, B, C, H, W]; forward images [N, C, H, W] */
    const int64_t c1_step[5] = { 2, 3, 1, 16, 16 }, c1_fwd[4] = { 2, 1, 16, 16 };
    const int64_t c1_locals[5] = { 2, 3, 1, 8, 8 };
    const int64_t s18_step[5] = { 2, 3, 3, 18, 18 }, s18_fwd[4] = { 2, 3, 18, 18 };
    const char *needles[3] = { NULL, NULL, NULL };  /* stderr must contain one of these */
    char *case_dir, *tmp, *file = NULL, *weights, *err = NULL, *nl;
    char **args;
    int status;
    gboolean named = FALSE;

    if (cli == NULL)
        return;
    case_dir = get_case_dir (bc->step ? "step-a" : "forward-16");
    if (case_dir == NULL)
        return;
    tmp = make_tmp_dir ();
    args = read_cmd (case_dir);
    args = set_option (args, "--out", (file = g_build_filename (tmp, "out", NULL)));
    g_free (file);
    /* The step-a student file; forward-16 reads the same file. */
    weights = g_build_filename (case_dir, bc->step ? "student.safetensors"
                                                   : "../step-a/student.safetensors", NULL);

    switch (bc->kind) {
    case BAD_MISSING_TENSOR:
        file = g_build_filename (tmp, "no-fc2-bias.safetensors", NULL);
        write_bad_weights (weights, file, "blocks.1.mlp.fc2.bias", NULL);
        args = set_option (args, weights_opt, file);
        needles[0] = "blocks.1.mlp.fc2.bias";
        break;
    case BAD_WRONG_SHAPE:
        file = g_build_filename (tmp, "qkv-96x31.safetensors", NULL);
        write_bad_weights (weights, file, NULL, "blocks.0.attn.qkv.weight");
        args = set_option (args, weights_opt, file);
        needles[0] = "blocks.0.attn.qkv.weight";
        break;
    case BAD_CHANNELS:
    case BAD_CHANNELS_GLOBALS:
        /* channels: every crop file has 1 channel (the model takes 3). channels-globals:
         * only the globals do, so the message must blame them, not the good locals. */
        if (bc->step && bc->kind == BAD_CHANNELS) {
            file = g_build_filename (tmp, "one-channel-locals.npy", NULL);
            write_images (file, 5, c1_locals);
            args = set_option (args, "--locals", file);
            g_free (file);
        }
        file = g_build_filename (tmp, "one-channel.npy", NULL);
        write_images (file, bc->step ? 5 : 4, bc->step ? c1_step : c1_fwd);
        args = set_option (args, images_opt, file);
        needles[0] = bc->kind == BAD_CHANNELS ? "one-channel" : "one-channel.npy";
        needles[1] = "channel";
        needles[2] = "in_chans";
        break;
    case BAD_UNKNOWN_KEY:
        file = g_build_filename (tmp, "typo.json", NULL);
        write_bad_config (case_dir, file);
        args = set_option (args, "--config", file);
        needles[0] = "teachr_temp";
        break;
    case BAD_CROP_SIZE:
        file = g_build_filename (tmp, "crops-18.npy", NULL);
        write_images (file, bc->step ? 5 : 4, bc->step ? s18_step : s18_fwd);
        args = set_option (args, images_opt, file);
        needles[0] = "18";
        break;
    case BAD_MISSING_FILE:
        file = g_build_filename (tmp, "does-not-exist.safetensors", NULL);
        args = set_option (args, bc->step ? "--teacher" : "--weights", file);
        needles[0] = "does-not-exist.safetensors";
        break;
    default:
        g_assert_not_reached ();
    }

    status = run_cli (cli, case_dir, args, &err);
    g_assert_cmpint (status, ==, 2);
    /* Exactly one non-empty line. */
    g_assert_nonnull (err);
    nl = strchr (err, '\n');
    g_assert_true (nl != NULL && nl != err);
    g_assert_true (nl[1] == '\0');
    for (guint i = 0; i < G_N_ELEMENTS (needles) && needles[i] != NULL; i++)
        named = named || strstr (err, needles[i]) != NULL;
    if (!named)
        g_test_message ("stderr does not name \"%s\"", needles[0]);
    g_assert_true (named);

    remove_tree (tmp);
    g_strfreev (args);
    g_free (err);
    g_free (file);
    g_free (weights);
    g_free (tmp);
    g_free (case_dir);
}

// ----------------------------------------------------------------------------

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    for (guint i = 0; i < G_N_ELEMENTS (ref_cases); i++) {
        char *path = g_strdup_printf ("/reference/%s", ref_cases[i].name);
        g_test_add_data_func (path, &ref_cases[i], test_case);
        g_free (path);
    }
    for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++)
        g_test_add_data_func (bad_cases[i].test_path, &bad_cases[i], test_bad_input);
    return g_test_run ();
}
