/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-train-page.h: the Train view (template ui/dinolab-train-page.ui).
 * On the left the hyperparameter form (DinolabConfigPage); on the right
 * Start / Pause / Stop (the actions train.start Ctrl+Return, train.pause
 * Ctrl+P, train.stop Ctrl+period), the progress of the run (epoch, step,
 * images/s, ETA, a progress bar) and four live plots fed by a
 * DinolabSession: teacher entropy and KL with ln K, loss, k-NN accuracy and
 * the schedules. A collapse warning or a divergence shows as a toast
 * (win.show-toast) and a marker on the plots. Collapse Study
 * (train.collapse-study) trains the paper's Fig. 7 ablation as
 * `dinolab-cli study collapse` does: three runs with the form's settings,
 * one after another (both switches, centering only, sharpening only), named
 * "collapse: ..." and tagged "study:collapse"; Stop ends the study, and a
 * toast points to the Runs view at the end. It is not the trainer (see
 * dinolab-session.h) nor the form (dinolab-config-page.h).
 */
#pragma once

#include <adwaita.h>

#include "dinolab/store.h"

#include "dinolab-types.h"

G_BEGIN_DECLS

#define DINOLAB_TYPE_TRAIN_PAGE (dinolab_train_page_get_type ())

G_DECLARE_FINAL_TYPE (DinolabTrainPage, dinolab_train_page, DINOLAB, TRAIN_PAGE, AdwBin)

/* dinolab_train_page_new:
 * An empty Train view without a store (Start stays disabled until
 * dinolab_train_page_set_store()). Returns a floating widget. */
GtkWidget         *dinolab_train_page_new              (void);

/* dinolab_train_page_set_store:
 * Trains into @store (borrowed; NULL: none) from now on. Refused (returns
 * FALSE, nothing changes) while a run is going: stop it first. The window
 * calls it when the application's store changes. */
gboolean           dinolab_train_page_set_store        (DinolabTrainPage *self,
                                                        DinolabStore     *store);

/* dinolab_train_page_get_session:
 * The session that runs this view's trainings, or NULL without a store.
 * Owned by the page (replaced when the store changes). */
DinolabSession    *dinolab_train_page_get_session      (DinolabTrainPage *self);

/* dinolab_train_page_get_config_page:
 * The form on the left. Owned by the page. */
DinolabConfigPage *dinolab_train_page_get_config_page  (DinolabTrainPage *self);

/* dinolab_train_page_resume_run:
 * Loads the stored curves of run @uuid (up to its newest checkpoint) and its
 * hyperparameters on a worker thread (GTask), shows them, then resumes the
 * run live. Errors (unknown run, no checkpoint, a run already going) show as
 * a toast with the engine's message. */
void               dinolab_train_page_resume_run       (DinolabTrainPage *self,
                                                        const char       *uuid);

/* dinolab_train_page_set_hparams_json:
 * "New run from these settings": fills the form from @json (a run's
 * hyperparameter object, as dinolab_store_get_hparams_json() returns it).
 * A JSON the engine refuses shows as a toast and leaves the form alone. */
void               dinolab_train_page_set_hparams_json (DinolabTrainPage *self,
                                                        const char       *json);

G_END_DECLS
