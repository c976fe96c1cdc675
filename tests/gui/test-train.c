/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-train.c: the Train view of the real application window on an X server
 * (Xvfb), with a temporary run database (DINOLAB_DB) and a tiny npy dataset
 * the test writes (3 classes of noisy 12x12 stripes, as tests/test-trainer.c).
 * The form gets the "default" preset, shrunk to a tiny model with
 * dinolab_config_page_set_value() as a user would type it; an invalid entry
 * (patch_size 5) is refused with the engine's message and disables Start;
 * then a run starts, points reach the plots, it pauses (no new points),
 * resumes, stops; the store holds the run, stopped, with its metrics. Then
 * the stopped run is resumed through dinolab_train_page_resume_run() (stored
 * curves first, then live) and stopped again; and a run without centering at
 * a high learning rate collapses: a toast and a marker in the store. The
 * collapse study (train.collapse-study) trains its three arms one after
 * another (the label names each), tags them, and the store holds three runs
 * whose settings differ only in use_centering/use_sharpening; Stop during a
 * second study ends it after its first arm. Each state is saved as a
 * screenshot in $DINOLAB_SCREENSHOT_DIR.
 *
 * Needs what meson's gui_test_env sets (GSETTINGS_SCHEMA_DIR, memory backend,
 * GDK_BACKEND=x11, GTK_A11Y=none).
 */
#define G_LOG_DOMAIN "test-train"

#include "config.h"

#include <locale.h>
#include <math.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <adwaita.h>

#include "dinolab/io.h"
#include "dinolab/store.h"
#include "dinolab/trainer.h"

#include "dinolab-application.h"
#include "dinolab-config-page.h"
#include "dinolab-plot.h"
#include "dinolab-session.h"
#include "dinolab-train-page.h"
#include "dinolab-window.h"

#include "gui-test-util.h"

static DinolabApplication *app;
static char *tmpdir;
static char *dataset_spec;   /* "npy:<tmpdir>/data/train_images.npy" */
static char *first_uuid;     /* the run of /gui/train/run, resumed later */

// ---- finding widgets -------------------------------------------------------------

static DinolabWindow *
find_main_window (void)
{
    return (DinolabWindow *) find_app_window (GTK_APPLICATION (app), DINOLAB_TYPE_WINDOW);
}

// ---- screenshots ---------------------------------------------------------------

/* Saves @widget as <shot_dir>/train-<name>.png; returns its number of
 * distinct colours (4 bits a channel), > 8 for anything drawn. */
static guint
take_screenshot (GtkWidget *widget, const char *name)
{
    Shot shot = { 0 };
    guint n_colours;

    save_screenshot (widget, "train-", name, 1, &shot);
    n_colours = shot_n_colours (&shot, NULL);
    shot_clear (&shot);
    return n_colours;
}

// ---- helpers -------------------------------------------------------------------

static DinolabTrainPage *
open_train_page (void)
{
    DinolabWindow *window;

    g_application_activate (G_APPLICATION (app));
    window = find_main_window ();
    g_assert_nonnull (window);
    WAIT_UNTIL (gtk_widget_get_mapped (GTK_WIDGET (window)), 5000);
    g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (window)));
    g_action_group_activate_action (G_ACTION_GROUP (window), "show-view",
                                    g_variant_new_string ("train"));
    return dinolab_window_get_train_page (window);
}

/* Types @sets ("key", "value", ..., NULL) into the form. Sizes that must divide each
 * other (patch, crops, image) can be refused while only some of them are typed, as a
 * person typing them would see, so what must hold is that the whole form is valid
 * once every value is in. */
static void
set_values (DinolabConfigPage *config, const char *const *sets)
{
    for (const char *const *kv = sets; kv[0] != NULL; kv += 2)
        dinolab_config_page_set_value (config, kv[0], kv[1]);
    for (const char *const *kv = sets; kv[0] != NULL; kv += 2) {
        const char *message = dinolab_config_page_get_message (config, kv[0]);
        if (message != NULL)
            g_error ("%s=%s refused: %s", kv[0], kv[1], message);
    }
    g_assert_true (dinolab_config_page_get_valid (config));
}

/* The default preset made tiny: 1 block 32 wide, K = 64, 16 images a step,
 * 300 images (18 steps an epoch), many epochs (the test stops it). */
