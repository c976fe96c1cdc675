/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-runs-view.c: DinolabRunsView (see dinolab-runs-view.h), template
 * ui/dinolab-runs-view.ui. The table is DinolabRunModel -> GtkFilterListModel
 * (search) -> GtkSortListModel (the column view's sorter) ->
 * GtkMultiSelection. The list is read in a GTask on a store handle of the
 * view's own (DinolabRunStoreRef) and merged into the model in place, so a
 * refresh every 2 s keeps the selection and the scroll position. Edits,
 * deletions, "new run from" and the CSV export are GTasks too; their
 * outcome reaches the user as a toast through "win.show-toast". It does not
 * train or resume anything itself (signals), nor draw curves (the compare
 * page does).
 */
#define G_LOG_DOMAIN "dinolab-runs-view"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "dinolab-compare-page.h"
#include "dinolab-run-model.h"
#include "dinolab-runs-view.h"

#define REFRESH_INTERVAL_MS  2000
#define CHECK_ALIVE_EVERY    5     /* refreshes between two liveness checks */

struct _DinolabRunsView
{
  AdwBin               parent_instance;

  /* template children */
  GtkSearchEntry      *search_entry;
  GtkScrolledWindow   *scrolled_window;
  GtkColumnView       *column_view;
  DinolabComparePage  *compare_page;

  DinolabRunModel     *model;
  GtkCustomFilter     *filter;
  GtkMultiSelection   *selection;
  char                *search;        /* current search text */

  DinolabRunStoreRef  *ref;
  guint                generation;    /* bumped by set_store */
  guint                refresh_id;
  guint                n_loads;
  gboolean             loading;
  guint                selection_idle_id;
  GPtrArray           *selected;      /* DinolabRunRow, in table order */
  char                *selected_key;  /* uuids of @selected joined: change detection */
};

G_DEFINE_FINAL_TYPE (DinolabRunsView, dinolab_runs_view, ADW_TYPE_BIN)

enum {
  SIGNAL_RESUME_RUN,
  SIGNAL_NEW_RUN_FROM,
  SIGNAL_LOADED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void dinolab_runs_view_update_actions (DinolabRunsView *self);

static void
dinolab_runs_view_toast (DinolabRunsView *self,
                         const char      *message)
{
  /* The window provides win.show-toast; without it (a bare test window)
   * the message goes to the debug log only. */
  if (!gtk_widget_activate_action (GTK_WIDGET (self), "win.show-toast", "s", message))
    g_debug ("toast: %s", message);
}

/* ---- loading the list --------------------------------------------------------- */

typedef struct
{
  DinolabRunStoreRef *ref;
  guint               generation;
  gboolean            check_alive;
} ListJob;

static void
list_job_free (ListJob *job)
{
  dinolab_run_store_ref_unref (job->ref);
  g_free (job);
}

static void
list_job_run (GTask        *task,
              gpointer      source G_GNUC_UNUSED,
              gpointer      task_data,
              GCancellable *cancellable G_GNUC_UNUSED)
{
  ListJob *job = task_data;
  gint64 t0 = g_get_monotonic_time ();
  GError *error = NULL;
  DinolabStore *store = dinolab_run_store_ref_get (job->ref, &error);
  GPtrArray *infos;

  if (store == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* best effort: a failed liveness check (a locked database) is retried later */
  if (job->check_alive && dinolab_store_check_alive (store, &error) < 0)
    {
      g_debug ("liveness check: %s", error->message);
      g_clear_error (&error);
    }
  infos = dinolab_store_list_runs (store, &error);
  g_debug ("listed %u runs in %.1f ms", infos != NULL ? infos->len : 0,
           (double) (g_get_monotonic_time () - t0) / 1e3);
  if (infos == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, infos, (GDestroyNotify) g_ptr_array_unref);
}

static void
list_job_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data G_GNUC_UNUSED)
{
  DinolabRunsView *self = DINOLAB_RUNS_VIEW (source);
  ListJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;
  GPtrArray *infos = g_task_propagate_pointer (G_TASK (result), &error);

  self->loading = FALSE;
  if (job->generation != self->generation)
    {
      g_clear_pointer (&infos, g_ptr_array_unref);
      return;
    }
  if (infos == NULL)
    {
      dinolab_runs_view_toast (self, error->message);
      return;
    }
  {
    gint64 t0 = g_get_monotonic_time ();
    /* A first load of many runs: the column view takes the whole list at
     * once when the model is set, much faster than it follows one big
     * items-changed (GTK 4.8). Nothing is selected yet, so nothing is lost. */
    gboolean detach = g_list_model_get_n_items (G_LIST_MODEL (self->model)) == 0 && infos->len > 100;

    if (detach)
      gtk_column_view_set_model (self->column_view, NULL);
    dinolab_run_model_update (self->model, infos);
    if (detach)
      gtk_column_view_set_model (self->column_view, GTK_SELECTION_MODEL (self->selection));
    g_debug ("run list applied in %.1f ms", (double) (g_get_monotonic_time () - t0) / 1e3);
  }
  dinolab_runs_view_update_actions (self);
  g_signal_emit (self, signals[SIGNAL_LOADED], 0);
}

void
dinolab_runs_view_refresh (DinolabRunsView *self)
{
  g_autoptr(GTask) task = NULL;
  ListJob *job;

  g_return_if_fail (DINOLAB_IS_RUNS_VIEW (self));

  if (self->ref == NULL || self->loading)
    return;
  job = g_new0 (ListJob, 1);
  job->ref = dinolab_run_store_ref_ref (self->ref);
  job->generation = self->generation;
  job->check_alive = (self->n_loads++ % CHECK_ALIVE_EVERY) == 0;
  self->loading = TRUE;
  task = g_task_new (self, NULL, list_job_done, NULL);
  g_task_set_source_tag (task, dinolab_runs_view_refresh);
  g_task_set_task_data (task, job, (GDestroyNotify) list_job_free);
  g_task_run_in_thread (task, list_job_run);
}

static gboolean
on_refresh_timeout (gpointer user_data)
{
  dinolab_runs_view_refresh (DINOLAB_RUNS_VIEW (user_data));
  return G_SOURCE_CONTINUE;
}

/* ---- selection ------------------------------------------------------------------ */

static DinolabRunRow *
dinolab_runs_view_get_single (DinolabRunsView *self)
{
  return self->selected->len == 1 ? g_ptr_array_index (self->selected, 0) : NULL;
}

static void
dinolab_runs_view_update_actions (DinolabRunsView *self)
{
  DinolabRunRow *single = dinolab_runs_view_get_single (self);
  gboolean any_live = FALSE;
  guint i;

  for (i = 0; i < self->selected->len; i++)
    {
      DinolabRunStatus status = dinolab_run_row_get_info (g_ptr_array_index (self->selected, i))->status;
      if (status == DINOLAB_RUN_STATUS_RUNNING || status == DINOLAB_RUN_STATUS_PAUSED)
        any_live = TRUE;
    }
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "runs.edit", single != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "runs.resume", single != NULL && !any_live);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "runs.new-from", single != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "runs.export-csv", single != NULL);
  /* a run a process is training is not deleted under its feet */
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "runs.delete",
                                 self->selected->len > 0 && !any_live);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "runs.export-plot", self->selected->len > 0);
}

