/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * progress.c: the progress display of `train` and `resume` (progress.h): a status line
 * redrawn in place on a terminal, plain lines in a pipe, JSON lines with --json.
 *
 * What this file is not: it neither drives nor stops the trainer; it only turns
 * events, already moved to the main thread by cmd-train.c, into text.
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "progress.h"

/* Redraw the bar at most this often (microseconds): about 4 times a second. */
#define BAR_INTERVAL_US 250000

struct CliProgress {
    CliProgressMode mode;
    char   *uuid, *name;
    gboolean bar_drawn;     /* a bar line is on the terminal, without a newline */
    gint64  last_draw;      /* monotonic us */
    double  last_knn;       /* NAN until an evaluation */
    double  steps_per_s;    /* smoothed */
    double  images_per_s;   /* smoothed */
    DinolabTrainerEvent last; /* the last step event (strings not kept) */
    gboolean have_last;
};

CliProgressMode
cli_progress_pick_mode (gboolean json)
{
    if (json)
        return CLI_PROGRESS_JSON;
    return isatty (STDOUT_FILENO) ? CLI_PROGRESS_BAR : CLI_PROGRESS_PLAIN;
}

CliProgress *
cli_progress_new (CliProgressMode mode)
{
    CliProgress *p = g_new0 (CliProgress, 1);

    p->mode = mode;
    p->last_knn = NAN;
    return p;
}

static void
bar_clear_ (CliProgress *p)
{
    if (p->bar_drawn) {
        fputs ("\r\033[K", stdout);
        fflush (stdout);
        p->bar_drawn = FALSE;
    }
}

void
cli_progress_free (CliProgress *progress)
{
    if (progress == NULL)
        return;
    if (progress->bar_drawn) {
        fputc ('\n', stdout);
        fflush (stdout);
    }
    g_free (progress->uuid);
    g_free (progress->name);
    g_free (progress);
}

void
cli_progress_set_run (CliProgress *progress, const char *uuid, const char *name)
{
    g_return_if_fail (progress != NULL);
    g_free (progress->uuid);
    g_free (progress->name);
    progress->uuid = g_strdup (uuid);
    progress->name = g_strdup (name);
}

double
cli_progress_get_last_knn (CliProgress *progress)
{
    return progress->last_knn;
}

