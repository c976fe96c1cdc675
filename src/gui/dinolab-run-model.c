/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-run-model.c: DinolabRunRow, DinolabRunModel and DinolabRunStoreRef
 * (see dinolab-run-model.h). The rows compute their cell texts from the
 * DinolabRunInfo they hold when a property is read, so a refresh only swaps
 * the info and notifies. This file formats and merges; it does not query the
 * store (the Runs view does that in a GTask) and knows no widget.
 */
#define G_LOG_DOMAIN "dinolab-run-model"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "dinolab-run-model.h"

/* ---- store handle ----------------------------------------------------------- */

struct _DinolabRunStoreRef
{
  gatomicrefcount  ref_count;
  GMutex           mutex;
  char            *path;
  DinolabStore    *store;
};

DinolabRunStoreRef *
dinolab_run_store_ref_new (const char *path)
{
  DinolabRunStoreRef *ref;

  g_return_val_if_fail (path != NULL, NULL);

  ref = g_new0 (DinolabRunStoreRef, 1);
  g_atomic_ref_count_init (&ref->ref_count);
  g_mutex_init (&ref->mutex);
  ref->path = g_strdup (path);
  return ref;
}

DinolabRunStoreRef *
dinolab_run_store_ref_ref (DinolabRunStoreRef *ref)
{
  g_return_val_if_fail (ref != NULL, NULL);

  g_atomic_ref_count_inc (&ref->ref_count);
  return ref;
}

void
dinolab_run_store_ref_unref (DinolabRunStoreRef *ref)
{
  if (ref == NULL || !g_atomic_ref_count_dec (&ref->ref_count))
    return;
  dinolab_store_close (ref->store);
  g_mutex_clear (&ref->mutex);
  g_free (ref->path);
  g_free (ref);
}

const char *
dinolab_run_store_ref_get_path (DinolabRunStoreRef *ref)
{
  g_return_val_if_fail (ref != NULL, NULL);

  return ref->path;
}

DinolabStore *
dinolab_run_store_ref_get (DinolabRunStoreRef  *ref,
                           GError             **error)
{
  DinolabStore *store;

  g_return_val_if_fail (ref != NULL, NULL);

  g_mutex_lock (&ref->mutex);
  if (ref->store == NULL)
    ref->store = dinolab_store_open (ref->path, error);
  store = ref->store;
  g_mutex_unlock (&ref->mutex);
  return store;
}

/* ---- row -------------------------------------------------------------------- */

struct _DinolabRunRow
{
  GObject         parent_instance;
  DinolabRunInfo *info;
  char           *haystack;  /* case-folded name, tags, dataset, status */
};

G_DEFINE_FINAL_TYPE (DinolabRunRow, dinolab_run_row, G_TYPE_OBJECT)

enum {
  ROW_PROP_0,
  ROW_PROP_UUID,
  ROW_PROP_NAME,
  ROW_PROP_STATUS_TEXT,
  ROW_PROP_DATASET,
  ROW_PROP_STARTED_TEXT,
  ROW_PROP_DURATION_TEXT,
  ROW_PROP_EPOCHS_TEXT,
  ROW_PROP_LAST_LOSS_TEXT,
  ROW_PROP_BEST_KNN_TEXT,
  ROW_PROP_TAGS_TEXT,
  ROW_PROP_NOTES,
  ROW_PROP_STATUS,
  ROW_PROP_STARTED,
  ROW_PROP_DURATION,
  ROW_PROP_EPOCH,
  ROW_PROP_LAST_LOSS,
  ROW_PROP_BEST_KNN,
  ROW_N_PROPS
};

static GParamSpec *row_props[ROW_N_PROPS];

static const char *
status_label (DinolabRunStatus status)
{
  switch (status)
    {
    case DINOLAB_RUN_STATUS_RUNNING: return C_("run status", "Running");
    case DINOLAB_RUN_STATUS_PAUSED: return C_("run status", "Paused");
    case DINOLAB_RUN_STATUS_FINISHED: return C_("run status", "Finished");
    case DINOLAB_RUN_STATUS_STOPPED: return C_("run status", "Stopped");
    case DINOLAB_RUN_STATUS_INTERRUPTED: return C_("run status", "Interrupted");
    case DINOLAB_RUN_STATUS_DIVERGED: return C_("run status", "Diverged");
    case DINOLAB_RUN_STATUS_FAILED: return C_("run status", "Failed");
    default: return "?";
    }
}

