/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * cmd-study.c: `study collapse`, the paper's Fig. 7 ablation (DINO.md 8 and 8.1) as one
 * command. It trains three runs with the same seed and settings except the switch:
 *   both             use_centering = true,  use_sharpening = true
 *   centering only   use_sharpening = false (the teacher uses the student's temperature)
 *   sharpening only  use_centering = false
 * stores each in the run store (tagged "study:collapse", named "collapse: ..."), then
 * prints the final teacher entropy h(P_t), KL(P_t || P_s) and k-NN top-1 of each side by
 * side and draws the two-panel figure (h and KL against the step, ln K dashed) as
 * collapse.png and collapse.svg.
 *
 * The study's own configuration (used unless --preset names another) is the preset
 * "study-collapse": the default preset shrunk so the three behaviours show within
 * minutes on two cores (its "_description" gives the values and why). k-NN: the
 * teacher of each run's last checkpoint, and the random initialisation all three runs
 * start from, on one fixed subset of the splits (every n-th item), so the four numbers
 * compare like with like.
 *
 * Threads: the trainer runs on its own thread; the main thread waits in a GMainLoop
 * that shows its events (progress.c) and handles Ctrl-C, as `train` does (cmd-train.c):
 * the first Ctrl-C stops the current run cleanly (checkpoint, status "stopped") and ends
 * the study with what it has; a second one exits at once.
 *
 * What this file is not: the trainer, the k-NN or the plotting (plot.c); it only
 * orchestrates them.
 */
#include "config.h"

#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dinolab/data.h"
#include "dinolab/error.h"
#include "dinolab/eval.h"
#include "dinolab/io.h"
#include "dinolab/model.h"
#include "dinolab/store.h"
#include "dinolab/study.h"
#include "dinolab/trainer.h"
#include "plot.h"
#include "events.h"
#include "progress.h"

#define STUDY_TAG        DINOLAB_COLLAPSE_STUDY_TAG
#define N_ARMS           DINOLAB_COLLAPSE_STUDY_N_ARMS
/* Final h and KL: means over the last this many steps (per-step values are noisy). */
#define FINAL_WINDOW     50
/* k-NN subset sizes: four times the trainer's (trainer.h), so the standard error of a
 * top-1 near 55 % is about 0.8 points instead of 1.6, for ~3 s per model on 2 cores. */
#define KNN_TRAIN_ITEMS  20000
#define KNN_TEST_ITEMS   4000
/* Figure size in units (PNG at 2x). */
#define FIG_W            1100
#define FIG_H            470
#define FIG_SCALE        2.0

/* The study's own configuration: a preset (data/presets/study-collapse.json, "_base":
 * "default"), so the CLI and the GUI's Collapse Study share one place for it. Its
 * "_description" gives the values and why (DINO.md 8.1: a 2-block, 64-wide ViT with
 * K = 1024 shows all three behaviours in minutes on two cores). --preset replaces it. */
#define STUDY_PRESET     "study-collapse"

/* The arms are the engine's (dinolab/study.h), so GUI and CLI runs look alike; their
 * colours in the figure: Okabe-Ito, distinct for colour-blind readers too. */
static const DinolabCollapseArm *const arms = dinolab_collapse_arms;
static const guint32 arm_rgb_[N_ARMS] = { 0x0072b2, 0xd55e00, 0x009e73 };

/* What one arm produced. */
typedef struct {
    gboolean             done;        /* trained (finished or stopped) */
    char                *uuid;
    DinolabTrainerStatus status;
    gint64               steps;       /* steps done */
    double               h, kl;       /* means over the last FINAL_WINDOW steps */
    double               knn_top1, knn_top5;   /* NAN: not measured */
    double               seconds;
    DinolabMetricSeries *h_series, *kl_series;
} ArmResult;

/* The whole study, for the signal handlers (main thread only). */
typedef struct {
    DinolabTrainer *trainer;       /* the run going on, or NULL between runs */
    CliProgress    *progress;      /* its display, NULL in --json mode or between runs */
    int             n_signals;
    gboolean        interrupted;
} Study;

/* One run's session: the trainer's events and the display. */
typedef struct {
    GMainLoop      *loop;
    DinolabStore   *store;
    DinolabTrainer *trainer;
    CliProgress    *progress;      /* NULL in --json mode */
    CliEvents      *events;        /* trainer thread -> this loop */
    gint64          max_steps;     /* --steps: stop after this many (0: no limit) */
    gboolean        stop_sent;     /* trainer thread only */
    gboolean        done;
    gboolean        tagged;
    const char     *name;
    const char     *notes;
    char           *uuid;
    gint64          last_step;
} Session;

// ----------------------------------------------------------------------------
// running one arm (as cmd-train.c, with the study's tag and step limit)

static void
tag_run_ (Session *s, const char *uuid)
{
    static const char *const tags[] = { STUDY_TAG, NULL };
    g_autoptr (GError) error = NULL;

    s->uuid = g_strdup (uuid);
    s->tagged = TRUE;
    if (!dinolab_store_add_tags (s->store, uuid, tags, &error) ||
        !dinolab_store_set_notes (s->store, uuid, s->notes, &error)) {
        if (s->progress)
            cli_progress_message (s->progress, "cannot tag run %.8s: %s", uuid, error->message);
        else
            g_printerr ("dinolab-cli study: cannot tag run %.8s: %s\n", uuid, error->message);
    }
    if (s->progress)
        cli_progress_set_run (s->progress, uuid, s->name);
}

/* One event, on the main thread (through events.h). */
static void
handle_ (const DinolabTrainerEvent *ev, gpointer data)
{
    Session *s = data;

    if (!s->tagged && ev->run_uuid != NULL)
        tag_run_ (s, ev->run_uuid);
    if (ev->kind == DINOLAB_TRAINER_EVENT_STEP)
        s->last_step = ev->step;
    if (s->progress)
        cli_progress_event (s->progress, ev);
    if (cli_event_is_terminal (ev)) {
        s->done = TRUE;    /* the one terminal status event */
        g_main_loop_quit (s->loop);
    }
}

/* On the trainer thread: must not block. Stopping from here is allowed (trainer.h). */
static void
observe_ (const DinolabTrainerEvent *event, gpointer data)
{
    Session *s = data;

    if (event->kind == DINOLAB_TRAINER_EVENT_STEP && s->max_steps > 0 && !s->stop_sent &&
        event->step + 1 >= s->max_steps) {
        s->stop_sent = TRUE;
        dinolab_trainer_stop (s->trainer);
    }
    cli_events_push (event, s->events);
}

/* SIGINT, SIGTERM, SIGHUP: the first stops the current run cleanly and ends the study;
 * the second exits at once (the run then shows as interrupted, and can be resumed). */
static gboolean
on_signal_ (gpointer data)
{
    Study *st = data;
    const char *first = "stopping this run after the current step (checkpoint kept) and ending the "
                        "study; Ctrl-C again to abort at once";

    if (++st->n_signals == 1) {
        st->interrupted = TRUE;
        if (st->progress)
            cli_progress_message (st->progress, "%s", first);
        else
            g_printerr ("dinolab-cli study: %s\n", first);
        if (st->trainer)
            dinolab_trainer_stop (st->trainer);
        return G_SOURCE_CONTINUE;
    }
    g_printerr ("dinolab-cli study: aborted: the run will show as interrupted\n");
    _exit (CLI_EXIT_FAILURE);
    return G_SOURCE_REMOVE;
}

/* Trains @trainer to its end. Fills @res (uuid, status, steps). Returns FALSE with
 * @error set when the run failed or diverged. */
static gboolean
run_arm_ (Session *s, ArmResult *res, GError **error)
{
    DinolabTrainerStatus status;
    gint64 t0 = g_get_monotonic_time ();

    s->loop = g_main_loop_new (NULL, FALSE);
    s->events = cli_events_new (handle_, s);
    s->last_step = -1;
    s->done = s->tagged = s->stop_sent = FALSE;
    dinolab_trainer_set_observer (s->trainer, observe_, s, NULL);

    if (dinolab_trainer_start (s->trainer, error)) {
        if (!s->done)
            g_main_loop_run (s->loop);
        status = dinolab_trainer_join (s->trainer, error);
    } else {
        status = DINOLAB_TRAINER_STATUS_FAILED;
    }
    cli_events_flush (s->events);    /* whatever came after the loop quit */
    g_clear_pointer (&s->events, cli_events_free);
    g_main_loop_unref (s->loop);

    res->uuid = g_steal_pointer (&s->uuid);
    res->status = status;
    res->steps = s->last_step + 1;
    res->seconds = (double) (g_get_monotonic_time () - t0) / 1e6;
    res->done = status == DINOLAB_TRAINER_STATUS_FINISHED || status == DINOLAB_TRAINER_STATUS_STOPPED;
    if (!res->done && error != NULL && *error == NULL)
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT, "the run ended %s",
                     dinolab_trainer_status_to_string (status));
    return res->done;
}

