/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-application.c: the application object. It creates the settings and
 * the app.* actions at startup and opens (or raises) the main window when
 * activated. It holds no training state: runs belong to the engine and the
 * run store, and what a window shows belongs to the window.
 *
 * The GtkApplication base class does two things here that no code shows: with
 * resource-base-path /org/dinolab/Dinolab it loads gtk/help-overlay.ui (the
 * shortcuts window, win.show-help-overlay) and adds icons/ to the icon theme;
 * AdwApplication loads style.css from the same path.
 */
#define G_LOG_DOMAIN "dinolab-application"

#include "config.h"

#include <glib/gi18n.h>

#include "dinolab-application-private.h"
#include "dinolab-window.h"

struct _DinolabApplication
{
  AdwApplication  parent_instance;

  GSettings      *settings;  /* NULL when the schema is not installed */
};

G_DEFINE_FINAL_TYPE (DinolabApplication, dinolab_application, ADW_TYPE_APPLICATION)

/* ---- settings ------------------------------------------------------------ */

/* g_settings_new() aborts the process when the schema is missing, which is
 * what happens when an uninstalled build is started by hand. Look the schema
 * up first and carry on without remembered state instead. */
static GSettings *
dinolab_application_create_settings (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, DINOLAB_SETTINGS_SCHEMA_ID, TRUE);
  if (schema == NULL)
    {
      g_warning ("GSettings schema %s is not installed: the window size will not be "
                 "remembered (run the build tree with GSETTINGS_SCHEMA_DIR=<build>/data, "
                 "as build-aux/run.sh does)", DINOLAB_SETTINGS_SCHEMA_ID);
      return NULL;
    }

  return g_settings_new_full (schema, NULL, NULL);
}

/* ---- GApplication -------------------------------------------------------- */

static void
dinolab_application_startup (GApplication *app)
{
  DinolabApplication *self = DINOLAB_APPLICATION (app);

  G_APPLICATION_CLASS (dinolab_application_parent_class)->startup (app);

  gtk_window_set_default_icon_name (DINOLAB_ICON_NAME);
  self->settings = dinolab_application_create_settings ();
  _dinolab_application_actions_init (self);
}

/* Raise the existing main window (a second launch of the single instance lands
 * here too) or open one. */
static void
dinolab_application_activate (GApplication *app)
{
  GtkWindow *window = NULL;
  GList *l;

  for (l = gtk_application_get_windows (GTK_APPLICATION (app)); l != NULL; l = l->next)
    if (DINOLAB_IS_WINDOW (l->data))
      {
        window = GTK_WINDOW (l->data);
        break;
      }

  if (window == NULL)
    window = GTK_WINDOW (dinolab_window_new (DINOLAB_APPLICATION (app)));

  gtk_window_present (window);
}

static void
dinolab_application_dispose (GObject *object)
{
  DinolabApplication *self = DINOLAB_APPLICATION (object);

  g_clear_object (&self->settings);

  G_OBJECT_CLASS (dinolab_application_parent_class)->dispose (object);
}

static void
dinolab_application_class_init (DinolabApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = dinolab_application_dispose;
  app_class->startup = dinolab_application_startup;
  app_class->activate = dinolab_application_activate;
}

static void
dinolab_application_init (DinolabApplication *self G_GNUC_UNUSED)
{
}

/* ---- public API ---------------------------------------------------------- */

DinolabApplication *
dinolab_application_new (void)
{
  /* The resource base path is set by hand: the default follows the application
   * id, which is org.dinolab.Dinolab.Devel in development builds. */
  return g_object_new (DINOLAB_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/org/dinolab/Dinolab",
                       NULL);
}

GSettings *
dinolab_application_get_settings (DinolabApplication *self)
{
  g_return_val_if_fail (DINOLAB_IS_APPLICATION (self), NULL);

  return self->settings;
}