static char *
format_duration (double seconds)
{
  gint64 s = (gint64) (seconds + 0.5);

  if (seconds <= 0)
    return g_strdup ("–");
  if (s < 60)
    /* Translators: a duration, "s" abbreviates seconds */
    return g_strdup_printf (_("%d s"), (int) s);
  if (s < 3600)
    /* Translators: a duration in minutes and seconds */
    return g_strdup_printf (_("%d min %02d s"), (int) (s / 60), (int) (s % 60));
  /* Translators: a duration in hours and minutes, "h" abbreviates hours */
  return g_strdup_printf (_("%d h %02d min"), (int) (s / 3600), (int) (s % 3600 / 60));
}

static char *
row_build_haystack (const DinolabRunInfo *info)
{
  g_autofree char *tags = g_strjoinv (" ", info->tags);
  g_autofree char *all = g_strjoin ("\n", info->name, tags, info->dataset,
                                    dinolab_run_status_to_string (info->status),
                                    status_label (info->status), NULL);
  return g_utf8_casefold (all, -1);
}

static void
dinolab_run_row_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  DinolabRunRow *self = DINOLAB_RUN_ROW (object);
  const DinolabRunInfo *info = self->info;

  switch (prop_id)
    {
    case ROW_PROP_UUID:
      g_value_set_string (value, info->uuid);
      break;
    case ROW_PROP_NAME:
      g_value_set_string (value, info->name);
      break;
    case ROW_PROP_STATUS_TEXT:
      g_value_set_string (value, status_label (info->status));
      break;
    case ROW_PROP_DATASET:
      g_value_set_string (value, info->dataset);
      break;
    case ROW_PROP_STARTED_TEXT:
      if (info->started > 0)
        {
          g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local ((gint64) info->started);
          g_value_take_string (value, g_date_time_format (dt, "%Y-%m-%d %H:%M"));
        }
      else
        g_value_set_string (value, "–");
      break;
    case ROW_PROP_DURATION_TEXT:
      g_value_take_string (value, format_duration (dinolab_run_info_get_duration (info)));
      break;
    case ROW_PROP_EPOCHS_TEXT:
      if (isnan (info->last_epoch) && info->epochs <= 0)
        g_value_set_string (value, "–");
      else if (info->epochs <= 0)
        g_value_take_string (value, g_strdup_printf ("%.1f", info->last_epoch));
      else
        /* Translators: epochs done of epochs planned, e.g. "2.5 / 10" */
        g_value_take_string (value, g_strdup_printf (_("%.1f / %d"),
                                                     isnan (info->last_epoch) ? 0.0 : info->last_epoch,
                                                     info->epochs));
      break;
    case ROW_PROP_LAST_LOSS_TEXT:
      g_value_take_string (value, isnan (info->last_loss) ? g_strdup ("–")
                                  : g_strdup_printf ("%.4f", info->last_loss));
      break;
    case ROW_PROP_BEST_KNN_TEXT:
      g_value_take_string (value, isnan (info->best_knn_top1) ? g_strdup ("–")
                                  : g_strdup_printf ("%.1f %%", info->best_knn_top1));  /* stored in percent */
      break;
    case ROW_PROP_TAGS_TEXT:
      g_value_take_string (value, g_strjoinv (", ", info->tags));
      break;
    case ROW_PROP_NOTES:
      g_value_set_string (value, info->notes);
      break;
    case ROW_PROP_STATUS:
      g_value_set_int (value, (int) info->status);
      break;
    case ROW_PROP_STARTED:
      g_value_set_double (value, info->started > 0 ? info->started : info->created);
      break;
    case ROW_PROP_DURATION:
      g_value_set_double (value, dinolab_run_info_get_duration (info));
      break;
    case ROW_PROP_EPOCH:
      g_value_set_double (value, isnan (info->last_epoch) ? -1.0 : info->last_epoch);
      break;
    case ROW_PROP_LAST_LOSS:
      g_value_set_double (value, isnan (info->last_loss) ? INFINITY : info->last_loss);
      break;
    case ROW_PROP_BEST_KNN:
      g_value_set_double (value, isnan (info->best_knn_top1) ? -1.0 : info->best_knn_top1);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dinolab_run_row_finalize (GObject *object)
{
  DinolabRunRow *self = DINOLAB_RUN_ROW (object);

  dinolab_run_info_free (self->info);
  g_free (self->haystack);
  G_OBJECT_CLASS (dinolab_run_row_parent_class)->finalize (object);
}

static void
dinolab_run_row_class_init (DinolabRunRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
  static const char *const strings[] = {
    NULL, "uuid", "name", "status-text", "dataset", "started-text", "duration-text",
    "epochs-text", "last-loss-text", "best-knn-text", "tags-text", "notes",
  };
  guint i;

  object_class->get_property = dinolab_run_row_get_property;
  object_class->finalize = dinolab_run_row_finalize;

  for (i = ROW_PROP_UUID; i <= ROW_PROP_NOTES; i++)
    row_props[i] = g_param_spec_string (strings[i], NULL, NULL, NULL, flags);
  row_props[ROW_PROP_STATUS] = g_param_spec_int ("status", NULL, NULL, 0,
                                                 DINOLAB_RUN_STATUS_N, 0, flags);
  row_props[ROW_PROP_STARTED] = g_param_spec_double ("started", NULL, NULL,
                                                     -G_MAXDOUBLE, G_MAXDOUBLE, 0, flags);
  row_props[ROW_PROP_DURATION] = g_param_spec_double ("duration", NULL, NULL,
                                                      -G_MAXDOUBLE, G_MAXDOUBLE, 0, flags);
  row_props[ROW_PROP_EPOCH] = g_param_spec_double ("epoch", NULL, NULL,
                                                   -G_MAXDOUBLE, G_MAXDOUBLE, 0, flags);
  row_props[ROW_PROP_LAST_LOSS] = g_param_spec_double ("last-loss", NULL, NULL,
                                                       -INFINITY, INFINITY, 0, flags);
  row_props[ROW_PROP_BEST_KNN] = g_param_spec_double ("best-knn", NULL, NULL,
                                                      -G_MAXDOUBLE, G_MAXDOUBLE, 0, flags);
  g_object_class_install_properties (object_class, ROW_N_PROPS, row_props);
}

static void
dinolab_run_row_init (DinolabRunRow *self G_GNUC_UNUSED)
{
}

static DinolabRunRow *
dinolab_run_row_new (DinolabRunInfo *info)
{
  DinolabRunRow *self = g_object_new (DINOLAB_TYPE_RUN_ROW, NULL);

  self->info = info;
  self->haystack = row_build_haystack (info);
  return self;
}

static gboolean
run_info_equal (const DinolabRunInfo *a,
                const DinolabRunInfo *b)
{
#define SAME_NUM(f) ((isnan (a->f) && isnan (b->f)) || a->f == b->f)
  return g_strcmp0 (a->name, b->name) == 0 && a->status == b->status
         && g_strcmp0 (a->dataset, b->dataset) == 0 && g_strcmp0 (a->notes, b->notes) == 0
         && g_strv_equal ((const char *const *) a->tags, (const char *const *) b->tags)
         && a->started == b->started && a->ended == b->ended && a->heartbeat == b->heartbeat
         && a->epochs == b->epochs && a->last_step == b->last_step
         && SAME_NUM (last_epoch) && SAME_NUM (last_loss) && SAME_NUM (best_knn_top1)
         && a->n_points == b->n_points;
#undef SAME_NUM
}

/* Takes @info; notifies every property when anything changed. */
static void
dinolab_run_row_set_info (DinolabRunRow  *self,
                          DinolabRunInfo *info)
{
  gboolean same = run_info_equal (self->info, info);
  guint i;

  dinolab_run_info_free (self->info);
  self->info = info;
  if (same)
    return;
  g_free (self->haystack);
  self->haystack = row_build_haystack (info);
  g_object_freeze_notify (G_OBJECT (self));
  for (i = ROW_PROP_NAME; i < ROW_N_PROPS; i++)
    g_object_notify_by_pspec (G_OBJECT (self), row_props[i]);
  g_object_thaw_notify (G_OBJECT (self));
}

const DinolabRunInfo *
dinolab_run_row_get_info (DinolabRunRow *self)
{
  g_return_val_if_fail (DINOLAB_IS_RUN_ROW (self), NULL);
  return self->info;
}

const char *
dinolab_run_row_get_uuid (DinolabRunRow *self)
{
  g_return_val_if_fail (DINOLAB_IS_RUN_ROW (self), NULL);
  return self->info->uuid;
}

const char *
dinolab_run_row_get_name (DinolabRunRow *self)
{
  g_return_val_if_fail (DINOLAB_IS_RUN_ROW (self), NULL);
  return self->info->name;
}

gboolean
dinolab_run_row_matches (DinolabRunRow *self,
                         const char    *search)
{
  g_autofree char *folded = NULL;
  g_auto(GStrv) words = NULL;
  guint i;

  g_return_val_if_fail (DINOLAB_IS_RUN_ROW (self), FALSE);

  if (search == NULL || *search == '\0')
    return TRUE;
  folded = g_utf8_casefold (search, -1);
  words = g_strsplit_set (folded, " \t", -1);
  for (i = 0; words[i] != NULL; i++)
    if (words[i][0] != '\0' && strstr (self->haystack, words[i]) == NULL)
      return FALSE;
  return TRUE;
}

/* ---- model ------------------------------------------------------------------ */

struct _DinolabRunModel
{
  GObject    parent_instance;
  GPtrArray *rows;  /* DinolabRunRow, newest created first */
};

static void dinolab_run_model_list_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (DinolabRunModel, dinolab_run_model, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      dinolab_run_model_list_iface_init))

