/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-runs.c: the Runs view on a real X server (Xvfb), against a temporary
 * run store the test fills through the store API (three runs with known
 * loss curves and distinct hyperparameters): the table lists them; search
 * filters; sorting by a column orders them; selecting two runs overlays
 * their curves (series count, points, values) and "only differences" shows
 * exactly the keys that differ; edit (rename, tags, notes), delete (the
 * confirmation answered programmatically; the run's folder goes too),
 * resume and "new run from these settings" (signals with the right uuid and
 * JSON); CSV export (parsed back and compared with the curves written) and
 * PNG / SVG export of the plot. Last, a real `dinolab-cli train` ($DINOLAB_CLI)
 * on a tiny npy dataset the test writes shows up in the table and its epochs
 * and loss change while it trains; it is then stopped with SIGINT.
 *
 * Every state is saved as a PNG in $DINOLAB_SCREENSHOT_DIR (runs-*.png).
 * Messages to the user are captured by a stand-in "win.show-toast".
 */
#define G_LOG_DOMAIN "test-runs"

#include "config.h"

#include <math.h>
#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>
#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "dinolab/error.h"
#include "dinolab/io.h"
#include "dinolab/store.h"
#include "dinolab-compare-page.h"
#include "dinolab-plot.h"
#include "dinolab-run-model.h"
#include "dinolab-runs-view.h"

#include "gui-test-util.h"

static char *tmpdir;
static char *db_path;
static DinolabStore *store;       /* the test's own handle */
static GtkWindow *window;
static DinolabRunsView *view;
static guint n_loaded;            /* compare page "loaded" emissions */
static guint n_list_loaded;       /* view "loaded" emissions */
static char *uuids[3];            /* runs A, B, C */

/* Three runs: A and B differ in lr and out_dim; C also in dataset. Run r
 * has N_POINTS[r] loss points, loss(step) = 5 - (r + 1) * 0.01 * step, and
 * a knn_top1 point every 10 steps. */
static const char *const NAMES[3] = { "alpha-run", "bravo-run", "charlie-run" };
static const int N_POINTS[3] = { 50, 40, 30 };
static const char *const HPARAMS[3] = {
  "{\"dataset\":\"fashion-mnist\",\"epochs\":5,\"lr\":0.0005,\"out_dim\":1024,\"batch_size_per_gpu\":64}",
  "{\"dataset\":\"fashion-mnist\",\"epochs\":5,\"lr\":0.001,\"out_dim\":4096,\"batch_size_per_gpu\":64}",
  "{\"dataset\":\"cifar10\",\"epochs\":5,\"lr\":0.001,\"out_dim\":4096,\"batch_size_per_gpu\":64}",
};

static double
loss_at (int run, gint64 step)
{
  return 5.0 - (run + 1) * 0.01 * (double) step;
}

/* ---- widgets ---------------------------------------------------------------- */

static GtkColumnView *
column_view (void)
{
  return GTK_COLUMN_VIEW (find_descendant (GTK_WIDGET (view), GTK_TYPE_COLUMN_VIEW));
}

static GtkSelectionModel *
table (void)
{
  return gtk_column_view_get_model (column_view ());
}

static DinolabComparePage *
compare_page (void)
{
  return DINOLAB_COMPARE_PAGE (find_descendant (GTK_WIDGET (view), DINOLAB_TYPE_COMPARE_PAGE));
}

static guint
n_rows (void)
{
  return g_list_model_get_n_items (G_LIST_MODEL (table ()));
}

/* The row at @pos of the table as shown (filtered, sorted); a borrowed pointer. */
static DinolabRunRow *
row_at (guint pos)
{
  DinolabRunRow *row = g_list_model_get_item (G_LIST_MODEL (table ()), pos);
  g_object_unref (row);  /* the model keeps it */
  return row;
}

static int
find_row (const char *uuid)
{
  guint i;

  for (i = 0; i < n_rows (); i++)
    if (g_strcmp0 (dinolab_run_row_get_uuid (row_at (i)), uuid) == 0)
      return (int) i;
  return -1;
}

static char *
row_text (DinolabRunRow *row, const char *property)
{
  char *text = NULL;
  g_object_get (row, property, &text, NULL);
  return text;
}

/* Selects the runs of @which (indices into uuids[], -1 terminated) and
 * waits for the comparison to load. */
static void
select_runs (const int *which)
{
  guint before = n_loaded;
  int i;

  gtk_selection_model_unselect_all (table ());
  for (i = 0; which[i] >= 0; i++)
    {
      int pos = find_row (uuids[which[i]]);
      g_assert_cmpint (pos, >=, 0);
      gtk_selection_model_select_item (table (), (guint) pos, FALSE);
    }
  WAIT_UNTIL (n_loaded > before && !dinolab_compare_page_is_loading (compare_page ()), 5000);
  g_assert_false (timed_out);
}

/* ---- screenshots ----------------------------------------------------------------- */

/* Saves @widget as <shot_dir>/runs-<name>.png; fails on a flat image. */
static void
screenshot (GtkWidget *widget, const char *name)
{
  Shot shot = { 0 };

  /* two frames: the first after a change may still lay out */
  gtk_test_widget_wait_for_draw (widget);
  save_screenshot (widget, "runs-", name, 1, &shot);
  g_assert_cmpuint (shot_n_colours (&shot, NULL), >, 8);
  shot_clear (&shot);
}

/* ---- fixtures --------------------------------------------------------------------- */

static void
make_runs (void)
{
  g_autoptr(GError) error = NULL;
  int r;

  for (r = 0; r < 3; r++)
    {
      const char *tags_a[] = { "baseline", NULL };
      DinolabRunSpec spec = { 0 };
      DinolabStoreWriter *writer;
      gint64 s;

      spec.hparams_json = HPARAMS[r];
      spec.name = NAMES[r];
      spec.tags = r == 0 ? tags_a : NULL;
      uuids[r] = dinolab_store_create_run (store, &spec, &error);
      g_assert_no_error (error);
      writer = dinolab_store_writer_new (store, uuids[r], &error);
      g_assert_no_error (error);
      for (s = 0; s < N_POINTS[r]; s++)
        {
          const char *keys[] = { DINOLAB_METRIC_LOSS, DINOLAB_METRIC_KNN_TOP1 };
          /* k-NN in percent, as the trainer stores it */
          double values[] = { loss_at (r, s), 30.0 + (double) s };
          dinolab_store_writer_push_metrics (writer, s, (double) s / 10.0, 0.5 * (double) s,
                                             s % 10 == 9 ? 2 : 1, keys, values);
        }
      dinolab_store_writer_set_status (writer, DINOLAB_RUN_STATUS_FINISHED);
      g_assert_true (dinolab_store_writer_flush (writer, &error));
      dinolab_store_writer_free (writer);
      g_usleep (20000);  /* distinct creation times: C is the newest */
    }
}

static void
on_compare_loaded (void)
{
  n_loaded++;
}

static void
on_list_loaded (void)
{
  n_list_loaded++;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void
test_list (void)
{
  GtkWidget *widget = dinolab_runs_view_new ();
  GSimpleActionGroup *group = g_simple_action_group_new ();
  guint i;

  toast_stand_in_add (G_ACTION_MAP (group));
  window = GTK_WINDOW (gtk_window_new ());
  gtk_window_set_default_size (window, 1100, 760);
  gtk_widget_insert_action_group (GTK_WIDGET (window), "win", G_ACTION_GROUP (group));
  g_object_unref (group);
  gtk_window_set_child (window, widget);
  view = DINOLAB_RUNS_VIEW (widget);
  g_signal_connect (view, "loaded", G_CALLBACK (on_list_loaded), NULL);
  g_signal_connect (compare_page (), "loaded", G_CALLBACK (on_compare_loaded), NULL);
  dinolab_runs_view_set_store (view, store);
  gtk_window_present (window);

  WAIT_UNTIL (n_rows () == 3, 5000);
  g_assert_cmpuint (n_rows (), ==, 3);
  /* newest first */
  for (i = 0; i < 3; i++)
    g_assert_cmpstr (dinolab_run_row_get_uuid (row_at (i)), ==, uuids[2 - i]);
  {
    g_autofree char *status = row_text (row_at (2), "status-text");
    g_autofree char *loss = row_text (row_at (2), "last-loss-text");
    g_autofree char *tags = row_text (row_at (2), "tags-text");
    g_autofree char *knn = row_text (row_at (2), "best-knn-text");
    g_autofree char *want_loss = g_strdup_printf ("%.4f", loss_at (0, N_POINTS[0] - 1));
    g_assert_cmpstr (status, ==, "Finished");
    g_assert_cmpstr (loss, ==, want_loss);
    g_assert_cmpstr (tags, ==, "baseline");
    /* best kNN of A: the largest value written at steps 9, 19, ..., 49 */
    g_assert_cmpstr (knn, ==, "79.0 %");
  }
  screenshot (GTK_WIDGET (window), "list");
}

static void
test_search (void)
{
  GtkWidget *entry = find_descendant (GTK_WIDGET (view), GTK_TYPE_SEARCH_ENTRY);

  gtk_editable_set_text (GTK_EDITABLE (entry), "baseline");
  WAIT_UNTIL (n_rows () == 1, 3000);
  g_assert_cmpuint (n_rows (), ==, 1);
  g_assert_cmpstr (dinolab_run_row_get_uuid (row_at (0)), ==, uuids[0]);
  screenshot (GTK_WIDGET (window), "search");

  gtk_editable_set_text (GTK_EDITABLE (entry), "cifar");  /* the dataset */
  WAIT_UNTIL (n_rows () == 1 && find_row (uuids[2]) == 0, 3000);
  g_assert_cmpint (find_row (uuids[2]), ==, 0);

  gtk_editable_set_text (GTK_EDITABLE (entry), "run finished");  /* name and status words */
  WAIT_UNTIL (n_rows () == 3, 3000);
  g_assert_cmpuint (n_rows (), ==, 3);
  gtk_editable_set_text (GTK_EDITABLE (entry), "");
  WAIT_UNTIL (n_rows () == 3, 3000);
}

static void
test_sort (void)
{
  GListModel *columns = gtk_column_view_get_columns (column_view ());
  GtkColumnViewColumn *loss_column = NULL;
  GtkColumnViewColumn *name_column = NULL;
  guint i;

  g_assert_cmpuint (g_list_model_get_n_items (columns), ==, 9);
  for (i = 0; i < g_list_model_get_n_items (columns); i++)
    {
      g_autoptr(GtkColumnViewColumn) column = g_list_model_get_item (columns, i);
      if (g_strcmp0 (gtk_column_view_column_get_title (column), "Last Loss") == 0)
        loss_column = column;
      if (g_strcmp0 (gtk_column_view_column_get_title (column), "Name") == 0)
        name_column = column;
    }
  g_assert_nonnull (loss_column);
  g_assert_nonnull (name_column);

  /* last losses: A 4.51, B 4.22, C 4.13 */
  gtk_column_view_sort_by_column (column_view (), loss_column, GTK_SORT_ASCENDING);
  WAIT_UNTIL (find_row (uuids[2]) == 0, 2000);
  g_assert_cmpint (find_row (uuids[2]), ==, 0);
  g_assert_cmpint (find_row (uuids[1]), ==, 1);
  g_assert_cmpint (find_row (uuids[0]), ==, 2);
  screenshot (GTK_WIDGET (window), "sorted-loss");

  gtk_column_view_sort_by_column (column_view (), name_column, GTK_SORT_DESCENDING);
  WAIT_UNTIL (find_row (uuids[2]) == 0, 2000);
  g_assert_cmpint (find_row (uuids[2]), ==, 0);  /* charlie > bravo > alpha */
  g_assert_cmpint (find_row (uuids[1]), ==, 1);
  g_assert_cmpint (find_row (uuids[0]), ==, 2);
  gtk_column_view_sort_by_column (column_view (), NULL, GTK_SORT_ASCENDING);
}

static void
test_compare (void)
{
  const int ab[] = { 0, 1, -1 };
  DinolabPlot *plot = dinolab_compare_page_get_plot (compare_page ());
  g_auto(GStrv) all_keys = NULL;
  g_auto(GStrv) diff_keys = NULL;
  const char *const want_all[] = { "batch_size_per_gpu", "dataset", "epochs", "lr", "out_dim", NULL };
  const char *const want_diff[] = { "lr", "out_dim", NULL };
  guint s;

  select_runs (ab);
  g_assert_cmpstr (dinolab_compare_page_get_metric (compare_page ()), ==, "loss");
  g_assert_cmpuint (dinolab_plot_get_n_series (plot), ==, 2);
  for (s = 0; s < 2; s++)
    {
      DinolabPlotSeries *series = dinolab_plot_get_series (plot, s);
      const char *label = dinolab_plot_series_get_label (series);
      int r = g_strcmp0 (label, NAMES[0]) == 0 ? 0 : 1;
      const double *x = dinolab_plot_series_get_x (series, DINOLAB_PLOT_X_STEP);
      const double *y = dinolab_plot_series_get_y (series);
      guint i;

      g_assert_cmpstr (label, ==, NAMES[r]);
      g_assert_cmpuint (dinolab_plot_series_get_n_points (series), ==, N_POINTS[r]);
      for (i = 0; i < (guint) N_POINTS[r]; i++)
        {
          g_assert_cmpfloat (x[i], ==, (double) i);
          g_assert_cmpfloat_with_epsilon (y[i], loss_at (r, i), 1e-12);
        }
    }
  all_keys = dinolab_compare_page_get_shown_keys (compare_page ());
  g_assert_true (g_strv_equal ((const char *const *) all_keys, want_all));
  screenshot (GTK_WIDGET (window), "compare");

  dinolab_compare_page_set_only_differences (compare_page (), TRUE);
  diff_keys = dinolab_compare_page_get_shown_keys (compare_page ());
  g_assert_true (g_strv_equal ((const char *const *) diff_keys, want_diff));
  screenshot (GTK_WIDGET (window), "compare-only-differences");

  /* another metric: knn_top1 has 5 points in A, 4 in B */
  {
    guint before = n_loaded;
    dinolab_compare_page_set_metric (compare_page (), DINOLAB_METRIC_KNN_TOP1);
    WAIT_UNTIL (n_loaded > before, 5000);
    g_assert_cmpuint (dinolab_plot_get_n_series (plot), ==, 2);
    g_assert_cmpuint (dinolab_plot_series_get_n_points (dinolab_plot_get_series (plot, 0)) +
                      dinolab_plot_series_get_n_points (dinolab_plot_get_series (plot, 1)), ==, 9);
    before = n_loaded;
    dinolab_compare_page_set_metric (compare_page (), DINOLAB_METRIC_LOSS);
    WAIT_UNTIL (n_loaded > before, 5000);
  }
  dinolab_compare_page_set_only_differences (compare_page (), FALSE);
}

static void
test_export (void)
{
  const int a[] = { 0, -1 };
  const int ab[] = { 0, 1, -1 };
  g_autofree char *csv_path = g_build_filename (tmpdir, "alpha.csv", NULL);
  g_autofree char *png_path = g_build_filename (tmpdir, "plot.png", NULL);
  g_autofree char *svg_path = g_build_filename (tmpdir, "plot.svg", NULL);
  g_autofree char *csv = NULL;
  g_autofree char *svg = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  guint i;

  select_runs (a);
  dinolab_runs_view_export_csv_to (view, csv_path);
  WAIT_UNTIL (has_toast ("alpha.csv"), 5000);
  g_assert_true (has_toast ("Exported 50 rows"));
  g_assert_true (g_file_get_contents (csv_path, &csv, NULL, &error));
  lines = g_strsplit (csv, "\n", -1);
  g_assert_cmpstr (lines[0], ==, "step,epoch,wall,knn_top1,loss");
  g_assert_cmpuint (g_strv_length (lines), ==, 52);  /* header, 50 rows, "" after the last \n */
  for (i = 0; i < 50; i++)
    {
      g_auto(GStrv) cells = g_strsplit (lines[i + 1], ",", -1);
      g_assert_cmpuint (g_strv_length (cells), ==, 5);
      g_assert_cmpint (g_ascii_strtoll (cells[0], NULL, 10), ==, i);
      g_assert_cmpfloat (g_ascii_strtod (cells[1], NULL), ==, (double) i / 10.0);
      g_assert_cmpfloat (g_ascii_strtod (cells[2], NULL), ==, 0.5 * i);
      if (i % 10 == 9)
        g_assert_cmpfloat (g_ascii_strtod (cells[3], NULL), ==, 30.0 + i);
      else
        g_assert_cmpstr (cells[3], ==, "");
      g_assert_cmpfloat (g_ascii_strtod (cells[4], NULL), ==, loss_at (0, i));
    }

  select_runs (ab);
  g_assert_true (dinolab_runs_view_export_plot_to (view, png_path, &error));
  g_assert_no_error (error);
  texture = gdk_texture_new_from_filename (png_path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_texture_get_width (texture), ==, DINOLAB_RUNS_VIEW_EXPORT_WIDTH);
  g_assert_cmpint (gdk_texture_get_height (texture), ==, DINOLAB_RUNS_VIEW_EXPORT_HEIGHT);
  g_assert_true (dinolab_runs_view_export_plot_to (view, svg_path, &error));
  g_assert_true (g_file_get_contents (svg_path, &svg, NULL, &error));
  g_assert_nonnull (strstr (svg, "<svg"));
}

static void
store_string (char **where, const char *text)
{
  g_free (*where);
  *where = g_strdup (text);
}

static void
test_resume_new_from (void)
{
  const int b[] = { 1, -1 };
  g_autofree char *resumed = NULL;
  g_autofree char *json = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *object;
  gulong id1, id2;

  select_runs (b);
  id1 = g_signal_connect_swapped (view, "resume-run", G_CALLBACK (store_string), &resumed);
  id2 = g_signal_connect_swapped (view, "new-run-from", G_CALLBACK (store_string), &json);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "runs.resume", NULL));
  g_assert_cmpstr (resumed, ==, uuids[1]);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "runs.new-from", NULL));
  WAIT_UNTIL (json != NULL, 5000);
  g_assert_nonnull (json);
  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  object = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpfloat (json_object_get_double_member (object, "lr"), ==, 0.001);
  g_assert_cmpint (json_object_get_int_member (object, "out_dim"), ==, 4096);
  g_assert_cmpstr (json_object_get_string_member (object, "dataset"), ==, "fashion-mnist");
  g_signal_handler_disconnect (view, id1);
  g_signal_handler_disconnect (view, id2);
}