// ----------------------------------------------------------------------------
// measurements

/* Mean of the last @window finite values of @series (NAN if none). */
static double
tail_mean_ (const DinolabMetricSeries *series, gsize window)
{
    double sum = 0;
    gsize n = 0;

    for (gsize i = series->n; i-- > 0 && n < window;)
        if (isfinite (series->value[i])) {
            sum += series->value[i];
            n++;
        }
    return n ? sum / n : NAN;
}

/* The fixed k-NN subset: labels, both splits and every n-th item of each. */
typedef struct {
    DinolabDataset *train, *test;
    gsize          *train_idx, *test_idx;
    gsize           n_train, n_test;
    int             size;       /* view side: global_crop_size */
} KnnSet;

static void
knn_set_clear_ (KnnSet *k)
{
    g_clear_pointer (&k->train, dinolab_dataset_free);
    g_clear_pointer (&k->test, dinolab_dataset_free);
    g_clear_pointer (&k->train_idx, g_free);
    g_clear_pointer (&k->test_idx, g_free);
}

/* @n items spread evenly over [0, @total): i * total / n. */
static gsize *
strided_ (gsize total, gsize n)
{
    gsize *idx = g_new (gsize, n);

    for (gsize i = 0; i < n; i++)
        idx[i] = (gsize) ((guint64) i * total / n);
    return idx;
}