static void
tiny_form (DinolabConfigPage *config, const char *epochs)
{
    const char *const sets[] = {
        "depth", "1", "embed_dim", "32", "num_heads", "2", "out_dim", "64",
        "head_hidden_dim", "32", "bottleneck_dim", "16", "batch_size_per_gpu", "16",
        "local_crops_number", "2", "img_size", "12", "global_crop_size", "12",
        "local_crop_size", "8", "patch_size", "4", "in_chans", "1",
        "epochs", epochs, "warmup_epochs", "1", "eval_every", "1", "checkpoint_every", "1000",
        "threads", "1", "dataset", dataset_spec, NULL
    };
    g_autoptr(GError) error = NULL;

    g_assert_true (dinolab_config_page_load_preset (config, "default", &error));
    g_assert_no_error (error);
    set_values (config, sets);
}

static DinolabPlotSeries *
plot_series (DinolabTrainPage *page, guint plot_index, guint series_index)
{
    g_autoptr(GPtrArray) plots = g_ptr_array_new ();
    DinolabPlot *plot;

    collect_descendants (GTK_WIDGET (page), DINOLAB_TYPE_PLOT, plots);
    g_assert_cmpuint (plots->len, ==, 4);
    plot = g_ptr_array_index (plots, plot_index);
    g_assert_cmpuint (dinolab_plot_get_n_series (plot), >, series_index);
    return dinolab_plot_get_series (plot, series_index);
}

static guint
plot_points (DinolabTrainPage *page, guint plot_index, guint series_index)
{
    return dinolab_plot_series_get_n_points (plot_series (page, plot_index, series_index));
}

static gboolean
action_enabled (DinolabTrainPage *page, const char *action)
{
    GtkWidget *button = find_action_button (GTK_WIDGET (page), action);

    g_assert_nonnull (button);
    return gtk_widget_get_sensitive (button);
}

static DinolabTrainerStatus
session_status (DinolabTrainPage *page)
{
    return dinolab_session_get_status (dinolab_train_page_get_session (page));
}

static gboolean
session_active (DinolabTrainPage *page)
{
    return dinolab_session_get_active (dinolab_train_page_get_session (page));
}

// ---- the tests -------------------------------------------------------------------

