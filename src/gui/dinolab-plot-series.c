/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-plot-series.c: the points of one plot curve (see
 * dinolab-plot-series.h). Four GArrays of doubles (step, epoch, wall, y),
 * running ranges kept on append so the plot's auto-range is O(1), a cached
 * EMA copy of y, and the min/max decimation into pixel columns. It is not
 * where anything is drawn.
 */
#define G_LOG_DOMAIN "dinolab-plot-series"

#include "config.h"

#include <math.h>
#include <string.h>

#include "dinolab-plot-series.h"

struct _DinolabPlotSeries
{
  GObject   parent_instance;

  char     *label;
  GdkRGBA   colour;
  gboolean  has_colour;

  GArray   *x[DINOLAB_PLOT_X_N_KINDS];  /* double [n] each */
  GArray   *y;                          /* double [n] */
  gboolean  x_sorted[DINOLAB_PLOT_X_N_KINDS];

  /* running statistics of y, updated on append */
  double    y_min, y_max, y_min_positive;
  guint     n_finite;
  guint     n_nonpositive;

  /* EMA cache: smoothed[0 .. n_smoothed) is valid for smooth_weight */
  GArray   *smoothed;                   /* double [n_smoothed] */
  double    smooth_weight;
  double    smooth_last;                /* the biased running mean m_i */
  guint     smooth_n_finite;            /* finite values seen, for the debias */
};