/* Opens the splits of @hp's dataset for k-NN. Returns FALSE (with a reason in
 * @why, no error) when the data cannot give one: no labels or no test split. */
static gboolean
knn_set_open_ (KnnSet *k, const DinolabHparams *hp, char **why)
{
    g_autoptr (GError) error = NULL;

    memset (k, 0, sizeof *k);
    if (!(k->train = dinolab_dataset_open (hp->dataset, DINOLAB_SPLIT_TRAIN, &error)) ||
        !(k->test = dinolab_dataset_open (hp->dataset, DINOLAB_SPLIT_TEST, &error))) {
        *why = g_strdup (error->message);
        knn_set_clear_ (k);
        return FALSE;
    }
    if (dinolab_dataset_get_n_classes (k->train) == 0) {
        *why = g_strdup_printf ("%s has no labels", hp->dataset);
        knn_set_clear_ (k);
        return FALSE;
    }
    k->n_train = MIN (dinolab_dataset_get_size (k->train), KNN_TRAIN_ITEMS);
    k->n_test = MIN (dinolab_dataset_get_size (k->test), KNN_TEST_ITEMS);
    k->train_idx = strided_ (dinolab_dataset_get_size (k->train), k->n_train);
    k->test_idx = strided_ (dinolab_dataset_get_size (k->test), k->n_test);
    k->size = hp->global_crop_size;
    return TRUE;
}

static gboolean
knn_of_ (KnnSet *k, DinolabModel *model, DinolabKnnResult *r, GError **error)
{
    return dinolab_eval_knn (model, k->train, k->train_idx, k->n_train, k->test, k->test_idx, k->n_test,
                             k->size, DINOLAB_KNN_DEFAULT_K, DINOLAB_KNN_DEFAULT_TEMPERATURE, r, NULL,
                             error);
}

/* k-NN of the random initialisation every arm starts from (the trainer's: the student
 * drawn from the seed, the teacher a copy of it). */
static gboolean
knn_init_ (KnnSet *k, const DinolabHparams *hp, DinolabKnnResult *r, GError **error)
{
    g_autoptr (DinolabModel) model = dinolab_model_new (hp, TRUE, error);

    if (model == NULL)
        return FALSE;
    dinolab_model_init_random (model, hp->seed);
    return knn_of_ (k, model, r, error);
}

/* k-NN of the teacher of run @uuid's newest checkpoint. */
static gboolean
knn_run_ (KnnSet *k, DinolabStore *store, const char *uuid, const DinolabHparams *hp,
          DinolabKnnResult *r, GError **error)
{
    g_autoptr (DinolabCheckpointInfo) ck = NULL;
    g_autoptr (DinolabSafetensors) st = NULL;
    g_autoptr (DinolabModel) model = NULL;
    g_autofree char *path = NULL;
    GError *local = NULL;

    if (!(ck = dinolab_store_get_latest_checkpoint (store, uuid, &local))) {
        if (local == NULL)
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT, "run %.8s has no checkpoint",
                         uuid);
        else
            g_propagate_error (error, local);
        return FALSE;
    }
    path = dinolab_store_resolve_path (store, ck->path);
    if (!(st = dinolab_safetensors_read (path, "teacher", error)) ||
        !(model = dinolab_model_new (hp, FALSE, error)) ||
        !dinolab_model_load_safetensors (model, st, error))
        return FALSE;
    return knn_of_ (k, model, r, error);
}

/* "healthy", "uniform collapse", "one-hot collapse": the trainer's collapse-watch
 * thresholds (trainer.h) applied to the final means. */
static const char *
verdict_ (double h, double kl, int out_dim)
{
    if (!isfinite (h) || !isfinite (kl))
        return "n/a";
    if (kl < DINOLAB_COLLAPSE_KL && h < DINOLAB_COLLAPSE_ONE_HOT_ENTROPY)
        return "one-hot collapse";
    if (kl < DINOLAB_COLLAPSE_KL && h > DINOLAB_COLLAPSE_UNIFORM_FRACTION * log (out_dim))
        return "uniform collapse";
    return "no collapse";
}

// ----------------------------------------------------------------------------
// output: figure, table, JSON

/* Centred moving mean of @y [n] over 2 * @half + 1 points (fewer at the ends; NaN
 * values are skipped). Returns a new array of @n values. */
static double *
moving_mean_ (const double *y, gsize n, int half)
{
    double *out = g_new (double, MAX (n, 1));

    for (gsize i = 0; i < n; i++) {
        gsize lo = i >= (gsize) half ? i - half : 0, hi = MIN (n - 1, i + half);
        double sum = 0;
        int m = 0;
        for (gsize k = lo; k <= hi; k++)
            if (isfinite (y[k])) {
                sum += y[k];
                m++;
            }
        out[i] = m ? sum / m : NAN;
    }
    return out;
}

