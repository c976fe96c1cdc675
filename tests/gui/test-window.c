/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-window.c: the application shell on a real X server (Xvfb): the main
 * window opens with its header bar, view switcher, menu and the Train view,
 * on a temporary run store (DINOLAB_DB); win.show-view switches views and
 * the last view is saved; win.show-toast shows a toast; app.about opens the
 * About window; win.show-help-overlay the shortcuts window, which lists the
 * shortcuts that exist; a resize made from outside (as a window manager
 * would) is saved to GSettings and restored; the German translation is used
 * under LANGUAGE=de, Train view included; app.quit ends g_application_run().
 * It does not train (test-train.c does).
 *
 * Every window that is looked at is also rendered to a PNG in
 * $DINOLAB_SCREENSHOT_DIR (meson: build/tests/gui/screenshots/) for a person to
 * look at, and its pixels are checked: a window that did not draw (one flat
 * colour) or an About window that lost its icon (no green of the dinosaur)
 * fails.
 *
 * Needs: GSETTINGS_SCHEMA_DIR=build/data, GSETTINGS_BACKEND=memory,
 * GDK_BACKEND=x11, GTK_A11Y=none, DINOLAB_LOCALEDIR=build/po (meson sets them).
 */
#define G_LOG_DOMAIN "test-window"

#include "config.h"

#include <locale.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <adwaita.h>
#include <gdk/x11/gdkx.h>

#include "gui-test-util.h"

#include "dinolab-application.h"
#include "dinolab-session.h"
#include "dinolab-train-page.h"
#include "dinolab-window.h"

static DinolabApplication *app;  /* registered once in main(), shared by the tests */
static char *tmpdir;             /* holds the run store */

/* The first window's size, put in GSettings before it opens. It differs from
 * the template's and the schema's 960x640, so seeing it proves the restore. */
#define FIRST_WIDTH  1000
#define FIRST_HEIGHT 680

// ---- finding widgets -------------------------------------------------------------

/* The application's main window, or NULL. */
static DinolabWindow *
find_main_window (void)
{
    return (DinolabWindow *) find_app_window (GTK_APPLICATION (app), DINOLAB_TYPE_WINDOW);
}

static gboolean
toplevel_is_mapped (GType type)
{
    GtkWindow *window = find_toplevel (type);
    return window != NULL && gtk_widget_get_mapped (GTK_WIDGET (window));
}

// ---- screenshots and their pixels -------------------------------------------------

/* The icon's dinosaur green (ShotStats.n_marked of the screenshots). */
static gboolean
is_green (int r, int g, int b)
{
    return g >= 140 && g - r >= 60 && g - b >= 40;
}

/* Checks the menu model of the primary menu button: @labels in order over
 * its sections, each with an action the window or the application really
 * has. */
static void
assert_primary_menu (DinolabWindow *window, const char * const *labels)
{
    GtkWidget *button = find_descendant (GTK_WIDGET (window), GTK_TYPE_MENU_BUTTON);
    GMenuModel *menu;
    int n_sections, s, i, k = 0;

    g_assert_nonnull (button);
    g_assert_true (gtk_menu_button_get_primary (GTK_MENU_BUTTON (button)));
    menu = gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (button));
    g_assert_nonnull (menu);
    n_sections = g_menu_model_get_n_items (menu);
    g_assert_cmpint (n_sections, >=, 1);
    for (s = 0; s < n_sections; s++) {
        GMenuModel *section = g_menu_model_get_item_link (menu, s, G_MENU_LINK_SECTION);
        int n;

        g_assert_nonnull (section);
        n = g_menu_model_get_n_items (section);
        for (i = 0; i < n; i++, k++) {
            g_autofree char *label = NULL;
            g_autofree char *action = NULL;
            GActionGroup *group = NULL;

            g_assert_nonnull (labels[k]);
            g_assert_true (g_menu_model_get_item_attribute (section, i, G_MENU_ATTRIBUTE_LABEL, "s", &label));
            g_assert_true (g_menu_model_get_item_attribute (section, i, G_MENU_ATTRIBUTE_ACTION, "s", &action));
            g_assert_cmpstr (label, ==, labels[k]);
            /* no dead items: every action exists and is enabled */
            if (g_str_has_prefix (action, "app."))
                group = G_ACTION_GROUP (app);
            else if (g_str_has_prefix (action, "win."))
                group = G_ACTION_GROUP (window);
            else
                g_assert_not_reached ();
            g_assert_true (g_action_group_has_action (group, action + 4));
            g_assert_true (g_action_group_get_action_enabled (group, action + 4));
        }
        g_object_unref (section);
    }
    g_assert_null (labels[k]);
}

