/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-preferences-window.h: the preferences window (an
 * AdwPreferencesWindow built from ui/dinolab-preferences-window.ui). It edits
 * the settings "default-preset", "plot-smoothing" and "plot-x-axis" through
 * g_settings_bind (every change is written at once), and shows, read-only,
 * the path of the run store in use. It is not where the store is opened or
 * the plots are redrawn: the owners of those listen to GSettings.
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define DINOLAB_TYPE_PREFERENCES_WINDOW (dinolab_preferences_window_get_type ())

G_DECLARE_FINAL_TYPE (DinolabPreferencesWindow, dinolab_preferences_window,
                      DINOLAB, PREFERENCES_WINDOW, AdwPreferencesWindow)

/* dinolab_preferences_window_new:
 * Creates the preferences window, modal and transient for @parent (may be
 * NULL), editing @settings (schema org.dinolab.Dinolab; the window keeps a
 * reference). Not yet shown: call gtk_window_present(). Like every toplevel it
 * belongs to GTK's list of toplevels; the caller owns no reference.
 * Property "store-path" (string, read-write, NULL: "none"): the run store's
 * path the caller wants shown. Property "settings" (construct-only). */
GtkWindow  *dinolab_preferences_window_new            (GtkWindow                *parent,
                                                       GSettings                *settings);

/* dinolab_preferences_window_set_store_path / _get_store_path:
 * The "store-path" property. @path is copied; the getter's string is owned by
 * the window. */
void        dinolab_preferences_window_set_store_path (DinolabPreferencesWindow *self,
                                                       const char               *path);
const char *dinolab_preferences_window_get_store_path (DinolabPreferencesWindow *self);

G_END_DECLS