static void
test_train_run (void)
{
    DinolabTrainPage *page = open_train_page ();
    DinolabConfigPage *config = dinolab_train_page_get_config_page (page);
    DinolabWindow *window = find_main_window ();
    DinolabSession *session = dinolab_train_page_get_session (page);
    DinolabStore *store = dinolab_application_get_store (app);
    g_autoptr(DinolabRunInfo) info = NULL;
    g_autoptr(DinolabMetricSeries) loss = NULL;
    g_autoptr(DinolabMetricSeries) knn = NULL;
    g_autoptr(GError) error = NULL;
    const char *message;
    guint n, n_paused;
    gint64 t0;

    g_assert_nonnull (store);
    g_assert_nonnull (session);
    tiny_form (config, "500");
    g_assert_true (dinolab_config_page_get_valid (config));
    WAIT_UNTIL (action_enabled (page, "train.start"), 2000);
    g_assert_true (action_enabled (page, "train.start"));
    g_assert_false (action_enabled (page, "train.pause"));
    g_assert_false (action_enabled (page, "train.stop"));
    g_assert_cmpint (take_screenshot (GTK_WIDGET (window), "ready"), >, 8);

    /* an invalid entry: refused with the engine's message, Start disabled */
    g_assert_false (dinolab_config_page_set_value (config, "patch_size", "5"));
    message = dinolab_config_page_get_message (config, "patch_size");
    g_assert_nonnull (message);
    g_test_message ("patch_size=5: %s", message);
    g_assert_nonnull (strstr (message, "patch_size"));
    g_assert_false (dinolab_config_page_get_valid (config));
    WAIT_UNTIL (!action_enabled (page, "train.start"), 2000);
    g_assert_false (action_enabled (page, "train.start"));
    take_screenshot (GTK_WIDGET (window), "invalid");

    g_assert_true (dinolab_config_page_set_value (config, "patch_size", "4"));
    g_assert_null (dinolab_config_page_get_message (config, "patch_size"));
    g_assert_true (dinolab_config_page_get_valid (config));
    WAIT_UNTIL (action_enabled (page, "train.start"), 2000);
    g_assert_true (action_enabled (page, "train.start"));

    /* start: points on the plots */
    t0 = g_get_monotonic_time ();
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "train.start", NULL));
    g_assert_true (session_active (page));
    g_assert_false (action_enabled (page, "train.start"));
    WAIT_UNTIL (plot_points (page, 0, 0) >= 40 && plot_points (page, 2, 0) >= 1, 60000);
    g_assert_cmpuint (plot_points (page, 0, 0), >=, 40);   /* entropy */
    g_assert_cmpuint (plot_points (page, 0, 1), >=, 40);   /* KL */
    g_assert_cmpuint (plot_points (page, 1, 0), >=, 40);   /* loss */
    g_assert_cmpuint (plot_points (page, 2, 0), >=, 1);    /* k-NN top-1 */
    g_assert_cmpuint (plot_points (page, 3, 0), >=, 40);   /* lr */
    g_test_message ("%u steps in %.2f s (%.0f images/s)", plot_points (page, 1, 0),
                    (g_get_monotonic_time () - t0) / 1e6,
                    dinolab_session_get_images_per_second (session));
    g_assert_nonnull (dinolab_session_get_run_uuid (session));
    first_uuid = g_strdup (dinolab_session_get_run_uuid (session));
    g_assert_cmpint (dinolab_session_get_total_steps (session), ==, 500 * 18);
    g_assert_true (action_enabled (page, "train.pause"));
    g_assert_true (action_enabled (page, "train.stop"));
    g_assert_cmpint (take_screenshot (GTK_WIDGET (window), "running"), >, 30);

    /* pause: status paused, then no new points */
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "train.pause", NULL));
    WAIT_UNTIL (session_status (page) == DINOLAB_TRAINER_STATUS_PAUSED, 10000);
    g_assert_cmpint (session_status (page), ==, DINOLAB_TRAINER_STATUS_PAUSED);
    spin_for (200);
    n_paused = plot_points (page, 1, 0);
    spin_for (1000);
    g_assert_cmpuint (plot_points (page, 1, 0), ==, n_paused);
    g_assert_nonnull (find_label_containing (GTK_WIDGET (page), "Paused"));
    take_screenshot (GTK_WIDGET (window), "paused");

    /* resume */
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "train.pause", NULL));
    WAIT_UNTIL (plot_points (page, 1, 0) > n_paused + 10, 20000);
    g_assert_cmpuint (plot_points (page, 1, 0), >, n_paused + 10);
    g_assert_cmpint (session_status (page), ==, DINOLAB_TRAINER_STATUS_RUNNING);

    /* stop: status stopped, the run in the store with its metrics */
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "train.stop", NULL));
    WAIT_UNTIL (!session_active (page), 30000);
    g_assert_false (session_active (page));
    g_assert_cmpint (session_status (page), ==, DINOLAB_TRAINER_STATUS_STOPPED);
    g_assert_true (action_enabled (page, "train.start"));
    g_assert_false (action_enabled (page, "train.stop"));
    n = plot_points (page, 1, 0);
    take_screenshot (GTK_WIDGET (window), "stopped");

    info = dinolab_store_get_run (store, first_uuid, &error);
    g_assert_no_error (error);
    g_assert_nonnull (info);
    g_assert_cmpint (info->status, ==, DINOLAB_RUN_STATUS_STOPPED);
    loss = dinolab_store_read_series (store, first_uuid, "loss", -1, &error);
    g_assert_no_error (error);
    g_test_message ("stored %" G_GSIZE_FORMAT " loss points, plotted %u", loss->n, n);
    g_assert_cmpuint (loss->n, ==, n);   /* every step reached the plot, once */
    /* the last plotted loss is the stored one */
    g_assert_cmpfloat (fabs (loss->value[loss->n - 1]
                             - dinolab_plot_series_get_y (plot_series (page, 1, 0))[n - 1]), <, 1e-9);
    knn = dinolab_store_read_series (store, first_uuid, DINOLAB_METRIC_KNN_TOP1, -1, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (knn->n, ==, plot_points (page, 2, 0));
}

/* The stopped run again: its stored curves come back first (up to its
 * checkpoint), then it goes on live from there. */
