/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-train-page.c: the Train view. It binds the template, owns the
 * DinolabSession of the view (one per store) and turns the session's signals
 * into plot points, progress labels, toasts and markers. The train.* actions
 * are enabled from the session's status and the form's "valid"; their
 * shortcuts sit in a managed shortcut controller, so they work anywhere in
 * the window. Curves of a stored run are read on a worker thread (GTask) with
 * a connection of its own. It also runs the collapse study (train.collapse-study:
 * the three runs of `dinolab-cli study collapse`, one after another, with the
 * form's settings). It does not train (the session does) and does not check
 * hyperparameters (the form does, through the engine).
 */
#define G_LOG_DOMAIN "dinolab-train-page"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "dinolab/error.h"
#include "dinolab/hparams.h"
#include "dinolab/study.h"
#include "dinolab/trainer.h"

#include "dinolab-application.h"
#include "dinolab-config-page.h"
#include "dinolab-plot.h"
#include "dinolab-session.h"
#include "dinolab-train-page.h"

/* The series of the four plots, in the order of this enum. */
typedef enum
{
  SERIES_ENTROPY,
  SERIES_KL,
  SERIES_LOSS,
  SERIES_KNN_TOP1,
  SERIES_KNN_TOP5,
  SERIES_LR,
  SERIES_WD,
  SERIES_MOMENTUM,
  SERIES_TEMP,
  N_SERIES
} SeriesId;

/* The store's metric name of each series (store.h, trainer.c). */
static const char * const series_metric[N_SERIES] = {
  "teacher_entropy", "kl", "loss", "knn_top1", "knn_top5",
  "lr", "weight_decay", "momentum", "teacher_temp",
};

/* The collapse study (DINO.md 8, paper Fig. 7), as src/cli/cmd-study.c runs it:
 * the same settings and seed, three switch pairs, one tag. */
#define STUDY_TAG    DINOLAB_COLLAPSE_STUDY_TAG
#define STUDY_N_ARMS DINOLAB_COLLAPSE_STUDY_N_ARMS

/* The arms' labels as shown, translated; the arms themselves (switches, run
 * names, notes) are the engine's, dinolab/study.h, shared with the CLI. */
static const char *const study_arm_labels[STUDY_N_ARMS] = {
  N_("centering + sharpening"),
  N_("centering only"),
  N_("sharpening only"),
};

struct _DinolabTrainPage
{
  AdwBin             parent_instance;

  /* template children */
  DinolabConfigPage *config_page;
  GtkLabel          *status_label;
  GtkButton         *pause_button;
  GtkLabel          *epoch_label;
  GtkLabel          *step_label;
  GtkLabel          *speed_label;
  GtkLabel          *eta_label;
  GtkProgressBar    *progress_bar;
  GtkLabel          *study_label;
  DinolabPlot       *entropy_plot;
  DinolabPlot       *loss_plot;
  DinolabPlot       *knn_plot;
  DinolabPlot       *schedule_plot;

  DinolabPlotSeries *series[N_SERIES];
  DinolabStore      *store;        /* borrowed from the application */
  DinolabSession    *session;
  GCancellable      *load_cancellable;
  guint              settings_bound : 1;

  /* the collapse study; study_arm is -1 when none is going */
  int                study_arm;
  DinolabHparams     study_hp;       /* the form's settings at the start (switches aside) */
  char              *study_started;  /* local time, for the runs' notes */
  char              *study_uuid;     /* the current arm's run once tagged, else NULL */
  guint              study_stopping : 1;  /* Stop was pressed: no further arm */
  guint              study_next_id;  /* idle that starts the next arm */
};

G_DEFINE_FINAL_TYPE (DinolabTrainPage, dinolab_train_page, ADW_TYPE_BIN)

static DinolabPlot *
series_plot (DinolabTrainPage *self,
             SeriesId          id)
{
  if (id == SERIES_ENTROPY || id == SERIES_KL)
    return self->entropy_plot;
  if (id == SERIES_LOSS)
    return self->loss_plot;
  if (id == SERIES_KNN_TOP1 || id == SERIES_KNN_TOP5)
    return self->knn_plot;
  return self->schedule_plot;
}

static void
dinolab_train_page_toast (DinolabTrainPage *self,
                          const char       *message)
{
  g_debug ("toast: %s", message);
  gtk_widget_activate_action (GTK_WIDGET (self), "win.show-toast", "s", message);
}

/* ---- plots ----------------------------------------------------------------- */

static void
dinolab_train_page_clear_plots (DinolabTrainPage *self,
                                int               out_dim)
{
  DinolabPlot *plots[] = { self->entropy_plot, self->loss_plot, self->knn_plot,
                           self->schedule_plot };
  guint i;

  for (i = 0; i < N_SERIES; i++)
    dinolab_plot_series_clear (self->series[i]);
  for (i = 0; i < G_N_ELEMENTS (plots); i++)
    {
      dinolab_plot_clear_annotations (plots[i]);
      dinolab_plot_reset_view (plots[i]);
    }
  if (out_dim > 1)
    {
      /* Translators: the entropy of a uniform distribution over K outputs */
      g_autofree char *label = g_strdup_printf (_("ln K = %.2f"), log (out_dim));
      dinolab_plot_add_reference_line (self->entropy_plot, log (out_dim), label);
    }
}

static void
dinolab_train_page_add_marker (DinolabTrainPage *self,
                               double            step,
                               double            epoch,
                               double            wall,
                               const char       *label)
{
  DinolabPlot *plots[] = { self->entropy_plot, self->loss_plot, self->knn_plot,
                           self->schedule_plot };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (plots); i++)
    dinolab_plot_add_marker (plots[i], step, epoch, wall, label);
}

