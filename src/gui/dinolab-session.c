/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-session.c: the bridge from a DinolabTrainer's thread to the main
 * loop (STYLE.md section 3 item 8). The trainer's observer runs on the run's
 * thread: it appends a deep copy of each event to a mutex-guarded array and,
 * when no drain is pending (an atomic flag), queues one 33 ms timeout on the
 * main context. That drain swaps the array out, drops it if the session has
 * moved on to another run (each run has its own Bridge), and emits one
 * "metrics" signal per drain with every STEP event of the batch (so the plots
 * redraw at most ~30 times a second however fast the steps are), plus the
 * other signals and the property notifies. The terminal STATUS event starts a
 * GTask that joins (and frees) the trainer on a worker thread, so the window
 * never waits for the run's last checkpoint; ::finished comes from its
 * callback. This file does not draw or touch any widget.
 */
#define G_LOG_DOMAIN "dinolab-session"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>
#include <gio/gio.h>

#include "dinolab/error.h"

#include "dinolab-session.h"

/* The drain's delay: at most ~30 drains a second. */
#define DRAIN_INTERVAL_MS 33

/* What the observer (trainer thread) and the drain (main thread) share. One
 * per run, reference counted (g_atomic_rc_box): the trainer holds one
 * reference through its observer, each queued drain another. */
typedef struct
{
  GMutex     mutex;
  GPtrArray *queue;    /* DinolabTrainerEvent *, under mutex */
  gint       pending;  /* atomic: a drain is queued */
  GWeakRef   session;
} Bridge;

struct _DinolabSession
{
  GObject               parent_instance;

  DinolabStore         *store;           /* borrowed */
  DinolabTrainer       *trainer;         /* until its join task takes it */
  Bridge               *bridge;          /* the current run's */
  DinolabHparams        hp;
  gboolean              has_hp;

  DinolabTrainerStatus  status;
  char                 *run_uuid;
  gint64                step;
  gint64                total_steps;
  int                   epoch;
  int                   epochs;
  double                images_per_second;
  double                eta_seconds;
  gboolean              active;
  char                 *error_message;   /* of the ERROR event, until ::finished */

  /* for the ETA: seconds of training per step, an EMA over drains */
  double                last_wall;
  gint64                last_wall_step;
  double                seconds_per_step;
};

G_DEFINE_FINAL_TYPE (DinolabSession, dinolab_session, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_STATUS,
  PROP_RUN_UUID,
  PROP_STEP,
  PROP_TOTAL_STEPS,
  PROP_EPOCH,
  PROP_EPOCHS,
  PROP_IMAGES_PER_SECOND,
  PROP_ETA_SECONDS,
  PROP_ACTIVE,
  N_PROPS
};

