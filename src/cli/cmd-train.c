/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * cmd-train.c: `train` and `resume`, a training run from the command line.
 *
 * The trainer runs on its own thread (trainer.h); this file keeps the main thread in a
 * GMainLoop that shows the trainer's events (progress.c) and handles signals:
 * the first Ctrl-C (or SIGTERM, or SIGHUP) asks the trainer to stop, which finishes the step,
 * writes a checkpoint and ends with status "stopped"; a second Ctrl-C exits at once
 * (the store then finds the run "interrupted" the next time it is opened, and
 * `resume` continues it from its last checkpoint).
 *
 * Events cross from the trainer thread to the main loop through events.h. What this
 * file is not: the display itself (progress.c) or anything of the training.
 */
#include "config.h"

#include <glib-unix.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dinolab/checkpoint.h"
#include "dinolab/error.h"
#include "dinolab/store.h"
#include "dinolab/trainer.h"
#include "events.h"
#include "progress.h"

typedef struct {
    const char     *cmd;
    const char     *db;             /* --db as given, for the resume hint */
    GMainLoop      *loop;
    DinolabStore   *store;
    DinolabTrainer *trainer;
    CliProgress    *progress;
    CliEvents      *events;         /* trainer thread -> this loop */
    gboolean        have_run;       /* the run's name was looked up */
    int             n_signals;
    gboolean        done;
    char           *uuid;
    gint64          last_step;
    int             last_epoch;
} Session;

// ----------------------------------------------------------------------------
// events: trainer thread -> main thread

/* One event, on the main thread (through events.h). */
static void
handle_ (const DinolabTrainerEvent *ev, gpointer data)
{
    Session *s = data;

    if (!s->have_run && ev->run_uuid != NULL) {
        g_autoptr (DinolabRunInfo) info = dinolab_store_get_run (s->store, ev->run_uuid, NULL);
        cli_progress_set_run (s->progress, ev->run_uuid, info ? info->name : NULL);
        s->uuid = g_strdup (ev->run_uuid);
        s->have_run = TRUE;
    }
    if (ev->kind == DINOLAB_TRAINER_EVENT_STEP) {
        s->last_step = ev->step;
        s->last_epoch = ev->epoch;
    } else if (ev->kind == DINOLAB_TRAINER_EVENT_STATUS && s->last_step < 0) {
        /* no step yet (stopped right after a resume): where the run stands */
        s->last_step = ev->step - 1;
        s->last_epoch = ev->epoch;
    }
    cli_progress_event (s->progress, ev);
    if (cli_event_is_terminal (ev)) {
        s->done = TRUE;    /* the one terminal status event */
        g_main_loop_quit (s->loop);
    }
}

static gboolean
on_signal_ (gpointer data)
{
    Session *s = data;

    if (++s->n_signals == 1) {
        cli_progress_message (s->progress, "stopping after this step and writing a checkpoint "
                                           "(Ctrl-C again to abort at once)");
        dinolab_trainer_stop (s->trainer);
        return G_SOURCE_CONTINUE;
    }
    cli_progress_message (s->progress, "aborted: the run will show as interrupted; "
                                       "`dinolab-cli resume %s` continues it from its last checkpoint",
                          s->uuid ? s->uuid : "RUN");
    _exit (CLI_EXIT_FAILURE);
    return G_SOURCE_REMOVE;
}

/* Runs @trainer to its end with the progress display and signal handling; @db as
 * given, for the hint that says how to resume. Returns the exit status. */