// ---- the tests -------------------------------------------------------------------

static void
test_window_opens (void)
{
    DinolabWindow *window;
    GtkWidget *header;
    GtkWidget *switcher;
    GtkWidget *stack;
    GtkWidget *page;
    GtkWidget *menu_button;
    GtkWidget *popover;
    GtkIconTheme *theme;
    ShotStats stats;
    int width, height;
    static const char * const labels[] = {
        "_Open Database…", "_Preferences", "_Keyboard Shortcuts", "_About Dinolab", NULL
    };

    g_application_activate (G_APPLICATION (app));
    window = find_main_window ();
    g_assert_nonnull (window);
    WAIT_UNTIL (gtk_widget_get_mapped (GTK_WIDGET (window)), 5000);
    g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (window)));
    gtk_test_widget_wait_for_draw (GTK_WIDGET (window));  /* allocated and drawn */

    /* the size comes from the settings */
    gtk_window_get_default_size (GTK_WINDOW (window), &width, &height);
    g_assert_cmpint (width, ==, FIRST_WIDTH);
    g_assert_cmpint (height, ==, FIRST_HEIGHT);
    g_assert_cmpint (gdk_surface_get_width (gtk_native_get_surface (GTK_NATIVE (window))), ==, FIRST_WIDTH);

    g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), ==, "Dinolab");
    header = find_descendant (GTK_WIDGET (window), ADW_TYPE_HEADER_BAR);
    g_assert_nonnull (header);
    g_assert_true (gtk_widget_get_mapped (header));
    g_assert_cmpint (gtk_widget_get_height (header), >, 20);
    g_assert_nonnull (find_label (header, "Dinolab"));  /* the title is shown */
    assert_primary_menu (window, labels);

    /* the view switcher in the header bar, over the view stack; the Train
     * view is shown, with the application's store */
    switcher = find_descendant (header, ADW_TYPE_VIEW_SWITCHER_TITLE);
    g_assert_nonnull (switcher);
    stack = find_descendant (GTK_WIDGET (window), ADW_TYPE_VIEW_STACK);
    g_assert_nonnull (stack);
    g_assert_true (adw_view_switcher_title_get_stack (ADW_VIEW_SWITCHER_TITLE (switcher))
                   == ADW_VIEW_STACK (stack));
    g_assert_nonnull (find_descendant (GTK_WIDGET (window), ADW_TYPE_VIEW_SWITCHER_BAR));
    page = adw_view_stack_get_child_by_name (ADW_VIEW_STACK (stack), "train");
    g_assert_nonnull (page);
    g_assert_true (page == GTK_WIDGET (dinolab_window_get_train_page (window)));
    g_assert_cmpstr (adw_view_stack_get_visible_child_name (ADW_VIEW_STACK (stack)), ==, "train");
    g_assert_cmpstr (adw_view_stack_page_get_title (adw_view_stack_get_page (ADW_VIEW_STACK (stack), page)),
                     ==, "Train");
    g_assert_true (gtk_widget_get_mapped (page));
    /* the store opened: no error page */
    g_assert_false (gtk_widget_get_mapped (find_descendant (GTK_WIDGET (window), ADW_TYPE_STATUS_PAGE)));
    g_assert_nonnull (dinolab_application_get_store (app));
    g_assert_nonnull (dinolab_train_page_get_session (dinolab_window_get_train_page (window)));
    g_assert_nonnull (find_label (page, "Teacher Entropy and KL"));
    /* the icons are found in the GResource's icons/, so they show uninstalled */
    theme = gtk_icon_theme_get_for_display (gtk_widget_get_display (GTK_WIDGET (window)));
    g_assert_true (gtk_icon_theme_has_icon (theme, DINOLAB_ICON_NAME));
    g_assert_true (gtk_icon_theme_has_icon (theme, DINOLAB_ICON_NAME "-symbolic"));

    screenshot_measure (GTK_WIDGET (window), "main-window", is_green, "green", &stats);
    assert_drawn (&stats);

    /* the primary menu opens and shows its items */
    menu_button = find_descendant (header, GTK_TYPE_MENU_BUTTON);
    gtk_menu_button_popup (GTK_MENU_BUTTON (menu_button));
    popover = GTK_WIDGET (gtk_menu_button_get_popover (GTK_MENU_BUTTON (menu_button)));
    g_assert_nonnull (popover);
    WAIT_UNTIL (gtk_widget_get_mapped (popover), 5000);
    g_assert_true (gtk_widget_get_mapped (popover));
    g_assert_nonnull (find_label (popover, "Open Database…"));
    g_assert_nonnull (find_label (popover, "Preferences"));
    g_assert_nonnull (find_label (popover, "Keyboard Shortcuts"));
    g_assert_nonnull (find_label (popover, "About Dinolab"));
    screenshot_measure (popover, "primary-menu", is_green, "green", &stats);
    assert_drawn (&stats);
    gtk_menu_button_popdown (GTK_MENU_BUTTON (menu_button));
    WAIT_UNTIL (!gtk_widget_get_mapped (popover), 5000);
    g_assert_false (gtk_widget_get_mapped (popover));
}

