/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-window.h: the main window (an AdwApplicationWindow built from the
 * template ui/dinolab-window.ui): the Train, Attention and Runs views in a
 * view stack with a view switcher, toasts, and the win.* actions:
 *   win.show-view  (s) "train", "attention" or "runs"; Alt+1, Alt+2, Alt+3
 *   win.show-toast (s) shows the message as a toast; other widgets call
 *                  gtk_widget_activate_action (w, "win.show-toast", "s", msg)
 * It restores its size, maximized state and last view from the
 * application's settings and saves them when closed; closing it while a run
 * trains stops the run first (checkpoint) and closes once it has ended. It
 * follows the application's run store ("store" property). It does not own
 * the app-wide actions: see dinolab-application.h.
 */
#pragma once

#include <adwaita.h>

#include "dinolab-types.h"

G_BEGIN_DECLS

#define DINOLAB_TYPE_WINDOW (dinolab_window_get_type ())

G_DECLARE_FINAL_TYPE (DinolabWindow, dinolab_window,
                      DINOLAB, WINDOW, AdwApplicationWindow)

/* dinolab_window_new:
 * Creates a main window for @application (not yet shown; call
 * gtk_window_present()). The window belongs to GTK's list of toplevels and
 * to @application; the caller owns no reference. */
DinolabWindow    *dinolab_window_new            (DinolabApplication *application);

/* dinolab_window_get_train_page:
 * The Train view (owned by the window). */
DinolabTrainPage *dinolab_window_get_train_page (DinolabWindow      *self);

/* dinolab_window_is_training:
 * Whether the window's Train view has a run going (started, not yet ended). */
gboolean          dinolab_window_is_training    (DinolabWindow      *self);

/* dinolab_window_show_toast:
 * Shows @message (copied) as a toast for 5 seconds; what win.show-toast does. */
void              dinolab_window_show_toast     (DinolabWindow      *self,
                                                 const char         *message);

G_END_DECLS