static void
test_train_resume (void)
{
    DinolabTrainPage *page = open_train_page ();
    DinolabStore *store = dinolab_application_get_store (app);
    g_autoptr(DinolabCheckpointInfo) ckpt = NULL;
    g_autoptr(DinolabRunInfo) info = NULL;
    g_autoptr(GError) error = NULL;
    const double *x;
    guint n;

    if (first_uuid == NULL) {
        g_test_skip ("no run to resume");
        return;
    }
    ckpt = dinolab_store_get_latest_checkpoint (store, first_uuid, &error);
    g_assert_no_error (error);
    g_assert_nonnull (ckpt);
    dinolab_train_page_resume_run (page, first_uuid);
    WAIT_UNTIL (session_active (page), 10000);
    g_assert_true (session_active (page));
    g_assert_cmpstr (dinolab_session_get_run_uuid (dinolab_train_page_get_session (page)), ==, first_uuid);
    n = plot_points (page, 1, 0);
    g_assert_cmpuint (n, ==, (guint) ckpt->step);   /* steps 0 .. S-1 from the store */
    WAIT_UNTIL (plot_points (page, 1, 0) > n + 20, 30000);
    g_assert_cmpuint (plot_points (page, 1, 0), >, n + 20);
    /* live points continue the stored ones: x never goes back */
    x = dinolab_plot_series_get_x (plot_series (page, 1, 0), DINOLAB_PLOT_X_STEP);
    g_assert_cmpfloat (x[n], ==, (double) ckpt->step);
    g_assert_cmpfloat (x[n - 1], ==, (double) ckpt->step - 1);
    take_screenshot (gtk_widget_get_ancestor (GTK_WIDGET (page), GTK_TYPE_WINDOW), "resumed");

    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "train.stop", NULL));
    WAIT_UNTIL (!session_active (page), 30000);
    g_assert_cmpint (session_status (page), ==, DINOLAB_TRAINER_STATUS_STOPPED);
    info = dinolab_store_get_run (store, first_uuid, &error);
    g_assert_no_error (error);
    g_assert_cmpint (info->status, ==, DINOLAB_RUN_STATUS_STOPPED);
}

static int n_warnings;
static char *warning_message;

static void
on_warning (DinolabSession *session G_GNUC_UNUSED, int mode, const char *message,
            gint64 step, double epoch G_GNUC_UNUSED, double wall G_GNUC_UNUSED,
            gpointer data G_GNUC_UNUSED)
{
    g_test_message ("warning %d at step %" G_GINT64_FORMAT ": %s", mode, step, message);
    if (mode == DINOLAB_TRAINER_WARNING_COLLAPSE_ONE_HOT
        || mode == DINOLAB_TRAINER_WARNING_COLLAPSE_UNIFORM) {
        n_warnings++;
        g_free (warning_message);
        warning_message = g_strdup (message);
    }
}

/* The paper's sharpening-only ablation (no centering) at a high lr collapses
 * within the trainer's first 100-step window: a toast and a marker. */
static void
test_train_collapse (void)
{
    DinolabTrainPage *page = open_train_page ();
    DinolabConfigPage *config = dinolab_train_page_get_config_page (page);
    DinolabSession *session = dinolab_train_page_get_session (page);
    DinolabStore *store = dinolab_application_get_store (app);
    g_autoptr(GPtrArray) markers = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *uuid = NULL;
    GtkWidget *window = gtk_widget_get_ancestor (GTK_WIDGET (page), GTK_TYPE_WINDOW);
    gulong id;

    tiny_form (config, "500");
    set_values (config, (const char *const[]) { "use_centering", "false", "lr", "0.05", NULL });
    g_assert_true (dinolab_config_page_get_valid (config));
    id = g_signal_connect (session, "warning", G_CALLBACK (on_warning), NULL);
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "train.start", NULL));
    WAIT_UNTIL (n_warnings > 0 || !session_active (page), 90000);
    g_assert_cmpint (n_warnings, ==, 1);
    uuid = g_strdup (dinolab_session_get_run_uuid (session));
    /* the toast shows the engine's message */
    WAIT_UNTIL (find_label_containing (window, warning_message) != NULL, 2000);
    g_assert_nonnull (find_label_containing (window, warning_message));
    spin_for (800);   /* the toast before it slides away */
    take_screenshot (window, "collapse");

    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "train.stop", NULL));
    WAIT_UNTIL (!session_active (page), 30000);
    g_assert_false (session_active (page));
    g_signal_handler_disconnect (session, id);
    markers = dinolab_store_list_markers (store, uuid, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (markers->len, >=, 1);
    g_assert_cmpstr (((DinolabMarker *) markers->pdata[0])->kind, ==, "collapse");
}