/* @rgb mixed with white: the pale per-step trace under a smoothed line. */
static guint32
pale_ (guint32 rgb)
{
    guint32 out = 0;

    for (int shift = 0; shift <= 16; shift += 8) {
        guint32 c = (rgb >> shift) & 0xff;
        out |= (c + (255 - c) * 62 / 100) << shift;
    }
    return out;
}

/* The figure: h(P_t) and KL against the step for the arms done so far. Per-step
 * values are noisy (one batch each), so each arm is drawn as a centred moving mean
 * over ~1/75 of the run (at most 25 steps) over its pale per-step trace. @command:
 * how to make it again, for the small print. */
static gboolean
write_figure_ (const char *png, const char *svg, const ArmResult *res, const DinolabHparams *hp,
               const char *command, GError **error)
{
    // A dataset given as a path is named by its file (the title has one line).
    g_autofree char *data = strchr (hp->dataset, '/') ? g_path_get_basename (hp->dataset) : g_strdup (hp->dataset);
    g_autofree char *title = g_strdup_printf ("DINO collapse study (paper Fig. 7): %d-block, %d-wide ViT, "
                                              "K = %d, %s, seed %" G_GUINT64_FORMAT, hp->depth, hp->embed_dim,
                                              hp->out_dim, data, hp->seed);
    g_autofree char *lnk = g_strdup_printf ("ln K = %.3f (uniform)", log (hp->out_dim));
    g_autofree char *note = NULL;
    CliPlot *plot = cli_plot_new (2, title);
    double *sh_[N_ARMS] = { NULL }, *sk_[N_ARMS] = { NULL }, *xh_[N_ARMS] = { NULL }, *xk_[N_ARMS] = { NULL };
    gsize n_max = 0;
    int half;
    gboolean ok;
    double kl_max = 0;

    for (int a = 0; a < N_ARMS; a++)
        if (res[a].done && res[a].h_series && res[a].kl_series)
            n_max = MAX (n_max, MAX (res[a].h_series->n, res[a].kl_series->n));
    half = (int) MIN (n_max / 150, 12);
    note = half > 0
        ? g_strdup_printf ("Lines: centred mean over %d steps; pale: each step. Table: mean of the last %d "
                           "steps. %d threads. Made by: %s", 2 * half + 1, FINAL_WINDOW, hp->threads, command)
        : g_strdup_printf ("Each step's value. Table: mean of the last %d steps. %d threads. Made by: %s",
                           FINAL_WINDOW, hp->threads, command);
    cli_plot_set_note (plot, note);
    cli_plot_set_panel (plot, 0, "Teacher entropy h(P_t)", "training step", "h(P_t)  [nats]");
    cli_plot_set_panel (plot, 1, "KL(P_t \u2016 P_s)", "training step", "KL  [nats]");
    cli_plot_add_hline (plot, 0, log (hp->out_dim), lnk, 0x666666);
    // h lies in [0, ln K]: fix the axis there, with room above ln K for its label, so
    // the one-hot and the uniform collapse sit at the same place in every study.
    cli_plot_set_y_range (plot, 0, -0.04 * log (hp->out_dim), 1.12 * log (hp->out_dim));

    for (int a = 0; a < N_ARMS; a++) {
        const DinolabMetricSeries *sh = res[a].h_series, *sk = res[a].kl_series;
        if (!res[a].done || sh == NULL || sk == NULL)
            continue;
        xh_[a] = g_new (double, MAX (sh->n, 1));
        xk_[a] = g_new (double, MAX (sk->n, 1));
        for (gsize i = 0; i < sh->n; i++)
            xh_[a][i] = (double) sh->step[i];
        for (gsize i = 0; i < sk->n; i++)
            xk_[a][i] = (double) sk->step[i];
        sh_[a] = moving_mean_ (sh->value, sh->n, half);
        sk_[a] = moving_mean_ (sk->value, sk->n, half);
        for (gsize i = 0; i < sk->n; i++)
            if (isfinite (sk_[a][i]))
                kl_max = MAX (kl_max, sk_[a][i]);
        // the pale traces first, under every smoothed line
        if (half > 0) {
            cli_plot_add_line (plot, 0, NULL, pale_ (arm_rgb_[a]), 1.0, xh_[a], sh->value, sh->n);
            cli_plot_add_line (plot, 1, NULL, pale_ (arm_rgb_[a]), 1.0, xk_[a], sk->value, sk->n);
        }
    }
    // KL >= 0, and "KL -> 0" is the point: the axis starts just below 0 and ends above
    // the smoothed curves (a first-step spike of the pale trace may leave the frame).
    if (kl_max > 0)
        cli_plot_set_y_range (plot, 1, -0.04 * kl_max, 1.1 * kl_max);
    for (int a = 0; a < N_ARMS; a++) {
        if (sh_[a] == NULL)
            continue;
        cli_plot_add_line (plot, 0, arms[a].label, arm_rgb_[a], 2.2, xh_[a], sh_[a], res[a].h_series->n);
        cli_plot_add_line (plot, 1, arms[a].label, arm_rgb_[a], 2.2, xk_[a], sk_[a], res[a].kl_series->n);
    }
    ok = cli_plot_write_png (plot, png, FIG_W, FIG_H, FIG_SCALE, error) &&
         cli_plot_write_svg (plot, svg, FIG_W, FIG_H, error);
    cli_plot_free (plot);
    for (int a = 0; a < N_ARMS; a++) {
        g_free (sh_[a]);
        g_free (sk_[a]);
        g_free (xh_[a]);
        g_free (xk_[a]);
    }
    return ok;
}

