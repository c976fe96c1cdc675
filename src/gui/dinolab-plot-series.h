/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-plot-series.h: the data of one curve of a DinolabPlot. A series
 * holds, per point, the x in all three units the trainer reports (step,
 * epoch, wall seconds) and a y, appended as training goes; its label and an
 * optional colour; a cached EMA-smoothed copy of y; and the per-pixel-column
 * min/max decimation the plot draws from. It does not draw and knows no
 * widget: DinolabPlot (dinolab-plot.h) does.
 */
#pragma once

#include <gdk/gdk.h>

#include "dinolab-plot-axis.h"

G_BEGIN_DECLS

/* Which of a point's three x values the plot's x axis shows. */
typedef enum
{
  DINOLAB_PLOT_X_STEP,
  DINOLAB_PLOT_X_EPOCH,       /* fractional epochs */
  DINOLAB_PLOT_X_WALL,        /* seconds since the run started */
  DINOLAB_PLOT_X_N_KINDS,
} DinolabPlotXKind;

/* The GType of DinolabPlotXKind (nicks "step", "epoch", "wall"), for the
 * plot's "x-kind" property. DINOLAB_PLOT_X_N_KINDS is not a value. */
#define DINOLAB_TYPE_PLOT_X_KIND (dinolab_plot_x_kind_get_type ())
GType dinolab_plot_x_kind_get_type (void) G_GNUC_CONST;

/* One pixel column of a decimated series: the y values of the points whose x
 * falls in the column, in the order they came (first, last) and their
 * envelope (min, max). n == 0: no point falls in this column. */
typedef struct
{
  double first;
  double last;
  double min;
  double max;
  guint  n;
} DinolabPlotColumn;

#define DINOLAB_TYPE_PLOT_SERIES (dinolab_plot_series_get_type ())

G_DECLARE_FINAL_TYPE (DinolabPlotSeries, dinolab_plot_series,
                      DINOLAB, PLOT_SERIES, GObject)

/* dinolab_plot_series_new:
 * Creates an empty series named @label (shown in the legend and the
 * read-out; copied). Returns a new reference. Its colour is unset: the plot
 * then gives it the next colour of its light/dark palette. */
DinolabPlotSeries *dinolab_plot_series_new          (const char        *label);

/* dinolab_plot_series_append:
 * Appends one point. Within a series each x kind should not decrease (a
 * trainer's step, epoch and wall clock never do): the plot then finds the
 * points in view by binary search. A decreasing x is accepted, but the series
 * then falls back to scanning every point for that x kind. y may be any
 * double; non-finite values are never drawn. Emits ::changed. */
void          dinolab_plot_series_append         (DinolabPlotSeries *self,
                                                  double             step,
                                                  double             epoch,
                                                  double             wall,
                                                  double             y);

/* dinolab_plot_series_append_many:
 * Appends @n points at once (copied from the four arrays of @n values;
 * @epoch and @wall may be NULL, then they repeat @step) and emits ::changed
 * once. */
void          dinolab_plot_series_append_many    (DinolabPlotSeries *self,
                                                  const double      *step,
                                                  const double      *epoch,
                                                  const double      *wall,
                                                  const double      *y,
                                                  guint              n);

/* dinolab_plot_series_clear:
 * Removes every point. Emits ::changed. */
void          dinolab_plot_series_clear          (DinolabPlotSeries *self);

const char   *dinolab_plot_series_get_label      (DinolabPlotSeries *self);
void          dinolab_plot_series_set_label      (DinolabPlotSeries *self,
                                                  const char        *label);

/* dinolab_plot_series_get_colour:
 * Returns the colour set with dinolab_plot_series_set_colour() (owned by
 * the series), or NULL when the plot's palette picks it. */
const GdkRGBA *dinolab_plot_series_get_colour    (DinolabPlotSeries *self);
/* @colour: copied; NULL goes back to the palette. Emits ::changed. */
void          dinolab_plot_series_set_colour     (DinolabPlotSeries *self,
                                                  const GdkRGBA     *colour);

