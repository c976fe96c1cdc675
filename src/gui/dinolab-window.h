/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-window.h: the main window (an AdwApplicationWindow built from the
 * template ui/dinolab-window.ui). It restores its size from the application's
 * settings when created and saves it when closed. It does not own the
 * app-wide actions: see dinolab-application.h.
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
DinolabWindow *dinolab_window_new (DinolabApplication *application);

G_END_DECLS