static int
run_session_ (const char *cmd, const char *db, DinolabStore *store, DinolabTrainer *trainer, gboolean json)
{
    Session s = { 0 };
    g_autoptr (GError) error = NULL;
    DinolabTrainerStatus status;
    guint sig_int, sig_term, sig_hup;
    int rc = CLI_EXIT_OK;

    s.cmd = cmd;
    s.db = db;
    s.store = store;
    s.trainer = trainer;
    s.loop = g_main_loop_new (NULL, FALSE);
    s.progress = cli_progress_new (cli_progress_pick_mode (json));
    s.events = cli_events_new (handle_, &s);
    s.last_step = -1;

    dinolab_trainer_set_observer (trainer, cli_events_push, s.events, NULL);
    sig_int = g_unix_signal_add (SIGINT, on_signal_, &s);
    sig_term = g_unix_signal_add (SIGTERM, on_signal_, &s);
    sig_hup = g_unix_signal_add (SIGHUP, on_signal_, &s);   /* the terminal went away */
    if (!dinolab_trainer_start (trainer, &error)) {
        rc = cli_fail_error (cmd, CLI_EXIT_FAILURE, error);
        goto out;
    }
    // The trainer always ends with one terminal STATUS event, which quits the loop.
    if (!s.done)
        g_main_loop_run (s.loop);
    status = dinolab_trainer_join (trainer, &error);
    cli_events_flush (s.events);    /* whatever came after the loop quit */

    if (json) {
        if (error != NULL)
            rc = cli_fail_error (cmd, CLI_EXIT_FAILURE, error);
        else if (status == DINOLAB_TRAINER_STATUS_DIVERGED)
            rc = CLI_EXIT_FAILURE;
        goto out;
    }
    g_clear_pointer (&s.progress, cli_progress_free);   /* ends the bar line */
    switch (status) {
    case DINOLAB_TRAINER_STATUS_FINISHED:
    case DINOLAB_TRAINER_STATUS_STOPPED: {
        g_autoptr (DinolabRunInfo) info = s.uuid ? dinolab_store_get_run (store, s.uuid, NULL) : NULL;
        if (info != NULL) {
            g_autofree char *knn = isnan (info->best_knn_top1) ? g_strdup ("")
                : g_strdup_printf (", best k-NN top-1 %.2f%%", info->best_knn_top1);
            printf ("run %.8s (%s) %s at step %" G_GINT64_FORMAT " (epoch %d of %d): loss %.4f, "
                    "h(P_t) %.4f, KL %.4f%s\n", info->uuid, info->name,
                    status == DINOLAB_TRAINER_STATUS_FINISHED ? "finished" : "stopped",
                    s.last_step + 1, s.last_epoch + 1, dinolab_trainer_get_hparams (trainer)->epochs,
                    info->last_loss, info->last_teacher_entropy, info->last_kl, knn);
            if (status == DINOLAB_TRAINER_STATUS_STOPPED)
                printf ("continue it with: dinolab-cli resume %.8s%s%s\n", info->uuid,
                        s.db ? " --db " : "", s.db ? s.db : "");
        }
        if (error != NULL)
            rc = cli_fail_error (cmd, CLI_EXIT_FAILURE, error);
        break;
    }
    case DINOLAB_TRAINER_STATUS_DIVERGED:
        rc = cli_fail (cmd, CLI_EXIT_FAILURE, "%s", error ? error->message : "the run diverged");
        break;
    case DINOLAB_TRAINER_STATUS_FAILED:
    case DINOLAB_TRAINER_STATUS_NEW:
    case DINOLAB_TRAINER_STATUS_RUNNING:
    case DINOLAB_TRAINER_STATUS_PAUSED:
    default:
        if (error != NULL)
            rc = cli_fail_error (cmd, CLI_EXIT_FAILURE, error);
        else
            rc = cli_fail (cmd, CLI_EXIT_FAILURE, "the run failed");
        break;
    }

out:
    g_source_remove (sig_int);
    g_source_remove (sig_term);
    g_source_remove (sig_hup);
    cli_progress_free (s.progress);
    cli_events_free (s.events);
    g_main_loop_unref (s.loop);
    g_free (s.uuid);
    return rc;
}

// ----------------------------------------------------------------------------
// train

/* --stop-at STEP of train and resume; -1 (the default) when not given. */
#define STOP_AT_ENTRY(target)                                                                        \
    { "stop-at", 0, 0, G_OPTION_ARG_INT64, (target), "Stop after this many steps of the run, with a "  \
      "checkpoint, as Ctrl-C does; the schedules stay those of all the epochs, so the checkpoint "    \
      "is the one the whole run passes through", "STEP" }

/* TRUE when @value of --@option is -1 (not given) or >= 1; else prints the usage
 * message "--OPTION: V is not WHAT (>= 1)". */