static GType
dinolab_run_model_get_item_type (GListModel *list G_GNUC_UNUSED)
{
  return DINOLAB_TYPE_RUN_ROW;
}

static guint
dinolab_run_model_get_n_items (GListModel *list)
{
  return DINOLAB_RUN_MODEL (list)->rows->len;
}

static gpointer
dinolab_run_model_get_item (GListModel *list,
                            guint       position)
{
  DinolabRunModel *self = DINOLAB_RUN_MODEL (list);

  if (position >= self->rows->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->rows, position));
}

static void
dinolab_run_model_list_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = dinolab_run_model_get_item_type;
  iface->get_n_items = dinolab_run_model_get_n_items;
  iface->get_item = dinolab_run_model_get_item;
}

static void
dinolab_run_model_finalize (GObject *object)
{
  g_ptr_array_unref (DINOLAB_RUN_MODEL (object)->rows);
  G_OBJECT_CLASS (dinolab_run_model_parent_class)->finalize (object);
}

static void
dinolab_run_model_class_init (DinolabRunModelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dinolab_run_model_finalize;
}

static void
dinolab_run_model_init (DinolabRunModel *self)
{
  self->rows = g_ptr_array_new_with_free_func (g_object_unref);
}

DinolabRunModel *
dinolab_run_model_new (void)
{
  return g_object_new (DINOLAB_TYPE_RUN_MODEL, NULL);
}

