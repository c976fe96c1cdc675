/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-window.c: the main window. Its content is the template
 * ui/dinolab-window.ui: a header bar with the primary menu and, for now, the
 * welcome page. This file binds the template and keeps the window's size and
 * maximized state in GSettings (restored when first realized, saved in
 * close-request). It is not where commands live: the menu names actions
 * (app.about, win.show-help-overlay) that others own.
 */
#define G_LOG_DOMAIN "dinolab-window"

#include "config.h"

#include <glib/gi18n.h>

#include "dinolab-application.h"
#include "dinolab-window.h"

struct _DinolabWindow
{
  AdwApplicationWindow  parent_instance;

  /* template children */
  AdwHeaderBar         *header_bar;
  GtkMenuButton        *primary_menu_button;
  AdwStatusPage        *welcome_page;

  guint                 state_restored : 1;
};

G_DEFINE_FINAL_TYPE (DinolabWindow, dinolab_window, ADW_TYPE_APPLICATION_WINDOW)

/* ---- window state -------------------------------------------------------- */

static GSettings *
dinolab_window_get_settings (DinolabWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  if (!DINOLAB_IS_APPLICATION (app))
    return NULL;
  return dinolab_application_get_settings (DINOLAB_APPLICATION (app));
}

/* Writes @value to the integer @key unless the schema's range refuses it
 * (g_settings_set_int() would raise a critical instead). */
static void
dinolab_window_set_int_in_range (GSettings  *settings,
                                 const char *key,
                                 int         value)
{
  g_autoptr(GSettingsSchema) schema = NULL;
  g_autoptr(GSettingsSchemaKey) schema_key = NULL;
  g_autoptr(GVariant) variant = g_variant_ref_sink (g_variant_new_int32 (value));

  g_object_get (settings, "settings-schema", &schema, NULL);
  schema_key = g_settings_schema_get_key (schema, key);
  if (g_settings_schema_key_range_check (schema_key, variant))
    g_settings_set_value (settings, key, variant);
  else
    g_debug ("not saving %s = %d: outside the schema's range", key, value);
}

static void
dinolab_window_save_state (DinolabWindow *self)
{
  GSettings *settings = dinolab_window_get_settings (self);
  gboolean maximized;
  int width;
  int height;

  if (settings == NULL)
    return;

  /* While maximized, keep the size to go back to, not the screen's. */
  maximized = gtk_window_is_maximized (GTK_WINDOW (self));
  if (!maximized)
    {
      gtk_window_get_default_size (GTK_WINDOW (self), &width, &height);
      dinolab_window_set_int_in_range (settings, "window-width", width);
      dinolab_window_set_int_in_range (settings, "window-height", height);
    }
  g_settings_set_boolean (settings, "window-maximized", maximized);
}

static void
dinolab_window_restore_state (DinolabWindow *self)
{
  GSettings *settings = dinolab_window_get_settings (self);

  if (settings == NULL)
    return;

  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (settings, "window-width"),
                               g_settings_get_int (settings, "window-height"));
  if (g_settings_get_boolean (settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));
}

/* ---- GObject and GtkWindow ----------------------------------------------- */

static gboolean
dinolab_window_close_request (GtkWindow *window)
{
  dinolab_window_save_state (DINOLAB_WINDOW (window));

  return GTK_WINDOW_CLASS (dinolab_window_parent_class)->close_request (window);
}

/* Restore the size here, before the surface exists and its size is computed:
 * GtkWindow:application is not a construct property, so in constructed() the
 * window does not know its application yet. Only once, so hiding and showing
 * the window again keeps the size the user gave it. */
static void
dinolab_window_realize (GtkWidget *widget)
{
  DinolabWindow *self = DINOLAB_WINDOW (widget);

  if (!self->state_restored)
    {
      self->state_restored = TRUE;
      dinolab_window_restore_state (self);
    }

  GTK_WIDGET_CLASS (dinolab_window_parent_class)->realize (widget);
}

static void
dinolab_window_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), DINOLAB_TYPE_WINDOW);

  G_OBJECT_CLASS (dinolab_window_parent_class)->dispose (object);
}

static void
dinolab_window_class_init (DinolabWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = dinolab_window_dispose;
  widget_class->realize = dinolab_window_realize;
  window_class->close_request = dinolab_window_close_request;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/dinolab/Dinolab/dinolab-window.ui");
  gtk_widget_class_bind_template_child (widget_class, DinolabWindow, header_bar);
  gtk_widget_class_bind_template_child (widget_class, DinolabWindow, primary_menu_button);
  gtk_widget_class_bind_template_child (widget_class, DinolabWindow, welcome_page);
}

static void
dinolab_window_init (DinolabWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

/* ---- public API ---------------------------------------------------------- */

DinolabWindow *
dinolab_window_new (DinolabApplication *application)
{
  g_return_val_if_fail (DINOLAB_IS_APPLICATION (application), NULL);

  return g_object_new (DINOLAB_TYPE_WINDOW,
                       "application", application,
                       NULL);
}