static void
print_knn_cell_ (double v)
{
    if (isnan (v))
        printf ("  %10s", "n/a");
    else
        printf ("  %8.2f %%", v);
}

static void
print_table_ (const ArmResult *res, const DinolabHparams *hp, const DinolabKnnResult *init,
              gboolean have_knn, const char *png, const char *svg)
{
    printf ("\n%-24s  %8s  %8s  %10s  %-17s  %-8s  %s\n", "collapse study", "h(P_t)", "KL", "k-NN top-1",
            "reading", "status", "run");
    for (int a = 0; a < N_ARMS; a++) {
        const ArmResult *r = &res[a];
        if (!r->done) {
            printf ("  %-22s  %8s  %8s  %10s  %-17s  %-8s  %.8s\n", arms[a].label, "-", "-", "-", "-",
                    r->uuid ? dinolab_trainer_status_to_string (r->status) : "not run",
                    r->uuid ? r->uuid : "");
            continue;
        }
        printf ("  %-22s  %8.4f  %8.3g", arms[a].label, r->h, r->kl);
        print_knn_cell_ (r->knn_top1);
        printf ("  %-17s  %-8s  %.8s\n", verdict_ (r->h, r->kl, hp->out_dim),
                dinolab_trainer_status_to_string (r->status), r->uuid);
    }
    printf ("  %-22s  %8.4f  %8s", "reference: ln K, init", log (hp->out_dim), "");
    print_knn_cell_ (have_knn ? init->top1 : NAN);
    printf ("\n\nh(P_t) and KL: means over the last %d steps of each run (nats; ln K = ln %d). "
            "k-NN: teacher CLS features,\n", FINAL_WINDOW, hp->out_dim);
    if (have_knn)
        printf ("k = %d, T = %g, %" G_GSIZE_FORMAT " test items against %" G_GSIZE_FORMAT " train items "
                "(every n-th of each split); \"init\" is the random\nweights all three runs start from.\n",
                init->k, init->temperature, init->n_test, init->n_train);
    else
        printf ("not measured (the dataset has no labels or no test split).\n");
    printf ("figure: %s, %s\n", png, svg);
}

static char *
json_result_ (const ArmResult *res, const DinolabHparams *hp, const DinolabKnnResult *init,
              gboolean have_knn, const char *png, const char *svg, gboolean interrupted)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();
    g_autoptr (JsonGenerator) gen = json_generator_new ();
    g_autoptr (JsonNode) root = NULL;
    g_autofree char *hp_json = dinolab_hparams_to_json (hp, FALSE);

#define NUM_(k, v) (json_builder_set_member_name (b, k), isfinite (v) ? json_builder_add_double_value (b, v) \
                                                                      : json_builder_add_null_value (b))
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "study");
    json_builder_add_string_value (b, "collapse");
    json_builder_set_member_name (b, "complete");
    json_builder_add_boolean_value (b, !interrupted && res[0].done && res[1].done && res[2].done);
    json_builder_set_member_name (b, "out_dim");
    json_builder_add_int_value (b, hp->out_dim);
    NUM_ ("ln_k", log (hp->out_dim));
    json_builder_set_member_name (b, "final_window");
    json_builder_add_int_value (b, FINAL_WINDOW);
    NUM_ ("knn_init_top1", have_knn ? init->top1 : NAN);
    NUM_ ("knn_init_top5", have_knn ? init->top5 : NAN);
    if (have_knn) {
        json_builder_set_member_name (b, "knn");
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "k");
        json_builder_add_int_value (b, init->k);
        NUM_ ("temperature", init->temperature);
        json_builder_set_member_name (b, "n_train");
        json_builder_add_int_value (b, (gint64) init->n_train);
        json_builder_set_member_name (b, "n_test");
        json_builder_add_int_value (b, (gint64) init->n_test);
        json_builder_end_object (b);
    }
    json_builder_set_member_name (b, "png");
    json_builder_add_string_value (b, png);
    json_builder_set_member_name (b, "svg");
    json_builder_add_string_value (b, svg);
    json_builder_set_member_name (b, "runs");
    json_builder_begin_array (b);
    for (int a = 0; a < N_ARMS; a++) {
        const ArmResult *r = &res[a];
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "arm");
        json_builder_add_string_value (b, arms[a].key);
        json_builder_set_member_name (b, "label");
        json_builder_add_string_value (b, arms[a].label);
        json_builder_set_member_name (b, "use_centering");
        json_builder_add_boolean_value (b, arms[a].use_centering);
        json_builder_set_member_name (b, "use_sharpening");
        json_builder_add_boolean_value (b, arms[a].use_sharpening);
        json_builder_set_member_name (b, "uuid");
        if (r->uuid)
            json_builder_add_string_value (b, r->uuid);
        else
            json_builder_add_null_value (b);
        json_builder_set_member_name (b, "status");
        json_builder_add_string_value (b, r->uuid ? dinolab_trainer_status_to_string (r->status) : "not run");
        json_builder_set_member_name (b, "steps");
        json_builder_add_int_value (b, r->done ? r->steps : 0);
        NUM_ ("teacher_entropy", r->done ? r->h : NAN);
        NUM_ ("kl", r->done ? r->kl : NAN);
        NUM_ ("knn_top1", r->done ? r->knn_top1 : NAN);
        NUM_ ("knn_top5", r->done ? r->knn_top5 : NAN);
        json_builder_set_member_name (b, "reading");
        json_builder_add_string_value (b, r->done ? verdict_ (r->h, r->kl, hp->out_dim) : "n/a");
        NUM_ ("seconds", r->done ? r->seconds : NAN);
        json_builder_end_object (b);
    }
    json_builder_end_array (b);
    // The settings the three runs share; the switches are per run, above.
    json_builder_set_member_name (b, "hparams");
    {
        g_autoptr (JsonNode) node = json_from_string (hp_json, NULL);
        if (node != NULL && JSON_NODE_HOLDS_OBJECT (node)) {
            json_object_remove_member (json_node_get_object (node), "use_centering");
            json_object_remove_member (json_node_get_object (node), "use_sharpening");
        }
        if (node != NULL)
            json_builder_add_value (b, g_steal_pointer (&node));
        else
            json_builder_add_null_value (b);
    }
    json_builder_end_object (b);