guint         dinolab_plot_series_get_n_points   (DinolabPlotSeries *self);

/* dinolab_plot_series_get_x / _get_y:
 * The series' arrays of dinolab_plot_series_get_n_points() values, owned by
 * the series and valid until the next append or clear. */
const double *dinolab_plot_series_get_x          (DinolabPlotSeries *self,
                                                  DinolabPlotXKind   kind);
const double *dinolab_plot_series_get_y          (DinolabPlotSeries *self);

/* dinolab_plot_series_get_smoothed:
 * y smoothed by TensorBoard's debiased exponential moving average with
 * @weight in [0, 1): s_i = (w * m_{i-1} + (1 - w) * y_i) / (1 - w^(i+1))
 * over the finite values (a non-finite y stays as it is and does not enter
 * the average). @weight 0 returns y itself. The array is cached, owned by
 * the series, extended incrementally on append, recomputed only when
 * @weight changes, and valid until the next call or append. */
const double *dinolab_plot_series_get_smoothed   (DinolabPlotSeries *self,
                                                  double             weight);

/* dinolab_plot_series_get_y_range:
 * The smallest and largest finite y, and the smallest y > 0 (for log
 * scales), into the non-NULL pointers. Kept up to date on append, so O(1).
 * Returns FALSE (and leaves the outputs alone) when no y is finite;
 * @min_positive is set to INFINITY when no y is > 0. */
gboolean      dinolab_plot_series_get_y_range    (DinolabPlotSeries *self,
                                                  double            *min,
                                                  double            *max,
                                                  double            *min_positive);

/* dinolab_plot_series_get_n_nonpositive:
 * How many y are <= 0 (those a log scale skips). O(1). */
guint         dinolab_plot_series_get_n_nonpositive (DinolabPlotSeries *self);

/* dinolab_plot_series_get_x_range:
 * The smallest and largest x of @kind. O(1) while that x kind has not
 * decreased. Returns FALSE when the series is empty. */
gboolean      dinolab_plot_series_get_x_range    (DinolabPlotSeries *self,
                                                  DinolabPlotXKind   kind,
                                                  double            *min,
                                                  double            *max);

/* dinolab_plot_series_nearest:
 * The index of the point whose x of @kind is nearest to @x, or -1 when the
 * series is empty. Binary search while x is sorted. */
int           dinolab_plot_series_nearest        (DinolabPlotSeries *self,
                                                  DinolabPlotXKind   kind,
                                                  double             x);

/* dinolab_plot_series_get_index_range:
 * The points whose x of @kind lies in [@x_min, @x_max) are among indices
 * [*@first, *@end): exactly those while x is sorted (binary search), else
 * the whole series. */
void          dinolab_plot_series_get_index_range (DinolabPlotSeries *self,
                                                   DinolabPlotXKind   kind,
                                                   double             x_min,
                                                   double             x_max,
                                                   guint             *first,
                                                   guint             *end);

/* dinolab_plot_series_decimate:
 * Cuts @x_axis's [0,1] into @n_columns equal columns and fills @columns
 * (@n_columns, caller-owned) with the first, last, min and max of the
 * values @y (the series' own y or its smoothed copy: n_points values) of
 * the points whose x of @kind falls in each column; column c holds the
 * points with c <= map(x) * n_columns < c + 1. Non-finite values are
 * skipped, and so are values <= 0 when @skip_nonpositive. @before and
 * @after (may be NULL) receive the index of the point just left of the
 * range and just right of it, or -1 when there is none or it is not
 * drawable, so that lines can run on to the frame. Costs O(log n + points in view) while x is sorted; it does
 * not allocate. */
void          dinolab_plot_series_decimate       (DinolabPlotSeries     *self,
                                                  DinolabPlotXKind       kind,
                                                  const double          *y,
                                                  const DinolabPlotAxis *x_axis,
                                                  gboolean               skip_nonpositive,
                                                  DinolabPlotColumn     *columns,
                                                  guint                  n_columns,
                                                  int                   *before,
                                                  int                   *after);

G_END_DECLS