static int
term_width_ (void)
{
    struct winsize ws;

    if (ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        return ws.ws_col;
    return 100;
}

static void
format_duration_ (char *buf, size_t len, double s)
{
    long t = (long) (s + 0.5);

    if (!isfinite (s) || s < 0)
        g_strlcpy (buf, "--:--", len);
    else if (t >= 3600)
        g_snprintf (buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        g_snprintf (buf, len, "%ld:%02ld", t / 60, t % 60);
}

static const char *
short_uuid_ (const char *uuid)
{
    static char buf[9];

    g_strlcpy (buf, uuid ? uuid : "?", sizeof buf);
    return buf;
}

// ----------------------------------------------------------------------------
// JSON

static void
json_event_ (const DinolabTrainerEvent *ev)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();
    g_autoptr (JsonGenerator) gen = json_generator_new ();
    g_autoptr (JsonNode) root = NULL;
    g_autofree char *text = NULL;
    static const char *const kinds[] = { "status", "step", "eval", "checkpoint", "warning", "error" };

#define STR_(k, v) (json_builder_set_member_name (b, k), json_builder_add_string_value (b, v))
#define INT_(k, v) (json_builder_set_member_name (b, k), json_builder_add_int_value (b, v))
#define DBL_(k, v) (json_builder_set_member_name (b, k), json_builder_add_double_value (b, v))
    json_builder_begin_object (b);
    STR_ ("event", kinds[ev->kind]);
    if (ev->run_uuid)
        STR_ ("run", ev->run_uuid);
    STR_ ("status", dinolab_trainer_status_to_string (ev->status));
    INT_ ("step", ev->step);
    INT_ ("epoch", ev->epoch);
    INT_ ("iteration", ev->iteration);
    INT_ ("steps_per_epoch", ev->steps_per_epoch);
    INT_ ("epochs", ev->epochs);
    DBL_ ("wall", ev->wall);
    switch (ev->kind) {
    case DINOLAB_TRAINER_EVENT_STEP:
        DBL_ ("loss", ev->metrics.loss);
        DBL_ ("teacher_entropy", ev->metrics.teacher_entropy);
        DBL_ ("kl", ev->metrics.kl);
        DBL_ ("student_entropy", ev->metrics.student_entropy);
        DBL_ ("lr", ev->metrics.lr);
        DBL_ ("weight_decay", ev->metrics.weight_decay);
        DBL_ ("momentum", ev->metrics.momentum);
        DBL_ ("teacher_temp", ev->metrics.teacher_temp);
        DBL_ ("grad_norm", ev->metrics.grad_norm);
        DBL_ ("center_norm", ev->metrics.center_norm);
        DBL_ ("images_per_second", ev->images_per_second);
        break;
    case DINOLAB_TRAINER_EVENT_EVAL:
        if (ev->has_knn) {
            DBL_ ("knn_top1", ev->knn.top1);
            DBL_ ("knn_top5", ev->knn.top5);
            INT_ ("knn_k", ev->knn.k);
            INT_ ("knn_train", (gint64) ev->knn.n_train);
            INT_ ("knn_test", (gint64) ev->knn.n_test);
        }
        break;
    case DINOLAB_TRAINER_EVENT_CHECKPOINT:
        STR_ ("path", ev->path);
        break;
    case DINOLAB_TRAINER_EVENT_WARNING: {
        static const char *const w[] = { "none", "collapse_one_hot", "collapse_uniform",
                                         "skipped_images", "no_knn", "checkpoint" };
        STR_ ("warning", w[ev->warning]);
        break;
    }
    case DINOLAB_TRAINER_EVENT_ERROR:
        INT_ ("error_code", ev->error_code);
        break;
    case DINOLAB_TRAINER_EVENT_STATUS:
    default:
        break;
    }
    if (ev->message)
        STR_ ("message", ev->message);
    json_builder_end_object (b);
#undef STR_
#undef INT_
#undef DBL_
    root = json_builder_get_root (b);
    json_generator_set_root (gen, root);
    text = json_generator_to_data (gen, NULL);
    fputs (text, stdout);
    fputc ('\n', stdout);
    fflush (stdout);
}

// ----------------------------------------------------------------------------
// text

static void
bar_draw_ (CliProgress *p)
{
    const DinolabTrainerEvent *ev = &p->last;
    char eta[32], knn[32], line[512];
    int width = term_width_ (), filled, bar_w = 20;
    gint64 total = (gint64) ev->epochs * ev->steps_per_epoch;
    double remaining = p->steps_per_s > 0 ? (total - ev->step - 1) / p->steps_per_s : NAN;
    GString *s = g_string_new (NULL);

    format_duration_ (eta, sizeof eta, remaining);
    if (isnan (p->last_knn))
        g_strlcpy (knn, "--", sizeof knn);
    else
        g_snprintf (knn, sizeof knn, "%.1f%%", p->last_knn);
    filled = ev->steps_per_epoch > 0 ? (ev->iteration + 1) * bar_w / ev->steps_per_epoch : 0;
    g_string_append_printf (s, "epoch %d/%d [", ev->epoch + 1, ev->epochs);
    for (int i = 0; i < bar_w; i++)
        g_string_append_c (s, i < filled ? '#' : '.');
    g_string_append_printf (s, "] %d/%d ETA %s loss %.4f h(P_t) %.3f KL %.4f k-NN %s %.0f img/s",
                            ev->iteration + 1, ev->steps_per_epoch, eta, ev->metrics.loss,
                            ev->metrics.teacher_entropy, ev->metrics.kl, knn, p->images_per_s);
    g_strlcpy (line, s->str, MIN ((size_t) width, sizeof line));
    g_string_free (s, TRUE);
    fputs ("\r\033[K", stdout);
    fputs (line, stdout);
    fflush (stdout);
    p->bar_drawn = TRUE;
    p->last_draw = g_get_monotonic_time ();
}

/* A line for a person: above the bar (which is then redrawn) in BAR mode. */
static void
line_ (CliProgress *p, FILE *out, const char *text)
{
    bar_clear_ (p);
    fputs (text, out);
    fputc ('\n', out);
    fflush (out);
    if (p->mode == CLI_PROGRESS_BAR && p->have_last)
        bar_draw_ (p);
}

void
cli_progress_message (CliProgress *progress, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start (ap, fmt);
    msg = g_strdup_vprintf (fmt, ap);
    va_end (ap);
    if (progress->mode == CLI_PROGRESS_JSON) {
        g_autoptr (JsonBuilder) b = json_builder_new ();
        g_autoptr (JsonGenerator) gen = json_generator_new ();
        g_autoptr (JsonNode) root = NULL;
        g_autofree char *text = NULL;
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "event");
        json_builder_add_string_value (b, "message");
        json_builder_set_member_name (b, "text");
        json_builder_add_string_value (b, msg);
        json_builder_end_object (b);
        root = json_builder_get_root (b);
        json_generator_set_root (gen, root);
        text = json_generator_to_data (gen, NULL);
        fputs (text, stdout);
        fputc ('\n', stdout);
        fflush (stdout);
        return;
    }
    line_ (progress, stderr, msg);
}

