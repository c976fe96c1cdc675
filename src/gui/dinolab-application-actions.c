/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-application-actions.c: the app.* actions, in one table, and their
 * keyboard accelerators. Menus and buttons name these actions; nothing calls
 * the handlers directly. Window-level commands are not here: they belong to
 * the window that owns them (win.*).
 *
 *   app.open-database  a file chooser for a run database (.db); opens it
 *                      as the application's store and saves it in "last-db"
 *   app.preferences    Ctrl+comma: the preferences window
 *   app.about          the About window (AdwAboutWindow), over the active window
 *   app.quit           Ctrl+Q: closes every window (so each saves its state and
 *                      stops its run), quits once they are all gone
 *
 * win.show-help-overlay (Ctrl+?) comes from GtkApplication, which finds
 * gtk/help-overlay.ui in the application's resources.
 */
#define G_LOG_DOMAIN "dinolab-application-actions"

#include "config.h"

#include <glib/gi18n.h>

#include "dinolab-application-private.h"
#include "dinolab-preferences-window.h"
#include "dinolab-window.h"

static void
dinolab_application_about (GSimpleAction *action G_GNUC_UNUSED,
                           GVariant      *parameter G_GNUC_UNUSED,
                           gpointer       user_data)
{
  DinolabApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  GtkWindow *about;

  g_assert (DINOLAB_IS_APPLICATION (self));

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", parent,
                        "modal", parent != NULL,
                        "application-icon", DINOLAB_ICON_NAME,
                        "application-name", _("Dinolab"),
                        "version", PACKAGE_VERSION,
                        "developer-name", _("The Dinolab developers"),
                        "comments", _("Self-supervised vision transformers, trained on your computer."),
                        "copyright", "© 2026 The Dinolab developers",
                        "license-type", GTK_LICENSE_GPL_3_0,
                        /* Translators: your names, one a line, for the Credits page */
                        "translator-credits", _("translator-credits"),
                        NULL);
  gtk_window_present (about);
}

/* Shows @message as a toast in the active main window (or logs it). */
static void
dinolab_application_toast (DinolabApplication *self,
                           const char         *message)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (DINOLAB_IS_WINDOW (window))
    dinolab_window_show_toast (DINOLAB_WINDOW (window), message);
  else
    g_warning ("%s", message);
}

static void
dinolab_application_open_database_response (GtkNativeDialog *chooser,
                                            int              response,
                                            gpointer         user_data)
{
  DinolabApplication *self = user_data;
  g_autoptr(GFile) file = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  if (file != NULL)
    path = g_file_get_path (file);
  if (path != NULL)
    {
      if (dinolab_application_open_store (self, path, &error))
        {
          GSettings *settings = dinolab_application_get_settings (self);
          if (settings != NULL)
            g_settings_set_string (settings, "last-db", path);
        }
      else
        dinolab_application_toast (self, error->message);
    }
  g_object_unref (chooser);
  g_object_unref (self);
}

static void
dinolab_application_open_database (GSimpleAction *action G_GNUC_UNUSED,
                                   GVariant      *parameter G_GNUC_UNUSED,
                                   gpointer       user_data)
{
  DinolabApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  GtkFileChooserNative *chooser;
  GtkFileFilter *filter;
  DinolabStore *store;

  g_assert (DINOLAB_IS_APPLICATION (self));

  if (dinolab_application_is_training (self))
    {
      dinolab_application_toast (self, _("A run is training: stop it before opening another database"));
      return;
    }
  chooser = gtk_file_chooser_native_new (_("Open Run Database"), parent,
                                         GTK_FILE_CHOOSER_ACTION_OPEN,
                                         _("_Open"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  filter = gtk_file_filter_new ();
  gtk_file_filter_set_name (filter, _("Run databases"));
  gtk_file_filter_add_pattern (filter, "*.db");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  g_object_unref (filter);
  store = dinolab_application_get_store (self);
  if (store != NULL)
    {
      g_autoptr(GFile) folder = g_file_new_for_path (dinolab_store_get_folder (store));
      gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), folder, NULL);
    }
  g_signal_connect (chooser, "response",
                    G_CALLBACK (dinolab_application_open_database_response), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
dinolab_application_preferences (GSimpleAction *action G_GNUC_UNUSED,
                                 GVariant      *parameter G_GNUC_UNUSED,
                                 gpointer       user_data)
{
  DinolabApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  GSettings *settings = dinolab_application_get_settings (self);
  DinolabStore *store = dinolab_application_get_store (self);
  GtkWindow *preferences;

  g_assert (DINOLAB_IS_APPLICATION (self));

  if (settings == NULL)
    {
      dinolab_application_toast (self, _("The settings schema is not installed: there are no preferences to edit"));
      return;
    }
  preferences = dinolab_preferences_window_new (parent, settings);
  if (store != NULL)
    g_object_set (preferences, "store-path", dinolab_store_get_path (store), NULL);
  gtk_window_present (preferences);
}

static void
dinolab_application_quit (GSimpleAction *action G_GNUC_UNUSED,
                          GVariant      *parameter G_GNUC_UNUSED,
                          gpointer       user_data)
{
  DinolabApplication *self = user_data;
  GList *windows = NULL;
  GList *l;

  g_assert (DINOLAB_IS_APPLICATION (self));

  /* Close rather than destroy: close-request is where a window saves its
   * size. Hold a reference on each, since closing one may destroy another. */
  for (l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL; l = l->next)
    windows = g_list_prepend (windows, g_object_ref (l->data));
  for (l = windows; l != NULL; l = l->next)
    gtk_window_close (l->data);
  g_list_free_full (windows, g_object_unref);

  /* A window that trains stays until its run has stopped (with a
   * checkpoint); the application ends by itself when it closes. */
  if (!dinolab_application_is_training (self))
    g_application_quit (G_APPLICATION (self));
}

static const GActionEntry dinolab_application_entries[] = {
  { .name = "open-database", .activate = dinolab_application_open_database },
  { .name = "preferences",   .activate = dinolab_application_preferences },
  { .name = "about",         .activate = dinolab_application_about },
  { .name = "quit",          .activate = dinolab_application_quit },
};

void
_dinolab_application_actions_init (DinolabApplication *self)
{
  static const char * const quit_accels[] = { "<Control>q", NULL };
  static const char * const preferences_accels[] = { "<Control>comma", NULL };

  g_assert (DINOLAB_IS_APPLICATION (self));

  g_action_map_add_action_entries (G_ACTION_MAP (self),
                                   dinolab_application_entries,
                                   G_N_ELEMENTS (dinolab_application_entries),
                                   self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences",
                                         preferences_accels);
}