static void
test_edit (void)
{
  const int a[] = { 0, -1 };
  GtkWindow *dialog;
  g_autoptr(DinolabRunInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  const char *const want_tags[] = { "best", "compare", NULL };

  select_runs (a);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "runs.edit", NULL));
  WAIT_UNTIL ((dialog = find_visible_toplevel (ADW_TYPE_MESSAGE_DIALOG)) != NULL
              && gtk_widget_get_mapped (GTK_WIDGET (dialog)), 3000);
  g_assert_nonnull (dialog);
  gtk_editable_set_text (GTK_EDITABLE (find_named (GTK_WIDGET (dialog), "name-row")), "renamed-run");
  /* "baseline" dropped, two added */
  gtk_editable_set_text (GTK_EDITABLE (find_named (GTK_WIDGET (dialog), "tags-row")), "best, compare");
  gtk_editable_set_text (GTK_EDITABLE (find_named (GTK_WIDGET (dialog), "notes-row")), "lower lr");
  screenshot (GTK_WIDGET (dialog), "edit-dialog");
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "save");
  gtk_window_destroy (dialog);  /* what a click does after the response */
  WAIT_UNTIL (has_toast ("renamed-run"), 5000);
  g_assert_true (has_toast ("Saved “renamed-run”"));

  info = dinolab_store_get_run (store, uuids[0], &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->name, ==, "renamed-run");
  g_assert_cmpstr (info->notes, ==, "lower lr");
  g_assert_true (g_strv_equal ((const char *const *) info->tags, want_tags));
  WAIT_UNTIL (find_row (uuids[0]) >= 0
              && g_strcmp0 (dinolab_run_row_get_name (row_at (find_row (uuids[0]))), "renamed-run") == 0,
              5000);
  g_assert_false (timed_out);
  screenshot (GTK_WIDGET (window), "edited");
}

