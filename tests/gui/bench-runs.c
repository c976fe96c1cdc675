/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * bench-runs.c: how fast the Runs view opens. Builds a temporary store with
 * 1,000 runs (summary rows only) plus 10 runs of 100,000 loss points each
 * (through dinolab_store_writer_*, as `dinolab-cli bench-store` does), then
 * prints: the time from dinolab_runs_view_set_store() on a shown view to
 * the 1,010-row table drawn, and the time from selecting the 10 big runs to
 * the comparison plot drawn with their 1,000,000 points. Targets: the list
 * "at once" (well under a second), the comparison under 1 s. It checks
 * nothing else; tests/gui/test-runs.c does.
 */
#define G_LOG_DOMAIN "bench-runs"

#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <adwaita.h>

#include "dinolab/store.h"
#include "dinolab-compare-page.h"
#include "dinolab-plot.h"
#include "dinolab-run-model.h"
#include "dinolab-runs-view.h"

#include "gui-test-util.h"

#define N_SMALL   1000
#define N_BIG       10
#define N_POINTS 100000

static guint n_loaded;

static void
on_loaded (void)
{
  n_loaded++;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tmpdir = g_dir_make_tmp ("dinolab-bench-runs-XXXXXX", &error);
  g_autofree char *db_path = NULL;
  g_autoptr(GPtrArray) big = g_ptr_array_new_with_free_func (g_free);
  DinolabStore *store;
  GtkWindow *window;
  GtkWidget *view;
  GtkColumnView *column_view;
  GtkSelectionModel *table;
  DinolabComparePage *page;
  gint64 t0;
  double t_list;
  double t_compare;
  guint before;
  int i;

  gtk_init ();
  adw_init ();
  g_assert_no_error (error);
  db_path = g_build_filename (tmpdir, "runs.db", NULL);
  store = dinolab_store_open (db_path, &error);
  g_assert_no_error (error);

  /* 1. the fixture (not timed) */
  t0 = g_get_monotonic_time ();
  for (i = 0; i < N_SMALL + N_BIG; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"dataset\":\"fashion-mnist\",\"epochs\":100,"
                                               "\"lr\":%g,\"seed\":%d}", 1e-4 * (1 + i % 7), i);
      g_autofree char *name = g_strdup_printf ("%s-%04d", i < N_BIG ? "big" : "small", i);
      DinolabRunSpec spec = { 0 };
      char *uuid;

      spec.hparams_json = json;
      spec.name = name;
      spec.status = DINOLAB_RUN_STATUS_FINISHED;
      uuid = dinolab_store_create_run (store, &spec, &error);
      g_assert_no_error (error);
      if (i < N_BIG)
        {
          DinolabStoreWriter *writer = dinolab_store_writer_new (store, uuid, &error);
          const char *keys[] = { DINOLAB_METRIC_LOSS };
          gint64 step;

          g_assert_no_error (error);
          for (step = 0; step < N_POINTS; step++)
            {
              double value = 11.0 / (1.0 + 0.001 * (double) step) + 0.1 * i;
              dinolab_store_writer_push_metrics (writer, step, (double) step / 1000.0,
                                                 (double) step * 0.05, 1, keys, &value);
            }
          g_assert_true (dinolab_store_writer_flush (writer, &error));
          dinolab_store_writer_set_status (writer, DINOLAB_RUN_STATUS_FINISHED);
          dinolab_store_writer_free (writer);
          g_ptr_array_add (big, uuid);
        }
      else
        g_free (uuid);
    }
  printf ("fixture: %d runs, %d of them with %d points, built in %.1f s\n",
          N_SMALL + N_BIG, N_BIG, N_POINTS, (double) (g_get_monotonic_time () - t0) / 1e6);

  window = GTK_WINDOW (gtk_window_new ());
  gtk_window_set_default_size (window, 1200, 800);
  view = dinolab_runs_view_new ();
  gtk_window_set_child (window, view);
  gtk_window_present (window);
  column_view = GTK_COLUMN_VIEW (find_descendant (view, GTK_TYPE_COLUMN_VIEW));
  table = gtk_column_view_get_model (column_view);
  page = DINOLAB_COMPARE_PAGE (find_descendant (view, DINOLAB_TYPE_COMPARE_PAGE));
  g_signal_connect (page, "loaded", G_CALLBACK (on_loaded), NULL);
  gtk_test_widget_wait_for_draw (view);

  /* 2. the list: set_store -> every row in the model -> next frame drawn */
  t0 = g_get_monotonic_time ();
  dinolab_runs_view_set_store (DINOLAB_RUNS_VIEW (view), store);
  WAIT_UNTIL (g_list_model_get_n_items (G_LIST_MODEL (table)) == N_SMALL + N_BIG, 30000);
  g_assert_false (timed_out);
  gtk_test_widget_wait_for_draw (view);
  t_list = (double) (g_get_monotonic_time () - t0) / 1e3;
  printf ("runs list: %d runs shown in %.1f ms\n", N_SMALL + N_BIG, t_list);

  /* 3. the comparison: select the 10 big runs -> series read -> plot drawn */
  before = n_loaded;
  t0 = g_get_monotonic_time ();
  for (i = 0; i < (int) g_list_model_get_n_items (G_LIST_MODEL (table)); i++)
    {
      g_autoptr(DinolabRunRow) row = g_list_model_get_item (G_LIST_MODEL (table), i);
      guint k;
      for (k = 0; k < big->len; k++)
        if (strcmp (dinolab_run_row_get_uuid (row), g_ptr_array_index (big, k)) == 0)
          gtk_selection_model_select_item (table, i, FALSE);
    }
  WAIT_UNTIL (n_loaded > before, 60000);
  g_assert_false (timed_out);
  gtk_test_widget_wait_for_draw (GTK_WIDGET (dinolab_compare_page_get_plot (page)));
  t_compare = (double) (g_get_monotonic_time () - t0) / 1e3;
  g_assert_cmpuint (dinolab_plot_get_n_series (dinolab_compare_page_get_plot (page)), ==, N_BIG);
  printf ("comparison: %d runs x %d points drawn in %.1f ms (target < 1000 ms)\n",
          N_BIG, N_POINTS, t_compare);

  gtk_window_destroy (window);
  dinolab_store_close (store);
  remove_tree (tmpdir);
  return 0;
}
