/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-application.c: the application object. It creates the settings and
 * the app.* actions at startup, opens the run store (the "last-db" setting,
 * else dinolab_store_default_path()) and opens (or raises) the main window
 * when activated. A store that fails to open leaves "store" NULL and its
 * error message in "store-error" for the window to show; it never ends the
 * process. It holds no training state: runs belong to the engine and the run
 * store, and what a window shows belongs to the window.
 *
 * The GtkApplication base class does two things here that no code shows: with
 * resource-base-path /org/dinolab/Dinolab it loads gtk/help-overlay.ui (the
 * shortcuts window, win.show-help-overlay) and adds icons/ to the icon theme;
 * AdwApplication loads style.css from the same path.
 */
#define G_LOG_DOMAIN "dinolab-application"

#include "config.h"

#include <glib/gi18n.h>

#include "dinolab/error.h"

#include "dinolab-application-private.h"
#include "dinolab-window.h"

struct _DinolabApplication
{
  AdwApplication  parent_instance;

  GSettings      *settings;     /* NULL when the schema is not installed */
  DinolabStore   *store;        /* NULL when it could not be opened */
  char           *store_error;  /* why, or NULL */
};

G_DEFINE_FINAL_TYPE (DinolabApplication, dinolab_application, ADW_TYPE_APPLICATION)

enum
{
  PROP_0,
  PROP_STORE,
  PROP_STORE_ERROR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

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

/* ---- the run store -------------------------------------------------------- */

static void
dinolab_application_set_store (DinolabApplication *self,
                               DinolabStore       *store,
                               const char         *error_message)
{
  g_clear_pointer (&self->store, dinolab_store_close);
  self->store = store;
  g_free (self->store_error);
  self->store_error = g_strdup (error_message);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STORE_ERROR]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STORE]);
}

/* "last-db" when set, else the default path ($DINOLAB_DB or XDG_DATA_HOME). */
static void
dinolab_application_open_initial_store (DinolabApplication *self)
{
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  DinolabStore *store;

  if (self->settings != NULL)
    path = g_settings_get_string (self->settings, "last-db");
  if (path == NULL || path[0] == '\0')
    {
      g_free (path);
      path = dinolab_store_default_path ();
    }
  store = dinolab_store_open (path, &error);
  if (store == NULL)
    g_warning ("%s", error->message);
  dinolab_application_set_store (self, store, error != NULL ? error->message : NULL);
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
  dinolab_application_open_initial_store (self);
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
  g_clear_pointer (&self->store, dinolab_store_close);
  g_clear_pointer (&self->store_error, g_free);

  G_OBJECT_CLASS (dinolab_application_parent_class)->dispose (object);
}

static void
dinolab_application_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  DinolabApplication *self = DINOLAB_APPLICATION (object);

  switch (prop_id)
    {
    case PROP_STORE:
      g_value_set_pointer (value, self->store);
      break;
    case PROP_STORE_ERROR:
      g_value_set_string (value, self->store_error);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dinolab_application_class_init (DinolabApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = dinolab_application_dispose;
  object_class->get_property = dinolab_application_get_property;
  app_class->startup = dinolab_application_startup;
  app_class->activate = dinolab_application_activate;

  properties[PROP_STORE] =
    g_param_spec_pointer ("store", NULL, NULL,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STORE_ERROR] =
    g_param_spec_string ("store-error", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
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

DinolabStore *
dinolab_application_get_store (DinolabApplication *self)
{
  g_return_val_if_fail (DINOLAB_IS_APPLICATION (self), NULL);

  return self->store;
}

const char *
dinolab_application_get_store_error (DinolabApplication *self)
{
  g_return_val_if_fail (DINOLAB_IS_APPLICATION (self), NULL);

  return self->store_error;
}

gboolean
dinolab_application_is_training (DinolabApplication *self)
{
  GList *l;

  g_return_val_if_fail (DINOLAB_IS_APPLICATION (self), FALSE);

  for (l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL; l = l->next)
    if (DINOLAB_IS_WINDOW (l->data) && dinolab_window_is_training (l->data))
      return TRUE;
  return FALSE;
}

gboolean
dinolab_application_open_store (DinolabApplication  *self,
                                const char          *path,
                                GError             **error)
{
  DinolabStore *store;

  g_return_val_if_fail (DINOLAB_IS_APPLICATION (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (dinolab_application_is_training (self))
    {
      g_set_error_literal (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                           _("A run is training: stop it before opening another database"));
      return FALSE;
    }
  store = dinolab_store_open (path, error);
  if (store == NULL)
    return FALSE;
  dinolab_application_set_store (self, store, NULL);
  return TRUE;
}