G_DEFINE_FINAL_TYPE (DinolabPlotSeries, dinolab_plot_series, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (DinolabPlotXKind, dinolab_plot_x_kind,
                    G_DEFINE_ENUM_VALUE (DINOLAB_PLOT_X_STEP, "step"),
                    G_DEFINE_ENUM_VALUE (DINOLAB_PLOT_X_EPOCH, "epoch"),
                    G_DEFINE_ENUM_VALUE (DINOLAB_PLOT_X_WALL, "wall"))

enum {
  PROP_0,
  PROP_LABEL,
  N_PROPS
};

enum {
  CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* ---- GObject ------------------------------------------------------------- */

static void
dinolab_plot_series_finalize (GObject *object)
{
  DinolabPlotSeries *self = DINOLAB_PLOT_SERIES (object);
  int k;

  g_free (self->label);
  for (k = 0; k < DINOLAB_PLOT_X_N_KINDS; k++)
    g_array_unref (self->x[k]);
  g_array_unref (self->y);
  g_array_unref (self->smoothed);

  G_OBJECT_CLASS (dinolab_plot_series_parent_class)->finalize (object);
}

static void
dinolab_plot_series_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  DinolabPlotSeries *self = DINOLAB_PLOT_SERIES (object);

  switch (prop_id)
    {
    case PROP_LABEL:
      g_value_set_string (value, self->label);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dinolab_plot_series_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  DinolabPlotSeries *self = DINOLAB_PLOT_SERIES (object);

  switch (prop_id)
    {
    case PROP_LABEL:
      dinolab_plot_series_set_label (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dinolab_plot_series_class_init (DinolabPlotSeriesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = dinolab_plot_series_finalize;
  object_class->get_property = dinolab_plot_series_get_property;
  object_class->set_property = dinolab_plot_series_set_property;

  properties[PROP_LABEL] =
    g_param_spec_string ("label", NULL, NULL, "",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* ::changed: points, label or colour changed; the plot redraws. */
  signals[CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
dinolab_plot_series_reset_stats (DinolabPlotSeries *self)
{
  int k;

  self->y_min = INFINITY;
  self->y_max = -INFINITY;
  self->y_min_positive = INFINITY;
  self->n_finite = 0;
  self->n_nonpositive = 0;
  for (k = 0; k < DINOLAB_PLOT_X_N_KINDS; k++)
    self->x_sorted[k] = TRUE;
  g_array_set_size (self->smoothed, 0);
  self->smooth_last = 0.0;
  self->smooth_n_finite = 0;
}

static void
dinolab_plot_series_init (DinolabPlotSeries *self)
{
  int k;

  self->label = g_strdup ("");
  for (k = 0; k < DINOLAB_PLOT_X_N_KINDS; k++)
    self->x[k] = g_array_new (FALSE, FALSE, sizeof (double));
  self->y = g_array_new (FALSE, FALSE, sizeof (double));
  self->smoothed = g_array_new (FALSE, FALSE, sizeof (double));
  self->smooth_weight = 0.0;
  dinolab_plot_series_reset_stats (self);
}

/* ---- appending ----------------------------------------------------------- */

/* Makes room for @n more values in @array without changing its length. */
static void
dinolab_plot_series_reserve (GArray *array,
                             guint   n)
{
  guint len = array->len;

  g_array_set_size (array, len + n);  /* a GArray never shrinks its storage */
  g_array_set_size (array, len);
}

/* Adds one point without emitting ::changed. */
static void
dinolab_plot_series_push (DinolabPlotSeries *self,
                          const double       x[DINOLAB_PLOT_X_N_KINDS],
                          double             y)
{
  guint n = self->y->len;
  int k;

  for (k = 0; k < DINOLAB_PLOT_X_N_KINDS; k++)
    {
      if (n > 0 && self->x_sorted[k]
          && !(x[k] >= g_array_index (self->x[k], double, n - 1)))
        self->x_sorted[k] = FALSE;
      g_array_append_val (self->x[k], x[k]);
    }
  g_array_append_val (self->y, y);

  if (isfinite (y))
    {
      self->n_finite++;
      self->y_min = MIN (self->y_min, y);
      self->y_max = MAX (self->y_max, y);
      if (y > 0.0)
        self->y_min_positive = MIN (self->y_min_positive, y);
    }
  if (y <= 0.0)
    self->n_nonpositive++;
}

DinolabPlotSeries *
dinolab_plot_series_new (const char *label)
{
  return g_object_new (DINOLAB_TYPE_PLOT_SERIES,
                       "label", label != NULL ? label : "",
                       NULL);
}

void
dinolab_plot_series_append (DinolabPlotSeries *self,
                            double             step,
                            double             epoch,
                            double             wall,
                            double             y)
{
  double x[DINOLAB_PLOT_X_N_KINDS] = { step, epoch, wall };

  g_return_if_fail (DINOLAB_IS_PLOT_SERIES (self));

  dinolab_plot_series_push (self, x, y);
  g_signal_emit (self, signals[CHANGED], 0);
}

void
dinolab_plot_series_append_many (DinolabPlotSeries *self,
                                 const double      *step,
                                 const double      *epoch,
                                 const double      *wall,
                                 const double      *y,
                                 guint              n)
{
  guint i;

  g_return_if_fail (DINOLAB_IS_PLOT_SERIES (self));
  g_return_if_fail (n == 0 || (step != NULL && y != NULL));

  /* grow each array once, not by doubling through n appends */
  for (i = 0; i < DINOLAB_PLOT_X_N_KINDS; i++)
    dinolab_plot_series_reserve (self->x[i], n);
  dinolab_plot_series_reserve (self->y, n);

  for (i = 0; i < n; i++)
    {
      double x[DINOLAB_PLOT_X_N_KINDS] = {
        step[i],
        epoch != NULL ? epoch[i] : step[i],
        wall != NULL ? wall[i] : step[i],
      };
      dinolab_plot_series_push (self, x, y[i]);
    }
  if (n > 0)
    g_signal_emit (self, signals[CHANGED], 0);
}

void
dinolab_plot_series_clear (DinolabPlotSeries *self)
{
  int k;

  g_return_if_fail (DINOLAB_IS_PLOT_SERIES (self));

  for (k = 0; k < DINOLAB_PLOT_X_N_KINDS; k++)
    g_array_set_size (self->x[k], 0);
  g_array_set_size (self->y, 0);
  dinolab_plot_series_reset_stats (self);
  g_signal_emit (self, signals[CHANGED], 0);
}

/* ---- accessors ----------------------------------------------------------- */

const char *
dinolab_plot_series_get_label (DinolabPlotSeries *self)
{
  g_return_val_if_fail (DINOLAB_IS_PLOT_SERIES (self), NULL);

  return self->label;
}

void
dinolab_plot_series_set_label (DinolabPlotSeries *self,
                               const char        *label)
{
  g_return_if_fail (DINOLAB_IS_PLOT_SERIES (self));

  if (label == NULL)
    label = "";
  if (g_strcmp0 (self->label, label) == 0)
    return;
  g_free (self->label);
  self->label = g_strdup (label);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LABEL]);
  g_signal_emit (self, signals[CHANGED], 0);
}

const GdkRGBA *
dinolab_plot_series_get_colour (DinolabPlotSeries *self)
{
  g_return_val_if_fail (DINOLAB_IS_PLOT_SERIES (self), NULL);

  return self->has_colour ? &self->colour : NULL;
}

void
dinolab_plot_series_set_colour (DinolabPlotSeries *self,
                                const GdkRGBA     *colour)
{
  g_return_if_fail (DINOLAB_IS_PLOT_SERIES (self));

  self->has_colour = colour != NULL;
  if (colour != NULL)
    self->colour = *colour;
  g_signal_emit (self, signals[CHANGED], 0);
}

guint
dinolab_plot_series_get_n_points (DinolabPlotSeries *self)
{
  g_return_val_if_fail (DINOLAB_IS_PLOT_SERIES (self), 0);

  return self->y->len;
}

const double *
dinolab_plot_series_get_x (DinolabPlotSeries *self,
                           DinolabPlotXKind   kind)
{
  g_return_val_if_fail (DINOLAB_IS_PLOT_SERIES (self), NULL);
  g_return_val_if_fail (kind < DINOLAB_PLOT_X_N_KINDS, NULL);

  return (const double *) self->x[kind]->data;
}

const double *
dinolab_plot_series_get_y (DinolabPlotSeries *self)
{
  g_return_val_if_fail (DINOLAB_IS_PLOT_SERIES (self), NULL);

  return (const double *) self->y->data;
}

gboolean
dinolab_plot_series_get_y_range (DinolabPlotSeries *self,
                                 double            *min,
                                 double            *max,
                                 double            *min_positive)
{
  g_return_val_if_fail (DINOLAB_IS_PLOT_SERIES (self), FALSE);

  if (self->n_finite == 0)
    return FALSE;
  if (min != NULL)
    *min = self->y_min;
  if (max != NULL)
    *max = self->y_max;
  if (min_positive != NULL)
    *min_positive = self->y_min_positive;
  return TRUE;
}

guint
dinolab_plot_series_get_n_nonpositive (DinolabPlotSeries *self)
{
  g_return_val_if_fail (DINOLAB_IS_PLOT_SERIES (self), 0);

  return self->n_nonpositive;
}

gboolean
dinolab_plot_series_get_x_range (DinolabPlotSeries *self,
                                 DinolabPlotXKind   kind,
                                 double            *min,
                                 double            *max)
{
  const double *x;
  guint n, i;
  double lo, hi;

  g_return_val_if_fail (DINOLAB_IS_PLOT_SERIES (self), FALSE);
  g_return_val_if_fail (kind < DINOLAB_PLOT_X_N_KINDS, FALSE);

  n = self->y->len;
  if (n == 0)
    return FALSE;
  x = (const double *) self->x[kind]->data;
  if (self->x_sorted[kind])
    {
      lo = x[0];
      hi = x[n - 1];
    }
  else
    {
      lo = INFINITY;
      hi = -INFINITY;
      for (i = 0; i < n; i++)
        {
          lo = MIN (lo, x[i]);
          hi = MAX (hi, x[i]);
        }
    }
  if (min != NULL)
    *min = lo;
  if (max != NULL)
    *max = hi;
  return TRUE;
}

/* ---- smoothing ----------------------------------------------------------- */

const double *
dinolab_plot_series_get_smoothed (DinolabPlotSeries *self,
                                  double             weight)
{
  const double *y;
  guint n, i;

  g_return_val_if_fail (DINOLAB_IS_PLOT_SERIES (self), NULL);
  g_return_val_if_fail (weight >= 0.0 && weight < 1.0, NULL);

  if (weight == 0.0)
    return (const double *) self->y->data;

  if (weight != self->smooth_weight)
    {
      self->smooth_weight = weight;
      g_array_set_size (self->smoothed, 0);
      self->smooth_last = 0.0;
      self->smooth_n_finite = 0;
    }

  /* extend from where the cache stopped: the EMA only looks back */
  y = (const double *) self->y->data;
  n = self->y->len;
  i = self->smoothed->len;
  g_array_set_size (self->smoothed, n);
  for (; i < n; i++)
    {
      double s = y[i];
      if (isfinite (y[i]))
        {
          self->smooth_last = weight * self->smooth_last + (1.0 - weight) * y[i];
          self->smooth_n_finite++;
          s = self->smooth_last / (1.0 - pow (weight, self->smooth_n_finite));
        }
      g_array_index (self->smoothed, double, i) = s;
    }
  return (const double *) self->smoothed->data;
}

/* ---- lookup and decimation ----------------------------------------------- */

/* The first index i with x[i] >= @value in a sorted @x of @n (n if none). */
static guint
lower_bound (const double *x,
             guint         n,
             double        value)
{
  guint lo = 0, hi = n;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      if (x[mid] < value)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

int
dinolab_plot_series_nearest (DinolabPlotSeries *self,
                             DinolabPlotXKind   kind,
                             double             x_value)
{
  const double *x;
  guint n, i, best = 0;

  g_return_val_if_fail (DINOLAB_IS_PLOT_SERIES (self), -1);
  g_return_val_if_fail (kind < DINOLAB_PLOT_X_N_KINDS, -1);

  n = self->y->len;
  if (n == 0)
    return -1;
  x = (const double *) self->x[kind]->data;
  if (self->x_sorted[kind])
    {
      i = lower_bound (x, n, x_value);
      if (i == n)
        return n - 1;
      if (i > 0 && x_value - x[i - 1] <= x[i] - x_value)
        return i - 1;
      return i;
    }
  for (i = 1; i < n; i++)
    if (fabs (x[i] - x_value) < fabs (x[best] - x_value))
      best = i;
  return best;
}

void
dinolab_plot_series_get_index_range (DinolabPlotSeries *self,
                                     DinolabPlotXKind   kind,
                                     double             x_min,
                                     double             x_max,
                                     guint             *first,
                                     guint             *end)
{
  const double *x;
  guint n;

  g_return_if_fail (DINOLAB_IS_PLOT_SERIES (self));
  g_return_if_fail (kind < DINOLAB_PLOT_X_N_KINDS);
  g_return_if_fail (first != NULL && end != NULL);

  n = self->y->len;
  x = (const double *) self->x[kind]->data;
  if (self->x_sorted[kind])
    {
      /* a point exactly at x_max maps to 1.0, outside the last column */
      *first = lower_bound (x, n, x_min);
      *end = MAX (*first, lower_bound (x, n, x_max));
    }
  else
    {
      *first = 0;
      *end = n;
    }
}

static inline gboolean
drawable (double   value,
          gboolean skip_nonpositive)
{
  return isfinite (value) && !(skip_nonpositive && value <= 0.0);
}

void
dinolab_plot_series_decimate (DinolabPlotSeries     *self,
                              DinolabPlotXKind       kind,
                              const double          *y,
                              const DinolabPlotAxis *x_axis,
                              gboolean               skip_nonpositive,
                              DinolabPlotColumn     *columns,
                              guint                  n_columns,
                              int                   *before,
                              int                   *after)
{
  const double *x;
  guint n, i, first, end;
  double scale, a, b;

  g_return_if_fail (DINOLAB_IS_PLOT_SERIES (self));
  g_return_if_fail (kind < DINOLAB_PLOT_X_N_KINDS);
  g_return_if_fail (x_axis != NULL && columns != NULL);
  g_return_if_fail (y != NULL || self->y->len == 0);

  memset (columns, 0, n_columns * sizeof *columns);
  if (before != NULL)
    *before = -1;
  if (after != NULL)
    *after = -1;

  n = self->y->len;
  x = (const double *) self->x[kind]->data;
  dinolab_plot_series_get_index_range (self, kind, x_axis->min, x_axis->max, &first, &end);
  if (self->x_sorted[kind])
    {
      if (before != NULL && first > 0 && drawable (y[first - 1], skip_nonpositive))
        *before = first - 1;
      if (after != NULL && end < n && drawable (y[end], skip_nonpositive))
        *after = end;
    }

  /* column = floor (map (x) * n_columns), with map() inlined for the linear
   * x axis: this loop is the whole cost of a redraw of a long series */
  scale = (double) n_columns;
  a = x_axis->scale == DINOLAB_PLOT_SCALE_LINEAR ? scale / (x_axis->max - x_axis->min) : 0.0;
  b = -x_axis->min * a;
  for (i = first; i < end; i++)
    {
      double v = y[i];
      double c;
      DinolabPlotColumn *col;

      if (!drawable (v, skip_nonpositive))
        continue;
      if (a != 0.0)
        c = x[i] * a + b;
      else
        c = dinolab_plot_axis_map (x_axis, x[i]) * scale;
      if (!(c >= 0.0 && c < scale))
        continue;
      col = &columns[(guint) c];
      if (col->n == 0)
        {
          col->first = col->min = col->max = v;
        }
      else
        {
          col->min = MIN (col->min, v);
          col->max = MAX (col->max, v);
        }
      col->last = v;
      col->n++;
    }
}