/* The fractional epoch of a step event. */
static double
event_epoch (const DinolabTrainerEvent *ev)
{
  if (ev->steps_per_epoch <= 0)
    return ev->epoch;
  return ev->epoch + (ev->iteration + 1.0) / ev->steps_per_epoch;
}

static void
on_session_metrics (DinolabTrainPage *self,
                    GPtrArray        *events)
{
  static const SeriesId step_series[] = { SERIES_ENTROPY, SERIES_KL, SERIES_LOSS, SERIES_LR,
                                          SERIES_WD, SERIES_MOMENTUM, SERIES_TEMP };
  guint n = events->len;
  g_autofree double *step = g_new (double, n);
  g_autofree double *epoch = g_new (double, n);
  g_autofree double *wall = g_new (double, n);
  g_autofree double *y = g_new (double, n);
  guint i, s;

  for (i = 0; i < n; i++)
    {
      const DinolabTrainerEvent *ev = g_ptr_array_index (events, i);
      step[i] = ev->step;
      epoch[i] = event_epoch (ev);
      wall[i] = ev->wall;
    }
  for (s = 0; s < G_N_ELEMENTS (step_series); s++)
    {
      for (i = 0; i < n; i++)
        {
          const DinolabStepMetrics *m = &((const DinolabTrainerEvent *) g_ptr_array_index (events, i))->metrics;
          switch (step_series[s])
            {
            case SERIES_ENTROPY:  y[i] = m->teacher_entropy; break;
            case SERIES_KL:       y[i] = m->kl; break;
            case SERIES_LOSS:     y[i] = m->loss; break;
            case SERIES_LR:       y[i] = m->lr; break;
            case SERIES_WD:       y[i] = m->weight_decay; break;
            case SERIES_MOMENTUM: y[i] = m->momentum; break;
            case SERIES_TEMP:     y[i] = m->teacher_temp; break;
            case SERIES_KNN_TOP1:
            case SERIES_KNN_TOP5:
            case N_SERIES:
            default:              g_assert_not_reached ();
            }
        }
      dinolab_plot_series_append_many (self->series[step_series[s]], step, epoch, wall, y, n);
    }
}

static void
on_session_evaluation (DinolabTrainPage *self,
                       gpointer          event)
{
  const DinolabTrainerEvent *ev = event;

  if (!ev->has_knn)
    return;
  dinolab_plot_series_append (self->series[SERIES_KNN_TOP1], ev->step, event_epoch (ev),
                              ev->wall, ev->knn.top1);
  dinolab_plot_series_append (self->series[SERIES_KNN_TOP5], ev->step, event_epoch (ev),
                              ev->wall, ev->knn.top5);
}

static void
on_session_warning (DinolabTrainPage *self,
                    int               mode,
                    const char       *message,
                    gint64            step,
                    double            epoch,
                    double            wall)
{
  if (mode == DINOLAB_TRAINER_WARNING_COLLAPSE_ONE_HOT
      || mode == DINOLAB_TRAINER_WARNING_COLLAPSE_UNIFORM)
    dinolab_train_page_add_marker (self, step, epoch, wall,
                                   /* Translators: a marker on the plots */
                                   _("collapse"));
  if (message != NULL)
    dinolab_train_page_toast (self, message);
}

static gboolean dinolab_train_page_study_finished (DinolabTrainPage     *self,
                                                   DinolabTrainerStatus  status);