static void
test_delete (void)
{
  const int c[] = { 2, -1 };
  g_autofree char *run_dir = dinolab_store_get_run_dir (store, uuids[2]);
  g_autofree char *ckpt = g_build_filename (run_dir, "step-00000010.safetensors", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(DinolabRunInfo) info = NULL;
  GtkWindow *dialog;

  /* a checkpoint file for the run: the deletion removes its folder */
  g_assert_cmpint (g_mkdir_with_parents (run_dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (ckpt, "not really a checkpoint", -1, &error));

  select_runs (c);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "runs.delete", NULL));
  WAIT_UNTIL ((dialog = find_visible_toplevel (ADW_TYPE_MESSAGE_DIALOG)) != NULL
              && gtk_widget_get_mapped (GTK_WIDGET (dialog)), 3000);
  g_assert_nonnull (dialog);
  screenshot (GTK_WIDGET (dialog), "delete-dialog");
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "delete");
  gtk_window_destroy (dialog);  /* what a click does after the response */
  WAIT_UNTIL (has_toast ("Deleted 1 run"), 5000);
  g_assert_true (has_toast ("Deleted 1 run"));
  info = dinolab_store_get_run (store, uuids[2], &error);
  g_assert_null (info);
  g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
  g_assert_false (g_file_test (run_dir, G_FILE_TEST_EXISTS));
  WAIT_UNTIL (find_row (uuids[2]) < 0, 5000);
  g_assert_cmpint (find_row (uuids[2]), <, 0);
  g_assert_cmpuint (n_rows (), ==, 2);
  screenshot (GTK_WIDGET (window), "deleted");
}