/* win.show-view switches views (unknown names are ignored until the
 * Attention and Runs views exist) and the last view is saved; win.show-toast
 * shows its message. */
static void
test_window_views (void)
{
    g_autoptr(GSettings) settings = g_settings_new (DINOLAB_SETTINGS_SCHEMA_ID);
    DinolabWindow *window = find_main_window ();
    GtkWidget *stack;
    const char *views[] = { "attention", "runs" };
    guint i;

    g_assert_nonnull (window);
    stack = find_descendant (GTK_WIDGET (window), ADW_TYPE_VIEW_STACK);
    for (i = 0; i < G_N_ELEMENTS (views); i++) {
        gboolean exists = adw_view_stack_get_child_by_name (ADW_VIEW_STACK (stack), views[i]) != NULL;
        g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-view", "s", views[i]));
        g_assert_cmpstr (adw_view_stack_get_visible_child_name (ADW_VIEW_STACK (stack)), ==,
                         exists ? views[i] : "train");
        if (exists)
            g_assert_cmpstr (g_settings_get_string (settings, "last-view"), ==, views[i]);
    }
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-view", "s", "train"));
    g_assert_cmpstr (adw_view_stack_get_visible_child_name (ADW_VIEW_STACK (stack)), ==, "train");
    g_assert_cmpstr (g_settings_get_string (settings, "last-view"), ==, "train");

    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-toast", "s",
                                               "A toast <with> & markup characters"));
    WAIT_UNTIL (find_label (GTK_WIDGET (window), "A toast <with> & markup characters") != NULL, 2000);
    g_assert_nonnull (find_label (GTK_WIDGET (window), "A toast <with> & markup characters"));
}

static void
test_window_about (void)
{
    DinolabWindow *window = find_main_window ();
    GtkWindow *about;
    g_autofree char *name = NULL;
    g_autofree char *version = NULL;
    g_autofree char *developer = NULL;
    g_autofree char *icon = NULL;
    GtkLicense license;
    ShotStats stats;

    g_assert_nonnull (window);
    g_assert_null (find_toplevel (ADW_TYPE_ABOUT_WINDOW));
    g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
    WAIT_UNTIL (toplevel_is_mapped (ADW_TYPE_ABOUT_WINDOW), 5000);
    about = find_toplevel (ADW_TYPE_ABOUT_WINDOW);
    g_assert_nonnull (about);
    g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (about)));

    g_object_get (about,
                  "application-name", &name,
                  "version", &version,
                  "developer-name", &developer,
                  "application-icon", &icon,
                  "license-type", &license,
                  NULL);
    g_assert_cmpstr (name, ==, "Dinolab");
    g_assert_cmpstr (version, ==, PACKAGE_VERSION);
    g_assert_cmpstr (developer, ==, "The Dinolab developers");
    g_assert_cmpstr (icon, ==, DINOLAB_ICON_NAME);
    g_assert_cmpint (license, ==, GTK_LICENSE_GPL_3_0);
    g_assert_true (gtk_window_get_transient_for (about) == GTK_WINDOW (window));
    g_assert_true (gtk_window_get_modal (about));

    screenshot_measure (GTK_WIDGET (about), "about-window", is_green, "green", &stats);
    assert_drawn (&stats);
    g_assert_cmpuint (stats.n_marked, >, 2000);  /* green: its 128 px application icon */

    gtk_window_close (about);
    WAIT_UNTIL (find_toplevel (ADW_TYPE_ABOUT_WINDOW) == NULL, 5000);
    g_assert_null (find_toplevel (ADW_TYPE_ABOUT_WINDOW));
}