enum
{
  SIGNAL_METRICS,
  SIGNAL_EVALUATION,
  SIGNAL_WARNING,
  SIGNAL_CHECKPOINT,
  SIGNAL_FINISHED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* ---- the bridge ------------------------------------------------------------ */

static Bridge *
bridge_new (DinolabSession *session)
{
  Bridge *bridge = g_atomic_rc_box_new0 (Bridge);

  g_mutex_init (&bridge->mutex);
  bridge->queue = g_ptr_array_new_with_free_func ((GDestroyNotify) dinolab_trainer_event_free);
  g_weak_ref_init (&bridge->session, session);
  return bridge;
}

static void
bridge_clear (gpointer data)
{
  Bridge *bridge = data;

  g_mutex_clear (&bridge->mutex);
  g_ptr_array_unref (bridge->queue);
  g_weak_ref_clear (&bridge->session);
}

static void
bridge_unref (gpointer data)
{
  g_atomic_rc_box_release_full (data, bridge_clear);
}

static gboolean dinolab_session_drain (gpointer data);

/* The trainer's observer: runs on the trainer's thread and must not block. */
static void
dinolab_session_observer (const DinolabTrainerEvent *event,
                          gpointer                   user_data)
{
  Bridge *bridge = user_data;

  g_mutex_lock (&bridge->mutex);
  g_ptr_array_add (bridge->queue, dinolab_trainer_event_copy (event));
  g_mutex_unlock (&bridge->mutex);

  if (g_atomic_int_compare_and_exchange (&bridge->pending, 0, 1))
    g_timeout_add_full (G_PRIORITY_DEFAULT, DRAIN_INTERVAL_MS, dinolab_session_drain,
                        g_atomic_rc_box_acquire (bridge), bridge_unref);
}

/* ---- joining the run ------------------------------------------------------- */

typedef struct
{
  DinolabTrainerStatus status;
  char                *message;
} JoinResult;

static void
join_result_free (gpointer data)
{
  JoinResult *result = data;

  g_free (result->message);
  g_free (result);
}

static void
join_thread (GTask        *task,
             gpointer      source_object G_GNUC_UNUSED,
             gpointer      task_data,
             GCancellable *cancellable G_GNUC_UNUSED)
{
  DinolabTrainer *trainer = task_data;
  g_autoptr(GError) error = NULL;
  JoinResult *result = g_new0 (JoinResult, 1);

  result->status = dinolab_trainer_join (trainer, &error);
  if (error != NULL)
    result->message = g_strdup (error->message);
  g_task_return_pointer (task, result, join_result_free);
}

static void
dinolab_session_set_active (DinolabSession *self,
                            gboolean        active)
{
  if (self->active == active)
    return;
  self->active = active;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE]);
}

static void
dinolab_session_set_status (DinolabSession       *self,
                            DinolabTrainerStatus  status)
{
  if (self->status == status)
    return;
  self->status = status;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

static void
join_done (GObject      *object,
           GAsyncResult *res,
           gpointer      user_data G_GNUC_UNUSED)
{
  DinolabSession *self = DINOLAB_SESSION (object);
  JoinResult *result = g_task_propagate_pointer (G_TASK (res), NULL);
  g_autofree char *message = NULL;

  g_assert (result != NULL);
  message = g_steal_pointer (&result->message);
  if (message == NULL)
    message = g_steal_pointer (&self->error_message);
  g_clear_pointer (&self->error_message, g_free);

  g_object_freeze_notify (G_OBJECT (self));
  dinolab_session_set_status (self, result->status);
  if (self->eta_seconds != -1)
    {
      self->eta_seconds = -1;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ETA_SECONDS]);
    }
  dinolab_session_set_active (self, FALSE);
  g_object_thaw_notify (G_OBJECT (self));

  g_signal_emit (self, signals[SIGNAL_FINISHED], 0, (int) result->status, message);
  join_result_free (result);
}

/* Hands the trainer to a worker that joins and frees it. */
static void
dinolab_session_join_async (DinolabSession *self)
{
  g_autoptr(GTask) task = NULL;

  if (self->trainer == NULL)
    return;
  task = g_task_new (self, NULL, join_done, NULL);
  g_task_set_source_tag (task, dinolab_session_join_async);
  g_task_set_task_data (task, g_steal_pointer (&self->trainer),
                        (GDestroyNotify) dinolab_trainer_free);
  g_task_run_in_thread (task, join_thread);
}

/* ---- the drain (main thread) ----------------------------------------------- */

static gboolean
status_is_terminal (DinolabTrainerStatus status)
{
  return status == DINOLAB_TRAINER_STATUS_FINISHED
      || status == DINOLAB_TRAINER_STATUS_STOPPED
      || status == DINOLAB_TRAINER_STATUS_DIVERGED
      || status == DINOLAB_TRAINER_STATUS_FAILED;
}

