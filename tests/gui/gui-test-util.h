/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * gui-test-util.h: the helpers every GUI test in tests/gui needs, in one
 * place instead of a copy per test. A test includes it once, after
 * "config.h" (init_translations() uses GETTEXT_PACKAGE and LOCALEDIR);
 * everything here is static, so a test carries only what it uses. It holds
 * no checks of its own beyond "the screenshot was taken": what a test checks
 * stays in the test.
 *
 * Main loop
 *   timed_out, WAIT_UNTIL (cond, ms)  spin the default main context until
 *                                     @cond holds or @ms ms have passed;
 *                                     timed_out says which
 *   spin_for (ms)                     spin for @ms ms (layout, drawing settle)
 * Widgets (depth-first, @root included; NULL when there is none)
 *   find_descendant (root, type)      first widget of @type
 *   collect_descendants (root, type, out)  all of them, into a GPtrArray
 *   find_named (root, name)           first with widget name @name
 *   find_label (root, text)           first GtkLabel whose text is @text
 *   find_label_containing (root, text)  ... whose text contains @text
 *   find_action_button (root, action) first GtkButton with action @action
 *   find_preferences_row (root, title)  first AdwPreferencesRow titled @title
 *   find_toplevel (type), find_visible_toplevel (type)  a toplevel of @type
 *   find_app_window (app, type)       a window of @app of @type
 * Screenshots and pixels
 *   shot_dir, screenshot_dir_init (fallback)  $DINOLAB_SCREENSHOT_DIR, made
 *   render_widget (widget)            a mapped widget's pixels as a texture
 *   save_screenshot (widget, prefix, name, attempts, shot)  waits for a frame,
 *                                     saves <shot_dir>/<prefix><name>.png and
 *                                     downloads its pixels into a Shot
 *   shot_pixel, shot_n_colours, shot_count  read a Shot's pixels
 *   screenshot_measure, assert_drawn  a screenshot's ShotStats, and the check
 *                                     that a window drew (not one flat colour)
 * Set-up and tear-down
 *   init_locale (), init_translations ()  C.UTF-8 at least, and build/po
 *   make_tmp_dir (tmpl)               g_dir_make_tmp that must succeed
 *   remove_tree (path)                rm -rf, symlinks not followed
 *   write_stripes_split (dir, split, n, side, seed)  a tiny npy dataset
 *   app_new_on_temp_store (dir, &db)  the application on <dir>/runs.db
 *   toasts, toast_stand_in_add (group), has_toast (text)  a stand-in for the
 *                                     main window's win.show-toast that
 *                                     records what it is asked to show
 */
#pragma once

#include <locale.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <adwaita.h>

#include "dinolab/io.h"
#include "dinolab-application.h"

// ---- waiting on the main loop ------------------------------------------------

/* Set by WAIT_UNTIL: TRUE when it gave up after its @ms. */
static gboolean timed_out G_GNUC_UNUSED;

static inline gboolean
on_timeout (gpointer data G_GNUC_UNUSED)
{
    timed_out = TRUE;
    return G_SOURCE_REMOVE;
}

/* Spins the main loop until @cond holds or @ms milliseconds have passed. */
#define WAIT_UNTIL(cond, ms) G_STMT_START {                       \
        guint wait_id_;                                           \
        timed_out = FALSE;                                        \
        wait_id_ = g_timeout_add ((ms), on_timeout, NULL);        \
        while (!(cond) && !timed_out)                             \
            g_main_context_iteration (NULL, TRUE);                \
        if (!timed_out)                                           \
            g_source_remove (wait_id_);                           \
    } G_STMT_END

/* Spins the main loop for @ms milliseconds (lets layout and drawing settle). */
static inline void
spin_for (guint ms)
{
    WAIT_UNTIL (FALSE, ms);
}

// ---- finding widgets -------------------------------------------------------------

typedef gboolean (*WidgetTest) (GtkWidget *widget, gconstpointer data);

/* Depth-first search for the first widget under @root (or @root) that @test accepts. */
static inline GtkWidget *
find_widget (GtkWidget *root, WidgetTest test, gconstpointer data)
{
    GtkWidget *child;

    if (test (root, data))
        return root;
    for (child = gtk_widget_get_first_child (root); child != NULL;
         child = gtk_widget_get_next_sibling (child)) {
        GtkWidget *found = find_widget (child, test, data);
        if (found != NULL)
            return found;
    }
    return NULL;
}