static void
on_session_finished (DinolabTrainPage *self,
                     int               status,
                     const char       *message)
{
  g_autofree char *text = NULL;
  DinolabTrainerStatus st = status;
  gint64 step = self->session != NULL ? dinolab_session_get_step (self->session) : 0;
  guint n = dinolab_plot_series_get_n_points (self->series[SERIES_LOSS]);

  /* A study's arm that finished or was stopped: the study says what comes
   * next; a failed or diverged one ends it and is told as any run's. */
  if (self->study_arm >= 0 && dinolab_train_page_study_finished (self, st))
    return;
  switch (st)
    {
    case DINOLAB_TRAINER_STATUS_FINISHED:
      text = g_strdup (_("The run has finished"));
      break;
    case DINOLAB_TRAINER_STATUS_STOPPED:
      text = g_strdup (_("The run was stopped; it can be resumed from its checkpoint"));
      break;
    case DINOLAB_TRAINER_STATUS_DIVERGED:
      if (n > 0)
        {
          const double *x_epoch = dinolab_plot_series_get_x (self->series[SERIES_LOSS], DINOLAB_PLOT_X_EPOCH);
          const double *x_wall = dinolab_plot_series_get_x (self->series[SERIES_LOSS], DINOLAB_PLOT_X_WALL);
          dinolab_train_page_add_marker (self, step, x_epoch[n - 1], x_wall[n - 1],
                                         /* Translators: a marker on the plots */
                                         _("divergence"));
        }
      text = g_strdup_printf (_("The run diverged: %s"), message != NULL ? message : "");
      break;
    case DINOLAB_TRAINER_STATUS_NEW:
    case DINOLAB_TRAINER_STATUS_RUNNING:
    case DINOLAB_TRAINER_STATUS_PAUSED:
    case DINOLAB_TRAINER_STATUS_FAILED:
    default:
      text = g_strdup_printf (_("The run failed: %s"), message != NULL ? message : "");
      break;
    }
  dinolab_train_page_toast (self, text);
}

/* ---- progress and actions -------------------------------------------------- */

static char *
format_duration (double seconds)
{
  gint64 s = (gint64) llround (seconds);

  if (s >= 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT ":%02d:%02d", s / 3600, (int) (s / 60 % 60),
                            (int) (s % 60));
  return g_strdup_printf ("%d:%02d", (int) (s / 60), (int) (s % 60));
}

static const char *
status_text (DinolabTrainerStatus status)
{
  switch (status)
    {
    case DINOLAB_TRAINER_STATUS_NEW:      return _("Ready");
    case DINOLAB_TRAINER_STATUS_RUNNING:  return _("Training");
    case DINOLAB_TRAINER_STATUS_PAUSED:   return _("Paused");
    case DINOLAB_TRAINER_STATUS_FINISHED: return _("Finished");
    case DINOLAB_TRAINER_STATUS_STOPPED:  return _("Stopped");
    case DINOLAB_TRAINER_STATUS_DIVERGED: return _("Diverged");
    case DINOLAB_TRAINER_STATUS_FAILED:   return _("Failed");
    default:                              return "";
    }
}

static void
dinolab_train_page_update (DinolabTrainPage *self)
{
  DinolabSession *s = self->session;
  gboolean active = s != NULL && dinolab_session_get_active (s);
  DinolabTrainerStatus status = s != NULL ? dinolab_session_get_status (s)
                                          : DINOLAB_TRAINER_STATUS_NEW;
  gboolean valid = dinolab_config_page_get_valid (self->config_page);
  gboolean paused = active && status == DINOLAB_TRAINER_STATUS_PAUSED;
  gint64 step, total;
  g_autofree char *text = NULL;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "train.start", s != NULL && !active && valid);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "train.pause", active);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "train.stop", active);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "train.collapse-study",
                                 s != NULL && !active && valid && self->study_arm < 0);
  if (self->study_arm >= 0)
    {
      /* Translators: "Collapse study 2/3: centering only" */
      text = g_strdup_printf (_("Collapse study %d/%d: %s"), self->study_arm + 1, STUDY_N_ARMS,
                              _(study_arm_labels[self->study_arm]));
      gtk_label_set_label (self->study_label, text);
      g_clear_pointer (&text, g_free);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->study_label), self->study_arm >= 0);
  gtk_button_set_label (self->pause_button, paused ? _("_Resume") : _("_Pause"));

  if (s == NULL)
    {
      gtk_label_set_label (self->status_label, _("No run database"));
      return;
    }
  if (active && status == DINOLAB_TRAINER_STATUS_RUNNING && dinolab_session_get_step (s) < 0)
    gtk_label_set_label (self->status_label, _("Preparing the data and the models…"));
  else if (!active && !valid && status == DINOLAB_TRAINER_STATUS_NEW)
    gtk_label_set_label (self->status_label, _("Fix the marked settings to start"));
  else
    gtk_label_set_label (self->status_label, status_text (status));

  step = dinolab_session_get_step (s);
  total = dinolab_session_get_total_steps (s);
  if (dinolab_session_get_epochs (s) > 0 && step >= 0)
    {
      text = g_strdup_printf ("%d / %d", dinolab_session_get_epoch (s) + 1,
                              dinolab_session_get_epochs (s));
      gtk_label_set_label (self->epoch_label, text);
      g_clear_pointer (&text, g_free);
    }
  else
    gtk_label_set_label (self->epoch_label, "–");
  if (step >= 0)
    {
      text = total > 0 ? g_strdup_printf ("%" G_GINT64_FORMAT " / %" G_GINT64_FORMAT, step + 1, total)
                       : g_strdup_printf ("%" G_GINT64_FORMAT, step + 1);
      gtk_label_set_label (self->step_label, text);
      g_clear_pointer (&text, g_free);
      text = g_strdup_printf ("%.1f", dinolab_session_get_images_per_second (s));
      gtk_label_set_label (self->speed_label, text);
      g_clear_pointer (&text, g_free);
    }
  else
    {
      gtk_label_set_label (self->step_label, "–");
      gtk_label_set_label (self->speed_label, "–");
    }
  if (active && dinolab_session_get_eta_seconds (s) >= 0)
    {
      text = format_duration (dinolab_session_get_eta_seconds (s));
      gtk_label_set_label (self->eta_label, text);
    }
  else
    gtk_label_set_label (self->eta_label, "–");
  gtk_progress_bar_set_fraction (self->progress_bar,
                                 total > 0 && step >= 0 ? MIN (1.0, (step + 1.0) / total) : 0.0);
}