/* ---- a live CLI run ------------------------------------------------------------------ */

static int
find_row_by_name (const char *name)
{
  guint i;

  for (i = 0; i < n_rows (); i++)
    if (g_strcmp0 (dinolab_run_row_get_name (row_at (i)), name) == 0)
      return (int) i;
  return -1;
}

static gboolean
row_moved_on (DinolabRunRow *row, const char *epochs, const char *loss)
{
  g_autofree char *e = row_text (row, "epochs-text");
  g_autofree char *l = row_text (row, "last-loss-text");
  return g_strcmp0 (e, epochs) != 0 && g_strcmp0 (l, loss) != 0;
}

static void
test_live_cli (void)
{
  const char *cli = g_getenv ("DINOLAB_CLI");
  g_autofree char *data = g_build_filename (tmpdir, "data", NULL);
  g_autofree char *dataset = NULL;
  g_autofree char *first_epochs = NULL;
  g_autofree char *first_loss = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *argv;
  DinolabRunRow *row = NULL;
  int pos = -1;
  guint i;

  if (cli == NULL || !g_file_test (cli, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("DINOLAB_CLI is not set to the dinolab-cli executable");
      return;
    }
  g_assert_cmpint (g_mkdir_with_parents (data, 0755), ==, 0);
  write_stripes_split (data, "train", 60, 12, 1);
  write_stripes_split (data, "test", 12, 12, 2);
  dataset = g_strdup_printf ("dataset=npy:%s/train_images.npy", data);

  argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (char *) cli);
  g_ptr_array_add (argv, (char *) "train");
  g_ptr_array_add (argv, (char *) "--db");
  g_ptr_array_add (argv, db_path);
  g_ptr_array_add (argv, (char *) "--name");
  g_ptr_array_add (argv, (char *) "live-cli-run");
  {
    static const char *const sets[] = {
      "arch=vit_custom", "patch_size=4", "embed_dim=16", "depth=1", "num_heads=2",
      "out_dim=32", "head_hidden_dim=32", "bottleneck_dim=16", "batch_size_per_gpu=4",
      "epochs=2000", "warmup_epochs=1", "local_crops_number=2", "global_crop_size=12",
      "local_crop_size=8", "img_size=12", "in_chans=1", "threads=1", "eval_every=1000",
      "checkpoint_every=1000", NULL
    };
    for (i = 0; sets[i] != NULL; i++)
      {
        g_ptr_array_add (argv, (char *) "--set");
        g_ptr_array_add (argv, (char *) sets[i]);
      }
  }
  g_ptr_array_add (argv, (char *) "--set");
  g_ptr_array_add (argv, dataset);
  g_ptr_array_add (argv, NULL);
  proc = g_subprocess_newv ((const char *const *) argv->pdata,
                            G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error);
  g_ptr_array_unref (argv);
  g_assert_no_error (error);

  /* the view refreshes by itself every 2 s */
  WAIT_UNTIL ((pos = find_row_by_name ("live-cli-run")) >= 0
              && dinolab_run_row_get_info (row_at (pos))->last_step >= 0, 20000);
  g_assert_cmpint (pos, >=, 0);
  row = g_object_ref (row_at (pos));
  g_assert_cmpint (dinolab_run_row_get_info (row)->status, ==, DINOLAB_RUN_STATUS_RUNNING);
  first_epochs = row_text (row, "epochs-text");
  first_loss = row_text (row, "last-loss-text");
  g_test_message ("live run first seen: epochs %s, loss %s", first_epochs, first_loss);
  screenshot (GTK_WIDGET (window), "live-cli-first");

  /* ... and its epochs and loss move on while it trains */
  WAIT_UNTIL (row_moved_on (row, first_epochs, first_loss), 20000);
  g_assert_false (timed_out);
  {
    g_autofree char *e = row_text (row, "epochs-text");
    g_autofree char *l = row_text (row, "last-loss-text");
    g_test_message ("live run later: epochs %s, loss %s", e, l);
  }
  screenshot (GTK_WIDGET (window), "live-cli-later");

  /* Ctrl-C: the CLI stops after the current step */
  g_subprocess_send_signal (proc, SIGINT);
  g_assert_true (g_subprocess_wait (proc, NULL, &error));
  WAIT_UNTIL (dinolab_run_row_get_info (row)->status != DINOLAB_RUN_STATUS_RUNNING, 10000);
  g_test_message ("live run after SIGINT: %s",
                  dinolab_run_status_to_string (dinolab_run_row_get_info (row)->status));
  g_assert_cmpint (dinolab_run_row_get_info (row)->status, !=, DINOLAB_RUN_STATUS_RUNNING);
  g_object_unref (row);
}