static gboolean
on_selection_idle (gpointer user_data)
{
  DinolabRunsView *self = DINOLAB_RUNS_VIEW (user_data);
  GtkSelectionModel *model = GTK_SELECTION_MODEL (self->selection);
  g_autoptr(GtkBitset) bits = gtk_selection_model_get_selection (model);
  g_autoptr(GString) key = g_string_new (NULL);
  GtkBitsetIter iter;
  guint pos;

  self->selection_idle_id = 0;
  g_ptr_array_set_size (self->selected, 0);
  if (gtk_bitset_iter_init_first (&iter, bits, &pos))
    do
      {
        DinolabRunRow *row = g_list_model_get_item (G_LIST_MODEL (model), pos);
        g_ptr_array_add (self->selected, row);
        g_string_append (key, dinolab_run_row_get_uuid (row));
        g_string_append_c (key, ' ');
      }
    while (gtk_bitset_iter_next (&iter, &pos));

  dinolab_runs_view_update_actions (self);
  if (g_strcmp0 (key->str, self->selected_key) != 0)
    {
      g_free (self->selected_key);
      self->selected_key = g_strdup (key->str);
      dinolab_compare_page_set_runs (self->compare_page, self->ref, self->selected);
    }
  return G_SOURCE_REMOVE;
}

static void
dinolab_runs_view_queue_selection (DinolabRunsView *self)
{
  if (self->selection_idle_id == 0)
    self->selection_idle_id = g_idle_add (on_selection_idle, self);
}

/* ---- search ----------------------------------------------------------------------- */

static gboolean
filter_row (gpointer item,
            gpointer user_data)
{
  DinolabRunsView *self = user_data;
  return dinolab_run_row_matches (DINOLAB_RUN_ROW (item), self->search);
}

static void
on_search_changed (DinolabRunsView *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));
  GtkFilterChange change = GTK_FILTER_CHANGE_DIFFERENT;

  if (self->search != NULL && g_str_has_prefix (text, self->search))
    change = GTK_FILTER_CHANGE_MORE_STRICT;
  else if (self->search != NULL && g_str_has_prefix (self->search, text))
    change = GTK_FILTER_CHANGE_LESS_STRICT;
  g_free (self->search);
  self->search = g_strdup (text);
  gtk_filter_changed (GTK_FILTER (self->filter), change);
}

/* ---- columns ---------------------------------------------------------------------- */

static void
cell_setup (GtkSignalListItemFactory *factory G_GNUC_UNUSED,
            GtkListItem              *item,
            gpointer                  user_data G_GNUC_UNUSED)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_list_item_set_child (item, label);
}