static void
dinolab_session_take_progress (DinolabSession            *self,
                               const DinolabTrainerEvent *ev)
{
  if (ev->run_uuid != NULL && g_strcmp0 (ev->run_uuid, self->run_uuid) != 0)
    {
      g_free (self->run_uuid);
      self->run_uuid = g_strdup (ev->run_uuid);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUN_UUID]);
    }
  if (ev->epochs > 0 && ev->epochs != self->epochs)
    {
      self->epochs = ev->epochs;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EPOCHS]);
    }
  if (ev->steps_per_epoch > 0
      && (gint64) ev->steps_per_epoch * ev->epochs != self->total_steps)
    {
      self->total_steps = (gint64) ev->steps_per_epoch * ev->epochs;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOTAL_STEPS]);
    }
}

/* Folds a batch of STEP events into step, epoch, images/s and the ETA. */
static void
dinolab_session_take_steps (DinolabSession *self,
                            GPtrArray      *steps)
{
  const DinolabTrainerEvent *last = g_ptr_array_index (steps, steps->len - 1);
  double ips = 0;
  guint i;

  for (i = 0; i < steps->len; i++)
    ips += ((const DinolabTrainerEvent *) g_ptr_array_index (steps, i))->images_per_second;
  ips /= steps->len;

  if (self->last_wall_step >= 0 && last->step > self->last_wall_step
      && last->wall > self->last_wall)
    {
      double sps = (last->wall - self->last_wall) / (double) (last->step - self->last_wall_step);
      self->seconds_per_step = self->seconds_per_step > 0
                               ? 0.8 * self->seconds_per_step + 0.2 * sps : sps;
    }
  self->last_wall = last->wall;
  self->last_wall_step = last->step;

  self->step = last->step;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STEP]);
  if (self->epoch != last->epoch)
    {
      self->epoch = last->epoch;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EPOCH]);
    }
  self->images_per_second = ips;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IMAGES_PER_SECOND]);
  if (self->seconds_per_step > 0 && self->total_steps > 0)
    self->eta_seconds = MAX (0, self->total_steps - self->step - 1) * self->seconds_per_step;
  else
    self->eta_seconds = -1;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ETA_SECONDS]);
}

static gboolean
dinolab_session_drain (gpointer data)
{
  Bridge *bridge = data;
  g_autoptr(DinolabSession) self = g_weak_ref_get (&bridge->session);
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(GPtrArray) steps = NULL;
  gboolean terminal = FALSE;
  guint i;

  /* Clear the flag before taking the queue: an event that comes after the
   * swap then queues a drain of its own. */
  g_mutex_lock (&bridge->mutex);
  g_atomic_int_set (&bridge->pending, 0);
  events = g_steal_pointer (&bridge->queue);
  bridge->queue = g_ptr_array_new_with_free_func ((GDestroyNotify) dinolab_trainer_event_free);
  g_mutex_unlock (&bridge->mutex);

  /* A session that is gone or has moved on to another run drops the batch. */
  if (self == NULL || self->bridge != bridge || events->len == 0)
    return G_SOURCE_REMOVE;

  steps = g_ptr_array_new ();
  g_object_freeze_notify (G_OBJECT (self));
  for (i = 0; i < events->len; i++)
    {
      const DinolabTrainerEvent *ev = g_ptr_array_index (events, i);

      dinolab_session_take_progress (self, ev);
      switch (ev->kind)
        {
        case DINOLAB_TRAINER_EVENT_STATUS:
          dinolab_session_set_status (self, ev->status);
          if (status_is_terminal (ev->status))
            terminal = TRUE;
          break;
        case DINOLAB_TRAINER_EVENT_STEP:
          g_ptr_array_add (steps, (gpointer) ev);
          break;
        case DINOLAB_TRAINER_EVENT_EVAL:
          /* points of the steps before it first, so a plot sees them in order */
          if (steps->len > 0)
            {
              dinolab_session_take_steps (self, steps);
              g_signal_emit (self, signals[SIGNAL_METRICS], 0, steps);
              g_ptr_array_set_size (steps, 0);
            }
          g_signal_emit (self, signals[SIGNAL_EVALUATION], 0, ev);
          break;
        case DINOLAB_TRAINER_EVENT_CHECKPOINT:
          g_signal_emit (self, signals[SIGNAL_CHECKPOINT], 0, ev->path, ev->step);
          break;
        case DINOLAB_TRAINER_EVENT_WARNING:
          if (steps->len > 0)
            {
              dinolab_session_take_steps (self, steps);
              g_signal_emit (self, signals[SIGNAL_METRICS], 0, steps);
              g_ptr_array_set_size (steps, 0);
            }
          g_signal_emit (self, signals[SIGNAL_WARNING], 0, (int) ev->warning, ev->message,
                         ev->step, (double) ev->epoch, ev->wall);
          break;
        case DINOLAB_TRAINER_EVENT_ERROR:
          g_free (self->error_message);
          self->error_message = g_strdup (ev->message);
          break;
        default:
          break;
        }
    }
  if (steps->len > 0)
    {
      dinolab_session_take_steps (self, steps);
      g_signal_emit (self, signals[SIGNAL_METRICS], 0, steps);
    }
  g_object_thaw_notify (G_OBJECT (self));

  if (terminal)
    dinolab_session_join_async (self);

  return G_SOURCE_REMOVE;
}