static void
train_start (GtkWidget  *widget,
             const char *action_name G_GNUC_UNUSED,
             GVariant   *parameter G_GNUC_UNUSED)
{
  DinolabTrainPage *self = DINOLAB_TRAIN_PAGE (widget);
  g_auto(DinolabHparams) hp = { 0 };
  g_autoptr(GError) error = NULL;

  if (self->session == NULL)
    return;
  dinolab_hparams_init (&hp);
  if (!dinolab_config_page_get_hparams (self->config_page, &hp))
    {
      dinolab_train_page_toast (self, _("Some settings are not valid: see the marked fields"));
      return;
    }
  dinolab_train_page_clear_plots (self, hp.out_dim);
  if (!dinolab_session_start (self->session, &hp, NULL, &error))
    dinolab_train_page_toast (self, error->message);
}

static void
train_pause (GtkWidget  *widget,
             const char *action_name G_GNUC_UNUSED,
             GVariant   *parameter G_GNUC_UNUSED)
{
  DinolabTrainPage *self = DINOLAB_TRAIN_PAGE (widget);

  if (self->session == NULL)
    return;
  dinolab_session_set_paused (self->session,
                              dinolab_session_get_status (self->session)
                              != DINOLAB_TRAINER_STATUS_PAUSED);
}

static void
train_stop (GtkWidget  *widget,
            const char *action_name G_GNUC_UNUSED,
            GVariant   *parameter G_GNUC_UNUSED)
{
  DinolabTrainPage *self = DINOLAB_TRAIN_PAGE (widget);

  if (self->study_arm >= 0)
    self->study_stopping = TRUE;   /* Stop ends the whole study, not just this arm */
  if (self->session != NULL)
    dinolab_session_stop (self->session);
}

/* ---- the collapse study ---------------------------------------------------- */

static void
dinolab_train_page_study_end (DinolabTrainPage *self)
{
  g_clear_handle_id (&self->study_next_id, g_source_remove);
  g_clear_pointer (&self->study_uuid, g_free);
  g_clear_pointer (&self->study_started, g_free);
  self->study_arm = -1;
  self->study_stopping = FALSE;
  dinolab_train_page_update (self);
}

/* Tags the current arm's run once the store has it (notify::run-uuid; the
 * uuid usually exists as soon as the run is started). Notes as the CLI's. */
static void
on_session_run_uuid (DinolabTrainPage *self)
{
  static const char * const tags[] = { STUDY_TAG, NULL };
  const char *uuid = self->session != NULL ? dinolab_session_get_run_uuid (self->session) : NULL;
  g_autofree char *notes = NULL;
  g_autoptr(GError) error = NULL;

  if (self->study_arm < 0 || self->study_uuid != NULL || uuid == NULL
      || !dinolab_session_get_active (self->session))
    return;
  self->study_uuid = g_strdup (uuid);
  /* The notes are stored with the run, in English as the CLI writes them. */
  notes = dinolab_collapse_arm_notes (self->study_arm, self->study_started);
  if (!dinolab_store_add_tags (self->store, uuid, tags, &error)
      || !dinolab_store_set_notes (self->store, uuid, notes, &error))
    {
      /* The run goes on; only its label in the store is missing. */
      g_autofree char *text = g_strdup_printf (_("Cannot tag the run: %s"), error->message);
      dinolab_train_page_toast (self, text);
    }
}

/* Starts arm self->study_arm: the study's settings with the arm's switches.
 * Returns FALSE with @error set (the engine's message) if it did not start. */
static gboolean
dinolab_train_page_study_start_arm (DinolabTrainPage  *self,
                                    GError           **error)
{
  const DinolabCollapseArm *arm = &dinolab_collapse_arms[self->study_arm];
  g_autofree char *name = dinolab_collapse_arm_run_name (self->study_arm);
  g_auto(DinolabHparams) hp = { 0 };

  dinolab_hparams_init (&hp);
  dinolab_hparams_copy (&hp, &self->study_hp);
  hp.use_centering = arm->use_centering;
  hp.use_sharpening = arm->use_sharpening;
  g_clear_pointer (&self->study_uuid, g_free);
  /* The plots show the arm that is running; the Runs view compares all three. */
  dinolab_train_page_clear_plots (self, hp.out_dim);
  if (!dinolab_session_start (self->session, &hp, name, error))
    return FALSE;
  on_session_run_uuid (self);
  dinolab_train_page_update (self);
  return TRUE;
}

