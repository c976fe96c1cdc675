/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-session.h: DinolabSession, the GObject bridge between the main
 * thread and one DinolabTrainer (a training run on its own thread). The
 * trainer's observer copies each event into a queue; at most ~30 times a
 * second the main loop drains the queue and the session turns the events
 * into property notifies and signals. Widgets connect to those and never see
 * the trainer's thread. A session runs at most one run at a time; it can
 * start another once the previous one has finished. It is not a widget and
 * stores nothing itself (the trainer writes to the run store).
 *
 * Properties (read-only, notify on the main thread):
 *   status             int, a DinolabTrainerStatus (NEW before the first run)
 *   run-uuid           string, the run's uuid once it exists in the store, or NULL
 *   step               int64, the global iteration of the last step seen (-1: none)
 *   total-steps        int64, epochs x steps per epoch (0 until the loader exists)
 *   epoch              int, 0-based epoch of the last step seen
 *   epochs             int, the run's number of epochs
 *   images-per-second  double, images (not crops) per second, averaged over the
 *                      steps of the last drain
 *   eta-seconds        double, estimated training time left (-1: unknown)
 *   active             boolean, a run is going (started and not yet joined)
 *
 * Signals (all on the main thread):
 *   metrics     (GPtrArray *events): a batch of STEP events (DinolabTrainerEvent *,
 *               in step order), borrowed for the emission only
 *   evaluation  (gpointer event): one EVAL event (const DinolabTrainerEvent *)
 *   warning     (int mode, const char *message, gint64 step, double epoch,
 *               double wall): a DinolabTrainerWarning (collapse one-hot/uniform,
 *               skipped images, ...) and its message
 *   checkpoint  (const char *path, gint64 step): a checkpoint file was written
 *   finished    (int status, const char *message): the run has ended and its
 *               thread is joined; @status is the final DinolabTrainerStatus,
 *               @message the engine's error message (FAILED, DIVERGED) or NULL
 */
#pragma once

#include <glib-object.h>

#include "dinolab/hparams.h"
#include "dinolab/store.h"
#include "dinolab/trainer.h"

#include "dinolab-types.h"

G_BEGIN_DECLS

#define DINOLAB_TYPE_SESSION (dinolab_session_get_type ())

G_DECLARE_FINAL_TYPE (DinolabSession, dinolab_session, DINOLAB, SESSION, GObject)

/* dinolab_session_new:
 * A session that trains into @store (borrowed: it must outlive the session,
 * or at least its runs). Returns a new reference. */
DinolabSession      *dinolab_session_new            (DinolabStore         *store);

/* dinolab_session_start:
 * Starts a new run with @hp (copied; validated by the engine) named @name
 * (NULL: the store's default). Returns FALSE with @error set (the engine's
 * message: invalid hyperparameters, a run already going) and nothing
 * started. The status becomes RUNNING at once; set-up errors of the run
 * (unreadable dataset, ...) arrive later through ::finished. */
gboolean             dinolab_session_start          (DinolabSession       *self,
                                                     const DinolabHparams *hp,
                                                     const char           *name,
                                                     GError              **error);

/* dinolab_session_resume:
 * Continues the stored run @run (uuid, prefix or name) from its newest
 * checkpoint. Errors as dinolab_trainer_new_resume(). */
gboolean             dinolab_session_resume         (DinolabSession       *self,
                                                     const char           *run,
                                                     GError              **error);

/* Pauses at the next step boundary / goes on. No-op without a run. */
void                 dinolab_session_set_paused     (DinolabSession       *self,
                                                     gboolean              paused);
/* Asks the run to stop: it finishes the step, writes a checkpoint and ends
 * with status STOPPED (::finished follows). Returns at once. No-op without
 * a run. */
void                 dinolab_session_stop           (DinolabSession       *self);

DinolabTrainerStatus dinolab_session_get_status     (DinolabSession       *self);
/* Owned by the session; NULL before the run exists in the store. */
const char          *dinolab_session_get_run_uuid   (DinolabSession       *self);
gint64               dinolab_session_get_step       (DinolabSession       *self);
gint64               dinolab_session_get_total_steps (DinolabSession      *self);
int                  dinolab_session_get_epoch      (DinolabSession       *self);
int                  dinolab_session_get_epochs     (DinolabSession       *self);
double               dinolab_session_get_images_per_second (DinolabSession *self);
double               dinolab_session_get_eta_seconds (DinolabSession      *self);
/* TRUE from a successful start/resume until ::finished has been emitted. */
gboolean             dinolab_session_get_active     (DinolabSession       *self);
/* The hyperparameters of the current (or last) run, owned by the session,
 * or NULL before the first run. */
const DinolabHparams *dinolab_session_get_hparams   (DinolabSession       *self);

G_END_DECLS