static void
cell_bind (GtkSignalListItemFactory *factory G_GNUC_UNUSED,
           GtkListItem              *item,
           gpointer                  user_data)
{
  const char *property = user_data;
  GtkWidget *label = gtk_list_item_get_child (item);
  GBinding *binding = g_object_bind_property (gtk_list_item_get_item (item), property,
                                              label, "label", G_BINDING_SYNC_CREATE);

  g_object_set_data (G_OBJECT (label), "dinolab-binding", binding);
}

static void
cell_unbind (GtkSignalListItemFactory *factory G_GNUC_UNUSED,
             GtkListItem              *item,
             gpointer                  user_data G_GNUC_UNUSED)
{
  GtkWidget *label = gtk_list_item_get_child (item);
  GBinding *binding = g_object_steal_data (G_OBJECT (label), "dinolab-binding");

  if (binding != NULL)
    g_binding_unbind (binding);
}

typedef struct
{
  const char *title;     /* translated at run time */
  const char *text;      /* DinolabRunRow property shown */
  const char *sort;      /* property sorted on */
  gboolean    numeric;
  gboolean    expand;
} ColumnSpec;

static const ColumnSpec columns[] = {
  { N_("Name"),      "name",           "name",      FALSE, TRUE },
  { N_("Status"),    "status-text",    "status",    TRUE,  FALSE },
  { N_("Dataset"),   "dataset",        "dataset",   FALSE, TRUE },
  { N_("Started"),   "started-text",   "started",   TRUE,  FALSE },
  { N_("Duration"),  "duration-text",  "duration",  TRUE,  FALSE },
  { N_("Epochs"),    "epochs-text",    "epoch",     TRUE,  FALSE },
  { N_("Last Loss"), "last-loss-text", "last-loss", TRUE,  FALSE },
  /* Translators: best k-nearest-neighbour accuracy */
  { N_("Best k-NN"), "best-knn-text",  "best-knn",  TRUE,  FALSE },
  { N_("Tags"),      "tags-text",      "tags-text", FALSE, TRUE },
};

static void
dinolab_runs_view_add_columns (DinolabRunsView *self)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (columns); i++)
    {
      const ColumnSpec *spec = &columns[i];
      GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
      GtkExpression *expression = gtk_property_expression_new (DINOLAB_TYPE_RUN_ROW, NULL,
                                                               spec->sort);
      GtkSorter *sorter;
      g_autoptr(GtkColumnViewColumn) column = NULL;

      g_signal_connect (factory, "setup", G_CALLBACK (cell_setup), NULL);
      g_signal_connect (factory, "bind", G_CALLBACK (cell_bind), (gpointer) spec->text);
      g_signal_connect (factory, "unbind", G_CALLBACK (cell_unbind), NULL);
      if (spec->numeric)
        sorter = GTK_SORTER (gtk_numeric_sorter_new (expression));
      else
        sorter = GTK_SORTER (gtk_string_sorter_new (expression));
      column = gtk_column_view_column_new (_(spec->title), factory);
      gtk_column_view_column_set_sorter (column, sorter);
      gtk_column_view_column_set_resizable (column, TRUE);
      gtk_column_view_column_set_expand (column, spec->expand);
      gtk_column_view_append_column (self->column_view, column);
      g_object_unref (sorter);
    }
}

/* ---- store jobs: edit, delete, new run from, export --------------------------------- */

typedef enum
{
  JOB_EDIT,
  JOB_DELETE,
  JOB_HPARAMS,
  JOB_EXPORT_CSV,
} JobKind;

typedef struct
{
  DinolabRunStoreRef *ref;
  JobKind             kind;
  GStrv               uuids;
  char               *name;         /* edit: new name; others: run name for messages */
  char               *notes;
  GStrv               tags_add;
  GStrv               tags_remove;
  char               *path;         /* export */
  char               *result;       /* hparams JSON; export: rows written as text */
} Job;

static void
job_free (Job *job)
{
  dinolab_run_store_ref_unref (job->ref);
  g_strfreev (job->uuids);
  g_free (job->name);
  g_free (job->notes);
  g_strfreev (job->tags_add);
  g_strfreev (job->tags_remove);
  g_free (job->path);
  g_free (job->result);
  g_free (job);
}

/* Shortest text that reads back as @v (what `dinolab-cli runs export`
 * writes): "10", not "1e+01". */
static char *
format_number (double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  char *best = NULL;
  int p;

  if (isinf (v))
    return g_strdup (v > 0 ? "inf" : "-inf");
  for (p = 1; p <= 17; p++)
    {
      char fmt[8];
      g_snprintf (fmt, sizeof fmt, "%%.%dg", p);
      g_ascii_formatd (buf, sizeof buf, fmt, v);
      if (g_ascii_strtod (buf, NULL) == v && (best == NULL || strlen (buf) < strlen (best)))
        {
          g_free (best);
          best = g_strdup (buf);
        }
    }
  return best;
}

/* The CSV of `dinolab-cli runs export` (src/cli/cmd-runs.c): header
 * step,epoch,wall,<metrics sorted by name>; one row per step (a k-way merge
 * of the series, each sorted by step); an empty cell where a metric has no
 * point at that step; "nan" for a stored NaN. */
