/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-attention-view.c: the attention explorer (see
 * dinolab-attention-view.h). The controls pick a model and an image; any
 * change schedules one computation (coalesced in an idle) that runs as a
 * GTask: load the backbone (dinolab_eval_load_backbone), prepare the image
 * (dinolab_eval_image_from_dataset / _from_file) and run
 * dinolab_eval_image_attention. A newer request cancels the older one and a
 * generation counter drops stale results. The timeline loads a stored
 * snapshot and its probe image in a GTask too. Drawing is the grid's
 * (dinolab-attention-grid.c). The live run is followed with a timer that
 * looks for a newer checkpoint and new snapshots. The worker never touches
 * widgets; the main thread only lists runs, checkpoints and snapshot steps
 * (a few rows each).
 */
#define G_LOG_DOMAIN "dinolab-attention-view"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "dinolab/error.h"
#include "dinolab/eval.h"
#include "dinolab/hparams.h"
#include "dinolab-attention-grid.h"
#include "dinolab-attention-view.h"

#define LIVE_POLL_SECONDS 5

typedef enum
{
  SOURCE_RUN,
  SOURCE_LIVE,
  SOURCE_WEIGHTS,
} SourceKind;

typedef enum
{
  IMAGE_DATASET,
  IMAGE_FILE,
} ImageKind;

struct _DinolabAttentionView
{
  GtkWidget             parent_instance;

  /* template */
  GtkWidget            *main_box;
  GtkDropDown          *source_dropdown;
  GtkDropDown          *run_dropdown;
  GtkDropDown          *checkpoint_dropdown;
  GtkWidget            *weights_button;
  GtkLabel             *weights_label;
  GtkDropDown          *part_dropdown;
  GtkDropDown          *image_dropdown;
  GtkDropDown          *split_dropdown;
  GtkSpinButton        *index_spin;
  GtkWidget            *image_button;
  GtkLabel             *image_label;
  GtkDropDown          *colormap_dropdown;
  GtkRange             *opacity_scale;
  GtkCheckButton       *smooth_check;
  GtkCheckButton       *threshold_check;
  GtkSpinButton        *threshold_spin;
  GtkSpinner           *spinner;
  GtkLabel             *status_label;
  DinolabAttentionGrid *grid;
  GtkCheckButton       *snapshots_check;
  GtkRange             *timeline_scale;
  GtkAdjustment        *timeline_adjustment;
  GtkLabel             *timeline_label;
  GtkSpinButton        *probe_spin;

  DinolabStore         *store;          /* borrowed */
  GPtrArray            *runs;           /* DinolabRunInfo, as in run_dropdown */
  GArray               *ckpt_steps;     /* gint64, as in checkpoint_dropdown */
  GArray               *snap_steps;     /* gint64: the timeline */
  char                 *weights_path;
  char                 *image_path;
  gboolean              updating;       /* filling drop-downs: no recompute */

  GCancellable         *cancellable;
  guint                 generation;
  guint                 compute_idle;
  guint                 n_jobs;         /* running tasks */
  guint                 live_timer;
  gint64                shown_step;     /* checkpoint step of the computed maps, -1 */
  gboolean              disposed;       /* a task that ends after dispose touches nothing */

  /* the last computed result, shown again when the timeline is switched off */
  guint8               *last_rgb;
  float                *last_maps;
  int                   last_w, last_h, last_heads, last_gh, last_gw;
};

G_DEFINE_FINAL_TYPE (DinolabAttentionView, dinolab_attention_view, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_BUSY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void schedule_compute (DinolabAttentionView *self);
static void load_snapshot (DinolabAttentionView *self);

// ---- small helpers ---------------------------------------------------------------

static void
toast (DinolabAttentionView *self,
       const char           *message)
{
  if (!gtk_widget_activate_action (GTK_WIDGET (self), "win.show-toast", "s", message))
    g_message ("%s", message);
}

static void
set_busy (DinolabAttentionView *self,
          int                   delta)
{
  gboolean was = self->n_jobs > 0;

  self->n_jobs += delta;
  if (self->disposed)
    return;
  if (was != (self->n_jobs > 0))
    {
      if (self->n_jobs > 0)
        gtk_spinner_start (self->spinner);
      else
        gtk_spinner_stop (self->spinner);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
    }
}

static const DinolabRunInfo *
selected_run (DinolabAttentionView *self)
{
  guint i = gtk_drop_down_get_selected (self->run_dropdown);

  if (self->runs == NULL || i == GTK_INVALID_LIST_POSITION || i >= self->runs->len)
    return NULL;
  return g_ptr_array_index (self->runs, i);
}

static void
update_sensitivity (DinolabAttentionView *self)
{
  SourceKind source = gtk_drop_down_get_selected (self->source_dropdown);
  ImageKind image = gtk_drop_down_get_selected (self->image_dropdown);
  gboolean has_snaps;

  gtk_widget_set_visible (GTK_WIDGET (self->run_dropdown), source != SOURCE_WEIGHTS);
  gtk_widget_set_visible (GTK_WIDGET (self->checkpoint_dropdown), source == SOURCE_RUN);
  gtk_widget_set_visible (self->weights_button, source == SOURCE_WEIGHTS);
  gtk_widget_set_visible (GTK_WIDGET (self->weights_label), source == SOURCE_WEIGHTS);
  gtk_widget_set_visible (GTK_WIDGET (self->split_dropdown), image == IMAGE_DATASET);
  gtk_widget_set_visible (gtk_widget_get_parent (GTK_WIDGET (self->index_spin)), image == IMAGE_DATASET);
  gtk_widget_set_visible (self->image_button, image == IMAGE_FILE);
  gtk_widget_set_visible (GTK_WIDGET (self->image_label), image == IMAGE_FILE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->threshold_spin), gtk_check_button_get_active (self->threshold_check));
  /* the timeline belongs to the run: not for a weight file */
  has_snaps = source != SOURCE_WEIGHTS && self->snap_steps != NULL && self->snap_steps->len > 0;
  gtk_widget_set_sensitive (GTK_WIDGET (self->timeline_scale), has_snaps);
  gtk_widget_set_sensitive (GTK_WIDGET (self->snapshots_check), has_snaps);
  gtk_widget_set_sensitive (GTK_WIDGET (self->probe_spin), has_snaps);
  if (!has_snaps && gtk_check_button_get_active (self->snapshots_check))
    gtk_check_button_set_active (self->snapshots_check, FALSE);
}