/* Mean of the last @window values of @s. */
static double
tail_mean (const DinolabMetricSeries *s, gsize window)
{
    double sum = 0;
    gsize i, n = 0;

    for (i = s->n; i-- > 0 && n < window;) {
        sum += s->value[i];
        n++;
    }
    g_assert_cmpuint (n, >, 0);
    return sum / n;
}

/* The runs tagged study:collapse, oldest first. */
static GPtrArray *
study_runs (DinolabStore *store)
{
    g_autoptr(GPtrArray) all = NULL;
    g_autoptr(GError) error = NULL;
    GPtrArray *runs = g_ptr_array_new ();
    guint i;

    all = dinolab_store_list_runs (store, &error);
    g_assert_no_error (error);
    for (i = all->len; i-- > 0;) {
        DinolabRunInfo *info = all->pdata[i];
        if (g_strv_contains ((const char *const *) info->tags, "study:collapse"))
            g_ptr_array_add (runs, g_strdup (info->uuid));
    }
    g_ptr_array_set_free_func (runs, g_free);
    return runs;
}

/* The text of the visible label under @root that contains @text, or NULL. */
static const char *
visible_label_text (GtkWidget *root, const char *text)
{
    GtkWidget *label = find_label_containing (root, text);

    if (label == NULL || !gtk_widget_get_visible (label))
        return NULL;
    return gtk_label_get_text (GTK_LABEL (label));
}

/* The collapse study: three arms of 2 epochs (36 steps) each with the form's
 * tiny settings, one after another, tagged; settings equal but the switches. */
