/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-application.h: the Dinolab GTK application (an AdwApplication).
 * It owns the app-wide actions (app.about, app.quit) and the GSettings that
 * windows read and write; it opens the main window on activation. It is not
 * the window: see dinolab-window.h.
 */
#pragma once

#include <adwaita.h>

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

/* The GSettings schema id. Fixed, not APP_ID: the .Devel build shares it. */
#define DINOLAB_SETTINGS_SCHEMA_ID "org.dinolab.Dinolab"

/* The icon name under which the application icon is bundled in the GResource
 * (and therefore always found, installed or not). */
#define DINOLAB_ICON_NAME "org.dinolab.Dinolab"

G_END_DECLS