/* ---- starting a run -------------------------------------------------------- */

static void
dinolab_session_reset_progress (DinolabSession *self)
{
  g_object_freeze_notify (G_OBJECT (self));
  g_clear_pointer (&self->run_uuid, g_free);
  g_clear_pointer (&self->error_message, g_free);
  self->step = -1;
  self->total_steps = 0;
  self->epoch = 0;
  self->epochs = self->has_hp ? self->hp.epochs : 0;
  self->images_per_second = 0;
  self->eta_seconds = -1;
  self->last_wall = 0;
  self->last_wall_step = -1;
  self->seconds_per_step = 0;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUN_UUID]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STEP]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOTAL_STEPS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EPOCH]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EPOCHS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IMAGES_PER_SECOND]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ETA_SECONDS]);
  g_object_thaw_notify (G_OBJECT (self));
}

/* Takes @trainer (created, not started), wires the observer and starts it. */
static gboolean
dinolab_session_launch (DinolabSession  *self,
                        DinolabTrainer  *trainer,
                        GError         **error)
{
  Bridge *bridge = bridge_new (self);
  char *uuid;

  dinolab_trainer_set_observer (trainer, dinolab_session_observer,
                                g_atomic_rc_box_acquire (bridge), bridge_unref);
  if (!dinolab_trainer_start (trainer, error))
    {
      dinolab_trainer_free (trainer);
      bridge_unref (bridge);
      return FALSE;
    }

  if (self->bridge != NULL)
    bridge_unref (self->bridge);
  self->bridge = bridge;
  self->trainer = trainer;

  if (self->has_hp)
    dinolab_hparams_clear (&self->hp);
  dinolab_hparams_init (&self->hp);
  dinolab_hparams_copy (&self->hp, dinolab_trainer_get_hparams (trainer));
  self->has_hp = TRUE;

  dinolab_session_reset_progress (self);
  uuid = dinolab_trainer_dup_run_uuid (trainer);
  if (uuid != NULL)
    {
      self->run_uuid = uuid;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUN_UUID]);
    }
  dinolab_session_set_status (self, DINOLAB_TRAINER_STATUS_RUNNING);
  dinolab_session_set_active (self, TRUE);
  return TRUE;
}

static gboolean
dinolab_session_check_idle (DinolabSession  *self,
                            GError         **error)
{
  if (self->active)
    {
      g_set_error_literal (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                           _("A run is already going: stop it first"));
      return FALSE;
    }
  return TRUE;
}

/* ---- GObject --------------------------------------------------------------- */

static void
dinolab_session_dispose (GObject *object)
{
  DinolabSession *self = DINOLAB_SESSION (object);

  /* Stops the run (with its checkpoint) and waits for it: only reached when
   * the last reference goes while a run is still going. */
  g_clear_pointer (&self->trainer, dinolab_trainer_free);
  g_clear_pointer (&self->bridge, bridge_unref);

  G_OBJECT_CLASS (dinolab_session_parent_class)->dispose (object);
}