static inline gboolean
widget_has_type (GtkWidget *widget, gconstpointer type)
{
    return G_TYPE_CHECK_INSTANCE_TYPE (widget, *(const GType *) type);
}

static inline gboolean
widget_has_name (GtkWidget *widget, gconstpointer name)
{
    return g_strcmp0 (gtk_widget_get_name (widget), name) == 0;
}

static inline gboolean
label_has_text (GtkWidget *widget, gconstpointer text)
{
    return GTK_IS_LABEL (widget) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), text) == 0;
}

static inline gboolean
label_contains (GtkWidget *widget, gconstpointer text)
{
    return GTK_IS_LABEL (widget) && strstr (gtk_label_get_text (GTK_LABEL (widget)), text) != NULL;
}

static inline gboolean
button_has_action (GtkWidget *widget, gconstpointer action)
{
    return GTK_IS_BUTTON (widget)
           && g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (widget)), action) == 0;
}

static inline gboolean
row_has_title (GtkWidget *widget, gconstpointer title)
{
    return ADW_IS_PREFERENCES_ROW (widget)
           && g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), title) == 0;
}

/* The first descendant of @root (or @root) of @type. */
static inline GtkWidget *
find_descendant (GtkWidget *root, GType type)
{
    return find_widget (root, widget_has_type, &type);
}

/* All descendants of @root (and @root) of @type, depth-first, appended to @out. */
static inline void
collect_descendants (GtkWidget *root, GType type, GPtrArray *out)
{
    GtkWidget *child;

    if (G_TYPE_CHECK_INSTANCE_TYPE (root, type))
        g_ptr_array_add (out, root);
    for (child = gtk_widget_get_first_child (root); child != NULL;
         child = gtk_widget_get_next_sibling (child))
        collect_descendants (child, type, out);
}

/* The first widget under @root (or @root) whose widget name is @name; the
 * first GtkLabel whose text is @text, or contains @text; the first GtkButton
 * whose action is @action ("win.x"); the first AdwPreferencesRow (or
 * subclass) titled @title. */
#define find_named(root, name)            find_widget ((root), widget_has_name, (name))
#define find_label(root, text)            find_widget ((root), label_has_text, (text))
#define find_label_containing(root, text) find_widget ((root), label_contains, (text))
#define find_action_button(root, action)  find_widget ((root), button_has_action, (action))
#define find_preferences_row(root, title) find_widget ((root), row_has_title, (title))

/* The first toplevel of @type (shown or not, with @visible_only only a
 * visible one), or NULL. */
static inline GtkWindow *
find_toplevel_full (GType type, gboolean visible_only)
{
    GListModel *toplevels = gtk_window_get_toplevels ();
    GtkWindow *found = NULL;
    guint i;

    for (i = 0; i < g_list_model_get_n_items (toplevels) && found == NULL; i++) {
        GtkWindow *window = g_list_model_get_item (toplevels, i);
        if (G_TYPE_CHECK_INSTANCE_TYPE (window, type)
            && (!visible_only || gtk_widget_get_visible (GTK_WIDGET (window))))
            found = window;
        g_object_unref (window);  /* the list keeps its own reference */
    }
    return found;
}

/* The first toplevel of @type, or NULL. */
static inline GtkWindow *
find_toplevel (GType type)
{
    return find_toplevel_full (type, FALSE);
}

/* The first visible toplevel of @type, or NULL. */
static inline GtkWindow *
find_visible_toplevel (GType type)
{
    return find_toplevel_full (type, TRUE);
}

/* The first window of @app of @type, or NULL. */
static inline GtkWindow *
find_app_window (GtkApplication *app, GType type)
{
    GList *l;

    for (l = gtk_application_get_windows (app); l != NULL; l = l->next)
        if (G_TYPE_CHECK_INSTANCE_TYPE (l->data, type))
            return l->data;
    return NULL;
}

// ---- screenshots and their pixels -------------------------------------------------

/* Where screenshots go; set by screenshot_dir_init(), freed by the test. */
static char *shot_dir G_GNUC_UNUSED;

/* Sets shot_dir to $DINOLAB_SCREENSHOT_DIR, else to @fallback, else to
 * ./screenshots, and makes the folder. */
