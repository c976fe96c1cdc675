/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-application-actions.c: the app.* actions, in one table, and their
 * keyboard accelerators. Menus and buttons name these actions; nothing calls
 * the handlers directly. Window-level commands are not here: they belong to
 * the window that owns them (win.*).
 *
 *   app.about  the About window (AdwAboutWindow), over the active window
 *   app.quit   Ctrl+Q: closes every window (so each saves its state), quits
 *
 * win.show-help-overlay (Ctrl+?) comes from GtkApplication, which finds
 * gtk/help-overlay.ui in the application's resources.
 */
#define G_LOG_DOMAIN "dinolab-application-actions"

#include "config.h"

#include <glib/gi18n.h>

#include "dinolab-application-private.h"

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

  g_application_quit (G_APPLICATION (self));
}

static const GActionEntry dinolab_application_entries[] = {
  { .name = "about", .activate = dinolab_application_about },
  { .name = "quit",  .activate = dinolab_application_quit },
};

void
_dinolab_application_actions_init (DinolabApplication *self)
{
  static const char * const quit_accels[] = { "<Control>q", NULL };

  g_assert (DINOLAB_IS_APPLICATION (self));

  g_action_map_add_action_entries (G_ACTION_MAP (self),
                                   dinolab_application_entries,
                                   G_N_ELEMENTS (dinolab_application_entries),
                                   self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
}