static gboolean
study_next_arm_cb (gpointer data)
{
  DinolabTrainPage *self = data;
  g_autoptr(GError) error = NULL;

  self->study_next_id = 0;
  if (self->session == NULL || dinolab_session_get_active (self->session))
    {
      dinolab_train_page_study_end (self);
      return G_SOURCE_REMOVE;
    }
  self->study_arm++;
  if (!dinolab_train_page_study_start_arm (self, &error))
    {
      g_autofree char *text = g_strdup_printf (_("The collapse study could not go on: %s"),
                                               error->message);
      dinolab_train_page_study_end (self);
      dinolab_train_page_toast (self, text);
    }
  return G_SOURCE_REMOVE;
}

/* The current arm has ended with @status. Returns TRUE when it has told the
 * user what happened (or goes on with the next arm), FALSE when the arm
 * failed: the study is over and the caller tells the failure as usual. */
static gboolean
dinolab_train_page_study_finished (DinolabTrainPage     *self,
                                   DinolabTrainerStatus  status)
{
  g_autofree char *text = NULL;
  int n_done = self->study_arm + (status == DINOLAB_TRAINER_STATUS_FINISHED ? 1 : 0);

  if (status == DINOLAB_TRAINER_STATUS_FINISHED && !self->study_stopping && n_done < STUDY_N_ARMS)
    {
      /* From an idle: every ::finished handler (the window's too) sees this
       * run ended before the next one starts. */
      self->study_next_id = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, study_next_arm_cb,
                                             g_object_ref (self), g_object_unref);
      return TRUE;
    }
  if (status == DINOLAB_TRAINER_STATUS_FINISHED && n_done == STUDY_N_ARMS)
    text = g_strdup_printf (_("The collapse study has finished: compare its three runs in the "
                              "Runs view (search “%s”)"), STUDY_TAG);
  else if (status == DINOLAB_TRAINER_STATUS_FINISHED || status == DINOLAB_TRAINER_STATUS_STOPPED)
    text = g_strdup_printf (_("The collapse study was stopped after %d of %d runs; its runs "
                              "are tagged “%s” in the Runs view"), n_done, STUDY_N_ARMS, STUDY_TAG);
  dinolab_train_page_study_end (self);
  if (text == NULL)
    return FALSE;
  dinolab_train_page_toast (self, text);
  return TRUE;
}

/* train.collapse-study: the three runs of the paper's Fig. 7 ablation.
 *
 * The study trains with the form's current settings, as Start does, rather
 * than loading the "study-collapse" preset over them: what the researcher
 * sees (and may have changed: the dataset, the epochs, the threads) is what
 * the three runs use, and nothing they typed is thrown away. The study's own
 * configuration (the one `dinolab-cli study collapse` uses by default) is
 * one choice away in the form's preset list, and the button's tooltip says
 * so. Only use_centering and use_sharpening are the study's, one pair per
 * arm. */
static void
train_collapse_study (GtkWidget  *widget,
                      const char *action_name G_GNUC_UNUSED,
                      GVariant   *parameter G_GNUC_UNUSED)
{
  DinolabTrainPage *self = DINOLAB_TRAIN_PAGE (widget);
  g_autoptr(GDateTime) now = NULL;
  g_autoptr(GError) error = NULL;

  if (self->session == NULL || dinolab_session_get_active (self->session) || self->study_arm >= 0)
    return;
  dinolab_hparams_clear (&self->study_hp);
  dinolab_hparams_init (&self->study_hp);
  if (!dinolab_config_page_get_hparams (self->config_page, &self->study_hp))
    {
      dinolab_train_page_toast (self, _("Some settings are not valid: see the marked fields"));
      return;
    }
  now = g_date_time_new_now_local ();
  self->study_started = g_date_time_format (now, "%Y-%m-%d %H:%M:%S");
  self->study_stopping = FALSE;
  self->study_arm = 0;
  if (!dinolab_train_page_study_start_arm (self, &error))
    {
      dinolab_train_page_study_end (self);
      dinolab_train_page_toast (self, error->message);
    }
}

/* ---- loading a stored run -------------------------------------------------- */

typedef struct
{
  char                *db_path;
  char                *uuid;
  /* results */
  char                *hparams_json;
  DinolabMetricSeries *series[N_SERIES];
  GPtrArray           *markers;
} LoadJob;

static void
load_job_free (gpointer data)
{
  LoadJob *job = data;
  guint i;

  g_free (job->db_path);
  g_free (job->uuid);
  g_free (job->hparams_json);
  for (i = 0; i < N_SERIES; i++)
    dinolab_metric_series_free (job->series[i]);
  g_clear_pointer (&job->markers, g_ptr_array_unref);
  g_free (job);
}