static inline void
screenshot_dir_init (const char *fallback)
{
    shot_dir = g_strdup (g_getenv ("DINOLAB_SCREENSHOT_DIR"));
    if (shot_dir == NULL && fallback != NULL)
        shot_dir = g_strdup (fallback);
    if (shot_dir == NULL)
        shot_dir = g_build_filename (g_get_current_dir (), "screenshots", NULL);
    g_assert_cmpint (g_mkdir_with_parents (shot_dir, 0755), ==, 0);
}

/* A screenshot's pixels as bytes B, G, R, A (CAIRO_FORMAT_ARGB32 in memory on
 * a little-endian machine), rows of @stride bytes. */
typedef struct {
    int     width, height;
    gsize   stride;
    guchar *data;
} Shot;

static inline void
shot_clear (Shot *shot)
{
    g_clear_pointer (&shot->data, g_free);
}

/* Renders @widget (mapped) with its window's renderer, the public route to a
 * widget's pixels in GTK 4.8. Returns a new texture, or NULL when the widget
 * has no size yet or snapshots to nothing. */
static inline GdkTexture *
render_widget (GtkWidget *widget)
{
    int w = gtk_widget_get_width (widget);
    int h = gtk_widget_get_height (widget);
    GdkPaintable *paintable;
    GtkSnapshot *snapshot;
    GskRenderNode *node;
    GdkTexture *texture;

    if (w <= 0 || h <= 0)
        return NULL;
    paintable = gtk_widget_paintable_new (widget);
    snapshot = gtk_snapshot_new ();
    gdk_paintable_snapshot (paintable, snapshot, w, h);
    node = gtk_snapshot_free_to_node (snapshot);
    g_object_unref (paintable);
    if (node == NULL)
        return NULL;
    texture = gsk_renderer_render_texture (gtk_native_get_renderer (gtk_widget_get_native (widget)),
                                           node, &GRAPHENE_RECT_INIT (0, 0, w, h));
    gsk_render_node_unref (node);
    return texture;
}

/* Waits for @widget's next frame and renders it, up to @attempts frames while
 * it renders to nothing (a widget still waiting for its allocation); fails
 * the test when it never renders. Saves it as <shot_dir>/<prefix><name>.png
 * and, when @shot is not NULL, downloads its pixels into @shot (free with
 * shot_clear()). */
static inline void
save_screenshot (GtkWidget *widget, const char *prefix, const char *name, int attempts, Shot *shot)
{
    g_autoptr(GdkTexture) texture = NULL;
    g_autofree char *path = g_strdup_printf ("%s/%s%s.png", shot_dir, prefix, name);
    int attempt;

    for (attempt = 0; attempt < attempts && texture == NULL; attempt++) {
        gtk_test_widget_wait_for_draw (widget);
        texture = render_widget (widget);
    }
    g_assert_nonnull (texture);
    g_assert_true (gdk_texture_save_to_png (texture, path));
    g_test_message ("screenshot: %s", path);
    if (shot == NULL)
        return;
    shot->width = gdk_texture_get_width (texture);
    shot->height = gdk_texture_get_height (texture);
    shot->stride = (gsize) shot->width * 4;
    shot->data = g_malloc (shot->stride * shot->height);
    gdk_texture_download (texture, shot->data, shot->stride);
}

/* The pixel nearest (@x, @y), clamped to the image, as R, G, B in @rgb. */
static inline void
shot_pixel (const Shot *shot, double x, double y, int rgb[3])
{
    int ix = CLAMP ((int) x, 0, shot->width - 1), iy = CLAMP ((int) y, 0, shot->height - 1);
    const guchar *p = shot->data + (gsize) iy * shot->stride + (gsize) ix * 4;

    rgb[0] = p[2];
    rgb[1] = p[1];
    rgb[2] = p[0];
}

/* The number of distinct colours, 4 bits a channel (> 8 for anything drawn:
 * antialiased text alone gives ~14); *@dominant_share (may be NULL) the share
 * of pixels with the most common one. */
