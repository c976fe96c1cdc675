/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-compare-page.c: DinolabComparePage (see dinolab-compare-page.h),
 * template ui/dinolab-compare-page.ui. A selection starts one GTask that
 * reads, for every run, its metric names, its hyperparameter table and the
 * series of the chosen metric, and builds the DinolabPlotSeries there (a
 * series no widget has seen yet is plain data); the main thread only swaps
 * them into the plot and rebuilds the table. A metric change reads the
 * series alone. A generation counter drops results that a newer request
 * superseded. It does not edit runs.
 */
#define G_LOG_DOMAIN "dinolab-compare-page"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "dinolab-compare-page.h"

struct _DinolabComparePage
{
  AdwBin              parent_instance;

  /* template children */
  GtkStack           *stack;
  GtkDropDown        *metric_dropdown;
  GtkStringList      *metric_list;
  GtkDropDown        *x_dropdown;
  GtkToggleButton    *log_button;
  GtkAdjustment      *smoothing_adjustment;
  DinolabPlot        *plot;
  GtkSwitch          *only_diff_switch;
  GtkGrid            *hparams_grid;

  DinolabRunStoreRef *ref;
  GPtrArray          *uuids;        /* char *, the runs compared */
  GPtrArray          *names;        /* char *, their names (legend, columns) */
  GPtrArray          *tables;       /* GHashTable key -> value, one per run */
  char               *metric;
  GPtrArray          *shown_keys;   /* char *, rows of the table now */
  guint               generation;
  guint               n_loading;
  gboolean            updating_dropdown;
};

G_DEFINE_FINAL_TYPE (DinolabComparePage, dinolab_compare_page, ADW_TYPE_BIN)