DinolabRunRow *
dinolab_run_model_find (DinolabRunModel *self,
                        const char      *uuid)
{
  guint i;

  g_return_val_if_fail (DINOLAB_IS_RUN_MODEL (self), NULL);
  g_return_val_if_fail (uuid != NULL, NULL);

  for (i = 0; i < self->rows->len; i++)
    {
      DinolabRunRow *row = g_ptr_array_index (self->rows, i);
      if (strcmp (row->info->uuid, uuid) == 0)
        return row;
    }
  return NULL;
}

void
dinolab_run_model_update (DinolabRunModel *self,
                          GPtrArray       *infos)
{
  g_autoptr(GHashTable) fresh = NULL;   /* uuid -> DinolabRunInfo (borrowed) */
  g_autoptr(GHashTable) known = NULL;   /* uuid -> DinolabRunRow (borrowed) */
  guint i;

  g_return_if_fail (DINOLAB_IS_RUN_MODEL (self));
  g_return_if_fail (infos != NULL);

  /* the rows take the infos: stop the array from freeing them */
  g_ptr_array_set_free_func (infos, NULL);
  fresh = g_hash_table_new (g_str_hash, g_str_equal);
  for (i = 0; i < infos->len; i++)
    {
      DinolabRunInfo *info = g_ptr_array_index (infos, i);
      g_hash_table_insert (fresh, info->uuid, info);
    }

  /* 1. rows of runs that are gone (one items-changed per removal: refreshes
   * remove one or two runs at most) */
  for (i = self->rows->len; i-- > 0;)
    {
      DinolabRunRow *row = g_ptr_array_index (self->rows, i);
      if (!g_hash_table_contains (fresh, row->info->uuid))
        {
          g_ptr_array_remove_index (self->rows, i);
          g_list_model_items_changed (G_LIST_MODEL (self), i, 1, 0);
        }
    }

  /* 2. known runs get their new info in place */
  known = g_hash_table_new (g_str_hash, g_str_equal);
  for (i = 0; i < self->rows->len; i++)
    {
      DinolabRunRow *row = g_ptr_array_index (self->rows, i);
      DinolabRunInfo *info = g_hash_table_lookup (fresh, row->info->uuid);
      g_hash_table_insert (known, info->uuid, row);
      dinolab_run_row_set_info (row, info);
    }

  /* 3. new runs, inserted by creation time (newest first). A first load
   * inserts everything with one items-changed. */
  if (self->rows->len == 0 && infos->len > 0)
    {
      for (i = 0; i < infos->len; i++)
        g_ptr_array_add (self->rows, dinolab_run_row_new (g_ptr_array_index (infos, i)));
      g_list_model_items_changed (G_LIST_MODEL (self), 0, 0, infos->len);
    }
  else
    {
      for (i = 0; i < infos->len; i++)
        {
          DinolabRunInfo *info = g_ptr_array_index (infos, i);
          guint pos = 0;

          if (g_hash_table_contains (known, info->uuid))
            continue;
          while (pos < self->rows->len
                 && ((DinolabRunRow *) g_ptr_array_index (self->rows, pos))->info->created
                    >= info->created)
            pos++;
          g_ptr_array_insert (self->rows, pos, dinolab_run_row_new (info));
          g_list_model_items_changed (G_LIST_MODEL (self), pos, 0, 1);
        }
    }
  g_ptr_array_unref (infos);
}
