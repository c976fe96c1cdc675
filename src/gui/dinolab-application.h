/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-application.h: the Dinolab GTK application (an AdwApplication).
 * It owns the app-wide actions (app.open-database, app.preferences Ctrl+,,
 * app.about, app.quit Ctrl+Q), the GSettings that windows read and write and
 * the run store (opened at startup from the "last-db" setting, else
 * dinolab_store_default_path()); it opens the main window on activation. It
 * is not the window: see dinolab-window.h.
 *
 * Properties (read-only): "store" (pointer, a DinolabStore or NULL; notified
 * when another database is opened) and "store-error" (string: the engine's
 * message when the store could not be opened, else NULL).
 */
#pragma once

#include <adwaita.h>

#include "dinolab/store.h"

#include "dinolab-types.h"

G_BEGIN_DECLS

#define DINOLAB_TYPE_APPLICATION (dinolab_application_get_type ())

G_DECLARE_FINAL_TYPE (DinolabApplication, dinolab_application,
                      DINOLAB, APPLICATION, AdwApplication)

/* dinolab_application_new:
 * Creates the application with id APP_ID (single instance) and resource base
 * path /org/dinolab/Dinolab. Returns a new reference; run it with
 * g_application_run(). */
DinolabApplication *dinolab_application_new          (void);

/* dinolab_application_get_settings:
 * Returns the application's settings (schema DINOLAB_SETTINGS_SCHEMA_ID), or
 * NULL when that schema is not installed (an uninstalled build run without
 * GSETTINGS_SCHEMA_DIR); the window state is then not remembered. The
 * application keeps ownership. */
GSettings          *dinolab_application_get_settings (DinolabApplication *self);

/* dinolab_application_get_store:
 * The run store the windows show and train into, owned by the application
 * (valid until the "store" property changes), or NULL when it could not be
 * opened (see dinolab_application_get_store_error()). */
DinolabStore       *dinolab_application_get_store    (DinolabApplication *self);

/* dinolab_application_get_store_error:
 * The engine's message of the last failed opening at startup, or NULL.
 * Owned by the application. */
const char         *dinolab_application_get_store_error (DinolabApplication *self);

/* dinolab_application_open_store:
 * Opens the run database at @path (NULL: dinolab_store_default_path()) and
 * makes it the application's store (the old one is closed; "store" is
 * notified). Refused while a window trains a run. Returns FALSE with @error
 * set (the engine's message) and keeps the current store on failure. Does
 * not touch the "last-db" setting (app.open-database does). */
gboolean            dinolab_application_open_store   (DinolabApplication *self,
                                                      const char         *path,
                                                      GError            **error);

/* dinolab_application_is_training:
 * Whether one of the application's windows has a run going. */
gboolean            dinolab_application_is_training  (DinolabApplication *self);

/* The GSettings schema id. Fixed, not APP_ID: the .Devel build shares it. */
#define DINOLAB_SETTINGS_SCHEMA_ID "org.dinolab.Dinolab"

/* The icon name under which the application icon is bundled in the GResource
 * (and therefore always found, installed or not). */
#define DINOLAB_ICON_NAME "org.dinolab.Dinolab"

G_END_DECLS