static void
load_thread (GTask        *task,
             gpointer      source_object G_GNUC_UNUSED,
             gpointer      task_data,
             GCancellable *cancellable)
{
  LoadJob *job = task_data;
  g_autoptr(DinolabStore) store = NULL;
  g_autoptr(DinolabCheckpointInfo) ckpt = NULL;
  g_autoptr(GError) error = NULL;
  gint64 limit = G_MAXINT64;
  guint i;

  store = dinolab_store_open_full (job->db_path, DINOLAB_STORE_OPEN_READ_ONLY, &error);
  if (store == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* A resume starts again at its checkpoint's step and drops what came after
   * it, so show only the points before. */
  ckpt = dinolab_store_get_latest_checkpoint (store, job->uuid, &error);
  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (ckpt != NULL)
    limit = ckpt->step;
  job->hparams_json = dinolab_store_get_hparams_json (store, job->uuid, &error);
  if (job->hparams_json == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  for (i = 0; i < N_SERIES && !g_cancellable_is_cancelled (cancellable); i++)
    {
      DinolabMetricSeries *s = dinolab_store_read_series (store, job->uuid, series_metric[i], -1, &error);
      gsize n = 0;
      if (s == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      while (n < s->n && s->step[n] < limit)
        n++;
      s->n = n;
      job->series[i] = s;
    }
  job->markers = dinolab_store_list_markers (store, job->uuid, NULL);
  if (g_task_return_error_if_cancelled (task))
    return;
  g_task_return_boolean (task, TRUE);
}

static void
load_done (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data G_GNUC_UNUSED)
{
  DinolabTrainPage *self = DINOLAB_TRAIN_PAGE (object);
  LoadJob *job = g_task_get_task_data (G_TASK (result));
  g_auto(DinolabHparams) hp = { 0 };
  g_autoptr(GError) error = NULL;
  guint i;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        dinolab_train_page_toast (self, error->message);
      return;
    }
  dinolab_hparams_init (&hp);
  if (dinolab_hparams_load_json (&hp, job->hparams_json, -1, job->uuid, &error))
    dinolab_config_page_set_hparams (self->config_page, &hp);
  else
    g_clear_error (&error);

  dinolab_train_page_clear_plots (self, hp.out_dim);
  for (i = 0; i < N_SERIES; i++)
    {
      DinolabMetricSeries *s = job->series[i];
      g_autofree double *step = g_new (double, MAX (s->n, 1));
      gsize k;

      for (k = 0; k < s->n; k++)
        step[k] = s->step[k];
      dinolab_plot_series_append_many (self->series[i], step, s->epoch, s->wall, s->value, s->n);
    }
  for (i = 0; job->markers != NULL && i < job->markers->len; i++)
    {
      DinolabMarker *m = g_ptr_array_index (job->markers, i);
      DinolabMetricSeries *loss = job->series[SERIES_LOSS];
      gsize k = 0;

      if (g_strcmp0 (m->kind, "resume") == 0)
        continue;
      /* markers carry only a step: take epoch and wall from the loss curve */
      while (k + 1 < loss->n && loss->step[k + 1] <= m->step)
        k++;
      if (loss->n > 0 && m->step <= loss->step[loss->n - 1])
        dinolab_train_page_add_marker (self, m->step, loss->epoch[k], loss->wall[k], m->kind);
    }

  if (self->session == NULL)
    return;
  if (!dinolab_session_resume (self->session, job->uuid, &error))
    dinolab_train_page_toast (self, error->message);
}

/* ---- settings -------------------------------------------------------------- */

static gboolean
settings_has_key (GSettings  *settings,
                  const char *key)
{
  g_autoptr(GSettingsSchema) schema = NULL;

  g_object_get (settings, "settings-schema", &schema, NULL);
  return schema != NULL && g_settings_schema_has_key (schema, key);
}

/* Once in a window of the application: the form loads the "default-preset"
 * and the plots follow "plot-smoothing" and "plot-x-axis". */
static void
dinolab_train_page_bind_settings (DinolabTrainPage *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkApplication *app;
  GSettings *settings;
  DinolabPlot *plots[] = { self->entropy_plot, self->loss_plot, self->knn_plot,
                           self->schedule_plot };
  guint i;

  if (self->settings_bound || !GTK_IS_WINDOW (root))
    return;
  app = gtk_window_get_application (GTK_WINDOW (root));
  if (!DINOLAB_IS_APPLICATION (app))
    return;
  settings = dinolab_application_get_settings (DINOLAB_APPLICATION (app));
  if (settings == NULL)
    return;
  self->settings_bound = TRUE;

  /* The form opens on the preferred preset, unless something (a run, "new
   * run from these settings") has filled it already. */
  if (settings_has_key (settings, "default-preset") &&
      (self->session == NULL || !dinolab_session_get_active (self->session)) &&
      g_strcmp0 (dinolab_config_page_get_preset (self->config_page), "default") == 0)
    {
      g_autofree char *preset = g_settings_get_string (settings, "default-preset");
      g_autoptr(GError) error = NULL;

      if (g_strcmp0 (preset, "default") != 0 &&
          !dinolab_config_page_load_preset (self->config_page, preset, &error))
        g_warning ("default preset: %s", error->message);
    }

  for (i = 0; i < G_N_ELEMENTS (plots); i++)
    {
      if (settings_has_key (settings, "plot-smoothing"))
        g_settings_bind (settings, "plot-smoothing", plots[i], "smoothing", G_SETTINGS_BIND_GET);
      if (settings_has_key (settings, "plot-x-axis"))
        g_settings_bind (settings, "plot-x-axis", plots[i], "x-kind", G_SETTINGS_BIND_GET);
    }
}

/* ---- GObject and GtkWidget ------------------------------------------------- */

static void
dinolab_train_page_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (dinolab_train_page_parent_class)->map (widget);
  dinolab_train_page_bind_settings (DINOLAB_TRAIN_PAGE (widget));
}

static void
dinolab_train_page_dispose (GObject *object)
{
  DinolabTrainPage *self = DINOLAB_TRAIN_PAGE (object);
  guint i;

  g_cancellable_cancel (self->load_cancellable);
  g_clear_object (&self->load_cancellable);
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_object (&self->session);
  g_clear_handle_id (&self->study_next_id, g_source_remove);
  g_clear_pointer (&self->study_uuid, g_free);
  g_clear_pointer (&self->study_started, g_free);
  dinolab_hparams_clear (&self->study_hp);
  self->study_arm = -1;
  for (i = 0; i < N_SERIES; i++)
    g_clear_object (&self->series[i]);
  gtk_widget_dispose_template (GTK_WIDGET (object), DINOLAB_TYPE_TRAIN_PAGE);

  G_OBJECT_CLASS (dinolab_train_page_parent_class)->dispose (object);
}

static void
dinolab_train_page_class_init (DinolabTrainPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = dinolab_train_page_dispose;
  widget_class->map = dinolab_train_page_map;

  g_type_ensure (DINOLAB_TYPE_CONFIG_PAGE);
  g_type_ensure (DINOLAB_TYPE_PLOT);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/dinolab/Dinolab/dinolab-train-page.ui");
  gtk_widget_class_bind_template_child (widget_class, DinolabTrainPage, config_page);
  gtk_widget_class_bind_template_child (widget_class, DinolabTrainPage, status_label);
  gtk_widget_class_bind_template_child (widget_class, DinolabTrainPage, pause_button);
  gtk_widget_class_bind_template_child (widget_class, DinolabTrainPage, epoch_label);
  gtk_widget_class_bind_template_child (widget_class, DinolabTrainPage, step_label);
  gtk_widget_class_bind_template_child (widget_class, DinolabTrainPage, speed_label);
  gtk_widget_class_bind_template_child (widget_class, DinolabTrainPage, eta_label);
  gtk_widget_class_bind_template_child (widget_class, DinolabTrainPage, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, DinolabTrainPage, study_label);
  gtk_widget_class_bind_template_child (widget_class, DinolabTrainPage, entropy_plot);
  gtk_widget_class_bind_template_child (widget_class, DinolabTrainPage, loss_plot);
  gtk_widget_class_bind_template_child (widget_class, DinolabTrainPage, knn_plot);
  gtk_widget_class_bind_template_child (widget_class, DinolabTrainPage, schedule_plot);

  gtk_widget_class_install_action (widget_class, "train.start", NULL, train_start);
  gtk_widget_class_install_action (widget_class, "train.pause", NULL, train_pause);
  gtk_widget_class_install_action (widget_class, "train.stop", NULL, train_stop);
  gtk_widget_class_install_action (widget_class, "train.collapse-study", NULL, train_collapse_study);
}

static void
add_shortcut (GtkShortcutController *controller,
              const char            *accel,
              const char            *action)
{
  gtk_shortcut_controller_add_shortcut (controller,
                                        gtk_shortcut_new (gtk_shortcut_trigger_parse_string (accel),
                                                          gtk_named_action_new (action)));
}

static void
dinolab_train_page_init (DinolabTrainPage *self)
{
  static const char * const labels[N_SERIES] = {
    N_("teacher entropy h(P_t)"), N_("KL(P_t‖P_s)"), N_("loss"),
    N_("top-1"), N_("top-5"),
    N_("learning rate"), N_("weight decay"), N_("momentum"), N_("teacher temperature"),
  };
  GtkEventController *shortcuts;
  guint i;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->study_arm = -1;
  dinolab_hparams_init (&self->study_hp);

  for (i = 0; i < N_SERIES; i++)
    {
      self->series[i] = dinolab_plot_series_new (_(labels[i]));
      dinolab_plot_add_series (series_plot (self, i), self->series[i]);
    }
  dinolab_train_page_clear_plots (self, 0);

  /* Managed scope: the window handles them wherever the focus is. */
  shortcuts = gtk_shortcut_controller_new ();
  gtk_shortcut_controller_set_scope (GTK_SHORTCUT_CONTROLLER (shortcuts), GTK_SHORTCUT_SCOPE_MANAGED);
  add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts), "<Control>Return", "train.start");
  add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts), "<Control>p", "train.pause");
  add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts), "<Control>period", "train.stop");
  gtk_widget_add_controller (GTK_WIDGET (self), shortcuts);

  g_signal_connect_object (self->config_page, "notify::valid",
                           G_CALLBACK (dinolab_train_page_update), self, G_CONNECT_SWAPPED);
  dinolab_train_page_update (self);
}