static inline guint
shot_n_colours (const Shot *shot, double *dominant_share)
{
    g_autofree guint *histogram = g_new0 (guint, 4096);
    guint n_colours = 0, max_count = 0;
    int x, y, i;

    for (y = 0; y < shot->height; y++) {
        const guchar *row = shot->data + y * shot->stride;
        for (x = 0; x < shot->width; x++) {
            int b = row[4 * x], g = row[4 * x + 1], r = row[4 * x + 2];
            histogram[((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4)]++;
        }
    }
    for (i = 0; i < 4096; i++) {
        if (histogram[i] > 0)
            n_colours++;
        max_count = MAX (max_count, histogram[i]);
    }
    if (dominant_share != NULL)
        *dominant_share = (double) max_count / ((double) shot->width * shot->height);
    return n_colours;
}

/* A test of one pixel's colour (0..255 a channel). */
typedef gboolean (*ShotColourTest) (int r, int g, int b);

/* The number of pixels @test accepts. */
static inline guint
shot_count (const Shot *shot, ShotColourTest test)
{
    guint n = 0;
    int x, y;

    for (y = 0; y < shot->height; y++) {
        const guchar *row = shot->data + y * shot->stride;
        for (x = 0; x < shot->width; x++)
            if (test (row[4 * x + 2], row[4 * x + 1], row[4 * x]))
                n++;
    }
    return n;
}

typedef struct {
    int    width, height;
    double dominant_share;  /* share of pixels with the most common colour */
    guint  n_colours;       /* distinct colours, 4 bits a channel */
    guint  n_marked;        /* pixels the test's ShotColourTest accepted */
} ShotStats;

/* Saves @widget as <shot_dir>/<name>.png (one frame) and measures its pixels
 * into @stats; @marked counts the pixels of a colour, called @marked_name in
 * the log. */
static inline void
screenshot_measure (GtkWidget      *widget,
                    const char     *name,
                    ShotColourTest  marked,
                    const char     *marked_name,
                    ShotStats      *stats)
{
    Shot shot = { 0 };

    save_screenshot (widget, "", name, 1, &shot);
    memset (stats, 0, sizeof *stats);
    stats->width = shot.width;
    stats->height = shot.height;
    stats->n_colours = shot_n_colours (&shot, &stats->dominant_share);
    stats->n_marked = shot_count (&shot, marked);
    shot_clear (&shot);
    g_test_message ("%s: %dx%d, %u colours, most common %.1f %%, %u %s pixels",
                    name, stats->width, stats->height, stats->n_colours,
                    100.0 * stats->dominant_share, stats->n_marked, marked_name);
}

/* A window that drew its content has many colours and no colour everywhere. */
static inline void
assert_drawn (const ShotStats *stats)
{
    g_assert_cmpint (stats->width, >, 100);
    g_assert_cmpint (stats->height, >, 100);
    g_assert_cmpuint (stats->n_colours, >, 8);  /* antialiased text alone gives ~14 */
    g_assert_cmpfloat (stats->dominant_share, <, 0.97);
}

// ---- set-up and tear-down ------------------------------------------------------

/* The environment's locale, C.UTF-8 when that is C or POSIX: LANGUAGE works
 * only in a non-C locale, and this image has C.UTF-8 only. */
static inline void
init_locale (void)
{
    const char *locale = setlocale (LC_ALL, "");

    if (locale == NULL || strcmp (locale, "C") == 0 || strcmp (locale, "POSIX") == 0)
        setlocale (LC_ALL, "C.UTF-8");
}

/* Dinolab's translations from $DINOLAB_LOCALEDIR (meson: build/po), else the
 * installed ones; LANGUAGE unset so a test chooses its language itself. */
static inline void
init_translations (void)
{
    const char *localedir = g_getenv ("DINOLAB_LOCALEDIR");

    g_unsetenv ("LANGUAGE");
    bindtextdomain (GETTEXT_PACKAGE, localedir != NULL ? localedir : LOCALEDIR);
    bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
    textdomain (GETTEXT_PACKAGE);
}

/* A new temporary folder (g_dir_make_tmp with @tmpl, "name-XXXXXX"); g_free. */
static inline char *
make_tmp_dir (const char *tmpl)
{
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp (tmpl, &error);

    g_assert_no_error (error);
    return dir;
}

/* Deletes @path and everything under it; links are removed, not followed. */
static inline void
remove_tree (const char *path)
{
    g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
    const char *name;

    if (dir != NULL)
        while ((name = g_dir_read_name (dir)) != NULL) {
            g_autofree char *child = g_build_filename (path, name, NULL);
            if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
                remove_tree (child);
            else
                g_unlink (child);
        }
    g_rmdir (path);
}

/* A tiny npy dataset split: <@dir>/<@split>_images.npy, @n grey images
 * @side x @side (u8, @side a multiple of 6), and <@split>_labels.npy, 3
 * classes in turn: 0 a bright left half, 1 a bright top half, 2 diagonal
 * stripes of period @side/3; uniform noise 0..60 under all (seeded: the same
 * bytes on every run). */
static inline void
write_stripes_split (const char *dir, const char *split, int n, int side, guint32 seed)
{
    int64_t shape[3] = { n, side, side }, lshape[1] = { n };
    g_autoptr(DinolabArray) img = dinolab_array_new (DINOLAB_DTYPE_U8, 3, shape);
    g_autoptr(DinolabArray) lab = dinolab_array_new (DINOLAB_DTYPE_U8, 1, lshape);
    g_autofree char *pi = g_strdup_printf ("%s/%s_images.npy", dir, split);
    g_autofree char *pl = g_strdup_printf ("%s/%s_labels.npy", dir, split);
    g_autoptr(GRand) r = g_rand_new_with_seed (seed);
    guint8 *px = img->data;
    g_autoptr(GError) error = NULL;
    int i, x, y;

    for (i = 0; i < n; i++) {
        int c = i % 3;
        ((guint8 *) lab->data)[i] = (guint8) c;
        for (y = 0; y < side; y++)
            for (x = 0; x < side; x++) {
                int v = g_rand_int_range (r, 0, 61);
                if ((c == 0 && x < side / 2) || (c == 1 && y < side / 2)
                    || (c == 2 && (x + y) % (side / 3) < side / 6))
                    v += 150;
                px[((gsize) i * side + y) * side + x] = (guint8) MIN (v, 255);
            }
    }
    g_assert_true (dinolab_npy_write (pi, img, &error));
    g_assert_true (dinolab_npy_write (pl, lab, &error));
}

/* The application on a temporary run store: DINOLAB_DB set to <@dir>/runs.db
 * (its path in *@db_out, g_free), not unique (a Dinolab already running on
 * the developer's session bus must not receive the test's windows), and
 * registered. Returns a new reference. */
static inline DinolabApplication *
app_new_on_temp_store (const char *dir, char **db_out)
{
    g_autoptr(GError) error = NULL;
    char *db = g_build_filename (dir, "runs.db", NULL);
    DinolabApplication *app;

    g_setenv ("DINOLAB_DB", db, TRUE);
    app = dinolab_application_new ();
    g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
    if (!g_application_register (G_APPLICATION (app), NULL, &error))
        g_error ("registering the application: %s", error->message);
    *db_out = db;
    return app;
}

// ---- a stand-in for win.show-toast -----------------------------------------------

/* What the stand-in win.show-toast received (char *); made by toast_stand_in_add(). */
static GPtrArray *toasts G_GNUC_UNUSED;

static inline void
on_show_toast (GSimpleAction *action G_GNUC_UNUSED, GVariant *param, gpointer data G_GNUC_UNUSED)
{
    g_test_message ("toast: %s", g_variant_get_string (param, NULL));
    g_ptr_array_add (toasts, g_variant_dup_string (param, NULL));
}

/* Adds a "show-toast" action (a string parameter) to @group, as the main
 * window has it, that records its messages in toasts. Free toasts with
 * g_ptr_array_unref() at the end. */
static inline void
toast_stand_in_add (GActionMap *group)
{
    g_autoptr(GSimpleAction) show_toast = g_simple_action_new ("show-toast", G_VARIANT_TYPE_STRING);

    if (toasts == NULL)
        toasts = g_ptr_array_new_with_free_func (g_free);
    g_signal_connect (show_toast, "activate", G_CALLBACK (on_show_toast), NULL);
    g_action_map_add_action (group, G_ACTION (show_toast));
}

/* Whether some recorded toast contains @text. */
static inline gboolean
has_toast (const char *text)
{
    guint i;

    for (i = 0; i < toasts->len; i++)
        if (strstr (g_ptr_array_index (toasts, i), text) != NULL)
            return TRUE;
    return FALSE;
}