static void
step_ (CliProgress *p, const DinolabTrainerEvent *ev)
{
    int every;

    // steps and images per second, smoothed over about 20 steps (for the ETA)
    if (p->have_last && ev->step == p->last.step + 1 && ev->wall > p->last.wall) {
        double sps = 1.0 / (ev->wall - p->last.wall);
        p->steps_per_s = p->steps_per_s > 0 ? 0.95 * p->steps_per_s + 0.05 * sps : sps;
    }
    p->images_per_s = p->images_per_s > 0 ? 0.95 * p->images_per_s + 0.05 * ev->images_per_second
                                          : ev->images_per_second;
    p->last = *ev;
    p->last.run_uuid = p->last.path = p->last.message = NULL;
    p->have_last = TRUE;

    if (p->mode == CLI_PROGRESS_BAR) {
        if (g_get_monotonic_time () - p->last_draw >= BAR_INTERVAL_US ||
            ev->iteration + 1 == ev->steps_per_epoch)
            bar_draw_ (p);
        return;
    }
    every = CLAMP (ev->steps_per_epoch / 10, 1, 100);
    if ((ev->iteration + 1) % every == 0 || ev->iteration + 1 == ev->steps_per_epoch) {
        g_autofree char *text = g_strdup_printf (
            "epoch %d/%d step %d/%d (iteration %" G_GINT64_FORMAT ") loss %.4f h(P_t) %.4f KL %.4f "
            "lr %.3g %.0f img/s %.1fs", ev->epoch + 1, ev->epochs, ev->iteration + 1, ev->steps_per_epoch,
            ev->step, ev->metrics.loss, ev->metrics.teacher_entropy, ev->metrics.kl, ev->metrics.lr,
            ev->images_per_second, ev->wall);
        line_ (p, stdout, text);
    }
}

void
cli_progress_event (CliProgress *progress, const DinolabTrainerEvent *ev)
{
    g_autofree char *text = NULL;
    FILE *out = stdout;

    g_return_if_fail (progress != NULL && ev != NULL);

    if (progress->mode == CLI_PROGRESS_JSON) {
        json_event_ (ev);
        return;
    }
    switch (ev->kind) {
    case DINOLAB_TRAINER_EVENT_STEP:
        step_ (progress, ev);
        return;
    case DINOLAB_TRAINER_EVENT_EVAL:
        if (ev->has_knn) {
            progress->last_knn = ev->knn.top1;
            /* evaluations may fall inside an epoch (fractional eval_every): say where */
            text = g_strdup_printf ("epoch %.2f/%d k-NN top-1 %.2f%% top-%d %.2f%% (k %d, %zu train, "
                                    "%zu test items)",
                                    ev->steps_per_epoch > 0 ? (ev->step + 1.0) / ev->steps_per_epoch : 0.0,
                                    ev->epochs, ev->knn.top1,
                                    ev->knn.top5_classes, ev->knn.top5, ev->knn.k, (size_t) ev->knn.n_train,
                                    (size_t) ev->knn.n_test);
        } else {
            text = g_strdup_printf ("epoch %d/%d attention snapshot stored", ev->epoch + 1, ev->epochs);
        }
        break;
    case DINOLAB_TRAINER_EVENT_CHECKPOINT:
        text = g_strdup_printf ("checkpoint at step %" G_GINT64_FORMAT ": %s", ev->step, ev->path);
        break;
    case DINOLAB_TRAINER_EVENT_WARNING:
        out = stderr;
        text = g_strdup_printf ("warning: %s", ev->message);
        break;
    case DINOLAB_TRAINER_EVENT_ERROR:
        // The command prints the error once, after the run; nothing here.
        return;
    case DINOLAB_TRAINER_EVENT_STATUS:
    default:
        if (ev->status == DINOLAB_TRAINER_STATUS_RUNNING && ev->step == 0 && ev->message == NULL)
            text = g_strdup_printf ("run %s%s%s%s: %d epochs of %d steps", short_uuid_ (ev->run_uuid),
                                    progress->name ? " (" : "", progress->name ? progress->name : "",
                                    progress->name ? ")" : "", ev->epochs, ev->steps_per_epoch);
        else if (ev->status != DINOLAB_TRAINER_STATUS_RUNNING && ev->status != DINOLAB_TRAINER_STATUS_PAUSED)
            return;     /* the end: the command prints a summary or the error */
        else
            text = g_strdup_printf ("run %s %s%s%s", short_uuid_ (ev->run_uuid),
                                    dinolab_trainer_status_to_string (ev->status),
                                    ev->message ? ": " : "", ev->message ? ev->message : "");
        break;
    }
    line_ (progress, out, text);
}