/* ---- public API ------------------------------------------------------------ */

GtkWidget *
dinolab_train_page_new (void)
{
  return g_object_new (DINOLAB_TYPE_TRAIN_PAGE, NULL);
}

gboolean
dinolab_train_page_set_store (DinolabTrainPage *self,
                              DinolabStore     *store)
{
  g_return_val_if_fail (DINOLAB_IS_TRAIN_PAGE (self), FALSE);

  if (store == self->store && (store == NULL || self->session != NULL))
    return TRUE;
  if (self->session != NULL && dinolab_session_get_active (self->session))
    return FALSE;

  g_cancellable_cancel (self->load_cancellable);
  g_clear_object (&self->load_cancellable);
  if (self->session != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->session, self);
      g_object_set (self->config_page, "locked", FALSE, NULL);
    }
  g_clear_object (&self->session);
  self->store = store;
  if (store != NULL)
    {
      self->session = dinolab_session_new (store);
      g_signal_connect_swapped (self->session, "notify", G_CALLBACK (dinolab_train_page_update), self);
      g_signal_connect_swapped (self->session, "metrics", G_CALLBACK (on_session_metrics), self);
      g_signal_connect_swapped (self->session, "evaluation", G_CALLBACK (on_session_evaluation), self);
      g_signal_connect_swapped (self->session, "warning", G_CALLBACK (on_session_warning), self);
      g_signal_connect_swapped (self->session, "finished", G_CALLBACK (on_session_finished), self);
      g_signal_connect_swapped (self->session, "notify::run-uuid", G_CALLBACK (on_session_run_uuid), self);
      g_object_bind_property (self->session, "active", self->config_page, "locked",
                              G_BINDING_SYNC_CREATE);
    }
  dinolab_train_page_update (self);
  return TRUE;
}