// ---- runs, checkpoints, snapshot steps (main thread: a few rows) -------------------------

static void
fill_snapshot_steps (DinolabAttentionView *self)
{
  const DinolabRunInfo *run = selected_run (self);
  g_autoptr (GError) error = NULL;
  gint64 old = -1;
  guint i, at = 0;

  if (self->snap_steps != NULL && self->snap_steps->len > 0)
    old = g_array_index (self->snap_steps, gint64,
                         MIN ((guint) gtk_adjustment_get_value (self->timeline_adjustment), self->snap_steps->len - 1));
  g_clear_pointer (&self->snap_steps, g_array_unref);
  if (run != NULL && self->store != NULL)
    self->snap_steps = dinolab_store_list_snapshot_steps (self->store, run->uuid, &error);
  if (error != NULL)
    toast (self, error->message);
  if (self->snap_steps == NULL)
    self->snap_steps = g_array_new (FALSE, FALSE, sizeof (gint64));
  /* keep the step shown when the list grows; else the newest */
  at = self->snap_steps->len > 0 ? self->snap_steps->len - 1 : 0;
  for (i = 0; i < self->snap_steps->len; i++)
    if (g_array_index (self->snap_steps, gint64, i) == old)
      at = i;
  self->updating = TRUE;
  gtk_adjustment_configure (self->timeline_adjustment, at, 0, MAX (self->snap_steps->len, 1) - 1.0 + 0.0, 1, 1, 0);
  gtk_scale_clear_marks (GTK_SCALE (self->timeline_scale));
  for (i = 0; i < self->snap_steps->len && self->snap_steps->len <= 64; i++)
    gtk_scale_add_mark (GTK_SCALE (self->timeline_scale), i, GTK_POS_BOTTOM, NULL);
  self->updating = FALSE;
  if (self->snap_steps->len == 0)
    {
      gtk_label_set_text (self->timeline_label, _("no snapshots"));
      if (gtk_check_button_get_active (self->snapshots_check))
        gtk_check_button_set_active (self->snapshots_check, FALSE);
    }
  else
    {
      g_autofree char *text = g_strdup_printf (_("step %lld"), (long long) g_array_index (self->snap_steps, gint64, at));
      gtk_label_set_text (self->timeline_label, text);
    }
  update_sensitivity (self);
}

static void
fill_checkpoints (DinolabAttentionView *self)
{
  const DinolabRunInfo *run = selected_run (self);
  g_autoptr (GtkStringList) model = gtk_string_list_new (NULL);
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GError) error = NULL;
  guint i;

  g_array_set_size (self->ckpt_steps, 0);
  if (run != NULL && self->store != NULL)
    list = dinolab_store_list_checkpoints (self->store, run->uuid, &error);
  if (error != NULL)
    toast (self, error->message);
  for (i = 0; list != NULL && i < list->len; i++)
    {
      const DinolabCheckpointInfo *c = g_ptr_array_index (list, i);
      g_autofree char *text = g_strdup_printf (_("Checkpoint at step %lld (epoch %d)"), (long long) c->step, c->epoch);
      g_array_append_val (self->ckpt_steps, c->step);
      gtk_string_list_append (model, text);
    }
  self->updating = TRUE;
  gtk_drop_down_set_model (self->checkpoint_dropdown, G_LIST_MODEL (model));
  if (self->ckpt_steps->len > 0)  /* the newest */
    gtk_drop_down_set_selected (self->checkpoint_dropdown, self->ckpt_steps->len - 1);
  self->updating = FALSE;
}