static void
dinolab_session_finalize (GObject *object)
{
  DinolabSession *self = DINOLAB_SESSION (object);

  if (self->has_hp)
    dinolab_hparams_clear (&self->hp);
  g_free (self->run_uuid);
  g_free (self->error_message);

  G_OBJECT_CLASS (dinolab_session_parent_class)->finalize (object);
}

static void
dinolab_session_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  DinolabSession *self = DINOLAB_SESSION (object);

  switch (prop_id)
    {
    case PROP_STATUS:
      g_value_set_int (value, self->status);
      break;
    case PROP_RUN_UUID:
      g_value_set_string (value, self->run_uuid);
      break;
    case PROP_STEP:
      g_value_set_int64 (value, self->step);
      break;
    case PROP_TOTAL_STEPS:
      g_value_set_int64 (value, self->total_steps);
      break;
    case PROP_EPOCH:
      g_value_set_int (value, self->epoch);
      break;
    case PROP_EPOCHS:
      g_value_set_int (value, self->epochs);
      break;
    case PROP_IMAGES_PER_SECOND:
      g_value_set_double (value, self->images_per_second);
      break;
    case PROP_ETA_SECONDS:
      g_value_set_double (value, self->eta_seconds);
      break;
    case PROP_ACTIVE:
      g_value_set_boolean (value, self->active);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dinolab_session_class_init (DinolabSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = dinolab_session_dispose;
  object_class->finalize = dinolab_session_finalize;
  object_class->get_property = dinolab_session_get_property;

  properties[PROP_STATUS] =
    g_param_spec_int ("status", NULL, NULL, DINOLAB_TRAINER_STATUS_NEW,
                      DINOLAB_TRAINER_STATUS_FAILED, DINOLAB_TRAINER_STATUS_NEW, flags);
  properties[PROP_RUN_UUID] = g_param_spec_string ("run-uuid", NULL, NULL, NULL, flags);
  properties[PROP_STEP] = g_param_spec_int64 ("step", NULL, NULL, -1, G_MAXINT64, -1, flags);
  properties[PROP_TOTAL_STEPS] =
    g_param_spec_int64 ("total-steps", NULL, NULL, 0, G_MAXINT64, 0, flags);
  properties[PROP_EPOCH] = g_param_spec_int ("epoch", NULL, NULL, 0, G_MAXINT, 0, flags);
  properties[PROP_EPOCHS] = g_param_spec_int ("epochs", NULL, NULL, 0, G_MAXINT, 0, flags);
  properties[PROP_IMAGES_PER_SECOND] =
    g_param_spec_double ("images-per-second", NULL, NULL, 0, G_MAXDOUBLE, 0, flags);
  properties[PROP_ETA_SECONDS] =
    g_param_spec_double ("eta-seconds", NULL, NULL, -1, G_MAXDOUBLE, -1, flags);
  properties[PROP_ACTIVE] = g_param_spec_boolean ("active", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_METRICS] =
    g_signal_new ("metrics", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_PTR_ARRAY);
  signals[SIGNAL_EVALUATION] =
    g_signal_new ("evaluation", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_WARNING] =
    g_signal_new ("warning", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 5,
                  G_TYPE_INT, G_TYPE_STRING, G_TYPE_INT64, G_TYPE_DOUBLE, G_TYPE_DOUBLE);
  signals[SIGNAL_CHECKPOINT] =
    g_signal_new ("checkpoint", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_INT64);
  signals[SIGNAL_FINISHED] =
    g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);
}

static void
dinolab_session_init (DinolabSession *self)
{
  self->status = DINOLAB_TRAINER_STATUS_NEW;
  self->step = -1;
  self->eta_seconds = -1;
  self->last_wall_step = -1;
}

/* ---- public API ------------------------------------------------------------ */