static void
test_window_shortcuts (void)
{
    DinolabWindow *window = find_main_window ();
    g_auto(GStrv) quit_accels = NULL;
    g_auto(GStrv) help_accels = NULL;
    g_auto(GStrv) actions = NULL;
    GtkWindow *shortcuts;
    ShotStats stats;

    g_assert_nonnull (window);
    quit_accels = gtk_application_get_accels_for_action (GTK_APPLICATION (app), "app.quit");
    g_assert_true (g_strv_contains ((const char * const *) quit_accels, "<Control>q"));
    help_accels = gtk_application_get_accels_for_action (GTK_APPLICATION (app),
                                                         "win.show-help-overlay");
    g_assert_true (g_strv_contains ((const char * const *) help_accels, "<Control>question"));
    actions = gtk_application_get_actions_for_accel (GTK_APPLICATION (app), "<Control>q");
    g_assert_true (g_strv_contains ((const char * const *) actions, "app.quit"));
    g_strfreev (actions);
    actions = gtk_application_get_actions_for_accel (GTK_APPLICATION (app), "<Control>comma");
    g_assert_true (g_strv_contains ((const char * const *) actions, "app.preferences"));

    g_action_group_activate_action (G_ACTION_GROUP (window), "show-help-overlay", NULL);
    WAIT_UNTIL (toplevel_is_mapped (GTK_TYPE_SHORTCUTS_WINDOW), 5000);
    shortcuts = find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW);
    g_assert_nonnull (shortcuts);
    g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (shortcuts)));
    g_assert_nonnull (find_label (GTK_WIDGET (shortcuts), "Quit"));
    g_assert_nonnull (find_label (GTK_WIDGET (shortcuts), "Preferences"));
    g_assert_nonnull (find_label (GTK_WIDGET (shortcuts), "Start a Run"));
    g_assert_nonnull (find_label (GTK_WIDGET (shortcuts), "Pause or Resume the Run"));
    g_assert_nonnull (find_label (GTK_WIDGET (shortcuts), "Stop the Run"));
    g_assert_nonnull (find_label (GTK_WIDGET (shortcuts), "Train"));

    screenshot_measure (GTK_WIDGET (shortcuts), "shortcuts-window", is_green, "green", &stats);
    assert_drawn (&stats);

    gtk_window_close (shortcuts);
    WAIT_UNTIL (!toplevel_is_mapped (GTK_TYPE_SHORTCUTS_WINDOW), 5000);
    g_assert_false (toplevel_is_mapped (GTK_TYPE_SHORTCUTS_WINDOW));
}

static gboolean
default_size_is (GtkWindow *window, int want_width, int want_height)
{
    int width, height;

    gtk_window_get_default_size (window, &width, &height);
    return width == want_width && height == want_height;
}

/* Resizes the X window from outside, as a user dragging its edge would, and
 * checks the new size reaches GSettings on close and comes back on reopen. */