static void
test_train_collapse_study (void)
{
    static const struct { const char *name; gboolean centering, sharpening; } arms[3] = {
        { "collapse: centering + sharpening", TRUE, TRUE },
        { "collapse: centering only", TRUE, FALSE },
        { "collapse: sharpening only", FALSE, TRUE },
    };
    DinolabTrainPage *page = open_train_page ();
    DinolabConfigPage *config = dinolab_train_page_get_config_page (page);
    DinolabStore *store = dinolab_application_get_store (app);
    GtkWidget *window = gtk_widget_get_ancestor (GTK_WIDGET (page), GTK_TYPE_WINDOW);
    const char *done_text = "The collapse study has finished";
    g_autoptr(GPtrArray) before = study_runs (store);
    g_autoptr(GPtrArray) runs = NULL;
    g_autofree char *form_json = NULL;
    g_auto(DinolabHparams) form_hp = { 0 };
    double h[3], kl[3], h0[3];
    gint64 t0;
    guint i;

    g_assert_cmpuint (before->len, ==, 0);
    tiny_form (config, "2");
    dinolab_hparams_init (&form_hp);
    g_assert_true (dinolab_config_page_get_hparams (config, &form_hp));
    form_json = dinolab_hparams_to_json (&form_hp, FALSE);
    WAIT_UNTIL (action_enabled (page, "train.collapse-study"), 2000);
    g_assert_true (action_enabled (page, "train.collapse-study"));

    t0 = g_get_monotonic_time ();
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "train.collapse-study", NULL));
    g_assert_true (session_active (page));
    g_assert_false (action_enabled (page, "train.collapse-study"));
    g_assert_false (action_enabled (page, "train.start"));
    g_assert_cmpstr (visible_label_text (GTK_WIDGET (page), "Collapse study"), ==,
                     "Collapse study 1/3: centering + sharpening");
    WAIT_UNTIL (visible_label_text (GTK_WIDGET (page), "Collapse study 2/3") != NULL, 60000);
    g_assert_cmpstr (visible_label_text (GTK_WIDGET (page), "Collapse study"), ==,
                     "Collapse study 2/3: centering only");
    WAIT_UNTIL (visible_label_text (GTK_WIDGET (page), "Collapse study 3/3") != NULL, 60000);
    g_assert_cmpstr (visible_label_text (GTK_WIDGET (page), "Collapse study"), ==,
                     "Collapse study 3/3: sharpening only");
    /* the plots show the arm that runs: its points only */
    WAIT_UNTIL (plot_points (page, 0, 0) >= 12 || !session_active (page), 30000);
    g_assert_cmpuint (plot_points (page, 0, 0), <=, 36);
    take_screenshot (window, "study");

    WAIT_UNTIL (find_label_containing (window, done_text) != NULL, 60000);
    g_assert_nonnull (find_label_containing (window, done_text));
    g_test_message ("toast: %s", gtk_label_get_text (GTK_LABEL (find_label_containing (window, done_text))));
    g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (find_label_containing (window, done_text))),
                              "study:collapse"));
    g_test_message ("study: 3 x 36 steps in %.1f s", (g_get_monotonic_time () - t0) / 1e6);
    g_assert_false (session_active (page));
    g_assert_null (visible_label_text (GTK_WIDGET (page), "Collapse study"));
    g_assert_true (action_enabled (page, "train.collapse-study"));
    spin_for (500);
    take_screenshot (window, "study-done");

    /* the store: three finished runs, tagged, named as the CLI names them */
    runs = study_runs (store);
    g_assert_cmpuint (runs->len, ==, 3);
    for (i = 0; i < 3; i++) {
        const char *uuid = runs->pdata[i];
        g_autoptr(DinolabRunInfo) info = NULL;
        g_autoptr(DinolabMetricSeries) hs = NULL;
        g_autoptr(DinolabMetricSeries) kls = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *json = NULL;
        g_autofree char *rest = NULL;
        g_auto(DinolabHparams) hp = { 0 };

        info = dinolab_store_get_run (store, uuid, &error);
        g_assert_no_error (error);
        g_assert_cmpstr (info->name, ==, arms[i].name);
        g_assert_cmpint (info->status, ==, DINOLAB_RUN_STATUS_FINISHED);
        g_assert_cmpint (info->last_step, ==, 35);   /* 2 epochs of 18 steps */
        g_assert_nonnull (strstr (info->notes, "collapse study"));
        json = dinolab_store_get_hparams_json (store, uuid, &error);
        g_assert_no_error (error);
        dinolab_hparams_init (&hp);
        g_assert_true (dinolab_hparams_load_json (&hp, json, -1, uuid, &error));
        g_assert_no_error (error);
        g_assert_cmpint (hp.use_centering, ==, arms[i].centering);
        g_assert_cmpint (hp.use_sharpening, ==, arms[i].sharpening);
        /* every other key as in the form */
        hp.use_centering = form_hp.use_centering;
        hp.use_sharpening = form_hp.use_sharpening;
        rest = dinolab_hparams_to_json (&hp, FALSE);
        g_assert_cmpstr (rest, ==, form_json);

        hs = dinolab_store_read_series (store, uuid, DINOLAB_METRIC_TEACHER_ENTROPY, -1, &error);
        g_assert_no_error (error);
        kls = dinolab_store_read_series (store, uuid, DINOLAB_METRIC_KL, -1, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (hs->n, ==, 36);
        h[i] = tail_mean (hs, 10);
        kl[i] = tail_mean (kls, 10);
        g_test_message ("%s: h(P_t) first %.3f, last-10 mean %.3f; KL last-10 mean %.4f (ln K = %.3f)",
                        arms[i].name, hs->value[0], h[i], kl[i], log (form_hp.out_dim));
        h0[i] = hs->value[0];
    }
    /* Same seed and settings: the first teacher output of "both" and of
     * "sharpening only" is the same (the center starts at 0), measured 1.320. */
    g_assert_cmpfloat (fabs (h0[0] - h0[2]), <, 1e-6);
    /* Without sharpening the teacher runs at the student's temperature 0.1
     * and drifts towards uniform (measured 4.01 of ln K = 4.16 after 36
     * steps); sharpening alone stays far lower (1.15) and below "both"
     * (3.48). The margins are wide: the gap comes from the temperatures. */
    g_assert_cmpfloat (h[1], >, 0.8 * log (form_hp.out_dim));
    g_assert_cmpfloat (h[2], <, h[1] - 1.0);
    g_assert_cmpfloat (h[2], <, h[0] - 1.0);
}