DinolabSession *
dinolab_session_new (DinolabStore *store)
{
  DinolabSession *self;

  g_return_val_if_fail (store != NULL, NULL);

  self = g_object_new (DINOLAB_TYPE_SESSION, NULL);
  self->store = store;
  return self;
}

gboolean
dinolab_session_start (DinolabSession        *self,
                       const DinolabHparams  *hp,
                       const char            *name,
                       GError               **error)
{
  DinolabTrainerOptions opts;
  DinolabTrainer *trainer;

  g_return_val_if_fail (DINOLAB_IS_SESSION (self), FALSE);
  g_return_val_if_fail (hp != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!dinolab_session_check_idle (self, error))
    return FALSE;
  dinolab_trainer_options_init (&opts);
  opts.name = name;
  trainer = dinolab_trainer_new (self->store, hp, &opts, error);
  if (trainer == NULL)
    return FALSE;
  return dinolab_session_launch (self, trainer, error);
}

gboolean
dinolab_session_resume (DinolabSession  *self,
                        const char      *run,
                        GError         **error)
{
  DinolabTrainer *trainer;

  g_return_val_if_fail (DINOLAB_IS_SESSION (self), FALSE);
  g_return_val_if_fail (run != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!dinolab_session_check_idle (self, error))
    return FALSE;
  trainer = dinolab_trainer_new_resume (self->store, run, NULL, NULL, error);
  if (trainer == NULL)
    return FALSE;
  return dinolab_session_launch (self, trainer, error);
}

void
dinolab_session_set_paused (DinolabSession *self,
                            gboolean        paused)
{
  g_return_if_fail (DINOLAB_IS_SESSION (self));

  if (self->trainer != NULL)
    dinolab_trainer_set_paused (self->trainer, paused);
}

void
dinolab_session_stop (DinolabSession *self)
{
  g_return_if_fail (DINOLAB_IS_SESSION (self));

  if (self->trainer != NULL)
    dinolab_trainer_stop (self->trainer);
}

DinolabTrainerStatus
dinolab_session_get_status (DinolabSession *self)
{
  g_return_val_if_fail (DINOLAB_IS_SESSION (self), DINOLAB_TRAINER_STATUS_NEW);
  return self->status;
}

const char *
dinolab_session_get_run_uuid (DinolabSession *self)
{
  g_return_val_if_fail (DINOLAB_IS_SESSION (self), NULL);
  return self->run_uuid;
}

gint64
dinolab_session_get_step (DinolabSession *self)
{
  g_return_val_if_fail (DINOLAB_IS_SESSION (self), -1);
  return self->step;
}

gint64
dinolab_session_get_total_steps (DinolabSession *self)
{
  g_return_val_if_fail (DINOLAB_IS_SESSION (self), 0);
  return self->total_steps;
}

int
dinolab_session_get_epoch (DinolabSession *self)
{
  g_return_val_if_fail (DINOLAB_IS_SESSION (self), 0);
  return self->epoch;
}

int
dinolab_session_get_epochs (DinolabSession *self)
{
  g_return_val_if_fail (DINOLAB_IS_SESSION (self), 0);
  return self->epochs;
}

double
dinolab_session_get_images_per_second (DinolabSession *self)
{
  g_return_val_if_fail (DINOLAB_IS_SESSION (self), 0);
  return self->images_per_second;
}

double
dinolab_session_get_eta_seconds (DinolabSession *self)
{
  g_return_val_if_fail (DINOLAB_IS_SESSION (self), -1);
  return self->eta_seconds;
}

gboolean
dinolab_session_get_active (DinolabSession *self)
{
  g_return_val_if_fail (DINOLAB_IS_SESSION (self), FALSE);
  return self->active;
}

const DinolabHparams *
dinolab_session_get_hparams (DinolabSession *self)
{
  g_return_val_if_fail (DINOLAB_IS_SESSION (self), NULL);
  return self->has_hp ? &self->hp : NULL;
}