enum {
  SIGNAL_LOADED,
  SIGNAL_ERROR,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* ---- worker ----------------------------------------------------------------- */

typedef struct
{
  DinolabRunStoreRef *ref;
  GStrv               uuids;
  GStrv               names;
  char               *metric;       /* wanted; NULL: choose */
  gboolean            with_tables;  /* also metric names and hparams */
  guint               generation;
  /* results */
  GStrv               metrics;      /* sorted union */
  GPtrArray          *tables;       /* GHashTable */
  GPtrArray          *series;       /* DinolabPlotSeries */
} LoadJob;

static void
load_job_free (LoadJob *job)
{
  dinolab_run_store_ref_unref (job->ref);
  g_strfreev (job->uuids);
  g_strfreev (job->names);
  g_free (job->metric);
  g_strfreev (job->metrics);
  g_clear_pointer (&job->tables, g_ptr_array_unref);
  g_clear_pointer (&job->series, g_ptr_array_unref);
  g_free (job);
}

static DinolabPlotSeries *
series_from_store (const DinolabMetricSeries *s,
                   const char                *label)
{
  DinolabPlotSeries *series = dinolab_plot_series_new (label);
  g_autofree double *step = g_new (double, MAX (s->n, 1));
  gsize i;

  for (i = 0; i < s->n; i++)
    step[i] = (double) s->step[i];
  if (s->n > 0)
    dinolab_plot_series_append_many (series, step, s->epoch, s->wall, s->value, s->n);
  return series;
}

/* One reader of the series of a comparison: runs @start, @start + @step,
 * ... into @out[i]. With @path it opens its own read-only connection. */
typedef struct
{
  GStrv               uuids;
  GStrv               names;
  const char         *metric;
  const char         *path;
  guint               start;
  guint               step;
  DinolabPlotSeries **out;
  GError             *error;
} ReadPart;

static void
read_part (ReadPart     *part,
           DinolabStore *store)
{
  guint i;

  for (i = part->start; part->error == NULL && i < g_strv_length (part->uuids); i += part->step)
    {
      g_autoptr(DinolabMetricSeries) s = dinolab_store_read_series (store, part->uuids[i],
                                                                     part->metric, -1,
                                                                     &part->error);
      if (s != NULL)
        part->out[i] = series_from_store (s, part->names[i]);
    }
}

static gpointer
read_part_thread (gpointer data)
{
  ReadPart *part = data;
  g_autoptr(DinolabStore) store = dinolab_store_open_full (part->path,
                                                           DINOLAB_STORE_OPEN_READ_ONLY,
                                                           &part->error);
  if (store != NULL)
    read_part (part, store);
  return NULL;
}

static void
load_job_run (GTask        *task,
              gpointer      source G_GNUC_UNUSED,
              gpointer      task_data,
              GCancellable *cancellable G_GNUC_UNUSED)
{
  LoadJob *job = task_data;
  GError *error = NULL;
  DinolabStore *store = dinolab_run_store_ref_get (job->ref, &error);
  gint64 t0 = g_get_monotonic_time ();
  gint64 t1;
  guint i;

  if (store == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  if (job->with_tables)
    {
      g_autoptr(GHashTable) union_set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      GList *keys;
      GList *l;
      guint n = 0;

      job->tables = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
      for (i = 0; job->uuids[i] != NULL; i++)
        {
          g_auto(GStrv) metrics = dinolab_store_list_metrics (store, job->uuids[i], &error);
          GHashTable *table;
          guint m;

          if (metrics == NULL)
            {
              g_task_return_error (task, error);
              return;
            }
          for (m = 0; metrics[m] != NULL; m++)
            g_hash_table_add (union_set, g_strdup (metrics[m]));
          table = dinolab_store_get_hparams_table (store, job->uuids[i], &error);
          if (table == NULL)
            {
              g_task_return_error (task, error);
              return;
            }
          g_ptr_array_add (job->tables, table);
        }
      keys = g_list_sort (g_hash_table_get_keys (union_set), (GCompareFunc) strcmp);
      job->metrics = g_new0 (char *, g_list_length (keys) + 1);
      for (l = keys; l != NULL; l = l->next)
        job->metrics[n++] = g_strdup (l->data);
      g_list_free (keys);

      if (job->metric == NULL || !g_strv_contains ((const char *const *) job->metrics, job->metric))
        {
          g_free (job->metric);
          if (g_strv_contains ((const char *const *) job->metrics, DINOLAB_METRIC_LOSS))
            job->metric = g_strdup (DINOLAB_METRIC_LOSS);
          else
            job->metric = g_strdup (job->metrics[0]);  /* NULL when there is none */
        }
    }

  t1 = g_get_monotonic_time ();
  job->series = g_ptr_array_new_with_free_func (g_object_unref);
  if (job->metric != NULL)
    {
      guint n = g_strv_length (job->uuids);
      g_autofree DinolabPlotSeries **out = g_new0 (DinolabPlotSeries *, n);
      ReadPart parts[2] = {
        { job->uuids, job->names, job->metric, NULL, 0, 2, out, NULL },
        { job->uuids, job->names, job->metric, dinolab_run_store_ref_get_path (job->ref),
          1, 2, out, NULL },
      };
      GThread *helper = NULL;

      /* Two readers, each on its own connection (one handle serialises its
       * calls): SQLite decoding is most of the time of a big comparison. */
      if (n >= 2 && g_get_num_processors () > 1)
        helper = g_thread_try_new ("dinolab-compare-read", read_part_thread, &parts[1], NULL);
      if (helper == NULL)
        parts[0].step = 1;
      read_part (&parts[0], store);
      if (helper != NULL)
        g_thread_join (helper);
      for (i = 0; i < n; i++)
        if (out[i] != NULL)
          g_ptr_array_add (job->series, out[i]);
      if (parts[0].error != NULL || parts[1].error != NULL)
        {
          g_task_return_error (task, parts[0].error != NULL ? parts[0].error : parts[1].error);
          g_clear_error (parts[0].error != NULL ? &parts[1].error : &parts[0].error);
          return;
        }
    }
  g_debug ("read %u runs: metric names and hparams %.1f ms, series of %s %.1f ms",
           g_strv_length (job->uuids), (double) (t1 - t0) / 1e3,
           job->metric != NULL ? job->metric : "(none)",
           (double) (g_get_monotonic_time () - t1) / 1e3);
  g_task_return_boolean (task, TRUE);
}

/* ---- hyperparameter table ------------------------------------------------------- */

static GtkWidget *
table_label (const char *text,
             const char *css_class)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 24);
  gtk_widget_set_tooltip_text (label, text);
  if (css_class != NULL)
    gtk_widget_add_css_class (label, css_class);
  return label;
}