static gboolean
write_csv (DinolabStore  *store,
           const char    *uuid,
           const char    *path,
           gint64        *n_rows,
           GError       **error)
{
  g_auto(GStrv) names = dinolab_store_list_metrics (store, uuid, error);
  g_autoptr(GPtrArray) series = NULL;
  g_autoptr(GString) out = NULL;
  g_autofree gsize *pos = NULL;
  guint n;
  guint m;

  if (names == NULL)
    return FALSE;
  n = g_strv_length (names);
  series = g_ptr_array_new_with_free_func ((GDestroyNotify) dinolab_metric_series_free);
  for (m = 0; m < n; m++)
    {
      DinolabMetricSeries *s = dinolab_store_read_series (store, uuid, names[m], -1, error);
      if (s == NULL)
        return FALSE;
      g_ptr_array_add (series, s);
    }

  out = g_string_new ("step,epoch,wall");
  for (m = 0; m < n; m++)
    g_string_append_printf (out, ",%s", names[m]);
  g_string_append_c (out, '\n');
  pos = g_new0 (gsize, MAX (n, 1));
  *n_rows = 0;
  for (;;)
    {
      gint64 step = G_MAXINT64;
      double epoch = NAN;
      double wall = NAN;

      for (m = 0; m < n; m++)
        {
          const DinolabMetricSeries *s = series->pdata[m];
          if (pos[m] < s->n && s->step[pos[m]] < step)
            step = s->step[pos[m]];
        }
      if (step == G_MAXINT64)
        break;
      for (m = 0; m < n && isnan (epoch); m++)
        {
          const DinolabMetricSeries *s = series->pdata[m];
          if (pos[m] < s->n && s->step[pos[m]] == step)
            {
              epoch = s->epoch[pos[m]];
              wall = s->wall[pos[m]];
            }
        }
      g_string_append_printf (out, "%" G_GINT64_FORMAT ",", step);
      if (!isnan (epoch))
        {
          g_autofree char *e = format_number (epoch);
          g_string_append (out, e);
        }
      g_string_append_c (out, ',');
      if (!isnan (wall))
        {
          g_autofree char *w = format_number (wall);
          g_string_append (out, w);
        }
      for (m = 0; m < n; m++)
        {
          const DinolabMetricSeries *s = series->pdata[m];
          g_string_append_c (out, ',');
          if (pos[m] < s->n && s->step[pos[m]] == step)
            {
              if (isnan (s->value[pos[m]]))
                g_string_append (out, "nan");
              else
                {
                  g_autofree char *v = format_number (s->value[pos[m]]);
                  g_string_append (out, v);
                }
              pos[m]++;
            }
        }
      g_string_append_c (out, '\n');
      (*n_rows)++;
    }
  /* g_file_set_contents writes beside the target and renames: no half file */
  if (!g_file_set_contents (path, out->str, (gssize) out->len, error))
    return FALSE;
  return TRUE;
}

static void
job_run (GTask        *task,
         gpointer      source G_GNUC_UNUSED,
         gpointer      task_data,
         GCancellable *cancellable G_GNUC_UNUSED)
{
  Job *job = task_data;
  GError *error = NULL;
  DinolabStore *store = dinolab_run_store_ref_get (job->ref, &error);
  gboolean ok = store != NULL;
  guint i;

  if (ok)
    switch (job->kind)
      {
      case JOB_EDIT:
        ok = dinolab_store_rename_run (store, job->uuids[0], job->name, &error)
             && dinolab_store_set_notes (store, job->uuids[0], job->notes, &error)
             && dinolab_store_remove_tags (store, job->uuids[0],
                                           (const char *const *) job->tags_remove, &error)
             && dinolab_store_add_tags (store, job->uuids[0],
                                        (const char *const *) job->tags_add, &error);
        break;
      case JOB_DELETE:
        /* each deletion is its own transaction; stop at the first failure */
        for (i = 0; ok && job->uuids[i] != NULL; i++)
          ok = dinolab_store_delete_run (store, job->uuids[i], &error);
        break;
      case JOB_HPARAMS:
        job->result = dinolab_store_get_hparams_json (store, job->uuids[0], &error);
        ok = job->result != NULL;
        break;
      case JOB_EXPORT_CSV:
        {
          gint64 rows = 0;
          ok = write_csv (store, job->uuids[0], job->path, &rows, &error);
          job->result = g_strdup_printf ("%" G_GINT64_FORMAT, rows);
        }
        break;
      default:
        g_assert_not_reached ();
      }
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
job_done (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data G_GNUC_UNUSED)
{
  DinolabRunsView *self = DINOLAB_RUNS_VIEW (source);
  Job *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      dinolab_runs_view_toast (self, error->message);
      if (job->kind == JOB_EDIT || job->kind == JOB_DELETE)
        dinolab_runs_view_refresh (self);  /* show what did change */
      return;
    }
  switch (job->kind)
    {
    case JOB_EDIT:
      message = g_strdup_printf (_("Saved “%s”"), job->name);
      break;
    case JOB_DELETE:
      {
        guint n = g_strv_length (job->uuids);
        message = g_strdup_printf (ngettext ("Deleted %u run", "Deleted %u runs", n), n);
      }
      break;
    case JOB_HPARAMS:
      g_signal_emit (self, signals[SIGNAL_NEW_RUN_FROM], 0, job->result);
      break;
    case JOB_EXPORT_CSV:
      /* Translators: "Exported 120 rows of metrics to /path/x.csv" */
      message = g_strdup_printf (_("Exported %s rows of metrics to %s"), job->result, job->path);
      break;
    default:
      g_assert_not_reached ();
    }
  if (message != NULL)
    dinolab_runs_view_toast (self, message);
  if (job->kind == JOB_EDIT || job->kind == JOB_DELETE)
    {
      /* the selection's names changed or it is gone: compare again */
      g_clear_pointer (&self->selected_key, g_free);
      dinolab_runs_view_refresh (self);
      dinolab_runs_view_queue_selection (self);
    }
}