static void
fill_runs (DinolabAttentionView *self,
           const char           *select_uuid)
{
  g_autoptr (GtkStringList) model = gtk_string_list_new (NULL);
  g_autoptr (GError) error = NULL;
  guint i, at = GTK_INVALID_LIST_POSITION;

  g_clear_pointer (&self->runs, g_ptr_array_unref);
  if (self->store != NULL)
    self->runs = dinolab_store_list_runs (self->store, &error);
  if (error != NULL)
    toast (self, error->message);
  for (i = 0; self->runs != NULL && i < self->runs->len; i++)
    {
      const DinolabRunInfo *r = g_ptr_array_index (self->runs, i);
      g_autofree char *text = g_strdup_printf ("%s (%.8s)", r->name, r->uuid);
      gtk_string_list_append (model, text);
      if (g_strcmp0 (r->uuid, select_uuid) == 0)
        at = i;
    }
  self->updating = TRUE;
  gtk_drop_down_set_model (self->run_dropdown, G_LIST_MODEL (model));
  if (at == GTK_INVALID_LIST_POSITION && self->runs != NULL && self->runs->len > 0)
    at = 0;
  gtk_drop_down_set_selected (self->run_dropdown, at);
  self->updating = FALSE;
  fill_checkpoints (self);
  fill_snapshot_steps (self);
}

// ---- computing attention (GTask) ----------------------------------------------------

typedef struct
{
  /* in */
  char             *model_path;
  char             *source;
  gboolean          student;
  char             *image_path;   /* NULL: a dataset item */
  char             *dataset;      /* NULL: the model's dataset */
  DinolabSplit      split;
  gsize             index;
  gint64            step;
  guint             generation;
  /* out */
  DinolabEvalImage *image;
  float            *att;          /* [heads, gh * gw] */
  int               heads, gh, gw, patch;
  gsize             n_items;
  char             *what;         /* the image, for the status line */
} ComputeJob;

static void
compute_job_free (ComputeJob *job)
{
  g_free (job->model_path);
  g_free (job->source);
  g_free (job->image_path);
  g_free (job->dataset);
  dinolab_eval_image_free (job->image);
  g_free (job->att);
  g_free (job->what);
  g_free (job);
}