static void
dinolab_compare_page_rebuild_table (DinolabComparePage *self)
{
  g_autoptr(GHashTable) union_set = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean only = gtk_switch_get_active (self->only_diff_switch);
  GtkWidget *child;
  GList *keys;
  GList *l;
  int row = 1;
  guint r;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->hparams_grid))) != NULL)
    gtk_grid_remove (self->hparams_grid, child);
  g_ptr_array_set_size (self->shown_keys, 0);
  if (self->tables == NULL)
    return;

  gtk_grid_attach (self->hparams_grid, table_label (_("Key"), "heading"), 0, 0, 1, 1);
  for (r = 0; r < self->tables->len; r++)
    gtk_grid_attach (self->hparams_grid,
                     table_label (g_ptr_array_index (self->names, r), "heading"),
                     (int) r + 1, 0, 1, 1);

  for (r = 0; r < self->tables->len; r++)
    {
      GHashTableIter iter;
      gpointer key;

      g_hash_table_iter_init (&iter, g_ptr_array_index (self->tables, r));
      while (g_hash_table_iter_next (&iter, &key, NULL))
        g_hash_table_add (union_set, key);
    }
  keys = g_list_sort (g_hash_table_get_keys (union_set), (GCompareFunc) strcmp);
  for (l = keys; l != NULL; l = l->next)
    {
      const char *key = l->data;
      const char *first = g_hash_table_lookup (g_ptr_array_index (self->tables, 0), key);
      gboolean differs = FALSE;

      for (r = 1; r < self->tables->len; r++)
        if (g_strcmp0 (first, g_hash_table_lookup (g_ptr_array_index (self->tables, r), key)) != 0)
          differs = TRUE;
      if (only && !differs)
        continue;
      gtk_grid_attach (self->hparams_grid, table_label (key, differs ? "accent" : "dim-label"),
                       0, row, 1, 1);
      for (r = 0; r < self->tables->len; r++)
        {
          const char *value = g_hash_table_lookup (g_ptr_array_index (self->tables, r), key);
          gtk_grid_attach (self->hparams_grid,
                           table_label (value != NULL ? value : "–", differs ? "accent" : NULL),
                           (int) r + 1, row, 1, 1);
        }
      g_ptr_array_add (self->shown_keys, g_strdup (key));
      row++;
    }
  g_list_free (keys);
}

/* ---- applying results ------------------------------------------------------------- */

static void
dinolab_compare_page_describe_plot (DinolabComparePage *self)
{
  g_autofree char *runs = NULL;
  g_autofree char *text = NULL;

  g_ptr_array_add (self->names, NULL);
  runs = g_strjoinv (", ", (char **) self->names->pdata);
  g_ptr_array_remove_index (self->names, self->names->len - 1);
  /* Translators: accessible description of the comparison plot: metric, then run names */
  text = g_strdup_printf (_("Curves of %s for the runs %s"),
                          self->metric != NULL ? self->metric : "–", runs);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->plot),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, text, -1);
}

static void
dinolab_compare_page_set_series (DinolabComparePage *self,
                                 GPtrArray          *series)
{
  guint i;

  while (dinolab_plot_get_n_series (self->plot) > 0)
    dinolab_plot_remove_series (self->plot, dinolab_plot_get_series (self->plot, 0));
  for (i = 0; series != NULL && i < series->len; i++)
    dinolab_plot_add_series (self->plot, g_ptr_array_index (series, i));
  dinolab_plot_reset_view (self->plot);
  dinolab_compare_page_describe_plot (self);
}

static void
load_job_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data G_GNUC_UNUSED)
{
  DinolabComparePage *self = DINOLAB_COMPARE_PAGE (source);
  LoadJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;
  guint i;

  self->n_loading--;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (job->generation == self->generation)
        g_signal_emit (self, signals[SIGNAL_ERROR], 0, error->message);
      return;
    }
  if (job->generation != self->generation)
    return;

  if (job->with_tables)
    {
      guint selected = GTK_INVALID_LIST_POSITION;

      g_clear_pointer (&self->tables, g_ptr_array_unref);
      self->tables = g_steal_pointer (&job->tables);
      self->updating_dropdown = TRUE;
      gtk_string_list_splice (self->metric_list, 0,
                              g_list_model_get_n_items (G_LIST_MODEL (self->metric_list)),
                              (const char *const *) job->metrics);
      for (i = 0; job->metrics[i] != NULL; i++)
        if (g_strcmp0 (job->metrics[i], job->metric) == 0)
          selected = i;
      gtk_drop_down_set_selected (self->metric_dropdown, selected);
      self->updating_dropdown = FALSE;
      dinolab_compare_page_rebuild_table (self);
    }
  g_free (self->metric);
  self->metric = g_strdup (job->metric);
  dinolab_compare_page_set_series (self, job->series);
  g_signal_emit (self, signals[SIGNAL_LOADED], 0);
}