static gboolean
unset_or_positive_ (const char *cmd, const char *option, gint64 value, const char *what)
{
    if (value == -1 || value >= 1)
        return TRUE;
    cli_fail (cmd, CLI_EXIT_USAGE, "--%s: %" G_GINT64_FORMAT " is not %s (>= 1)", option, value, what);
    return FALSE;
}

/* The checks of --keep-last and --stop-at, shared by train and resume. */
static gboolean
keep_last_and_stop_at_ok_ (const char *cmd, int keep_last, gint64 stop_at)
{
    return unset_or_positive_ (cmd, "keep-last", keep_last, "a number of checkpoints") &&
           unset_or_positive_ (cmd, "stop-at", stop_at, "a step");
}

/* --keep-last N of train and resume; -1 (not given) leaves it to the trainer: 3 for a new
 * run, on resume the count the run records. */
#define KEEP_LAST_ENTRY(target)                                                                      \
    { "keep-last", 0, 0, G_OPTION_ARG_INT, (target), "Keep the newest N checkpoints (also kept: the " \
      "end of every 10th epoch), e.g. to evaluate the run at several times; the run remembers it "    \
      "(default: 3, or on resume the run's own)", "N" }

/* The newest checkpoint of run @uuid whose file matches its recorded sha256, or NULL
 * (no error) when it has none. */
static char *
verified_checkpoint_ (DinolabStore *store, const char *uuid, GError **error)
{
    g_autoptr (GPtrArray) rows = dinolab_store_list_checkpoints (store, uuid, error);

    if (rows == NULL)
        return NULL;
    for (guint i = rows->len; i-- > 0;) {
        DinolabCheckpointInfo *c = rows->pdata[i];
        g_autofree char *abs = dinolab_store_resolve_path (store, c->path);
        g_autofree char *sha = dinolab_store_hash_file (abs, NULL, NULL);
        if (sha != NULL && g_ascii_strcasecmp (sha, c->sha256) == 0)
            return g_steal_pointer (&abs);
    }
    return NULL;
}

int
cmd_train (int argc, char **argv)
{
    g_autofree char *preset = NULL, *config = NULL, *name = NULL, *db = NULL, *from = NULL;
    g_auto (GStrv) sets = NULL;
    gboolean json = FALSE;
    int status = CLI_EXIT_OK, keep_last = -1;
    gint64 stop_at = -1;
    const GOptionEntry entries[] = {
        { "preset", 0, 0, G_OPTION_ARG_STRING, &preset, "Start from this preset (default: default)", "NAME" },
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &config, "Hyperparameters (JSON) on top of the preset", "FILE" },
        { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Override one hyperparameter (repeatable)", "KEY=VALUE" },
        { "name", 0, 0, G_OPTION_ARG_STRING, &name, "Name of the run (default: a generated one)", "NAME" },
        { "from", 0, 0, G_OPTION_ARG_STRING, &from, "Fork: start from this run's settings and newest "
          "checkpoint (weights and center; fresh optimizer), linked to it as parent", "RUN" },
        { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "Run store (default: $DINOLAB_DB, else "
          "$XDG_DATA_HOME/dinolab/runs.db)", "PATH" },
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per event on standard output", NULL },
        KEEP_LAST_ENTRY (&keep_last),
        STOP_AT_ENTRY (&stop_at),
        { NULL }
    };
    const char *const dirs[] = { PKGDATADIR "/presets", SOURCE_DATADIR "/presets", NULL };
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabStore) store = NULL;
    g_autoptr (DinolabTrainer) trainer = NULL;
    g_autofree char *parent = NULL, *init = NULL;
    g_auto (DinolabHparams) hp = { 0 };
    DinolabTrainerOptions opts;

    if (!cli_parse ("train", "", "Trains a DINO model and stores the run: metrics, k-NN evaluations, "
                    "attention snapshots and checkpoints. Ctrl-C stops after the current step with a "
                    "checkpoint; `dinolab-cli resume RUN` continues.",
                    entries, &argc, &argv, &status))
        return status;
    if (from != NULL && preset != NULL)
        return cli_fail ("train", CLI_EXIT_USAGE, "--from and --preset both give the starting settings: "
                         "use one of them");
    if (!keep_last_and_stop_at_ok_ ("train", keep_last, stop_at))
        return CLI_EXIT_USAGE;

    if (!(store = dinolab_store_open (db, &error)))
        return cli_fail_error ("train", CLI_EXIT_FAILURE, error);
    dinolab_hparams_init (&hp);
    if (from != NULL) {
        g_autofree char *text = NULL;
        if (!(parent = dinolab_store_resolve_run (store, from, &error)) ||
            !(text = dinolab_store_get_hparams_json (store, parent, &error)) ||
            !dinolab_hparams_load_json (&hp, text, -1, from, &error))
            return cli_fail_error ("train", CLI_EXIT_FAILURE, error);
        init = verified_checkpoint_ (store, parent, &error);
        if (error != NULL)
            return cli_fail_error ("train", CLI_EXIT_FAILURE, error);
    } else if (!dinolab_hparams_load_preset (&hp, preset ? preset : "default", dirs, &error)) {
        return cli_fail_error ("train", CLI_EXIT_USAGE, error);
    }
    if (!cli_apply_overrides (&hp, config, sets, &error) || !dinolab_hparams_validate (&hp, &error))
        return cli_fail_error ("train", CLI_EXIT_USAGE, error);

    dinolab_trainer_options_init (&opts);
    opts.name = name;
    opts.parent = parent;
    opts.init_checkpoint = init;
    if (keep_last != -1)
        opts.keep_last = keep_last;
    opts.stop_at_step = stop_at;
    if (!(trainer = dinolab_trainer_new (store, &hp, &opts, &error)))
        return cli_fail_error ("train", CLI_EXIT_USAGE, error);
    return run_session_ ("train", db, store, trainer, json);
}