static void
compute_thread (GTask        *task,
                gpointer      source_object G_GNUC_UNUSED,
                gpointer      task_data,
                GCancellable *cancellable)
{
  ComputeJob *job = task_data;
  g_autoptr (DinolabModel) model = NULL;
  g_autoptr (GError) error = NULL;
  const DinolabHparams *hp;
  int size;

  if (!(model = dinolab_eval_load_backbone (job->model_path, job->student, NULL, -1, &error)))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (g_cancellable_is_cancelled (cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
      return;
    }
  hp = dinolab_model_get_hparams (model);
  size = hp->global_crop_size;
  job->patch = hp->patch_size;
  if (job->image_path != NULL)
    {
      g_autofree char *base = g_path_get_basename (job->image_path);
      job->image = dinolab_eval_image_from_file (job->image_path, size, hp->in_chans, hp->patch_size,
                                                 hp->dataset, &error);
      job->what = g_strdup (base);
    }
  else
    {
      const char *spec = job->dataset != NULL ? job->dataset : hp->dataset;
      g_autoptr (DinolabDataset) ds = NULL;

      if (spec == NULL || *spec == '\0')
        {
          g_task_return_new_error (task, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                                   _("%s names no dataset: choose an image file"), job->source);
          return;
        }
      if (!(ds = dinolab_dataset_open (spec, job->split, &error)))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      job->n_items = dinolab_dataset_get_size (ds);
      job->image = dinolab_eval_image_from_dataset (ds, job->index, size, hp->patch_size, &error);
      job->what = g_strdup_printf (job->split == DINOLAB_SPLIT_TEST ? _("test item %lu") : _("train item %lu"),
                                   (gulong) job->index);
    }
  if (job->image == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  job->heads = hp->num_heads;
  job->gh = job->image->height / hp->patch_size;
  job->gw = job->image->width / hp->patch_size;
  job->att = g_new (float, (gsize) job->heads * job->gh * job->gw);
  if (!dinolab_eval_image_attention (model, job->image->x, job->image->height, job->image->width,
                                     job->att, NULL, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
show_maps (DinolabAttentionView *self,
           const guint8         *rgb,
           int                   w,
           int                   h,
           const float          *maps,
           int                   heads,
           int                   gh,
           int                   gw)
{
  dinolab_attention_grid_set_data (self->grid, rgb, w, h, maps, heads, gh, gw);
}

static void
compute_done (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data G_GNUC_UNUSED)
{
  DinolabAttentionView *self = DINOLAB_ATTENTION_VIEW (object);
  ComputeJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;
  g_autofree char *status = NULL;

  set_busy (self, -1);
  if (self->disposed)
    return;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && job->generation == self->generation)
        {
          toast (self, error->message);
          gtk_label_set_text (self->status_label, error->message);
        }
      return;
    }
  if (job->generation != self->generation)
    return;
  if (job->image_path == NULL)
    {
      /* the spin button's range follows the split */
      GtkAdjustment *adj = gtk_spin_button_get_adjustment (self->index_spin);
      gtk_adjustment_set_upper (adj, MAX (job->n_items, 1) - 1.0);
    }
  g_free (self->last_rgb);
  g_free (self->last_maps);
  self->last_rgb = g_memdup2 (job->image->rgb, (gsize) job->image->width * job->image->height * 3);
  self->last_maps = g_memdup2 (job->att, sizeof (float) * job->heads * job->gh * job->gw);
  self->last_w = job->image->width;
  self->last_h = job->image->height;
  self->last_heads = job->heads;
  self->last_gh = job->gh;
  self->last_gw = job->gw;
  self->shown_step = job->step;
  if (!gtk_check_button_get_active (self->snapshots_check))
    show_maps (self, self->last_rgb, self->last_w, self->last_h, self->last_maps, self->last_heads,
               self->last_gh, self->last_gw);
  /* TRANSLATORS: status line: "<model> · <image>, 224×224, 14×14 patches, 6 heads" */
  status = g_strdup_printf (_("%s · %s, %d×%d, %d×%d patches, %d heads"), job->source, job->what,
                            job->image->width, job->image->height, job->gw, job->gh, job->heads);
  gtk_label_set_text (self->status_label, status);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->status_label), status);
}

static gboolean
start_compute (gpointer data)
{
  DinolabAttentionView *self = data;
  SourceKind source = gtk_drop_down_get_selected (self->source_dropdown);
  ImageKind image = gtk_drop_down_get_selected (self->image_dropdown);
  const DinolabRunInfo *run = selected_run (self);
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;
  ComputeJob *job;

  self->compute_idle = 0;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->generation++;

  job = g_new0 (ComputeJob, 1);
  job->generation = self->generation;
  job->step = -1;
  job->student = gtk_drop_down_get_selected (self->part_dropdown) == 1;
  if (source == SOURCE_WEIGHTS)
    {
      if (self->weights_path == NULL)
        {
          compute_job_free (job);
          gtk_label_set_text (self->status_label, _("Choose a weight file"));
          return G_SOURCE_REMOVE;
        }
      job->model_path = g_strdup (self->weights_path);
      job->source = g_path_get_basename (self->weights_path);
    }
  else
    {
      gint64 step = -1;
      guint sel = gtk_drop_down_get_selected (self->checkpoint_dropdown);

      if (run == NULL || self->store == NULL)
        {
          compute_job_free (job);
          gtk_label_set_text (self->status_label, _("Choose a run or a weight file"));
          return G_SOURCE_REMOVE;
        }
      if (source == SOURCE_RUN && sel != GTK_INVALID_LIST_POSITION && sel < self->ckpt_steps->len)
        step = g_array_index (self->ckpt_steps, gint64, sel);
      job->model_path = dinolab_eval_find_checkpoint (self->store, run->uuid, step, &job->step, &job->source, &error);
      if (job->model_path == NULL)
        {
          gtk_label_set_text (self->status_label, error->message);
          if (source != SOURCE_LIVE)
            toast (self, error->message);
          compute_job_free (job);
          return G_SOURCE_REMOVE;
        }
      job->dataset = run->dataset != NULL && *run->dataset != '\0' ? g_strdup (run->dataset) : NULL;
    }
  if (image == IMAGE_FILE)
    {
      if (self->image_path == NULL)
        {
          compute_job_free (job);
          gtk_label_set_text (self->status_label, _("Choose an image file or drop one on the view"));
          return G_SOURCE_REMOVE;
        }
      job->image_path = g_strdup (self->image_path);
    }
  job->split = gtk_drop_down_get_selected (self->split_dropdown) == 1 ? DINOLAB_SPLIT_TRAIN : DINOLAB_SPLIT_TEST;
  job->index = (gsize) gtk_spin_button_get_value_as_int (self->index_spin);

  self->cancellable = g_cancellable_new ();
  task = g_task_new (self, self->cancellable, compute_done, NULL);
  g_task_set_source_tag (task, start_compute);
  g_task_set_task_data (task, job, (GDestroyNotify) compute_job_free);
  set_busy (self, +1);
  g_task_run_in_thread (task, compute_thread);
  return G_SOURCE_REMOVE;
}

static void
schedule_compute (DinolabAttentionView *self)
{
  if (self->updating || self->compute_idle != 0)
    return;
  self->compute_idle = g_idle_add (start_compute, self);
}

// ---- the timeline (GTask: the snapshot and its probe image) -------------------------------

typedef struct
{
  DinolabStore     *store;      /* borrowed; thread-safe */
  char             *uuid;
  gint64            step;
  int               probe;
  guint             generation;
  /* out */
  DinolabEvalImage *image;
  float            *maps;       /* [heads, gh * gw] of the probe */
  int               heads, gh, gw, n_probes, item;
} SnapJob;

static void
snap_job_free (SnapJob *job)
{
  g_free (job->uuid);
  dinolab_eval_image_free (job->image);
  g_free (job->maps);
  g_free (job);
}

static void
snap_thread (GTask        *task,
             gpointer      source_object G_GNUC_UNUSED,
             gpointer      task_data,
             GCancellable *cancellable G_GNUC_UNUSED)
{
  SnapJob *job = task_data;
  g_autoptr (DinolabAttentionSnapshot) snap = NULL;
  g_autoptr (DinolabDataset) ds = NULL;
  g_autofree char *json = NULL;
  g_auto (DinolabHparams) hp = { 0 };
  g_autoptr (GError) error = NULL;
  gsize P;
  int k;

  dinolab_hparams_init (&hp);
  if (!(snap = dinolab_store_get_snapshot (job->store, job->uuid, job->step, &error)) ||
      !(json = dinolab_store_get_hparams_json (job->store, job->uuid, &error)) ||
      !dinolab_hparams_load_json (&hp, json, -1, NULL, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  k = CLAMP (job->probe, 0, snap->n_images - 1);
  job->n_probes = snap->n_images;
  job->item = snap->image_indices[k];
  job->heads = snap->heads;
  job->gh = snap->grid_h;
  job->gw = snap->grid_w;
  P = (gsize) snap->grid_h * snap->grid_w;
  job->maps = g_memdup2 (snap->maps + (gsize) k * snap->heads * P, sizeof (float) * snap->heads * P);
  /* the trainer's probes are test items, or train items when there is no test split */
  ds = dinolab_dataset_open (hp.dataset, DINOLAB_SPLIT_TEST, NULL);
  if (ds == NULL || dinolab_dataset_get_size (ds) == 0)
    {
      g_clear_pointer (&ds, dinolab_dataset_free);
      if (!(ds = dinolab_dataset_open (hp.dataset, DINOLAB_SPLIT_TRAIN, &error)))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  job->image = dinolab_eval_image_from_dataset (ds, (gsize) job->item, hp.global_crop_size, hp.patch_size, &error);
  if (job->image == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (job->image->height / hp.patch_size != job->gh || job->image->width / hp.patch_size != job->gw)
    {
      g_task_return_new_error (task, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                               _("snapshot at step %lld: a %d×%d grid, but the probe image has %d×%d patches"),
                               (long long) job->step, job->gw, job->gh, job->image->width / hp.patch_size,
                               job->image->height / hp.patch_size);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
snap_done (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data G_GNUC_UNUSED)
{
  DinolabAttentionView *self = DINOLAB_ATTENTION_VIEW (object);
  SnapJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;
  g_autofree char *status = NULL;

  set_busy (self, -1);
  if (self->disposed)
    return;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (job->generation == self->generation)
        toast (self, error->message);
      return;
    }
  if (job->generation != self->generation || !gtk_check_button_get_active (self->snapshots_check))
    return;
  self->updating = TRUE;
  gtk_adjustment_set_upper (gtk_spin_button_get_adjustment (self->probe_spin), job->n_probes - 1);
  self->updating = FALSE;
  show_maps (self, job->image->rgb, job->image->width, job->image->height, job->maps, job->heads, job->gh, job->gw);
  /* TRANSLATORS: status line of the timeline: step, probe number, dataset item */
  status = g_strdup_printf (_("Snapshot at step %lld · probe %d (item %d), %d heads"),
                            (long long) job->step, job->probe, job->item, job->heads);
  gtk_label_set_text (self->status_label, status);
}

static void
load_snapshot (DinolabAttentionView *self)
{
  const DinolabRunInfo *run = selected_run (self);
  g_autoptr (GTask) task = NULL;
  g_autofree char *label = NULL;
  SnapJob *job;
  guint i;

  if (run == NULL || self->store == NULL || self->snap_steps == NULL || self->snap_steps->len == 0)
    return;
  i = MIN ((guint) (gtk_adjustment_get_value (self->timeline_adjustment) + 0.5), self->snap_steps->len - 1);
  job = g_new0 (SnapJob, 1);
  job->store = self->store;
  job->uuid = g_strdup (run->uuid);
  job->step = g_array_index (self->snap_steps, gint64, i);
  job->probe = gtk_spin_button_get_value_as_int (self->probe_spin);
  job->generation = ++self->generation;
  label = g_strdup_printf (_("step %lld"), (long long) job->step);
  gtk_label_set_text (self->timeline_label, label);
  task = g_task_new (self, NULL, snap_done, NULL);
  g_task_set_source_tag (task, load_snapshot);
  g_task_set_task_data (task, job, (GDestroyNotify) snap_job_free);
  set_busy (self, +1);
  g_task_run_in_thread (task, snap_thread);
}

// ---- the live run ---------------------------------------------------------------

static gboolean
live_poll (gpointer data)
{
  DinolabAttentionView *self = data;
  const DinolabRunInfo *run = selected_run (self);
  g_autoptr (DinolabCheckpointInfo) latest = NULL;
  guint n_snaps = self->snap_steps != NULL ? self->snap_steps->len : 0;

  if (run == NULL || self->store == NULL || self->n_jobs > 0)
    return G_SOURCE_CONTINUE;
  latest = dinolab_store_get_latest_checkpoint (self->store, run->uuid, NULL);
  fill_snapshot_steps (self);
  if (latest != NULL && latest->step != self->shown_step)
    schedule_compute (self);
  else if (self->snap_steps->len != n_snaps && gtk_check_button_get_active (self->snapshots_check))
    load_snapshot (self);
  return G_SOURCE_CONTINUE;
}

static void
update_live (DinolabAttentionView *self)
{
  gboolean live = gtk_drop_down_get_selected (self->source_dropdown) == SOURCE_LIVE;

  if (live && self->live_timer == 0)
    self->live_timer = g_timeout_add_seconds (LIVE_POLL_SECONDS, live_poll, self);
  else if (!live && self->live_timer != 0)
    g_clear_handle_id (&self->live_timer, g_source_remove);
  if (live)
    {
      const DinolabRunInfo *run = selected_run (self);
      if (run != NULL && run->status != DINOLAB_RUN_STATUS_RUNNING)
        {
          g_autofree char *msg = g_strdup_printf (_("Run %s is not running: showing its newest checkpoint"), run->name);
          toast (self, msg);
        }
    }
}

// ---- signal handlers ------------------------------------------------------------

static void
on_source_changed (DinolabAttentionView *self)
{
  if (self->updating)
    return;
  update_sensitivity (self);
  update_live (self);
  schedule_compute (self);
}

static void
on_run_changed (DinolabAttentionView *self)
{
  if (self->updating)
    return;
  fill_checkpoints (self);
  fill_snapshot_steps (self);
  update_live (self);
  schedule_compute (self);
  if (gtk_check_button_get_active (self->snapshots_check))
    load_snapshot (self);
}

static void
on_input_changed (DinolabAttentionView *self)
{
  if (self->updating)
    return;
  update_sensitivity (self);
  schedule_compute (self);
}

static void
on_display_changed (DinolabAttentionView *self)
{
  dinolab_attention_grid_set_colormap (self->grid, gtk_drop_down_get_selected (self->colormap_dropdown));
  dinolab_attention_grid_set_opacity (self->grid, gtk_range_get_value (self->opacity_scale));
  dinolab_attention_grid_set_smooth (self->grid, gtk_check_button_get_active (self->smooth_check));
  dinolab_attention_grid_set_threshold (self->grid, gtk_check_button_get_active (self->threshold_check)
                                                    ? gtk_spin_button_get_value (self->threshold_spin) : 0.0);
  update_sensitivity (self);
}

static void
on_snapshots_toggled (DinolabAttentionView *self)
{
  if (gtk_check_button_get_active (self->snapshots_check))
    load_snapshot (self);
  else
    {
      self->generation++;  /* drop a snapshot still loading */
      if (self->last_rgb != NULL)
        show_maps (self, self->last_rgb, self->last_w, self->last_h, self->last_maps, self->last_heads,
                   self->last_gh, self->last_gw);
      else
        schedule_compute (self);
    }
}

static void
on_timeline_changed (DinolabAttentionView *self)
{
  if (self->updating)
    return;
  /* scrubbing shows the snapshots */
  if (!gtk_check_button_get_active (self->snapshots_check))
    gtk_check_button_set_active (self->snapshots_check, TRUE);  /* loads */
  else
    load_snapshot (self);
}

static gboolean
on_drop (GtkDropTarget        *target G_GNUC_UNUSED,
         const GValue         *value,
         double                x G_GNUC_UNUSED,
         double                y G_GNUC_UNUSED,
         DinolabAttentionView *self)
{
  GFile *file = g_value_get_object (value);
  g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;

  if (path == NULL)
    {
      toast (self, _("Only local image files can be dropped here"));
      return FALSE;
    }
  dinolab_attention_view_show_image_file (self, path);
  return TRUE;
}

// ---- file choosers (GtkFileChooserNative: GtkFileDialog is GTK 4.10) ------------------

static GtkWindow *
parent_window (DinolabAttentionView *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  return GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL;
}

/* What an accepted file chooser hands its path to. */
typedef void (*ShowPathFunc) (DinolabAttentionView *self,
                              const char           *path);

static void
on_open_response (GtkNativeDialog      *dialog,
                  int                   response,
                  DinolabAttentionView *self)
{
  ShowPathFunc show = (ShowPathFunc) g_object_get_data (G_OBJECT (dialog), "show-path");

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);
      if (path != NULL)
        show (self, path);
    }
  g_object_unref (dialog);
}

/* A modal chooser for one file matching @filter (taken); @show gets its path. */
static void
choose_file (DinolabAttentionView *self,
             const char           *title,
             GtkFileFilter        *filter,
             ShowPathFunc          show)
{
  GtkFileChooserNative *dialog;

  dialog = gtk_file_chooser_native_new (title, parent_window (self), GTK_FILE_CHOOSER_ACTION_OPEN,
                                        _("_Open"), _("_Cancel"));
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), filter);
  g_object_unref (filter);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_object_set_data (G_OBJECT (dialog), "show-path", (gpointer) show);
  g_signal_connect (dialog, "response", G_CALLBACK (on_open_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
choose_weights (GtkWidget  *widget,
                const char *action_name G_GNUC_UNUSED,
                GVariant   *param G_GNUC_UNUSED)
{
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("Safetensors weights"));
  gtk_file_filter_add_pattern (filter, "*.safetensors");
  choose_file (DINOLAB_ATTENTION_VIEW (widget), _("Choose a Weight File"), filter,
               dinolab_attention_view_show_weights);
}

static void
choose_image (GtkWidget  *widget,
              const char *action_name G_GNUC_UNUSED,
              GVariant   *param G_GNUC_UNUSED)
{
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("Images"));
  gtk_file_filter_add_pixbuf_formats (filter);
  choose_file (DINOLAB_ATTENTION_VIEW (widget), _("Choose an Image"), filter,
               dinolab_attention_view_show_image_file);
}

static void
on_export_response (GtkNativeDialog      *dialog,
                    int                   response,
                    DinolabAttentionView *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);
      g_autoptr (GError) error = NULL;

      if (path == NULL || !dinolab_attention_view_export_png (self, path, &error))
        toast (self, error != NULL ? error->message : _("Only local files can be written"));
      else
        {
          g_autofree char *msg = g_strdup_printf (_("Saved %s"), path);
          toast (self, msg);
        }
    }
  g_object_unref (dialog);
}

static void
export_png (GtkWidget  *widget,
            const char *action_name G_GNUC_UNUSED,
            GVariant   *param G_GNUC_UNUSED)
{
  DinolabAttentionView *self = DINOLAB_ATTENTION_VIEW (widget);
  GtkFileChooserNative *dialog;

  if (dinolab_attention_grid_get_n_heads (self->grid) == 0)
    {
      toast (self, _("There are no attention maps to export yet"));
      return;
    }
  dialog = gtk_file_chooser_native_new (_("Export Attention Maps"), parent_window (self),
                                        GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"), _("_Cancel"));
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), "attention.png");
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (on_export_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

// ---- public ---------------------------------------------------------------------

GtkWidget *
dinolab_attention_view_new (void)
{
  return g_object_new (DINOLAB_TYPE_ATTENTION_VIEW, NULL);
}

void
dinolab_attention_view_set_store (DinolabAttentionView *self,
                                  DinolabStore         *store)
{
  const DinolabRunInfo *run;
  g_autofree char *uuid = NULL;

  g_return_if_fail (DINOLAB_IS_ATTENTION_VIEW (self));
  if ((run = selected_run (self)) != NULL)
    uuid = g_strdup (run->uuid);
  self->store = store;
  fill_runs (self, uuid);
  schedule_compute (self);
}

void
dinolab_attention_view_show_run (DinolabAttentionView *self,
                                 const char           *uuid)
{
  guint i;

  g_return_if_fail (DINOLAB_IS_ATTENTION_VIEW (self));
  g_return_if_fail (uuid != NULL);
  fill_runs (self, uuid);
  for (i = 0; self->runs != NULL && i < self->runs->len; i++)
    if (g_strcmp0 (((DinolabRunInfo *) g_ptr_array_index (self->runs, i))->uuid, uuid) == 0)
      break;
  if (self->runs == NULL || i == self->runs->len)
    {
      g_autofree char *msg = g_strdup_printf (_("No run %s in the store"), uuid);
      toast (self, msg);
      return;
    }
  self->updating = TRUE;
  if (gtk_drop_down_get_selected (self->source_dropdown) == SOURCE_WEIGHTS)
    gtk_drop_down_set_selected (self->source_dropdown, SOURCE_RUN);
  self->updating = FALSE;
  update_sensitivity (self);
  update_live (self);
  schedule_compute (self);
}

void
dinolab_attention_view_show_weights (DinolabAttentionView *self,
                                     const char           *path)
{
  g_autofree char *base = NULL;

  g_return_if_fail (DINOLAB_IS_ATTENTION_VIEW (self));
  g_return_if_fail (path != NULL);
  g_free (self->weights_path);
  self->weights_path = g_strdup (path);
  base = g_path_get_basename (path);
  gtk_label_set_text (self->weights_label, base);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->weights_label), path);
  self->updating = TRUE;
  gtk_drop_down_set_selected (self->source_dropdown, SOURCE_WEIGHTS);
  self->updating = FALSE;
  update_sensitivity (self);
  update_live (self);
  schedule_compute (self);
}