static void
dinolab_compare_page_load (DinolabComparePage *self,
                           gboolean            with_tables)
{
  g_autoptr(GTask) task = NULL;
  LoadJob *job;

  if (self->ref == NULL || self->uuids->len == 0)
    return;
  job = g_new0 (LoadJob, 1);
  job->ref = dinolab_run_store_ref_ref (self->ref);
  g_ptr_array_add (self->uuids, NULL);
  g_ptr_array_add (self->names, NULL);
  job->uuids = g_strdupv ((char **) self->uuids->pdata);
  job->names = g_strdupv ((char **) self->names->pdata);
  g_ptr_array_remove_index (self->uuids, self->uuids->len - 1);
  g_ptr_array_remove_index (self->names, self->names->len - 1);
  job->metric = g_strdup (self->metric);
  job->with_tables = with_tables;
  job->generation = ++self->generation;

  task = g_task_new (self, NULL, load_job_done, NULL);
  g_task_set_source_tag (task, dinolab_compare_page_load);
  g_task_set_task_data (task, job, (GDestroyNotify) load_job_free);
  self->n_loading++;
  g_task_run_in_thread (task, load_job_run);
}

/* ---- controls ---------------------------------------------------------------------- */

static void
on_metric_selected (DinolabComparePage *self)
{
  GtkStringObject *item;

  if (self->updating_dropdown)
    return;
  item = gtk_drop_down_get_selected_item (self->metric_dropdown);
  if (item != NULL)
    dinolab_compare_page_set_metric (self, gtk_string_object_get_string (item));
}

static void
on_x_selected (DinolabComparePage *self)
{
  guint selected = gtk_drop_down_get_selected (self->x_dropdown);

  if (selected < DINOLAB_PLOT_X_N_KINDS)
    dinolab_plot_set_x_kind (self->plot, (DinolabPlotXKind) selected);
}

static void
on_log_toggled (DinolabComparePage *self)
{
  dinolab_plot_set_log_y (self->plot, gtk_toggle_button_get_active (self->log_button));
}

static void
on_smoothing_changed (DinolabComparePage *self)
{
  dinolab_plot_set_smoothing (self->plot, gtk_adjustment_get_value (self->smoothing_adjustment));
}

static void
on_only_diff_changed (DinolabComparePage *self)
{
  dinolab_compare_page_rebuild_table (self);
}

/* ---- GObject ----------------------------------------------------------------------- */

static void
dinolab_compare_page_dispose (GObject *object)
{
  DinolabComparePage *self = DINOLAB_COMPARE_PAGE (object);

  self->generation++;  /* results still in flight are dropped */
  /* the stack is both AdwBin's child and a template child: unparent it
   * once, through AdwBin, before the template clears its pointer */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), DINOLAB_TYPE_COMPARE_PAGE);
  g_clear_pointer (&self->ref, dinolab_run_store_ref_unref);
  g_clear_pointer (&self->tables, g_ptr_array_unref);
  G_OBJECT_CLASS (dinolab_compare_page_parent_class)->dispose (object);
}

static void
dinolab_compare_page_finalize (GObject *object)
{
  DinolabComparePage *self = DINOLAB_COMPARE_PAGE (object);

  g_ptr_array_unref (self->uuids);
  g_ptr_array_unref (self->names);
  g_ptr_array_unref (self->shown_keys);
  g_free (self->metric);
  G_OBJECT_CLASS (dinolab_compare_page_parent_class)->finalize (object);
}

