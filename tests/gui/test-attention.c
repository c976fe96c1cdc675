/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-attention.c: the attention view (dinolab-attention-view.h) and its map
 * grid on a real X server (Xvfb), against a real run: the test writes a tiny
 * npy dataset (24x24 grey, 3 classes of noisy stripes), trains a tiny DINO on
 * it with the trainer (3 heads, patch 4, 2 epochs of 6 steps, evaluation each
 * epoch, so there are 2 checkpoints and 2 attention snapshots) in a
 * temporary store, and then drives the view: the run's checkpoint on a
 * dataset item, another item, an image file (a PNG written here), a weight
 * file (the student saved with dinolab_model_save), threshold masks, the
 * snapshot timeline and the PNG export. The window stands in for the main
 * window's win.show-toast action and records the toasts.
 *
 * Independent references: the trainer's own snapshot of a probe image (its
 * batched dinolab_eval_attention at the end of the run) must equal the
 * view's single-image computation on the last checkpoint for that item; the
 * mean tile against a mean computed here; the masks against the definition
 * (kept mass >= fraction, every kept value >= every dropped one, and dropping
 * the smallest kept one falls below the fraction); pixels of the drawn tiles
 * against the ends of viridis (matplotlib's values, typed in here).
 * Every state is saved as a PNG in $DINOLAB_SCREENSHOT_DIR.
 */
#define G_LOG_DOMAIN "test-attention"

#include "config.h"

#include <locale.h>
#include <math.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <gtk/gtk.h>

#include "dinolab/eval.h"
#include "dinolab/hparams.h"
#include "dinolab/io.h"
#include "dinolab/store.h"
#include "dinolab/trainer.h"
#include "dinolab-attention-grid.h"
#include "dinolab-attention-view.h"

#include "gui-test-util.h"

#define SIDE   24
#define HEADS  3
#define PATCH  4

static char *tmpdir;
static char *run_uuid;
static DinolabStore *store;
static GtkWindow *window;
static DinolabAttentionView *view;
static DinolabAttentionGrid *grid;

// ---- waiting on the main loop ------------------------------------------------

/* Waits for the view to finish what it is computing, then for a frame. */
static void
wait_idle (void)
{
    WAIT_UNTIL (!dinolab_attention_view_is_busy (view), 30000);
    g_assert_false (timed_out);
    gtk_test_widget_wait_for_draw (GTK_WIDGET (window));
}

// ---- finding widgets -----------------------------------------------------------

static GtkWidget *
control (const char *name)
{
    GtkWidget *w = find_named (GTK_WIDGET (view), name);

    g_assert_nonnull (w);
    return w;
}

static const char *
status_text (void)
{
    return gtk_label_get_text (GTK_LABEL (control ("status")));
}

// ---- screenshots ------------------------------------------------------------------

/* Saves the window as <shot_dir>/attention-<name>.png into @shot. A widget
 * that still waits for its allocation snapshots to nothing: up to 20 frames. */
static void
take_screenshot (const char *name, Shot *shot)
{
    save_screenshot (GTK_WIDGET (window), "attention-", name, 20, shot);
}

/* The centre of patch @i of tile @tile, in window coordinates. */
static void
patch_centre (int tile, int i, double *x, double *y)
{
    graphene_rect_t a;
    int gh, gw;

    g_assert_true (dinolab_attention_grid_get_tile_area (grid, tile, &a));
    dinolab_attention_grid_get_grid_size (grid, &gh, &gw);
    g_assert_true (gtk_widget_translate_coordinates (GTK_WIDGET (grid), GTK_WIDGET (window),
                                                     a.origin.x + (i % gw + 0.5) * a.size.width / gw,
                                                     a.origin.y + (i / gw + 0.5) * a.size.height / gh, x, y));
}

static int
colour_dist (const int a[3], const int b[3])
{
    return MAX (abs (a[0] - b[0]), MAX (abs (a[1] - b[1]), abs (a[2] - b[2])));
}

/* With opacity 1 and patch blocks, the centre of the largest patch of each
 * map is viridis' top (253, 231, 37) and that of the smallest its bottom
 * (68, 1, 84): every map (mean and heads) is drawn, with its own values. */
static void
assert_maps_drawn (const Shot *s)
{
    static const int top[3] = { 253, 231, 37 }, bottom[3] = { 68, 1, 84 };
    int gh, gw, n = dinolab_attention_grid_get_n_heads (grid);

    dinolab_attention_grid_get_grid_size (grid, &gh, &gw);
    g_assert_cmpint (n, ==, HEADS);
    for (int t = 0; t <= n; t++) {
        const float *m = dinolab_attention_grid_get_map (grid, t);
        int imax = 0, imin = 0, c[3];
        double x, y;
        for (int i = 1; i < gh * gw; i++) {
            if (m[i] > m[imax])
                imax = i;
            if (m[i] < m[imin])
                imin = i;
        }
        g_assert_cmpfloat (m[imax], >, m[imin]);
        patch_centre (t, imax, &x, &y);
        shot_pixel (s, x, y, c);
        g_test_message ("tile %d max patch %d at (%.0f, %.0f): %d %d %d", t, imax, x, y, c[0], c[1], c[2]);
        g_assert_cmpint (colour_dist (c, top), <=, 3);
        patch_centre (t, imin, &x, &y);
        shot_pixel (s, x, y, c);
        g_assert_cmpint (colour_dist (c, bottom), <=, 3);
    }
}

// ---- fixtures -----------------------------------------------------------------------

static void
train_run (void)
{
    static const char *const sets[] = {
        "arch=vit_custom", "patch_size=4", "embed_dim=24", "depth=1", "num_heads=3",
        "out_dim=32", "head_hidden_dim=32", "bottleneck_dim=16", "batch_size_per_gpu=8",
        "epochs=2", "warmup_epochs=1", "local_crops_number=2", "global_crop_size=24",
        "local_crop_size=12", "img_size=24", "in_chans=1", "threads=1", "eval_every=1",
        "checkpoint_every=1", "lr=0.05", "momentum_teacher=0.5", NULL
    };
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (DinolabTrainer) trainer = NULL;
    g_autoptr (GPtrArray) runs = NULL;
    g_autoptr (GError) error = NULL;
    g_autofree char *spec = g_strdup_printf ("npy:%s/train_images.npy", tmpdir);
    g_autofree char *db = g_build_filename (tmpdir, "runs.db", NULL);

    dinolab_hparams_init (&hp);
    for (const char *const *s = sets; *s; s++)
        g_assert_true (dinolab_hparams_set_assignment (&hp, *s, &error));
    g_assert_true (dinolab_hparams_set (&hp, "dataset", spec, &error));
    g_assert_no_error (error);
    store = dinolab_store_open (db, &error);
    g_assert_no_error (error);
    trainer = dinolab_trainer_new (store, &hp, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (dinolab_trainer_run (trainer, &error), ==, DINOLAB_TRAINER_STATUS_FINISHED);
    g_assert_no_error (error);
    runs = dinolab_store_list_runs (store, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (runs->len, ==, 1);
    run_uuid = g_strdup (((DinolabRunInfo *) runs->pdata[0])->uuid);
}

// ---- tests ----------------------------------------------------------------------------

static float *
copy_maps (void)
{
    int gh, gw;

    dinolab_attention_grid_get_grid_size (grid, &gh, &gw);
    return g_memdup2 (dinolab_attention_grid_get_map (grid, 0), sizeof (float) * (HEADS + 1) * gh * gw);
}

/* The run's newest checkpoint on test item 0: one map per head and their mean. */
static void
test_checkpoint (void)
{
    Shot s = { 0 };
    int gh, gw;

    gtk_range_set_value (GTK_RANGE (control ("opacity")), 1.0);
    dinolab_attention_view_show_run (view, run_uuid);
    wait_idle ();
    g_assert_cmpint (dinolab_attention_grid_get_n_heads (grid), ==, HEADS);
    dinolab_attention_grid_get_grid_size (grid, &gh, &gw);
    g_assert_cmpint (gh, ==, SIDE / PATCH);
    g_assert_cmpint (gw, ==, SIDE / PATCH);
    g_test_message ("status: %s", status_text ());
    g_assert_nonnull (strstr (status_text (), "step 12"));
    g_assert_nonnull (strstr (status_text (), "test item 0"));

    /* the mean tile is the mean of the heads */
    for (int i = 0; i < gh * gw; i++) {
        double m = 0.0;
        for (int h = 1; h <= HEADS; h++)
            m += dinolab_attention_grid_get_map (grid, h)[i] / HEADS;
        g_assert_cmpfloat (fabs (m - dinolab_attention_grid_get_map (grid, 0)[i]), <, 1e-6);
    }
    take_screenshot ("checkpoint", &s);
    assert_maps_drawn (&s);
    shot_clear (&s);

    gtk_range_set_value (GTK_RANGE (control ("opacity")), 0.6);
    gtk_check_button_set_active (GTK_CHECK_BUTTON (control ("smooth")), TRUE);
    take_screenshot ("checkpoint-smooth", &s);
    shot_clear (&s);
    gtk_check_button_set_active (GTK_CHECK_BUTTON (control ("smooth")), FALSE);
}

/* Another dataset item changes the image and the maps. */
static void
test_dataset_item (void)
{
    g_autofree float *before = copy_maps ();
    g_autofree float *after = NULL;
    Shot s = { 0 };
    double diff = 0.0;

    gtk_spin_button_set_value (GTK_SPIN_BUTTON (control ("index")), 4);
    wait_idle ();
    g_assert_nonnull (strstr (status_text (), "test item 4"));
    after = copy_maps ();
    for (int i = 0; i < (HEADS + 1) * 36; i++)
        diff = MAX (diff, fabs (after[i] - before[i]));
    g_test_message ("item 0 -> 4: max map change %.3g", diff);
    g_assert_cmpfloat (diff, >, 1e-4);
    take_screenshot ("dataset-item", &s);
    shot_clear (&s);
}

/* Threshold masks keep the requested mass, and no fewer patches could. */
static void
test_threshold (void)
{
    static const double fractions[] = { 0.6, 0.3, 0.9 };
    static const int red[3] = { 255, 59, 48 };
    int gh, gw;

    gtk_check_button_set_active (GTK_CHECK_BUTTON (control ("threshold-mode")), TRUE);
    dinolab_attention_grid_get_grid_size (grid, &gh, &gw);
    for (guint f = 0; f < G_N_ELEMENTS (fractions); f++) {
        gtk_spin_button_set_value (GTK_SPIN_BUTTON (control ("threshold")), fractions[f]);
        for (int t = 0; t <= HEADS; t++) {
            const float *m = dinolab_attention_grid_get_map (grid, t);
            const guint8 *k = dinolab_attention_grid_get_mask (grid, t);
            double total = 0.0, kept = 0.0, min_kept = INFINITY, max_dropped = -INFINITY;
            int n_kept = 0;
            g_assert_nonnull (k);
            for (int i = 0; i < gh * gw; i++) {
                total += m[i];
                if (k[i]) {
                    kept += m[i];
                    min_kept = MIN (min_kept, m[i]);
                    n_kept++;
                } else {
                    max_dropped = MAX (max_dropped, m[i]);
                }
            }
            g_test_message ("fraction %.2f tile %d: %d patches keep %.4f of the mass", fractions[f], t, n_kept,
                            kept / total);
            g_assert_cmpfloat (kept, >=, fractions[f] * total * (1 - 1e-9));
            g_assert_cmpfloat (kept - min_kept, <, fractions[f] * total);  /* minimal */
            g_assert_cmpfloat (min_kept, >=, max_dropped);                /* the largest ones */
        }
    }
    gtk_spin_button_set_value (GTK_SPIN_BUTTON (control ("threshold")), 0.6);
    {
        /* head 0's outline is drawn in its colour (red) on its tile */
        Shot s = { 0 };
        graphene_rect_t a;
        double px, py;
        int n_red = 0, c[3];
        take_screenshot ("threshold", &s);
        g_assert_true (dinolab_attention_grid_get_tile_area (grid, 1, &a));
        g_assert_true (gtk_widget_translate_coordinates (GTK_WIDGET (grid), GTK_WIDGET (window), a.origin.x,
                                                         a.origin.y, &px, &py));
        for (int y = 0; y < a.size.height; y++)
            for (int x = 0; x < a.size.width; x++) {
                shot_pixel (&s, px + x, py + y, c);
                n_red += colour_dist (c, red) <= 2;
            }
        g_test_message ("head 0 tile: %d outline pixels", n_red);
        g_assert_cmpint (n_red, >, 20);
        shot_clear (&s);
    }
    gtk_check_button_set_active (GTK_CHECK_BUTTON (control ("threshold-mode")), FALSE);
}

/* An image file (RGB PNG 40x30, taken as grey) dropped on the view: resized
 * so the shorter side is 24, trimmed to whole patches: 32x24, an 8x6 grid. */
static void
test_image_file (void)
{
    g_autofree char *path = g_build_filename (tmpdir, "picture.png", NULL);
    g_autoptr (GdkPixbuf) pb = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 40, 30);
    g_autoptr (GError) error = NULL;
    guchar *px = gdk_pixbuf_get_pixels (pb);
    int stride = gdk_pixbuf_get_rowstride (pb), gh, gw;
    Shot s = { 0 };

    for (int y = 0; y < 30; y++)
        for (int x = 0; x < 40; x++) {
            gboolean in = (x - 26) * (x - 26) + (y - 12) * (y - 12) < 64;
            px[y * stride + 3 * x + 0] = in ? 240 : (guchar) (x * 3);
            px[y * stride + 3 * x + 1] = in ? 200 : 40;
            px[y * stride + 3 * x + 2] = in ? 40 : (guchar) (y * 4);
        }
    g_assert_true (gdk_pixbuf_save (pb, path, "png", &error, NULL));
    gtk_range_set_value (GTK_RANGE (control ("opacity")), 1.0);
    {
        /* dropped on the view: what its GtkDropTarget receives from a file manager */
        g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (GTK_WIDGET (view));
        g_autoptr (GFile) file = g_file_new_for_path (path);
        GtkDropTarget *target = NULL;
        GValue value = G_VALUE_INIT;
        gboolean accepted = FALSE;

        for (guint i = 0; i < g_list_model_get_n_items (controllers) && target == NULL; i++) {
            g_autoptr (GObject) c = g_list_model_get_item (controllers, i);
            if (GTK_IS_DROP_TARGET (c))
                target = GTK_DROP_TARGET (c);
        }
        g_assert_nonnull (target);
        g_value_init (&value, G_TYPE_FILE);
        g_value_set_object (&value, file);
        g_signal_emit_by_name (target, "drop", &value, 10.0, 10.0, &accepted);
        g_value_unset (&value);
        g_assert_true (accepted);
    }
    wait_idle ();
    g_assert_cmpint (dinolab_attention_grid_get_n_heads (grid), ==, HEADS);
    dinolab_attention_grid_get_grid_size (grid, &gh, &gw);
    g_assert_cmpint (gh, ==, 6);
    g_assert_cmpint (gw, ==, 8);
    g_assert_nonnull (strstr (status_text (), "picture.png"));
    take_screenshot ("image-file", &s);
    assert_maps_drawn (&s);
    shot_clear (&s);
}

/* A weight file: the last checkpoint's student, saved as a plain backbone. */
static void
test_weight_file (void)
{
    g_autofree char *ckpt = dinolab_eval_find_checkpoint (store, run_uuid, -1, NULL, NULL, NULL);
    g_autofree char *path = g_build_filename (tmpdir, "student.safetensors", NULL);
    g_autoptr (DinolabModel) model = NULL;
    g_autoptr (GError) error = NULL;
    Shot s = { 0 };

    g_assert_nonnull (ckpt);
    model = dinolab_eval_load_backbone (ckpt, TRUE, NULL, 1, &error);
    g_assert_no_error (error);
    g_assert_true (dinolab_model_save (model, NULL, FALSE, path, &error));
    dinolab_attention_view_show_weights (view, path);
    wait_idle ();
    g_assert_cmpint (dinolab_attention_grid_get_n_heads (grid), ==, HEADS);
    g_assert_nonnull (strstr (status_text (), "student.safetensors"));
    take_screenshot ("weight-file", &s);
    assert_maps_drawn (&s);
    shot_clear (&s);

    /* a missing file: a toast with the engine's message */
    dinolab_attention_view_show_weights (view, "/nonexistent/none.safetensors");
    wait_idle ();
    g_assert_true (has_toast ("none.safetensors"));
}

/* The timeline: the snapshots differ between the first (the random
 * initialisation) and the last; the last one equals the view's own computation
 * on the last checkpoint for the same probe item. */
static void
test_timeline (void)
{
    g_autoptr (GArray) steps = dinolab_store_list_snapshot_steps (store, run_uuid, NULL);
    g_autoptr (DinolabAttentionSnapshot) last = dinolab_store_get_snapshot (store, run_uuid, -1, NULL);
    g_autofree float *first_maps = NULL, *last_maps = NULL;
    g_autofree char *expect = NULL;
    int P = (SIDE / PATCH) * (SIDE / PATCH);
    double diff = 0.0, err = 0.0;
    Shot s = { 0 };

    g_assert_nonnull (steps);
    /* the random initialisation (step 0), then the end of each of the two epochs */
    g_assert_cmpuint (steps->len, ==, 3);
    g_assert_cmpint (g_array_index (steps, gint64, 0), ==, 0);
    g_assert_nonnull (last);
    /* back to the run's checkpoint, on probe 1's item of the test split */
    dinolab_attention_view_show_run (view, run_uuid);
    gtk_drop_down_set_selected (GTK_DROP_DOWN (control ("image-kind")), 0);
    gtk_spin_button_set_value (GTK_SPIN_BUTTON (control ("index")), last->image_indices[1]);
    wait_idle ();
    g_assert_nonnull (strstr (status_text (), "checkpoint at step 12"));
    for (int h = 0; h < HEADS; h++)
        for (int i = 0; i < P; i++)
            err = MAX (err, fabs (dinolab_attention_grid_get_map (grid, 1 + h)[i] -
                                  last->maps[((gsize) 1 * HEADS + h) * P + i]));
    g_test_message ("trainer snapshot vs view, probe 1 (item %d): max |diff| %.3g", last->image_indices[1], err);
    g_assert_cmpfloat (err, <, 1e-5);

    gtk_range_set_value (GTK_RANGE (control ("timeline")), 0);
    gtk_check_button_set_active (GTK_CHECK_BUTTON (control ("snapshots")), TRUE);
    wait_idle ();
    /* the probe range is known once a snapshot was loaded */
    gtk_spin_button_set_value (GTK_SPIN_BUTTON (control ("probe")), 1);
    wait_idle ();
    g_assert_cmpint (gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (control ("probe"))), ==, 1);
    expect = g_strdup_printf ("Snapshot at step %" G_GINT64_FORMAT, g_array_index (steps, gint64, 0));
    g_assert_nonnull (strstr (status_text (), expect));
    first_maps = copy_maps ();
    take_screenshot ("timeline-first", &s);
    assert_maps_drawn (&s);

    gtk_range_set_value (GTK_RANGE (control ("timeline")), steps->len - 1);
    wait_idle ();
    g_free (expect);
    expect = g_strdup_printf ("Snapshot at step %" G_GINT64_FORMAT, g_array_index (steps, gint64, steps->len - 1));
    g_assert_nonnull (strstr (status_text (), expect));
    last_maps = copy_maps ();
    for (int i = 0; i < (HEADS + 1) * P; i++)
        diff = MAX (diff, fabs (last_maps[i] - first_maps[i]));
    for (int i = 0; i < HEADS * P; i++)
        g_assert_cmpfloat (fabs (last_maps[P + i] - last->maps[(gsize) HEADS * P + i]), <, 1e-7);
    g_test_message ("timeline first -> last snapshot: max map change %.3g", diff);
    g_assert_cmpfloat (diff, >, 1e-4);
    {
        /* the drawn head tiles change too */
        Shot s2 = { 0 };
        int changed = 0;
        take_screenshot ("timeline-last", &s2);
        assert_maps_drawn (&s2);
        for (int t = 1; t <= HEADS; t++)
            for (int i = 0; i < P; i++) {
                double x, y;
                int a[3], b[3];
                patch_centre (t, i, &x, &y);
                shot_pixel (&s, x, y, a);
                shot_pixel (&s2, x, y, b);
                changed += colour_dist (a, b) > 8;
            }
        g_test_message ("timeline: %d of %d head patches changed colour", changed, HEADS * P);
        g_assert_cmpint (changed, >, HEADS * P / 10);
        shot_clear (&s2);
    }
    shot_clear (&s);
    gtk_check_button_set_active (GTK_CHECK_BUTTON (control ("snapshots")), FALSE);
}

/* The live run: its newest checkpoint; a finished run says so in a toast. */
static void
test_live (void)
{
    dinolab_attention_view_show_run (view, run_uuid);
    gtk_drop_down_set_selected (GTK_DROP_DOWN (control ("source-kind")), 1);
    wait_idle ();
    g_assert_nonnull (strstr (status_text (), "checkpoint at step 12"));
    g_assert_true (has_toast ("is not running"));
    g_assert_cmpint (dinolab_attention_grid_get_n_heads (grid), ==, HEADS);
    gtk_drop_down_set_selected (GTK_DROP_DOWN (control ("source-kind")), 0);
    wait_idle ();
}

/* A view destroyed while it computes: the task ends quietly (no criticals). */
static void
test_destroy_busy (void)
{
    GtkWindow *w2 = GTK_WINDOW (gtk_window_new ());
    DinolabAttentionView *v2 = DINOLAB_ATTENTION_VIEW (dinolab_attention_view_new ());

    g_object_ref (v2);
    gtk_window_set_child (w2, GTK_WIDGET (v2));
    dinolab_attention_view_set_store (v2, store);
    dinolab_attention_view_show_run (v2, run_uuid);
    gtk_window_present (w2);
    for (int i = 0; i < 5; i++)
        g_main_context_iteration (NULL, FALSE);
    g_assert_true (dinolab_attention_view_is_busy (v2));
    gtk_window_destroy (w2);
    WAIT_UNTIL (!dinolab_attention_view_is_busy (v2), 10000);
    g_assert_false (timed_out);
    g_object_unref (v2);
}

/* Export: a PNG that loads back at the grid's export size, not one colour. */
static void
test_export (void)
{
    g_autofree char *path = g_build_filename (tmpdir, "grid.png", NULL);
    g_autoptr (GError) error = NULL;
    g_autoptr (GdkPixbuf) pb = NULL;
    g_autoptr (GHashTable) colours = g_hash_table_new (NULL, NULL);
    int w, h;

    wait_idle ();
    g_assert_true (dinolab_attention_view_export_png (view, path, &error));
    g_assert_no_error (error);
    dinolab_attention_grid_get_export_size (grid, &w, &h);
    pb = gdk_pixbuf_new_from_file (path, &error);
    g_assert_no_error (error);
    g_test_message ("export: %dx%d (expected %dx%d)", gdk_pixbuf_get_width (pb), gdk_pixbuf_get_height (pb), w, h);
    g_assert_cmpint (gdk_pixbuf_get_width (pb), ==, w);
    g_assert_cmpint (gdk_pixbuf_get_height (pb), ==, h);
    /* 5 tiles (image, mean, 3 heads) of at least 192 pixels, 4 a row */
    g_assert_cmpint (w, >=, 4 * 192);
    g_assert_cmpint (h, >=, 2 * 192);
    for (int y = 0; y < h; y += 3)
        for (int x = 0; x < w; x += 3) {
            const guchar *p = gdk_pixbuf_get_pixels (pb) + y * gdk_pixbuf_get_rowstride (pb)
                              + x * gdk_pixbuf_get_n_channels (pb);
            g_hash_table_add (colours, GUINT_TO_POINTER ((p[0] >> 3) << 10 | (p[1] >> 3) << 5 | (p[2] >> 3)));
        }
    g_assert_cmpuint (g_hash_table_size (colours), >, 50);
    {
        g_autofree char *copy = g_build_filename (shot_dir, "attention-export.png", NULL);
        g_autofree char *data = NULL;
        gsize len;
        g_assert_true (g_file_get_contents (path, &data, &len, NULL));
        g_assert_true (g_file_set_contents (copy, data, len, NULL));
    }
}

int
main (int argc, char **argv)
{
    g_autoptr (GSimpleActionGroup) win_actions = g_simple_action_group_new ();
    int ret;

    init_locale ();
    init_translations ();
    gtk_test_init (&argc, &argv, NULL);

    screenshot_dir_init (NULL);
    tmpdir = make_tmp_dir ("dinolab-test-attention-XXXXXX");
    write_stripes_split (tmpdir, "train", 48, SIDE, 1);
    write_stripes_split (tmpdir, "test", 12, SIDE, 2);
    train_run ();

    toast_stand_in_add (G_ACTION_MAP (win_actions));
    window = GTK_WINDOW (gtk_window_new ());
    gtk_window_set_default_size (window, 1100, 720);
    gtk_widget_insert_action_group (GTK_WIDGET (window), "win", G_ACTION_GROUP (win_actions));
    view = DINOLAB_ATTENTION_VIEW (dinolab_attention_view_new ());
    gtk_window_set_child (window, GTK_WIDGET (view));
    dinolab_attention_view_set_store (view, store);
    gtk_window_present (window);
    grid = DINOLAB_ATTENTION_GRID (find_descendant (GTK_WIDGET (view), DINOLAB_TYPE_ATTENTION_GRID));
    g_assert_nonnull (grid);
    WAIT_UNTIL (gtk_widget_get_mapped (GTK_WIDGET (window)), 5000);
    wait_idle ();

    g_test_add_func ("/gui/attention/checkpoint", test_checkpoint);
    g_test_add_func ("/gui/attention/dataset-item", test_dataset_item);
    g_test_add_func ("/gui/attention/threshold", test_threshold);
    g_test_add_func ("/gui/attention/image-file", test_image_file);
    g_test_add_func ("/gui/attention/weight-file", test_weight_file);
    g_test_add_func ("/gui/attention/timeline", test_timeline);
    g_test_add_func ("/gui/attention/live", test_live);
    g_test_add_func ("/gui/attention/export", test_export);
    g_test_add_func ("/gui/attention/destroy-busy", test_destroy_busy);
    ret = g_test_run ();

    gtk_window_destroy (window);
    g_ptr_array_unref (toasts);
    g_clear_pointer (&store, dinolab_store_close);
    remove_tree (tmpdir);
    g_free (run_uuid);
    g_free (shot_dir);
    g_free (tmpdir);
    return ret;
}