#undef NUM_

    root = json_builder_get_root (b);
    json_generator_set_root (gen, root);
    json_generator_set_pretty (gen, TRUE);
    return json_generator_to_data (gen, NULL);
}

// ----------------------------------------------------------------------------
// the command

/* TRUE when the --set assignment @set sets one of the switches the study varies. */
static gboolean
sets_switch_ (const char *set)
{
    g_autofree char *key = g_strdup (set);
    char *eq = strchr (key, '=');

    if (eq != NULL)
        *eq = '\0';
    g_strstrip (key);
    return strcmp (key, "use_centering") == 0 || strcmp (key, "use_sharpening") == 0;
}

static int
study_collapse_ (int argc, char **argv)
{
    g_autofree char *preset = NULL, *db = NULL, *out = NULL;
    g_auto (GStrv) sets = NULL;
    gboolean json = FALSE;
    gint64 max_steps = 0;
    int status = CLI_EXIT_OK;
    const GOptionEntry entries[] = {
        { "preset", 0, 0, G_OPTION_ARG_STRING, &preset, "Start from this preset instead of the study's own "
          "small configuration (preset " STUDY_PRESET ")", "NAME" },
        { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Override one hyperparameter of all three runs "
          "(repeatable; not use_centering or use_sharpening)", "KEY=VALUE" },
        { "steps", 0, 0, G_OPTION_ARG_INT64, &max_steps, "Stop each run after N steps (default: all of its "
          "epochs)", "N" },
        { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "Folder for collapse.png and collapse.svg (default: the "
          "current folder)", "DIR" },
        { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "Run store (default: $DINOLAB_DB, else "
          "$XDG_DATA_HOME/dinolab/runs.db)", "PATH" },
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the results as one JSON object (no progress)", NULL },
        { NULL }
    };
    const char *const dirs[] = { PKGDATADIR "/presets", SOURCE_DATADIR "/presets", NULL };
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabStore) store = NULL;
    g_auto (DinolabHparams) base = { 0 };
    DinolabHparams hps[N_ARMS];
    ArmResult res[N_ARMS];
    KnnSet knn = { 0 };
    DinolabKnnResult knn_init = { 0 };
    gboolean have_knn = FALSE;
    g_autofree char *png = NULL, *svg = NULL, *no_knn = NULL, *started = NULL, *command = NULL;
    int rc = CLI_EXIT_OK, n_done = 0;
    Study study = { 0 };
    guint sig_int = 0, sig_term = 0, sig_hup = 0;

    if (!cli_parse ("study collapse", "", "The paper's Fig. 7 collapse study: three runs with the same seed "
                    "and settings, except centering and sharpening (both, centering only, sharpening "
                    "only), stored in the run store with the tag " STUDY_TAG ". Prints the final "
                    "teacher entropy h(P_t), KL(P_t||P_s) and k-NN top-1 of each and writes "
                    "collapse.png and collapse.svg (both curves against the step). Ctrl-C stops the "
                    "current run cleanly and ends the study.", entries, &argc, &argv, &status))
        return status;
    if (max_steps < 0)
        return cli_fail ("study", CLI_EXIT_USAGE, "--steps: %" G_GINT64_FORMAT " is negative", max_steps);
    for (char **s = sets; s != NULL && *s != NULL; s++)
        if (sets_switch_ (*s))
            return cli_fail ("study", CLI_EXIT_USAGE, "--set %s: the study sets use_centering and "
                             "use_sharpening itself, one pair per run", *s);

    // The command again, for the figure's small print (what decides the results only:
    // not --db, --out or --json).
    {
        GString *c = g_string_new ("dinolab-cli study collapse");
        if (preset)
            g_string_append_printf (c, " --preset %s", preset);
        for (char **p = sets; p != NULL && *p != NULL; p++) {
            g_autofree char *q = g_shell_quote (*p);
            g_string_append_printf (c, " --set %s", strpbrk (*p, " \t'\"$\\") ? q : *p);
        }
        if (max_steps > 0)
            g_string_append_printf (c, " --steps %" G_GINT64_FORMAT, max_steps);
        command = g_string_free (c, FALSE);
    }

    // Settings first: every mistake in them ends here, before anything is trained.
    dinolab_hparams_init (&base);
    if (!dinolab_hparams_load_preset (&base, preset ? preset : STUDY_PRESET, dirs, &error))
        return cli_fail_error ("study", CLI_EXIT_USAGE, error);
    if (!cli_apply_overrides (&base, NULL, sets, &error))
        return cli_fail_error ("study", CLI_EXIT_USAGE, error);
    for (int a = 0; a < N_ARMS; a++) {
        dinolab_hparams_init (&hps[a]);
        dinolab_hparams_copy (&hps[a], &base);
        hps[a].use_centering = arms[a].use_centering;
        hps[a].use_sharpening = arms[a].use_sharpening;
    }
    memset (res, 0, sizeof res);
    for (int a = 0; a < N_ARMS; a++)
        res[a].knn_top1 = res[a].knn_top5 = res[a].h = res[a].kl = NAN;
    if (!dinolab_hparams_validate (&hps[0], &error)) {
        rc = cli_fail_error ("study", CLI_EXIT_USAGE, error);
        goto out;
    }

    // The output folder, before hours of training could end in "cannot write".
    if (!cli_make_dir (out ? out : ".", &error)) {
        rc = cli_fail_error ("study", CLI_EXIT_USAGE, error);
        goto out;
    }
    if (access (out ? out : ".", W_OK) != 0) {
        rc = cli_fail ("study", CLI_EXIT_USAGE, "%s: the folder is not writable", out ? out : ".");
        goto out;
    }
    png = g_build_filename (out ? out : ".", "collapse.png", NULL);
    svg = g_build_filename (out ? out : ".", "collapse.svg", NULL);

    if (!(store = dinolab_store_open (db, &error))) {
        rc = cli_fail_error ("study", CLI_EXIT_FAILURE, error);
        goto out;
    }

    // The k-NN reference: the random initialisation all three runs start from.
    if (knn_set_open_ (&knn, &base, &no_knn)) {
        if (!knn_init_ (&knn, &base, &knn_init, &error)) {
            rc = cli_fail_error ("study", CLI_EXIT_FAILURE, error);
            goto out;
        }
        have_knn = TRUE;
    } else if (!json) {
        printf ("k-NN will not be measured: %s\n", no_knn);
    }
    if (!json) {
        g_autofree char *limit = max_steps > 0
            ? g_strdup_printf (", at most %" G_GINT64_FORMAT " steps each", max_steps) : g_strdup ("");
        printf ("collapse study: 3 runs of %s%s (%d blocks, %d wide, K = %d, batch %d, %d epoch%s%s) on %s, "
                "seed %" G_GUINT64_FORMAT ", %d threads\n", preset ? "preset " : "the study's configuration",
                preset ? preset : "", base.depth, base.embed_dim, base.out_dim, base.batch_size_per_gpu,
                base.epochs, base.epochs == 1 ? "" : "s", limit, base.dataset, base.seed, base.threads);
    }
    if (have_knn && !json)
        printf ("k-NN top-1 of the random initialisation: %.2f %%\n", knn_init.top1);
    fflush (stdout);

    {
        g_autoptr (GDateTime) now = g_date_time_new_now_local ();
        started = g_date_time_format (now, "%Y-%m-%d %H:%M:%S");
    }
    // One set of signal handlers for the whole study: a Ctrl-C between two runs (during
    // k-NN or the figure) ends the study before the next run starts.
    sig_int = g_unix_signal_add (SIGINT, on_signal_, &study);
    sig_term = g_unix_signal_add (SIGTERM, on_signal_, &study);
    sig_hup = g_unix_signal_add (SIGHUP, on_signal_, &study);
    for (int a = 0; a < N_ARMS; a++) {
        g_autofree char *name = dinolab_collapse_arm_run_name (a);
        g_autofree char *notes = dinolab_collapse_arm_notes (a, started);
        g_autoptr (DinolabTrainer) trainer = NULL;
        DinolabTrainerOptions opts;
        Session s = { 0 };
        DinolabKnnResult kr;
        g_autoptr (GError) run_error = NULL;
        char knn_text[32] = "n/a";

        while (g_main_context_iteration (NULL, FALSE))
            ;    /* a signal that came between runs */
        if (study.interrupted)
            break;
        dinolab_trainer_options_init (&opts);
        opts.name = name;
        if (!(trainer = dinolab_trainer_new (store, &hps[a], &opts, &error))) {
            rc = cli_fail_error ("study", CLI_EXIT_USAGE, error);
            break;
        }
        if (json)
            g_printerr ("dinolab-cli study: run %d of 3: %s\n", a + 1, name);
        else
            printf ("\n[%d/3] %s (use_centering=%s, use_sharpening=%s)\n", a + 1, name,
                    arms[a].use_centering ? "true" : "false", arms[a].use_sharpening ? "true" : "false");
        fflush (stdout);
        s.store = store;
        s.trainer = trainer;
        s.name = name;
        s.notes = notes;
        s.max_steps = max_steps;
        s.progress = json ? NULL : cli_progress_new (cli_progress_pick_mode (FALSE));
        study.trainer = trainer;
        study.progress = s.progress;
        run_arm_ (&s, &res[a], &run_error);
        study.trainer = NULL;
        study.progress = NULL;
        g_clear_pointer (&s.progress, cli_progress_free);   /* ends the bar line */
        if (!res[a].done) {
            rc = cli_fail ("study", CLI_EXIT_FAILURE, "run %d of 3 (%s): %s", a + 1, name,
                           run_error ? run_error->message : "failed");
            break;
        }
        n_done++;

        // Its curves and final values, from the store (the trainer flushed them).
        if (!(res[a].h_series = dinolab_store_read_series (store, res[a].uuid, DINOLAB_METRIC_TEACHER_ENTROPY,
                                                           -1, &error)) ||
            !(res[a].kl_series = dinolab_store_read_series (store, res[a].uuid, DINOLAB_METRIC_KL, -1,
                                                            &error))) {
            rc = cli_fail_error ("study", CLI_EXIT_FAILURE, error);
            break;
        }
        res[a].h = tail_mean_ (res[a].h_series, FINAL_WINDOW);
        res[a].kl = tail_mean_ (res[a].kl_series, FINAL_WINDOW);
        if (have_knn) {
            if (knn_run_ (&knn, store, res[a].uuid, &hps[a], &kr, &error)) {
                res[a].knn_top1 = kr.top1;
                res[a].knn_top5 = kr.top5;
                g_snprintf (knn_text, sizeof knn_text, "%.2f %%", kr.top1);
            } else {
                // The run is stored and fine; only its number is missing.
                g_printerr ("dinolab-cli study: k-NN of run %.8s: %s\n", res[a].uuid, error->message);
                g_clear_error (&error);
            }
        }
        if (!json)
            printf ("%s: h(P_t) %.4f, KL %.3g (means over the last %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
                    " steps), k-NN top-1 %s; %.0f s\n", arms[a].label, res[a].h, res[a].kl,
                    MIN (res[a].steps, (gint64) FINAL_WINDOW), res[a].steps, knn_text, res[a].seconds);
        fflush (stdout);
        // The figure after every run, so it can be looked at while the next one trains.
        if (!write_figure_ (png, svg, res, &base, command, &error)) {
            rc = cli_fail_error ("study", CLI_EXIT_FAILURE, error);
            break;
        }
    }

    if (n_done > 0 && rc == CLI_EXIT_OK) {
        if (json) {
            g_autofree char *text = json_result_ (res, &base, &knn_init, have_knn, png, svg,
                                                  study.interrupted);
            printf ("%s\n", text);
        } else {
            print_table_ (res, &base, &knn_init, have_knn, png, svg);
            if (n_done == N_ARMS)
                printf ("compare the runs: dinolab-cli runs compare %.8s %.8s %.8s%s%s\n", res[0].uuid,
                        res[1].uuid, res[2].uuid, db ? " --db " : "", db ? db : "");
        }
    }
    if (study.interrupted && rc == CLI_EXIT_OK)
        rc = cli_fail ("study", CLI_EXIT_FAILURE, "interrupted: %d of 3 runs done", n_done);