/* Takes @job and runs it. */
static void
dinolab_runs_view_run_job (DinolabRunsView *self,
                           Job             *job)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, job_done, NULL);

  g_task_set_source_tag (task, dinolab_runs_view_run_job);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  g_task_run_in_thread (task, job_run);
}

static Job *
job_new (DinolabRunsView *self,
         JobKind          kind)
{
  Job *job = g_new0 (Job, 1);
  GStrvBuilder *builder = g_strv_builder_new ();
  guint i;

  job->ref = dinolab_run_store_ref_ref (self->ref);
  job->kind = kind;
  for (i = 0; i < self->selected->len; i++)
    g_strv_builder_add (builder, dinolab_run_row_get_uuid (g_ptr_array_index (self->selected, i)));
  job->uuids = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return job;
}

/* ---- actions ------------------------------------------------------------------------ */

static GtkWindow *
dinolab_runs_view_get_window (DinolabRunsView *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  return GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL;
}

static GtkWidget *
entry_row (GtkWidget  *list,
           const char *name,
           const char *title,
           const char *text)
{
  GtkWidget *row = adw_entry_row_new ();

  gtk_widget_set_name (row, name);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  gtk_editable_set_text (GTK_EDITABLE (row), text);
  gtk_list_box_append (GTK_LIST_BOX (list), row);
  return row;
}

static void
on_edit_response (AdwMessageDialog *dialog,
                  const char       *response,
                  DinolabRunsView  *self)
{
  DinolabRunRow *row = g_object_get_data (G_OBJECT (dialog), "dinolab-row");
  const DinolabRunInfo *info = dinolab_run_row_get_info (row);
  GtkEditable *name_row = g_object_get_data (G_OBJECT (dialog), "dinolab-name");
  GtkEditable *tags_row = g_object_get_data (G_OBJECT (dialog), "dinolab-tags");
  GtkEditable *notes_row = g_object_get_data (G_OBJECT (dialog), "dinolab-notes");
  g_auto(GStrv) tags = NULL;
  GStrvBuilder *add;
  GStrvBuilder *remove;
  Job *job;
  guint i;

  if (g_strcmp0 (response, "save") != 0 || self->ref == NULL)
    return;
  job = g_new0 (Job, 1);
  job->ref = dinolab_run_store_ref_ref (self->ref);
  job->kind = JOB_EDIT;
  job->uuids = g_new0 (char *, 2);
  job->uuids[0] = g_strdup (info->uuid);
  job->name = g_strstrip (g_strdup (gtk_editable_get_text (name_row)));
  job->notes = g_strdup (gtk_editable_get_text (notes_row));

  /* tags are words separated by spaces or commas (a tag has neither) */
  tags = g_strsplit_set (gtk_editable_get_text (tags_row), " ,", -1);
  add = g_strv_builder_new ();
  remove = g_strv_builder_new ();
  for (i = 0; tags[i] != NULL; i++)
    if (tags[i][0] != '\0')
      g_strv_builder_add (add, tags[i]);
  for (i = 0; info->tags[i] != NULL; i++)
    if (!g_strv_contains ((const char *const *) tags, info->tags[i]))
      g_strv_builder_add (remove, info->tags[i]);
  job->tags_add = g_strv_builder_end (add);
  job->tags_remove = g_strv_builder_end (remove);
  g_strv_builder_unref (add);
  g_strv_builder_unref (remove);
  dinolab_runs_view_run_job (self, job);
}