/* ---- main ------------------------------------------------------------------------------- */

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  int status;

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  tmpdir = make_tmp_dir ("dinolab-test-runs-XXXXXX");
  screenshot_dir_init (tmpdir);
  db_path = g_build_filename (tmpdir, "runs.db", NULL);
  store = dinolab_store_open (db_path, &error);
  g_assert_no_error (error);
  toasts = g_ptr_array_new_with_free_func (g_free);  /* test_list adds the stand-in */
  make_runs ();

  g_test_add_func ("/runs/list", test_list);
  g_test_add_func ("/runs/search", test_search);
  g_test_add_func ("/runs/sort", test_sort);
  g_test_add_func ("/runs/compare", test_compare);
  g_test_add_func ("/runs/export", test_export);
  g_test_add_func ("/runs/resume-new-from", test_resume_new_from);
  g_test_add_func ("/runs/edit", test_edit);
  g_test_add_func ("/runs/delete", test_delete);
  g_test_add_func ("/runs/live-cli", test_live_cli);
  status = g_test_run ();

  if (window != NULL)
    gtk_window_destroy (window);
  dinolab_store_close (store);
  remove_tree (tmpdir);
  g_ptr_array_unref (toasts);
  g_free (tmpdir);
  g_free (db_path);
  g_free (shot_dir);
  return status;
}