static void
dinolab_compare_page_class_init (DinolabComparePageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = dinolab_compare_page_dispose;
  object_class->finalize = dinolab_compare_page_finalize;

  signals[SIGNAL_LOADED] = g_signal_new ("loaded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_ERROR] = g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                        0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);

  g_type_ensure (DINOLAB_TYPE_PLOT);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/dinolab/Dinolab/dinolab-compare-page.ui");
  gtk_widget_class_bind_template_child (widget_class, DinolabComparePage, stack);
  gtk_widget_class_bind_template_child (widget_class, DinolabComparePage, metric_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DinolabComparePage, metric_list);
  gtk_widget_class_bind_template_child (widget_class, DinolabComparePage, x_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DinolabComparePage, log_button);
  gtk_widget_class_bind_template_child (widget_class, DinolabComparePage, smoothing_adjustment);
  gtk_widget_class_bind_template_child (widget_class, DinolabComparePage, plot);
  gtk_widget_class_bind_template_child (widget_class, DinolabComparePage, only_diff_switch);
  gtk_widget_class_bind_template_child (widget_class, DinolabComparePage, hparams_grid);
}

static void
dinolab_compare_page_init (DinolabComparePage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->uuids = g_ptr_array_new_with_free_func (g_free);
  self->names = g_ptr_array_new_with_free_func (g_free);
  self->shown_keys = g_ptr_array_new_with_free_func (g_free);

  dinolab_plot_set_smoothing (self->plot, gtk_adjustment_get_value (self->smoothing_adjustment));
  g_signal_connect_swapped (self->metric_dropdown, "notify::selected",
                            G_CALLBACK (on_metric_selected), self);
  g_signal_connect_swapped (self->x_dropdown, "notify::selected",
                            G_CALLBACK (on_x_selected), self);
  g_signal_connect_swapped (self->log_button, "toggled", G_CALLBACK (on_log_toggled), self);
  g_signal_connect_swapped (self->smoothing_adjustment, "value-changed",
                            G_CALLBACK (on_smoothing_changed), self);
  g_signal_connect_swapped (self->only_diff_switch, "notify::active",
                            G_CALLBACK (on_only_diff_changed), self);
}

/* ---- public ------------------------------------------------------------------------ */

GtkWidget *
dinolab_compare_page_new (void)
{
  return g_object_new (DINOLAB_TYPE_COMPARE_PAGE, NULL);
}

void
dinolab_compare_page_set_runs (DinolabComparePage *self,
                               DinolabRunStoreRef *ref,
                               GPtrArray          *rows)
{
  guint i;

  g_return_if_fail (DINOLAB_IS_COMPARE_PAGE (self));

  if (ref != self->ref)
    {
      g_clear_pointer (&self->ref, dinolab_run_store_ref_unref);
      self->ref = ref != NULL ? dinolab_run_store_ref_ref (ref) : NULL;
    }
  g_ptr_array_set_size (self->uuids, 0);
  g_ptr_array_set_size (self->names, 0);
  for (i = 0; rows != NULL && i < rows->len; i++)
    {
      DinolabRunRow *row = g_ptr_array_index (rows, i);
      g_ptr_array_add (self->uuids, g_strdup (dinolab_run_row_get_uuid (row)));
      g_ptr_array_add (self->names, g_strdup (dinolab_run_row_get_name (row)));
    }

  if (self->uuids->len == 0 || self->ref == NULL)
    {
      self->generation++;
      g_clear_pointer (&self->tables, g_ptr_array_unref);
      dinolab_compare_page_set_series (self, NULL);
      dinolab_compare_page_rebuild_table (self);
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }
  gtk_stack_set_visible_child_name (self->stack, "compare");
  dinolab_compare_page_load (self, TRUE);
}

const char *
dinolab_compare_page_get_metric (DinolabComparePage *self)
{
  g_return_val_if_fail (DINOLAB_IS_COMPARE_PAGE (self), NULL);
  return self->metric;
}

void
dinolab_compare_page_set_metric (DinolabComparePage *self,
                                 const char         *metric)
{
  g_return_if_fail (DINOLAB_IS_COMPARE_PAGE (self));
  g_return_if_fail (metric != NULL);

  if (g_strcmp0 (metric, self->metric) == 0)
    return;
  g_free (self->metric);
  self->metric = g_strdup (metric);
  dinolab_compare_page_load (self, FALSE);
}

void
dinolab_compare_page_set_only_differences (DinolabComparePage *self,
                                           gboolean            only)
{
  g_return_if_fail (DINOLAB_IS_COMPARE_PAGE (self));
  gtk_switch_set_active (self->only_diff_switch, only);
}

char **
dinolab_compare_page_get_shown_keys (DinolabComparePage *self)
{
  char **keys;
  guint i;

  g_return_val_if_fail (DINOLAB_IS_COMPARE_PAGE (self), NULL);

  keys = g_new0 (char *, self->shown_keys->len + 1);
  for (i = 0; i < self->shown_keys->len; i++)
    keys[i] = g_strdup (g_ptr_array_index (self->shown_keys, i));
  return keys;
}

gboolean
dinolab_compare_page_is_loading (DinolabComparePage *self)
{
  g_return_val_if_fail (DINOLAB_IS_COMPARE_PAGE (self), FALSE);
  return self->n_loading > 0;
}

DinolabPlot *
dinolab_compare_page_get_plot (DinolabComparePage *self)
{
  g_return_val_if_fail (DINOLAB_IS_COMPARE_PAGE (self), NULL);
  return self->plot;
}
