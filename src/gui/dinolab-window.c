/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-window.c: the main window. Its content is the template
 * ui/dinolab-window.ui: a header bar with the view switcher and the primary
 * menu, the views in an AdwViewStack, a view switcher bar for narrow widths,
 * all in an AdwToastOverlay. This file binds the template, adds the views
 * that live outside it (see dinolab_window_add_views), owns the win.* actions
 * (show-view, show-toast), hands the application's run store to the Train
 * view (or shows the store's error with an "Open Database…" button), keeps
 * the window's size, maximized state and last view in GSettings, and stops a
 * running training (with its checkpoint) before the window closes. It is not
 * where app-wide commands live (app.*: dinolab-application-actions.c).
 */
#define G_LOG_DOMAIN "dinolab-window"

#include "config.h"

#include <glib/gi18n.h>

#include "dinolab-application.h"
#include "dinolab-attention-view.h"
#include "dinolab-runs-view.h"
#include "dinolab-session.h"
#include "dinolab-train-page.h"
#include "dinolab-window.h"

struct _DinolabWindow
{
  AdwApplicationWindow  parent_instance;

  /* template children */
  AdwToastOverlay      *toast_overlay;
  AdwHeaderBar         *header_bar;
  AdwViewSwitcherTitle *switcher_title;
  GtkMenuButton        *primary_menu_button;
  GtkStack             *main_stack;
  AdwViewStack         *view_stack;
  DinolabTrainPage     *train_page;
  AdwStatusPage        *store_error_page;

  /* views added in code (dinolab_window_add_views) */
  DinolabAttentionView *attention_view;
  DinolabRunsView      *runs_view;

  DinolabApplication   *application;      /* the one whose store is followed */
  AdwToast             *toast;            /* the last one shown (weak pointer) */
  guint                 state_restored : 1;
  guint                 close_after_stop : 1;
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
  g_autofree char *view = NULL;

  if (settings == NULL)
    return;

  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (settings, "window-width"),
                               g_settings_get_int (settings, "window-height"));
  if (g_settings_get_boolean (settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));
  view = g_settings_get_string (settings, "last-view");
  if (adw_view_stack_get_child_by_name (self->view_stack, view) != NULL)
    adw_view_stack_set_visible_child_name (self->view_stack, view);
}

static void
dinolab_window_view_changed (DinolabWindow *self)
{
  GSettings *settings = dinolab_window_get_settings (self);
  const char *name = adw_view_stack_get_visible_child_name (self->view_stack);

  /* only once restored: building the stack selects its first page */
  if (settings != NULL && name != NULL && self->state_restored)
    g_settings_set_string (settings, "last-view", name);
}

/* ---- the run store --------------------------------------------------------- */

/* Shows the views with the application's store, or the store's error. */
static void
dinolab_window_sync_store (DinolabWindow *self)
{
  DinolabStore *store = NULL;
  const char *message = NULL;

  if (self->application != NULL)
    {
      store = dinolab_application_get_store (self->application);
      message = dinolab_application_get_store_error (self->application);
    }
  if (!dinolab_train_page_set_store (self->train_page, store))
    {
      g_warning ("the run database changed while a run is going; the Train view keeps the old one");
      return;
    }
  dinolab_attention_view_set_store (self->attention_view, store);
  dinolab_runs_view_set_store (self->runs_view, store);
  if (store == NULL && message != NULL)
    {
      adw_status_page_set_description (self->store_error_page, message);
      gtk_stack_set_visible_child_name (self->main_stack, "no-store");
    }
  else
    gtk_stack_set_visible_child_name (self->main_stack, "views");
}

static void
dinolab_window_application_changed (DinolabWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  if (DINOLAB_IS_APPLICATION (app) && DINOLAB_APPLICATION (app) != self->application)
    {
      self->application = DINOLAB_APPLICATION (app);
      g_signal_connect_object (app, "notify::store", G_CALLBACK (dinolab_window_sync_store),
                               self, G_CONNECT_SWAPPED);
      dinolab_window_sync_store (self);
    }
}

