/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-plot-axis.h: one axis of a DinolabPlot, as plain numbers: the
 * mapping of a value range onto [0,1] (linear or log10), "nice" tick
 * positions (1-2-5 steps, decades in log mode) and their labels. GLib only, no
 * GTK or Cairo, so the tests check it directly. It does not draw, and it does
 * not know pixels: the plot multiplies [0,1] by its width or height.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  DINOLAB_PLOT_SCALE_LINEAR,
  DINOLAB_PLOT_SCALE_LOG,     /* log10; only values > 0 have a position */
} DinolabPlotScale;

/* A value range and how it maps to [0,1]: min -> 0, max -> 1. A plain struct
 * the caller owns (on the stack is fine); fill it with
 * dinolab_plot_axis_init(). */
typedef struct
{
  DinolabPlotScale scale;
  double           min;       /* > 0 in log mode */
  double           max;       /* > min */
} DinolabPlotAxis;

/* The most ticks dinolab_plot_axis_ticks() ever returns. */
#define DINOLAB_PLOT_AXIS_MAX_TICKS 64

/* dinolab_plot_axis_init:
 * Sets @axis to [@min, @max] in @scale. Repairs what cannot be mapped, so
 * callers may pass raw data ranges: a range of one value (or min > max) grows
 * to a small one around it, and in log mode non-positive bounds become a
 * decade below the positive one (or [0.1, 1] when both are non-positive).
 * Non-finite bounds give [0, 1]. */
void     dinolab_plot_axis_init        (DinolabPlotAxis  *axis,
                                        DinolabPlotScale  scale,
                                        double            min,
                                        double            max);

/* dinolab_plot_axis_pad:
 * Widens @axis by @fraction of its span on each side (in log10 space in log
 * mode), so that data at the bounds does not sit on the frame. */
void     dinolab_plot_axis_pad         (DinolabPlotAxis  *axis,
                                        double            fraction);

/* dinolab_plot_axis_map:
 * Returns the position of @value in [0,1] (outside it when @value is outside
 * the range), or NAN for a value with no position: non-finite, or <= 0 in
 * log mode. */
double   dinolab_plot_axis_map         (const DinolabPlotAxis *axis,
                                        double                 value);

/* dinolab_plot_axis_unmap:
 * The inverse of dinolab_plot_axis_map(): the value at position @t. */
double   dinolab_plot_axis_unmap       (const DinolabPlotAxis *axis,
                                        double                 t);

/* dinolab_plot_axis_nice_step:
 * The smallest step of the form {1, 2, 5} x 10^k that cuts @span into at
 * most @max_ticks intervals (@max_ticks >= 1, @span > 0). */
double   dinolab_plot_axis_nice_step   (double            span,
                                        int               max_ticks);

/* dinolab_plot_axis_ticks:
 * Writes at most @max_ticks (2..DINOLAB_PLOT_AXIS_MAX_TICKS) tick values,
 * increasing and inside [min, max], into @ticks (room for @max_ticks) and
 * returns how many. Linear: multiples of dinolab_plot_axis_nice_step(). Log:
 * 1, 2 and 5 in every decade when they fit, else every decade, or every 2nd,
 * 5th, 10th... decade; a range narrower than that falls back to linear
 * steps. If @step is not NULL it receives the linear step (for labels), or 0
 * for decade ticks. */
guint    dinolab_plot_axis_ticks       (const DinolabPlotAxis *axis,
                                        int                    max_ticks,
                                        double                *ticks,
                                        double                *step);

/* dinolab_plot_axis_format:
 * Formats @value for a tick label into @buf (@size bytes, 32 is enough): as
 * many decimals as @step needs ("0.25" for a step of 0.05 or 0.25, "100" for 50), or "%g" when @step is 0
 * (decade ticks) or the numbers are very large or small ("1e-05"). Never
 * writes "-0". Returns @buf. */
char    *dinolab_plot_axis_format      (double            value,
                                        double            step,
                                        char             *buf,
                                        gsize             size);

G_END_DECLS