// ----------------------------------------------------------------------------
// resume

int
cmd_resume (int argc, char **argv)
{
    g_autofree char *db = NULL;
    g_auto (GStrv) sets = NULL;
    gboolean json = FALSE;
    int keep_last = -1;
    gint64 stop_at = -1;
    const GOptionEntry entries[] = {
        { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Change epochs, eval_every, "
          "checkpoint_every or threads (repeatable)", "KEY=VALUE" },
        { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "Run store (default: $DINOLAB_DB, else "
          "$XDG_DATA_HOME/dinolab/runs.db)", "PATH" },
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per event on standard output", NULL },
        KEEP_LAST_ENTRY (&keep_last),
        STOP_AT_ENTRY (&stop_at),
        { NULL }
    };
    g_autoptr (GOptionContext) ctx = g_option_context_new ("RUN");
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabStore) store = NULL;
    g_autoptr (DinolabTrainer) trainer = NULL;
    DinolabTrainerOptions opts;

    g_set_prgname ("dinolab-cli resume");
    g_option_context_set_summary (ctx, "Continues a stopped, interrupted or failed run (or a finished "
                                  "one with more epochs) from its newest checkpoint that verifies. RUN is "
                                  "a uuid, a unique uuid prefix or a name.");
    g_option_context_add_main_entries (ctx, entries, NULL);
    if (!g_option_context_parse (ctx, &argc, &argv, &error))
        return cli_fail ("resume", CLI_EXIT_USAGE, "%s (see --help)", error->message);
    if (argc != 2)
        return cli_fail ("resume", CLI_EXIT_USAGE, argc < 2 ? "which run? (see --help)"
                                                            : "one run at a time (see --help)");
    if (!keep_last_and_stop_at_ok_ ("resume", keep_last, stop_at))
        return CLI_EXIT_USAGE;

    if (!(store = dinolab_store_open (db, &error)))
        return cli_fail_error ("resume", CLI_EXIT_FAILURE, error);
    dinolab_trainer_options_init (&opts);
    if (keep_last != -1)
        opts.keep_last = keep_last;
    opts.stop_at_step = stop_at;
    if (!(trainer = dinolab_trainer_new_resume (store, argv[1], (const char *const *) sets, &opts, &error)))
        return cli_fail_error ("resume", CLI_EXIT_FAILURE, error);
    return run_session_ ("resume", db, store, trainer, json);
}