/* ---- actions --------------------------------------------------------------- */

static void
dinolab_window_show_view (GtkWidget  *widget,
                          const char *action_name G_GNUC_UNUSED,
                          GVariant   *parameter)
{
  DinolabWindow *self = DINOLAB_WINDOW (widget);
  const char *name = g_variant_get_string (parameter, NULL);

  if (adw_view_stack_get_child_by_name (self->view_stack, name) != NULL)
    adw_view_stack_set_visible_child_name (self->view_stack, name);
  else
    g_debug ("no view named %s", name);
}

static void
dinolab_window_show_toast_action (GtkWidget  *widget,
                                  const char *action_name G_GNUC_UNUSED,
                                  GVariant   *parameter)
{
  dinolab_window_show_toast (DINOLAB_WINDOW (widget), g_variant_get_string (parameter, NULL));
}

/* ---- views ----------------------------------------------------------------- */

/* The Runs view's "Resume" continues the run in the Train view, where its
 * curves and controls are. */
static void
dinolab_window_resume_run (DinolabWindow *self,
                           const char    *uuid)
{
  if (dinolab_window_is_training (self))
    {
      dinolab_window_show_toast (self, _("A run is already training: stop it before resuming another."));
      return;
    }
  adw_view_stack_set_visible_child_name (self->view_stack, "train");
  dinolab_train_page_resume_run (self->train_page, uuid);
}

/* "New Run from These Settings": the Train view's form, filled. */
static void
dinolab_window_new_run_from (DinolabWindow *self,
                             const char    *hparams_json)
{
  if (dinolab_window_is_training (self))
    {
      dinolab_window_show_toast (self, _("A run is training: its settings stay in the form until it ends."));
      return;
    }
  dinolab_train_page_set_hparams_json (self->train_page, hparams_json);
  adw_view_stack_set_visible_child_name (self->view_stack, "train");
}

/* @view in a scroller that only scrolls sideways: the Attention and Runs views
 * need about 750 pixels across, and the window must still narrow below that
 * (to half a laptop screen) without clipping them. */
static GtkWidget *
dinolab_window_wrap_view (GtkWidget *view)
{
  GtkWidget *scroller = gtk_scrolled_window_new ();

  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller),
                                  GTK_POLICY_AUTOMATIC, GTK_POLICY_NEVER);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), view);
  return scroller;
}

/* The views that are not in the template, after Train (ui/dinolab-window.ui).
 * win.show-view (Alt+1/2/3) and the "last-view" setting find them by name. */
static void
dinolab_window_add_views (DinolabWindow *self)
{
  AdwViewStackPage *page;

  self->attention_view = DINOLAB_ATTENTION_VIEW (dinolab_attention_view_new ());
  page = adw_view_stack_add_titled (self->view_stack,
                                    dinolab_window_wrap_view (GTK_WIDGET (self->attention_view)),
                                    "attention", _("Attention"));
  adw_view_stack_page_set_icon_name (page, "image-x-generic-symbolic");

  self->runs_view = DINOLAB_RUNS_VIEW (dinolab_runs_view_new ());
  page = adw_view_stack_add_titled (self->view_stack,
                                    dinolab_window_wrap_view (GTK_WIDGET (self->runs_view)),
                                    "runs", _("Runs"));
  adw_view_stack_page_set_icon_name (page, "view-list-symbolic");
  g_signal_connect_object (self->runs_view, "resume-run",
                           G_CALLBACK (dinolab_window_resume_run), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->runs_view, "new-run-from",
                           G_CALLBACK (dinolab_window_new_run_from), self, G_CONNECT_SWAPPED);
}

/* ---- GObject and GtkWindow ----------------------------------------------- */