/* Stop during a study ends it: the arm stops, no next arm starts. */
static void
test_train_collapse_study_stop (void)
{
    DinolabTrainPage *page = open_train_page ();
    DinolabConfigPage *config = dinolab_train_page_get_config_page (page);
    DinolabSession *session = dinolab_train_page_get_session (page);
    DinolabStore *store = dinolab_application_get_store (app);
    GtkWidget *window = gtk_widget_get_ancestor (GTK_WIDGET (page), GTK_TYPE_WINDOW);
    const char *stopped_text = "The collapse study was stopped after 0 of 3 runs";
    g_autoptr(GPtrArray) before = study_runs (store);
    g_autoptr(GPtrArray) after = NULL;
    g_autoptr(DinolabRunInfo) info = NULL;
    g_autoptr(GError) error = NULL;

    tiny_form (config, "500");
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "train.collapse-study", NULL));
    WAIT_UNTIL (dinolab_session_get_step (session) >= 3, 60000);
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "train.stop", NULL));
    WAIT_UNTIL (find_label_containing (window, stopped_text) != NULL, 30000);
    g_assert_nonnull (find_label_containing (window, stopped_text));
    spin_for (300);   /* a next arm would start from an idle */
    g_assert_false (session_active (page));
    g_assert_null (visible_label_text (GTK_WIDGET (page), "Collapse study"));
    after = study_runs (store);
    g_assert_cmpuint (after->len, ==, before->len + 1);
    info = dinolab_store_get_run (store, after->pdata[after->len - 1], &error);
    g_assert_no_error (error);
    g_assert_cmpstr (info->name, ==, "collapse: centering + sharpening");
    g_assert_cmpint (info->status, ==, DINOLAB_RUN_STATUS_STOPPED);
}

/* Closing the window while a run trains stops the run first (status stopped,
 * with a checkpoint) and closes the window once it has ended. */
static void
test_train_close_while_training (void)
{
    DinolabTrainPage *page = open_train_page ();
    DinolabConfigPage *config = dinolab_train_page_get_config_page (page);
    DinolabSession *session = g_object_ref (dinolab_train_page_get_session (page));
    DinolabWindow *window = find_main_window ();
    DinolabStore *store = dinolab_application_get_store (app);
    g_autoptr(DinolabRunInfo) info = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *uuid = NULL;

    tiny_form (config, "500");
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "train.start", NULL));
    WAIT_UNTIL (dinolab_session_get_step (session) >= 5, 60000);
    uuid = g_strdup (dinolab_session_get_run_uuid (session));
    g_assert_nonnull (uuid);
    gtk_window_close (GTK_WINDOW (window));
    g_assert_true (find_main_window () == window);   /* still there while stopping */
    WAIT_UNTIL (find_main_window () == NULL, 30000);
    g_assert_null (find_main_window ());
    g_assert_cmpint (dinolab_session_get_status (session), ==, DINOLAB_TRAINER_STATUS_STOPPED);
    g_object_unref (session);
    info = dinolab_store_get_run (store, uuid, &error);
    g_assert_no_error (error);
    g_assert_cmpint (info->status, ==, DINOLAB_RUN_STATUS_STOPPED);
}

int
main (int argc, char **argv)
{
    g_autofree char *db = NULL;
    g_autofree char *data = NULL;
    int ret;

    setlocale (LC_ALL, "C.UTF-8");
    init_translations ();
    gtk_test_init (&argc, &argv, NULL);

    screenshot_dir_init (NULL);

    /* a temporary store and dataset; the application opens DINOLAB_DB */
    tmpdir = make_tmp_dir ("dinolab-test-train-XXXXXX");
    data = g_build_filename (tmpdir, "data", NULL);
    g_assert_cmpint (g_mkdir_with_parents (data, 0755), ==, 0);
    write_stripes_split (data, "train", 300, 12, 1);  /* as tests/test-trainer.c */
    write_stripes_split (data, "test", 90, 12, 2);
    dataset_spec = g_strdup_printf ("npy:%s/train_images.npy", data);
    app = app_new_on_temp_store (tmpdir, &db);
    g_assert_nonnull (dinolab_application_get_store (app));
    g_assert_cmpstr (dinolab_store_get_path (dinolab_application_get_store (app)), ==, db);

    g_test_add_func ("/gui/train/run", test_train_run);
    g_test_add_func ("/gui/train/resume", test_train_resume);
    g_test_add_func ("/gui/train/collapse", test_train_collapse);
    g_test_add_func ("/gui/train/collapse-study", test_train_collapse_study);
    g_test_add_func ("/gui/train/collapse-study-stop", test_train_collapse_study_stop);
    g_test_add_func ("/gui/train/close-while-training", test_train_close_while_training);

    ret = g_test_run ();

    g_object_unref (app);
    if (g_getenv ("DINOLAB_KEEP_TMP") == NULL)
        remove_tree (tmpdir);
    g_free (tmpdir);
    g_free (dataset_spec);
    g_free (first_uuid);
    g_free (warning_message);
    g_free (shot_dir);
    return ret;
}