static void
test_window_size_saved (void)
{
    g_autoptr(GSettings) settings = g_settings_new (DINOLAB_SETTINGS_SCHEMA_ID);
    DinolabWindow *window = find_main_window ();
    g_autofree char *xdotool = g_find_program_in_path ("xdotool");
    g_autofree char *command = NULL;
    g_autofree char *err = NULL;
    GdkSurface *surface;
    int status = -1;

    g_assert_nonnull (window);
    if (xdotool == NULL) {
        g_test_skip ("xdotool is not installed (build-aux/setup-debian.sh installs it)");
        return;
    }
    surface = gtk_native_get_surface (GTK_NATIVE (window));
    g_assert_true (GDK_IS_X11_SURFACE (surface));
    command = g_strdup_printf ("%s windowsize %lu 720 500", xdotool,
                               (gulong) gdk_x11_surface_get_xid (surface));
    g_assert_true (g_spawn_command_line_sync (command, NULL, &err, &status, NULL));
    g_assert_cmpstr (err, ==, "");
    g_assert_true (g_spawn_check_wait_status (status, NULL));

    WAIT_UNTIL (default_size_is (GTK_WINDOW (window), 720, 500), 5000);
    g_assert_true (default_size_is (GTK_WINDOW (window), 720, 500));
    /* not saved on every resize, only when the window closes */
    g_assert_cmpint (g_settings_get_int (settings, "window-width"), ==, FIRST_WIDTH);

    gtk_window_close (GTK_WINDOW (window));
    g_assert_null (find_main_window ());
    g_assert_cmpint (g_settings_get_int (settings, "window-width"), ==, 720);
    g_assert_cmpint (g_settings_get_int (settings, "window-height"), ==, 500);
    g_assert_false (g_settings_get_boolean (settings, "window-maximized"));

    /* a new window starts at the saved size */
    g_application_activate (G_APPLICATION (app));
    window = find_main_window ();
    g_assert_nonnull (window);
    WAIT_UNTIL (gtk_widget_get_mapped (GTK_WIDGET (window)), 5000);
    g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (window)));
    g_assert_true (default_size_is (GTK_WINDOW (window), 720, 500));
    surface = gtk_native_get_surface (GTK_NATIVE (window));
    WAIT_UNTIL (gdk_surface_get_width (surface) == 720, 5000);
    g_assert_cmpint (gdk_surface_get_width (surface), ==, 720);
    g_assert_cmpint (gdk_surface_get_height (surface), ==, 500);
}

/* Under LANGUAGE=de a new window comes up in German (the window title is the
 * product name, "Dinolab", in every language). */
static void
test_window_translation (void)
{
    const char *messages_locale = setlocale (LC_MESSAGES, NULL);
    GtkWidget *window;
    GtkWidget *header;
    GtkWidget *train;
    GtkWidget *stack;
    ShotStats stats;
    static const char * const labels[] = {
        "Datenbank _öffnen…", "_Einstellungen", "_Tastenkürzel", "_Info zu Dinolab", NULL
    };

    if (g_strcmp0 (messages_locale, "C") == 0 || g_strcmp0 (messages_locale, "POSIX") == 0) {
        g_test_fail_printf ("LC_MESSAGES is %s, which ignores LANGUAGE: run with LANG=C.UTF-8",
                            messages_locale);
        return;
    }

    g_setenv ("LANGUAGE", "de", TRUE);
    setlocale (LC_MESSAGES, "");  /* makes gettext drop its cached lookups */

    g_assert_cmpstr (_("Main Menu"), ==, "Hauptmenü");
    window = GTK_WIDGET (dinolab_window_new (app));
    gtk_window_present (GTK_WINDOW (window));
    WAIT_UNTIL (gtk_widget_get_mapped (window), 5000);
    g_assert_true (gtk_widget_get_mapped (window));
    gtk_test_widget_wait_for_draw (window);

    g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), ==, "Dinolab");
    header = find_descendant (window, ADW_TYPE_HEADER_BAR);
    g_assert_nonnull (find_label (header, "Dinolab"));
    g_assert_cmpstr (gtk_widget_get_tooltip_text (find_descendant (header, GTK_TYPE_MENU_BUTTON)),
                     ==, "Hauptmenü");
    /* the Train view: its title in the switcher, its buttons and plots */
    train = GTK_WIDGET (dinolab_window_get_train_page (DINOLAB_WINDOW (window)));
    stack = find_descendant (window, ADW_TYPE_VIEW_STACK);
    g_assert_cmpstr (adw_view_stack_page_get_title (adw_view_stack_get_page (ADW_VIEW_STACK (stack), train)),
                     ==, "Training");
    g_assert_nonnull (find_label (train, "Starten"));
    g_assert_nonnull (find_label (train, "Anhalten"));
    g_assert_nonnull (find_label (train, "Lehrer-Entropie und KL"));
    g_assert_nonnull (find_label (train, "Verlust"));
    assert_primary_menu (DINOLAB_WINDOW (window), labels);

    WAIT_UNTIL (FALSE, 500);  /* the header's title/switcher cross-fade settles */
    screenshot_measure (window, "main-window-de", is_green, "green", &stats);
    assert_drawn (&stats);

    gtk_window_destroy (GTK_WINDOW (window));
    g_unsetenv ("LANGUAGE");
    setlocale (LC_MESSAGES, "");
    g_assert_cmpstr (_("Main Menu"), ==, "Main Menu");
}