static void
action_edit (GtkWidget  *widget,
             const char *action_name G_GNUC_UNUSED,
             GVariant   *parameter G_GNUC_UNUSED)
{
  DinolabRunsView *self = DINOLAB_RUNS_VIEW (widget);
  DinolabRunRow *row = dinolab_runs_view_get_single (self);
  const DinolabRunInfo *info;
  g_autofree char *tags = NULL;
  GtkWidget *dialog;
  GtkWidget *list;

  if (row == NULL)
    return;
  info = dinolab_run_row_get_info (row);
  dialog = adw_message_dialog_new (dinolab_runs_view_get_window (self), _("Edit Run"), NULL);
  adw_message_dialog_format_body (ADW_MESSAGE_DIALOG (dialog), _("Run %.8s"), info->uuid);
  list = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
  gtk_widget_add_css_class (list, "boxed-list");
  tags = g_strjoinv (" ", info->tags);
  g_object_set_data (G_OBJECT (dialog), "dinolab-name",
                     entry_row (list, "name-row", _("Name"), info->name));
  g_object_set_data (G_OBJECT (dialog), "dinolab-tags",
                     entry_row (list, "tags-row", _("Tags, separated by spaces"), tags));
  g_object_set_data (G_OBJECT (dialog), "dinolab-notes",
                     entry_row (list, "notes-row", _("Notes"), info->notes));
  /* the row, not its info: a refresh may replace the info while the dialog is open */
  g_object_set_data_full (G_OBJECT (dialog), "dinolab-row", g_object_ref (row), g_object_unref);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), list);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "save", _("_Save"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "save",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "save");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_edit_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_delete_response (AdwMessageDialog *dialog,
                    const char       *response,
                    DinolabRunsView  *self)
{
  GStrv uuids = g_object_get_data (G_OBJECT (dialog), "dinolab-uuids");
  Job *job;

  if (g_strcmp0 (response, "delete") != 0 || self->ref == NULL)
    return;
  job = g_new0 (Job, 1);
  job->ref = dinolab_run_store_ref_ref (self->ref);
  job->kind = JOB_DELETE;
  job->uuids = g_strdupv (uuids);
  dinolab_runs_view_run_job (self, job);
}

static void
action_delete (GtkWidget  *widget,
               const char *action_name G_GNUC_UNUSED,
               GVariant   *parameter G_GNUC_UNUSED)
{
  DinolabRunsView *self = DINOLAB_RUNS_VIEW (widget);
  guint n = self->selected->len;
  g_autofree char *heading = NULL;
  GtkWidget *dialog;
  Job *job;

  if (n == 0 || self->ref == NULL)
    return;
  job = job_new (self, JOB_DELETE);  /* only for its uuid list */
  if (n == 1)
    heading = g_strdup_printf (_("Delete “%s”?"),
                               dinolab_run_row_get_name (g_ptr_array_index (self->selected, 0)));
  else
    heading = g_strdup_printf (ngettext ("Delete %u Run?", "Delete %u Runs?", n), n);
  dialog = adw_message_dialog_new (dinolab_runs_view_get_window (self), heading,
                                   ngettext ("Its metrics, checkpoint files and attention "
                                             "snapshots are deleted. This cannot be undone.",
                                             "Their metrics, checkpoint files and attention "
                                             "snapshots are deleted. This cannot be undone.", n));
  g_object_set_data_full (G_OBJECT (dialog), "dinolab-uuids",
                          g_steal_pointer (&job->uuids), (GDestroyNotify) g_strfreev);
  job_free (job);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "delete", _("_Delete"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "delete",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_delete_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
action_resume (GtkWidget  *widget,
               const char *action_name G_GNUC_UNUSED,
               GVariant   *parameter G_GNUC_UNUSED)
{
  DinolabRunsView *self = DINOLAB_RUNS_VIEW (widget);
  DinolabRunRow *row = dinolab_runs_view_get_single (self);

  if (row != NULL)
    g_signal_emit (self, signals[SIGNAL_RESUME_RUN], 0, dinolab_run_row_get_uuid (row));
}

static void
action_new_from (GtkWidget  *widget,
                 const char *action_name G_GNUC_UNUSED,
                 GVariant   *parameter G_GNUC_UNUSED)
{
  DinolabRunsView *self = DINOLAB_RUNS_VIEW (widget);

  if (dinolab_runs_view_get_single (self) != NULL && self->ref != NULL)
    dinolab_runs_view_run_job (self, job_new (self, JOB_HPARAMS));
}

static void
on_csv_chooser_response (GtkNativeDialog *chooser,
                         int              response,
                         DinolabRunsView *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      if (path != NULL)
        dinolab_runs_view_export_csv_to (self, path);
    }
  g_object_unref (chooser);
}

static void
action_export_csv (GtkWidget  *widget,
                   const char *action_name G_GNUC_UNUSED,
                   GVariant   *parameter G_GNUC_UNUSED)
{
  DinolabRunsView *self = DINOLAB_RUNS_VIEW (widget);
  DinolabRunRow *row = dinolab_runs_view_get_single (self);
  g_autofree char *name = NULL;
  GtkFileChooserNative *chooser;
  GtkFileFilter *filter;

  if (row == NULL)
    return;
  chooser = gtk_file_chooser_native_new (_("Export Metrics"), dinolab_runs_view_get_window (self),
                                         GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), _("_Cancel"));
  filter = gtk_file_filter_new ();
  gtk_file_filter_set_name (filter, _("CSV files"));
  gtk_file_filter_add_suffix (filter, "csv");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  g_object_unref (filter);
  name = g_strdup_printf ("%s.csv", dinolab_run_row_get_name (row));
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), name);
  g_signal_connect_object (chooser, "response", G_CALLBACK (on_csv_chooser_response), self, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
on_plot_chooser_response (GtkNativeDialog *chooser,
                          int              response,
                          DinolabRunsView *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      g_autoptr(GError) error = NULL;

      if (path != NULL)
        {
          if (dinolab_runs_view_export_plot_to (self, path, &error))
            {
              g_autofree char *message = g_strdup_printf (_("Exported the plot to %s"), path);
              dinolab_runs_view_toast (self, message);
            }
          else
            dinolab_runs_view_toast (self, error->message);
        }
    }
  g_object_unref (chooser);
}