void
dinolab_attention_view_show_image_file (DinolabAttentionView *self,
                                        const char           *path)
{
  g_autofree char *base = NULL;

  g_return_if_fail (DINOLAB_IS_ATTENTION_VIEW (self));
  g_return_if_fail (path != NULL);
  g_free (self->image_path);
  self->image_path = g_strdup (path);
  base = g_path_get_basename (path);
  gtk_label_set_text (self->image_label, base);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->image_label), path);
  self->updating = TRUE;
  gtk_drop_down_set_selected (self->image_dropdown, IMAGE_FILE);
  gtk_check_button_set_active (self->snapshots_check, FALSE);
  self->updating = FALSE;
  update_sensitivity (self);
  schedule_compute (self);
}

gboolean
dinolab_attention_view_is_busy (DinolabAttentionView *self)
{
  g_return_val_if_fail (DINOLAB_IS_ATTENTION_VIEW (self), FALSE);
  return self->n_jobs > 0 || self->compute_idle != 0;
}

gboolean
dinolab_attention_view_export_png (DinolabAttentionView *self,
                                   const char           *path,
                                   GError              **error)
{
  g_return_val_if_fail (DINOLAB_IS_ATTENTION_VIEW (self), FALSE);
  return dinolab_attention_grid_export_png (self->grid, path, error);
}

