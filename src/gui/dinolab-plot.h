/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-plot.h: DinolabPlot, the line-plot widget used by every view
 * (live training curves, evaluation, schedules). It draws any number of
 * DinolabPlotSeries with a legend, nice ticks, linear or log y, x as step,
 * epoch or wall time, optional EMA smoothing (raw curve kept faint),
 * dashed reference lines and labelled markers, a hover read-out, drag to
 * zoom and double-click to reset; and exports itself to PNG, SVG or PDF.
 * Long series are drawn through per-pixel min/max decimation, so a million
 * points redraw within a frame. The data lives in the series (see
 * dinolab-plot-series.h); the plot only holds references and view state. It
 * is not a data store and computes nothing from the points but what it
 * draws.
 */
#pragma once

#include <gtk/gtk.h>

#include "dinolab-plot-series.h"

G_BEGIN_DECLS

typedef enum
{
  DINOLAB_PLOT_FORMAT_PNG,
  DINOLAB_PLOT_FORMAT_SVG,
  DINOLAB_PLOT_FORMAT_PDF,
} DinolabPlotFormat;

#define DINOLAB_TYPE_PLOT (dinolab_plot_get_type ())

G_DECLARE_FINAL_TYPE (DinolabPlot, dinolab_plot, DINOLAB, PLOT, GtkWidget)

/* dinolab_plot_new:
 * Creates an empty plot (x as steps, linear y, no smoothing). Returns a
 * floating widget, as gtk_label_new() does. */
GtkWidget         *dinolab_plot_new                 (void);

/* dinolab_plot_add_series:
 * Adds @series on top of the others; the plot keeps a reference and
 * redraws whenever the series emits ::changed. A series without its own
 * colour takes the next palette colour (light or dark variant, following
 * the widget's foreground colour). */
void               dinolab_plot_add_series          (DinolabPlot       *self,
                                                     DinolabPlotSeries *series);
/* Removes @series (drops the plot's reference). */
void               dinolab_plot_remove_series       (DinolabPlot       *self,
                                                     DinolabPlotSeries *series);
guint              dinolab_plot_get_n_series        (DinolabPlot       *self);
/* Returns the @index-th series (owned by the plot). */
DinolabPlotSeries *dinolab_plot_get_series          (DinolabPlot       *self,
                                                     guint              index);

/* Properties "x-kind", "log-y" and "smoothing" (EMA weight in [0, 0.999]).
 * Changing x-kind or log-y resets the zoom. */
void               dinolab_plot_set_x_kind          (DinolabPlot       *self,
                                                     DinolabPlotXKind   kind);
DinolabPlotXKind   dinolab_plot_get_x_kind          (DinolabPlot       *self);
void               dinolab_plot_set_log_y           (DinolabPlot       *self,
                                                     gboolean           log_y);
gboolean           dinolab_plot_get_log_y           (DinolabPlot       *self);
void               dinolab_plot_set_smoothing       (DinolabPlot       *self,
                                                     double             weight);
double             dinolab_plot_get_smoothing       (DinolabPlot       *self);

/* dinolab_plot_add_reference_line:
 * A dashed horizontal line at @y with @label (copied, may be NULL) at its
 * right end, e.g. log K for the teacher entropy. The automatic y range
 * includes it. */
void               dinolab_plot_add_reference_line  (DinolabPlot       *self,
                                                     double             y,
                                                     const char        *label);
/* dinolab_plot_add_marker:
 * A vertical line at the x where something happened (e.g. "collapse"),
 * given in all three x units so it stays in place when x-kind changes;
 * @label is copied and may be NULL. */
void               dinolab_plot_add_marker          (DinolabPlot       *self,
                                                     double             step,
                                                     double             epoch,
                                                     double             wall,
                                                     const char        *label);
/* Removes every reference line and marker. */
void               dinolab_plot_clear_annotations   (DinolabPlot       *self);

/* dinolab_plot_zoom_rect:
 * What the drag gesture calls when released: zooms to the rectangle with
 * corners (@x0, @y0) and (@x1, @y1) in widget coordinates (any order),
 * inside the data area of the last frame (see _get_data_area). Does nothing
 * before the plot has been drawn once or for an empty rectangle. */
void               dinolab_plot_zoom_rect           (DinolabPlot       *self,
                                                     double             x0,
                                                     double             y0,
                                                     double             x1,
                                                     double             y1);
/* dinolab_plot_set_view:
 * Zooms to x in [@x_min, @x_max] (current x-kind's units) and y in
 * [@y_min, @y_max]. */
void               dinolab_plot_set_view            (DinolabPlot       *self,
                                                     double             x_min,
                                                     double             x_max,
                                                     double             y_min,
                                                     double             y_max);
/* dinolab_plot_reset_view:
 * Back to the automatic range that follows the data (what double-click
 * does). */
void               dinolab_plot_reset_view          (DinolabPlot       *self);
/* dinolab_plot_get_view:
 * The ranges the next frame shows (zoomed or automatic) into the non-NULL
 * pointers. Returns TRUE when zoomed. */
gboolean           dinolab_plot_get_view            (DinolabPlot       *self,
                                                     double            *x_min,
                                                     double            *x_max,
                                                     double            *y_min,
                                                     double            *y_max);
/* dinolab_plot_get_data_area:
 * The rectangle, in widget coordinates, that the axes spanned in the last
 * frame drawn on screen. Returns FALSE before the first frame. */
gboolean           dinolab_plot_get_data_area       (DinolabPlot       *self,
                                                     graphene_rect_t   *area);

/* dinolab_plot_hover:
 * What the motion controller calls: shows the read-out for the pointer at
 * (@x, @y) in widget coordinates, the nearest point of every series at that
 * x. A position outside the data area hides it. */
void               dinolab_plot_hover               (DinolabPlot       *self,
                                                     double             x,
                                                     double             y);

/* dinolab_plot_draw:
 * Draws the plot (no hover or drag overlay) into @cr on a transparent
 * background, in the widget's current colours, at @width x @height user
 * units. @cr may target any surface; the widget need not be shown. */
void               dinolab_plot_draw                (DinolabPlot       *self,
                                                     cairo_t           *cr,
                                                     int                width,
                                                     int                height);

/* dinolab_plot_export:
 * Writes the plot as a @width x @height image to @path in @format, always
 * in the light palette on a white background (for documents). Returns FALSE
 * with @error set (G_IO_ERROR) when Cairo cannot write the file. */
gboolean           dinolab_plot_export              (DinolabPlot       *self,
                                                     const char        *path,
                                                     DinolabPlotFormat  format,
                                                     int                width,
                                                     int                height,
                                                     GError           **error);

G_END_DECLS