static void
action_export_plot (GtkWidget  *widget,
                    const char *action_name G_GNUC_UNUSED,
                    GVariant   *parameter G_GNUC_UNUSED)
{
  DinolabRunsView *self = DINOLAB_RUNS_VIEW (widget);
  g_autofree char *name = NULL;
  GtkFileChooserNative *chooser;
  GtkFileFilter *filter;
  const char *metric = dinolab_compare_page_get_metric (self->compare_page);

  chooser = gtk_file_chooser_native_new (_("Export Plot"), dinolab_runs_view_get_window (self),
                                         GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), _("_Cancel"));
  filter = gtk_file_filter_new ();
  gtk_file_filter_set_name (filter, _("PNG images"));
  gtk_file_filter_add_suffix (filter, "png");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  g_object_unref (filter);
  filter = gtk_file_filter_new ();
  gtk_file_filter_set_name (filter, _("SVG images"));
  gtk_file_filter_add_suffix (filter, "svg");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  g_object_unref (filter);
  name = g_strdup_printf ("%s.png", metric != NULL ? metric : "plot");
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), name);
  g_signal_connect_object (chooser, "response", G_CALLBACK (on_plot_chooser_response), self, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
action_refresh (GtkWidget  *widget,
                const char *action_name G_GNUC_UNUSED,
                GVariant   *parameter G_GNUC_UNUSED)
{
  dinolab_runs_view_refresh (DINOLAB_RUNS_VIEW (widget));
}

/* ---- GObject / GtkWidget ------------------------------------------------------------- */

static void
dinolab_runs_view_map (GtkWidget *widget)
{
  DinolabRunsView *self = DINOLAB_RUNS_VIEW (widget);

  GTK_WIDGET_CLASS (dinolab_runs_view_parent_class)->map (widget);
  if (self->refresh_id == 0)
    self->refresh_id = g_timeout_add (REFRESH_INTERVAL_MS, on_refresh_timeout, self);
  dinolab_runs_view_refresh (self);
}

static void
dinolab_runs_view_unmap (GtkWidget *widget)
{
  DinolabRunsView *self = DINOLAB_RUNS_VIEW (widget);

  g_clear_handle_id (&self->refresh_id, g_source_remove);
  GTK_WIDGET_CLASS (dinolab_runs_view_parent_class)->unmap (widget);
}

static void
dinolab_runs_view_dispose (GObject *object)
{
  DinolabRunsView *self = DINOLAB_RUNS_VIEW (object);

  g_clear_handle_id (&self->refresh_id, g_source_remove);
  g_clear_handle_id (&self->selection_idle_id, g_source_remove);
  gtk_widget_dispose_template (GTK_WIDGET (self), DINOLAB_TYPE_RUNS_VIEW);
  g_clear_object (&self->selection);
  g_clear_object (&self->filter);
  g_clear_object (&self->model);
  g_clear_pointer (&self->ref, dinolab_run_store_ref_unref);
  if (self->selected != NULL)
    g_ptr_array_set_size (self->selected, 0);
  G_OBJECT_CLASS (dinolab_runs_view_parent_class)->dispose (object);
}

static void
dinolab_runs_view_finalize (GObject *object)
{
  DinolabRunsView *self = DINOLAB_RUNS_VIEW (object);

  g_ptr_array_unref (self->selected);
  g_free (self->selected_key);
  g_free (self->search);
  G_OBJECT_CLASS (dinolab_runs_view_parent_class)->finalize (object);
}

static void
dinolab_runs_view_class_init (DinolabRunsViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = dinolab_runs_view_dispose;
  object_class->finalize = dinolab_runs_view_finalize;
  widget_class->map = dinolab_runs_view_map;
  widget_class->unmap = dinolab_runs_view_unmap;

  signals[SIGNAL_RESUME_RUN] = g_signal_new ("resume-run", G_TYPE_FROM_CLASS (klass),
                                             G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                             G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_NEW_RUN_FROM] = g_signal_new ("new-run-from", G_TYPE_FROM_CLASS (klass),
                                               G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                               G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_LOADED] = g_signal_new ("loaded", G_TYPE_FROM_CLASS (klass),
                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                         G_TYPE_NONE, 0);

  g_type_ensure (DINOLAB_TYPE_COMPARE_PAGE);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/dinolab/Dinolab/dinolab-runs-view.ui");
  gtk_widget_class_bind_template_child (widget_class, DinolabRunsView, search_entry);
  gtk_widget_class_bind_template_child (widget_class, DinolabRunsView, scrolled_window);
  gtk_widget_class_bind_template_child (widget_class, DinolabRunsView, column_view);
  gtk_widget_class_bind_template_child (widget_class, DinolabRunsView, compare_page);

  gtk_widget_class_install_action (widget_class, "runs.edit", NULL, action_edit);
  gtk_widget_class_install_action (widget_class, "runs.delete", NULL, action_delete);
  gtk_widget_class_install_action (widget_class, "runs.resume", NULL, action_resume);
  gtk_widget_class_install_action (widget_class, "runs.new-from", NULL, action_new_from);
  gtk_widget_class_install_action (widget_class, "runs.export-csv", NULL, action_export_csv);
  gtk_widget_class_install_action (widget_class, "runs.export-plot", NULL, action_export_plot);
  gtk_widget_class_install_action (widget_class, "runs.refresh", NULL, action_refresh);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F5, 0, "runs.refresh", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Delete, 0, "runs.delete", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F2, 0, "runs.edit", NULL);
}