// ---- GObject --------------------------------------------------------------------

static void
dinolab_attention_view_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  DinolabAttentionView *self = DINOLAB_ATTENTION_VIEW (object);

  switch (prop_id)
    {
    case PROP_BUSY:
      g_value_set_boolean (value, dinolab_attention_view_is_busy (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dinolab_attention_view_dispose (GObject *object)
{
  DinolabAttentionView *self = DINOLAB_ATTENTION_VIEW (object);

  self->disposed = TRUE;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->compute_idle, g_source_remove);
  g_clear_handle_id (&self->live_timer, g_source_remove);
  gtk_widget_dispose_template (GTK_WIDGET (self), DINOLAB_TYPE_ATTENTION_VIEW);
  G_OBJECT_CLASS (dinolab_attention_view_parent_class)->dispose (object);
}

static void
dinolab_attention_view_finalize (GObject *object)
{
  DinolabAttentionView *self = DINOLAB_ATTENTION_VIEW (object);

  g_clear_pointer (&self->runs, g_ptr_array_unref);
  g_clear_pointer (&self->ckpt_steps, g_array_unref);
  g_clear_pointer (&self->snap_steps, g_array_unref);
  g_free (self->weights_path);
  g_free (self->image_path);
  g_free (self->last_rgb);
  g_free (self->last_maps);
  G_OBJECT_CLASS (dinolab_attention_view_parent_class)->finalize (object);
}

static void
dinolab_attention_view_class_init (DinolabAttentionViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = dinolab_attention_view_get_property;
  object_class->dispose = dinolab_attention_view_dispose;
  object_class->finalize = dinolab_attention_view_finalize;

  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (DINOLAB_TYPE_ATTENTION_GRID);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/dinolab/Dinolab/dinolab-attention-view.ui");
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, main_box);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, source_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, run_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, checkpoint_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, weights_button);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, weights_label);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, part_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, image_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, split_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, index_spin);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, image_button);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, image_label);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, colormap_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, opacity_scale);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, smooth_check);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, threshold_check);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, threshold_spin);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, spinner);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, status_label);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, grid);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, snapshots_check);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, timeline_scale);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, timeline_adjustment);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, timeline_label);
  gtk_widget_class_bind_template_child (widget_class, DinolabAttentionView, probe_spin);

  gtk_widget_class_install_action (widget_class, "attention.choose-weights", NULL, choose_weights);
  gtk_widget_class_install_action (widget_class, "attention.choose-image", NULL, choose_image);
  gtk_widget_class_install_action (widget_class, "attention.export", NULL, export_png);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "dinolab-attention-view");
}