out:
    if (sig_int) {
        g_source_remove (sig_int);
        g_source_remove (sig_term);
        g_source_remove (sig_hup);
    }
    for (int a = 0; a < N_ARMS; a++) {
        dinolab_hparams_clear (&hps[a]);
        g_free (res[a].uuid);
        dinolab_metric_series_free (res[a].h_series);
        dinolab_metric_series_free (res[a].kl_series);
    }
    knn_set_clear_ (&knn);
    return rc;
}

int
cmd_study (int argc, char **argv)
{
    if (argc >= 2 && strcmp (argv[1], "collapse") == 0) {
        // GOption sees "study collapse ..." as "collapse ..." so --help names it.
        argv[1] = argv[0];
        return study_collapse_ (argc - 1, argv + 1);
    }
    if (argc >= 2 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)) {
        printf ("Usage: dinolab-cli study STUDY [OPTION...]\n\nStudies:\n"
                "  collapse   the paper's Fig. 7: centering and sharpening, each alone and together\n\n"
                "Run 'dinolab-cli study STUDY --help' for its options.\n");
        return CLI_EXIT_OK;
    }
    if (argc < 2)
        return cli_fail ("study", CLI_EXIT_USAGE, "which study? (collapse; see --help)");
    return cli_fail ("study", CLI_EXIT_USAGE, "unknown study '%s' (collapse; see --help)", argv[1]);
}