static void
dinolab_runs_view_init (DinolabRunsView *self)
{
  GtkFilterListModel *filtered;
  GtkSortListModel *sorted;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->selected = g_ptr_array_new_with_free_func (g_object_unref);
  self->model = dinolab_run_model_new ();
  self->filter = gtk_custom_filter_new (filter_row, self, NULL);
  filtered = gtk_filter_list_model_new (G_LIST_MODEL (g_object_ref (self->model)),
                                        GTK_FILTER (g_object_ref (self->filter)));
  dinolab_runs_view_add_columns (self);
  sorted = gtk_sort_list_model_new (G_LIST_MODEL (filtered),
                                    g_object_ref (gtk_column_view_get_sorter (self->column_view)));
  self->selection = gtk_multi_selection_new (G_LIST_MODEL (sorted));
  gtk_column_view_set_model (self->column_view, GTK_SELECTION_MODEL (self->selection));

  g_signal_connect_swapped (self->selection, "selection-changed",
                            G_CALLBACK (dinolab_runs_view_queue_selection), self);
  g_signal_connect_swapped (self->selection, "items-changed",
                            G_CALLBACK (dinolab_runs_view_queue_selection), self);
  g_signal_connect_swapped (self->search_entry, "search-changed",
                            G_CALLBACK (on_search_changed), self);
  dinolab_runs_view_update_actions (self);
}

/* ---- public --------------------------------------------------------------------------- */

GtkWidget *
dinolab_runs_view_new (void)
{
  return g_object_new (DINOLAB_TYPE_RUNS_VIEW, NULL);
}

void
dinolab_runs_view_set_store (DinolabRunsView *self,
                             DinolabStore    *store)
{
  g_return_if_fail (DINOLAB_IS_RUNS_VIEW (self));

  if (self->ref != NULL && store != NULL
      && g_strcmp0 (dinolab_run_store_ref_get_path (self->ref), dinolab_store_get_path (store)) == 0)
    return;
  self->generation++;
  self->loading = FALSE;  /* a load in flight is dropped by its generation */
  g_clear_pointer (&self->ref, dinolab_run_store_ref_unref);
  if (store != NULL)
    self->ref = dinolab_run_store_ref_new (dinolab_store_get_path (store));
  dinolab_run_model_update (self->model, g_ptr_array_new ());
  g_clear_pointer (&self->selected_key, g_free);
  dinolab_runs_view_queue_selection (self);
  dinolab_runs_view_refresh (self);
}

void
dinolab_runs_view_export_csv_to (DinolabRunsView *self,
                                 const char      *path)
{
  Job *job;

  g_return_if_fail (DINOLAB_IS_RUNS_VIEW (self));
  g_return_if_fail (path != NULL);

  if (dinolab_runs_view_get_single (self) == NULL || self->ref == NULL)
    {
      dinolab_runs_view_toast (self, _("Select one run to export its metrics"));
      return;
    }
  job = job_new (self, JOB_EXPORT_CSV);
  job->path = g_strdup (path);
  dinolab_runs_view_run_job (self, job);
}

gboolean
dinolab_runs_view_export_plot_to (DinolabRunsView  *self,
                                  const char       *path,
                                  GError          **error)
{
  DinolabPlotFormat format = DINOLAB_PLOT_FORMAT_PNG;

  g_return_val_if_fail (DINOLAB_IS_RUNS_VIEW (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (g_str_has_suffix (path, ".svg") || g_str_has_suffix (path, ".SVG"))
    format = DINOLAB_PLOT_FORMAT_SVG;
  return dinolab_plot_export (dinolab_compare_page_get_plot (self->compare_page), path, format,
                              DINOLAB_RUNS_VIEW_EXPORT_WIDTH, DINOLAB_RUNS_VIEW_EXPORT_HEIGHT,
                              error);
}