DinolabSession *
dinolab_train_page_get_session (DinolabTrainPage *self)
{
  g_return_val_if_fail (DINOLAB_IS_TRAIN_PAGE (self), NULL);
  return self->session;
}

DinolabConfigPage *
dinolab_train_page_get_config_page (DinolabTrainPage *self)
{
  g_return_val_if_fail (DINOLAB_IS_TRAIN_PAGE (self), NULL);
  return self->config_page;
}

void
dinolab_train_page_resume_run (DinolabTrainPage *self,
                               const char       *uuid)
{
  g_autoptr(GTask) task = NULL;
  LoadJob *job;

  g_return_if_fail (DINOLAB_IS_TRAIN_PAGE (self));
  g_return_if_fail (uuid != NULL);

  if (self->session == NULL)
    {
      dinolab_train_page_toast (self, _("No run database is open"));
      return;
    }
  if (dinolab_session_get_active (self->session))
    {
      dinolab_train_page_toast (self, _("A run is already going: stop it first"));
      return;
    }
  g_cancellable_cancel (self->load_cancellable);
  g_clear_object (&self->load_cancellable);
  self->load_cancellable = g_cancellable_new ();

  job = g_new0 (LoadJob, 1);
  job->db_path = g_strdup (dinolab_store_get_path (self->store));
  job->uuid = g_strdup (uuid);
  task = g_task_new (self, self->load_cancellable, load_done, NULL);
  g_task_set_source_tag (task, dinolab_train_page_resume_run);
  g_task_set_task_data (task, job, load_job_free);
  g_task_run_in_thread (task, load_thread);
}

void
dinolab_train_page_set_hparams_json (DinolabTrainPage *self,
                                     const char       *json)
{
  g_auto(DinolabHparams) hp = { 0 };
  g_autoptr(GError) error = NULL;

  g_return_if_fail (DINOLAB_IS_TRAIN_PAGE (self));
  g_return_if_fail (json != NULL);

  dinolab_hparams_init (&hp);
  if (!dinolab_hparams_load_json (&hp, json, -1, _("the run's settings"), &error))
    {
      dinolab_train_page_toast (self, error->message);
      return;
    }
  dinolab_config_page_set_hparams (self->config_page, &hp);
}