static gboolean quit_requested;
static gboolean watchdog_fired;

static gboolean
quit_when_mapped (gpointer data G_GNUC_UNUSED)
{
    DinolabWindow *window = find_main_window ();

    if (window == NULL || !gtk_widget_get_mapped (GTK_WIDGET (window)))
        return G_SOURCE_CONTINUE;
    gtk_window_set_default_size (GTK_WINDOW (window), 800, 600);
    quit_requested = TRUE;
    g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
    return G_SOURCE_REMOVE;
}

static gboolean
watchdog (gpointer data G_GNUC_UNUSED)
{
    watchdog_fired = TRUE;
    g_application_quit (G_APPLICATION (app));
    return G_SOURCE_REMOVE;
}

/* Runs the real main loop: g_application_run() returns only when app.quit has
 * closed the windows (saving their size) and quit. Must run last. */
static void
test_app_quit (void)
{
    g_autoptr(GSettings) settings = g_settings_new (DINOLAB_SETTINGS_SCHEMA_ID);
    guint watchdog_id;
    int status;

    g_timeout_add (50, quit_when_mapped, NULL);
    watchdog_id = g_timeout_add_seconds (20, watchdog, NULL);
    status = g_application_run (G_APPLICATION (app), 0, NULL);
    if (!watchdog_fired)
        g_source_remove (watchdog_id);

    g_assert_false (watchdog_fired);
    g_assert_true (quit_requested);
    g_assert_cmpint (status, ==, 0);
    g_assert_null (gtk_application_get_windows (GTK_APPLICATION (app)));
    g_assert_cmpint (g_settings_get_int (settings, "window-width"), ==, 800);
    g_assert_cmpint (g_settings_get_int (settings, "window-height"), ==, 600);
}

int
main (int argc, char **argv)
{
    g_autoptr(GSettings) settings = NULL;
    g_autofree char *db = NULL;
    int ret;

    /* gtk_test_init() then tries en_US.UTF-8 and keeps this one when it fails. */
    init_locale ();
    init_translations ();

    gtk_test_init (&argc, &argv, NULL);  /* makes warnings and criticals fatal */

    screenshot_dir_init (NULL);

    /* a temporary run store, never the user's */
    tmpdir = make_tmp_dir ("dinolab-test-window-XXXXXX");
    app = app_new_on_temp_store (tmpdir, &db);

    settings = g_settings_new (DINOLAB_SETTINGS_SCHEMA_ID);
    g_settings_set_int (settings, "window-width", FIRST_WIDTH);
    g_settings_set_int (settings, "window-height", FIRST_HEIGHT);

    g_test_add_func ("/gui/window/opens", test_window_opens);
    g_test_add_func ("/gui/window/views", test_window_views);
    g_test_add_func ("/gui/window/about", test_window_about);
    g_test_add_func ("/gui/window/shortcuts", test_window_shortcuts);
    g_test_add_func ("/gui/window/size-saved", test_window_size_saved);
    g_test_add_func ("/gui/window/translation", test_window_translation);
    g_test_add_func ("/gui/app/quit", test_app_quit);

    ret = g_test_run ();
    g_object_unref (app);
    remove_tree (tmpdir);
    g_free (tmpdir);
    g_free (shot_dir);
    return ret;
}