static void
dinolab_window_run_finished (DinolabWindow *self)
{
  if (self->close_after_stop)
    gtk_window_close (GTK_WINDOW (self));
}

static gboolean
dinolab_window_close_request (GtkWindow *window)
{
  DinolabWindow *self = DINOLAB_WINDOW (window);
  DinolabSession *session = dinolab_train_page_get_session (self->train_page);

  /* A run is going: stop it (it writes a checkpoint) and close once it has
   * ended; the window stays responsive meanwhile. */
  if (session != NULL && dinolab_session_get_active (session))
    {
      if (!self->close_after_stop)
        {
          self->close_after_stop = TRUE;
          g_signal_connect_object (session, "finished",
                                   G_CALLBACK (dinolab_window_run_finished), self,
                                   G_CONNECT_SWAPPED | G_CONNECT_AFTER);
          dinolab_session_stop (session);
          dinolab_window_show_toast (self, _("Stopping the run before closing…"));
        }
      return TRUE;
    }

  dinolab_window_save_state (self);

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
  g_clear_weak_pointer (&DINOLAB_WINDOW (object)->toast);
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
  gtk_widget_class_bind_template_child (widget_class, DinolabWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, DinolabWindow, header_bar);
  gtk_widget_class_bind_template_child (widget_class, DinolabWindow, switcher_title);
  gtk_widget_class_bind_template_child (widget_class, DinolabWindow, primary_menu_button);
  gtk_widget_class_bind_template_child (widget_class, DinolabWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, DinolabWindow, view_stack);
  gtk_widget_class_bind_template_child (widget_class, DinolabWindow, train_page);
  gtk_widget_class_bind_template_child (widget_class, DinolabWindow, store_error_page);

  gtk_widget_class_install_action (widget_class, "win.show-view", "s", dinolab_window_show_view);
  gtk_widget_class_install_action (widget_class, "win.show-toast", "s",
                                   dinolab_window_show_toast_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_1, GDK_ALT_MASK,
                                       "win.show-view", "s", "train");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_2, GDK_ALT_MASK,
                                       "win.show-view", "s", "attention");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_3, GDK_ALT_MASK,
                                       "win.show-view", "s", "runs");
}

static void
dinolab_window_init (DinolabWindow *self)
{
  g_type_ensure (DINOLAB_TYPE_TRAIN_PAGE);
  gtk_widget_init_template (GTK_WIDGET (self));
  dinolab_window_add_views (self);

  g_signal_connect_swapped (self->view_stack, "notify::visible-child-name",
                            G_CALLBACK (dinolab_window_view_changed), self);
  g_signal_connect (self, "notify::application",
                    G_CALLBACK (dinolab_window_application_changed), NULL);
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

DinolabTrainPage *
dinolab_window_get_train_page (DinolabWindow *self)
{
  g_return_val_if_fail (DINOLAB_IS_WINDOW (self), NULL);

  return self->train_page;
}

gboolean
dinolab_window_is_training (DinolabWindow *self)
{
  DinolabSession *session;

  g_return_val_if_fail (DINOLAB_IS_WINDOW (self), FALSE);

  session = dinolab_train_page_get_session (self->train_page);
  return session != NULL && dinolab_session_get_active (session);
}

void
dinolab_window_show_toast (DinolabWindow *self,
                           const char    *message)
{
  AdwToast *toast;
  g_autofree char *escaped = NULL;

  g_return_if_fail (DINOLAB_IS_WINDOW (self));
  g_return_if_fail (message != NULL);

  /* The newest message replaces the one on screen instead of queueing
   * behind it: a collapse warning must not wait for "run stopped". */
  if (self->toast != NULL)
    adw_toast_dismiss (self->toast);
  /* the title is Pango markup; engine messages are plain text */
  escaped = g_markup_escape_text (message, -1);
  toast = adw_toast_new (escaped);
  adw_toast_set_timeout (toast, 5);
  g_set_weak_pointer (&self->toast, toast);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}