static void
dinolab_attention_view_init (DinolabAttentionView *self)
{
  GtkDropTarget *drop;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->ckpt_steps = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->shown_step = -1;

  g_signal_connect_swapped (self->source_dropdown, "notify::selected", G_CALLBACK (on_source_changed), self);
  g_signal_connect_swapped (self->run_dropdown, "notify::selected", G_CALLBACK (on_run_changed), self);
  g_signal_connect_swapped (self->checkpoint_dropdown, "notify::selected", G_CALLBACK (on_input_changed), self);
  g_signal_connect_swapped (self->part_dropdown, "notify::selected", G_CALLBACK (on_input_changed), self);
  g_signal_connect_swapped (self->image_dropdown, "notify::selected", G_CALLBACK (on_input_changed), self);
  g_signal_connect_swapped (self->split_dropdown, "notify::selected", G_CALLBACK (on_input_changed), self);
  g_signal_connect_swapped (self->index_spin, "value-changed", G_CALLBACK (on_input_changed), self);
  g_signal_connect_swapped (self->colormap_dropdown, "notify::selected", G_CALLBACK (on_display_changed), self);
  g_signal_connect_swapped (self->opacity_scale, "value-changed", G_CALLBACK (on_display_changed), self);
  g_signal_connect_swapped (self->smooth_check, "toggled", G_CALLBACK (on_display_changed), self);
  g_signal_connect_swapped (self->threshold_check, "toggled", G_CALLBACK (on_display_changed), self);
  g_signal_connect_swapped (self->threshold_spin, "value-changed", G_CALLBACK (on_display_changed), self);
  g_signal_connect_swapped (self->snapshots_check, "toggled", G_CALLBACK (on_snapshots_toggled), self);
  g_signal_connect_swapped (self->timeline_scale, "value-changed", G_CALLBACK (on_timeline_changed), self);
  g_signal_connect_swapped (self->probe_spin, "value-changed", G_CALLBACK (on_timeline_changed), self);

  drop = gtk_drop_target_new (G_TYPE_FILE, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));

  gtk_accessible_update_property (GTK_ACCESSIBLE (self->status_label), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Status"), -1);
  update_sensitivity (self);
  on_display_changed (self);
}
